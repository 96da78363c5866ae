package cdr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Writer is what the pipeline writes to; *Store implements it.
type Writer interface {
	// InsertNew writes recs in one transaction and returns the ones that
	// were not stored yet, with their IDs. Records already stored (same
	// switch and call id) are skipped: replaying a batch is harmless.
	InsertNew(ctx context.Context, recs []Record) ([]Record, error)
	// PutDeadLetters stores dls in one transaction.
	PutDeadLetters(ctx context.Context, dls []DeadLetter) error
}

var (
	_ Writer = (*Store)(nil)
	_ Sink   = (*Pipeline)(nil)
)

// ErrPipelineClosed is returned by Put and Reject once the pipeline has
// stopped taking records: its Run is shutting down or has returned. The
// records of that call were not all made durable; the caller keeps them
// and offers them again later (to this daemon's next run).
var ErrPipelineClosed = errors.New("cdr: pipeline closed")

// PipelineConfig configures a Pipeline. Zero values take the defaults.
type PipelineConfig struct {
	// QueueSize bounds the records (and dead letters) waiting for the
	// writer. A Put that finds the queue full waits for room: back-pressure
	// on the sources instead of unbounded memory. Default 100,000.
	QueueSize int
	// BatchSize is the most records written in one transaction (or one
	// spool append). Default 5,000.
	BatchSize int
	// FlushInterval bounds how long a queued record waits for its batch to
	// start. The writer never lingers to fill a batch: every Put waits for
	// its records, so waiting would only add latency; whatever is queued
	// when the previous transaction ends is the next batch (group commit).
	// A record therefore waits at most one transaction, which stays far
	// below FlushInterval unless the store is slow; WriteTimeout is what
	// bounds a slow store. Default 100ms.
	FlushInterval time.Duration
	// WriteTimeout bounds one transaction. A store that does not answer
	// within it is treated as down and the batch goes to the spool.
	// Default 5s.
	WriteTimeout time.Duration
	// ShutdownTimeout bounds the flush of the queue to the store when Run's
	// context ends; what is left then goes to the spool. Default 5s.
	ShutdownTimeout time.Duration
	// SpoolDir holds the spool: CDRs acknowledged while the store was
	// unreachable. Required. It must be on a local disk, and each daemon
	// needs its own (the pipeline locks it).
	SpoolDir string
	// Logger receives outage, recovery and damage reports. Default: slog's
	// default logger.
	Logger *slog.Logger
	// Registerer, when set, gets the pipeline's metrics (see metrics.go).
	Registerer prometheus.Registerer
}

// The PipelineConfig defaults.
const (
	DefaultQueueSize       = 100_000
	DefaultBatchSize       = 5_000
	DefaultFlushInterval   = 100 * time.Millisecond
	DefaultWriteTimeout    = 5 * time.Second
	DefaultShutdownTimeout = 5 * time.Second
)

// recentKeyCount is how many recently stored (switch, call id) keys Put
// remembers, to acknowledge a re-post or a reconnect resync without a
// round trip to the store.
const recentKeyCount = 1 << 16

