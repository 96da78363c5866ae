package freeswitch

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
)

// fakeOrderer keeps GatewayOrderer's contract over a price list per
// number: the gateways priced, cheapest first (the listed order between
// equal prices), then those without a supplier plan in the listed
// order; a gateway without a price for the number is left out.
type fakeOrderer struct {
	mu sync.Mutex
	// prices: number → gateway id → price, "-" for no supplier plan
	prices map[string]map[int64]string
	err    error
	block  bool // wait for the context to end
	asked  []string
	ids    [][]int64
}

func (f *fakeOrderer) GatewaysByCost(ctx context.Context, ids []int64, number string, _ time.Time) ([]provisioning.GatewayCost, error) {
	f.mu.Lock()
	f.asked, f.ids = append(f.asked, number), append(f.ids, slices.Clone(ids))
	prices, err, block := f.prices[number], f.err, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	var priced, unplanned []provisioning.GatewayCost
	for _, id := range ids {
		p, ok := prices[id]
		switch {
		case !ok:
		case p == "-":
			unplanned = append(unplanned, provisioning.GatewayCost{GatewayID: id})
		default:
			a := money.MustParse(p)
			priced = append(priced, provisioning.GatewayCost{GatewayID: id, Cost: &a, Currency: "EUR"})
		}
	}
	slices.SortStableFunc(priced, func(a, b provisioning.GatewayCost) int { return cmp.Compare(*a.Cost, *b.Cost) })
	return append(priced, unplanned...), nil
}

func (f *fakeOrderer) set(prices map[string]map[int64]string, err error, block bool) {
	f.mu.Lock()
	f.prices, f.err, f.block, f.asked, f.ids = prices, err, block, nil, nil
	f.mu.Unlock()
}

// liveDialplan is the model run against handler h, every hunt asked as
// mod_xml_curl asks it (routingDialplan and the DID answers included):
// the channel's variables as variable_*, its uuid, its answer state.
func liveDialplan(t *testing.T, h http.Handler) *simDialplan {
	return &simDialplan{contexts: map[string][]simExt{}, fetch: func(c *simCall, ctx, num string) ([]simExt, bool) {
		state := "ringing"
		if c.answered {
			state = "answered"
		}
		form := url.Values{"section": {"dialplan"}, "Hunt-Context": {ctx}, "Hunt-Destination-Number": {num}, "Caller-Context": {ctx},
			"Caller-Destination-Number": {num}, "Caller-Caller-ID-Number": {c.caller}, "Unique-ID": {c.vars["uuid"]}, "Answer-State": {state}}
		for k, v := range c.vars {
			form.Set("variable_"+k, v)
		}
		w := askXMLCurl(h, form)
		if w.Code != http.StatusOK {
			t.Fatalf("%s in %s: %d %s", num, ctx, w.Code, w.Body)
		}
		if w.Body.String() == xmlNotFound {
			return nil, false
		}
		dp, err := parseDialplan(w.Body.Bytes())
		if err != nil {
			t.Fatalf("%s in %s: %v\n%s", num, ctx, err, w.Body)
		}
		exts, ok := dp.contexts[ctx]
		return exts, ok
	}}
}

