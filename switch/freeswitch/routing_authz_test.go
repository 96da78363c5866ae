package freeswitch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
)

// fakeAuthorizer answers every call with d (or err) and records them.
type fakeAuthorizer struct {
	mu    sync.Mutex
	d     authz.Decision
	err   error
	calls []authz.Call
}

func (f *fakeAuthorizer) Authorize(_ context.Context, c authz.Call) (authz.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	return f.d, f.err
}

// TestXMLCurlAuthorization: a number an outbound route sends to a
// gateway is authorized in the lookup; the answer limits, refuses, or
// follows the node's fail policy. Numbers of the plan, block and
// emergency routes are never asked about.
func TestXMLCurlAuthorization(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		tctx := RoutingContext(f.tenant.ID)
		fa := &fakeAuthorizer{}
		handler := func(closed bool) func(dest string) string {
			h := NewXMLCurlHandler(XMLCurlConfig{Directory: ServiceDirectory(f.svc), Router: ServiceRouter(f.svc),
				Authorizer: fa, Node: "fs1", AuthzFailClosed: closed, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			return func(dest string) string {
				w := askXMLCurl(h, url.Values{"section": {"dialplan"}, "Hunt-Context": {tctx}, "Hunt-Destination-Number": {dest},
					"Caller-Destination-Number": {dest}, "Unique-ID": {"uuid-1"}, "variable_user_name": {"201"}, "variable_domain_name": {"acme.example"}})
				if w.Code != 200 {
					t.Fatalf("%s: %d %s", dest, w.Code, w.Body)
				}
				return w.Body.String()
			}
		}
		open, closed := handler(false), handler(true)
		plain := extNames(t, routingHandlerDoc(t, f, "15145550123"))
		tests := []struct {
			name      string
			ask       func(string) string
			dest      string
			d         authz.Decision
			err       error
			asked     bool
			exts      []string // nil: the plain answer
			has, hasn []string
		}{
			{name: "allowed", ask: open, dest: "15145550123", d: authz.Decision{Allowed: true, MaxSeconds: 42}, asked: true,
				exts: append([]string{"sb-authz"}, plain...), has: []string{`continue="true"`, `application="export" data="nolocal:execute_on_answer_sb_limit=sched_hangup +42 allotted_timeout"`, `data="sb_authz=allow:42"`},
				// The caller's leg runs no application on answer (nolocal:
				// only the gateway legs do): its last_app stays bridge,
				// which names the gateway its CDR is charged for.
				hasn: []string{`"execute_on_answer=`, "api_on_answer="}},
			{name: "no rate", ask: open, dest: "15145550123", d: authz.Decision{Reason: authz.ReasonNoRate}, asked: true,
				exts: []string{"sb-authz"}, has: []string{`data="sb_authz=deny:no_rate"`, `application="hangup" data="OUTGOING_CALL_BARRED"`}, hasn: []string{"bridge"}},
			{name: "not whitelisted", ask: open, dest: "15145550123", d: authz.Decision{Reason: authz.ReasonNotWhitelisted}, asked: true,
				exts: []string{"sb-authz"}, has: []string{`data="sb_authz=deny:not_whitelisted"`, `application="hangup" data="OUTGOING_CALL_BARRED"`}, hasn: []string{"bridge"}},
			{name: "concurrent", ask: open, dest: "15145550123", d: authz.Decision{Reason: authz.ReasonConcurrent}, asked: true,
				exts: []string{"sb-authz"}, has: []string{`data="NORMAL_CIRCUIT_CONGESTION"`}},
			{name: "insufficient funds", ask: open, dest: "15145550123", d: authz.Decision{Reason: authz.ReasonInsufficientFunds}, asked: true,
				exts: []string{"sb-authz"}, has: []string{`data="CALL_REJECTED"`}},
			{name: "error fail-open", ask: open, dest: "15145550123", err: errors.New("db down"), asked: true,
				exts: append([]string{"sb-authz"}, plain...), has: []string{`data="sb_authz=error"`}, hasn: []string{"sched_hangup"}},
			{name: "error fail-closed", ask: closed, dest: "15145550123", err: errors.New("db down"), asked: true,
				exts: []string{"sb-authz"}, has: []string{`data="NORMAL_TEMPORARY_FAILURE"`}, hasn: []string{"bridge"}},
			{name: "emergency never asked", ask: closed, dest: "911", err: errors.New("db down")},
			{name: "blocked route not asked", ask: closed, dest: "19005550123", err: errors.New("db down")},
			{name: "extension not asked", ask: closed, dest: "100", err: errors.New("db down")},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				fa.mu.Lock()
				fa.d, fa.err, fa.calls = tc.d, tc.err, nil
				fa.mu.Unlock()
				doc := tc.ask(tc.dest)
				if !tc.asked {
					if len(fa.calls) != 0 {
						t.Fatalf("asked %+v", fa.calls)
					}
					if doc != routingHandlerDoc(t, f, tc.dest) {
						t.Errorf("answer differs from the plain one:\n%s", doc)
					}
					return
				}
				want := authz.Call{TenantID: f.tenant.ID, Destination: "+15145550123", Direction: authz.Outbound, Switch: "fs1", CallID: "uuid-1"}
				if len(fa.calls) != 1 || fa.calls[0] != want {
					t.Fatalf("asked %+v, want %+v", fa.calls, want)
				}
				if got := extNames(t, doc); !slices.Equal(got, tc.exts) {
					t.Errorf("extensions %v, want %v", got, tc.exts)
				}
				for _, s := range tc.has {
					if !strings.Contains(doc, s) {
						t.Errorf("no %s in\n%s", s, doc)
					}
				}
				for _, s := range tc.hasn {
					if strings.Contains(doc, s) {
						t.Errorf("%s in\n%s", s, doc)
					}
				}
			})
		}
	})
}