// Pipeline takes CDRs from the sources (switch adapters, mod_json_cdr
// posts, imports) and writes them to the store in batches, exactly once,
// and publishes each new one to the live feed.
//
// # Guarantees
//
// Put returns nil only once every record it was given is durable: committed
// to the store, or appended to the spool and fsynced, or (invalid) stored
// or spooled as a dead letter. A source acknowledges its producer only
// then; on an error it keeps the records and offers them again.
//
// Nothing acknowledged is lost: a record reaches the queue only inside
// Put, leaves it only into a committed transaction or an fsynced spool
// append, and leaves the spool only into a committed transaction; a spool
// segment is deleted only after every record in it is committed. A crash
// at any point loses only records whose Put had not returned nil. (Disk
// corruption of the spool turns the records it hits into dead letters
// holding their bytes; durability against power loss is the store's and
// the disk's, as fsync gives it.)
//
// Nothing is stored twice: every write, first or replayed, goes through
// InsertNew, which skips a (switch, call id) already stored. A crash
// between a commit and the deletion of its segment, a source that resends
// after a reconnect, a producer that retries after an error it got even
// though its record was in fact stored: each replays as duplicates.
// The store's unique key is the source of truth; a small in-memory set of
// recently stored keys only saves those replays a round trip.
//
// The feed sees each stored record once, in commit order, after its
// commit: only what InsertNew reports as new is published.
//
// Order is kept: records are written in the order they were queued. When
// the store fails (connection refused, timeout, any error that is not a
// refusal of the data itself), the failed batch and every later one go to
// the spool, while a drainer retries the store with backoff (100ms
// doubling to 5s); once the store answers, the spool is replayed oldest
// first and the writer goes back to the store only when the spool is
// empty. A spool left by an earlier run is replayed the same way before
// anything new is written to the store.
//
// Damage never stops the pipeline. A record the store refuses for what it
// contains (a poison record: a constraint or data error, or
// ErrInvalidRecord) is isolated by halving its batch and stored as a dead
// letter, and the rest of the batch is written; a record is never retried
// forever for its contents. A spool line torn by a crash (never
// acknowledged) or corrupted on disk (checksum mismatch) becomes a dead
// letter with a warning, and the reading goes on at the next line. Any
// other error (connection refused, a timeout, a server shutting down, an
// error this code does not know) is taken for an outage and retried: an
// unreachable store must not turn good records into dead letters.
//
// Memory is bounded: the queue by QueueSize, a batch by BatchSize, a spool
// line read back by a few megabytes; the spool itself is on disk and is
// bounded only by the disk. Dead letters written while the store is down
// are spooled too; a crash between their commit and the deletion of their
// segment stores them twice (they have no natural key; they are not CDRs).
type Pipeline struct {
	w      Writer
	feed   *Feed
	cfg    PipelineConfig
	log    *slog.Logger
	m      *metrics
	q      *queue
	spool  *spool
	recent *recentKeys

	wake     chan struct{} // the drainer has work
	started  atomic.Bool
	retryMin time.Duration
	retryMax time.Duration

	written, duplicates, deadLetters atomic.Int64
	storeBatches, spoolBatches       atomic.Int64
	dbUp                             atomic.Bool
	lastErr                          atomic.Pointer[errorAt]
}

type errorAt struct {
	err string
	at  time.Time
}

// NewPipeline returns a pipeline writing to w and publishing to feed (a
// new Feed when nil). It opens the spool directory, creating it if need
// be, and locks it until Run returns; it starts nothing: Run does.
func NewPipeline(w Writer, feed *Feed, cfg PipelineConfig) (*Pipeline, error) {
	if w == nil {
		return nil, errors.New("cdr: pipeline: no writer")
	}
	if cfg.SpoolDir == "" {
		return nil, errors.New("cdr: pipeline: SpoolDir is required")
	}
	setDefault(&cfg.QueueSize, DefaultQueueSize)
	setDefault(&cfg.BatchSize, DefaultBatchSize)
	setDefault(&cfg.FlushInterval, DefaultFlushInterval)
	setDefault(&cfg.WriteTimeout, DefaultWriteTimeout)
	setDefault(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if feed == nil {
		feed = NewFeed()
	}
	sp, err := openSpool(cfg.SpoolDir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{
		w: w, feed: feed, cfg: cfg, log: cfg.Logger,
		q:        newQueue(cfg.QueueSize),
		spool:    sp,
		recent:   newRecentKeys(recentKeyCount),
		wake:     make(chan struct{}, 1),
		retryMin: 100 * time.Millisecond,
		retryMax: 5 * time.Second,
	}
	p.dbUp.Store(true)
	p.m = newMetrics(p)
	if cfg.Registerer != nil {
		if err := p.m.register(cfg.Registerer); err != nil {
			sp.close() //nolint:errcheck // already failing
			return nil, err
		}
	}
	if st := sp.stats(); st.records > 0 {
		p.log.Info("cdr: spool left by an earlier run; it is replayed first",
			"dir", cfg.SpoolDir, "segments", st.segments, "records", st.records, "bytes", st.bytes)
		p.signalDrainer()
	}
	return p, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Subscribe starts a live subscription to the CDRs the pipeline stores
// from now on; see Feed.Subscribe.
func (p *Pipeline) Subscribe(buffer int) *Subscription { return p.feed.Subscribe(buffer) }

// Put queues recs and returns once all of them are durable (see the
// Pipeline guarantees), or with an error: ctx's (the queue was full or the
// write is slow; some records may still be stored, which a retry
// tolerates), ErrPipelineClosed, or the failure of both the store and the
// spool. An invalid record (Record.Validate) is stored as a dead letter
// and does not make Put fail. A record already stored is acknowledged at
// once when the pipeline remembers storing it, and skipped by the store
// otherwise. Put does not modify recs; the records it queued share their
// Raw and Answer with recs until written, so the caller must not modify
// those, even after an error.
func (p *Pipeline) Put(ctx context.Context, recs ...Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	w := newWaiter()
	var invalid []item
	valid := make([]bool, len(recs))
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			invalid = append(invalid, item{dl: invalidDeadLetter(&recs[i], err), w: w})
		} else {
			valid[i] = true
		}
	}
	items := make([]item, 0, len(recs))
	var dups int64
	p.recent.mu.Lock()
	for i := range recs {
		switch r := &recs[i]; {
		case !valid[i]:
		case p.recent.containsLocked(r.Switch, r.CallID):
			dups++
		default:
			items = append(items, item{rec: *r, w: w})
		}
	}
	p.recent.mu.Unlock()
	p.duplicates.Add(dups)
	return p.enqueueAndWait(ctx, w, append(items, invalid...))
}

// Reject stores dl as a dead letter, durably, like Put: for what a source
// received but could not make a Record of (an unparseable json_cdr body,
// a CSV line with too few fields). ReceivedAt defaults to now.
func (p *Pipeline) Reject(ctx context.Context, dl DeadLetter) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl.ReceivedAt.IsZero() {
		dl.ReceivedAt = time.Now().UTC()
	}
	dl.Source, dl.Reason, dl.Raw = text(dl.Source), text(dl.Reason), text(dl.Raw)
	w := newWaiter()
	return p.enqueueAndWait(ctx, w, []item{{dl: &dl, w: w}})
}