// lcrHandler is the fixture's handler (the node's settings of
// testRenderOptions) with orderer o and, when a is not
// nil, authorizer a; its log goes to logs.
func lcrHandler(f *routingFixture, o GatewayOrderer, a CallAuthorizer, reg prometheus.Registerer, logs *bytes.Buffer) *xmlCurlHandler {
	o2 := testRenderOptions // the fixture node's settings, as the fallback file's
	cfg := XMLCurlConfig{Directory: ServiceDirectory(f.svc), Router: ServiceRouter(f.svc), Orderer: o, Node: "fs1", Registerer: reg,
		GatewayProfile: o2.Profile, UserContext: o2.Else, SoundsDir: o2.SoundsDir, FaxDir: o2.FaxDir, RecordingsDir: o2.RecordingsDir,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if a != nil {
		cfg.Authorizer = a
	}
	h := NewXMLCurlHandler(cfg).(*xmlCurlHandler)
	if h.lcr != nil {
		h.lcr.timeout = 100 * time.Millisecond
	}
	return h
}

// TestXMLCurlLeastCost runs calls through the live answers (the model
// asking the handler for every hunt) with a fake orderer: a number of
// the least-cost route goes out through the route's gateways in cost
// order (failing over between them on congestion), as dialled or as a
// destination's sb-o label; a number nothing rates is refused; an
// orderer that fails or is too slow gives the listed order. The same
// with authorization on, which is asked for the number as it leaves
// (not when the number is refused for want of a rate). Routes in listed
// order and emergency routes never ask the orderer.
func TestXMLCurlLeastCost(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		tctx := RoutingContext(f.tenant.ID)
		a, b, c := f.gwA.ID, f.gwB.ID, f.gwC.ID
		const uk, fr = "+442071234567", "+3312345678"
		did := f.dids[len(f.dids)-1] // → the external number 011442071234567
		tests := []struct {
			name     string
			ctx, num string
			prices   map[string]map[int64]string
			err      error
			block    bool
			want     string
			lcr      string // sb_lcr after the call ("": unset)
			asked    []string
		}{
			{name: "cheapest first", ctx: tctx, num: "011442071234567", prices: map[string]map[int64]string{uk: {a: "0.020", b: "0.010", c: "0.015"}},
				want: "dial " + uk + " via carrier-b>carrier-c>carrier-a\n", lcr: "cost:carrier-b,carrier-c,carrier-a", asked: []string{uk}},
			{name: "another number, another order", ctx: tctx, num: "0113312345678", prices: map[string]map[int64]string{fr: {a: "0.005", b: "0.010", c: "-"}},
				want: "dial " + fr + " via carrier-a>carrier-b>carrier-c\n", lcr: "cost:carrier-a,carrier-b,carrier-c", asked: []string{fr}},
			{name: "equal prices keep the listed order", ctx: tctx, num: "011442071234567", prices: map[string]map[int64]string{uk: {a: "0.010", b: "0.010", c: "0.005"}},
				want: "dial " + uk + " via carrier-c>carrier-a>carrier-b\n", lcr: "cost:carrier-c,carrier-a,carrier-b", asked: []string{uk}},
			{name: "gateways without a plan after the priced", ctx: tctx, num: "011442071234567", prices: map[string]map[int64]string{uk: {a: "-", b: "0.020", c: "-"}},
				want: "dial " + uk + " via carrier-b>carrier-a>carrier-c\n", lcr: "cost:carrier-b,carrier-a,carrier-c", asked: []string{uk}},
			{name: "one supplier rates it", ctx: tctx, num: "011442071234567", prices: map[string]map[int64]string{uk: {b: "0.020"}},
				want: "dial " + uk + " via carrier-b\n", lcr: "cost:carrier-b", asked: []string{uk}},
			{name: "nobody rates it: refused", ctx: tctx, num: "011442071234567", prices: map[string]map[int64]string{fr: {a: "0.005"}},
				want: "refuse\n", lcr: "unrated", asked: []string{uk}},
			{name: "orderer fails: listed order", ctx: tctx, num: "011442071234567", err: errors.New("database down"),
				want: "dial " + uk + " via carrier-a>carrier-b>carrier-c\n", lcr: "listed:carrier-a,carrier-b,carrier-c", asked: []string{uk}},
			{name: "orderer too slow: listed order", ctx: tctx, num: "011442071234567", block: true,
				want: "dial " + uk + " via carrier-a>carrier-b>carrier-c\n", lcr: "listed:carrier-a,carrier-b,carrier-c", asked: []string{uk}},
			{name: "a DID's destination (sb-o label)", ctx: "public", num: did, prices: map[string]map[int64]string{uk: {a: "0.020", b: "0.010", c: "0.015"}},
				want: "dial " + uk + " via carrier-b>carrier-c>carrier-a\n", lcr: "cost:carrier-b,carrier-c,carrier-a", asked: []string{uk}},
			{name: "a DID's destination nobody rates", ctx: "public", num: did, prices: nil,
				want: "refuse\n", lcr: "unrated", asked: []string{uk}},
			{name: "listed route", ctx: tctx, num: "15145550123", want: "dial +15145550123 via carrier-a>carrier-b\n"},
			{name: "emergency route", ctx: tctx, num: "911", want: "dial 911 via carrier-b\n"},
			{name: "blocked route", ctx: tctx, num: "19005550123", want: "refuse\n"},
		}
		fo := &fakeOrderer{}
		fa := &fakeAuthorizer{d: authz.Decision{Allowed: true, MaxSeconds: 60}}
		var logs bytes.Buffer
		for _, withAuthz := range []bool{false, true} {
			var az CallAuthorizer
			name := "no authorization"
			if withAuthz {
				az, name = fa, "authorization"
			}
			h := lcrHandler(f, fo, az, nil, &logs)
			dp := liveDialplan(t, h)
			for _, tc := range tests {
				t.Run(name+"/"+tc.name, func(t *testing.T) {
					fo.set(tc.prices, tc.err, tc.block)
					fa.mu.Lock()
					fa.calls = nil
					fa.mu.Unlock()
					call := &simCall{t: t, dp: dp, vars: map[string]string{"uuid": "0a1b2c3d-0000-4000-8000-000000000002"}, caller: "201", at: time.Now()}
					start := time.Now()
					call.exec(tc.ctx, tc.num)
					if got := call.out.String(); got != tc.want {
						t.Errorf("got\n%swant\n%s", got, tc.want)
					}
					if call.vars["sb_lcr"] != tc.lcr {
						t.Errorf("sb_lcr %q, want %q", call.vars["sb_lcr"], tc.lcr)
					}
					if !slices.Equal(fo.asked, tc.asked) {
						t.Errorf("orderer asked for %v, want %v", fo.asked, tc.asked)
					}
					for _, ids := range fo.ids {
						if !slices.Equal(ids, f.intl.GatewayIDs) {
							t.Errorf("orderer asked about gateways %v, want the route's %v", ids, f.intl.GatewayIDs)
						}
					}
					if tc.block && time.Since(start) > time.Second {
						t.Errorf("a blocked orderer held the answer %v", time.Since(start))
					}
					// authorization: asked for the number as it leaves when
					// the call can go out; a refused number is not
					want := 0
					if withAuthz && strings.HasPrefix(tc.want, "dial +") {
						want = 1
					}
					fa.mu.Lock()
					calls := fa.calls
					fa.mu.Unlock()
					if len(calls) != want {
						t.Fatalf("authorizer asked %d times (%+v), want %d", len(calls), calls, want)
					}
					if want == 1 && calls[0].Destination != strings.Fields(tc.want)[1] {
						t.Errorf("authorized %q, want %q", calls[0].Destination, strings.Fields(tc.want)[1])
					}
					if got := call.vars["sb_authz"]; withAuthz && want == 1 && got != "allow:60" || (!withAuthz || want == 0) && got != "" {
						t.Errorf("sb_authz %q", got)
					}
				})
			}
		}
	})
}

