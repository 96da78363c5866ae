package asterisk

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/soundfiles"
)

// routingRig is a Service on SQLite whose sinks are the live rig's
// pusher and a DialplanFile with Plans on the node's generated file: the
// daemon's wiring of an Asterisk node with routing: true.
type routingRig struct {
	*liveRig
	t      *testing.T
	svc    *provisioning.Service
	tenant *provisioning.Tenant
	dom    *provisioning.Domain
	dp     *DialplanFile
	path   string
	sounds string // the node's sounds_dir, kept by a soundfiles keeper
	stop   context.CancelFunc
	done   chan struct{}
	in     provisioning.RoutingMeta
	seq    int
}

// rigSink hands the Service's changes to the pusher, and keeps the rig's
// desired accounts (its reconcile on connect) in step.
type rigSink struct{ r *liveRig }

func (s rigSink) Apply(ctx context.Context, c provisioning.Change) error {
	if c.Account != nil {
		s.r.mu.Lock()
		if c.Op == provisioning.OpDelete {
			delete(s.r.desired, c.Account.ID)
		} else {
			s.r.desired[c.Account.ID] = *c.Account
		}
		s.r.mu.Unlock()
	}
	return s.r.pusher.Apply(ctx, c)
}

func startRoutingRig(t *testing.T) *routingRig { return startRoutingRigWith(t, nil) }

// startRoutingRigWith is startRoutingRig with tune changing the push
// options (given the rig's Service) before anything is pushed.
func startRoutingRigWith(t *testing.T, tune func(*PushOptions, *provisioning.Service)) *routingRig {
	n := requireLiveNode(t)
	path := os.Getenv(envLiveDialplan)
	if path == "" {
		t.Skipf("%s is not set: the routing tests need the node's generated dialplan file (see switch/asterisk/README.md)", envLiveDialplan)
	}
	svc := newRoutingService(t)
	opts := DefaultPushOptions()
	opts.TenantContexts = true
	opts.SoundsDir = t.TempDir() // Asterisk on this machine reads it
	if tune != nil {
		tune(&opts, svc)
	}
	r := startLiveRigPush(t, n, nil, opts)
	r.connected(t)
	rr := &routingRig{liveRig: r, t: t, svc: svc, path: path, sounds: opts.SoundsDir}
	ctx := t.Context()
	admin := provisioning.AdminScope()
	rr.tenant = &provisioning.Tenant{Name: "live routing"}
	must(t, rr.svc.CreateTenant(ctx, admin, rr.tenant))
	rr.dom = &provisioning.Domain{TenantID: rr.tenant.ID, Name: liveDomain}
	must(t, rr.svc.CreateDomain(ctx, admin, rr.dom))
	rr.in = provisioning.RoutingMeta{TenantID: rr.tenant.ID}
	rr.svc.AddSink(rigSink{r})
	rr.dp = NewDialplan(DialplanConfig{
		Node: liveSwitch, Path: path, Options: opts, Client: r.direct,
		Routes: func(ctx context.Context) ([]provisioning.DIDRoute, error) { return rr.svc.DIDRoutes(ctx, liveDomain) },
		Plans: func(ctx context.Context) ([]*provisioning.Plan, error) {
			p, err := rr.svc.TenantPlan(ctx, rr.tenant.ID)
			return []*provisioning.Plan{p}, err
		},
		Keeper: genfile.Config{Debounce: 20 * time.Millisecond, RetryMin: 100 * time.Millisecond},
	})
	rr.svc.AddSink(rr.dp)
	sounds := soundfiles.New(soundfiles.Config{Node: liveSwitch, Dir: rr.sounds, Layout: SoundLayout, Source: rr.svc, Debounce: 20 * time.Millisecond})
	rr.svc.AddSink(sounds)
	dctx, stop := context.WithCancel(context.Background())
	rr.stop, rr.done = stop, make(chan struct{})
	go func() { defer close(rr.done); _ = rr.dp.Run(dctx) }()
	go func() { _ = sounds.Run(dctx) }()
	t.Cleanup(func() {
		rr.stopKeeper()
		_ = os.WriteFile(path, nil, 0o644)
		_ = r.direct.ReloadModule(context.Background(), "pbx_config")
	})
	return rr
}

func (rr *routingRig) stopKeeper() {
	rr.stop()
	<-rr.done
}

// settled waits until the file holds want and pbx_config was reloaded
// after its last write; it returns how long that took.
func (rr *routingRig) settled(want string) time.Duration {
	rr.t.Helper()
	return waitFor(rr.t, 5*time.Second, "the dialplan file with "+want+" reloaded", func() bool {
		b, _ := os.ReadFile(rr.path)
		w, rl := rr.dp.Counts()
		return strings.Contains(string(b), want) && w > 0 && rl >= w
	})
}

// phone creates an account through the Service, waits for it on the node
// and registers its phone.
func (rr *routingRig) phone(name string) (livePhone, *provisioning.Account) {
	rr.t.Helper()
	seq := liveUserSeq.Add(1)
	secret := make([]byte, 12)
	_, _ = cryptorand.Read(secret)
	p := livePhone{user: strconv.Itoa(liveUserBase + int(seq)), secret: hex.EncodeToString(secret), domain: liveDomain, port: freeUDPPort(rr.t)}
	rr.mu.Lock()
	rr.users = append(rr.users, p.user)
	rr.mu.Unlock()
	a := &provisioning.Account{DomainID: rr.dom.ID, Username: p.user, Secret: p.secret, CallerIDName: name}
	must(rr.t, rr.svc.CreateAccount(rr.t.Context(), provisioning.AdminScope(), a))
	waitFor(rr.t, 10*time.Second, "account "+p.user+" on the node", func() bool { return rr.pushed(p) })
	rr.node.register(rr.t, p, 300)
	return p, a
}

