package freeswitch

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz/authztest"
)

// liveGateway is a sipp UAS behind a provisioned gateway of the live
// node; its scenario can be changed between calls.
type liveGateway struct {
	id   int64
	name string
	uas  *livePhone
}

// lcrGateway provisions a gateway to a sipp UAS running scenario and
// waits until the node has it.
func (r *liveRig) lcrGateway(t *testing.T, name, scenario string) *liveGateway {
	t.Helper()
	ctx, sc := context.Background(), provisioning.AdminScope()
	uas := startPhone(t, "gateway "+name+" "+scenario, scenario, "", "-s", "gw")
	g := &provisioning.Gateway{Name: "sb-live-lcr-" + name + "-" + strconv.FormatInt(time.Now().Unix()%100000, 10), Host: "127.0.0.1", Port: uas.port}
	liveMust(t, r.svc.CreateGateway(ctx, sc, g))
	t.Cleanup(func() { _ = r.svc.DeleteGateway(context.Background(), sc, g.ID) })
	waitFor(t, 15*time.Second, "gateway "+g.Name+" on the node", func() bool {
		return !strings.Contains(eslCommand(t, r.node, "api sofia status gateway "+g.Name), "Invalid Gateway")
	})
	return &liveGateway{id: g.ID, name: g.Name, uas: uas}
}

// runRoutingFallback keeps the routing fallback file in the node's
// routing directory (closed: a fail-closed node's) until the test ends,
// when it is removed and reloaded, and waits until the file holds want
// and the node has read it.
func (r *liveRig) runRoutingFallback(t *testing.T, closed bool, want string) {
	t.Helper()
	rf := NewRoutingFallback(RoutingFallbackConfig{Node: r.node.Name, Dir: filepath.Dir(r.node.FallbackDir), Plans: ServicePlans(r.svc), Commander: r.a,
		AuthzFailClosed: closed, Keeper: genfile.Config{Debounce: 50 * time.Millisecond}})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rf.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
		os.Remove(rf.Path())
		eslCommand(t, r.node, "api reloadxml")
	})
	waitFor(t, 10*time.Second, "the fallback file", func() bool {
		b, _ := os.ReadFile(rf.Path())
		return strings.Contains(string(b), want)
	})
	time.Sleep(time.Second) // reloadxml
}

// restart runs scenario (one call) on the gateway's port.
func (g *liveGateway) restart(t *testing.T, scenario string) {
	t.Helper()
	_ = g.uas.cmd.Process.Kill()
	<-g.uas.done
	for udpBound(g.uas.port) {
		time.Sleep(10 * time.Millisecond)
	}
	g.uas = startPhoneOn(t, "gateway "+g.name+" "+scenario, g.uas.port, scenario, "", "-s", "gw")
}

func (g *liveGateway) invites() int { return len(sippTimes(g.uas, false, "INVITE ")) }

// serviceOrderer is the daemon's orderer, the provisioning Service's
// GatewaysByCost over the gateways' supplier plans, with a failure to
// inject and a count of the calls.
type serviceOrderer struct {
	svc   *provisioning.Service
	mu    sync.Mutex
	err   error
	asked int
}

func (o *serviceOrderer) GatewaysByCost(ctx context.Context, ids []int64, number string, at time.Time) ([]provisioning.GatewayCost, error) {
	o.mu.Lock()
	o.asked++
	err := o.err
	o.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return o.svc.GatewaysByCost(ctx, ids, number, at)
}

func (o *serviceOrderer) fail(err error) { o.mu.Lock(); o.err = err; o.mu.Unlock() }
func (o *serviceOrderer) count() int     { o.mu.Lock(); defer o.mu.Unlock(); return o.asked }

// supplierPlan gives gateway id a supplier plan of the tenant with the
// deck's rates (CSV prefix,price_per_minute lines), removed at the end.
func (r *liveRig) supplierPlan(t *testing.T, tenant, id int64, name, deck string) {
	t.Helper()
	ctx, sc := context.Background(), provisioning.AdminScope()
	p := &provisioning.TariffPlan{TenantID: tenant, Name: name + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10), Currency: "EUR", TimeZone: "UTC"}
	liveMust(t, r.svc.CreateTariffPlan(ctx, sc, p))
	_, err := r.svc.ReplaceTariffRates(ctx, sc, p.ID, strings.NewReader("prefix,price_per_minute\n"+deck), provisioning.RateImportOptions{})
	liveMust(t, err)
	_, err = r.svc.SetGatewayTariffPlan(ctx, sc, id, &p.ID)
	liveMust(t, err)
	t.Cleanup(func() {
		_, _ = r.svc.SetGatewayTariffPlan(context.Background(), sc, id, nil)
		_ = r.svc.DeleteTariffPlan(context.Background(), sc, p.ID)
	})
}

