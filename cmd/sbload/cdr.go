package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

type cdrFlags struct {
	calls, producers, perPut, rate, queryRows int
	steady                                    time.Duration
	postgres                                  string
	sqlite                                    bool
}

// defaultCDRCalls is the throughput run's length. PostgreSQL's ratio of
// pipeline to ceiling swung from 59% to 109% run to run at 200,000 calls
// (a few seconds each, dominated by checkpoints and autovacuum landing in
// one run or the other); 1,000,000 gave 84-87%. The run holds the calls
// in memory (about 1 GB at this default).
const defaultCDRCalls = 1_000_000

// runCDR pushes synthetic calls through the real pipeline into each engine
// and reports, side by side: the raw bulk-insert ceiling, the pipeline's
// end-to-end rate and its ratio to the ceiling, hang-up-to-queryable
// latency at a steady rate with the heap sampled throughout, and the
// newest-100-of-one-domain query time on a large table.
func runCDR(ctx context.Context, args []string, out io.Writer) error {
	var f cdrFlags
	fs := flag.NewFlagSet("sbload cdr", flag.ContinueOnError)
	fs.IntVar(&f.calls, "calls", defaultCDRCalls, "calls for the throughput run (the ceiling and the pipeline each write this many)")
	fs.IntVar(&f.producers, "producers", 64, "concurrent submitters (switch connections)")
	fs.IntVar(&f.perPut, "per-put", 100, "CDRs per Put call")
	fs.IntVar(&f.rate, "rate", 5000, "CDRs per second for the steady-rate latency run")
	fs.DurationVar(&f.steady, "steady", 20*time.Second, "length of the steady-rate run (the issue's memory check is 10m)")
	fs.IntVar(&f.queryRows, "query-rows", 0, "rows to load before timing the one-domain query (the issue's figure is 10000000); 0 skips it")
	fs.StringVar(&f.postgres, "postgres", os.Getenv("SWITCHBOARD_TEST_POSTGRES"), "PostgreSQL DSN to measure too (a scratch schema is created and dropped)")
	fs.BoolVar(&f.sqlite, "sqlite", true, "measure SQLite")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	var dsns []string
	if f.sqlite {
		dsns = append(dsns, "sqlite:"+filepath.Join(os.TempDir(), fmt.Sprintf("sbload-cdr-%d.db", time.Now().UnixNano())))
	}
	if f.postgres != "" {
		dsn, drop, err := scratchSchema(ctx, f.postgres)
		if err != nil {
			return err
		}
		defer drop()
		dsns = append(dsns, dsn)
	}
	for _, dsn := range dsns {
		if err := cdrOneEngine(ctx, f, dsn, tw); err != nil {
			return err
		}
		tw.Flush()
	}
	return nil
}

func openCDRDB(ctx context.Context, dsn string) (*sqldb.DB, func(), error) {
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		db.Close()
		if eng, path, _ := sqldb.ParseDSN(dsn); eng == sqldb.SQLite {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(path + suffix)
			}
		}
	}
	if err := cdrstore.Migrate(ctx, db); err != nil {
		cleanup()
		return nil, nil, err
	}
	return db, cleanup, nil
}

// synth makes n distinct synthetic call legs that ended around end.
type synth struct {
	seq atomic.Int64
	run string
}

func (s *synth) make(n int, end time.Time, r *rand.Rand) []cdr.Record {
	out := make([]cdr.Record, n)
	for i := range out {
		id := s.seq.Add(1)
		dom := r.IntN(1000)
		talk := r.IntN(600)
		start := end.Add(-time.Duration(talk+5) * time.Second)
		ans := start.Add(5 * time.Second)
		disp, answer := cdr.Answered, &ans
		if talk%7 == 0 {
			disp, answer, talk = cdr.NoAnswer, nil, 0
		}
		out[i] = cdr.Record{
			Switch: "load", CallID: s.run + "-" + strconv.FormatInt(id, 10), LinkedID: s.run + "-" + strconv.FormatInt(id, 10),
			Direction: cdr.DirectionOutbound, Domain: fmt.Sprintf("d%04d.load.example", dom), Account: strconv.Itoa(1000 + r.IntN(100)),
			Gateway: "carrier-1", CallerNumber: strconv.Itoa(1000 + r.IntN(100)), CallerName: "Load Test",
			Dialed: "0049301234" + strconv.Itoa(r.IntN(10000)), Destination: "carrier-1", Start: start, Answer: answer, End: end,
			Duration: talk + 5, Billsec: talk, Disposition: disp, Cause: 16, CauseText: "NORMAL_CLEARING", SIPStatus: 200, Codec: "PCMA",
		}
	}
	return out
}