// did routes a new DID of the tenant to d and returns its number.
func (rr *routingRig) did(d provisioning.Destination) string {
	rr.t.Helper()
	rr.seq++
	num := fmt.Sprintf("+1557%d%02d", liveUserBase/100, rr.seq)
	must(rr.t, rr.svc.CreateDID(rr.t.Context(), provisioning.AdminScope(), &provisioning.DID{TenantID: rr.tenant.ID, Number: num, Destination: &d}))
	rr.settled("exten => " + num + ",1,")
	return num
}

// carrier calls number from 127.0.0.2 (the gateway gw-a's identify)
// presenting callerID; the run ends when the far end hangs up.
func (rr *routingRig) carrier(number, callerID string) *sippRun {
	return startSipp(rr.t, "carrier_uac.xml", []string{"+15550001111", callerID}, rr.node.sip, "-key", "callee", number, "-i", "127.0.0.2",
		"-p", strconv.Itoa(freeUDPPort(rr.t)), "-m", "1", "-timeout", "40s", "-timeout_error")
}

// uas starts a phone's scenario (answer_uas, ring_uas, busy_uas).
func (rr *routingRig) uas(p livePhone, scenario string, hold time.Duration) *sippRun {
	s := startSipp(rr.t, scenario, []string{"HOLD_MS", strconv.FormatInt(hold.Milliseconds(), 10)},
		"-i", "127.0.0.1", "-p", strconv.Itoa(p.port), "-m", "1", "-timeout", "40s", "-timeout_error")
	waitUDPBound(rr.t, s, p.port)
	return s
}

// gatewayUAS starts a gateway's scenario on host:port.
func (rr *routingRig) gatewayUAS(host string, port int, scenario string) *sippRun {
	s := startSipp(rr.t, scenario, []string{"HOLD_MS", "300"}, "-i", host, "-p", strconv.Itoa(port), "-m", "1", "-timeout", "40s", "-timeout_error")
	time.Sleep(300 * time.Millisecond) // waitUDPBound checks 127.0.0.1 only
	return s
}

func acctDest(a *provisioning.Account) provisioning.Destination {
	return provisioning.Destination{Kind: provisioning.DestAccount, ID: a.ID}
}

