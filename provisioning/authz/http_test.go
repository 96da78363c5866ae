package authz

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
)

func TestHandler(t *testing.T) {
	f := &fakeSources{prepaid: true, balance: money.MustParse("1.00"), tenant: Limits{Concurrent: 1}}
	a, _ := newTest(t, f)
	srv := httptest.NewServer(Handler{A: a})
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSuffix(string(b), "\n") // only http.NotFound ends with one
	}
	tests := []struct {
		path string
		code int
		body string
	}{
		{"/authorize?tenant=1&user=7&dest=4930123&switch=ast1&call=c1", 200, "allow:100"},
		{"/authorize?tenant=1&user=7&dest=4930123&switch=ast1&call=c1", 200, "allow:100"}, // the same call asked again
		{"/authorize?tenant=1&user=7&dest=4930123&switch=ast1&call=c2", 200, "deny:concurrent_limit"},
		{"/authorize?tenant=1&dest=3312&switch=ast1&call=c3", 200, "deny:no_rate"},
		{"/authorize?tenant=x&dest=4930123&switch=ast1&call=c4", 400, "error:tenant is not a number"},
		{"/authorize?tenant=1&user=y&dest=4930123&switch=ast1&call=c4", 400, "error:user is not a number"},
		{"/authorize?tenant=1&dest=4930123&switch=ast1", 400, "error:authz: invalid call: call_id is empty"},
		{"/release?switch=ast1&call=c1&billsec=x", 400, "error:billsec is not a number of seconds"},
		{"/release?switch=ast1&call=c1&billsec=10", 204, ""},
		{"/release?switch=ast1&call=c1", 204, ""}, // twice: harmless
		{"/authorize?tenant=1&user=7&dest=4930123&switch=ast1&call=c5", 200, "allow:90"},
		{"/nothing", 404, "404 page not found"},
	}
	for _, tc := range tests {
		code, body := get(tc.path)
		if code != tc.code || body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
	f.mu.Lock()
	f.err = context.DeadlineExceeded
	f.mu.Unlock()
	if code, body := get("/authorize?tenant=1&dest=4930123&switch=ast1&call=c6"); code != 503 || !strings.HasPrefix(body, "error:") {
		t.Errorf("source down: %d %q", code, body)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(a.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetValue() + "}"
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{"switchboard_authz_refused_total{calls_per_minute}": 0, "switchboard_authz_refused_total{concurrent_limit}": 1,
		"switchboard_authz_refused_total{cost_per_day}": 0, "switchboard_authz_refused_total{cost_per_hour}": 0, "switchboard_authz_refused_total{cost_per_month}": 0,
		"switchboard_authz_refused_total{error}": 1, "switchboard_authz_refused_total{insufficient_funds}": 0, "switchboard_authz_refused_total{no_plan}": 0,
		"switchboard_authz_refused_total{no_rate}": 1, "switchboard_authz_refused_total{not_whitelisted}": 0, "switchboard_authz_reserved_calls": 1,
		"switchboard_authz_journal_failures_total": 0, "switchboard_authz_journal_pending": 0}
	if !maps.Equal(got, want) {
		t.Errorf("metrics %v\nwant %v", got, want)
	}
}

type fakeLimiter struct {
	t, u  *provisioning.Limit
	err   error
	calls int
}

func (f *fakeLimiter) CallLimits(context.Context, int64, int64) (*provisioning.Limit, *provisioning.Limit, error) {
	f.calls++
	return f.t, f.u, f.err
}

// ProvisioningLimits converts and keeps the limits for LimitsTTL; an
// error is not kept.
func TestProvisioningLimits(t *testing.T) {
	f := &fakeLimiter{t: &provisioning.Limit{ConcurrentCalls: 5, CallsPerMinute: 6, CostPerHour: 7, CostPerDay: 8, CostPerMonth: 9, MaxCallSeconds: 10}}
	src := ProvisioningLimits(f)
	clk := &clock{t: time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)}
	src.(*provLimits).now = clk.Now
	ctx := context.Background()
	tl, ul, err := src.Limits(ctx, 1, 2)
	if err != nil || tl != (Limits{5, 6, 7, 8, 9, 10}) || ul != (Limits{}) {
		t.Fatalf("%+v %+v %v", tl, ul, err)
	}
	f.t.ConcurrentCalls = 1
	clk.Add(LimitsTTL - time.Millisecond)
	if tl, _, _ := src.Limits(ctx, 1, 2); tl.Concurrent != 5 || f.calls != 1 {
		t.Fatalf("within the TTL: %+v after %d reads", tl, f.calls)
	}
	clk.Add(time.Millisecond)
	if tl, _, _ := src.Limits(ctx, 1, 2); tl.Concurrent != 1 || f.calls != 2 {
		t.Fatalf("after the TTL: %+v after %d reads", tl, f.calls)
	}
	if _, _, err := src.Limits(ctx, 1, 3); err != nil || f.calls != 3 {
		t.Fatalf("another user: %v after %d reads", err, f.calls)
	}
	f.err = errors.New("db down")
	clk.Add(LimitsTTL)
	for range 2 {
		if _, _, err := src.Limits(ctx, 1, 2); err == nil {
			t.Fatal("error not returned")
		}
	}
	if f.calls != 5 {
		t.Fatalf("errors were kept: %d reads", f.calls)
	}
}
