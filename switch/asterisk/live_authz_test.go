package asterisk

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
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

// liveAuthzServer is the daemon's authorization endpoint for the live
// node, over a swappable authorizer; hang makes it accept requests and
// never answer (a daemon that is stuck), stop closes it (one that died).
type liveAuthzServer struct {
	mu   sync.Mutex
	a    *authz.Authorizer
	hang bool
	srv  *http.Server
	url  string
}

func (s *liveAuthzServer) cur() *authz.Authorizer { s.mu.Lock(); defer s.mu.Unlock(); return s.a }
func (s *liveAuthzServer) Authorize(ctx context.Context, c authz.Call) (authz.Decision, error) {
	return s.cur().Authorize(ctx, c)
}
func (s *liveAuthzServer) Release(sw, id string, billsec int) error {
	return s.cur().Release(sw, id, billsec)
}

func startLiveAuthzServer(t *testing.T) *liveAuthzServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s := &liveAuthzServer{url: "http://" + ln.Addr().String() + "/authz"}
	h := http.StripPrefix("/authz", authz.Handler{A: s})
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		hang := s.hang
		s.mu.Unlock()
		if hang {
			<-r.Context().Done()
			return
		}
		h.ServeHTTP(w, r)
	})}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// at returns when sipp first sent (sent) or received a message
// starting with first, from its -trace_msg log.
func (s *sippRun) at(sent bool, first string) []time.Time {
	files, _ := filepath.Glob(filepath.Join(s.dir, "*_messages.log"))
	var out []time.Time
	dir := map[bool]string{true: "message sent", false: "message received"}[sent]
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.Split(string(b), "\n")
		for i := 0; i+2 < len(lines); i++ {
			rest, ok := strings.CutPrefix(lines[i], "----------------------------------------------- ")
			if !ok || !strings.Contains(lines[i+1], dir) {
				continue
			}
			at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(rest), time.Local)
			if err != nil {
				continue
			}
			for _, l := range lines[i+2:] {
				if l = strings.TrimSpace(l); l != "" {
					if strings.HasPrefix(l, first) {
						out = append(out, at)
					}
					break
				}
			}
		}
	}
	return out
}