// stopped kills sipp runs still waiting (members never rung).
func stopped(runs ...*sippRun) {
	for _, s := range runs {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
}

// TestLiveRouting (issue 13) places sipp calls through the routing the
// Service renders into the node's generated dialplan: every object kind,
// every hunt strategy, conditions, forwards, outbound failover, a
// deleted group, and calls while Switchboard is away.
func TestLiveRouting(t *testing.T) {
	rr := startRoutingRig(t)
	ctx, admin := t.Context(), provisioning.AdminScope()
	alice, aa := rr.phone("alice")
	bob, ab := rr.phone("bob")
	carol, ac := rr.phone("carol")
	dave, ad := rr.phone("dave")
	_, ae := rr.phone("erin")
	portA, portB := freeUDPPort(t), freeUDPPort(t)
	gwA := &provisioning.Gateway{Name: fmt.Sprintf("sblive-gwa-%d", liveUserBase), Host: "127.0.0.2", Port: portA, TenantID: &rr.tenant.ID}
	gwB := &provisioning.Gateway{Name: fmt.Sprintf("sblive-gwb-%d", liveUserBase), Host: "127.0.0.3", Port: portB, TenantID: &rr.tenant.ID}
	for _, g := range []*provisioning.Gateway{gwA, gwB} {
		must(t, rr.svc.CreateGateway(ctx, admin, g))
		t.Cleanup(func() {
			_ = rr.pusher.Apply(context.Background(), provisioning.Change{Op: provisioning.OpDelete, Gateway: g})
		})
	}
	waitFor(t, 10*time.Second, "both gateways on the node", func() bool {
		_, e1 := rr.direct.Get(ctx, ObjectRef{PJSIPEndpoint, gwA.Name})
		_, e2 := rr.direct.Get(ctx, ObjectRef{PJSIPEndpoint, gwB.Name})
		return e1 == nil && e2 == nil
	})
	must(t, rr.svc.CreateOutboundRoute(ctx, admin, &provisioning.OutboundRoute{RoutingMeta: rr.in, Name: "intl", Patterns: []provisioning.DialPattern{"00."},
		Strip: 2, Prepend: "+", GatewayIDs: []int64{gwA.ID, gwB.ID}}))
	xAlice := &provisioning.Extension{RoutingMeta: rr.in, Number: "7100", Name: "Alice", Destination: acctDest(aa), CallerIDNumber: "+15557100100", CallerIDName: "Acme Alice"}
	must(t, rr.svc.CreateExtension(ctx, admin, xAlice))
	ext := func(x *provisioning.Extension) provisioning.Destination {
		return provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}
	}
	hunt := func(h *provisioning.HuntGroup) provisioning.Destination {
		h.RoutingMeta = rr.in
		must(t, rr.svc.CreateHuntGroup(ctx, admin, h))
		return provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}
	}
	member := func(a *provisioning.Account, secs int) provisioning.HuntMember {
		return provisioning.HuntMember{Destination: acctDest(a), RingSecs: secs}
	}
	answered := func(t *testing.T, call *sippRun, what string) {
		t.Helper()
		if err := call.wait(45 * time.Second); err != nil {
			t.Errorf("%s: the call was not answered and ended: %v", what, err)
		}
	}
	results := map[string]string{}
	defer func() {
		for k, v := range results {
			t.Logf("RESULT %s: %s", k, v)
		}
	}()

	t.Run("DID to extension to phone", func(t *testing.T) {
		did := rr.did(ext(xAlice))
		a := rr.uas(alice, "answer_uas.xml", 300*time.Millisecond)
		answered(t, rr.carrier(did, "+15550001111"), "DID → 7100 → alice")
		answered(t, a, "alice")
		results["did→extension→phone"] = "answered by alice"
	})

	t.Run("ring all: the second member answers, the others stop ringing", func(t *testing.T) {
		did := rr.did(hunt(&provisioning.HuntGroup{Number: "7500", Name: "ring all", Strategy: provisioning.HuntRingAll, RingSecs: 20,
			Members: []provisioning.HuntMember{member(aa, 0), member(ab, 0), member(ac, 0)}}))
		before := cdrLines(t, rr.node.cdrFile)
		ra, sb, rc := rr.uas(alice, "ring_uas.xml", 0), rr.uas(bob, "answer_uas.xml", 500*time.Millisecond), rr.uas(carol, "ring_uas.xml", 0)
		answered(t, rr.carrier(did, "+15550001111"), "ring all")
		for name, s := range map[string]*sippRun{"alice": ra, "carol": rc} {
			if err := s.wait(10 * time.Second); err != nil || s.received("CANCEL") != 1 {
				t.Errorf("%s: want rung then cancelled, got %v, %d CANCEL", name, err, s.received("CANCEL"))
			}
		}
		answered(t, sb, "bob")
		if rr.node.cdrFile != "" {
			var legs []string
			time.Sleep(500 * time.Millisecond)
			for _, l := range cdrLines(t, rr.node.cdrFile)[len(before):] {
				for _, p := range []livePhone{alice, bob, carol} {
					if strings.Contains(l, "PJSIP/"+p.user+"-") {
						f := strings.Split(l, ",")
						legs = append(legs, p.user+"="+strings.Trim(f[len(f)-4], `"`))
					}
				}
			}
			want := []string{alice.user + "=NO ANSWER", bob.user + "=ANSWERED", carol.user + "=NO ANSWER"}
			if strings.Join(legs, " ") != strings.Join(want, " ") {
				t.Errorf("CDR legs %v, want %v", legs, want)
			}
			results["ring all CDRs"] = strings.Join(legs, " ")
		}
		results["ring all"] = "bob answered; alice and carol got CANCEL"
	})

	t.Run("sequential: the first member's time runs out, the second answers", func(t *testing.T) {
		did := rr.did(hunt(&provisioning.HuntGroup{Number: "7501", Name: "sequential", Strategy: provisioning.HuntSequential,
			Members: []provisioning.HuntMember{member(aa, 5), member(ab, 10)}}))
		ra, sb := rr.uas(alice, "ring_uas.xml", 0), rr.uas(bob, "answer_uas.xml", 300*time.Millisecond)
		start := time.Now()
		answered(t, rr.carrier(did, "+15550001111"), "sequential")
		took := time.Since(start)
		if err := ra.wait(5 * time.Second); err != nil || ra.received("CANCEL") != 1 {
			t.Errorf("alice: want rung then cancelled: %v", err)
		}
		answered(t, sb, "bob")
		if took < 5*time.Second {
			t.Errorf("the call took %v: bob answered before alice's 5 s ran out", took)
		}
		results["sequential"] = fmt.Sprintf("alice rang 5 s then bob answered (call %v)", took.Round(100*time.Millisecond))
	})

	t.Run("round robin rotates", func(t *testing.T) {
		did := rr.did(hunt(&provisioning.HuntGroup{Number: "7502", Name: "rr", Strategy: provisioning.HuntRoundRobin,
			Members: []provisioning.HuntMember{member(aa, 5), member(ab, 5), member(ac, 5)}}))
		phones := []livePhone{alice, bob, carol}
		var order []int
		for range 4 {
			var runs []*sippRun
			for _, p := range phones {
				runs = append(runs, rr.uas(p, "answer_uas.xml", 200*time.Millisecond))
			}
			answered(t, rr.carrier(did, "+15550001111"), "round robin")
			time.Sleep(300 * time.Millisecond)
			stopped(runs...)
			got := -1
			for i, s := range runs {
				if s.received("INVITE") > 0 {
					got = i
				}
			}
			order = append(order, got)
		}
		for i := 1; i < len(order); i++ {
			if order[i] != (order[i-1]+1)%3 {
				t.Errorf("answerers %v: want each call to start after the last answerer", order)
				break
			}
		}
		results["round robin"] = fmt.Sprintf("answerers by member index %v", order)
	})

	// skipsAlice puts alice on a call, calls a sequential group (alice,
	// then bob) and checks that alice was not rung: bob answers at once.
	skipsAlice := func(t *testing.T, group *provisioning.HuntGroup, first provisioning.Destination) time.Duration {
		t.Helper()
		direct := rr.did(acctDest(aa))
		group.Strategy, group.Members = provisioning.HuntSequential, []provisioning.HuntMember{{Destination: first, RingSecs: 5}, member(ab, 5)}
		did := rr.did(hunt(group))
		inCall := rr.uas(alice, "answer_uas.xml", 6*time.Second)
		call := rr.carrier(direct, "+15550002222")
		waitFor(t, 5*time.Second, "alice in a call", func() bool { return inCall.received("ACK") > 0 })
		sb := rr.uas(bob, "answer_uas.xml", 300*time.Millisecond)
		start := time.Now()
		answered(t, rr.carrier(did, "+15550001111"), group.Name)
		took := time.Since(start)
		answered(t, sb, "bob")
		answered(t, call, "alice's call")
		if n := inCall.received("INVITE"); n != 1 || took > 4*time.Second {
			t.Errorf("alice (on a call) got %d INVITEs, bob answered after %v: want alice skipped", n, took)
		}
		return took
	}

	t.Run("skip busy skips a member on a call", func(t *testing.T) {
		took := skipsAlice(t, &provisioning.HuntGroup{Number: "7503", Name: "skip", SkipBusy: true}, acctDest(aa))
		results["skip busy"] = fmt.Sprintf("alice on a call skipped, bob answered in %v", took.Round(100*time.Millisecond))
	})

	t.Run("a member with call waiting off is skipped while on a call", func(t *testing.T) {
		off := false
		xOff := &provisioning.Extension{RoutingMeta: rr.in, Number: "7107", Name: "Alice no CW", Destination: acctDest(aa), CallWaiting: &off}
		must(t, rr.svc.CreateExtension(ctx, admin, xOff))
		took := skipsAlice(t, &provisioning.HuntGroup{Number: "7507", Name: "cw member"}, ext(xOff))
		results["call waiting off member"] = fmt.Sprintf("alice (7107, call waiting off) on a call skipped in a group without skip_busy, bob answered in %v", took.Round(100*time.Millisecond))
	})

	t.Run("an external member fails over to the next gateway on 503", func(t *testing.T) {
		did := rr.did(hunt(&provisioning.HuntGroup{Number: "7508", Name: "external member", Strategy: provisioning.HuntRingAll, RingSecs: 15,
			Members: []provisioning.HuntMember{member(ac, 0), {Destination: provisioning.Destination{Kind: provisioning.DestExternal, Number: "0015551230003"}}}}))
		rc := rr.uas(carol, "ring_uas.xml", 0)
		g1, g2 := rr.gatewayUAS("127.0.0.2", portA, "unavail_uas.xml"), rr.gatewayUAS("127.0.0.3", portB, "answer_uas.xml")
		start := time.Now()
		answered(t, rr.carrier(did, "+15550001111"), "ring all with an external member")
		took := time.Since(start)
		answered(t, g2, "gw-b (second gateway)")
		_ = g1.wait(5 * time.Second)
		if err := rc.wait(10 * time.Second); err != nil || rc.received("CANCEL") != 1 {
			t.Errorf("carol: want rung then cancelled when gw-b answered: %v, %d CANCEL", err, rc.received("CANCEL"))
		}
		if g1.received("INVITE") != 1 {
			t.Errorf("gw-a got %d INVITEs, want 1 (answered 503)", g1.received("INVITE"))
		}
		if ruri := sippHeader(t, g2, "INVITE", "INVITE "); !strings.Contains(ruri, "+15551230003@") {
			t.Errorf("gw-b INVITE %q: want +15551230003", ruri)
		}
		results["external member failover"] = fmt.Sprintf("ring all (carol + 0015551230003): gw-a 503, gw-b answered in %v, carol cancelled", took.Round(100*time.Millisecond))
	})

	t.Run("call waiting off: busy while on a call; on: rings", func(t *testing.T) {
		off := false
		xOff := &provisioning.Extension{RoutingMeta: rr.in, Number: "7102", Name: "Carol no CW", Destination: acctDest(ac), CallWaiting: &off}
		xOn := &provisioning.Extension{RoutingMeta: rr.in, Number: "7106", Name: "Carol CW", Destination: acctDest(ac)}
		must(t, rr.svc.CreateExtension(ctx, admin, xOff))
		must(t, rr.svc.CreateExtension(ctx, admin, xOn))
		direct, toOff, toOn := rr.did(acctDest(ac)), rr.did(ext(xOff)), rr.did(ext(xOn))

		// Off: carol on a call, the second caller gets 486, carol no INVITE.
		inCall := rr.uas(carol, "answer_uas.xml", 5*time.Second)
		first := rr.carrier(direct, "+15550002222")
		waitFor(t, 5*time.Second, "carol in a call", func() bool { return inCall.received("ACK") > 0 })
		second := rr.carrier(toOff, "+15550001111")
		if err := second.wait(15 * time.Second); err == nil {
			t.Errorf("call waiting off: the second call was answered")
		}
		got486 := second.received("SIP/2.0 486")
		answered(t, first, "carol's first call")
		answered(t, inCall, "carol")
		if n := inCall.received("INVITE"); n != 1 || got486 == 0 {
			t.Errorf("call waiting off: carol got %d INVITEs, the caller %d 486: want 1 and a 486", n, got486)
		}

		// On: carol on a call takes the second one too (a phone answering both).
		both := startSipp(t, "answer_uas.xml", []string{"HOLD_MS", "4000"}, "-i", "127.0.0.1", "-p", strconv.Itoa(carol.port), "-m", "2", "-timeout", "40s", "-timeout_error")
		waitUDPBound(t, both, carol.port)
		first = rr.carrier(direct, "+15550002222")
		waitFor(t, 5*time.Second, "carol in a call", func() bool { return both.received("ACK") > 0 })
		answered(t, rr.carrier(toOn, "+15550001111"), "call waiting on: second call")
		answered(t, first, "carol's first call")
		answered(t, both, "carol (two calls)")
		if n := both.received("INVITE"); n != 2 {
			t.Errorf("call waiting on: carol got %d INVITEs, want 2", n)
		}
		results["call waiting"] = fmt.Sprintf("off: carol on a call, second caller got 486 (%d), carol 1 INVITE; on: carol rang and answered the second call", got486)
	})

	t.Run("failover after the group's time", func(t *testing.T) {
		did := rr.did(hunt(&provisioning.HuntGroup{Number: "7504", Name: "fo", Strategy: provisioning.HuntRingAll, RingSecs: 5,
			Members: []provisioning.HuntMember{member(aa, 0), member(ab, 0)}, Failover: acctDest(ac)}))
		ra, rb, sc := rr.uas(alice, "ring_uas.xml", 0), rr.uas(bob, "ring_uas.xml", 0), rr.uas(carol, "answer_uas.xml", 300*time.Millisecond)
		start := time.Now()
		answered(t, rr.carrier(did, "+15550001111"), "failover")
		took := time.Since(start)
		answered(t, sc, "carol")
		stopped(ra, rb)
		if ra.received("CANCEL") != 1 || rb.received("CANCEL") != 1 || took < 5*time.Second {
			t.Errorf("members cancelled %d/%d, call %v: want both rung 5 s then carol", ra.received("CANCEL"), rb.received("CANCEL"), took)
		}
		results["failover"] = fmt.Sprintf("alice+bob rang 5 s, carol answered (call %v)", took.Round(100*time.Millisecond))
	})

	t.Run("conditions by time window and caller ID", func(t *testing.T) {
		now := time.Now().UTC()
		window := func(from, to time.Duration) string {
			f, e := now.Add(from), now.Add(to)
			return fmt.Sprintf("%02d:%02d-%02d:%02d", f.Hour(), f.Minute(), e.Hour(), e.Minute())
		}
		cond := func(c *provisioning.Condition) provisioning.Destination {
			c.RoutingMeta, c.Match, c.Miss = rr.in, acctDest(aa), acctDest(ab)
			must(t, rr.svc.CreateCondition(ctx, admin, c))
			return provisioning.Destination{Kind: provisioning.DestCondition, ID: c.ID}
		}
		for _, tc := range []struct {
			name   string
			c      *provisioning.Condition
			caller string
			want   livePhone
		}{
			{"window containing now", &provisioning.Condition{Name: "in", TimeZone: "UTC", Times: []string{window(-time.Hour, time.Hour)}}, "+15550001111", alice},
			{"window not containing now", &provisioning.Condition{Name: "out", TimeZone: "UTC", Times: []string{window(2*time.Hour, 3*time.Hour)}}, "+15550001111", bob},
			{"caller ID on the list", &provisioning.Condition{Name: "vip", CallerIDs: []string{"+1555000*"}}, "+15550001111", alice},
			{"caller ID off the list", &provisioning.Condition{Name: "vip2", CallerIDs: []string{"+1555000*"}}, "+4930123456", bob},
		} {
			did := rr.did(cond(tc.c))
			sa, sb := rr.uas(alice, "answer_uas.xml", 200*time.Millisecond), rr.uas(bob, "answer_uas.xml", 200*time.Millisecond)
			answered(t, rr.carrier(did, tc.caller), tc.name)
			time.Sleep(300 * time.Millisecond)
			stopped(sa, sb)
			got := "nobody"
			if sa.received("INVITE") > 0 {
				got = "alice"
			} else if sb.received("INVITE") > 0 {
				got = "bob"
			}
			want := map[livePhone]string{alice: "alice", bob: "bob"}[tc.want]
			if got != want {
				b, _ := os.ReadFile(rr.path)
				_, section, _ := strings.Cut(string(b), fmt.Sprintf("exten => c%d,", tc.c.ID))
				section, _, _ = strings.Cut(section, "; ")
				t.Errorf("%s (%v): %s answered, want %s; rendered:\n%s", tc.name, tc.c.Times, got, want, section)
			}
			results["condition "+tc.name] = got + " (match alice, miss bob)"
		}
	})

	t.Run("follow-me after a busy phone, and a custom destination", func(t *testing.T) {
		x := &provisioning.Extension{RoutingMeta: rr.in, Number: "7103", Name: "Bob FM", Destination: acctDest(ab),
			FollowMe: &provisioning.FollowMe{CallerIDNumber: "+15557103000", Steps: []provisioning.FollowMeStep{{Destination: acctDest(ac), RingSecs: 10}}}}
		must(t, rr.svc.CreateExtension(ctx, admin, x))
		did := rr.did(ext(x))
		busy, sc := rr.uas(bob, "busy_uas.xml", 0), rr.uas(carol, "answer_uas.xml", 200*time.Millisecond)
		answered(t, rr.carrier(did, "+15550001111"), "follow-me")
		answered(t, sc, "carol (follow-me)")
		_ = busy.wait(5 * time.Second)
		if busy.received("INVITE") != 1 {
			t.Errorf("bob was not rung first")
		}
		if from := sippHeader(t, sc, "INVITE", "From:"); !strings.Contains(from, "+15557103000") {
			t.Errorf("carol's INVITE From %q: want the follow-me list's caller ID +15557103000", from)
		}
		results["follow-me"] = "bob 486, then the list rang carol, who answered"

		u := &provisioning.CustomDestination{RoutingMeta: rr.in, Name: "mobile", Number: "+15551239999", GatewayID: &gwB.ID}
		must(t, rr.svc.CreateCustomDestination(ctx, admin, u))
		toCustom := rr.did(provisioning.Destination{Kind: provisioning.DestCustom, ID: u.ID})
		gw := rr.gatewayUAS("127.0.0.3", portB, "answer_uas.xml")
		answered(t, rr.carrier(toCustom, "+15550001111"), "custom destination")
		answered(t, gw, "gw-b (custom destination)")
		if ruri := sippHeader(t, gw, "INVITE", "INVITE "); !strings.Contains(ruri, "+15551239999@") {
			t.Errorf("gw-b INVITE %q: want +15551239999", ruri)
		}
		results["custom destination"] = "DID → custom +15551239999 through gw-b, answered"
	})

	t.Run("forwards", func(t *testing.T) {
		fwd := func(a *provisioning.Account, on provisioning.ForwardOn, secs int, d provisioning.Destination) {
			must(t, rr.svc.CreateForward(ctx, admin, &provisioning.Forward{AccountID: &a.ID, On: on, AfterSecs: secs, Destination: d, Enabled: true}))
		}
		fwd(ad, provisioning.ForwardBusy, 0, ext(xAlice))
		fwd(ad, provisioning.ForwardNoAnswer, 5, provisioning.Destination{Kind: provisioning.DestExternal, Number: "0015551230001"})
		fwd(ad, provisioning.ForwardUnreachable, 0, acctDest(ab))
		fwd(ae, provisioning.ForwardAlways, 0, acctDest(ac))
		toDave, toErin := rr.did(acctDest(ad)), rr.did(acctDest(ae))
		rr.settled("GotoIf($[\"${DIALSTATUS}\"=\"CHANUNAVAIL\"]")

		busy, sa := rr.uas(dave, "busy_uas.xml", 0), rr.uas(alice, "answer_uas.xml", 200*time.Millisecond)
		answered(t, rr.carrier(toDave, "+15550001111"), "busy forward")
		answered(t, sa, "alice (busy forward)")
		_ = busy.wait(5 * time.Second)
		results["forward busy → phone"] = "dave 486, alice answered"

		ring, gw := rr.uas(dave, "ring_uas.xml", 0), rr.gatewayUAS("127.0.0.2", portA, "answer_uas.xml")
		answered(t, rr.carrier(toDave, "+15550001111"), "no-answer forward")
		answered(t, gw, "gateway UAS (no-answer forward)")
		if ring.wait(5*time.Second) != nil || ring.received("CANCEL") != 1 {
			t.Errorf("dave: want rung 5 s then cancelled")
		}
		results["forward no answer → external via gateway"] = "dave rang 5 s, gw-a UAS answered +15551230001"

		rr.node.register(t, dave, 0)
		sb := rr.uas(bob, "answer_uas.xml", 200*time.Millisecond)
		answered(t, rr.carrier(toDave, "+15550001111"), "unreachable forward")
		answered(t, sb, "bob (unreachable forward)")
		rr.node.register(t, dave, 300)
		results["forward unreachable → phone"] = "dave unregistered, bob answered"

		sc := rr.uas(carol, "answer_uas.xml", 200*time.Millisecond)
		answered(t, rr.carrier(toErin, "+15550001111"), "unconditional forward")
		answered(t, sc, "carol (unconditional forward)")
		results["forward always → phone"] = "erin not rung, carol answered"

		// Call waiting off and dave on a call: his busy forward (7100,
		// alice) takes the second call without ringing him.
		off := false
		xDave := &provisioning.Extension{RoutingMeta: rr.in, Number: "7104", Name: "Dave no CW", Destination: acctDest(ad), CallWaiting: &off}
		must(t, rr.svc.CreateExtension(ctx, admin, xDave))
		toX := rr.did(ext(xDave))
		inCall, sa2 := rr.uas(dave, "answer_uas.xml", 5*time.Second), rr.uas(alice, "answer_uas.xml", 200*time.Millisecond)
		first := rr.carrier(toDave, "+15550002222")
		waitFor(t, 5*time.Second, "dave in a call", func() bool { return inCall.received("ACK") > 0 })
		answered(t, rr.carrier(toX, "+15550001111"), "call waiting off → busy forward")
		answered(t, sa2, "alice (busy forward of dave without call waiting)")
		answered(t, first, "dave's first call")
		answered(t, inCall, "dave")
		if n := inCall.received("INVITE"); n != 1 {
			t.Errorf("dave (call waiting off, on a call) got %d INVITEs, want 1", n)
		}
		results["call waiting off → busy forward"] = "dave on a call not rung, his busy forward (alice) answered"
	})

	t.Run("outbound route fails over on 503, with the extension's caller ID", func(t *testing.T) {
		g1, g2 := rr.gatewayUAS("127.0.0.2", portA, "unavail_uas.xml"), rr.gatewayUAS("127.0.0.3", portB, "answer_uas.xml")
		answered(t, rr.node.call(t, alice, "0015551230002"), "alice → 00 15551230002")
		answered(t, g2, "gw-b")
		if err := g1.wait(5 * time.Second); err != nil || g1.received("INVITE") != 1 {
			t.Errorf("gw-a: want one INVITE refused with 503: %v", err)
		}
		if from := sippHeader(t, g2, "INVITE", "From:"); !strings.Contains(from, "+15557100100") {
			t.Errorf("gw-b INVITE From %q: want the extension's caller ID +15557100100", from)
		}
		if ruri := sippHeader(t, g2, "INVITE", "INVITE "); !strings.Contains(ruri, "+15551230002@") {
			t.Errorf("gw-b INVITE %q: want +15551230002 (00 stripped, + prepended)", ruri)
		}
		results["outbound failover"] = "gw-a 503, gw-b answered +15551230002 From the extension's caller ID"
	})

	t.Run("a deleted hunt group stops answering within 2 s", func(t *testing.T) {
		h := &provisioning.HuntGroup{Number: "7509", Name: "doomed", Strategy: provisioning.HuntRingAll, Members: []provisioning.HuntMember{member(ab, 5)}}
		hunt(h)
		rr.settled("exten => 7509,1,")
		sb := rr.uas(bob, "answer_uas.xml", 200*time.Millisecond)
		answered(t, rr.node.call(t, alice, "7509"), "alice → 7509")
		answered(t, sb, "bob")
		start := time.Now()
		must(t, rr.svc.DeleteHuntGroup(ctx, admin, h.ID))
		took := waitFor(t, 2*time.Second, "7509 gone from the reloaded dialplan", func() bool {
			b, _ := os.ReadFile(rr.path)
			w, rl := rr.dp.Counts()
			return !strings.Contains(string(b), "exten => 7509,1,") && rl >= w
		})
		_ = start
		sb = rr.uas(bob, "answer_uas.xml", 200*time.Millisecond)
		call := rr.node.call(t, alice, "7509")
		err := call.wait(20 * time.Second)
		stopped(call, sb)
		if err == nil {
			t.Errorf("7509 still answered after its deletion")
		}
		if sb.received("INVITE") != 0 {
			t.Errorf("bob was rung by a deleted group")
		}
		results["deleted hunt group"] = fmt.Sprintf("gone from Asterisk %v after the API call", took.Round(time.Millisecond))
	})

	t.Run("calls keep routing while Switchboard is away", func(t *testing.T) {
		did := rr.did(ext(xAlice))
		rr.stopKeeper()
		rr.proxy.Refuse(true)
		rr.proxy.Cut()
		ok := 0
		for range 5 {
			a := rr.uas(alice, "answer_uas.xml", 200*time.Millisecond)
			if rr.carrier(did, "+15550001111").wait(20*time.Second) == nil && a.wait(5*time.Second) == nil {
				ok++
			}
		}
		if ok != 5 {
			t.Errorf("%d of 5 calls answered while Switchboard was away", ok)
		}
		results["Switchboard away"] = fmt.Sprintf("%d/5 DID→extension calls answered with the keeper stopped and ARI cut", ok)
	})
}