// TestXMLCurlLeastCostFailover: the cheapest gateway congested (503 in
// the model) tries the next in cost order through the failover labels,
// which the answers of the labels themselves carry; an answer ends the
// call with the authorized limit from that gateway's answer.
func TestXMLCurlLeastCostFailover(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		fo := &fakeOrderer{prices: map[string]map[int64]string{"+442071234567": {f.gwA.ID: "0.02", f.gwB.ID: "0.01", f.gwC.ID: "0.03"}}}
		var logs bytes.Buffer
		h := lcrHandler(f, fo, &fakeAuthorizer{d: authz.Decision{Allowed: true, MaxSeconds: 90}}, nil, &logs)
		// the model's gateways answer 503 unless gatewayAnswers: the
		// cheapest is tried, then the next in cost order
		call := &simCall{t: t, dp: liveDialplan(t, h), vars: map[string]string{"uuid": "u-1"}, caller: "201", at: time.Now()}
		call.exec(RoutingContext(f.tenant.ID), "011442071234567")
		if got, want := call.out.String(), "dial +442071234567 via carrier-b>carrier-a>carrier-c\n"; got != want {
			t.Errorf("all congested: got %swant %s", got, want)
		}
		call = &simCall{t: t, dp: liveDialplan(t, h), vars: map[string]string{"uuid": "u-2"}, caller: "201", at: time.Now(), gatewayAnswers: true}
		call.exec(RoutingContext(f.tenant.ID), "011442071234567")
		if got, want := call.out.String(), "dial +442071234567 via carrier-b\nanswered, limit 90s\n"; got != want {
			t.Errorf("the cheapest answers: got %swant %s", got, want)
		}
	})
}