func cdrOneEngine(ctx context.Context, f cdrFlags, dsn string, tw io.Writer) error {
	db, cleanup, err := openCDRDB(ctx, dsn)
	if err != nil {
		return err
	}
	defer cleanup()
	engine := db.Engine
	gen := &synth{run: strconv.FormatInt(time.Now().UnixNano(), 36)}
	r := rand.New(rand.NewPCG(1, 2))

	// 1. The raw ceiling: a plain bulk insert of the same kind of rows.
	ceilRecs := gen.make(f.calls, time.Now().UTC(), r)
	elapsed, err := cdrstore.RawCeiling(ctx, db, ceilRecs)
	if err != nil {
		return fmt.Errorf("raw ceiling: %w", err)
	}
	ceiling := float64(len(ceilRecs)) / elapsed.Seconds()
	fmt.Fprintf(tw, "%s\traw bulk insert ceiling\t%d rows\t%.0f rows/s\t\t\n", engine, len(ceilRecs), ceiling)

	// 2. End-to-end throughput through the pipeline.
	spool, err := os.MkdirTemp("", "sbload-spool-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(spool)
	store := cdrstore.NewStore(db)
	pipe, err := cdr.NewPipeline(store, cdr.NewFeed(), cdr.PipelineConfig{SpoolDir: spool, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pipe.Run(pctx) }()
	defer func() { stop(); <-done }()

	recs := gen.make(f.calls, time.Now().UTC(), r)
	start := time.Now()
	if err := produce(ctx, pipe, recs, f.producers, f.perPut); err != nil {
		return err
	}
	tput := float64(len(recs)) / time.Since(start).Seconds()
	fmt.Fprintf(tw, "%s\tpipeline end to end (%d producers, %d per Put)\t%d CDRs\t%.0f CDRs/s\t%.0f%% of ceiling\t\n",
		engine, f.producers, f.perPut, len(recs), tput, 100*tput/ceiling)

	// 3. Hang-up to queryable at a steady rate, heap sampled each second.
	lat, heapMin, heapMax, sent, err := steadyRun(ctx, pipe, gen, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "%s\thang-up to queryable at %d CDRs/s for %s\t%d CDRs\tp50 %s\tp99 %s\theap after warm-up %s..%s\t\n",
		engine, f.rate, f.steady, sent, pct(lat, 50), pct(lat, 99), mib(heapMin), mib(heapMax))

	// 4. One domain's newest 100 among many rows.
	if f.queryRows > 0 {
		if err := queryRun(ctx, store, gen, f.queryRows, engine, tw); err != nil {
			return err
		}
	}
	return nil
}

// produce submits recs through p from n goroutines, per CDRs a Put.
func produce(ctx context.Context, p *cdr.Pipeline, recs []cdr.Record, n, per int) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errc = make(chan error, n)
	)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(int64(per))) - per
				if i >= len(recs) {
					return
				}
				if err := p.Put(ctx, recs[i:min(i+per, len(recs))]...); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

func steadyRun(ctx context.Context, p *cdr.Pipeline, gen *synth, f cdrFlags) ([]time.Duration, uint64, uint64, int, error) {
	sub := p.Subscribe(1 << 16)
	defer sub.Close()
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for rec := range sub.C {
			d := time.Since(rec.End)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
	}()
	// Heap in use is sampled every second after a first GC, so what the
	// throughput run left behind does not count; the run's first minute is
	// warm-up, and the heap after it must stay flat.
	runtime.GC()
	var heapMin, heapMax uint64 = ^uint64(0), 0
	started := time.Now()
	sample := func() {
		if time.Since(started) < min(time.Minute, f.steady/3) {
			return
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heapMin, heapMax = min(heapMin, ms.HeapInuse), max(heapMax, ms.HeapInuse)
	}
	const tick = 10 * time.Millisecond
	perTick := max(1, f.rate*int(tick)/int(time.Second))
	r := rand.New(rand.NewPCG(3, 4))
	t := time.NewTicker(tick)
	defer t.Stop()
	sec := time.NewTicker(time.Second)
	defer sec.Stop()
	deadline := time.Now().Add(f.steady)
	sent := 0
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, 0, 0, 0, ctx.Err()
		case <-sec.C:
			sample()
		case now := <-t.C:
			recs := gen.make(perTick, now.UTC(), r) // hang-up is now
			sent += len(recs)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.Put(ctx, recs...); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}()
		}
	}
	wg.Wait()
	select {
	case err := <-errc:
		return nil, 0, 0, 0, err
	default:
	}
	// Every record has been committed once Put returned; give the feed a
	// moment to deliver the last ones.
	waitUntil := time.Now().Add(5 * time.Second)
	for time.Now().Before(waitUntil) {
		mu.Lock()
		n := len(lat)
		mu.Unlock()
		if n >= sent {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	sub.Close()
	<-collected
	sample()
	slices.Sort(lat)
	return lat, heapMin, heapMax, sent, nil
}

func queryRun(ctx context.Context, store *cdrstore.Store, gen *synth, rows int, engine sqldb.Engine, tw io.Writer) error {
	r := rand.New(rand.NewPCG(5, 6))
	start := time.Now()
	base := time.Now().UTC().Add(-30 * 24 * time.Hour)
	for loaded := 0; loaded < rows; {
		n := min(10000, rows-loaded)
		// Spread over 30 days so PostgreSQL has 30 partitions.
		end := base.Add(time.Duration(loaded) * 30 * 24 * time.Hour / time.Duration(rows))
		if _, err := store.InsertNew(ctx, gen.make(n, end, r)); err != nil {
			return err
		}
		loaded += n
	}
	load := time.Since(start)
	var lat []time.Duration
	for i := 0; i < 200; i++ {
		dom := fmt.Sprintf("d%04d.load.example", r.IntN(1000))
		t0 := time.Now()
		recs, _, err := store.Query(ctx, cdr.Filter{Domain: dom, Limit: 100})
		if err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
		if len(recs) != 100 {
			return fmt.Errorf("query returned %d rows, want 100", len(recs))
		}
	}
	slices.Sort(lat)
	fmt.Fprintf(tw, "%s\tone domain's newest 100 of %d rows (loaded in %s)\t200 queries\tp50 %s\tp99 %s\t\n",
		engine, rows, load.Round(time.Second), pct(lat, 50), pct(lat, 99))
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, len(d)*p/100)].Round(time.Microsecond)
}

func mib(b uint64) string { return fmt.Sprintf("%.0fMiB", float64(b)/(1<<20)) }