// cdrLines reads the node's Master.csv ("" reads nothing).
func cdrLines(t *testing.T, path string) []string {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// sippHeader returns the first line starting with prefix of the first
// request of method that s received.
func sippHeader(t *testing.T, s *sippRun, method, prefix string) string {
	files, _ := os.ReadDir(s.dir)
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), "_messages.log") {
			continue
		}
		b, err := os.ReadFile(s.dir + "/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		in := false
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, method+" ") {
				in = true
			}
			if in && strings.HasPrefix(l, prefix) {
				return l
			}
		}
	}
	return ""
}

// TestLiveRoutingReload10k writes the dialplan of 10,000 extensions
// (BenchmarkRoutingDialplan10k's plan) into the node's generated file and
// times pbx_config's reload over ARI until the last extension is there.
func TestLiveRoutingReload10k(t *testing.T) {
	n := requireLiveNode(t)
	path := os.Getenv(envLiveDialplan)
	if path == "" || n.cli == nil {
		t.Skipf("needs %s and %s", envLiveDialplan, envLiveCLI)
	}
	// The reload of a file this size takes long: ConfigClient's default
	// timeout would give up first.
	client := NewConfigClient(n.url, n.user, n.password, &http.Client{Timeout: 10 * time.Minute})
	t.Cleanup(func() {
		_ = os.WriteFile(path, nil, 0o644)
		_ = client.ReloadModule(context.Background(), "pbx_config")
	})
	p := bigPlan(99999, 10000)
	start := time.Now()
	text := renderRouting(liveSwitch, "extensions_switchboard.conf", DefaultPushOptions(), nil, []*provisioning.Plan{p})
	rendered := time.Since(start)
	must(t, os.WriteFile(path, text, 0o644))
	written := time.Since(start)
	must(t, client.ReloadModule(t.Context(), "pbx_config"))
	reloaded := time.Since(start)
	out, err := n.runCLI(t.Context(), "dialplan show 109999@sb-t99999")
	if err != nil || !strings.Contains(out, "Gosub(sb-t99999-obj,x10000,1)") {
		t.Fatalf("after the reload, 109999@sb-t99999 is %q (%v)", out, err)
	}
	t.Logf("RESULT 10,000 extensions: rendered %v, written %v (%d bytes), pbx_config reloaded %v after the start (reload alone %v)",
		rendered.Round(time.Millisecond), written.Round(time.Millisecond), len(text), reloaded.Round(time.Millisecond), (reloaded - written).Round(time.Millisecond))
}

