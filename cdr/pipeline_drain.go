package cdr

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// The drainer: it replays the spool into the store, oldest segment first,
// whenever there is a spool, retrying the store until it answers.

// signalDrainer tells the drainer there is a spool to replay.
func (p *Pipeline) signalDrainer() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// runDrainer replays the spool whenever there is one, until ctx ends.
func (p *Pipeline) runDrainer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		drained := 0
		retry := p.retries()
		for {
			seg, ok := p.spool.next()
			if !ok {
				if drained > 0 {
					p.log.Info("cdr: spool drained; writing to the store directly", "segments", drained)
				}
				break
			}
			err := p.drainSegment(ctx, seg)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				err = p.spool.remove(seg)
			}
			if err != nil {
				p.setLastError(err)
				p.log.Error("cdr: spool: replay", "segment", seg.path, "err", err)
				if !retry.Wait(ctx) {
					return
				}
				continue
			}
			retry.Reset()
			drained++
		}
	}
}

// drainSegment writes every entry of seg to the store, in order, in
// batches, retrying each batch until it is written or ctx ends. Damaged
// lines become dead letters. It returns an error only when seg cannot be
// read (then nothing is lost: seg is replayed from the start later).
func (p *Pipeline) drainSegment(ctx context.Context, seg *segment) error {
	f, err := os.Open(seg.path)
	if errors.Is(err, os.ErrNotExist) {
		p.log.Warn("cdr: spool: segment vanished", "segment", seg.path)
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	p.log.Info("cdr: spool: replaying a segment", "segment", seg.path, "records", seg.records)
	sr := newSegmentReader(f)
	batch := make([]item, 0, min(p.cfg.BatchSize, int(seg.records)))
	for eof := false; !eof; {
		batch = batch[:0]
		for len(batch) < p.cfg.BatchSize {
			e, dmg, err := sr.next()
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				return err
			}
			switch {
			case dmg != nil:
				dl := damageDeadLetter(seg.name(), dmg)
				dl.Raw, dl.ReceivedAt = MendText(dl.Raw), time.Now().UTC()
				p.log.Warn("cdr: spool: damaged entry; kept as a dead letter",
					"segment", seg.path, "offset", dmg.offset, "reason", dmg.reason)
				batch = append(batch, item{dl: &dl})
			case e.dl != nil:
				batch = append(batch, item{dl: e.dl})
			default:
				batch = append(batch, item{rec: *e.rec, ownerPending: e.ownerPending})
			}
		}
		if err := p.writeRetrying(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// writeRetrying writes items to the store, retrying with backoff while it
// fails, until all are written or ctx ends.
func (p *Pipeline) writeRetrying(ctx context.Context, items []item) error {
	recs, dls := split(items)
	retry := p.retries()
	for len(recs) > 0 {
		p.stampOwners(ctx, recs, true)
		p.priceItems(ctx, recs)
		poison, unwritten, err := p.commit(ctx, recs)
		dls = append(dls, poison...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.storeFailed(err)
		recs = unwritten
		if !retry.Wait(ctx) {
			return ctx.Err()
		}
	}
	retry.Reset()
	for len(dls) > 0 {
		unwritten, err := p.commitDeadLetters(ctx, dls)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.storeFailed(err)
		dls = unwritten
		if !retry.Wait(ctx) {
			return ctx.Err()
		}
	}
	return nil
}
