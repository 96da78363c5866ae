package provisioning_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// steps writes a trace one step a line, the way a person reads it.
func steps(tr []provisioning.Step) string {
	var b strings.Builder
	for _, s := range tr {
		fmt.Fprintf(&b, "%s", s.Do)
		if len(s.Targets) > 0 {
			fmt.Fprintf(&b, " %s", strings.Join(s.Targets, ","))
		}
		if s.Secs > 0 {
			fmt.Fprintf(&b, " %ds", s.Secs)
		}
		if len(s.Gateways) > 0 {
			fmt.Fprintf(&b, " via %s", strings.Join(s.Gateways, ">"))
		}
		if s.Blocked {
			b.WriteString(" blocked")
		}
		if s.OnBusy != "" {
			fmt.Fprintf(&b, " busy→%s", s.OnBusy)
		}
		if s.OnUnreachable != "" {
			fmt.Fprintf(&b, " unreachable→%s", s.OnUnreachable)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestPlanTrace builds one tenant's routing through the Service and traces
// what calls do: the switch-neutral meaning every renderer must agree with.
func TestPlanTrace(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		sc := f.tenantAdmin
		in := provisioning.RoutingMeta{TenantID: f.t.ID}
		gw1, gw2 := e.gateway(t, "carrier-a", nil), e.gateway(t, "carrier-b", f.t)
		for _, r := range []*provisioning.OutboundRoute{
			{RoutingMeta: in, Name: "premium", Priority: 1, Action: provisioning.RouteBlock, Patterns: []provisioning.DialPattern{"1900XXXXXXX"}},
			{RoutingMeta: in, Name: "nanp", Priority: 5, Patterns: []provisioning.DialPattern{"1NXXNXXXXXX"}, Prepend: "+", GatewayIDs: []int64{gw1.ID, gw2.ID}},
			{RoutingMeta: in, Name: "local", Priority: 9, Patterns: []provisioning.DialPattern{"NXXXXXX"}, Prepend: "+1514", GatewayIDs: []int64{gw2.ID}},
			{RoutingMeta: in, Name: "911", Priority: 100, Action: provisioning.RouteEmergency, Patterns: []provisioning.DialPattern{"911"}, GatewayIDs: []int64{gw2.ID}},
		} {
			must(t, e.svc.CreateOutboundRoute(e.ctx, sc, r))
		}
		x100 := f.extension(t, e, "100", acct(f.a1))
		ringAll := &provisioning.HuntGroup{RoutingMeta: in, Number: "500", Name: "sales", Strategy: provisioning.HuntRingAll,
			Members: []provisioning.HuntMember{{Destination: acct(f.a1)}, {Destination: acct(f.a2)}, {Destination: acct(f.a3)}}}
		must(t, e.svc.CreateHuntGroup(e.ctx, sc, ringAll))
		seq := &provisioning.HuntGroup{RoutingMeta: in, Number: "501", Name: "support", Strategy: provisioning.HuntSequential,
			Members:  []provisioning.HuntMember{{Destination: ext(x100), RingSecs: 10}, {Destination: acct(f.a2)}},
			Failover: dest{Kind: provisioning.DestExternal, Number: "15145550199"}}
		must(t, e.svc.CreateHuntGroup(e.ctx, sc, seq))
		office := &provisioning.Condition{RoutingMeta: in, Name: "office hours", TimeZone: "America/Montreal", Times: []string{"mon-fri 09:00-17:00"},
			Match: dest{Kind: provisioning.DestHuntGroup, ID: ringAll.ID}, Miss: dest{Kind: provisioning.DestHuntGroup, ID: seq.ID}}
		must(t, e.svc.CreateCondition(e.ctx, sc, office))
		vip := &provisioning.Condition{RoutingMeta: in, Name: "vip", CallerIDs: []string{"+1514634*"},
			Match: ext(x100), Miss: dest{Kind: provisioning.DestCondition, ID: office.ID}}
		must(t, e.svc.CreateCondition(e.ctx, sc, vip))
		did := &provisioning.DID{TenantID: f.t.ID, Number: "+15145550100", Destination: &dest{Kind: provisioning.DestCondition, ID: vip.ID}}
		must(t, e.svc.CreateDID(e.ctx, sc, did))
		// 202: busy → voicemail-less hang-up, no answer after 15 s → 203.
		for _, fw := range []*provisioning.Forward{
			{AccountID: ptr(f.a2.ID), On: provisioning.ForwardBusy, Destination: dest{Kind: provisioning.DestHangup}, Enabled: true},
			{AccountID: ptr(f.a2.ID), On: provisioning.ForwardNoAnswer, AfterSecs: 15, Destination: acct(f.a3), Enabled: true},
		} {
			must(t, e.svc.CreateForward(e.ctx, sc, fw))
		}
		custom := &provisioning.CustomDestination{RoutingMeta: in, Name: "mobile", Number: "15145550142"}
		must(t, e.svc.CreateCustomDestination(e.ctx, sc, custom))

		p, err := e.svc.RoutingPlan(e.ctx, sc, f.t.ID)
		must(t, err)
		monday10 := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)  // 10:00 in Montreal
		saturday := time.Date(2026, 12, 12, 15, 0, 0, 0, time.UTC) // 10:00 on a Saturday
		didDest := *p.DIDs[0].Destination
		cases := []struct {
			name   string
			to     provisioning.Destination
			at     time.Time
			caller string
			want   string
		}{
			{"DID, office hours: ring-all group", didDest, monday10, "5145550000",
				"ring 201@acme.example,202@acme.example,203@acme.example 20s\nhangup\n"},
			{"DID, a VIP: extension 100", didDest, saturday, "+15146349955", "ring 201@acme.example\n"},
			{"DID, week-end: sequential, then the failover through the NANP route", didDest, saturday, "5145550000",
				"ring 201@acme.example 10s\nring 202@acme.example 20s\ndial_out +15145550199 via carrier-a>carrier-b\n"},
			{"an account with forwards", acct(f.a2), monday10, "",
				"ring 202@acme.example 15s busy→hangup\nring 203@acme.example\n"},
			{"custom destination through the routes", dest{Kind: provisioning.DestCustom, ID: custom.ID}, monday10, "",
				"dial_out +15145550142 via carrier-a>carrier-b\n"},
			{"local number", dest{Kind: provisioning.DestExternal, Number: "5550142"}, monday10, "", "dial_out +15145550142 via carrier-b\n"},
			{"premium number blocked", dest{Kind: provisioning.DestExternal, Number: "19005550142"}, monday10, "", "dial_out 19005550142 blocked\n"},
			{"emergency first whatever its priority", dest{Kind: provisioning.DestExternal, Number: "911"}, monday10, "", "dial_out 911 via carrier-b\n"},
			{"no route", dest{Kind: provisioning.DestExternal, Number: "0033123456789"}, monday10, "", "dial_out 0033123456789\n"},
		}
		for _, tc := range cases {
			if got := steps(p.Trace(tc.to, tc.at, tc.caller)); got != tc.want {
				t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
			}
		}
		if d, ok := p.Number("501"); !ok || d.Kind != provisioning.DestHuntGroup || d.ID != seq.ID {
			t.Errorf("Number(501) = %v %v, want the sequential group", d, ok)
		}

		// A user's forward applies to the user's accounts without one of their own.
		u := e.user(t, "bob", f.t, provisioning.RoleUser)
		_, err = e.svc.UpdateAccount(e.ctx, admin, f.a1.ID, func(a *provisioning.Account) error { a.UserID = ptr(u.ID); return nil })
		must(t, err)
		must(t, e.svc.CreateForward(e.ctx, sc, &provisioning.Forward{UserID: ptr(u.ID), On: provisioning.ForwardAlways,
			Destination: dest{Kind: provisioning.DestExternal, Number: "15145550177"}, Enabled: true}))
		p, err = e.svc.RoutingPlan(e.ctx, sc, f.t.ID)
		must(t, err)
		if got, want := steps(p.Trace(ext(x100), monday10, "")), "dial_out +15145550177 via carrier-a>carrier-b\n"; got != want {
			t.Errorf("extension 100 with its user's unconditional forward:\n got %s\nwant %s", got, want)
		}
	})
}