// TestLiveRoutingSetupTime measures what routing adds to call setup:
// INVITE from the carrier (127.0.0.2, the gateway's identify) → 180
// relayed from the ringing phone, for a DID straight to an account and
// for a DID through a condition (time window and caller ID), an
// extension and a skip_busy ring-all group; each call is then
// CANCELled.
func TestLiveRoutingSetupTime(t *testing.T) {
	rr := startRoutingRig(t)
	ctx, admin := t.Context(), provisioning.AdminScope()
	alice, aa := rr.phone("alice")
	gw := &provisioning.Gateway{Name: fmt.Sprintf("sblive-gwa-%d", liveUserBase), Host: "127.0.0.2", Port: 5999, TenantID: &rr.tenant.ID}
	must(t, rr.svc.CreateGateway(ctx, admin, gw))
	t.Cleanup(func() {
		_ = rr.pusher.Apply(context.Background(), provisioning.Change{Op: provisioning.OpDelete, Gateway: gw})
	})
	waitFor(t, 10*time.Second, "the gateway on the node", func() bool {
		_, err := rr.direct.Get(ctx, ObjectRef{PJSIPIdentify, gw.Name})
		return err == nil
	})
	plain := rr.did(acctDest(aa))
	h := &provisioning.HuntGroup{RoutingMeta: rr.in, Number: "7600", Name: "setup", Strategy: provisioning.HuntRingAll, SkipBusy: true,
		Members: []provisioning.HuntMember{{Destination: acctDest(aa)}}}
	must(t, rr.svc.CreateHuntGroup(ctx, admin, h))
	x := &provisioning.Extension{RoutingMeta: rr.in, Number: "7601", Destination: provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}}
	must(t, rr.svc.CreateExtension(ctx, admin, x))
	c := &provisioning.Condition{RoutingMeta: rr.in, Name: "setup", TimeZone: "UTC", Times: []string{"00:00-24:00"}, CallerIDs: []string{"+1555000*"},
		Match: provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}, Miss: acctDest(aa)}
	must(t, rr.svc.CreateCondition(ctx, admin, c))
	featured := rr.did(provisioning.Destination{Kind: provisioning.DestCondition, ID: c.ID})

	const calls = 20
	for _, tc := range []struct{ name, did string }{{"DID → account", plain}, {"DID → condition → extension → ring_all skip_busy", featured}} {
		var took []time.Duration
		for range calls {
			ring := rr.uas(alice, "ring_uas.xml", 0)
			d, err := inviteTo180(rr.node.sip, tc.did)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if err := ring.wait(5 * time.Second); err != nil {
				t.Fatalf("%s: the phone: %v", tc.name, err)
			}
			took = append(took, d)
		}
		slices.Sort(took)
		t.Logf("RESULT INVITE → 180, %s: median %v, p90 %v, max %v (%d calls)", tc.name,
			took[len(took)/2].Round(10*time.Microsecond), took[len(took)*9/10].Round(10*time.Microsecond), took[len(took)-1].Round(10*time.Microsecond), calls)
	}
}

