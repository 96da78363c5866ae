package authz

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

func benchAuthorizer(b *testing.B) *Authorizer {
	f := &fakeSources{prepaid: true, balance: money.MustParse("1000000"), tariff: testTariff(b),
		tenant: Limits{Concurrent: 1 << 20, CallsPerMinute: 1 << 20, CostPerDay: money.MustParse("1000000")},
		user:   Limits{Concurrent: 1 << 20, MaxCallSeconds: 3600}}
	return New(f, f, f, f, f, Config{})
}

// BenchmarkAuthorize is one Authorize and its Release, in process, with
// every limit set (the fake sources answer from memory).
func BenchmarkAuthorize(b *testing.B) {
	a := benchAuthorizer(b)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint(n.Add(1))
			c := call(id)
			c.UserID = n.Load() % 100
			if d, err := a.Authorize(context.Background(), c); err != nil || !d.Allowed {
				b.Fatal(d, err)
			}
			a.Release("fs1", id, 30) //nolint:errcheck
		}
	})
}

// BenchmarkHTTP1000rps sends 1,000 requests a second (open loop: each
// at its scheduled time, whatever the previous ones are doing) to the
// authorization endpoint and, side by side, to a handler that answers
// "allow:0" without deciding anything; each iteration is one second of
// load. It reports the latency percentiles seen by the client:
//
//	go test ./provisioning/authz -run '^$' -bench HTTP1000rps -benchtime 5x
func BenchmarkHTTP1000rps(b *testing.B) {
	a := benchAuthorizer(b)
	handlers := []struct {
		name string
		h    http.Handler
	}{
		{"noop", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answer(w, 200, "allow:0") })},
		{"authz", Handler{A: a}},
	}
	for _, hc := range handlers {
		b.Run(hc.name, func(b *testing.B) {
			srv := httptest.NewServer(hc.h)
			defer srv.Close()
			p50, p99, pmax := openLoop(b, srv.URL, 1, a)
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
			b.ReportMetric(pmax, "max-ms")
		})
	}
}

// openLoop sends 1,000 authorization requests a second for b.N seconds
// (each at its scheduled time, whatever the previous ones are doing),
// releases each call, and returns the latency percentiles (ms) the
// client saw.
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
				a.ReleaseBooked("fs1", fmt.Sprint(id)) //nolint:errcheck
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
