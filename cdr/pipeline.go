package cdr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Writer is what the pipeline writes to: a store, such as cdrstore.Store,
// or a fake in tests. A batch the store refuses for its contents fails
// with an error wrapping ErrInvalidRecord or ErrRefused; any other error
// is taken for an outage and the batch retried.
type Writer interface {
	// InsertNew writes recs in one transaction and returns the ones that
	// were not stored yet, with their IDs. Records already stored (same
	// switch and call id) are skipped: replaying a batch is harmless.
	InsertNew(ctx context.Context, recs []Record) ([]Record, error)
	// PutDeadLetters stores dls in one transaction.
	PutDeadLetters(ctx context.Context, dls []DeadLetter) error
}

var _ Sink = (*Pipeline)(nil)

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
	// Owners, when set, stamps each record without a tenant with the
	// owner of its domain (see Owners and Put). nil stores records as
	// they come: without an owner, they are visible to admins only.
	Owners Owners
	// OwnerTimeout bounds the owner lookups of one Put (or one batch
	// written later). A lookup that fails or times out leaves the record
	// to be stamped when it is written; it never delays the record past
	// this bound nor refuses it. Default 1s.
	OwnerTimeout time.Duration
	// Tariffs, when set, prices each record as it is written (see
	// PriceRecords): its cost, rate and plan are stored with it, and the
	// store charges the cost to its owner's balance in the same
	// transaction. nil stores records unpriced (no price, no reason).
	Tariffs Tariffs
	// PriceTimeout bounds the tariff lookups of one batch. A lookup that
	// fails or times out leaves the records it was for unpriced
	// (UnpricedLookupFailed): pricing never holds a record back nor
	// loses one. Default 1s.
	PriceTimeout time.Duration
}

// The PipelineConfig defaults.
const (
	DefaultQueueSize       = 100_000
	DefaultBatchSize       = 5_000
	DefaultFlushInterval   = 100 * time.Millisecond
	DefaultWriteTimeout    = 5 * time.Second
	DefaultShutdownTimeout = 5 * time.Second
	DefaultOwnerTimeout    = time.Second
	DefaultPriceTimeout    = time.Second
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
// Each record is priced (PipelineConfig.Tariffs, see PriceRecords) just
// before it is written, so its price goes with it into the store or the
// spool; a record that cannot be priced is stored unpriced with the
// reason, never held back. The store charges a priced record's cost in
// the transaction that stores it, so a replay charges nothing either.
//
// Order is kept: records are written in the order they were queued. When
// the store fails (connection refused, timeout, any error that is not a
// refusal of the data itself), the failed batch and every later one go to
// the spool, while a drainer retries the store with backoff (100ms
// doubling to 5s, jittered: internal/backoff); once the store answers,
// the spool is replayed oldest first and the writer goes back to the
// store only when the spool is empty. A spool left by an earlier run is replayed the same way before
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
	ownersDown                       atomic.Bool // the last owner lookup failed
	tariffsDown                      atomic.Bool // the last tariff lookup failed
	lastErr                          atomic.Pointer[errorAt]
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
	setDefault(&cfg.OwnerTimeout, DefaultOwnerTimeout)
	setDefault(&cfg.PriceTimeout, DefaultPriceTimeout)
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
//
// Before queueing, Put stamps each record without a TenantID with the
// owner of its domain (PipelineConfig.Owners), one lookup per distinct
// domain, so the owner travels with the record through the queue, the
// spool and a replay by a later run. A record that carries a TenantID
// keeps it: only trusted producers set one (the spool; an admin's
// submission or import). When the lookup fails (the store is down) the
// record is accepted all the same and its owner is looked up again when
// it is written, from the queue or from the spool (a spool line of kind
// 'u'); if that fails too it is stored without an owner, which only
// admins see. A domain nobody owns is not looked up again: a tenant that
// creates it later must not gain the calls made before.
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
	p.stampOwners(ctx, items, false)
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
	dl.Bound() // before the queue: a garbage upload is not carried whole
	dl.Source, dl.Reason, dl.Raw = MendText(dl.Source), MendText(dl.Reason), MendText(dl.Raw)
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