// TestLiveLeastCost: a least-cost route with two gateways (sipp UASes
// on two ports) on a real FreeSWITCH, ordered per call by the daemon's
// orderer (the provisioning Service over supplier plans on the
// gateways): the number each gateway is cheaper for goes to it, the
// other gateway not even asked; the cheaper one answering 503 fails over
// to the other; a number neither supplier rates is refused (404); the
// orderer failing gives the listed order. No authorization on the node.
func TestLiveLeastCost(t *testing.T) {
	node := requireLiveNode(t)
	fo := &serviceOrderer{}
	r := newLiveRig(t, node, withRouting(), func(r *liveRig, c *XMLCurlConfig) { fo.svc = r.svc; c.Orderer, c.Node = fo, node.Name })
	r.waitConnected(t)
	ctx, sc := context.Background(), provisioning.AdminScope()
	results := map[string]string{}
	t.Cleanup(func() {
		for k, v := range results {
			t.Logf("| %s | %s |", k, v)
		}
	})
	x, y := r.lcrGateway(t, "x", "phone_answer.xml"), r.lcrGateway(t, "y", "phone_answer.xml")
	rt := &provisioning.OutboundRoute{RoutingMeta: provisioning.RoutingMeta{TenantID: r.tenantID(t)}, Name: "lcr", Patterns: []provisioning.DialPattern{"00X."},
		Strip: 2, Prepend: "+", GatewayIDs: []int64{x.id, y.id}, Order: provisioning.RouteOrderCost}
	liveMust(t, r.svc.CreateOutboundRoute(ctx, sc, rt))
	t.Cleanup(func() { _ = r.svc.DeleteOutboundRoute(context.Background(), sc, rt.ID) })
	// y is cheaper for +44…, x for +33…; nobody rates +49…
	r.supplierPlan(t, r.tenantID(t), x.id, "supplier-x", "44,0.020\n33,0.010\n")
	r.supplierPlan(t, r.tenantID(t), y.id, "supplier-y", "44,0.010\n33,0.020\n")
	user := liveUser(t, 42)
	_, secret := r.account(t, user)
	call := func(t *testing.T, number string) (*livePhone, error) {
		c := startPhone(t, "caller "+number, "phone_call.xml", node.SIP, "-s", user, "-au", user, "-ap", secret, "-key", "dest", number, "-d", "500")
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return c, c.result(cctx)
	}
	for _, tc := range []struct {
		name, number string
		err          error
		scenX, scenY string
		wantX, wantY int // INVITEs each gateway got
		refused      bool
	}{
		{name: "y cheaper", number: "0044201234567", scenX: "phone_answer.xml", scenY: "phone_answer.xml", wantY: 1},
		{name: "x cheaper", number: "0033155501234", scenX: "phone_answer.xml", scenY: "phone_answer.xml", wantX: 1},
		{name: "y cheaper answers 503: failover to x", number: "0044201234567", scenX: "phone_answer.xml", scenY: "gateway_503.xml", wantX: 1, wantY: 1},
		{name: "nobody rates it: refused", number: "0049301234567", scenX: "phone_answer.xml", scenY: "phone_answer.xml", refused: true},
		{name: "orderer fails: listed order (x)", number: "0044201234567", err: errors.New("database down"), scenX: "phone_answer.xml", scenY: "phone_answer.xml", wantX: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fo.fail(tc.err)
			x.restart(t, tc.scenX)
			y.restart(t, tc.scenY)
			start := time.Now()
			c, err := call(t, tc.number)
			took := time.Since(start)
			time.Sleep(200 * time.Millisecond) // a late INVITE would show
			gotX, gotY := x.invites(), y.invites()
			if gotX != tc.wantX || gotY != tc.wantY {
				t.Errorf("INVITEs: x %d, y %d; want %d, %d", gotX, gotY, tc.wantX, tc.wantY)
			}
			got404 := len(sippTimes(c, false, "SIP/2.0 404")) > 0
			switch {
			case tc.refused && (err == nil || !got404):
				t.Errorf("caller: %v, 404 received %v; want the call refused 404", err, got404)
			case !tc.refused && err != nil:
				t.Errorf("caller: %v", err)
			}
			note := fmtS("x %d INVITE, y %d; caller done in %.2f s", gotX, gotY, took.Seconds())
			if tc.wantX == 1 && tc.wantY == 1 {
				xs, ys := sippTimes(x.uas, false, "INVITE "), sippTimes(y.uas, false, "INVITE ")
				if len(xs) == 1 && len(ys) == 1 {
					note += fmtS("; x's INVITE %d ms after y's 503'd one", xs[0].Sub(ys[0]).Milliseconds())
				}
			}
			if tc.refused {
				note = fmtS("caller got 404 in %.2f s; no INVITE to either gateway (x %d, y %d)", took.Seconds(), gotX, gotY)
			}
			results[tc.name] = note
		})
	}

	t.Run("switchboard unreachable: the fallback file's listed order", func(t *testing.T) {
		if node.FallbackDir == "" {
			t.Skip("needs fallback_dir in " + liveEnv)
		}
		fo.fail(nil) // y would be cheaper
		r.runRoutingFallback(t, false, "sb-r"+strconv.FormatInt(rt.ID, 10)+"g0")
		// registered while Switchboard is up: the node keeps the phone's
		// cacheable directory entry for its INVITE
		startPhone(t, user+" register", "phone_register.xml", node.SIP, "-s", user, "-au", user, "-ap", secret,
			"-key", "contact_port", strconv.Itoa(freeUDPPort(t)), "-d", "120000")
		waitFor(t, 10*time.Second, user+" registered", func() bool { return len(r.registered(user)) >= 1 })
		x.restart(t, "phone_answer.xml")
		y.restart(t, "phone_answer.xml")
		r.stopHTTP()
		defer r.startHTTP(t)
		asked := fo.count()
		_, err := call(t, "0044201234567")
		time.Sleep(200 * time.Millisecond)
		if err != nil || x.invites() != 1 || y.invites() != 0 || fo.count() != asked {
			t.Errorf("caller %v; INVITEs x %d, y %d; orderer asked %d times; want the call through x (listed), y none, not asked", err, x.invites(), y.invites(), fo.count()-asked)
		}
		results["Switchboard's endpoints stopped (fallback file)"] = fmtS("x %d INVITE, y %d: the listed order", x.invites(), y.invites())
	})
}