// TestXMLCurlLeastCostGolden compares the answer to a phone dialling the
// least-cost route, authorized, with testdata/routing/lcr-answer.xml
// (go test -update rewrites it): the authorization, the phone's caller
// ID, the route in cost order (the failover labels are the rendered
// context's).
func TestXMLCurlLeastCostGolden(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		fo := &fakeOrderer{prices: map[string]map[int64]string{"+442071234567": {f.gwA.ID: "0.02", f.gwB.ID: "0.01", f.gwC.ID: "0.015"}}}
		var logs bytes.Buffer
		h := lcrHandler(f, fo, &fakeAuthorizer{d: authz.Decision{Allowed: true, MaxSeconds: 42}}, nil, &logs)
		w := askXMLCurl(h, url.Values{"section": {"dialplan"}, "Hunt-Context": {RoutingContext(f.tenant.ID)}, "Hunt-Destination-Number": {"011442071234567"},
			"Caller-Destination-Number": {"011442071234567"}, "Unique-ID": {"uuid-1"}, "variable_user_name": {"203"}, "variable_domain_name": {"acme.example"}})
		checkGolden(t, filepath.Join("testdata", "routing", "lcr-answer.xml"), w.Body.Bytes(), *update && db.Engine == sqldb.SQLite)
	})
}

// TestLeastCostFailureLoggedOnce: while the orderer fails, calls go out
// in the listed order with one warning for the outage, not one per call,
// and one line when it works again; the lookups are counted by outcome.
func TestLeastCostFailureLoggedOnce(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		fo := &fakeOrderer{}
		reg := prometheus.NewRegistry()
		var logs bytes.Buffer
		h := lcrHandler(f, fo, nil, reg, &logs)
		call := func(prices map[string]map[int64]string, err error) string {
			fo.set(prices, err, false)
			c := &simCall{t: t, dp: liveDialplan(t, h), vars: map[string]string{"uuid": "u"}, caller: "201", at: time.Now()}
			c.exec(RoutingContext(f.tenant.ID), "011442071234567")
			return c.out.String()
		}
		down := errors.New("database down")
		priced := map[string]map[int64]string{"+442071234567": {f.gwC.ID: "0.01"}}
		for i, step := range []struct {
			prices map[string]map[int64]string
			err    error
			want   string
		}{
			{nil, down, "via carrier-a>carrier-b>carrier-c"},
			{nil, down, "via carrier-a>carrier-b>carrier-c"},
			{nil, down, "via carrier-a>carrier-b>carrier-c"},
			{priced, nil, "via carrier-c\n"},
			{nil, nil, "refuse"},
			{nil, down, "via carrier-a>carrier-b>carrier-c"},
		} {
			if got := call(step.prices, step.err); !strings.Contains(got, step.want) {
				t.Errorf("call %d: %s, want %s", i, got, step.want)
			}
		}
		if n := strings.Count(logs.String(), "least-cost routing failed"); n != 2 {
			t.Errorf("%d failure lines for two outages, want 2:\n%s", n, logs.String())
		}
		if n := strings.Count(logs.String(), "least-cost routing works again"); n != 1 {
			t.Errorf("%d recovery lines, want 1:\n%s", n, logs.String())
		}
		got := scrapeOutcomes(t, reg, "switchboard_freeswitch_lcr_lookups_total")
		if want := map[string]float64{"cost": 1, "listed": 4, "unrated": 1}; !maps.Equal(got, want) {
			t.Errorf("lookups %v, want %v", got, want)
		}
		// a second handler of the node (a reload) shares the series
		lcrHandler(f, fo, nil, reg, &logs)
	})
}

