package cdr_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// pipeBase is the end time of the test records: recent, so that the
// hang-up-to-queryable histogram sees small values.
var pipeBase = time.Now().UTC().Truncate(time.Second)

// pipeRec returns a minimal valid record, call id "call-NNNNNN".
func pipeRec(i int) cdr.Record {
	end := pipeBase.Add(time.Duration(i) * time.Millisecond)
	return cdr.Record{
		Switch: "pbx1", CallID: fmt.Sprintf("call-%06d", i), Domain: "example.com",
		Direction: cdr.DirectionInternal, Disposition: cdr.Answered,
		Start: end.Add(-time.Minute), End: end, Duration: 60, Billsec: 50,
	}
}

func pipeRecs(from, to int) []cdr.Record {
	out := make([]cdr.Record, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, pipeRec(i))
	}
	return out
}

// fakeWriter is a cdr.Writer made of functions, for failure injection.
type fakeWriter struct {
	InsertNewFunc      func(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error)
	PutDeadLettersFunc func(ctx context.Context, dls []cdr.DeadLetter) error
}

func (f *fakeWriter) InsertNew(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error) {
	return f.InsertNewFunc(ctx, recs)
}

func (f *fakeWriter) PutDeadLetters(ctx context.Context, dls []cdr.DeadLetter) error {
	return f.PutDeadLettersFunc(ctx, dls)
}

// memStore is an in-memory Writer with the store's dedup rule, keeping
// rows in commit order.
type memStore struct {
	mu    sync.Mutex
	keys  map[string]bool
	rows  []cdr.Record
	dls   []cdr.DeadLetter
	calls int
}

func newMemStore() *memStore { return &memStore{keys: map[string]bool{}} }

func (m *memStore) InsertNew(_ context.Context, recs []cdr.Record) ([]cdr.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	var fresh []cdr.Record
	for _, r := range recs {
		k := r.Switch + "/" + r.CallID
		if m.keys[k] {
			continue
		}
		m.keys[k] = true
		r.ID = int64(len(m.rows) + 1)
		m.rows = append(m.rows, r)
		fresh = append(fresh, r)
	}
	return fresh, nil
}

func (m *memStore) PutDeadLetters(_ context.Context, dls []cdr.DeadLetter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dls = append(m.dls, dls...)
	return nil
}

func (m *memStore) callIDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.rows))
	for i, r := range m.rows {
		out[i] = r.CallID
	}
	return out
}

func (m *memStore) deadLetters() []cdr.DeadLetter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.dls)
}

// flaky wraps w: while down is set, every write fails with downErr (or,
// when that is nil, hangs until its context ends, as an unreachable
// server does).
func flaky(w cdr.Writer, down *atomic.Bool, downErr error) *fakeWriter {
	fail := func(ctx context.Context) error {
		if downErr != nil {
			return downErr
		}
		<-ctx.Done()
		return ctx.Err()
	}
	return &fakeWriter{
		InsertNewFunc: func(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error) {
			if down.Load() {
				return nil, fail(ctx)
			}
			return w.InsertNew(ctx, recs)
		},
		PutDeadLettersFunc: func(ctx context.Context, dls []cdr.DeadLetter) error {
			if down.Load() {
				return fail(ctx)
			}
			return w.PutDeadLetters(ctx, dls)
		},
	}
}

var errRefused = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

// refusal is the error a store returns when its database refuses a batch
// for its contents (cdrstore wraps such errors in cdr.ErrRefused).
func refusal(msg string) error { return fmt.Errorf("cdr: insert: %w: %s", cdr.ErrRefused, msg) }

// running is a pipeline whose Run goroutine the test controls.
type running struct {
	*cdr.Pipeline
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned err
	err    error
}

// stop ends Run and returns its error.
func (r *running) stop() error {
	r.cancel()
	<-r.done
	return r.err
}