// TestLiveAuthzAnsweredCaller: a carrier calls a DID answered by an IVR
// menu whose timeout dials out through a least-cost route, with
// authorization on: the caller's channel is answered before the call
// leaves, and the prepaid limit still hangs the call up at the computed
// second after the gateway's answer (it never did while the limit was
// the caller's execute_on_answer). The sb-o lookup's request is written
// to SWITCHBOARD_TEST_FREESWITCH_RECORD when set (how
// testdata/xml-curl/dialplan-answered.form was made).
func TestLiveAuthzAnsweredCaller(t *testing.T) {
	node := requireLiveNode(t)
	la := &liveAuthz{}
	m := &authztest.Money{Prepaid: true, Funds: money.MustParse("0.05")} // 5 s at 0.60/min, per second
	var err error
	m.Tariff, err = authztest.FranceTariff()
	liveMust(t, err)
	la.use(m.New())
	fo := &fakeOrderer{}
	dir := t.TempDir() // sounds_dir: FreeSWITCH on this machine reads it
	r := newLiveRig(t, node, withRouting(), withSounds(t, dir), func(r *liveRig, c *XMLCurlConfig) {
		c.Authorizer, c.Orderer, c.Node = la, fo, node.Name
	})
	r.waitConnected(t)
	ctx, sc := context.Background(), provisioning.AdminScope()
	tenant := r.tenantID(t)
	x, y := r.lcrGateway(t, "ax", "phone_answer.xml"), r.lcrGateway(t, "ay", "phone_answer.xml")
	rt := &provisioning.OutboundRoute{RoutingMeta: provisioning.RoutingMeta{TenantID: tenant}, Name: "lcr", Patterns: []provisioning.DialPattern{"00X."},
		Strip: 2, Prepend: "+", GatewayIDs: []int64{x.id, y.id}, Order: provisioning.RouteOrderCost}
	liveMust(t, r.svc.CreateOutboundRoute(ctx, sc, rt))
	t.Cleanup(func() { _ = r.svc.DeleteOutboundRoute(context.Background(), sc, rt.ID) })
	fo.set(map[string]map[int64]string{"+33155501234": {x.id: "0.02", y.id: "0.01"}}, nil, false) // y

	// a half-second greeting, one play, 1 s to press a key
	clip := &audio.Clip{Rate: 8000, Samples: make([]int16, 4000)}
	for i := range clip.Samples {
		clip.Samples[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var wav bytes.Buffer
	liveMust(t, clip.WriteWAV(&wav))
	greeting := &provisioning.Sound{TenantID: tenant, Name: "short"}
	liveMust(t, r.svc.CreateSound(ctx, sc, greeting, &wav))
	waitFor(t, 5*time.Second, "the greeting in sounds_dir", func() bool {
		_, err := os.Stat(filepath.Join(dir, SoundLayout(*greeting, 8000)))
		return err == nil
	})
	repeats := 0
	menu := &provisioning.IVRMenu{RoutingMeta: provisioning.RoutingMeta{TenantID: tenant}, Name: "out", GreetingSoundID: greeting.ID, TimeoutSecs: 1, Repeats: &repeats,
		Options: []provisioning.IVROption{{Digit: "1", Destination: provisioning.Destination{Kind: provisioning.DestBusy}}},
		Timeout: provisioning.Destination{Kind: provisioning.DestExternal, Number: "0033155501234"}}
	liveMust(t, r.svc.CreateIVRMenu(ctx, sc, menu))
	n := "+1555" + strconv.FormatInt(time.Now().UnixMilli()%1000000, 10)
	liveMust(t, r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: tenant, Number: n, Destination: &provisioning.Destination{Kind: provisioning.DestIVR, ID: menu.ID}}))

	carrier := startPhone(t, "carrier "+n, "carrier_call.xml", profileAddress(t, node, "external"), "-s", "carrier", "-key", "dest", n, "-d", "20000")
	cctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	if err := y.uas.result(cctx); err != nil {
		t.Fatalf("gateway y: %v", err)
	}
	_ = carrier.result(cctx) // the node hung up before it did
	answered := sippTimes(carrier, false, "SIP/2.0 200")
	invite := sippTimes(y.uas, false, "INVITE ")
	if len(answered) == 0 || len(invite) != 1 {
		t.Fatalf("carrier 200s %d; gateway y: %d INVITEs", len(answered), len(invite))
	}
	if x.invites() != 0 {
		t.Errorf("gateway x (dearer) got %d INVITEs", x.invites())
	}
	if !invite[0].After(answered[0]) {
		t.Errorf("the gateway's INVITE (%s) came before the caller was answered (%s)", invite[0], answered[0])
	}
	const secs = 5
	took := hungUpAfter(t, y.uas, secs)
	la.mu.Lock()
	maxSecs := la.maxSecs
	la.mu.Unlock()
	if len(maxSecs) != 1 || maxSecs[0] != secs {
		t.Errorf("authorized %v, want [%d]", maxSecs, secs)
	}
	lookups := r.xml.find(func(p loggedPost) bool { return p.form.Get("Hunt-Destination-Number") == "sb-o0033155501234" })
	if len(lookups) != 1 || lookups[0].form.Get("Answer-State") != "answered" {
		t.Errorf("sb-o lookups %d, Answer-State %q; want 1, answered", len(lookups), firstPost(lookups).form.Get("Answer-State"))
	}
	if d := os.Getenv(liveRecordEnv); d != "" && len(lookups) == 1 {
		liveMust(t, os.WriteFile(filepath.Join(d, "dialplan-answered.form"), []byte(lookups[0].form.Encode()), 0o644))
	}
	t.Logf("| caller answered by an IVR menu 0.5 s + 1 s, then the least-cost route, prepaid 0.05 EUR at 0.60/min | gateway INVITE %.2f s after the caller's 200 OK; authorized for %v s; BYE to the gateway %.3f s after its 200 OK |",
		invite[0].Sub(answered[0]).Seconds(), maxSecs, took.Seconds())
}

// firstPost returns the first post, or a zero one.
func firstPost(ps []loggedPost) loggedPost {
	if len(ps) == 0 {
		return loggedPost{}
	}
	return ps[0]
}
