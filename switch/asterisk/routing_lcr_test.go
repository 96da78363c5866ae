package asterisk

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// lcrPlanFixture is a tenant with gateways carrier-a, carrier-b and
// carrier-c and three routes: intl (00…, strip 2, prepend +, a b c by
// cost), local (01…, b then a, listed) and emergency (112, c then a,
// listed: an emergency route cannot be ordered by cost).
func lcrPlanFixture(t *testing.T) (*provisioning.Plan, map[string]*provisioning.OutboundRoute) {
	t.Helper()
	svc := newRoutingService(t)
	ctx, admin := context.Background(), provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "acme"}
	must(t, svc.CreateTenant(ctx, admin, tn))
	gw := map[string]int64{}
	for _, n := range []string{"carrier-a", "carrier-b", "carrier-c"} {
		g := &provisioning.Gateway{Name: n, Host: "192.0.2.10", Port: 5060, TenantID: &tn.ID}
		must(t, svc.CreateGateway(ctx, admin, g))
		gw[n] = g.ID
	}
	in := provisioning.RoutingMeta{TenantID: tn.ID}
	routes := map[string]*provisioning.OutboundRoute{}
	for _, r := range []*provisioning.OutboundRoute{
		{RoutingMeta: in, Name: "intl", Priority: 5, Patterns: []provisioning.DialPattern{"00."}, Strip: 2, Prepend: "+",
			GatewayIDs: []int64{gw["carrier-a"], gw["carrier-b"], gw["carrier-c"]}, Order: provisioning.RouteOrderCost},
		{RoutingMeta: in, Name: "local", Priority: 6, Patterns: []provisioning.DialPattern{"01XXXXXXXX"},
			GatewayIDs: []int64{gw["carrier-b"], gw["carrier-a"]}},
		{RoutingMeta: in, Name: "emergency", Priority: 100, Action: provisioning.RouteEmergency, Patterns: []provisioning.DialPattern{"112"},
			GatewayIDs: []int64{gw["carrier-c"], gw["carrier-a"]}},
	} {
		must(t, svc.CreateOutboundRoute(ctx, admin, r))
		routes[r.Name] = r
	}
	p, err := svc.TenantPlan(ctx, tn.ID)
	must(t, err)
	return p, routes
}

// TestRoutingDialplanLCR renders the LCR fixture on a node with an LCR
// URL, without and with authorization (testdata/dialplan/routing-lcr.conf,
// routing-lcr-authz.conf), and on one without: the route ordered by cost
// asks <URL>/lcr after its authorization and loops over the answer, with
// its listed order as the fallback; the listed and emergency routes keep
// their fixed Dials; without a URL nothing asks.
func TestRoutingDialplanLCR(t *testing.T) {
	p, routes := lcrPlanFixture(t)
	intl := fmt.Sprintf("r%d", routes["intl"].ID)
	out := TenantContext(p.Tenant.ID) + "-out"
	for _, tc := range []struct {
		golden string
		authz  bool
	}{{"routing-lcr.conf", false}, {"routing-lcr-authz.conf", true}} {
		o := DefaultPushOptions()
		o.LCR = LCROptions{URL: "http://127.0.0.1:8080/asterisk/ast1/authz"}
		if tc.authz {
			o.Authz = AuthzOptions{URL: o.LCR.URL, Switch: "ast1"}
		}
		got := renderRouting("ast1", "extensions_switchboard.conf", o, nil, []*provisioning.Plan{p})
		checkDialplanGolden(t, tc.golden, got)
		steps := parseDialplan(t, got)[out][intl]
		text := strings.Join(steps, "\n")
		ask := fmt.Sprintf("Set(SB_LCR=${CURL(http://127.0.0.1:8080/asterisk/ast1/authz/lcr?route=%d&tenant=%d&dest=${URIENCODE(${SB_OUT})})})", routes["intl"].ID, p.Tenant.ID)
		wantOpts := map[bool]string{false: ")", true: ",,${SB_AUTHZ_OPT})"}[tc.authz]
		for _, want := range []string{ask, "Set(SB_GWS=carrier-a&carrier-b&carrier-c)", "Dial(PJSIP/${SB_OUT}@${SB_GW}" + wantOpts, "Hangup(3)"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: %s has no %s:\n%s", tc.golden, intl, want, text)
			}
		}
		if i, j := slices.IndexFunc(steps, func(s string) bool { return strings.Contains(s, "SB_AUTHZ=") }), slices.Index(steps, ask); tc.authz && (i < 0 || i > j) {
			t.Errorf("%s: the authorization (step %d) is not asked before LCR (step %d)", tc.golden, i, j)
		}
		if n := strings.Count(string(got), "SB_LCR=${CURL("); n != 1 {
			t.Errorf("%s: %d routes ask LCR, want intl only", tc.golden, n)
		}
	}
	got := string(renderRouting("ast1", "extensions_switchboard.conf", DefaultPushOptions(), nil, []*provisioning.Plan{p}))
	if strings.Contains(got, "SB_LCR") || !strings.Contains(got, "Dial(PJSIP/${SB_OUT}@carrier-c)") {
		t.Errorf("without an LCR URL the cost route is not dialled in listed order:\n%s", got)
	}
}