// startPipeline runs a pipeline on w and dir with fast retries; the test's
// cleanup stops it.
func startPipeline(t testing.TB, w cdr.Writer, cfg cdr.PipelineConfig) *running {
	t.Helper()
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := cdr.NewPipeline(w, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cdr.SetRetry(p, time.Millisecond, 20*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Pipeline: p, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = p.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return r
}

func put(t testing.TB, p *running, recs []cdr.Record) {
	t.Helper()
	if err := p.Put(context.Background(), recs...); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func drained(p *running) func() bool {
	return func() bool {
		st := p.Stats()
		return !st.Spooling && st.SpoolRecords == 0 && st.Queued == 0
	}
}

// received drains sub of what it holds now.
func received(sub *cdr.Subscription) []string {
	var out []string
	for {
		select {
		case r := <-sub.C:
			out = append(out, r.CallID)
		default:
			return out
		}
	}
}

// callRange returns the call ids of pipeRecs(from, to).
func callRange(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, pipeRec(i).CallID)
	}
	return out
}

func migrated(t testing.TB, db *sqldb.DB) *cdrstore.Store {
	t.Helper()
	if err := cdrstore.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return cdrstore.NewStore(db)
}

// storedCallIDs returns the call ids in the cdrs table, sorted, and checks
// that no (switch, call_id) is there twice.
func storedCallIDs(t testing.TB, db *sqldb.DB) []string {
	t.Helper()
	var ids []string
	if err := db.SelectContext(context.Background(), &ids, `SELECT call_id FROM cdrs ORDER BY call_id`); err != nil {
		t.Fatal(err)
	}
	if c := slices.Compact(slices.Clone(ids)); len(c) != len(ids) {
		t.Fatalf("%d rows but %d distinct call ids", len(ids), len(c))
	}
	return ids
}

func deadLetters(t testing.TB, s *cdrstore.Store) []cdr.DeadLetter {
	t.Helper()
	dls, err := s.DeadLetters(context.Background(), 0, cdr.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	return dls
}

// The same records Put twice, concurrently, across a spool replay and
// across a restart with a spool left behind, are stored once each, and
// the feed sees each once.
func TestPipelineExactlyOnce(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		store := migrated(t, db)
		dir := t.TempDir()
		var down atomic.Bool
		p1 := startPipeline(t, flaky(store, &down, errRefused), cdr.PipelineConfig{SpoolDir: dir, BatchSize: 64})
		sub1 := p1.Subscribe(1000)

		put(t, p1, pipeRecs(0, 100))
		put(t, p1, pipeRecs(0, 100)) // a re-post
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() { put(t, p1, pipeRecs(50+g, 200)) }) // overlapping resyncs
		}
		wg.Wait()
		if got := storedCallIDs(t, db); !slices.Equal(got, callRange(0, 200)) {
			t.Fatalf("after concurrent resends: %d rows", len(got))
		}

		// The store goes down: Put still succeeds, into the spool; the
		// daemon stops with the spool left.
		down.Store(true)
		put(t, p1, pipeRecs(150, 300))
		// 150..199 were just stored: the recent keys answer for them.
		if st := p1.Stats(); !st.Spooling || st.SpoolRecords != 100 || st.DatabaseUp {
			t.Fatalf("during the outage: %+v", st)
		}
		if err := p1.stop(); err != nil {
			t.Fatal(err)
		}
		if got := received(sub1); !slices.Equal(got, callRange(0, 200)) {
			t.Errorf("first run's feed: %d records, want 0..199 once each", len(got))
		}

		// The restart replays the spool before anything else while the
		// sources resend, some of it for the second time.
		p2 := startPipeline(t, store, cdr.PipelineConfig{SpoolDir: dir, BatchSize: 64})
		sub2 := p2.Subscribe(1000)
		for _, r := range [][2]int{{250, 400}, {0, 50}, {280, 320}} {
			wg.Go(func() { put(t, p2, pipeRecs(r[0], r[1])) })
		}
		wg.Wait()
		waitFor(t, "the spool is replayed", drained(p2))
		if got := storedCallIDs(t, db); !slices.Equal(got, callRange(0, 400)) {
			t.Fatalf("after the restart: %d rows, want 400", len(got))
		}
		got := received(sub2)
		slices.Sort(got)
		if !slices.Equal(got, callRange(200, 400)) {
			t.Errorf("second run's feed: %d records, want 200..399 once each", len(got))
		}
		if dls := deadLetters(t, store); len(dls) != 0 {
			t.Errorf("dead letters: %+v", dls)
		}
		if names, _ := filepath.Glob(filepath.Join(dir, "*.spool")); len(names) != 0 {
			t.Errorf("segments left after the replay: %v", names)
		}
		if st := p2.Stats(); st.Written != 200 || st.Duplicates == 0 || !st.DatabaseUp {
			t.Errorf("stats after the restart: %+v", st)
		}
	})
}

