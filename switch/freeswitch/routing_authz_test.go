package freeswitch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"slices"
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
				exts: append([]string{"sb-authz"}, plain...), has: []string{`continue="true"`, `data="api_on_answer=sched_hangup +42 ${uuid} allotted_timeout"`, `data="sb_authz=allow:42"`},
				// The caller's leg runs no application on answer: its
				// last_app stays bridge, which names the gateway its CDR
				// is charged for.
				hasn: []string{"execute_on_answer="}},
			{name: "no rate", ask: open, dest: "15145550123", d: authz.Decision{Reason: authz.ReasonNoRate}, asked: true,
				exts: []string{"sb-authz"}, has: []string{`data="sb_authz=deny:no_rate"`, `application="hangup" data="OUTGOING_CALL_BARRED"`}, hasn: []string{"bridge"}},
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
