package freeswitch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
)

// TestXMLCurlAuthorizesGatewayLegs: the external numbers a hunt group
// or a follow-me rings, and a custom destination's gateway, are
// authorized in the lookup of their label (routing_extlegs.go): an
// allowed member's gateway legs carry the limit, the last one the
// reservation's id; a refused member dials error/<cause> and the group
// goes on; the fail policy; emergency and non-number URIs never asked.
func TestXMLCurlAuthorizesGatewayLegs(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		ctx, sc := context.Background(), provisioning.AdminScope()
		in := provisioning.RoutingMeta{TenantID: f.tenant.ID}
		ext := func(n string) provisioning.Destination {
			return provisioning.Destination{Kind: provisioning.DestExternal, Number: n}
		}
		acct0 := provisioning.Destination{Kind: provisioning.DestAccount, ID: f.accounts[0].ID}
		ringAll := &provisioning.HuntGroup{RoutingMeta: in, Number: "510", Name: "510", Strategy: provisioning.HuntRingAll, RingSecs: 25,
			Members: []provisioning.HuntMember{{Destination: acct0}, {Destination: ext("15145550123")}}}
		seq := &provisioning.HuntGroup{RoutingMeta: in, Number: "511", Name: "511", Strategy: provisioning.HuntSequential,
			Members: []provisioning.HuntMember{{Destination: ext("911"), RingSecs: 10}, {Destination: ext("15145550124"), RingSecs: 10}, {Destination: acct0, RingSecs: 10}}}
		for _, g := range []*provisioning.HuntGroup{ringAll, seq} {
			if err := f.svc.CreateHuntGroup(ctx, sc, g); err != nil {
				t.Fatal(err)
			}
		}
		custom := &provisioning.CustomDestination{RoutingMeta: in, Name: "direct", Number: "15145550155", GatewayID: &f.gwA.ID}
		customURI := &provisioning.CustomDestination{RoutingMeta: in, Name: "direct uri", URI: "sip:+15145550166@carrier.example", GatewayID: &f.gwB.ID}
		for _, c := range []*provisioning.CustomDestination{custom, customURI} {
			if err := f.svc.CreateCustomDestination(ctx, sc, c); err != nil {
				t.Fatal(err)
			}
		}
		fa := &fakeAuthorizer{}
		ask := func(closed bool, dest string) string {
			h := NewXMLCurlHandler(XMLCurlConfig{Directory: ServiceDirectory(f.svc), Router: ServiceRouter(f.svc),
				Authorizer: fa, Node: "fs1", AuthzFailClosed: closed, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			w := askXMLCurl(h, url.Values{"section": {"dialplan"}, "Hunt-Context": {RoutingContext(f.tenant.ID)}, "Hunt-Destination-Number": {dest},
				"Caller-Destination-Number": {dest}, "Unique-ID": {"uuid-1"}})
			if w.Code != 200 {
				t.Fatalf("%s: %d %s", dest, w.Code, w.Body)
			}
			return w.Body.String()
		}
		hl := func(g *provisioning.HuntGroup) string {
			return label(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: g.ID})
		}
		allow := authz.Decision{Allowed: true, MaxSeconds: 42}
		limit := "sb_authz=allow:42,execute_on_answer_sb_limit=sched_hangup +42 allotted_timeout"
		tests := []struct {
			name      string
			closed    bool
			dest      string
			d         authz.Decision
			err       error
			asked     []string // destinations, in order
			leg       bool     // asked as legs of uuid-1 (else as the call uuid-1)
			has, hasn []string
		}{
			{name: "ring_all member allowed", dest: hl(ringAll), d: allow, asked: []string{"+15145550123"}, leg: true,
				has: []string{"[leg_timeout=25," + limit + "]sofia/gateway/carrier-a/+15145550123|[leg_timeout=25," + limit + ",origination_uuid=",
					"user/201@acme.example"}},
			{name: "ring_all member refused", dest: hl(ringAll), d: authz.Decision{Reason: authz.ReasonConcurrent}, asked: []string{"+15145550123"}, leg: true,
				has: []string{"error/NORMAL_CIRCUIT_CONGESTION", "user/201@acme.example"}, hasn: []string{"sofia/gateway"}},
			{name: "sequential: emergency member never asked", dest: hl(seq), d: allow, asked: []string{"+15145550124"}, leg: true,
				has:  []string{"sofia/gateway/carrier-b/911", "[leg_timeout=10," + limit + "]sofia/gateway/carrier-a/+15145550124"},
				hasn: []string{"allotted_timeout]sofia/gateway/carrier-b/911"}},
			{name: "follow-me step", dest: label(provisioning.Destination{Kind: provisioning.DestExtension, ID: f.x100.ID}), d: authz.Decision{Reason: authz.ReasonInsufficientFunds},
				asked: []string{"+15145550142"}, leg: true, has: []string{"error/CALL_REJECTED"}, hasn: []string{"sofia/gateway"}},
			{name: "fail-open", dest: hl(ringAll), err: errors.New("db down"), asked: []string{"+15145550123"}, leg: true,
				has: []string{"[leg_timeout=25,sb_authz=error]sofia/gateway/carrier-a/+15145550123"}, hasn: []string{"sched_hangup"}},
			{name: "fail-closed", closed: true, dest: hl(ringAll), err: errors.New("db down"), asked: []string{"+15145550123"}, leg: true,
				has: []string{"error/NORMAL_TEMPORARY_FAILURE"}, hasn: []string{"sofia/gateway"}},
			{name: "custom with gateway allowed", dest: label(provisioning.Destination{Kind: provisioning.DestCustom, ID: custom.ID}), d: allow, asked: []string{"15145550155"},
				has: []string{`name="sb-authz" continue="true"`, `data="nolocal:execute_on_answer_sb_limit=sched_hangup +42 allotted_timeout"`, `data="sofia/gateway/carrier-a/15145550155"`}},
			{name: "custom with gateway refused", dest: label(provisioning.Destination{Kind: provisioning.DestCustom, ID: custom.ID}), d: authz.Decision{Reason: authz.ReasonNotWhitelisted},
				asked: []string{"15145550155"}, has: []string{`data="OUTGOING_CALL_BARRED"`}, hasn: []string{"sofia/gateway"}},
			{name: "custom URI of a number", dest: label(provisioning.Destination{Kind: provisioning.DestCustom, ID: customURI.ID}), d: allow, asked: []string{"+15145550166"},
				has: []string{`data="sofia/gateway/carrier-b/+15145550166@carrier.example"`}},
			{name: "custom URI of a name never asked", closed: true, dest: label(provisioning.Destination{Kind: provisioning.DestCustom, ID: f.sipURI.ID}), err: errors.New("db down"),
				has: []string{`data="sofia/gateway/carrier-b/sales@partner.example"`}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				fa.mu.Lock()
				fa.d, fa.err, fa.calls = tc.d, tc.err, nil
				fa.mu.Unlock()
				doc := ask(tc.closed, tc.dest)
				var got []string
				for _, c := range fa.calls {
					got = append(got, c.Destination)
					switch {
					case c.TenantID != f.tenant.ID || c.Switch != "fs1" || c.Direction != authz.Outbound:
						t.Errorf("asked %+v", c)
					case tc.leg && (c.Of != "uuid-1" || len(c.CallID) != 36):
						t.Errorf("a leg asked as %+v: want its own uuid, of uuid-1", c)
					case tc.leg && tc.d.Allowed && !strings.Contains(doc, "origination_uuid="+c.CallID+"]"):
						t.Errorf("the reservation %s is not the last gateway leg's uuid:\n%s", c.CallID, doc)
					case !tc.leg && (c.CallID != "uuid-1" || c.Of != ""):
						t.Errorf("asked %+v, want the caller's call", c)
					}
				}
				if strings.Join(got, " ") != strings.Join(tc.asked, " ") {
					t.Errorf("asked about %v, want %v", got, tc.asked)
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

		// through the dialplan model: a refused member fails at once and
		// the sequential group goes on to its next turn
		fa.mu.Lock()
		fa.d, fa.err = authz.Decision{Reason: authz.ReasonInsufficientFunds}, nil
		fa.mu.Unlock()
		h := NewXMLCurlHandler(XMLCurlConfig{Directory: ServiceDirectory(f.svc), Router: ServiceRouter(f.svc), Authorizer: fa, Node: "fs1",
			SoundsDir: testRenderOptions.SoundsDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		c := &simCall{t: t, dp: liveDialplan(t, h), vars: map[string]string{"uuid": "u-511"}, caller: "202", at: time.Now()}
		c.exec(RoutingContext(f.tenant.ID), "511")
		if got, want := c.out.String(), "ring error/CALL_REJECTED 10s\nring 201@acme.example 10s\n"; !strings.Contains(got, want) {
			t.Errorf("the group's call:\n%s\nwant it to contain\n%s", got, want)
		}

		// the fallback file of a fail-closed node rings no member through
		// a gateway and hangs up the custom destination (emergency rings)
		o := testRenderOptions
		o.GatewaysClosed = true
		p, err := f.svc.TenantPlan(ctx, f.tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		r := renderPlan(p, o)
		if doc := r.document(hl(ringAll)); !strings.Contains(doc, "error/NORMAL_TEMPORARY_FAILURE") || strings.Contains(doc, "sofia/gateway") {
			t.Errorf("fail-closed fallback, ring_all:\n%s", doc)
		}
		if doc := r.document(hl(seq)); !strings.Contains(doc, "sofia/gateway/carrier-b/911") || strings.Contains(doc, "carrier-a") {
			t.Errorf("fail-closed fallback, emergency member:\n%s", doc)
		}
		if doc := r.document(label(provisioning.Destination{Kind: provisioning.DestCustom, ID: custom.ID})); strings.Contains(doc, "sofia/gateway") {
			t.Errorf("fail-closed fallback, custom destination:\n%s", doc)
		}
	})
}
