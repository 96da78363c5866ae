package asterisk

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// liveLCRSource is the daemon's LCR source for the live node: the rig's
// routes and the provisioning Service's GatewaysByCost over the supplier
// plans the test gives the gateways, recording each number asked for.
type liveLCRSource struct {
	mu    sync.Mutex
	svc   *provisioning.Service
	dests []string // every number asked for, as it leaves
}

func (s *liveLCRSource) OutboundRoute(ctx context.Context, sc provisioning.Scope, id int64) (*provisioning.OutboundRoute, error) {
	return s.svc.OutboundRoute(ctx, sc, id)
}

func (s *liveLCRSource) GatewaysByCost(ctx context.Context, ids []int64, number string, at time.Time) ([]provisioning.GatewayCost, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dests = append(s.dests, number)
	return s.svc.GatewaysByCost(ctx, ids, number, at)
}

// liveLCRServer serves LCRHandler under the prefix the daemon mounts it
// at (/asterisk/<name>/authz) on a loopback port.
type liveLCRServer struct {
	src  *liveLCRSource
	srv  *http.Server
	hang atomic.Bool
	url  string
}

func startLiveLCRServer(t *testing.T) *liveLCRServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	const prefix = "/asterisk/" + liveSwitch + "/authz"
	s := &liveLCRServer{src: &liveLCRSource{}, url: "http://" + ln.Addr().String() + prefix}
	h := http.StripPrefix(prefix, LCRHandler{Source: s.src})
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hang.Load() {
			<-r.Context().Done() // a stuck daemon: the CURLOPT timeout ends the wait
			return
		}
		h.ServeHTTP(w, r)
	})}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// TestLiveLCR: an outbound route ordered by cost through two gateways
