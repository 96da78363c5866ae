package cdr_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
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

// The environment of the child process TestPipelineSIGKILL starts.
const (
	childEnv      = "SWITCHBOARD_CDR_PIPELINE_CHILD"
	childDSNEnv   = "SWITCHBOARD_CDR_PIPELINE_DSN"
	childSpoolEnv = "SWITCHBOARD_CDR_PIPELINE_SPOOL"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(pipelineChild())
	}
	os.Exit(m.Run())
}

// pipelineChild is a daemon under load that TestPipelineSIGKILL kills: a
// pipeline on the real store, which goes down for 100ms in every 250ms
// (so that the kill may land while writing to the store, spooling, or
// replaying), fed by four producers that print, one line per Put, the
// call ids each acknowledged Put covered.
func pipelineChild() int {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, os.Getenv(childDSNEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	store := cdrstore.NewStore(db)
	start := time.Now()
	down := func() bool { return time.Since(start)%(250*time.Millisecond) >= 150*time.Millisecond }
	w := &fakeWriter{
		InsertNewFunc: func(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error) {
			if down() {
				return nil, errRefused
			}
			return store.InsertNew(ctx, recs)
		},
		PutDeadLettersFunc: store.PutDeadLetters,
	}
	p, err := cdr.NewPipeline(w, nil, cdr.PipelineConfig{
		SpoolDir: os.Getenv(childSpoolEnv), BatchSize: 50,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cdr.SetRetry(p, time.Millisecond, 10*time.Millisecond)
	go p.Run(ctx) //nolint:errcheck // killed before it returns
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for g := range 4 {
		go func() {
			for i := 0; ; i++ {
				recs := make([]cdr.Record, 5)
				ids := make([]string, len(recs))
				for k := range recs {
					recs[k] = pipeRec(0)
					recs[k].CallID = fmt.Sprintf("g%d-%06d-%d", g, i, k)
					ids[k] = recs[k].CallID
				}
				if err := p.Put(ctx, recs...); err != nil {
					continue // a source keeps its records and retries
				}
				mu.Lock()
				fmt.Fprintln(out, strings.Join(ids, " "))
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	time.Sleep(30 * time.Second) // the parent kills it long before
	return 2
}

// A daemon killed with SIGKILL in the middle of a stream, while its store
// comes and goes: on restart nothing acknowledged is missing and nothing
// is stored twice.
func TestPipelineSIGKILL(t *testing.T) {
	for engine, dsn := range sqldbtest.DSNs(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db, err := sqldb.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			store := migrated(t, db)
			dir := t.TempDir()

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1", childDSNEnv+"="+dsn, childSpoolEnv+"="+dir)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var acked []string
			var killed atomic.Bool
			started := time.Now()
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				acked = append(acked, strings.Fields(sc.Text())...)
				// Past two outages, kill it at an arbitrary moment.
				if !killed.Load() && time.Since(started) > 600*time.Millisecond && len(acked) > 1000 {
					killed.Store(true)
					if err := cmd.Process.Kill(); err != nil {
						t.Fatal(err)
					}
				}
			}
			cmd.Wait() //nolint:errcheck // killed
			if !killed.Load() {
				t.Fatalf("the child ended by itself after acknowledging %d records:\n%s", len(acked), stderr.String())
			}

			p := startPipeline(t, store, cdr.PipelineConfig{SpoolDir: dir})
			waitFor(t, "the spool left is replayed", drained(p))
			stored := storedCallIDs(t, db) // fails on a duplicate
			for _, id := range acked {
				if _, ok := slices.BinarySearch(stored, id); !ok {
					t.Fatalf("%s was acknowledged but is not stored (%d acknowledged, %d stored)", id, len(acked), len(stored))
				}
			}
			// Besides the acknowledged records, only those of Puts in
			// flight at the kill may be stored; a torn spool line is the
			// only damage a kill can cause.
			if extra := len(stored) - len(acked); extra < 0 || extra > 4*5*2 {
				t.Errorf("%d stored for %d acknowledged", len(stored), len(acked))
			}
			for _, dl := range deadLetters(t, store) {
				if !strings.Contains(dl.Reason, "torn") {
					t.Errorf("dead letter after a kill: %+v", dl)
				}
			}
			t.Logf("%d acknowledged before the kill, %d stored after the restart (%d spool records replayed)",
				len(acked), len(stored), p.Stats().Written)
		})
	}
}
