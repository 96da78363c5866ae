package freeswitch

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
	"github.com/switchboard-voip/switchboard/provisioning/authz/authztest"
)

// TestLiveAuthzHuntGroupExternal: a hunt group whose member is an
// external number (rung as sofia/gateway/… legs in the group's own
// bridge, not through the route's extensions) on a real FreeSWITCH: the
// member is authorized in the group's lookup; a prepaid tenant's member
// leg is hung up at the computed second after the gateway answered; over
// the concurrent limit the member is not rung.
func TestLiveAuthzHuntGroupExternal(t *testing.T) {
	node := requireLiveNode(t)
	la := &liveAuthz{}
	m := &authztest.Money{}
	var err error
	m.Tariff, err = authztest.FranceTariff()
	liveMust(t, err)
	var calls []authz.Call
	rec := callRecorder{next: la, calls: &calls}
	r := newLiveRig(t, node, withRouting(), func(r *liveRig, c *XMLCurlConfig) { c.Authorizer, c.Node = rec, node.Name })
	r.waitConnected(t)
	ctx := context.Background()
	sc := provisioning.AdminScope()
	in := provisioning.RoutingMeta{TenantID: r.tenantID(t)}
	stamp := strconv.FormatInt(time.Now().Unix()%100000, 10)
	results := map[string]string{}
	t.Cleanup(func() {
		for k, v := range results {
			t.Logf("| %s | %s |", k, v)
		}
	})
	// a sipp UAS behind a gateway, a route 0033… → +33… to it, and a
	// sequential group whose one member is 0033155501234
	// gateway starts a sipp UAS with scenario behind a provisioned gateway
	gateway := func(t *testing.T, scenario string, answers int) (*livePhone, int64) {
		gw := startPhone(t, "gateway", scenario, "", "-s", "gw", "-m", strconv.Itoa(answers))
		g := &provisioning.Gateway{Name: "sb-live-extleg-" + stamp + "-" + strconv.Itoa(gw.port), Host: "127.0.0.1", Port: gw.port}
		liveMust(t, r.svc.CreateGateway(ctx, sc, g))
		t.Cleanup(func() { _ = r.svc.DeleteGateway(context.Background(), sc, g.ID) })
		waitFor(t, 15*time.Second, "gateway "+g.Name+" on the node", func() bool {
			return !strings.Contains(eslCommand(t, node, "api sofia status gateway "+g.Name), "Invalid Gateway")
		})
		return gw, g.ID
	}
	// setup makes a route 0033… → +33… through gws in order and a group
	// of strategy whose one member is 0033155501234
	var group *provisioning.HuntGroup
	setup := func(t *testing.T, strategy provisioning.HuntStrategy, gws ...int64) {
		route := &provisioning.OutboundRoute{RoutingMeta: in, Name: "fr-" + strconv.FormatInt(gws[0], 10), Patterns: []provisioning.DialPattern{"0033X."}, Strip: 2, Prepend: "+", GatewayIDs: gws}
		liveMust(t, r.svc.CreateOutboundRoute(ctx, sc, route))
		t.Cleanup(func() { _ = r.svc.DeleteOutboundRoute(context.Background(), sc, route.ID) })
		group = &provisioning.HuntGroup{RoutingMeta: in, Number: "59" + strconv.FormatInt(gws[0]%1000, 10), Name: "ext " + strconv.FormatInt(gws[0], 10), Strategy: strategy, RingSecs: 20,
			Members: []provisioning.HuntMember{{Destination: provisioning.Destination{Kind: provisioning.DestExternal, Number: "0033155501234"}, RingSecs: 20}}}
		liveMust(t, r.svc.CreateHuntGroup(ctx, sc, group))
		t.Cleanup(func() { _ = r.svc.DeleteHuntGroup(context.Background(), sc, group.ID) })
	}
	user := liveUser(t, 41)
	_, secret := r.account(t, user)
	caller := func(t *testing.T, name string, args ...string) *livePhone {
		return startPhone(t, name, "phone_call.xml", node.SIP, append([]string{"-s", user, "-au", user, "-ap", secret, "-key", "dest", group.Number}, args...)...)
	}

	// prepaid: money for 5 s; the member's leg that answers (on the
	// answering gateway, the last of the route) is cut 5 s after its
	// answer, runs under the reservation's id, and its CDR releases it
	prepaid := func(t *testing.T, name string, strategy provisioning.HuntStrategy, first503 bool) {
		const n = 5 // 0.05 EUR at 0.60/min, per second
		m.Prepaid, m.Funds, m.Tenant = true, money.MustParse("0.05"), authz.Limits{}
		la.use(m.New())
		la.mu.Lock()
		calls = nil
		la.mu.Unlock()
		var ids []int64
		var g503 *livePhone
		if first503 {
			var id int64
			g503, id = gateway(t, "gateway_503.xml", 1)
			ids = append(ids, id)
		}
		gw, id := gateway(t, "phone_answer.xml", 1)
		setup(t, strategy, append(ids, id)...)
		c := caller(t, "prepaid caller", "-d", "20000")
		cctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		legUp := false
		waitFor(t, 10*time.Second, "the member's gateway leg under the reservation's id", func() bool {
			la.mu.Lock()
			defer la.mu.Unlock()
			legUp = len(calls) == 1 && strings.Contains(eslCommand(t, node, "api uuid_exists "+calls[0].CallID), "true")
			return legUp
		})
		if err := gw.result(cctx); err != nil {
			t.Fatalf("gateway: %v", err)
		}
		_ = c.result(cctx)
		took := hungUpAfter(t, gw, n)
		la.mu.Lock()
		secs, got := la.maxSecs, calls
		a := la.a
		la.mu.Unlock()
		if len(got) != 1 || got[0].Destination != "+33155501234" || got[0].Of == "" || got[0].Of == got[0].CallID {
			t.Fatalf("authorized %+v, want the member's number once, as a leg of the caller's call", got)
		}
		tenant := got[0].TenantID
		if g503 != nil && len(sippTimes(g503, false, "INVITE ")) != 1 {
			t.Errorf("the congested gateway got %d INVITEs, want 1 (tried first)", len(sippTimes(g503, false, "INVITE ")))
		}
		// the gateway leg's own CDR releases the reservation (as
		// authz.ReleaseOnStore does), before the caller's
		var gwLeg cdr.Record
		waitFor(t, 15*time.Second, "the gateway leg's CDR", func() bool {
			recs := r.sink.of(got[0].CallID, "esl")
			if len(recs) > 0 {
				gwLeg = recs[0].rec
			}
			return len(recs) > 0
		})
		before := a.Live(tenant, 0)
		liveMust(t, a.ReleaseBooked(gwLeg.Switch, gwLeg.CallID))
		if before != 1 || a.Live(tenant, 0) != 0 || gwLeg.Gateway == "" || gwLeg.LinkedID != got[0].Of {
			t.Errorf("reserved %d before the gateway leg's CDR, %d after; the leg %+v (want a gateway leg of the caller's call %s)", before, a.Live(tenant, 0), gwLeg, got[0].Of)
		}
		// the call is priced once, on the caller's leg, at the number the
		// member left as (the pipeline's pricing, the tenant's tariff at
		// 0.60/min per second): what was authorized is what is charged
		var price string
		waitFor(t, 15*time.Second, "the caller's CDR", func() bool { return len(r.sink.of(got[0].Of, "esl")) > 0 })
		legs := []cdr.Record{r.sink.of(got[0].Of, "esl")[0].rec, gwLeg}
		tf := cdrtest.NewTariffs()
		tf.SetTenant(tenant, cdrtest.Tariff("retail", "EUR", "33=0.60"))
		for i := range legs {
			legs[i].TenantID = &tenant // the pipeline's owner lookup
		}
		liveMust(t, cdr.PriceRecords(ctx, tf, legs))
		switch caller := legs[0]; {
		case caller.Cost == nil || legs[1].Cost == nil:
			t.Errorf("the caller's leg (dialled %s, destination %s) unpriced %q, the gateway leg's %q", caller.Dialed, caller.Destination, caller.Unpriced, legs[1].Unpriced)
		case *legs[1].Cost != 0 || *caller.Cost != money.MustParse("0.01")*money.Amount(caller.Billsec):
			t.Errorf("priced %s (caller, %d s) and %s (gateway leg): want the caller's leg at 0.01/s and the gateway leg free", *caller.Cost, caller.Billsec, *legs[1].Cost)
		default:
			price = fmtS("caller's leg (dialled %s) %s EUR for %d s, gateway leg 0", caller.Dialed, *caller.Cost, caller.Billsec)
		}
		results[name] = fmtS("member authorized for %v s; the answering gateway leg's uuid = the reservation's id: %v, its CDR (gateway %s, %s) released it; the node sent BYE to the gateway %.3f s after its 200 OK; priced: %s",
			secs, legUp, gwLeg.Gateway, gwLeg.CauseText, took.Seconds(), price)
	}
	t.Run("prepaid-member-hangup", func(t *testing.T) {
		prepaid(t, "sequential group, external member, prepaid 0.05 EUR at 0.60/min per second", provisioning.HuntSequential, false)
	})
	t.Run("prepaid-ring-all-failover", func(t *testing.T) {
		prepaid(t, "ring_all group, external member through 503 gateway then answering one (enterprise originate, '|' chain), prepaid 0.05 EUR", provisioning.HuntRingAll, true)
	})

	t.Run("custom-destination-prepaid", func(t *testing.T) {
		const n = 5
		m.Prepaid, m.Funds, m.Tenant = true, money.MustParse("0.05"), authz.Limits{}
		la.use(m.New())
		la.mu.Lock()
		calls = nil
		la.mu.Unlock()
		gw, id := gateway(t, "phone_answer.xml", 1)
		u := &provisioning.CustomDestination{RoutingMeta: in, Name: "direct " + strconv.FormatInt(id, 10), Number: "+33155501234", GatewayID: &id}
		liveMust(t, r.svc.CreateCustomDestination(ctx, sc, u))
		t.Cleanup(func() { _ = r.svc.DeleteCustomDestination(context.Background(), sc, u.ID) })
		x := &provisioning.Extension{RoutingMeta: in, Number: "58" + strconv.FormatInt(id%1000, 10), Name: "direct", Destination: provisioning.Destination{Kind: provisioning.DestCustom, ID: u.ID}}
		liveMust(t, r.svc.CreateExtension(ctx, sc, x))
		t.Cleanup(func() { _ = r.svc.DeleteExtension(context.Background(), sc, x.ID) })
		c := startPhone(t, "prepaid caller", "phone_call.xml", node.SIP, "-s", user, "-au", user, "-ap", secret, "-key", "dest", x.Number, "-d", "20000")
		cctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		if err := gw.result(cctx); err != nil {
			t.Fatalf("gateway: %v", err)
		}
		_ = c.result(cctx)
		took := hungUpAfter(t, gw, n)
		la.mu.Lock()
		got := calls
		la.mu.Unlock()
		if len(got) != 1 || got[0].Destination != "+33155501234" || got[0].Of != "" {
			t.Errorf("authorized %+v, want the custom destination's number, as the caller's call", got)
		}
		results["custom destination with a gateway, prepaid 0.05 EUR"] = fmtS("authorized %d time(s); the node sent BYE to the gateway %.3f s after its 200 OK", len(got), took.Seconds())
	})

	t.Run("concurrent-8-of-3", func(t *testing.T) {
		m.Prepaid, m.Tenant = false, authz.Limits{Concurrent: 3}
		la.use(m.New())
		gw, id := gateway(t, "phone_answer.xml", 3)
		setup(t, provisioning.HuntSequential, id)
		c := caller(t, "8 callers", "-m", "8", "-l", "8", "-r", "8", "-d", "6000")
		cctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		_ = c.result(cctx) // 5 of its calls fail by design
		if err := gw.result(cctx); err != nil {
			t.Errorf("gateway: %v", err)
		}
		invites := len(sippTimes(gw, false, "INVITE "))
		la.mu.Lock()
		allowed, refused := la.allowed, la.refused[authz.ReasonConcurrent]
		la.mu.Unlock()
		if allowed != 3 || refused != 5 || invites != 3 {
			t.Errorf("allowed %d, refused %d, gateway INVITEs %d; want 3, 5, 3", allowed, refused, invites)
		}
		results["8 parallel calls to the group, concurrent limit 3"] = fmtS("%d members authorized, %d refused (concurrent_limit), %d INVITEs reached the gateway", allowed, refused, invites)
	})
}

// callRecorder records the calls asked about (under liveAuthz's lock).
type callRecorder struct {
	next  *liveAuthz
	calls *[]authz.Call
}

func (c callRecorder) Authorize(ctx context.Context, call authz.Call) (authz.Decision, error) {
	c.next.mu.Lock()
	*c.calls = append(*c.calls, call)
	c.next.mu.Unlock()
	return c.next.Authorize(ctx, call)
}
