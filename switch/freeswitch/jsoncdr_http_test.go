package freeswitch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// TestJSONCDRGarbageFlood posts 100 bodies of garbage under the size cap,
// as a sender with the node's credentials could: every one is counted, only
// the node's budget of them is stored as dead letters, the rest are
// answered 429 with Retry-After and stored nowhere, the budget refills with
// time, and a real record is never rate limited.
func TestJSONCDRGarbageFlood(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	reg := prometheus.NewPedanticRegistry()
	a, err := New(Config{Name: "fs1", Addr: "127.0.0.1:1", Password: "x", Now: clock, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.StreamCDRs(ctx, sink) })
	defer func() { cancel(); wg.Wait() }()
	h := a.JSONCDRHandler(sink)
	post := func(b []byte) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/freeswitch/fs1/cdr", bytes.NewReader(b)))
		return w
	}
	garbage := func(i int) []byte { // 64 KiB, not JSON
		return append([]byte(fmt.Sprintf("garbage %d ", i)), bytes.Repeat([]byte{'x'}, 64<<10)...)
	}

	codes := map[int]int{}
	for i := range 100 {
		w := post(garbage(i))
		codes[w.Code]++
		if w.Code == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 || s > 60 {
				t.Fatalf("429 with Retry-After %q, want 1..60 seconds", w.Header().Get("Retry-After"))
			}
		}
	}
	const budget = 10 // the default DeadLettersPerMinute
	if codes[http.StatusOK] != budget || codes[http.StatusTooManyRequests] != 100-budget {
		t.Errorf("answers %v, want %d × 200 and %d × 429", codes, budget, 100-budget)
	}
	if n := len(sink.dead); n != budget {
		t.Errorf("%d dead letters stored, want %d", n, budget)
	}
	counts := scrapeOutcomes(t, reg, "switchboard_freeswitch_json_cdr_malformed_total")
	if got := counts[outcomeDeadLetter] + counts[outcomeRateLimited] + counts[outcomeNotStored]; got != 100 || len(counts) != 3 {
		t.Errorf("switchboard_freeswitch_json_cdr_malformed_total %v sums to %v, want 100 over the 3 outcomes", counts, got)
	}
	if got := counts[outcomeRateLimited]; got != 100-budget {
		t.Errorf("rate_limited = %v, want %d", got, 100-budget)
	}

	// A real record is not limited.
	if w := post(esltest.Recorded("call-a-1001-to-1002-a-leg.json")); w.Code != http.StatusOK {
		t.Errorf("a real record during the flood: %d, want 200", w.Code)
	}
	// Half a minute refills half the budget.
	advance(30 * time.Second)
	stored := 0
	for i := range 10 {
		if post(garbage(100+i)).Code == http.StatusOK {
			stored++
		}
	}
	if stored != budget/2 {
		t.Errorf("%d dead letters stored 30 s later, want %d", stored, budget/2)
	}
}

// scrapeOutcomes reads the counter family name{switch="fs1"} from reg,
// by outcome.
func scrapeOutcomes(t *testing.T, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["switch"] != "fs1" {
				t.Errorf("series labelled %v, want switch=fs1", labels)
			}
			out[labels["outcome"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestTokenBucket(t *testing.T) {
	now := time.Unix(0, 0)
	b := newTokenBucket(6, func() time.Time { return now })
	for i := range 6 {
		if ok, _ := b.take(); !ok {
			t.Fatalf("take %d refused within the burst", i)
		}
	}
	ok, wait := b.take()
	if ok || wait != 10*time.Second {
		t.Fatalf("after the burst: %v, retry after %v; want refused, 10s", ok, wait)
	}
	now = now.Add(10 * time.Second)
	if ok, _ := b.take(); !ok {
		t.Fatal("refused after a token's refill time")
	}
	now = now.Add(time.Hour)
	n := 0
	for ok, _ := b.take(); ok; ok, _ = b.take() {
		n++
	}
	if n != 6 {
		t.Errorf("%d tokens after an hour, want the burst of 6", n)
	}
}

// TestJSONCDRRetryNotQueuedTwice: while the sink refuses, FreeSWITCH's
// retries of a record wait for the copy already queued instead of queueing
// it again; once the sink takes it, the next POST of the same leg is
// answered 200 at once, and the wait list forgets the legs it no longer
// needs.
func TestJSONCDRRetryNotQueuedTwice(t *testing.T) {
	a, sink, h := startCDREndpoint(t, Config{CDRAckTimeout: 50 * time.Millisecond})
	post := func(name string) int { return postCDR(h, "application/json", esltest.Recorded(name)) }
	sink.setFailing(true)
	for range 3 {
		if code := post("call-a-1001-to-1002-a-leg.json"); code != http.StatusServiceUnavailable {
			t.Fatalf("sink down: %d, want 503", code)
		}
	}
	if n := a.Pending(); n != 1 {
		t.Errorf("%d records queued after 3 tries of one leg, want 1", n)
	}
	sink.setFailing(false)
	switchtest.WaitFor(t, "the queued record in the sink", func() bool { return sink.count() == 1 })
	if code := post("call-a-1001-to-1002-b-leg.json"); code != http.StatusOK {
		t.Errorf("another leg: %d, want 200", code)
	}
	if code := post("call-a-1001-to-1002-a-leg.json"); code != http.StatusOK {
		t.Errorf("a retry after the record was taken: %d, want 200", code)
	}
	a.queuedMu.Lock()
	left := len(a.queued)
	a.queuedMu.Unlock()
	if left > 1 {
		t.Errorf("%d legs still waited for, want at most the last one", left)
	}
}

// startCDREndpoint runs an adapter of node fs1 (cfg's name, address,
// password and logger filled in; no node behind it) streaming its CDRs to
// a recordingSink until the test ends, and returns its json_cdr handler.
func startCDREndpoint(t *testing.T, cfg Config) (*Adapter, *recordingSink, http.Handler) {
	t.Helper()
	cfg.Name, cfg.Addr, cfg.Password = "fs1", "127.0.0.1:1", "x"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.StreamCDRs(ctx, sink) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return a, sink, a.JSONCDRHandler(sink)
}

// postCDR posts body to h as mod_json_cdr does and returns the status.
func postCDR(h http.Handler, contentType string, body []byte) int {
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/freeswitch/fs1/cdr", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	h.ServeHTTP(w, req)
	return w.Code
}
