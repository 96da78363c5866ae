package cdr

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// The writer's path for one batch: to the store, isolating poison records
// as dead letters, or to the spool while the store is failing.

// invalidDeadLetter is the dead letter for a record Validate refused.
func invalidDeadLetter(r *Record, err error) *DeadLetter {
	raw := string(r.Raw)
	if len(r.Raw) == 0 {
		b, merr := json.Marshal(r)
		if merr != nil {
			b = fmt.Appendf(nil, "%+v", *r)
		}
		raw = string(b)
	}
	return &DeadLetter{
		Source:     MendText("pipeline switch " + r.Switch),
		Reason:     MendText(err.Error()),
		Raw:        MendText(raw),
		ReceivedAt: time.Now().UTC(),
	}
}

// process writes one batch from the queue: to the spool while it is in
// use, else to the store, and to the spool after all if the store fails.
// It releases the batch's Puts and returns how many items ended nowhere.
func (p *Pipeline) process(ctx context.Context, batch []item) (failed int) {
	if p.spool.isSpooling() {
		if ok, failed := p.toSpool(batch, false); ok {
			return failed
		}
	}
	recs, dls := split(batch)
	p.stampOwners(ctx, recs, true)
	p.priceItems(ctx, recs)
	poison, unwritten, err := p.commit(ctx, recs)
	dls = append(dls, poison...)
	if err != nil {
		p.storeFailed(err)
		_, failed = p.toSpool(append(unwritten, dls...), true)
		return failed
	}
	if unwritten, err := p.commitDeadLetters(ctx, dls); err != nil {
		p.storeFailed(err)
		_, failed = p.toSpool(unwritten, true)
	}
	return failed
}

// commit writes the records of items to the store, as one transaction if
// it can. When the store refuses the batch for its contents, commit halves
// it until the refused records are alone, and returns them as dead-letter
// items (poison) having written the rest. When the store fails otherwise
// it returns the items not written, in order, and the error.
func (p *Pipeline) commit(ctx context.Context, items []item) (poison, unwritten []item, err error) {
	if len(items) == 0 {
		return nil, nil, nil
	}
	recs := make([]Record, len(items))
	for i := range items {
		recs[i] = items[i].rec
	}
	tctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	start := time.Now()
	fresh, err := p.w.InsertNew(tctx, recs)
	cancel()
	now := time.Now()
	p.m.batchSeconds.Observe(now.Sub(start).Seconds())
	if err == nil {
		p.committed(items, fresh, now)
		return nil, nil, nil
	}
	if !isPoison(err) {
		return nil, items, err
	}
	if len(items) == 1 {
		r := &items[0].rec
		p.log.Warn("cdr: the store refused a record; it is kept as a dead letter",
			"switch", r.Switch, "call_id", r.CallID, "err", err)
		dl := poisonDeadLetter(r, err)
		return []item{{dl: dl, w: items[0].w}}, nil, nil
	}
	mid := len(items) / 2
	pl, ul, err := p.commit(ctx, items[:mid])
	if err != nil {
		return pl, append(append([]item(nil), ul...), items[mid:]...), err
	}
	pr, ur, err := p.commit(ctx, items[mid:])
	return append(pl, pr...), ur, err
}

func poisonDeadLetter(r *Record, err error) *DeadLetter {
	dl := invalidDeadLetter(r, err)
	dl.Source = MendText("store switch " + r.Switch)
	return dl
}

// committed accounts for items whose transaction committed, fresh being
// the records it stored: counters, the feed, the recent keys, the Puts.
func (p *Pipeline) committed(items []item, fresh []Record, now time.Time) {
	p.storeBatches.Add(1)
	p.written.Add(int64(len(fresh)))
	p.duplicates.Add(int64(len(items) - len(fresh)))
	p.storeUp()
	for i := range fresh {
		p.m.delay.Observe(max(0, now.Sub(fresh[i].End).Seconds()))
	}
	p.m.observeCalls(fresh)
	p.m.observePrices(fresh)
	p.feed.Publish(fresh)
	p.recent.add(items)
	for i := range items {
		items[i].w.finish(nil)
	}
}

// commitDeadLetters writes the dead letters of items to the store. Like
// commit, it isolates a dead letter the store refuses for its contents;
// that one is logged in full and dropped, since there is nowhere further
// to put it. It returns the items not written when the store fails.
func (p *Pipeline) commitDeadLetters(ctx context.Context, items []item) (unwritten []item, err error) {
	if len(items) == 0 {
		return nil, nil
	}
	dls := make([]DeadLetter, len(items))
	for i := range items {
		dls[i] = *items[i].dl
	}
	tctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	err = p.w.PutDeadLetters(tctx, dls)
	cancel()
	switch {
	case err == nil:
		p.storeBatches.Add(1)
		p.deadLetters.Add(int64(len(dls)))
		p.storeUp()
		for i := range items {
			items[i].w.finish(nil)
		}
		return nil, nil
	case !isPoison(err):
		return items, err
	case len(items) == 1:
		p.log.Error("cdr: the store refused a dead letter; it is dropped",
			"source", dls[0].Source, "reason", dls[0].Reason, "raw", dls[0].Raw, "err", err)
		p.setLastError(err)
		items[0].w.finish(fmt.Errorf("cdr: pipeline: dead letter refused: %w", err))
		return nil, nil
	}
	mid := len(items) / 2
	if ul, err := p.commitDeadLetters(ctx, items[:mid]); err != nil {
		return append(append([]item(nil), ul...), items[mid:]...), err
	}
	return p.commitDeadLetters(ctx, items[mid:])
}

// toSpool appends items to the spool, or, unless force is set, reports
// false when the spool is not in use. It releases the items' Puts: with
// nil once the append is fsynced, with the error if it failed, and
// returns how many failed.
func (p *Pipeline) toSpool(items []item, force bool) (ok bool, failed int) {
	if len(items) == 0 {
		return true, 0
	}
	var buf []byte
	for i := range items {
		it := &items[i]
		var e spoolEntry
		if it.dl != nil {
			e.dl = it.dl
		} else {
			e.rec, e.ownerPending = &it.rec, it.ownerPending
		}
		var err error
		if buf, err = appendSpoolLine(buf, e); err != nil {
			// Validate makes this unreachable; keep the record anyway.
			dl := poisonDeadLetter(&it.rec, err)
			buf, _ = appendSpoolLine(buf, spoolEntry{dl: dl}) //nolint:errcheck // a DeadLetter always encodes
		}
	}
	ok, err := p.spool.append(buf, len(items), force)
	if !ok {
		return false, 0
	}
	if err != nil {
		p.setLastError(err)
		p.log.Error("cdr: the store is unreachable and the spool cannot be written: records are refused",
			"records", len(items), "err", err)
		err = fmt.Errorf("cdr: pipeline: store unreachable and spool failed: %w", err)
		for i := range items {
			items[i].w.finish(err)
		}
		return true, len(items)
	}
	p.spoolBatches.Add(1)
	p.recent.add(items)
	for i := range items {
		items[i].w.finish(nil)
	}
	p.signalDrainer()
	return true, 0
}