// (sipp UAS on 127.0.0.5 and 127.0.0.6) on a real Asterisk whose routing
// dialplan asks the LCR endpoint with CURL(): the number gateway A rates
// cheaper goes to A, the one B rates cheaper to B, A answering 503 fails
// over to B, a number no supplier rates is refused (404) without an
// INVITE to either, and with the endpoint stuck (after the 2 s
// timeout) or closed the route dials in listed order (A first, for the
// number B is cheaper for).
func TestLiveLCR(t *testing.T) {
	requireLiveNode(t)
	if os.Getenv(envLiveDialplan) == "" {
		t.Skipf("%s is not set", envLiveDialplan)
	}
	results := map[string]string{}
	defer func() {
		for _, k := range slices.Sorted(maps.Keys(results)) {
			t.Logf("RESULT %s: %s", k, results[k])
		}
	}()
	srv := startLiveLCRServer(t)
	rr := startRoutingRigWith(t, func(o *PushOptions, svc *provisioning.Service) {
		o.LCR = LCROptions{URL: srv.url, TimeoutSecs: 2}
		srv.src.svc = svc
	})
	ctx, admin := t.Context(), provisioning.AdminScope()
	type gw struct {
		g    *provisioning.Gateway
		port int
	}
	var gws []gw
	for i, host := range []string{"127.0.0.5", "127.0.0.6"} {
		port := freeUDPPort(t)
		g := &provisioning.Gateway{Name: fmt.Sprintf("sblive-lcr-%c-%d", 'a'+i, liveUserBase), Host: host, Port: port, TenantID: &rr.tenant.ID}
		must(t, rr.svc.CreateGateway(ctx, admin, g))
		t.Cleanup(func() {
			_ = rr.pusher.Apply(context.Background(), provisioning.Change{Op: provisioning.OpDelete, Gateway: g})
		})
		waitFor(t, 10*time.Second, "gateway "+g.Name+" on the node", func() bool {
			_, err := rr.direct.Get(ctx, ObjectRef{PJSIPEndpoint, g.Name})
			return err == nil
		})
		gws = append(gws, gw{g, port})
	}
	a, b := gws[0], gws[1]
	// Supplier plans: A +331 0.010 / +332 0.030 a minute, B +331 0.020 /
	// +332 0.015 (provisioning's GatewaysByCost orders them).
	for _, sp := range []struct {
		g    *provisioning.Gateway
		deck string
	}{{a.g, "331,FR 1,,0.010,0,60,60\n332,FR 2,,0.030,0,60,60\n"}, {b.g, "331,FR 1,,0.020,0,60,60\n332,FR 2,,0.015,0,60,60\n"}} {
		tp := &provisioning.TariffPlan{TenantID: rr.tenant.ID, Name: "supplier " + sp.g.Name, Currency: "EUR", TimeZone: "UTC"}
		must(t, rr.svc.CreateTariffPlan(ctx, admin, tp))
		_, err := rr.svc.ReplaceTariffRates(ctx, admin, tp.ID, strings.NewReader("prefix,destination,group,price_per_minute,connect_fee,first_increment,next_increment\n"+sp.deck), provisioning.RateImportOptions{})
		must(t, err)
		_, err = rr.svc.SetGatewayTariffPlan(ctx, admin, sp.g.ID, &tp.ID)
		must(t, err)
	}
	must(t, rr.svc.CreateOutboundRoute(ctx, admin, &provisioning.OutboundRoute{RoutingMeta: rr.in, Name: "fr by cost", Patterns: []provisioning.DialPattern{"0033X."},
		Strip: 2, Prepend: "+", GatewayIDs: []int64{a.g.ID, b.g.ID}, Order: provisioning.RouteOrderCost}))
	// The same gateways in listed order, for the post-dial delay without
	// the LCR request.
	must(t, rr.svc.CreateOutboundRoute(ctx, admin, &provisioning.OutboundRoute{RoutingMeta: rr.in, Name: "uk listed", Patterns: []provisioning.DialPattern{"0044X."},
		Strip: 2, Prepend: "+", GatewayIDs: []int64{a.g.ID, b.g.ID}}))
	rr.settled("SB_LCR")
	p, _ := rr.phone("caller")

	const numA, numB, unrated = "0033155501234", "0033255501234", "0033955501234"
	// place calls number with gateway A playing scenA and B scenB; it
	// returns the INVITEs each got, the caller's result and the delay
	// from the caller's (authenticated) INVITE to the first gateway's.
	place := func(t *testing.T, number, scenA, scenB string) (invA, invB int, callErr error, pdd time.Duration, c *sippRun) {
		ga := startSipp(t, scenA, []string{"HOLD_MS", "500"}, "-i", a.g.Host, "-p", strconv.Itoa(a.port), "-m", "1", "-timeout", "40s")
		gb := startSipp(t, scenB, []string{"HOLD_MS", "500"}, "-i", b.g.Host, "-p", strconv.Itoa(b.port), "-m", "1", "-timeout", "40s")
		time.Sleep(300 * time.Millisecond)
		c = startSipp(t, "call_uac.xml", nil, rr.node.sip, "-s", p.user, "-au", p.user, "-ap", p.secret, "-key", "callee", number, "-key", "domain", p.domain,
			"-p", strconv.Itoa(p.port), "-m", "1", "-timeout", "30s", "-timeout_error")
		callErr = c.wait(35 * time.Second)
		time.Sleep(300 * time.Millisecond) // the ACK of a 503 reaching its gateway
		stopped(ga, gb)
		invA, invB = ga.received("INVITE"), gb.received("INVITE")
		sent := c.at(true, "INVITE ")
		var first []time.Time
		first = append(append(first, ga.at(false, "INVITE ")...), gb.at(false, "INVITE ")...)
		if len(sent) > 0 && len(first) > 0 {
			pdd = slices.MinFunc(first, func(x, y time.Time) int { return x.Compare(y) }).Sub(sent[len(sent)-1])
		}
		for _, run := range []*sippRun{ga, gb} {
			if run.received("INVITE") > 0 {
				if ruri := sippHeader(t, run, "INVITE", "INVITE "); !strings.Contains(ruri, "+"+number[2:]+"@") {
					t.Errorf("%s got %q, want the number as it leaves, +%s", run.scenario, ruri, number[2:])
				}
			}
		}
		return invA, invB, callErr, pdd, c
	}

	for _, tc := range []struct {
		name, result, number, scenA string
		wantA, wantB                int
	}{
		{"number-A-to-A", "+33 1… (A 0.010, B 0.020)", numA, "answer_uas.xml", 1, 0},
		{"number-B-to-B", "+33 2… (A 0.030, B 0.015)", numB, "answer_uas.xml", 0, 1},
		{"cheaper-503-fails-over", "+33 1…, A answers 503", numA, "unavail_uas.xml", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			invA, invB, err, pdd, _ := place(t, tc.number, tc.scenA, "answer_uas.xml")
			if invA != tc.wantA || invB != tc.wantB || err != nil {
				t.Errorf("INVITEs A %d, B %d, caller %v; want A %d, B %d, answered", invA, invB, err, tc.wantA, tc.wantB)
			}
			results[tc.result] = fmt.Sprintf("INVITEs A %d, B %d; caller answered %v; post-dial delay %v", invA, invB, err == nil, pdd.Round(time.Millisecond))
		})
	}
	t.Run("unrated-refused", func(t *testing.T) {
		invA, invB, err, _, c := place(t, unrated, "answer_uas.xml", "answer_uas.xml")
		got404 := len(c.at(false, "SIP/2.0 404"))
		if invA != 0 || invB != 0 || err == nil || got404 != 1 {
			t.Errorf("INVITEs A %d, B %d, caller %v, 404s %d; want no INVITE and the caller refused with 404", invA, invB, err, got404)
		}
		results["+33 9… (rated by neither)"] = fmt.Sprintf("INVITEs A %d, B %d; caller got %d × 404", invA, invB, got404)
	})
	srv.src.mu.Lock()
	dests := slices.Clone(srv.src.dests)
	srv.src.mu.Unlock()
	if want := []string{"+" + numA[2:], "+" + numB[2:], "+" + numA[2:], "+" + unrated[2:]}; !slices.Equal(dests, want) {
		t.Errorf("the endpoint was asked for %v, want %v", dests, want)
	}
	t.Run("post-dial-delay-cost-vs-listed", func(t *testing.T) {
		const n = 5
		var cost, listed []time.Duration
		for range n {
			for _, number := range []string{numA, "0044155501234"} {
				invA, _, err, pdd, _ := place(t, number, "answer_uas.xml", "answer_uas.xml")
				if invA != 1 || err != nil {
					t.Fatalf("%s: INVITEs A %d, caller %v; want A 1, answered", number, invA, err)
				}
				if number == numA {
					cost = append(cost, pdd)
				} else {
					listed = append(listed, pdd)
				}
			}
		}
		slices.Sort(cost)
		slices.Sort(listed)
		results["post-dial delay, median of 5"] = fmt.Sprintf("by cost (CURL /lcr) %v [%v … %v], listed %v [%v … %v]",
			cost[n/2].Round(100*time.Microsecond), cost[0].Round(100*time.Microsecond), cost[n-1].Round(100*time.Microsecond),
			listed[n/2].Round(100*time.Microsecond), listed[0].Round(100*time.Microsecond), listed[n-1].Round(100*time.Microsecond))
	})
	t.Run("endpoint-stuck-listed-order", func(t *testing.T) {
		srv.hang.Store(true) // the daemon is stuck: the CURLOPT timeout (2 s)
		invA, invB, err, pdd, _ := place(t, numB, "answer_uas.xml", "answer_uas.xml")
		srv.hang.Store(false)
		if invA != 1 || invB != 0 || err != nil || pdd < 1500*time.Millisecond || pdd > 3500*time.Millisecond {
			t.Errorf("INVITEs A %d, B %d, caller %v, after %v; want the listed order after the 2 s timeout: A 1, B 0, answered", invA, invB, err, pdd)
		}
		results["+33 2…, endpoint stuck"] = fmt.Sprintf("listed order: INVITEs A %d, B %d; caller answered %v; post-dial delay %v", invA, invB, err == nil, pdd.Round(time.Millisecond))
	})
	t.Run("endpoint-closed-listed-order", func(t *testing.T) {
		_ = srv.srv.Close() // the daemon died: connection refused
		invA, invB, err, pdd, _ := place(t, numB, "answer_uas.xml", "answer_uas.xml")
		if invA != 1 || invB != 0 || err != nil {
			t.Errorf("INVITEs A %d, B %d, caller %v; want the listed order: A 1, B 0, answered", invA, invB, err)
		}
		results["+33 2…, endpoint closed"] = fmt.Sprintf("listed order: INVITEs A %d, B %d; caller answered %v; post-dial delay %v", invA, invB, err == nil, pdd.Round(time.Millisecond))
	})
}