func (p *Pipeline) enqueueAndWait(ctx context.Context, w *waiter, items []item) error {
	if len(items) == 0 {
		return nil
	}
	w.left.Store(int64(len(items)))
	if err := p.q.put(ctx, items); err != nil {
		return err
	}
	select {
	case <-w.done:
		return w.result()
	case <-ctx.Done():
		return ctx.Err()
	}
}

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
		Source:     text("pipeline switch " + r.Switch),
		Reason:     text(err.Error()),
		Raw:        text(raw),
		ReceivedAt: time.Now().UTC(),
	}
}

// PipelineStats is a snapshot of a pipeline, for health checks and the
// load tool. The counters count since NewPipeline.
type PipelineStats struct {
	Queued        int   // records and dead letters waiting for the writer
	Spooling      bool  // new batches go to the spool (the store failed, or the spool is being replayed)
	SpoolSegments int   // files in the spool
	SpoolRecords  int64 // entries in the spool (records and dead letters)
	SpoolBytes    int64
	Written       int64 // new records committed to the store
	Duplicates    int64 // records skipped: already stored
	DeadLetters   int64 // dead letters committed to the store
	StoreBatches  int64 // transactions committed
	SpoolBatches  int64 // fsynced spool appends
	DatabaseUp    bool  // the last write to the store succeeded
	LastError     string
	LastErrorAt   time.Time
}

// Stats returns a snapshot of the pipeline's state and counters.
func (p *Pipeline) Stats() PipelineStats {
	sp := p.spool.stats()
	st := PipelineStats{
		Queued:        p.q.len(),
		Spooling:      sp.spooling,
		SpoolSegments: sp.segments,
		SpoolRecords:  sp.records,
		SpoolBytes:    sp.bytes,
		Written:       p.written.Load(),
		Duplicates:    p.duplicates.Load(),
		DeadLetters:   p.deadLetters.Load(),
		StoreBatches:  p.storeBatches.Load(),
		SpoolBatches:  p.spoolBatches.Load(),
		DatabaseUp:    p.dbUp.Load(),
	}
	if e := p.lastErr.Load(); e != nil {
		st.LastError, st.LastErrorAt = e.err, e.at
	}
	return st
}

