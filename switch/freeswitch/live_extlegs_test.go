package freeswitch

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

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
	var group *provisioning.HuntGroup
	setup := func(t *testing.T, answers int) *livePhone {
		gw := startPhone(t, "gateway", "phone_answer.xml", "", "-s", "gw", "-m", strconv.Itoa(answers))
		g := &provisioning.Gateway{Name: "sb-live-extleg-" + stamp + "-" + strconv.Itoa(gw.port), Host: "127.0.0.1", Port: gw.port}
		liveMust(t, r.svc.CreateGateway(ctx, sc, g))
		t.Cleanup(func() { _ = r.svc.DeleteGateway(context.Background(), sc, g.ID) })
		waitFor(t, 15*time.Second, "gateway "+g.Name+" on the node", func() bool {
			return !strings.Contains(eslCommand(t, node, "api sofia status gateway "+g.Name), "Invalid Gateway")
		})
		route := &provisioning.OutboundRoute{RoutingMeta: in, Name: "fr-" + strconv.Itoa(gw.port), Patterns: []provisioning.DialPattern{"0033X."}, Strip: 2, Prepend: "+", GatewayIDs: []int64{g.ID}}
		liveMust(t, r.svc.CreateOutboundRoute(ctx, sc, route))
		t.Cleanup(func() { _ = r.svc.DeleteOutboundRoute(context.Background(), sc, route.ID) })
		group = &provisioning.HuntGroup{RoutingMeta: in, Number: "59" + strconv.Itoa(gw.port%1000), Name: "ext " + strconv.Itoa(gw.port), Strategy: provisioning.HuntSequential,
			Members: []provisioning.HuntMember{{Destination: provisioning.Destination{Kind: provisioning.DestExternal, Number: "0033155501234"}, RingSecs: 20}}}
		liveMust(t, r.svc.CreateHuntGroup(ctx, sc, group))
		t.Cleanup(func() { _ = r.svc.DeleteHuntGroup(context.Background(), sc, group.ID) })
		return gw
	}
	user := liveUser(t, 41)
	_, secret := r.account(t, user)
	caller := func(t *testing.T, name string, args ...string) *livePhone {
		return startPhone(t, name, "phone_call.xml", node.SIP, append([]string{"-s", user, "-au", user, "-ap", secret, "-key", "dest", group.Number}, args...)...)
	}

	t.Run("prepaid-member-hangup", func(t *testing.T) {
		const n = 5 // 0.05 EUR at 0.60/min, per second
		m.Prepaid, m.Funds, m.Tenant = true, money.MustParse("0.05"), authz.Limits{}
		la.use(m.New())
		calls = nil
		gw := setup(t, 1)
		c := caller(t, "prepaid caller", "-d", "20000")
		cctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		// the reservation's id is the gateway leg's uuid (origination_uuid):
		// its CDR releases it
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
		secs := la.maxSecs
		la.mu.Unlock()
		if len(calls) != 1 || calls[0].Destination != "+33155501234" || calls[0].Of == "" || calls[0].Of == calls[0].CallID {
			t.Errorf("authorized %+v, want the member's number once, as a leg of the caller's call", calls)
		}
		results["hunt group, external member, prepaid 0.05 EUR at 0.60/min per second"] = fmtS("member authorized for %v s; gateway leg's uuid = the reservation's id: %v; the node sent BYE to the gateway %.3f s after its 200 OK", secs, legUp, took.Seconds())
	})

	t.Run("concurrent-8-of-3", func(t *testing.T) {
		m.Prepaid, m.Tenant = false, authz.Limits{Concurrent: 3}
		la.use(m.New())
		gw := setup(t, 3)
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