// TestTenantPlanCache: the cached plan is reused until a write changes
// what it holds: a routing object of the tenant, a DID, an account it
// rings; another tenant's changes leave it be.
func TestTenantPlanCache(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		x := f.extension(t, e, "100", acct(f.a1))
		p1, err := e.svc.TenantPlan(e.ctx, f.t.ID)
		must(t, err)
		if p2, _ := e.svc.TenantPlan(e.ctx, f.t.ID); p2 != p1 {
			t.Fatal("a second TenantPlan built the plan again")
		}
		// Another tenant's routing: this plan stays.
		must(t, e.svc.CreateExtension(e.ctx, admin, &provisioning.Extension{RoutingMeta: provisioning.RoutingMeta{TenantID: f.other.ID},
			Number: "100", Destination: acct(f.otherAccount)}))
		if p2, _ := e.svc.TenantPlan(e.ctx, f.t.ID); p2 != p1 {
			t.Error("another tenant's extension dropped this tenant's plan")
		}
		steps := func(p *provisioning.Plan) string { return steps(p.Trace(ext(x), time.Now(), "")) }
		for _, change := range []struct {
			name string
			do   func() error
			want string
		}{
			{"extension changed", func() error {
				_, err := e.svc.UpdateExtension(e.ctx, admin, x.ID, func(x *provisioning.Extension) error { x.Destination = acct(f.a2); return nil })
				return err
			}, "ring 202@acme.example\n"},
			{"account renamed", func() error {
				_, err := e.svc.UpdateAccount(e.ctx, admin, f.a2.ID, func(a *provisioning.Account) error { a.Username = "222"; return nil })
				return err
			}, "ring 222@acme.example\n"},
		} {
			must(t, change.do())
			p, err := e.svc.TenantPlan(e.ctx, f.t.ID)
			must(t, err)
			if got := steps(p); got != change.want {
				t.Errorf("after %s: %q, want %q", change.name, got, change.want)
			}
		}
		before, _ := e.svc.TenantPlan(e.ctx, f.t.ID)
		must(t, e.svc.CreateDID(e.ctx, admin, &provisioning.DID{TenantID: f.t.ID, Number: "+15145550100", Destination: &dest{Kind: provisioning.DestExtension, ID: x.ID}}))
		after, _ := e.svc.TenantPlan(e.ctx, f.t.ID)
		if after == before || len(after.DIDs) != 1 {
			t.Errorf("after a DID was created the plan has %d DIDs (same plan: %v)", len(after.DIDs), after == before)
		}
	})
}