// routingHandlerDoc is the answer without an authorizer.
func routingHandlerDoc(t *testing.T, f *routingFixture, dest string) string {
	t.Helper()
	w := askXMLCurl(routingHandler(f), url.Values{"section": {"dialplan"}, "Hunt-Context": {RoutingContext(f.tenant.ID)}, "Hunt-Destination-Number": {dest}, "Caller-Destination-Number": {dest}})
	return w.Body.String()
}

// TestRoutingFallbackFailClosed: the fallback file of a fail-closed node
// hangs up outbound routes but still places emergency calls; a
// fail-open node's file bridges them.
func TestRoutingFallbackFailClosed(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		at := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
		o := testRenderOptions
		o.GatewaysClosed = true
		dp, err := parseDialplan(renderRoutingFallback("fs1", []*provisioning.Plan{f.plan}, o))
		if err != nil {
			t.Fatal(err)
		}
		ctx := RoutingContext(f.tenant.ID)
		if got := dp.call(t, ctx, "15145550123", "201", at); strings.Contains(got, "carrier") {
			t.Errorf("fail-closed, external number:\n%s", got)
		}
		if got := dp.call(t, ctx, "911", "201", at); !strings.Contains(got, "carrier-b") {
			t.Errorf("fail-closed, emergency:\n%s", got)
		}
		open, err := parseDialplan(renderRoutingFallback("fs1", []*provisioning.Plan{f.plan}, testRenderOptions))
		if err != nil {
			t.Fatal(err)
		}
		if got := open.call(t, ctx, "15145550123", "201", at); !strings.Contains(got, "carrier-a") {
			t.Errorf("fail-open, external number:\n%s", got)
		}
	})
}

// TestAuthzLimitAnsweredCaller: the authorized limit runs from the
// gateway's answer whether or not the caller's channel was answered
// before it dialled out. The model shows why: execute_on_answer on the
// caller's channel (how the limit was set until 2026-12-07) runs when
// that channel is answered, which for a caller an IVR menu answered
// never happens again: no limit at all. On the gateway's leg (exported
// nolocal:) it runs when that leg answers, in both cases.
func TestAuthzLimitAnsweredCaller(t *testing.T) {
	doc := func(answer bool, limit string) *simDialplan {
		var acts []act
		if answer {
			acts = append(acts, act{app: "answer"})
		}
		acts = append(acts, act{app: "set", data: "hangup_after_bridge=true"}, act{app: "set", data: "sb_out=$1"})
		switch limit {
		case "caller":
			acts = append(acts, act{app: "set", data: "execute_on_answer=sched_hangup +42 allotted_timeout"})
		case "gateway":
			acts = append(acts, limitAct("42"))
		}
		acts = append(acts, act{app: "bridge", data: "sofia/gateway/carrier-a/+${sb_out}"})
		r := &routingRender{context: "sb-t1"}
		dp, err := parseDialplan([]byte(r.wrap(extXML("x", false, cond{field: "destination_number", expr: "^(.+)$", acts: acts}))))
		if err != nil {
			t.Fatal(err)
		}
		return dp
	}
	for _, tc := range []struct {
		answered bool
		limit    string
		want     string
	}{
		{false, "caller", "answered, limit 42s"},
		{true, "caller", "answered, no limit"}, // the bug
		{false, "gateway", "answered, limit 42s"},
		{true, "gateway", "answered, limit 42s"},
	} {
		c := &simCall{t: t, dp: doc(tc.answered, tc.limit), vars: map[string]string{}, at: time.Now(), gatewayAnswers: true}
		c.exec("sb-t1", "4420")
		if got := c.out.String(); got != "dial +4420 via carrier-a\n"+tc.want+"\n" {
			t.Errorf("caller answered %v, limit on the %s's channel: %s", tc.answered, tc.limit, got)
		}
		if v, ok := c.vars["execute_on_answer_sb_limit"]; ok {
			t.Errorf("the limit was set on the caller's channel too: %q", v)
		}
	}

	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		ctx, sc := context.Background(), provisioning.AdminScope()
		// a DID answered by a menu whose timeout dials out
		menu := &provisioning.IVRMenu{RoutingMeta: provisioning.RoutingMeta{TenantID: f.tenant.ID}, Name: "out", GreetingSoundID: f.mainMenu.GreetingSoundID,
			TimeoutSecs: 2, Options: []provisioning.IVROption{{Digit: "1", Destination: provisioning.Destination{Kind: provisioning.DestBusy}}},
			Timeout: provisioning.Destination{Kind: provisioning.DestExternal, Number: "15145550123"}}
		if err := f.svc.CreateIVRMenu(ctx, sc, menu); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: f.tenant.ID, Number: "+15145550188",
			Destination: &provisioning.Destination{Kind: provisioning.DestIVR, ID: menu.ID}}); err != nil {
			t.Fatal(err)
		}
		fa := &fakeAuthorizer{d: authz.Decision{Allowed: true, MaxSeconds: 42}}
		h := NewXMLCurlHandler(XMLCurlConfig{Directory: ServiceDirectory(f.svc), Router: ServiceRouter(f.svc), Authorizer: fa, Node: "fs1",
			SoundsDir: testRenderOptions.SoundsDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		for _, tc := range []struct{ name, ctx, num string }{
			{"a phone dials out", RoutingContext(f.tenant.ID), "15145550123"},
			{"a menu answered the DID, then dials out", "public", "+15145550188"},
		} {
			c := &simCall{t: t, dp: liveDialplan(t, h), vars: map[string]string{"uuid": "u-" + tc.num}, caller: "+15146340001", at: time.Now(), gatewayAnswers: true}
			c.exec(tc.ctx, tc.num)
			if got := c.out.String(); !strings.HasSuffix(got, "dial +15145550123 via carrier-a\nanswered, limit 42s\n") {
				t.Errorf("%s: %s", tc.name, got)
			}
		}
		fa.mu.Lock()
		defer fa.mu.Unlock()
		if len(fa.calls) != 2 {
			t.Errorf("authorized %d calls, want 2 (the menu's sb-o label too)", len(fa.calls))
		}
	})
}