// While the store fails, in any of the ways an outage shows, Puts still
// succeed into the spool; when it recovers the spool drains in order and
// the count equals what was sent.
func TestPipelineOutage(t *testing.T) {
	cases := []struct {
		name string
		err  error // nil: the store hangs
	}{
		{"connection refused", errRefused},
		{"connection lost", errors.New("connection failure (SQLSTATE 08006)")},
		{"server shutting down", errors.New("terminating connection due to administrator command (SQLSTATE 57P01)")},
		{"disk full", errors.New("could not extend file (SQLSTATE 53100)")},
		{"store hangs", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := newMemStore()
			var down atomic.Bool
			p := startPipeline(t, flaky(mem, &down, c.err), cdr.PipelineConfig{BatchSize: 25, WriteTimeout: 30 * time.Millisecond})
			sub := p.Subscribe(1000)
			put(t, p, pipeRecs(0, 100))

			down.Store(true)
			var spooled []int64
			for i := 100; i < 400; i += 50 {
				put(t, p, pipeRecs(i, i+50))
				spooled = append(spooled, p.Stats().SpoolRecords)
			}
			if !slices.IsSorted(spooled) || spooled[len(spooled)-1] != 300 {
				t.Errorf("spool records during the outage: %v, want growing to 300", spooled)
			}
			st := p.Stats()
			if st.DatabaseUp || !st.Spooling || st.LastError == "" || st.SpoolBytes == 0 {
				t.Errorf("stats during the outage: %+v", st)
			}

			down.Store(false)
			put(t, p, pipeRecs(400, 450)) // queued behind the spool
			waitFor(t, "the spool drains", drained(p))
			if got := mem.callIDs(); !slices.Equal(got, callRange(0, 450)) {
				t.Errorf("stored %d records, not 0..449 in order", len(got))
			}
			if got := received(sub); !slices.Equal(got, callRange(0, 450)) {
				t.Errorf("feed: %d records, not 0..449 in order", len(got))
			}
			// Back to writing directly.
			before := p.Stats().SpoolBatches
			put(t, p, pipeRecs(450, 460))
			if st := p.Stats(); st.SpoolBatches != before || st.Written != 460 || !st.DatabaseUp {
				t.Errorf("after the recovery: %+v", st)
			}
		})
	}
}

