package asterisk

import (
	"context"
	"fmt"
	"os"
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

// TestLiveAuthzGatewayLegs: calls that reach a gateway without dialling
// an outbound route's number, on a real Asterisk: a custom destination
// with a gateway (it dials PJSIP/<number>@<gw> itself) is authorized and
// limited with S(), and refused over the concurrent limit; a hunt group's
// external member (Local/L<number>@sb-tT-out → the route) is authorized
// and limited too.
func TestLiveAuthzGatewayLegs(t *testing.T) {
	requireLiveNode(t)
	if os.Getenv(envLiveDialplan) == "" {
		t.Skipf("%s is not set", envLiveDialplan)
	}
	m := &authztest.Money{}
	var err error
	m.Tariff, err = authztest.FranceTariff()
	must(t, err)
	results := map[string]string{}
	defer func() {
		for k, v := range results {
			t.Logf("RESULT %s: %s", k, v)
		}
	}()
	srv := startLiveAuthzServer(t)
	rr := startRoutingRigWith(t, func(o *PushOptions, _ *provisioning.Service) {
		o.Authz = AuthzOptions{URL: srv.url, Switch: liveSwitch, TimeoutSecs: 2}
	})
	ctx, admin := t.Context(), provisioning.AdminScope()
	port := freeUDPPort(t)
	g := &provisioning.Gateway{Name: fmt.Sprintf("sblive-extleg-%d-%d", liveUserBase, port), Host: "127.0.0.5", Port: port, TenantID: &rr.tenant.ID}
	must(t, rr.svc.CreateGateway(ctx, admin, g))
	rr.gateways.Store(&map[string]bool{g.Name: true}) // as the daemon knows its provisioned gateways
	t.Cleanup(func() {
		_ = rr.pusher.Apply(context.Background(), provisioning.Change{Op: provisioning.OpDelete, Gateway: g})
	})
	waitFor(t, 10*time.Second, "the gateway on the node", func() bool {
		_, err := rr.direct.Get(ctx, ObjectRef{PJSIPEndpoint, g.Name})
		return err == nil
	})
	must(t, rr.svc.CreateOutboundRoute(ctx, admin, &provisioning.OutboundRoute{RoutingMeta: rr.in, Name: "fr", Patterns: []provisioning.DialPattern{"0033X."},
		Strip: 2, Prepend: "+", GatewayIDs: []int64{g.ID}}))
	custom := &provisioning.CustomDestination{RoutingMeta: rr.in, Name: "direct", Number: "+33155501234", GatewayID: &g.ID}
	must(t, rr.svc.CreateCustomDestination(ctx, admin, custom))
	customNum := strconv.Itoa(600 + port%300)
	must(t, rr.svc.CreateExtension(ctx, admin, &provisioning.Extension{RoutingMeta: rr.in, Number: customNum, Name: "to the custom destination",
		Destination: provisioning.Destination{Kind: provisioning.DestCustom, ID: custom.ID}}))
	groupNum := strconv.Itoa(900 + port%90)
	must(t, rr.svc.CreateHuntGroup(ctx, admin, &provisioning.HuntGroup{RoutingMeta: rr.in, Number: groupNum, Name: "external member", Strategy: provisioning.HuntSequential,
		Members: []provisioning.HuntMember{{Destination: provisioning.Destination{Kind: provisioning.DestExternal, Number: "0033155501234"}, RingSecs: 20}}}))
	rr.settled("Dial(PJSIP/+33155501234@" + g.Name + ",,${SB_AUTHZ_OPT})")
	p, _ := rr.phone("caller")
	gateway := func(t *testing.T, calls int, hold time.Duration) *sippRun {
		s := startSipp(t, "answer_uas.xml", []string{"HOLD_MS", strconv.FormatInt(hold.Milliseconds(), 10)}, "-i", "127.0.0.5", "-p", strconv.Itoa(port),
			"-m", strconv.Itoa(calls), "-timeout", "40s", "-timeout_error")
		time.Sleep(300 * time.Millisecond)
		return s
	}
	call := func(t *testing.T, dest string, args ...string) *sippRun {
		return startSipp(t, "call_uac.xml", nil, append([]string{rr.node.sip, "-s", p.user, "-au", p.user, "-ap", p.secret, "-key", "callee", dest, "-key", "domain", p.domain,
			"-p", strconv.Itoa(p.port), "-timeout", "40s", "-timeout_error"}, args...)...)
	}
	use := func(a *authz.Authorizer) *authz.Authorizer {
		srv.mu.Lock()
		srv.a = a
		srv.mu.Unlock()
		return a
	}
	prepaid := func(t *testing.T, name, dest string) {
		const n = 5 // 0.05 EUR at 0.60/min, per second
		m.Prepaid, m.Funds, m.Tenant = true, money.MustParse("0.05"), authz.Limits{}
		a := use(m.New())
		gw := gateway(t, 1, 20*time.Second)
		before := len(rr.sink.Records())
		c := call(t, dest, "-m", "1")
		_ = c.wait(30 * time.Second)
		_ = gw.wait(10 * time.Second)
		ok, bye := gw.at(true, "SIP/2.0 200 OK"), gw.at(false, "BYE ")
		if len(ok) == 0 || len(bye) != 1 {
			t.Fatalf("gateway: %d 200 OK sent, %d BYE received", len(ok), len(bye))
		}
		took := bye[0].Sub(ok[0])
		if took < (n-1)*time.Second || took > (n+1)*time.Second {
			t.Errorf("hung up %.3f s after the answer, want %d ± 1", took.Seconds(), n)
		}
		// the CDRs the adapter made release the reservation, as the
		// daemon's ReleaseOnStore does: the call id the dialplan sent
		// (${UNIQUEID}: the caller's channel, or the member's Local
		// channel) is one of the legs' CallID
		live := a.Live(rr.tenant.ID, 0)
		waitFor(t, 15*time.Second, "the reservation released by a leg's CDR", func() bool {
			for _, rec := range rr.sink.Records() {
				_ = a.ReleaseBooked(rec.Switch, rec.CallID)
			}
			return a.Live(rr.tenant.ID, 0) == 0
		})
		results[name] = fmt.Sprintf("reserved %d after the call, released by its CDRs; the node sent BYE to the gateway %.3f s after its 200 OK", live, took.Seconds())
		results[name+": priced legs"] = pricedLegs(t, rr.sink.Records()[before:], rr.tenant.ID, g.Name)
	}

	t.Run("custom-prepaid-hangup", func(t *testing.T) {
		prepaid(t, "custom destination with a gateway, prepaid 0.05 EUR at 0.60/min per second", customNum)
	})
	t.Run("custom-concurrent-5-of-2", func(t *testing.T) {
		m.Prepaid, m.Tenant = false, authz.Limits{Concurrent: 2}
		a := use(m.New())
		gw := gateway(t, 2, 4*time.Second)
		c := call(t, customNum, "-m", "5", "-l", "5", "-r", "5")
		_ = c.wait(45 * time.Second) // 3 calls fail by design
		if err := gw.wait(10 * time.Second); err != nil {
			t.Errorf("gateway: %v", err)
		}
		invites, refused := gw.received("INVITE"), a.Refused()[authz.ReasonConcurrent]
		if invites != 2 || refused != 3 {
			t.Errorf("gateway INVITEs %d, refused %d; want 2, 3", invites, refused)
		}
		results["5 parallel calls to the custom destination, concurrent limit 2"] = fmt.Sprintf("%d reached the gateway, %d refused (concurrent_limit, SIP 503)", invites, refused)
	})
	t.Run("hunt-member-prepaid-hangup", func(t *testing.T) {
		prepaid(t, "hunt group external member (Local/L… through the route), prepaid 0.05 EUR", groupNum)
	})
}

// pricedLegs prices the CDRs the adapter made of one call as the
// daemon's pipeline does (owner stamped, the tenant's plan 0.60/min and
// the gateway's supplier plan 0.30/min on 33, per second): the call must
// be charged once, 0.01 EUR a second of the gateway's answer, on one
// leg, and cost the supplier's price on one leg, whatever channels
// (Local for a hunt member) carried it.
func pricedLegs(t *testing.T, recs []cdr.Record, tenant int64, gateway string) string {
	t.Helper()
	tf := cdrtest.NewTariffs()
	tf.SetTenant(tenant, cdrtest.Tariff("retail", "EUR", "33=0.6"))
	tf.SetGateway(gateway, cdrtest.Tariff("carrier", "EUR", "33=0.3"))
	for i := range recs {
		recs[i].TenantID = &tenant
	}
	if err := cdr.PriceRecords(context.Background(), tf, recs); err != nil {
		t.Fatal(err)
	}
	var out []string
	var charged, supplied int
	for _, r := range recs {
		desc := fmt.Sprintf("%s %s gw=%q billsec=%d", r.CallID, r.Direction, r.Gateway, r.Billsec)
		if r.Cost != nil && *r.Cost != 0 {
			charged++
			desc += " cost " + r.Cost.String()
			if want := money.Amount(r.Billsec) * money.MustParse("0.01"); *r.Cost != want {
				t.Errorf("%s: cost %s, want %s (0.01 a second)", r.CallID, r.Cost, want)
			}
		}
		if r.SupplierCost != nil && *r.SupplierCost != 0 {
			supplied++
			desc += " supplier " + r.SupplierCost.String()
		}
		out = append(out, desc)
	}
	if charged != 1 || supplied != 1 {
		t.Errorf("%d legs charged and %d with a supplier cost, want 1 and 1: %s", charged, supplied, strings.Join(out, "; "))
	}
	return strings.Join(out, "; ")
}
