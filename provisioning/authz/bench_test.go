package authz

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

func benchAuthorizer(b *testing.B, journal ReservationStore) (*Authorizer, func()) {
	f := &fakeSources{prepaid: true, balance: money.MustParse("1000000"), tariff: testTariff(b),
		tenant: Limits{Concurrent: 1 << 20, CallsPerMinute: 1 << 24, CostPerDay: money.MustParse("1000000")},
		user:   Limits{Concurrent: 1 << 20, MaxCallSeconds: 3600}}
	a := New(f, f, f, f, f, Config{Journal: journal})
	if journal == nil {
		return a, func() {}
	}
	return a, runJournal(b, a)
}

// benchJournal is a CDR store on a SQLite file, the daemon's journal on
// a single machine.
func benchJournal(b *testing.B) *cdrstore.Store {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := cdrstore.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	return cdrstore.NewStore(db)
}

// runJournal runs a's journal writer for the benchmark; the function it
// returns stops it (the last write done) and fails the benchmark if a
// write failed.
func runJournal(b *testing.B, a *Authorizer) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.RunJournal(ctx) }()
	return func() {
		cancel()
		<-done
		if n := a.JournalFailures(); n > 0 {
			b.Errorf("%d journal writes failed", n)
		}
	}
}

// BenchmarkAuthorize is one Authorize and one Release (of the call
// authorized 1,000 calls before), in process, with every limit set (the
// fake sources answer from memory), without and with the reservation
// journal (written behind to SQLite every 50 ms while the benchmark
// runs: every call's row is written, then its release; the writer shares
// the CPUs, so with two cores its work shows in ns/op), and with a
// journal that discards the rows (the cost in memory alone).
func BenchmarkAuthorize(b *testing.B) {
	for _, variant := range []string{"memory", "journal-discard", "journal"} {
		b.Run(variant, func(b *testing.B) {
			var j ReservationStore
			switch variant {
			case "journal":
				j = benchJournal(b)
			case "journal-discard":
				// The journal's own cost, without a database: the rows
				// are built, kept, handed over and dropped.
				j = discardJournal{}
			}
			a, stop := benchAuthorizer(b, j)
			defer stop()
			var n atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine keeps its last 1,000 calls up: the call
				// released is the one authorized 1,000 calls ago, so
				// that the journal writes each row and then its end.
				var ring [1000]string
				for i := 0; pb.Next(); i++ {
					id := fmt.Sprint(n.Add(1))
					c := call(id)
					c.UserID = n.Load() % 100
					if d, err := a.Authorize(context.Background(), c); err != nil || !d.Allowed {
						b.Fatal(d, err)
					}
					if old := ring[i%len(ring)]; old != "" {
						a.Release("fs1", old, 30) //nolint:errcheck
					}
					ring[i%len(ring)] = id
				}
			})
			b.StopTimer()
			if err := a.Flush(context.Background()); err != nil { // the backlog, untimed
				b.Fatal(err)
			}
		})
	}
}

// discardJournal is a ReservationStore that keeps nothing.
type discardJournal struct{}

func (discardJournal) SaveReservations(context.Context, []cdrstore.Reservation, []cdrstore.ReservationKey) error {
	return nil
}
func (discardJournal) Reservations(context.Context, []string) ([]cdrstore.Reservation, error) {
	return nil, nil
}
func (discardJournal) PruneReservations(context.Context, time.Time) (int64, error) { return 0, nil }

// BenchmarkHTTP1000rps sends 1,000 requests a second (open loop: each
// at its scheduled time, whatever the previous ones are doing) to the
// authorization endpoint and, side by side, to a handler that answers
// "allow:0" without deciding anything; each iteration is one second of
// load. Each call is released a second after its answer, so that about
// 1,000 calls are live and, with the journal ("authz-journal": written
// behind to SQLite every 50 ms), every call's row is written and then
// deleted, as calls longer than the journal's period are. It reports the
// latency percentiles seen by the client:
//
//	go test ./provisioning/authz -run '^$' -bench HTTP1000rps -benchtime 5x
func BenchmarkHTTP1000rps(b *testing.B) {
	a, stop := benchAuthorizer(b, nil)
	defer stop()
	aj, stopj := benchAuthorizer(b, benchJournal(b))
	defer stopj()
	handlers := []struct {
		name string
		h    http.Handler
		a    *Authorizer
	}{
		{"noop", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answer(w, 200, "allow:0") }), a},
		{"authz", Handler{A: a}, a},
		{"authz-journal", Handler{A: aj}, aj},
	}
	for _, hc := range handlers {
		b.Run(hc.name, func(b *testing.B) {
			srv := httptest.NewServer(hc.h)
			defer srv.Close()
			p50, p99, pmax := openLoop(b, srv.URL, 1, hc.a)
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
			b.ReportMetric(pmax, "max-ms")
		})
	}
}

// openLoop sends 1,000 authorization requests a second for b.N seconds
// (each at its scheduled time, whatever the previous ones are doing),
// releases each call a second after its answer (callHold), and returns
// the latency percentiles (ms) the client saw.
// callHold is how long openLoop's calls last.
const callHold = time.Second

func openLoop(b *testing.B, base string, tenant int64, a *Authorizer) (p50, p99, pmax float64) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var mu sync.Mutex
	var lat []time.Duration
	var seq atomic.Int64
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		start := time.Now()
		for i := range 1000 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Millisecond)))
			wg.Go(func() {
				id := seq.Add(1)
				url := fmt.Sprintf("%s/authorize?tenant=%d&user=%d&dest=4930123&switch=fs1&call=%d", base, tenant, id%100, id)
				t0 := time.Now()
				res, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				res.Body.Close()
				d := time.Since(t0)
				time.AfterFunc(callHold, func() { a.ReleaseBooked("fs1", fmt.Sprint(id)) }) //nolint:errcheck
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000 }
	return pct(0.5), pct(0.99), pct(1)
}