// A spool left by a crash, with a torn last record, a corrupt record in
// the middle, or records the crashed run had already committed, is
// replayed: every intact record is stored once, damage becomes dead
// letters, and the segments are deleted.
func TestPipelineCrashRecovery(t *testing.T) {
	segment := func(from, to int) []byte { return cdr.SpoolLines(pipeRecs(from, to), nil) }
	lineStart := func(seg []byte, n int) int { // offset of line n
		off := 0
		for range n {
			off += strings.IndexByte(string(seg[off:]), '\n') + 1
		}
		return off
	}
	tornTail := func(seg []byte) []byte { return seg[:len(seg)-5] }
	corrupt := func(seg []byte, line int) []byte {
		seg = slices.Clone(seg)
		seg[lineStart(seg, line)+30] ^= 0x01
		return seg
	}
	cases := []struct {
		name       string
		committed  [2]int   // already in the store
		segments   [][]byte // files 1, 2, …
		want       [2]int   // stored afterwards: call-want[0] … call-want[1]-1
		missing    []int    // … but these
		deadReason []string // a dead letter each, by reason
	}{
		{"intact", [2]int{}, [][]byte{segment(0, 20)}, [2]int{0, 20}, nil, nil},
		{"torn last record", [2]int{}, [][]byte{tornTail(segment(0, 20))}, [2]int{0, 20}, []int{19}, []string{"torn"}},
		{"corrupt record in the middle", [2]int{}, [][]byte{corrupt(segment(0, 20), 7)}, [2]int{0, 20}, []int{7}, []string{"checksum"}},
		{"both, over two segments", [2]int{}, [][]byte{corrupt(segment(0, 20), 3), tornTail(segment(20, 40))}, [2]int{0, 40}, []int{3, 39}, []string{"checksum", "torn"}},
		{"crash after commit, before the segment was deleted", [2]int{0, 15}, [][]byte{segment(0, 20)}, [2]int{0, 20}, nil, nil},
		{"a spooled dead letter", [2]int{}, [][]byte{cdr.SpoolLines(pipeRecs(0, 2), []cdr.DeadLetter{{Source: "json_cdr", Reason: "unparseable", Raw: "{"}})}, [2]int{0, 2}, nil, []string{"unparseable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
				store := migrated(t, db)
				if c.committed[1] > 0 {
					if _, err := store.InsertNew(context.Background(), pipeRecs(c.committed[0], c.committed[1])); err != nil {
						t.Fatal(err)
					}
				}
				dir := t.TempDir()
				for i, seg := range c.segments {
					if err := os.WriteFile(filepath.Join(dir, cdr.SpoolSegmentName(uint64(i+1))), seg, 0o640); err != nil {
						t.Fatal(err)
					}
				}
				p := startPipeline(t, store, cdr.PipelineConfig{SpoolDir: dir, BatchSize: 8})
				waitFor(t, "the spool is replayed", drained(p))
				var want []string
				for i := c.want[0]; i < c.want[1]; i++ {
					if !slices.Contains(c.missing, i) {
						want = append(want, pipeRec(i).CallID)
					}
				}
				if got := storedCallIDs(t, db); !slices.Equal(got, want) {
					t.Errorf("stored %v,\nwant %v", got, want)
				}
				dls := deadLetters(t, store)
				if len(dls) != len(c.deadReason) {
					t.Fatalf("%d dead letters, want %d: %+v", len(dls), len(c.deadReason), dls)
				}
				for i, dl := range dls {
					if !strings.Contains(dl.Reason, c.deadReason[i]) || dl.Raw == "" || dl.Source == "" {
						t.Errorf("dead letter %d: %+v, want reason %q and the bytes", i, dl, c.deadReason[i])
					}
				}
				if names, _ := filepath.Glob(filepath.Join(dir, "*.spool")); len(names) != 0 {
					t.Errorf("segments left: %v", names)
				}
			})
		})
	}
}

// With the writer stuck and the queue full, Put blocks, and returns
// ctx.Err() when its context ends; nothing is lost once the writer moves.
func TestPipelineBackPressure(t *testing.T) {
	mem := newMemStore()
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	w := &fakeWriter{
		InsertNewFunc: func(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error) {
			entered <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return mem.InsertNew(ctx, recs)
		},
		PutDeadLettersFunc: mem.PutDeadLetters,
	}
	p := startPipeline(t, w, cdr.PipelineConfig{QueueSize: 4, BatchSize: 2, WriteTimeout: time.Minute})
	errs := make(chan error, 2)
	go func() { errs <- p.Put(context.Background(), pipeRecs(0, 2)...) }()
	<-entered // the writer holds the first batch
	go func() { errs <- p.Put(context.Background(), pipeRecs(2, 6)...) }()
	waitFor(t, "the queue is full", func() bool { return p.Stats().Queued == 4 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Put(ctx, pipeRecs(6, 7)...); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Put on a full queue: %v, want the deadline", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("Put on a full queue returned after %s, before its deadline", d)
	}
	if p.Stats().Queued != 4 {
		t.Errorf("the queue grew past its size: %d", p.Stats().Queued)
	}
	done, cancelled := context.WithCancel(context.Background())
	cancelled()
	if err := p.Put(done, pipeRecs(7, 8)...); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: %v", err)
	}

	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("blocked Put: %v", err)
		}
	}
	if got := mem.callIDs(); !slices.Equal(got, callRange(0, 6)) {
		t.Errorf("stored %v", got)
	}
}