// Run writes what is queued until ctx ends, and replays the spool (one
// left by an earlier run first) whenever the store answers. When ctx ends
// it stops taking records (Put returns ErrPipelineClosed), writes what is
// queued to the store within ShutdownTimeout, else to the spool, releases
// the spool directory and returns. It returns nil unless queued records
// could be made durable nowhere (their Puts got the error too). Run may be
// called once.
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("cdr: pipeline: Run called twice")
	}
	dctx, stopDrainer := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.runDrainer(dctx) })

	// Writes outlive ctx by ShutdownTimeout: a batch in flight when ctx
	// ends is finished rather than abandoned, and then the queue is
	// flushed to the store; past the deadline, writes fail and what is
	// left goes to the spool.
	wctx, cancelWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrites()
	stopDeadline := context.AfterFunc(ctx, func() { time.AfterFunc(p.cfg.ShutdownTimeout, cancelWrites) })
	defer stopDeadline()
	for {
		batch, ok := p.q.take(ctx, p.cfg.BatchSize)
		if !ok {
			break
		}
		p.process(wctx, batch)
	}

	p.q.close()
	stopDrainer()
	wg.Wait()
	var failed int
	for {
		batch := p.q.takeNow(p.cfg.BatchSize)
		if len(batch) == 0 {
			break
		}
		failed += p.process(wctx, batch)
	}
	st := p.spool.stats()
	if err := p.spool.close(); err != nil {
		p.log.Warn("cdr: spool: release", "err", err)
	}
	if st.records > 0 {
		p.log.Info("cdr: pipeline stopped with a spool; the next run replays it", "records", st.records, "bytes", st.bytes)
	}
	if failed > 0 {
		return fmt.Errorf("cdr: pipeline: %d queued records could be written neither to the store nor to the spool", failed)
	}
	return nil
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
	dl.Source = text("store switch " + r.Switch)
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
			e.rec = &it.rec
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
		for attempt := 0; ; {
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
				if !sleep(ctx, p.backoff(attempt)) {
					return
				}
				attempt++
				continue
			}
			attempt = 0
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
				dl.Raw, dl.ReceivedAt = text(dl.Raw), time.Now().UTC()
				p.log.Warn("cdr: spool: damaged entry; kept as a dead letter",
					"segment", seg.path, "offset", dmg.offset, "reason", dmg.reason)
				batch = append(batch, item{dl: &dl})
			case e.dl != nil:
				batch = append(batch, item{dl: e.dl})
			default:
				batch = append(batch, item{rec: *e.rec})
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
	for attempt := 0; len(recs) > 0; attempt++ {
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
		if !sleep(ctx, p.backoff(attempt)) {
			return ctx.Err()
		}
	}
	for attempt := 0; len(dls) > 0; attempt++ {
		unwritten, err := p.commitDeadLetters(ctx, dls)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.storeFailed(err)
		dls = unwritten
		if !sleep(ctx, p.backoff(attempt)) {
			return ctx.Err()
		}
	}
	return nil
}

func (p *Pipeline) backoff(attempt int) time.Duration {
	d := p.retryMin
	for range min(attempt, 30) {
		d *= 2
		if d >= p.retryMax {
			return p.retryMax
		}
	}
	return d
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// storeFailed records a store failure; the first after a success is
// logged as an outage.
func (p *Pipeline) storeFailed(err error) {
	p.setLastError(err)
	if p.dbUp.Swap(false) {
		p.log.Warn("cdr: the store is failing; CDRs go to the spool until it answers", "err", err)
	} else {
		p.log.Debug("cdr: the store is still failing", "err", err)
	}
}

func (p *Pipeline) storeUp() {
	if !p.dbUp.Swap(true) {
		st := p.spool.stats()
		p.log.Info("cdr: the store answers again; replaying the spool", "records", st.records, "bytes", st.bytes)
	}
}

func (p *Pipeline) setLastError(err error) {
	p.lastErr.Store(&errorAt{err: err.Error(), at: time.Now()})
}

// isPoison reports whether err is the store refusing a batch for what is
// in it, rather than failing to take it: ErrInvalidRecord, a PostgreSQL
// data exception (SQLSTATE class 22), integrity violation (23) or program
// limit (54, e.g. an index row too large), or SQLite's constraint,
// datatype mismatch, too big and range errors. Anything else, known or
// not, is taken for an outage: retrying a good record costs time, while
// dead-lettering it because the database was down would lose it from the
// CDR table.
func isPoison(err error) bool {
	if errors.Is(err, ErrInvalidRecord) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if len(pe.Code) < 2 {
			return false
		}
		switch pe.Code[:2] {
		case "22", "23", "54":
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
			return true
		}
	}
	return false
}

