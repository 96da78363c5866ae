package freeswitch

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
	"github.com/switchboard-voip/switchboard/provisioning/authz/authztest"
)

// liveAuthz is the authorizer the live node asks, swapped per case, with
// what it answered counted.
type liveAuthz struct {
	mu      sync.Mutex
	a       *authz.Authorizer
	allowed int
	refused map[authz.Reason]int
	maxSecs []int
}

func (l *liveAuthz) Authorize(ctx context.Context, c authz.Call) (authz.Decision, error) {
	l.mu.Lock()
	a := l.a
	l.mu.Unlock()
	d, err := a.Authorize(ctx, c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if d.Allowed {
		l.allowed++
		l.maxSecs = append(l.maxSecs, d.MaxSeconds)
	} else {
		l.refused[d.Reason]++
	}
	return d, err
}

func (l *liveAuthz) use(a *authz.Authorizer) {
	l.mu.Lock()
	l.a, l.allowed, l.refused, l.maxSecs = a, 0, map[authz.Reason]int{}, nil
	l.mu.Unlock()
}

// sippTimes returns when a sipp process first sent or received (sent
// true/false) a message starting with first (e.g. "SIP/2.0 200 OK",
// "BYE "), from its -trace_msg log.
func sippTimes(p *livePhone, sent bool, first string) []time.Time {
	var out []time.Time
	lines := strings.Split(sippMessages(p), "\n")
	dir := "message received"
	if sent {
		dir = "message sent"
	}
	for i := 0; i+3 < len(lines); i++ {
		rest, ok := strings.CutPrefix(lines[i], "----------------------------------------------- ")
		if !ok || !strings.Contains(lines[i+1], dir) {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(rest), time.Local)
		if err != nil {
			continue
		}
		for j := i + 2; j < len(lines) && j < i+5; j++ {
			if l := strings.TrimSpace(lines[j]); l != "" {
				if strings.HasPrefix(l, first) {
					out = append(out, at)
				}
				break
			}
		}
	}
	return out
}

// hungUpAfter checks that gateway gw got the node's BYE secs ± 1 s after
// the 200 OK it sent, and returns how long after.
func hungUpAfter(t *testing.T, gw *livePhone, secs int) time.Duration {
	t.Helper()
	ok, bye := sippTimes(gw, true, "SIP/2.0 200 OK"), sippTimes(gw, false, "BYE ")
	if len(ok) == 0 || len(bye) != 1 {
		t.Fatalf("gateway log: %d 200 OK sent, %d BYE received", len(ok), len(bye))
	}
	took := bye[0].Sub(ok[0])
	if want := time.Duration(secs) * time.Second; took < want-time.Second || took > want+time.Second {
		t.Errorf("hung up %.3f s after the gateway's answer, want %d ± 1 s", took.Seconds(), secs)
	}
	return took
}

// TestLiveAuthz: outbound calls through a gateway (a sipp UAS) on a real
// FreeSWITCH, authorized in the xml_curl answer: 20 parallel calls
// against a concurrent limit of 5, a prepaid call hung up when its money
// runs out, and both fail policies with Switchboard's endpoints stopped
// (the fallback file answers).
func TestLiveAuthz(t *testing.T) {
	node := requireLiveNode(t)
	la := &liveAuthz{}
	m := &authztest.Money{}
	var err error
	m.Tariff, err = authztest.FranceTariff()
	liveMust(t, err)
	r := newLiveRig(t, node, withRouting(), func(r *liveRig, c *XMLCurlConfig) { c.Authorizer, c.Node = la, node.Name })
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
	// gateway is a sipp UAS answering calls calls, behind a provisioned
	// gateway and a route 0033… → +33….
	var route *provisioning.OutboundRoute
	gateway := func(t *testing.T, calls int) *livePhone {
		gw := startPhone(t, "gateway", "phone_answer.xml", "", "-s", "gw", "-m", strconv.Itoa(calls))
		g := &provisioning.Gateway{Name: "sb-live-authz-" + stamp + "-" + strconv.Itoa(gw.port), Host: "127.0.0.1", Port: gw.port}
		liveMust(t, r.svc.CreateGateway(ctx, sc, g))
		t.Cleanup(func() { _ = r.svc.DeleteGateway(context.Background(), sc, g.ID) })
		waitFor(t, 15*time.Second, "gateway "+g.Name+" on the node", func() bool {
			return !strings.Contains(eslCommand(t, node, "api sofia status gateway "+g.Name), "Invalid Gateway")
		})
		if route != nil {
			_ = r.svc.DeleteOutboundRoute(ctx, sc, route.ID)
		}
		route = &provisioning.OutboundRoute{RoutingMeta: in, Name: "fr-" + strconv.Itoa(gw.port), Patterns: []provisioning.DialPattern{"0033X."}, Strip: 2, Prepend: "+", GatewayIDs: []int64{g.ID}}
		liveMust(t, r.svc.CreateOutboundRoute(ctx, sc, route))
		t.Cleanup(func() { _ = r.svc.DeleteOutboundRoute(context.Background(), sc, route.ID) })
		return gw
	}
	user := liveUser(t, 40)
	_, secret := r.account(t, user)
	caller := func(t *testing.T, name string, args ...string) *livePhone {
		return startPhone(t, name, "phone_call.xml", node.SIP, append([]string{"-s", user, "-au", user, "-ap", secret, "-key", "dest", "0033155501234"}, args...)...)
	}

	t.Run("concurrent-20-of-5", func(t *testing.T) {
		m.Prepaid, m.Tenant = false, authz.Limits{Concurrent: 5}
		la.use(m.New())
		gw := gateway(t, 5)
		c := caller(t, "20 callers", "-m", "20", "-l", "20", "-r", "20", "-d", "6000")
		cctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		_ = c.result(cctx) // 15 of its calls fail by design
		if err := gw.result(cctx); err != nil {
			t.Errorf("gateway: %v", err)
		}
		invites := len(sippTimes(gw, false, "INVITE "))
		la.mu.Lock()
		allowed, refused := la.allowed, la.refused[authz.ReasonConcurrent]
		la.mu.Unlock()
		if allowed != 5 || refused != 15 || invites != 5 {
			t.Errorf("allowed %d, refused %d, gateway INVITEs %d; want 5, 15, 5", allowed, refused, invites)
		}
		results["20 parallel calls, concurrent limit 5"] = fmtS("%d authorized, %d refused (concurrent_limit), %d INVITEs reached the gateway, all 5 answered and completed", allowed, refused, invites)
	})

	t.Run("prepaid-hangup", func(t *testing.T) {
		const n = 5 // 0.05 EUR at 0.60/min, per second
		m.Prepaid, m.Funds, m.Tenant = true, money.MustParse("0.05"), authz.Limits{}
		la.use(m.New())
		gw := gateway(t, 1)
		c := caller(t, "prepaid caller", "-d", "20000")
		cctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		if err := gw.result(cctx); err != nil {
			t.Fatalf("gateway: %v", err)
		}
		_ = c.result(cctx) // the node hung up before it did
		took := hungUpAfter(t, gw, n)
		la.mu.Lock()
		secs := la.maxSecs
		la.mu.Unlock()
		results["prepaid, 0.05 EUR at 0.60/min per second"] = fmtS("authorized for %v s; the node sent BYE to the gateway %.3f s after its 200 OK", secs, took.Seconds())
	})

	t.Run("fail-policies", func(t *testing.T) {
		if node.FallbackDir == "" {
			t.Skip("needs fallback_dir in " + liveEnv)
		}
		for _, closed := range []bool{false, true} {
			name := map[bool]string{false: "fail-open", true: "fail-closed"}[closed]
			t.Run(name, func(t *testing.T) {
				m.Prepaid, m.Tenant = false, authz.Limits{}
				la.use(m.New())
				gw := gateway(t, 1)
				r.runRoutingFallback(t, closed, "sb-route-"+strconv.FormatInt(route.ID, 10))
				// The phone registers while Switchboard is up: FreeSWITCH
				// keeps its cacheable directory entry (CacheMS), as for a
				// phone registered before an outage; else the INVITE would
				// be refused 403 for want of credentials, whatever the policy.
				startPhone(t, user+" register", "phone_register.xml", node.SIP, "-s", user, "-au", user, "-ap", secret,
					"-key", "contact_port", strconv.Itoa(freeUDPPort(t)), "-d", "120000")
				waitFor(t, 10*time.Second, user+" registered", func() bool { return len(r.registered(user)) >= 1 })
				r.stopHTTP()
				defer r.startHTTP(t)
				c := caller(t, name+" caller", "-d", "1000")
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				callErr := c.result(cctx)
				invites := len(sippTimes(gw, false, "INVITE "))
				switch {
				case !closed && (invites != 1 || callErr != nil):
					t.Errorf("fail-open: gateway INVITEs %d, caller %v; want the call through", invites, callErr)
				case closed && (invites != 0 || callErr == nil || len(sippTimes(c, false, "SIP/2.0 503")) == 0):
					t.Errorf("fail-closed: gateway INVITEs %d, caller %v; want the call refused with 503 (NORMAL_TEMPORARY_FAILURE)", invites, callErr)
				}
				results[name+", Switchboard's HTTP endpoints stopped"] = fmtS("gateway INVITEs %d; caller: %v, 503 received %d", invites, callErr, len(sippTimes(c, false, "SIP/2.0 503")))
			})
		}
	})
}