// A record the store refuses for its contents is isolated by halving the
// batch, kept as a dead letter, and the rest of the batch is stored, in
// a bounded number of attempts.
func TestPipelinePoisonIsolation(t *testing.T) {
	cases := []struct {
		name   string
		n      int
		poison []int
		err    error
	}{
		{"first of 64", 64, []int{0}, refusal("invalid byte sequence (SQLSTATE 22021)")},
		{"middle of 64", 64, []int{37}, refusal("check violation (SQLSTATE 23514)")},
		{"last of 64", 64, []int{63}, refusal("index row size exceeds maximum (SQLSTATE 54000)")},
		{"three of 100", 100, []int{5, 6, 90}, fmt.Errorf("insert: %w: call_id: odd", cdr.ErrInvalidRecord)},
		{"all of 8", 8, []int{0, 1, 2, 3, 4, 5, 6, 7}, refusal("SQLSTATE 22P02")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := newMemStore()
			poison := map[string]bool{}
			for _, i := range c.poison {
				poison[pipeRec(i).CallID] = true
			}
			var calls atomic.Int64
			w := &fakeWriter{
				InsertNewFunc: func(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error) {
					calls.Add(1)
					for _, r := range recs {
						if poison[r.CallID] {
							return nil, c.err
						}
					}
					return mem.InsertNew(ctx, recs)
				},
				PutDeadLettersFunc: mem.PutDeadLetters,
			}
			p := startPipeline(t, w, cdr.PipelineConfig{})
			put(t, p, pipeRecs(0, c.n))
			var want []string
			for i := range c.n {
				if !poison[pipeRec(i).CallID] {
					want = append(want, pipeRec(i).CallID)
				}
			}
			if got := mem.callIDs(); !slices.Equal(got, want) {
				t.Errorf("stored %v, want %v", got, want)
			}
			dls := mem.deadLetters()
			if len(dls) != len(c.poison) {
				t.Fatalf("%d dead letters, want %d", len(dls), len(c.poison))
			}
			for _, dl := range dls {
				if !strings.Contains(dl.Reason, c.err.Error()) || !strings.Contains(dl.Raw, `"call_id":"call-`) {
					t.Errorf("dead letter %+v", dl)
				}
			}
			// Halving finds each poison record in about 2·log2(n) tries.
			if max := int64(1 + len(c.poison)*2*bitLen(c.n)); calls.Load() > max && len(c.poison) < c.n {
				t.Errorf("%d attempts, want at most %d", calls.Load(), max)
			}
			if st := p.Stats(); st.DeadLetters != int64(len(c.poison)) || st.Spooling {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// A store that refuses a poison record and then goes down in the middle
// of isolating it: the records not yet written are spooled and written
// once it is back, the poison one is a dead letter, nothing is lost.
func TestPipelinePoisonThenOutage(t *testing.T) {
	mem := newMemStore()
	var calls atomic.Int64
	var down atomic.Bool
	w := &fakeWriter{
		InsertNewFunc: func(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error) {
			if calls.Add(1) == 3 {
				down.Store(true) // after the first halving
			}
			if down.Load() {
				return nil, errRefused
			}
			for _, r := range recs {
				if r.CallID == "call-000050" {
					return nil, refusal("SQLSTATE 22021")
				}
			}
			return mem.InsertNew(ctx, recs)
		},
		PutDeadLettersFunc: func(ctx context.Context, dls []cdr.DeadLetter) error {
			if down.Load() {
				return errRefused
			}
			return mem.PutDeadLetters(ctx, dls)
		},
	}
	p := startPipeline(t, w, cdr.PipelineConfig{})
	put(t, p, pipeRecs(0, 64))
	if st := p.Stats(); !st.Spooling || st.SpoolRecords == 0 {
		t.Fatalf("the store went down while isolating, yet nothing is spooled: %+v", st)
	}
	down.Store(false)
	waitFor(t, "the spool drains", drained(p))
	want := slices.DeleteFunc(callRange(0, 64), func(id string) bool { return id == "call-000050" })
	if got := mem.callIDs(); !slices.Equal(got, want) {
		t.Errorf("stored %v", got)
	}
	if dls := mem.deadLetters(); len(dls) != 1 || !strings.Contains(dls[0].Raw, "call-000050") {
		t.Errorf("dead letters %+v", dls)
	}
}

// Put fails, rather than acknowledging, when the store is down and the
// spool cannot be written either; it succeeds again once the spool can.
func TestPipelineSpoolFailure(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	mem := newMemStore()
	dir := filepath.Join(t.TempDir(), "spool")
	p := startPipeline(t, flaky(mem, &down, errRefused), cdr.PipelineConfig{SpoolDir: dir})
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err := p.Put(context.Background(), pipeRecs(0, 3)...)
	if err == nil || !strings.Contains(err.Error(), "spool") {
		t.Fatalf("Put with neither store nor spool: %v", err)
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	put(t, p, pipeRecs(0, 3)) // the source retries
	down.Store(false)
	waitFor(t, "the spool drains", drained(p))
	if got := mem.callIDs(); !slices.Equal(got, callRange(0, 3)) {
		t.Errorf("stored %v", got)
	}
}

func bitLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}

// Invalid records and rejected submissions become dead letters in the
// store, with the reason; Put succeeds and the valid records are stored.
func TestPipelineDeadLetters(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		store := migrated(t, db)
		// The store refuses call-000003 as PostgreSQL refuses bad data.
		w := &fakeWriter{
			InsertNewFunc: func(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error) {
				for _, r := range recs {
					if r.CallID == "call-000003" {
						return nil, refusal("invalid byte sequence for encoding (SQLSTATE 22021)")
					}
				}
				return store.InsertNew(ctx, recs)
			},
			PutDeadLettersFunc: store.PutDeadLetters,
		}
		p := startPipeline(t, w, cdr.PipelineConfig{})
		recs := pipeRecs(0, 5)
		noCallID, overBilled, badRaw := pipeRec(5), pipeRec(6), pipeRec(7)
		noCallID.CallID = ""
		overBilled.Billsec = 61
		badRaw.Raw = []byte(`{"variables":`)
		put(t, p, append(recs, noCallID, overBilled, badRaw))
		if err := p.Reject(context.Background(), cdr.DeadLetter{Source: "freeswitch:fs1 json_cdr", Reason: "unexpected EOF", Raw: "{\"vari\x00"}); err != nil {
			t.Fatal(err)
		}
		if got := storedCallIDs(t, db); !slices.Equal(got, []string{"call-000000", "call-000001", "call-000002", "call-000004"}) {
			t.Errorf("stored %v", got)
		}
		var reasons []string
		for _, dl := range deadLetters(t, store) {
			reasons = append(reasons, dl.Reason)
			if dl.Raw == "" || dl.Source == "" || dl.ReceivedAt.IsZero() {
				t.Errorf("dead letter without its record: %+v", dl)
			}
		}
		want := []string{"billsec", "call_id", "invalid byte sequence", "raw", "unexpected EOF"}
		if len(reasons) != len(want) {
			t.Fatalf("dead letters %q, want one each for %q", reasons, want)
		}
		for _, w := range want {
			if !slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, w) }) {
				t.Errorf("no dead letter mentions %q: %q", w, reasons)
			}
		}
	})
}