// TestCallWaiting: an extension takes a second call unless call waiting
// is turned off (absent means on); off, its phone counts as busy while on
// a call, which the trace says on the ring step.
func TestCallWaiting(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		on := f.extension(t, e, "100", acct(f.a1))
		if on.CallWaiting == nil || !*on.CallWaiting {
			t.Fatalf("call_waiting absent = %v, want on", on.CallWaiting)
		}
		off := &provisioning.Extension{RoutingMeta: provisioning.RoutingMeta{TenantID: f.t.ID}, Number: "101",
			Destination: acct(f.a2), CallWaiting: ptr(false)}
		must(t, e.svc.CreateExtension(e.ctx, f.tenantAdmin, off))
		p, err := e.svc.RoutingPlan(e.ctx, f.tenantAdmin, f.t.ID)
		must(t, err)
		for _, tc := range []struct {
			x    *provisioning.Extension
			want bool
		}{{on, false}, {off, true}} {
			tr := p.Trace(ext(tc.x), time.Now(), "")
			if len(tr) != 1 || tr[0].NoCallWaiting != tc.want {
				t.Errorf("extension %s: trace %+v, want one ring with NoCallWaiting %v", tc.x.Number, tr, tc.want)
			}
		}
	})
}

// TestHuntGroupSkipsBusy: a hunt group's ring step names the phones left
// out while they are on a call: all of a skip_busy group's phones; in
// another group only the phone of an extension member with call waiting
// off (its turn is refused busy like a call to the extension), never an
// external number.
func TestHuntGroupSkipsBusy(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		in := provisioning.RoutingMeta{TenantID: f.t.ID}
		waiting := f.extension(t, e, "100", acct(f.a1))
		noWaiting := &provisioning.Extension{RoutingMeta: in, Number: "101", Destination: acct(f.a2), CallWaiting: ptr(false)}
		must(t, e.svc.CreateExtension(e.ctx, f.tenantAdmin, noWaiting))
		members := []provisioning.HuntMember{{Destination: ext(waiting)}, {Destination: ext(noWaiting)}, {Destination: acct(f.a3)},
			{Destination: dest{Kind: provisioning.DestExternal, Number: "15145550199"}}}
		for _, tc := range []struct {
			strategy provisioning.HuntStrategy
			skipBusy bool
			want     [][]string // per ring step
		}{
			{provisioning.HuntRingAll, false, [][]string{{"202@acme.example"}}},
			{provisioning.HuntRingAll, true, [][]string{{"201@acme.example", "202@acme.example", "203@acme.example"}}},
			{provisioning.HuntSequential, false, [][]string{nil, {"202@acme.example"}, nil, nil}},
			{provisioning.HuntSequential, true, [][]string{{"201@acme.example"}, {"202@acme.example"}, {"203@acme.example"}, nil}},
		} {
			h := &provisioning.HuntGroup{RoutingMeta: in, Number: "500", Name: "g", Strategy: tc.strategy, SkipBusy: tc.skipBusy,
				Members: members, RingSecs: 200}
			must(t, e.svc.CreateHuntGroup(e.ctx, f.tenantAdmin, h))
			p, err := e.svc.RoutingPlan(e.ctx, f.tenantAdmin, f.t.ID)
			must(t, err)
			var got [][]string
			for _, s := range p.Trace(dest{Kind: provisioning.DestHuntGroup, ID: h.ID}, time.Now(), "") {
				if s.Do == "ring" {
					got = append(got, s.SkipBusy)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s skip_busy=%v: SkipBusy per step %v, want %v", tc.strategy, tc.skipBusy, got, tc.want)
			}
			must(t, e.svc.DeleteHuntGroup(e.ctx, f.tenantAdmin, h.ID))
		}
	})
}