// TestLiveAuthz: outbound calls through a gateway (a sipp UAS) on a real
// Asterisk whose routing dialplan asks the authorization endpoint with
// CURL(): 20 parallel calls against a concurrent limit of 5, a prepaid
// call hung up when its money runs out (Dial S()), fail-open with the
// endpoint closed (connection refused) and fail-closed with it stuck
// (the CURLOPT timeout).
func TestLiveAuthz(t *testing.T) {
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
	const dest = "0033155501234"

	// rig starts the routing rig with authorization on (policy closed),
	// a gateway at 127.0.0.5 and a route 0033… → +33… through it, and a
	// registered phone.
	rig := func(t *testing.T, closed bool) (*routingRig, *liveAuthzServer, int, livePhone) {
		srv := startLiveAuthzServer(t)
		rr := startRoutingRigWith(t, func(o *PushOptions, _ *provisioning.Service) {
			o.Authz = AuthzOptions{URL: srv.url, Switch: liveSwitch, FailClosed: closed, TimeoutSecs: 2}
		})
		ctx, admin := t.Context(), provisioning.AdminScope()
		port := freeUDPPort(t)
		g := &provisioning.Gateway{Name: fmt.Sprintf("sblive-authz-%d-%d", liveUserBase, port), Host: "127.0.0.5", Port: port, TenantID: &rr.tenant.ID}
		must(t, rr.svc.CreateGateway(ctx, admin, g))
		t.Cleanup(func() {
			_ = rr.pusher.Apply(context.Background(), provisioning.Change{Op: provisioning.OpDelete, Gateway: g})
		})
		waitFor(t, 10*time.Second, "the gateway on the node", func() bool {
			_, err := rr.direct.Get(ctx, ObjectRef{PJSIPEndpoint, g.Name})
			return err == nil
		})
		must(t, rr.svc.CreateOutboundRoute(ctx, admin, &provisioning.OutboundRoute{RoutingMeta: rr.in, Name: "fr", Patterns: []provisioning.DialPattern{"0033X."},
			Strip: 2, Prepend: "+", GatewayIDs: []int64{g.ID}}))
		rr.settled("SB_AUTHZ")
		p, _ := rr.phone("caller")
		return rr, srv, port, p
	}
	gateway := func(t *testing.T, port, calls int, hold time.Duration) *sippRun {
		s := startSipp(t, "answer_uas.xml", []string{"HOLD_MS", strconv.FormatInt(hold.Milliseconds(), 10)}, "-i", "127.0.0.5", "-p", strconv.Itoa(port),
			"-m", strconv.Itoa(calls), "-timeout", "40s", "-timeout_error")
		time.Sleep(300 * time.Millisecond)
		return s
	}
	call := func(t *testing.T, rr *routingRig, p livePhone, args ...string) *sippRun {
		return startSipp(t, "call_uac.xml", nil, append([]string{rr.node.sip, "-s", p.user, "-au", p.user, "-ap", p.secret, "-key", "callee", dest, "-key", "domain", p.domain,
			"-p", strconv.Itoa(p.port), "-timeout", "40s", "-timeout_error"}, args...)...)
	}

	t.Run("open", func(t *testing.T) {
		rr, srv, port, p := rig(t, false)

		t.Run("concurrent-20-of-5", func(t *testing.T) {
			m.Prepaid, m.Tenant = false, authz.Limits{Concurrent: 5}
			a := m.New()
			srv.mu.Lock()
			srv.a = a
			srv.mu.Unlock()
			gw := gateway(t, port, 5, 4*time.Second)
			c := call(t, rr, p, "-m", "20", "-l", "20", "-r", "20")
			_ = c.wait(45 * time.Second) // 15 calls fail by design
			if err := gw.wait(10 * time.Second); err != nil {
				t.Errorf("gateway: %v", err)
			}
			invites, refused := gw.received("INVITE"), a.Refused()[authz.ReasonConcurrent]
			if invites != 5 || refused != 15 || a.Live(rr.tenant.ID, 0) != 5 {
				t.Errorf("gateway INVITEs %d, refused %d, reserved %d; want 5, 15, 5", invites, refused, a.Live(rr.tenant.ID, 0))
			}
			results["20 parallel calls, concurrent limit 5"] = fmt.Sprintf("%d reached the gateway and were answered, %d refused (concurrent_limit, SIP 503)", invites, refused)
		})

		t.Run("prepaid-hangup", func(t *testing.T) {
			const n = 5
			m.Prepaid, m.Funds, m.Tenant = true, money.MustParse("0.05"), authz.Limits{}
			srv.mu.Lock()
			srv.a = m.New()
			srv.mu.Unlock()
			gw := gateway(t, port, 1, 20*time.Second)
			c := call(t, rr, p, "-m", "1")
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
			results["prepaid, 0.05 EUR at 0.60/min per second (S(5))"] = fmt.Sprintf("the node sent BYE to the gateway %.3f s after its 200 OK", took.Seconds())
		})

		t.Run("fail-open-refused", func(t *testing.T) {
			_ = srv.srv.Close() // the daemon died: connection refused
			gw := gateway(t, port, 1, time.Second)
			c := call(t, rr, p, "-m", "1")
			err := c.wait(30 * time.Second)
			if gw.received("INVITE") != 1 || err != nil {
				t.Errorf("fail-open: gateway INVITEs %d, caller %v; want the call through", gw.received("INVITE"), err)
			}
			results["fail-open, endpoint closed (connection refused)"] = fmt.Sprintf("gateway INVITEs %d, caller %v", gw.received("INVITE"), err)
		})
	})

	t.Run("closed", func(t *testing.T) {
		rr, srv, port, p := rig(t, true)
		srv.mu.Lock()
		srv.hang = true // the daemon is stuck: the CURLOPT timeout (2 s)
		srv.mu.Unlock()
		gw := gateway(t, port, 1, time.Second)
		start := time.Now()
		c := call(t, rr, p, "-m", "1")
		err := c.wait(30 * time.Second)
		took := time.Since(start)
		got503 := len(c.at(false, "SIP/2.0 503"))
		if gw.received("INVITE") != 0 || err == nil || got503 != 1 {
			t.Errorf("fail-closed: gateway INVITEs %d, caller %v, 503s %d; want the call refused with 503", gw.received("INVITE"), err, got503)
		}
		results["fail-closed, endpoint stuck (CURL timeout 2 s)"] = fmt.Sprintf("gateway INVITEs %d, caller refused with %d × 503 after %.1f s", gw.received("INVITE"), got503, took.Seconds())
	})
}