// Dead letters made while the store is down are spooled and stored once
// it answers.
func TestPipelineDeadLettersDuringOutage(t *testing.T) {
	mem := newMemStore()
	var down atomic.Bool
	down.Store(true)
	p := startPipeline(t, flaky(mem, &down, errRefused), cdr.PipelineConfig{})
	bad := pipeRec(1)
	bad.Disposition = "HUNG UP"
	put(t, p, []cdr.Record{pipeRec(0), bad})
	if err := p.Reject(context.Background(), cdr.DeadLetter{Source: "import Master.csv:3", Reason: "7 fields", Raw: "a,b"}); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.SpoolRecords != 3 {
		t.Fatalf("spool during the outage: %+v", st)
	}
	down.Store(false)
	waitFor(t, "the spool drains", drained(p))
	if got := mem.callIDs(); !slices.Equal(got, []string{"call-000000"}) {
		t.Errorf("stored %v", got)
	}
	if dls := mem.deadLetters(); len(dls) != 2 {
		t.Errorf("dead letters %+v", dls)
	}
}

// When Run's context ends, Puts are refused, what is queued is written
// (to the store if it answers in time, else to the spool) and Run
// returns; every Put that returned nil is stored or spooled.
func TestPipelineShutdown(t *testing.T) {
	cases := []struct {
		name      string
		down      bool
		hang      bool
		wantSpool bool
	}{
		{"store up", false, false, false},
		{"store down", true, false, true},
		{"store hangs", true, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := newMemStore()
			var down atomic.Bool
			var downErr error = errRefused
			if c.hang {
				downErr = nil
			}
			slow := &fakeWriter{
				InsertNewFunc: func(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error) {
					time.Sleep(5 * time.Millisecond)
					return mem.InsertNew(ctx, recs)
				},
				PutDeadLettersFunc: mem.PutDeadLetters,
			}
			dir := t.TempDir()
			p := startPipeline(t, flaky(slow, &down, downErr), cdr.PipelineConfig{
				SpoolDir: dir, BatchSize: 10, WriteTimeout: time.Minute, ShutdownTimeout: 100 * time.Millisecond,
			})
			down.Store(c.down)
			var (
				mu    sync.Mutex
				acked []string
				wg    sync.WaitGroup
			)
			for g := range 8 {
				wg.Go(func() {
					for i := g * 1000; ; i++ {
						r := pipeRec(i)
						if err := p.Put(context.Background(), r); err != nil {
							if !errors.Is(err, cdr.ErrPipelineClosed) {
								t.Errorf("Put: %v", err)
							}
							return
						}
						mu.Lock()
						acked = append(acked, r.CallID)
						mu.Unlock()
					}
				})
			}
			begun := time.Now()
			waitFor(t, "Puts are under way", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(acked) >= 20 || c.hang && time.Since(begun) > 50*time.Millisecond
			})
			start := time.Now()
			if err := p.stop(); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("shutdown took %s", d)
			}
			wg.Wait()
			if err := p.Put(context.Background(), pipeRec(99999)); !errors.Is(err, cdr.ErrPipelineClosed) {
				t.Errorf("Put after Run: %v", err)
			}
			if st := p.Stats(); st.Queued != 0 || (st.SpoolRecords > 0) != c.wantSpool {
				t.Errorf("after shutdown: %+v", st)
			}

			// Whatever was spooled is stored by the next run.
			down.Store(false)
			p2 := startPipeline(t, flaky(slow, &down, downErr), cdr.PipelineConfig{SpoolDir: dir})
			waitFor(t, "the spool drains", drained(p2))
			stored := mem.callIDs()
			slices.Sort(stored)
			slices.Sort(acked)
			for _, id := range acked {
				if _, ok := slices.BinarySearch(stored, id); !ok {
					t.Fatalf("acknowledged %s is not stored (%d acknowledged, %d stored)", id, len(acked), len(stored))
				}
			}
			if len(acked) == 0 {
				t.Error("nothing was acknowledged")
			}
		})
	}
}