// TestRoutingDialplanLCRMatchesTrace: for each number, the route
// Plan.Trace (RouteFor) takes is the extension the number jumps to, and
// the gateways the trace lists, in order, are the ones that extension
// dials: its fixed Dials, or for a route ordered by cost its listed
// fallback (the order when the daemon does not answer) — with and
// without an LCR URL, with and without authorization.
func TestRoutingDialplanLCRMatchesTrace(t *testing.T) {
	p, _ := lcrPlanFixture(t)
	out := TenantContext(p.Tenant.ID) + "-out"
	dialAt := regexp.MustCompile(`^Dial\(PJSIP/\$\{SB_OUT\}@([A-Za-z0-9._+@-]+)[,)]`)
	for _, o := range []PushOptions{
		DefaultPushOptions(),
		func() PushOptions { o := DefaultPushOptions(); o.LCR.URL = "http://127.0.0.1:1/lcr-base"; return o }(),
		func() PushOptions {
			o := DefaultPushOptions()
			o.LCR.URL = "http://127.0.0.1:1/x"
			o.Authz = AuthzOptions{URL: o.LCR.URL, Switch: "ast1", FailClosed: true}
			return o
		}(),
	} {
		dp := parseDialplan(t, renderRouting("ast1", "x.conf", o, nil, []*provisioning.Plan{p}))
		for _, number := range []string{"0033155501234", "0112345678", "112"} {
			ro := p.RouteFor(number)
			var want []string
			for _, st := range p.Trace(provisioning.Destination{Kind: provisioning.DestExternal, Number: number}, time.Now(), "") {
				if st.Do == "dial_out" {
					want = st.Gateways
				}
			}
			if ro.Route == nil || len(want) == 0 {
				t.Fatalf("%s: no route in the fixture", number)
			}
			ext := fmt.Sprintf("r%d", ro.Route.ID)
			if !slices.ContainsFunc(dp[out]["_[+0-9*#]!"], func(s string) bool { return strings.HasSuffix(s, "?"+ext+",1)") }) {
				t.Errorf("%s: no jump to %s", number, ext)
			}
			var got []string
			lcr := false
			for _, s := range dp[out][ext] {
				if l, ok := strings.CutPrefix(s, "Set(SB_GWS="); ok && !strings.HasPrefix(l, "${") {
					got = strings.Split(strings.TrimSuffix(l, ")"), lcrSep)
					lcr = true
				}
				if m := dialAt.FindStringSubmatch(s); m != nil {
					got = append(got, m[1])
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("LCR URL %q, %s: %s dials %v, the trace %v", o.LCR.URL, number, ext, got, want)
			}
			wantLCR := o.LCR.URL != "" && ro.Route.Order == provisioning.RouteOrderCost && ro.Route.Action == provisioning.RouteNormal
			if lcr != wantLCR {
				t.Errorf("LCR URL %q, %s: %s asks LCR %v, want %v", o.LCR.URL, number, ext, lcr, wantLCR)
			}
		}
	}
}

// fakeLCRSource is a store of routes and a supplier price list per
// gateway and number prefix (absent: no supplier plan; a gateway mapped
// to a nil map: its supplier rates nothing).
type fakeLCRSource struct {
	routes map[int64]*provisioning.OutboundRoute
	names  map[int64]string
	prices map[int64]map[string]string
	err    error
	// asked records each GatewaysByCost call: number and time.
	asked []string
}

func (f *fakeLCRSource) OutboundRoute(_ context.Context, sc provisioning.Scope, id int64) (*provisioning.OutboundRoute, error) {
	if !sc.All() {
		return nil, errors.New("fake: the handler must read routes as an admin and check the tenant itself")
	}
	r := f.routes[id]
	if r == nil {
		return nil, fmt.Errorf("outbound route %d: %w", id, provisioning.ErrNotFound)
	}
	return r, nil
}

// GatewaysByCost is the documented contract: cheapest first, no plan
// after (listed order), no rate left out.
func (f *fakeLCRSource) GatewaysByCost(_ context.Context, ids []int64, number string, at time.Time) ([]provisioning.GatewayCost, error) {
	f.asked = append(f.asked, number+"@"+at.UTC().Format(time.RFC3339))
	if f.err != nil {
		return nil, f.err
	}
	var priced, unknown []provisioning.GatewayCost
	for _, id := range ids {
		plan, ok := f.prices[id]
		if !ok {
			unknown = append(unknown, provisioning.GatewayCost{GatewayID: id, Name: f.names[id]})
			continue
		}
		best := ""
		for prefix := range plan {
			if strings.HasPrefix(number, prefix) && len(prefix) > len(best) {
				best = prefix
			}
		}
		if best == "" {
			continue
		}
		c := money.MustParse(plan[best])
		priced = append(priced, provisioning.GatewayCost{GatewayID: id, Name: f.names[id], Cost: &c, Prefix: best})
	}
	slices.SortStableFunc(priced, func(a, b provisioning.GatewayCost) int { return cmp.Compare(*a.Cost, *b.Cost) })
	return append(priced, unknown...), nil
}

// TestLCRHandler: the endpoint's answers, each checked against its body,
// status and what the source was asked.
func TestLCRHandler(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	newSource := func() *fakeLCRSource {
		return &fakeLCRSource{
			routes: map[int64]*provisioning.OutboundRoute{
				7: {RoutingMeta: provisioning.RoutingMeta{ID: 7, TenantID: 5}, Name: "intl", GatewayIDs: []int64{1, 2, 3, 4}, Order: provisioning.RouteOrderCost},
				8: {RoutingMeta: provisioning.RoutingMeta{ID: 8, TenantID: 6}, Name: "other tenant's", GatewayIDs: []int64{1}},
				9: {RoutingMeta: provisioning.RoutingMeta{ID: 9, TenantID: 5}, Name: "blocked", Action: provisioning.RouteBlock},
				// 10 lists a gateway whose name a Dial cannot carry
				10: {RoutingMeta: provisioning.RoutingMeta{ID: 10, TenantID: 5}, Name: "odd", GatewayIDs: []int64{11, 2}},
			},
			names: map[int64]string{1: "gw-a", 2: "gw-b", 3: "gw-c", 4: "gw-d", 11: "gw,x"},
			prices: map[int64]map[string]string{
				1: {"+33": "0.020", "+331": "0.012"},
				2: {"+33": "0.015"},
				3: nil, // its supplier rates nothing
				// 4: no supplier plan
				11: {"+33": "0.001"},
			},
		}
	}
	for _, tc := range []struct {
		name, query string
		err         error
		code        int
		body        string
		asked       []string
	}{
		{"cheapest first, unplanned last", "tenant=5&route=7&dest=%2B33155501234", nil, 200, "lcr:gw-a&gw-b&gw-d", []string{"+33155501234@2026-12-07T09:30:00Z"}},
		{"another number, another order", "tenant=5&route=7&dest=%2B33255501234", nil, 200, "lcr:gw-b&gw-a&gw-d", []string{"+33255501234@2026-12-07T09:30:00Z"}},
		{"no rate anywhere but the unplanned gateway", "tenant=5&route=7&dest=%2B4930123", nil, 200, "lcr:gw-d", []string{"+4930123@2026-12-07T09:30:00Z"}},
		{"a name a Dial cannot carry is left out", "tenant=5&route=10&dest=%2B33155501234", nil, 200, "lcr:gw-b", []string{"+33155501234@2026-12-07T09:30:00Z"}},
		{"a block route carries nothing", "tenant=5&route=9&dest=%2B33155501234", nil, 200, "lcr:", nil},
		{"another tenant's route", "tenant=5&route=8&dest=%2B33155501234", nil, 404, "error:route 8 of tenant 5 not found", nil},
		{"an unknown route", "tenant=5&route=99&dest=%2B33155501234", nil, 404, "error:route 99 of tenant 5 not found", nil},
		{"tenant not a number", "tenant=x&route=7&dest=%2B33155501234", nil, 400, "error:tenant must be a tenant id", nil},
		{"tenant missing", "route=7&dest=%2B33155501234", nil, 400, "error:tenant must be a tenant id", nil},
		{"route missing", "tenant=5&dest=%2B33155501234", nil, 400, "error:route must be an outbound route id", nil},
		{"route negative", "tenant=5&route=-7&dest=%2B33155501234", nil, 400, "error:route must be an outbound route id", nil},
		{"dest not a number", "tenant=5&route=7&dest=33a1", nil, 400, "error:dest must be the dialled number, up to 32 digits, * or #, optionally a leading +", nil},
		{"dest empty (SB_OUT unset)", "tenant=5&route=7&dest=", nil, 400, "error:dest must be the dialled number, up to 32 digits, * or #, optionally a leading +", nil},
		{"the source fails", "tenant=5&route=7&dest=%2B33155501234", errors.New("rates: database is locked\nretry"), 503, "error:rates: database is locked retry", []string{"+33155501234@2026-12-07T09:30:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource()
			src.err = tc.err
			h := LCRHandler{Source: src, Now: func() time.Time { return at }}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/lcr?"+tc.query, nil))
			if rec.Code != tc.code || rec.Body.String() != tc.body {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.code, tc.body)
			}
			if !slices.Equal(src.asked, tc.asked) {
				t.Errorf("source asked %v, want %v", src.asked, tc.asked)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
	t.Run("other paths go to Next", func(t *testing.T) {
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = fmt.Fprint(w, "next "+r.URL.Path) })
		for path, want := range map[string]string{"/authorize": "next /authorize", "/release": "next /release", "/lcr": "error:tenant must be a tenant id"} {
			rec := httptest.NewRecorder()
			LCRHandler{Source: newSource(), Next: next}.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Body.String() != want {
				t.Errorf("%s: %q, want %q", path, rec.Body.String(), want)
			}
		}
		rec := httptest.NewRecorder()
		LCRHandler{Source: newSource()}.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/authorize", nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("without Next: %d, want 404", rec.Code)
		}
	})
}

// TestLCRRenderedRequestServed: the request the rendered dialplan makes,
// its variables given the values Asterisk would (SB_OUT after strip and
// prepend, URIENCODE'd), sent over loopback HTTP to LCRHandler mounted
// under the node's authz_url prefix as the daemon mounts it, is answered
// with the route's gateways for that number; the authorization paths on
// the same prefix still reach Next.
func TestLCRRenderedRequestServed(t *testing.T) {
	p, routes := lcrPlanFixture(t)
	src := &fakeLCRSource{routes: map[int64]*provisioning.OutboundRoute{}, names: map[int64]string{}, prices: map[int64]map[string]string{}}
	for _, r := range routes {
		src.routes[r.ID] = r
	}
	for _, g := range p.Gateways {
		src.names[g.ID] = g.Name
	}
	a, b := routes["intl"].GatewayIDs[0], routes["intl"].GatewayIDs[1]
	src.prices[a] = map[string]string{"+33": "0.020"}
	src.prices[b] = map[string]string{"+33": "0.010"}
	src.prices[routes["intl"].GatewayIDs[2]] = nil // rates nothing
	const prefix = "/asterisk/ast1/authz"
	mux := http.NewServeMux()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = fmt.Fprint(w, "authz "+r.URL.Path) })
	mux.Handle("GET "+prefix+"/", http.StripPrefix(prefix, LCRHandler{Source: src, Next: next}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	o := DefaultPushOptions()
	o.LCR.URL = srv.URL + prefix
	steps := parseDialplan(t, renderRouting("ast1", "x.conf", o, nil, []*provisioning.Plan{p}))[TenantContext(p.Tenant.ID)+"-out"][fmt.Sprintf("r%d", routes["intl"].ID)]
	var curl string
	for _, s := range steps {
		if u, ok := strings.CutPrefix(s, "Set(SB_LCR=${CURL("); ok {
			curl = strings.TrimSuffix(u, ")})")
		}
	}
	if curl == "" {
		t.Fatalf("no CURL in %v", steps)
	}
	out := routes["intl"].Prepend + "33155501234" // 0033155501234 with 2 stripped
	u := strings.Replace(curl, "${URIENCODE(${SB_OUT})}", url.QueryEscape(out), 1)
	get := func(u string) string {
		resp, err := http.Get(u)
		must(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	if got, want := get(u), "lcr:"+src.names[b]+lcrSep+src.names[a]; got != want {
		t.Errorf("GET %s: %q, want %q", u, got, want)
	}
	if len(src.asked) != 1 || !strings.HasPrefix(src.asked[0], out+"@") {
		t.Errorf("the source was asked %v, want %s", src.asked, out)
	}
	if got := get(srv.URL + prefix + "/authorize?tenant=1"); got != "authz /authorize" {
		t.Errorf("/authorize on the same prefix: %q", got)
	}
}

// FuzzLCRHandler: whatever the query, the endpoint answers 200, 400, 404
// or 503 with one line, and a 200 names only gateways of the tenant's
// route, each once, that a Dial can carry.
func FuzzLCRHandler(f *testing.F) {
	for _, q := range []string{"tenant=5&route=7&dest=%2B33155501234", "tenant=5&route=8&dest=1", "tenant=&route=7", "dest=%0A&tenant=5&route=7", "tenant=5&route=7&dest=" + strings.Repeat("9", 40)} {
		f.Add(q)
	}
	src := &fakeLCRSource{
		routes: map[int64]*provisioning.OutboundRoute{
			7: {RoutingMeta: provisioning.RoutingMeta{ID: 7, TenantID: 5}, GatewayIDs: []int64{1, 2, 3}},
			8: {RoutingMeta: provisioning.RoutingMeta{ID: 8, TenantID: 6}, GatewayIDs: []int64{4}},
		},
		names:  map[int64]string{1: "gw-a", 2: "gw-b", 3: "gw,c", 4: "other"},
		prices: map[int64]map[string]string{1: {"+3": "0.02", "4": "0.01"}, 2: {"": "0.03"}, 3: {"": "0.001"}, 4: {"": "0.001"}},
	}
	h := LCRHandler{Source: src}
	f.Fuzz(func(t *testing.T, query string) {
		src.asked = nil
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/lcr", nil)
		req.URL.RawQuery = query
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if strings.ContainsAny(body, "\r\n") {
			t.Fatalf("%q: body %q is not one line", query, body)
		}
		switch rec.Code {
		case 400, 404, 503:
			if !strings.HasPrefix(body, "error:") {
				t.Fatalf("%q: %d %q", query, rec.Code, body)
			}
		case 200:
			names, ok := strings.CutPrefix(body, "lcr:")
			if !ok {
				t.Fatalf("%q: 200 %q", query, body)
			}
			seen := map[string]bool{}
			for _, n := range strings.Split(names, lcrSep) {
				if n == "" && names == "" {
					continue
				}
				if n != "gw-a" && n != "gw-b" || seen[n] {
					t.Fatalf("%q: answered %q", query, body)
				}
				seen[n] = true
			}
		default:
			t.Fatalf("%q: status %d", query, rec.Code)
		}
	})
}