// TestXMLCurlRecordedAnsweredLookup feeds the handler the request
// FreeSWITCH 1.10.12 sent for an sb-o label run after an IVR menu had
// answered the caller (testdata/xml-curl/dialplan-answered.form, recorded
// by TestLiveAuthzAnsweredCaller): Answer-State answered, the label in
// Hunt-Destination-Number while Caller-Destination-Number still holds
// the DID, the execute_extension's new caller profile at
// Hunt-Channel-Answered-Time 0. The number is authorized as it leaves,
// under the channel's uuid, and ordered by cost, and the limit goes to
// the gateway legs.
func TestXMLCurlRecordedAnsweredLookup(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "xml-curl", "dialplan-answered.form"))
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("Answer-State") != "answered" || form.Get("Hunt-Channel-Answered-Time") != "0" || form.Get("Caller-Destination-Number") == form.Get("Hunt-Destination-Number") {
		t.Fatalf("the recording is not what this test reads: %v", form)
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		if ctx := RoutingContext(f.tenant.ID); form.Get("Hunt-Context") != ctx {
			t.Fatalf("recorded in %s, the fixture's tenant is %s", form.Get("Hunt-Context"), ctx)
		}
		// the recording's route: 00… → +…, least cost
		rt := &provisioning.OutboundRoute{RoutingMeta: provisioning.RoutingMeta{TenantID: f.tenant.ID}, Name: "recorded", Patterns: []provisioning.DialPattern{"00X."},
			Strip: 2, Prepend: "+", GatewayIDs: []int64{f.gwA.ID, f.gwB.ID}, Order: provisioning.RouteOrderCost}
		if err := f.svc.CreateOutboundRoute(context.Background(), provisioning.AdminScope(), rt); err != nil {
			t.Fatal(err)
		}
		fa := &fakeAuthorizer{d: authz.Decision{Allowed: true, MaxSeconds: 5}}
		fo := &fakeOrderer{prices: map[string]map[int64]string{"+33155501234": {f.gwA.ID: "0.02", f.gwB.ID: "0.01"}}}
		h := lcrHandler(f, fo, fa, nil, &bytes.Buffer{})
		w := askXMLCurl(h, form)
		doc := w.Body.String()
		want := authz.Call{TenantID: f.tenant.ID, Destination: "+33155501234", Direction: authz.Outbound, Switch: "fs1", CallID: form.Get("Unique-ID")}
		if len(fa.calls) != 1 || fa.calls[0] != want {
			t.Errorf("authorized %+v, want %+v", fa.calls, want)
		}
		if got := extNames(t, doc); !slices.Equal(got, []string{"sb-authz", "sb-route-" + strconv.FormatInt(rt.ID, 10)}) {
			t.Errorf("extensions %v", got)
		}
		for _, s := range []string{`data="nolocal:execute_on_answer_sb_limit=sched_hangup +5 allotted_timeout"`, `data="sb_lcr=cost:carrier-b,carrier-a"`,
			`expression="^sb-o(00[0-9][0-9*#]+)$"`, `data="sofia/gateway/carrier-b/+${sb_out:2}"`} {
			if !strings.Contains(doc, s) {
				t.Errorf("no %s in\n%s", s, doc)
			}
		}
	})
}