// item is one entry of the queue: a record, or a dead letter, and the
// Put waiting for it (nil for spool replays).
type item struct {
	rec Record
	dl  *DeadLetter
	w   *waiter
}

// split separates the records of items from the dead letters, keeping
// order.
func split(items []item) (recs, dls []item) {
	if !slices.ContainsFunc(items, func(it item) bool { return it.dl != nil }) {
		return items, nil // the usual case, without a copy
	}
	for _, it := range items {
		if it.dl != nil {
			dls = append(dls, it)
		} else {
			recs = append(recs, it)
		}
	}
	return recs, dls
}

// waiter is a Put waiting for its items to be durable.
type waiter struct {
	left atomic.Int64
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func newWaiter() *waiter { return &waiter{done: make(chan struct{})} }

// finish marks one item done, failed if err is not nil. A nil waiter
// (spool replays have none) ignores it.
func (w *waiter) finish(err error) {
	if w == nil {
		return
	}
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
	if w.left.Add(-1) == 0 {
		close(w.done)
	}
}

func (w *waiter) result() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// queue is the bounded queue between the Puts and the writer.
type queue struct {
	mu     sync.Mutex
	items  []item
	limit  int
	closed bool
	space  chan struct{} // closed (and replaced) when room is made
	ready  chan struct{} // holds a token while items wait
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, space: make(chan struct{}), ready: make(chan struct{}, 1)}
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// put appends items, waiting for room as needed. The items of one call
// are appended together when they fit, so the writer takes a Put whole.
// On an error some items may have been queued: they are written anyway.
func (q *queue) put(ctx context.Context, items []item) error {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return ErrPipelineClosed
		}
		if n := min(len(items), q.limit-len(q.items)); n > 0 {
			q.items = append(q.items, items[:n]...)
			items = items[n:]
			select {
			case q.ready <- struct{}{}:
			default:
			}
		}
		if len(items) == 0 {
			q.mu.Unlock()
			return nil
		}
		space := q.space
		q.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take waits for items and takes up to max of them, oldest first. It
// reports false when ctx ends first.
func (q *queue) take(ctx context.Context, max int) ([]item, bool) {
	for {
		if ctx.Err() != nil {
			return nil, false
		}
		if batch := q.takeNow(max); len(batch) > 0 {
			return batch, true
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// takeNow takes up to max items without waiting.
func (q *queue) takeNow(max int) []item {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(max, len(q.items))
	if n == 0 {
		return nil
	}
	var batch []item
	if n == len(q.items) {
		batch, q.items = q.items, nil // the usual case, without a copy
	} else {
		batch = make([]item, n)
		copy(batch, q.items)
		clear(q.items[:n])
		q.items = q.items[n:]
	}
	if len(q.items) > 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	if !q.closed {
		close(q.space)
		q.space = make(chan struct{})
	}
	return batch
}

// close refuses further items; queued ones stay for takeNow. Puts
// waiting for room get ErrPipelineClosed.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.space)
	}
}

// pipeKey is a record's dedup key.
type pipeKey struct{ sw, callID string }

// recentKeys remembers the keys of the last records stored or spooled, a
// fixed number in a ring.
type recentKeys struct {
	mu   sync.Mutex
	set  map[pipeKey]struct{}
	ring []pipeKey
	next int
}

func newRecentKeys(n int) *recentKeys {
	return &recentKeys{set: make(map[pipeKey]struct{}, n), ring: make([]pipeKey, n)}
}

func (k *recentKeys) containsLocked(sw, callID string) bool {
	_, ok := k.set[pipeKey{sw, callID}]
	return ok
}

// add remembers the records among items.
func (k *recentKeys) add(items []item) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range items {
		if items[i].dl != nil {
			continue
		}
		key := pipeKey{items[i].rec.Switch, items[i].rec.CallID}
		if _, ok := k.set[key]; ok {
			continue
		}
		if old := k.ring[k.next]; old != (pipeKey{}) {
			delete(k.set, old)
		}
		k.ring[k.next] = key
		k.set[key] = struct{}{}
		k.next = (k.next + 1) % len(k.ring)
	}
}