func TestPipelineConfig(t *testing.T) {
	if _, err := cdr.NewPipeline(newMemStore(), nil, cdr.PipelineConfig{}); err == nil {
		t.Error("no SpoolDir accepted")
	}
	dir := t.TempDir()
	p, err := cdr.NewPipeline(newMemStore(), nil, cdr.PipelineConfig{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cdr.NewPipeline(newMemStore(), nil, cdr.PipelineConfig{SpoolDir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a second pipeline on a spool in use: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); err == nil {
		t.Error("Run accepted twice")
	}
	// Run released the spool directory.
	p2, err := cdr.NewPipeline(newMemStore(), nil, cdr.PipelineConfig{SpoolDir: dir})
	if err != nil {
		t.Fatalf("the spool directory after Run: %v", err)
	}
	if err := p2.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// isPoison tells a refusal of the data (the sentinels of Validate and of
// the store, however wrapped) from an outage (anything else). The store's
// own classification of database errors is tested in cdrstore.
func TestIsPoison(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"invalid record", fmt.Errorf("cdr: record 3: %w: call_id: empty", cdr.ErrInvalidRecord), true},
		{"refused by the store", refusal("check violation (SQLSTATE 23514)"), true},
		{"refused, wrapped again", fmt.Errorf("batch: %w", refusal("SQLSTATE 54000")), true},
		{"timeout", fmt.Errorf("cdr: insert: %w", context.DeadlineExceeded), false},
		{"cancelled", context.Canceled, false},
		{"refused connection", errRefused, false},
		{"unknown error", errors.New("cdr: insert: something odd"), false},
	}
	for _, c := range cases {
		if got := cdr.IsPoison(c.err); got != c.want {
			t.Errorf("%s: IsPoison(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