// inviteTo180 sends an INVITE for number from 127.0.0.2 to sip, returns
// how long the 180 took, then CANCELs the call and ACKs its 487.
func inviteTo180(sip, number string) (time.Duration, error) {
	conn, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	to, err := net.ResolveUDPAddr("udp", sip)
	if err != nil {
		return 0, err
	}
	local := conn.LocalAddr().String()
	rnd := make([]byte, 8)
	_, _ = cryptorand.Read(rnd)
	id := hex.EncodeToString(rnd)
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	ruri := "sip:" + number + "@" + sip
	common := func(method, toTag string) string {
		return "Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + id + ";rport\r\n" +
			"From: \"Carrier\" <sip:+15550001111@127.0.0.2>;tag=" + id + "\r\n" +
			"To: <sip:" + number + "@" + sip + ">" + toTag + "\r\n" +
			"Call-ID: " + id + "@127.0.0.2\r\nCSeq: 1 " + method + "\r\nMax-Forwards: 70\r\n"
	}
	invite := "INVITE " + ruri + " SIP/2.0\r\n" + common("INVITE", "") + "Contact: <sip:carrier@" + local + ">\r\n" +
		"Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp
	start := time.Now()
	if _, err := conn.WriteTo([]byte(invite), to); err != nil {
		return 0, err
	}
	buf := make([]byte, 8192)
	read := func() (string, error) {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := conn.ReadFrom(buf)
		return string(buf[:n]), err
	}
	var took time.Duration
	for took == 0 {
		msg, err := read()
		if err != nil {
			return 0, fmt.Errorf("waiting for 180: %w", err)
		}
		switch {
		case strings.HasPrefix(msg, "SIP/2.0 180"), strings.HasPrefix(msg, "SIP/2.0 183"):
			took = time.Since(start)
		case strings.HasPrefix(msg, "SIP/2.0 1"):
		default:
			return 0, fmt.Errorf("before the 180: %q", strings.SplitN(msg, "\r\n", 2)[0])
		}
	}
	cancel := "CANCEL " + ruri + " SIP/2.0\r\n" + common("CANCEL", "") + "Content-Length: 0\r\n\r\n"
	if _, err := conn.WriteTo([]byte(cancel), to); err != nil {
		return 0, err
	}
	for {
		msg, err := read()
		if err != nil {
			return 0, fmt.Errorf("waiting for 487: %w", err)
		}
		if !strings.HasPrefix(msg, "SIP/2.0 487") {
			continue
		}
		tag := ""
		for _, l := range strings.Split(msg, "\r\n") {
			if strings.HasPrefix(strings.ToLower(l), "to:") {
				if i := strings.Index(l, ";tag="); i >= 0 {
					tag = l[i:]
				}
			}
		}
		ack := "ACK " + ruri + " SIP/2.0\r\n" + common("ACK", tag) + "Content-Length: 0\r\n\r\n"
		_, err = conn.WriteTo([]byte(ack), to)
		return took, err
	}
}