// TestLeastCostEmergency: an emergency route cannot be ordered by cost
// (an emergency call is never refused for want of a supplier rate), and
// it is dialled in its listed order without asking the orderer.
func TestLeastCostEmergency(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		ctx, sc := context.Background(), provisioning.AdminScope()
		var id int64
		for _, rt := range f.plan.Routes {
			if rt.Action == provisioning.RouteEmergency {
				id = rt.ID
			}
		}
		_, err := f.svc.UpdateOutboundRoute(ctx, sc, id, func(r *provisioning.OutboundRoute) error {
			r.GatewayIDs, r.Order = []int64{f.gwA.ID, f.gwB.ID}, provisioning.RouteOrderCost
			return nil
		})
		var inv *provisioning.FieldError
		if !errors.As(err, &inv) || inv.Field != "order" {
			t.Fatalf("emergency route ordered by cost: %v, want a validation error on order", err)
		}
		fo := &fakeOrderer{} // rates nothing
		c := &simCall{t: t, dp: liveDialplan(t, lcrHandler(f, fo, nil, nil, &bytes.Buffer{})), vars: map[string]string{"uuid": "u"}, caller: "201", at: time.Now()}
		c.exec(RoutingContext(f.tenant.ID), "911")
		if got := c.out.String(); !strings.HasPrefix(got, "dial 911 via ") || len(fo.asked) != 0 {
			t.Errorf("got %s, orderer asked %v; want a listed dial, not asked", got, fo.asked)
		}
	})
}

// BenchmarkXMLCurlLeastCost: the handler's answer for a number of the
// least-cost route (the route rendered again for the call, the orderer
// a fake that answers at once: what Switchboard adds to the orderer's
// own time) beside the cached answer of a route in listed order, both
// with authorization (a fake) as a node with both runs. Reports p99.
func BenchmarkXMLCurlLeastCost(b *testing.B) {
	db, err := sqldb.Open(context.Background(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	must2(b, err)
	b.Cleanup(func() { db.Close() })
	f := newRoutingFixture(b, db)
	fo := &fakeOrderer{prices: map[string]map[int64]string{"+442071234567": {f.gwA.ID: "0.02", f.gwB.ID: "0.01", f.gwC.ID: "0.015"}}}
	h := lcrHandler(f, fo, &fakeAuthorizer{d: authz.Decision{Allowed: true, MaxSeconds: 600}}, nil, &bytes.Buffer{})
	for _, tc := range []struct{ name, num string }{{"least-cost", "011442071234567"}, {"listed", "15145550123"}} {
		form := url.Values{"section": {"dialplan"}, "Hunt-Context": {RoutingContext(f.tenant.ID)}, "Hunt-Destination-Number": {tc.num},
			"Caller-Destination-Number": {tc.num}, "Unique-ID": {"u"}}
		b.Run(tc.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				fo.mu.Lock()
				fo.asked, fo.ids = fo.asked[:0], fo.ids[:0]
				fo.mu.Unlock()
				start := time.Now()
				w := askXMLCurl(h, form)
				took = append(took, time.Since(start))
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "bridge") {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
