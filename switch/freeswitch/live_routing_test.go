package freeswitch

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// livePhoneOf is a provisioned, registered phone whose user agent server
// runs one sipp scenario.
type livePhoneOf struct {
	acct   *provisioning.Account
	secret string
	uas    *livePhone
	port   int
}

// routingPhone provisions an account, starts its UAS (scenario) and
// registers it, waiting until the node has the registration.
func (r *liveRig) routingPhone(t *testing.T, i int, scenario string) *livePhoneOf {
	t.Helper()
	user := liveUser(t, i)
	a, secret := r.account(t, user)
	uas := startPhone(t, user+" "+scenario, scenario, "", "-s", user)
	p := &livePhoneOf{acct: a, secret: secret, uas: uas, port: uas.port}
	r.register(t, p)
	return p
}

// register registers the phone's UAS (again: after a restart of the
// node) and waits until the node has it.
func (r *liveRig) register(t *testing.T, p *livePhoneOf) {
	t.Helper()
	user := p.acct.Username
	startPhone(t, user+" register", "phone_register.xml", r.node.SIP, "-s", user, "-au", user, "-ap", p.secret,
		"-key", "contact_port", strconv.Itoa(p.port), "-d", "120000")
	waitFor(t, 10*time.Second, user+" registered", func() bool { return len(r.registered(user)) == 1 })
}

// restart restarts the phone's UAS with another scenario (and sipp
// options, e.g. -d) on its port.
func (p *livePhoneOf) restart(t *testing.T, scenario string, args ...string) {
	t.Helper()
	_ = p.uas.cmd.Process.Kill()
	<-p.uas.done
	for udpBound(p.port) {
		time.Sleep(10 * time.Millisecond)
	}
	p.uas = startPhoneOn(t, p.acct.Username+" "+scenario, p.port, scenario, "", append([]string{"-s", p.acct.Username}, args...)...)
}

func (p *livePhoneOf) dest() provisioning.Destination {
	return provisioning.Destination{Kind: provisioning.DestAccount, ID: p.acct.ID}
}

// finished reports whether the phone's scenario completed within d.
func (p *livePhoneOf) finished(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.uas.result(ctx)
}

// TestLiveRouting places carrier calls to DIDs routed through every kind
// of routing object on a real FreeSWITCH, served over xml_curl
// (README "Call routing", live table), then with Switchboard's
// endpoints stopped, through the fallback files.
func TestLiveRouting(t *testing.T) {
	node := requireLiveNode(t)
	r := newLiveRig(t, node, withRouting())
	r.waitConnected(t)
	external := profileAddress(t, node, "external")
	ctx := context.Background()
	sc := provisioning.AdminScope()
	must := liveMust
	tenant := r.tenantID(t)
	in := provisioning.RoutingMeta{TenantID: tenant}
	didN := 0
	did := func(d provisioning.Destination) string {
		didN++
		n := "+1555" + strconv.FormatInt(time.Now().UnixMilli()%1000000, 10) + strconv.Itoa(didN%10)
		must(t, r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: tenant, Number: n, Destination: &d}))
		return n
	}
	call := func(t *testing.T, number string, talkMS int) (*livePhone, time.Time) {
		t.Helper()
		return startPhone(t, "carrier "+number, "carrier_call.xml", external, "-s", "carrier", "-key", "dest", number, "-d", strconv.Itoa(talkMS)), time.Now()
	}
	wait := func(t *testing.T, p *livePhone, within time.Duration) time.Duration {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		start := time.Now()
		p.wait(cctx)
		return time.Since(start)
	}
	type result struct{ name, outcome string }
	var results []result
	note := func(name, format string, args ...any) {
		results = append(results, result{name, strings.TrimSpace(fmtS(format, args...))})
	}
	t.Cleanup(func() {
		for _, x := range results {
			t.Logf("| %s | %s |", x.name, x.outcome)
		}
	})

	// The fallback keepers, as cmd/switchboard runs them.
	var rf *RoutingFallback
	var df *DIDFallback
	if node.FallbackDir != "" {
		rf = NewRoutingFallback(RoutingFallbackConfig{Node: node.Name, Dir: filepath.Dir(node.FallbackDir), Plans: ServicePlans(r.svc), Commander: r.a,
			Keeper: genfile.Config{Debounce: 50 * time.Millisecond}})
		df = NewDIDFallback(DIDFallbackConfig{Node: node.Name, Dir: node.FallbackDir, Commander: r.a,
			Routes:       func(ctx context.Context) ([]provisioning.DIDRoute, error) { return r.svc.DIDRoutes(ctx, "") },
			Destinations: ServiceDIDDestinations(r.svc), Keeper: genfile.Config{Debounce: 50 * time.Millisecond}})
		t.Cleanup(func() {
			os.Remove(rf.Path())
			os.Remove(df.Path())
			eslCommand(t, node, "api reloadxml")
		})
	}

	t.Run("did-extension-phone", func(t *testing.T) {
		p := r.routingPhone(t, 1, "phone_answer.xml")
		x := &provisioning.Extension{RoutingMeta: in, Number: "100", Name: "reception", Destination: p.dest()}
		must(t, r.svc.CreateExtension(ctx, sc, x))
		c, _ := call(t, did(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}), 1000)
		wait(t, c, 20*time.Second)
		must(t, p.finished(5*time.Second))
		note("DID → extension → phone", "answered by the extension's phone")
	})

	t.Run("phone-dials-extension", func(t *testing.T) {
		// A phone's call is hunted in its tenant's context (the
		// directory's user_context): the extension's number rings it.
		callee := r.routingPhone(t, 22, "phone_answer.xml")
		x := &provisioning.Extension{RoutingMeta: in, Number: "1022", Name: "callee", Destination: callee.dest()}
		must(t, r.svc.CreateExtension(ctx, sc, x))
		user := liveUser(t, 23)
		_, secret := r.account(t, user)
		c := startPhone(t, user+" calls 1022", "phone_call.xml", node.SIP, "-s", user, "-au", user, "-ap", secret, "-key", "dest", "1022", "-d", "500")
		wait(t, c, 20*time.Second)
		must(t, callee.finished(5*time.Second))
		note("phone dials an extension", "hunted in the tenant's context (user_context sb-t<id>), the extension's phone answered")
	})

	t.Run("ring-all", func(t *testing.T) {
		a, b, c := r.routingPhone(t, 2, "phone_ring.xml"), r.routingPhone(t, 3, "phone_answer.xml"), r.routingPhone(t, 4, "phone_ring.xml")
		h := &provisioning.HuntGroup{RoutingMeta: in, Number: "500", Name: "g500", Strategy: provisioning.HuntRingAll, RingSecs: 20,
			Members: []provisioning.HuntMember{{Destination: a.dest()}, {Destination: b.dest()}, {Destination: c.dest()}}}
		must(t, r.svc.CreateHuntGroup(ctx, sc, h))
		cl, _ := call(t, did(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}), 1000)
		wait(t, cl, 20*time.Second)
		must(t, b.finished(5*time.Second))
		// the others rang and were cancelled when b answered
		must(t, a.finished(5*time.Second))
		must(t, c.finished(5*time.Second))
		// The CDRs (mod_json_cdr): one answered leg, the others cancelled.
		legsOf := func(user string) (recs []cdr.Record) {
			r.sink.mu.Lock()
			defer r.sink.mu.Unlock()
			for _, x := range r.sink.recs {
				// the member's own leg (a B-leg: linked to the caller's);
				// the caller's leg names the last user it dialled
				if x.source == "json_cdr" && x.rec.Account == user && x.rec.CallID != x.rec.LinkedID {
					recs = append(recs, x.rec)
				}
			}
			return recs
		}
		answered := func(recs []cdr.Record) bool {
			for _, rec := range recs {
				if rec.Disposition == cdr.Answered {
					return true
				}
			}
			return false
		}
		var legs []string
		waitFor(t, 15*time.Second, "the CDRs of the three legs", func() bool {
			return len(legsOf(a.acct.Username)) > 0 && answered(legsOf(b.acct.Username)) && len(legsOf(c.acct.Username)) > 0
		})
		for i, p := range []*livePhoneOf{a, b, c} {
			recs := legsOf(p.acct.Username)
			if i != 1 && answered(recs) {
				t.Errorf("member %d's leg answered", i+1)
			}
			if i != 1 {
				legs = append(legs, fmt.Sprintf("member %d %s cause %d %s", i+1, recs[0].Disposition, recs[0].Cause, recs[0].CauseText))
			} else {
				legs = append(legs, "member 2 ANSWERED")
			}
		}
		note("ring-all group of 3", "the second member answered; the first and third got CANCEL (180 then 487); CDRs: %s", strings.Join(legs, "; "))
	})

	t.Run("sequential", func(t *testing.T) {
		a, b := r.routingPhone(t, 5, "phone_ring.xml"), r.routingPhone(t, 6, "phone_answer.xml")
		h := &provisioning.HuntGroup{RoutingMeta: in, Number: "501", Name: "g501", Strategy: provisioning.HuntSequential,
			Members: []provisioning.HuntMember{{Destination: a.dest(), RingSecs: 5}, {Destination: b.dest(), RingSecs: 10}}}
		must(t, r.svc.CreateHuntGroup(ctx, sc, h))
		cl, start := call(t, did(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}), 1000)
		must(t, a.finished(15*time.Second))
		rang := a.uas.endsAt.Sub(start)
		wait(t, cl, 20*time.Second)
		must(t, b.finished(5*time.Second))
		// switch_ivr_originate counts ring time in whole seconds of the
		// epoch clock (elapsed >= limit): a leg ends between N-1 and N s
		// after it started, plus the lookups before it.
		if rang < 4*time.Second || rang > 7*time.Second {
			t.Errorf("the first member was cancelled %v after the call started, want ~5 s", rang)
		}
		note("sequential", "first member cancelled after %.1f s (ring time 5 s), second answered", rang.Seconds())
	})

	// roundRobin makes a round-robin group of two answering phones (the
	// i-th and j-th) and places a first call, answered by the first.
	roundRobin := func(t *testing.T, number string, i, j int) (a, b *livePhoneOf, h *provisioning.HuntGroup, n string) {
		t.Helper()
		a, b = r.routingPhone(t, i, "phone_answer.xml"), r.routingPhone(t, j, "phone_answer.xml")
		h = &provisioning.HuntGroup{RoutingMeta: in, Number: number, Name: "g" + number, Strategy: provisioning.HuntRoundRobin,
			Members: []provisioning.HuntMember{{Destination: a.dest(), RingSecs: 8}, {Destination: b.dest(), RingSecs: 8}}}
		must(t, r.svc.CreateHuntGroup(ctx, sc, h))
		n = did(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID})
		cl, _ := call(t, n, 500)
		wait(t, cl, 20*time.Second)
		must(t, a.finished(5*time.Second))
		return a, b, h, n
	}

	t.Run("round-robin", func(t *testing.T) {
		a, b, _, n := roundRobin(t, "502", 7, 8)
		// a now only rings: the second call must start at b
		a.restart(t, "phone_ring.xml")
		cl, start := call(t, n, 500)
		wait(t, cl, 20*time.Second)
		took := time.Since(start)
		must(t, b.finished(5*time.Second))
		if a.finished(100*time.Millisecond) == nil {
			t.Errorf("the second call rang the member who answered the first")
		}
		note("round-robin", "1st call answered by member 1, 2nd by member 2 (member 1 not rung; %.1f s)", took.Seconds())
	})

	// skipped provisions group h, whose first member's phone is on the
	// call busy (10 s ring time), calls it and checks that the member was
	// left out: b answers at once, busy's own call goes on undisturbed.
	skipped := func(t *testing.T, h *provisioning.HuntGroup, b *livePhoneOf, busy *livePhone) time.Duration {
		t.Helper()
		must(t, r.svc.CreateHuntGroup(ctx, sc, h))
		cl, start := call(t, did(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}), 500)
		wait(t, cl, 20*time.Second)
		must(t, b.finished(5*time.Second))
		took := time.Since(start)
		if took > 5*time.Second {
			t.Errorf("the call took %v: the member on a call rang (ring time 10 s)", took)
		}
		wait(t, busy, 20*time.Second)
		return took
	}

	t.Run("skip-busy", func(t *testing.T) {
		a, b := r.routingPhone(t, 9, "phone_answer.xml"), r.routingPhone(t, 10, "phone_answer.xml")
		busy, _ := call(t, did(a.dest()), 8000) // a is on this call
		waitFor(t, 10*time.Second, "the first member on a call", func() bool {
			return strings.Contains(eslCommand(t, node, "api show channels like "+a.acct.AOR()), "1 total")
		})
		h := &provisioning.HuntGroup{RoutingMeta: in, Number: "503", Name: "g503", Strategy: provisioning.HuntSequential, SkipBusy: true,
			Members: []provisioning.HuntMember{{Destination: a.dest(), RingSecs: 10}, {Destination: b.dest(), RingSecs: 10}}}
		took := skipped(t, h, b, busy)
		note("skip_busy", "member 1 on a call was skipped, member 2 answered %.1f s after the INVITE", took.Seconds())
	})

	t.Run("call-waiting", func(t *testing.T) {
		// A phone on a call (it answered a first carrier call) is called
		// again through an extension: with call waiting off the caller
		// gets 486 at once, or the account's busy forward; on, the phone
		// rings (a second channel of its address).
		onCall := func(t *testing.T, p *livePhoneOf) *livePhone {
			first, _ := call(t, did(p.dest()), 10000)
			waitFor(t, 10*time.Second, "the phone on a call", func() bool {
				return strings.Contains(eslCommand(t, node, "api show channels like "+p.acct.AOR()), "1 total")
			})
			return first
		}
		off, on := false, true
		a := r.routingPhone(t, 23, "phone_answer.xml")
		first := onCall(t, a)
		x := &provisioning.Extension{RoutingMeta: in, Number: "110", Name: "no waiting", Destination: a.dest(), CallWaiting: &off}
		must(t, r.svc.CreateExtension(ctx, sc, x))
		cl := startPhone(t, "carrier refused", "carrier_refused.xml", external, "-s", "carrier", "-key", "dest", did(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}))
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		must(t, cl.result(cctx))
		cancel()
		took := time.Since(start)
		msgs, _ := filepath.Glob(filepath.Join(cl.dir, "*_messages.log"))
		var got []byte
		if len(msgs) == 1 {
			got, _ = os.ReadFile(msgs[0])
		}
		if !strings.Contains(string(got), "SIP/2.0 486") {
			t.Errorf("the second caller was not answered 486 (messages: %d bytes)", len(got))
		}
		if took > 5*time.Second {
			t.Errorf("busy took %v: the phone on a call rang", took)
		}
		note("call waiting off, phone on a call", "the second caller got 486 %.1f s after the INVITE", took.Seconds())

		// Its busy forward applies.
		to := r.routingPhone(t, 24, "phone_answer.xml")
		must(t, r.svc.CreateForward(ctx, sc, &provisioning.Forward{AccountID: &a.acct.ID, On: provisioning.ForwardBusy, Destination: to.dest(), Enabled: true}))
		cl2, start := call(t, did(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}), 500)
		wait(t, cl2, 15*time.Second)
		must(t, to.finished(5*time.Second))
		note("call waiting off, busy forward", "the busy forward's phone answered %.1f s after the INVITE", time.Since(start).Seconds()-0.5)
		wait(t, first, 20*time.Second)

		// On: the phone on a call is rung.
		b := r.routingPhone(t, 25, "phone_answer.xml")
		firstB := onCall(t, b)
		y := &provisioning.Extension{RoutingMeta: in, Number: "111", Name: "waiting", Destination: b.dest(), CallWaiting: &on}
		must(t, r.svc.CreateExtension(ctx, sc, y))
		n := did(provisioning.Destination{Kind: provisioning.DestExtension, ID: y.ID})
		second, _ := call(t, n, 500)
		waitFor(t, 10*time.Second, "the phone rung a second time", func() bool {
			return strings.Contains(eslCommand(t, node, "api show channels like "+b.acct.AOR()), "2 total")
		})
		// The phone's UAS takes one call: end the second one here.
		_ = second.cmd.Process.Kill()
		eslCommand(t, node, "api hupall NORMAL_CLEARING destination_number "+n)
		wait(t, firstB, 20*time.Second)
		note("call waiting on, phone on a call", "the phone was rung again (two channels of its address)")
	})

	t.Run("failover", func(t *testing.T) {
		a, b := r.routingPhone(t, 11, "phone_ring.xml"), r.routingPhone(t, 12, "phone_answer.xml")
		h := &provisioning.HuntGroup{RoutingMeta: in, Number: "504", Name: "g504", Strategy: provisioning.HuntRingAll, RingSecs: 5,
			Members: []provisioning.HuntMember{{Destination: a.dest()}}, Failover: b.dest()}
		must(t, r.svc.CreateHuntGroup(ctx, sc, h))
		cl, start := call(t, did(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}), 500)
		must(t, a.finished(15*time.Second))
		rang := a.uas.endsAt.Sub(start)
		wait(t, cl, 20*time.Second)
		must(t, b.finished(5*time.Second))
		note("failover after the group's time", "member cancelled after %.1f s (group 5 s), failover phone answered", rang.Seconds())
	})

	t.Run("conditions", func(t *testing.T) {
		m, miss := r.routingPhone(t, 13, "phone_answer.xml"), r.routingPhone(t, 14, "phone_answer.xml")
		now := time.Now().UTC()
		win := func(from, to time.Time) string { return from.Format("15:04") + "-" + to.Format("15:04") }
		inNow := win(now.Add(-time.Hour), now.Add(time.Hour))
		notNow := win(now.Add(2*time.Hour), now.Add(3*time.Hour))
		for _, tc := range []struct {
			name    string
			times   []string
			callers []string
			want    *livePhoneOf
		}{
			{"window containing now, caller matches", []string{inNow}, []string{"+1555000*"}, m},
			{"window not containing now", []string{notNow}, nil, miss},
			{"caller not in the list", nil, []string{"+4930*"}, miss},
		} {
			c := &provisioning.Condition{RoutingMeta: in, Name: tc.name, TimeZone: "UTC", Times: tc.times, CallerIDs: tc.callers, Match: m.dest(), Miss: miss.dest()}
			must(t, r.svc.CreateCondition(ctx, sc, c))
			cl, _ := call(t, did(provisioning.Destination{Kind: provisioning.DestCondition, ID: c.ID}), 500)
			wait(t, cl, 20*time.Second)
			must(t, tc.want.finished(5*time.Second))
			tc.want.restart(t, "phone_answer.xml")
			note("condition: "+tc.name, "answered by the %s phone", map[bool]string{true: "match", false: "miss"}[tc.want == m])
		}
	})

	t.Run("forwards", func(t *testing.T) {
		for _, tc := range []struct {
			on       provisioning.ForwardOn
			scenario string // the forwarded phone's
			register bool
			after    int
		}{
			{provisioning.ForwardBusy, "phone_busy.xml", true, 0},
			{provisioning.ForwardNoAnswer, "phone_ring.xml", true, 5},
			{provisioning.ForwardUnreachable, "", false, 0},
			{provisioning.ForwardAlways, "phone_ring.xml", true, 0},
		} {
			var from *provisioning.Account
			if tc.register {
				from = r.routingPhone(t, 15, tc.scenario).acct
			} else {
				from, _ = r.account(t, liveUser(t, 16))
			}
			to := r.routingPhone(t, 17, "phone_answer.xml")
			must(t, r.svc.CreateForward(ctx, sc, &provisioning.Forward{AccountID: &from.ID, On: tc.on, AfterSecs: tc.after, Destination: to.dest(), Enabled: true}))
			cl, start := call(t, did(provisioning.Destination{Kind: provisioning.DestAccount, ID: from.ID}), 500)
			wait(t, cl, 25*time.Second)
			must(t, to.finished(5*time.Second))
			note("forward "+string(tc.on)+" → phone", "the forward's phone answered %.1f s after the INVITE", time.Since(start).Seconds()-0.5)
		}
	})

	t.Run("outbound-caller-id", func(t *testing.T) {
		// A phone dials an outside number: the gateway (a UAS reading
		// the INVITE) sees the caller ID of the phone's extension.
		gw := startPhone(t, "gateway caller id", "phone_answer.xml", "", "-s", "gw")
		g := &provisioning.Gateway{Name: "sb-live-cid-" + strconv.FormatInt(time.Now().Unix()%100000, 10), Host: "127.0.0.1", Port: gw.port}
		must(t, r.svc.CreateGateway(ctx, sc, g))
		t.Cleanup(func() { _ = r.svc.DeleteGateway(context.Background(), sc, g.ID) })
		waitFor(t, 15*time.Second, "gateway "+g.Name+" on the node", func() bool {
			return !strings.Contains(eslCommand(t, node, "api sofia status gateway "+g.Name), "Invalid Gateway")
		})
		rt := &provisioning.OutboundRoute{RoutingMeta: in, Name: "cid", Patterns: []provisioning.DialPattern{"0044X."}, Strip: 2, Prepend: "+", GatewayIDs: []int64{g.ID}}
		must(t, r.svc.CreateOutboundRoute(ctx, sc, rt))
		t.Cleanup(func() { _ = r.svc.DeleteOutboundRoute(context.Background(), sc, rt.ID) })
		user := liveUser(t, 26)
		a, secret := r.account(t, user)
		x := &provisioning.Extension{RoutingMeta: in, Number: "1026", Name: "desk", Destination: provisioning.Destination{Kind: provisioning.DestAccount, ID: a.ID},
			CallerIDNumber: "+15145550126", CallerIDName: "Live Desk"}
		must(t, r.svc.CreateExtension(ctx, sc, x))
		c := startPhone(t, user+" calls out", "phone_call.xml", node.SIP, "-s", user, "-au", user, "-ap", secret, "-key", "dest", "00442075550126", "-d", "500")
		wait(t, c, 20*time.Second)
		must(t, gw.result(ctx))
		msgs, _ := filepath.Glob(filepath.Join(gw.dir, "*_messages.log"))
		var got []byte
		if len(msgs) == 1 {
			got, _ = os.ReadFile(msgs[0])
		}
		var from string
		for _, line := range strings.Split(string(got), "\n") {
			if strings.HasPrefix(line, "From:") && from == "" {
				from = strings.TrimSpace(line)
			}
		}
		if !strings.Contains(from, `"Live Desk" <sip:+15145550126@`) {
			t.Errorf("the gateway's INVITE has %q, want the extension's caller ID", from)
		}
		note("phone dials out, extension caller ID", "the gateway's INVITE: %s", from)
	})

	t.Run("outbound-failover", func(t *testing.T) {
		g503 := startPhone(t, "gateway 503", "gateway_503.xml", "", "-s", "gw")
		gok := startPhone(t, "gateway ok", "phone_answer.xml", "", "-s", "gw")
		var gws []int64
		for i, port := range []int{g503.port, gok.port} {
			g := &provisioning.Gateway{Name: "sb-live-gw" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().Unix()%100000, 10), Host: "127.0.0.1", Port: port}
			must(t, r.svc.CreateGateway(ctx, sc, g))
			gws = append(gws, g.ID)
			t.Cleanup(func() { _ = r.svc.DeleteGateway(context.Background(), sc, g.ID) })
			waitFor(t, 15*time.Second, "gateway "+g.Name+" on the node", func() bool {
				return !strings.Contains(eslCommand(t, node, "api sofia status gateway "+g.Name), "Invalid Gateway")
			})
		}
		must(t, r.svc.CreateOutboundRoute(ctx, sc, &provisioning.OutboundRoute{RoutingMeta: in, Name: "out", Patterns: []provisioning.DialPattern{"0049X."}, Strip: 2, Prepend: "+", GatewayIDs: gws}))
		from := r.routingPhone(t, 18, "phone_ring.xml").acct
		must(t, r.svc.CreateForward(ctx, sc, &provisioning.Forward{AccountID: &from.ID, On: provisioning.ForwardAlways,
			Destination: provisioning.Destination{Kind: provisioning.DestExternal, Number: "004930555123"}, Enabled: true}))
		cl, _ := call(t, did(provisioning.Destination{Kind: provisioning.DestAccount, ID: from.ID}), 500)
		wait(t, cl, 25*time.Second)
		must(t, g503.result(ctx))
		must(t, gok.result(ctx))
		note("forward always → external number, route failover", "first gateway answered 503, the second answered the call")
	})

	t.Run("call-waiting-member", func(t *testing.T) {
		// Plan.SkipsBusy: an extension member with call waiting off is
		// left out while its phone is on a call, in a group without
		// skip_busy; the next member is rung at once.
		a, b := r.routingPhone(t, 27, "phone_answer.xml"), r.routingPhone(t, 28, "phone_answer.xml")
		busy, _ := call(t, did(a.dest()), 8000) // a is on this call
		waitFor(t, 10*time.Second, "the member's phone on a call", func() bool {
			return strings.Contains(eslCommand(t, node, "api show channels like "+a.acct.AOR()), "1 total")
		})
		off := false
		x := &provisioning.Extension{RoutingMeta: in, Number: "1027", Name: "no waiting member", Destination: a.dest(), CallWaiting: &off}
		must(t, r.svc.CreateExtension(ctx, sc, x))
		h := &provisioning.HuntGroup{RoutingMeta: in, Number: "510", Name: "g510", Strategy: provisioning.HuntSequential,
			Members: []provisioning.HuntMember{{Destination: provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}, RingSecs: 10}, {Destination: b.dest(), RingSecs: 10}}}
		took := skipped(t, h, b, busy)
		note("extension member with call waiting off, phone on a call (group without skip_busy)", "skipped; member 2 answered, the call ended %.1f s after the INVITE (0.5 s talk)", took.Seconds())
	})

	t.Run("gateway-failover", func(t *testing.T) {
		// An external member whose route has two gateways: A, then B.
		stamp := strconv.FormatInt(time.Now().Unix()%100000, 10)
		gateway := func(t *testing.T, name, scenario string) (*livePhoneOf, int64) {
			uas := startPhone(t, "gateway "+name+" "+scenario, scenario, "", "-s", "gw")
			g := &provisioning.Gateway{Name: "sb-live-fo" + name + "-" + stamp, Host: "127.0.0.1", Port: uas.port}
			must(t, r.svc.CreateGateway(ctx, sc, g))
			t.Cleanup(func() { _ = r.svc.DeleteGateway(context.Background(), sc, g.ID) })
			waitFor(t, 15*time.Second, "gateway "+g.Name+" on the node", func() bool {
				return !strings.Contains(eslCommand(t, node, "api sofia status gateway "+g.Name), "Invalid Gateway")
			})
			return &livePhoneOf{acct: &provisioning.Account{Username: "gw"}, uas: uas, port: uas.port}, g.ID
		}
		gwA, idA := gateway(t, "a", "gateway_503.xml")
		gwB, idB := gateway(t, "b", "phone_answer.xml")
		rt := &provisioning.OutboundRoute{RoutingMeta: in, Name: "failover", Patterns: []provisioning.DialPattern{"0033X."}, Strip: 2, Prepend: "+", GatewayIDs: []int64{idA, idB}}
		must(t, r.svc.CreateOutboundRoute(ctx, sc, rt))
		t.Cleanup(func() { _ = r.svc.DeleteOutboundRoute(context.Background(), sc, rt.ID) })
		external := provisioning.Destination{Kind: provisioning.DestExternal, Number: "0033155501234"}
		carrierGot := func(cl *livePhone, codes ...string) bool {
			for _, code := range codes {
				if strings.Contains(sippMessages(cl), "SIP/2.0 "+code) {
					return true
				}
			}
			return false
		}

		// ring_all: a phone and the number (enterprise originate)
		p := r.routingPhone(t, 29, "phone_ring.xml")
		ringAll := &provisioning.HuntGroup{RoutingMeta: in, Number: "511", Name: "g511", Strategy: provisioning.HuntRingAll, RingSecs: 15,
			Members: []provisioning.HuntMember{{Destination: p.dest()}, {Destination: external}}}
		must(t, r.svc.CreateHuntGroup(ctx, sc, ringAll))
		n := did(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: ringAll.ID})
		cl, start := call(t, n, 1000)
		wait(t, cl, 20*time.Second)
		must(t, gwA.finished(5*time.Second))
		must(t, gwB.finished(5*time.Second))
		must(t, p.finished(5*time.Second)) // cancelled when B answered
		after := sippFirstMessage(t, gwB.uas).Sub(sippFirstMessage(t, gwA.uas))
		if !carrierGot(cl, "180", "183") {
			t.Errorf("the caller got no 180/183 (enterprise originate relays none)")
		}
		note("ring-all: phone + external number, gateway A 503, B answers", "B's INVITE %d ms after A's; B answered, the phone got CANCEL; the caller got 180 (ring_ready); call done %.1f s after the INVITE (1 s talk)",
			after.Milliseconds(), time.Since(start).Seconds())

		// ring_all: the phone answers (after 2 s), B only rings
		gwA.restart(t, "gateway_503.xml")
		gwB.restart(t, "phone_ring.xml")
		p.restart(t, "phone_answer_after.xml", "-d", "2000")
		cl, _ = call(t, n, 500)
		wait(t, cl, 20*time.Second)
		must(t, p.finished(5*time.Second))
		must(t, gwA.finished(5*time.Second))
		must(t, gwB.finished(5*time.Second)) // rang, then CANCEL
		cancelled := gwB.uas.endsAt.Sub(sippFirstMessage(t, gwB.uas))
		note("ring-all: the phone answers after 2 s", "gateway A 503, B rang and got CANCEL %.1f s after its INVITE; the phone's leg bridged", cancelled.Seconds())

		// sequential: the number's turn first (6 s), then a phone
		b := r.routingPhone(t, 30, "phone_answer.xml")
		seq := &provisioning.HuntGroup{RoutingMeta: in, Number: "512", Name: "g512", Strategy: provisioning.HuntSequential,
			Members: []provisioning.HuntMember{{Destination: external, RingSecs: 6}, {Destination: b.dest(), RingSecs: 10}}}
		must(t, r.svc.CreateHuntGroup(ctx, sc, seq))
		n = did(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: seq.ID})
		gwA.restart(t, "gateway_503.xml")
		gwB.restart(t, "phone_answer.xml")
		cl, start = call(t, n, 500)
		wait(t, cl, 20*time.Second)
		must(t, gwA.finished(5*time.Second))
		must(t, gwB.finished(5*time.Second))
		if b.finished(100*time.Millisecond) == nil {
			t.Errorf("the next member rang though the number's second gateway answered")
		}
		after = sippFirstMessage(t, gwB.uas).Sub(sippFirstMessage(t, gwA.uas))
		note("sequential: the number's turn, gateway A 503", "B's INVITE %d ms after A's, within the member's 6 s; B answered; the next member not rung (%.1f s)", after.Milliseconds(), time.Since(start).Seconds())

		// sequential: A rings out: no failover to B, the next member
		gwA.restart(t, "phone_ring.xml")
		gwB.restart(t, "phone_answer.xml")
		cl, start = call(t, n, 500)
		must(t, gwA.finished(15*time.Second))
		rang := gwA.uas.endsAt.Sub(start)
		wait(t, cl, 25*time.Second)
		must(t, b.finished(5*time.Second))
		if gwB.finished(100*time.Millisecond) == nil || sippMessages(gwB.uas) != "" {
			t.Errorf("gateway B got an INVITE after A rang out")
		}
		if rang < 5*time.Second || rang > 8*time.Second { // whole seconds, as in sequential
			t.Errorf("gateway A was cancelled %v after the call started, want ~6 s", rang)
		}
		note("sequential: gateway A rings out", "A cancelled after %.1f s (member's 6 s), B never got an INVITE, the next member answered", rang.Seconds())

		// ring_all: nobody answers: every thread ends at the group's time
		// (the phone's originate_timeout, the gateway's leg_timeout), no
		// failover to B after A rang out, the group's failover answers
		fo := r.routingPhone(t, 33, "phone_answer.xml")
		p.restart(t, "phone_ring.xml")
		gwA.restart(t, "phone_ring.xml")
		gwB.restart(t, "phone_answer.xml")
		short := &provisioning.HuntGroup{RoutingMeta: in, Number: "514", Name: "g514", Strategy: provisioning.HuntRingAll, RingSecs: 5,
			Members: []provisioning.HuntMember{{Destination: p.dest()}, {Destination: external}}, Failover: fo.dest()}
		must(t, r.svc.CreateHuntGroup(ctx, sc, short))
		cl, start = call(t, did(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: short.ID}), 500)
		must(t, p.finished(15*time.Second))
		must(t, gwA.finished(5*time.Second))
		wait(t, cl, 20*time.Second)
		must(t, fo.finished(5*time.Second))
		if gwB.finished(100*time.Millisecond) == nil || sippMessages(gwB.uas) != "" {
			t.Errorf("gateway B got an INVITE after A rang out")
		}
		pEnd, aEnd := p.uas.endsAt.Sub(start), gwA.uas.endsAt.Sub(start)
		for _, d := range []time.Duration{pEnd, aEnd} {
			if d < 4*time.Second || d > 7*time.Second {
				t.Errorf("a member was cancelled %v after the call started, want ~5 s (the phone %v, gateway A %v)", d, pEnd, aEnd)
			}
		}
		note("ring-all: nobody answers (group 5 s)", "the phone cancelled after %.1f s, gateway A after %.1f s, B never got an INVITE, the failover phone answered", pEnd.Seconds(), aEnd.Seconds())
	})

	t.Run("deleted-hunt-group", func(t *testing.T) {
		a := r.routingPhone(t, 19, "phone_answer.xml")
		h := &provisioning.HuntGroup{RoutingMeta: in, Number: "509", Name: "g509", Strategy: provisioning.HuntRingAll,
			Members: []provisioning.HuntMember{{Destination: a.dest()}}}
		must(t, r.svc.CreateHuntGroup(ctx, sc, h))
		x := &provisioning.Extension{RoutingMeta: in, Number: "9509", Name: "to the group", Destination: provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}}
		must(t, r.svc.CreateExtension(ctx, sc, x))
		n := did(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID})
		cl, _ := call(t, n, 300)
		wait(t, cl, 20*time.Second)
		must(t, a.finished(5*time.Second))
		a.restart(t, "phone_answer.xml")
		_, err := r.svc.UpdateExtension(ctx, sc, x.ID, func(x *provisioning.Extension) error {
			x.Destination = provisioning.Destination{Kind: provisioning.DestBusy}
			return nil
		})
		must(t, err)
		must(t, r.svc.DeleteHuntGroup(ctx, sc, h.ID))
		deleted := time.Now()
		refused := startPhone(t, "carrier refused", "carrier_refused.xml", external, "-s", "carrier", "-key", "dest", n)
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := refused.result(rctx); err != nil {
			t.Errorf("the call after the deletion was not refused within 2 s: %v", err)
		}
		if a.finished(100*time.Millisecond) == nil {
			t.Errorf("the deleted group's member rang")
		}
		note("deleted hunt group", "the next call, placed at once, refused %.2f s after the API returned; member not rung", time.Since(deleted).Seconds())
	})

	t.Run("switchboard-down", func(t *testing.T) {
		if rf == nil {
			t.Skip("needs fallback_dir")
		}
		a := r.routingPhone(t, 20, "phone_ring.xml")
		b := r.routingPhone(t, 21, "phone_answer.xml")
		h := &provisioning.HuntGroup{RoutingMeta: in, Number: "520", Name: "g520", Strategy: provisioning.HuntSequential,
			Members: []provisioning.HuntMember{{Destination: a.dest(), RingSecs: 5}, {Destination: b.dest(), RingSecs: 10}}}
		must(t, r.svc.CreateHuntGroup(ctx, sc, h))
		n := did(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID})
		must(t, rf.Sync(ctx))
		must(t, df.Sync(ctx))
		r.stopHTTP()
		defer r.startHTTP(t)
		cl, _ := call(t, n, 500)
		wait(t, cl, 25*time.Second)
		must(t, a.finished(5*time.Second))
		must(t, b.finished(5*time.Second))
		note("Switchboard down (endpoints closed)", "sequential group via the fallback files: member 1 rang 5 s, member 2 answered")
	})

	t.Run("round-robin-restart", func(t *testing.T) {
		// The round-robin memory is in mod_db (the node's database on
		// disk): a restart of FreeSWITCH between two calls keeps the
		// rotation.
		start := os.Getenv(liveStartEnv)
		if start == "" || node.PIDFile == "" {
			t.Skipf("set %s (the command that starts this FreeSWITCH) and pid_file to restart the node", liveStartEnv)
		}
		a, b, h, n := roundRobin(t, "513", 31, 32)
		key := fmt.Sprintf("db select/sb_rr/t%dh%d", tenant, h.ID)
		before := eslBody(eslCommand(t, node, "api "+key))
		if before != "1" {
			t.Fatalf("%s after member 1 answered: %q, want 1", key, before)
		}
		took := restartNode(t, node, start)
		r.waitConnected(t)
		after := eslBody(eslCommand(t, node, "api "+key))
		a.restart(t, "phone_ring.xml") // a must not be rung now
		r.register(t, a)
		r.register(t, b)
		waitFor(t, 15*time.Second, "both phones registered on the restarted node", func() bool {
			regs := eslCommand(t, node, "api show registrations")
			return strings.Contains(regs, a.acct.Username) && strings.Contains(regs, b.acct.Username)
		})
		cl, _ := call(t, n, 500)
		wait(t, cl, 20*time.Second)
		must(t, b.finished(5*time.Second))
		if a.finished(100*time.Millisecond) == nil {
			t.Errorf("the call after the restart rang the member who answered before it")
		}
		note("round-robin across a FreeSWITCH restart", "1st call answered by member 1 (%s = %s); FreeSWITCH restarted (%.1f s until ESL and sofia were back), the value read %q; 2nd call answered by member 2, member 1 not rung",
			key, before, took.Seconds(), after)
	})
}

// sippMessages is what a sipp process sent and received so far
// (-trace_msg).
func sippMessages(p *livePhone) string {
	msgs, _ := filepath.Glob(filepath.Join(p.dir, "*_messages.log"))
	if len(msgs) != 1 {
		return ""
	}
	b, _ := os.ReadFile(msgs[0])
	return string(b)
}

// sippFirstMessage is when a sipp process logged its first message: the
// local time on its first "-----… 2006-01-02 15:04:05.000000" line.
func sippFirstMessage(t *testing.T, p *livePhone) time.Time {
	t.Helper()
	for _, line := range strings.Split(sippMessages(p), "\n") {
		if rest, ok := strings.CutPrefix(line, "----------------------------------------------- "); ok {
			at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(rest), time.Local)
			if err == nil {
				return at
			}
		}
	}
	t.Fatalf("no message time in %s's log", p.name)
	return time.Time{}
}

func fmtS(format string, args ...any) string { return strings.TrimSpace(fmt.Sprintf(format, args...)) }

// liveStartEnv is the shell command that starts the live FreeSWITCH
// (e.g. cd /tmp && /opt/freeswitch/bin/freeswitch -conf … -nc -nonat):
// TestLiveRouting's round-robin-restart stops the node (SIGTERM to
// pid_file's process) and starts it again with it.
const liveStartEnv = "SWITCHBOARD_TEST_FREESWITCH_START"

// restartNode stops the node (SIGTERM, as fsctl shutdown), starts it
// with the command start and waits until its ESL answers and its sofia
// profiles run; it returns how long that took.
func restartNode(t *testing.T, node liveNode, start string) time.Duration {
	t.Helper()
	pid := livePID(t, node)
	began := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "FreeSWITCH to exit", func() bool { return syscall.Kill(pid, 0) != nil })
	cmd := exec.Command("sh", "-c", start)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives the test
	if err := cmd.Start(); err != nil {                  // -nc backgrounds it; without, sh runs on
		t.Fatalf("%s: %v", start, err)
	}
	go func() { _ = cmd.Wait() }()
	waitFor(t, 60*time.Second, "FreeSWITCH's ESL and sofia profiles", func() bool {
		c, err := net.DialTimeout("tcp", node.ESL, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		st := eslCommand(t, node, "api sofia status")
		return strings.Count(st, "RUNNING") >= 2
	})
	return time.Since(began)
}

// livePID is the node's process id, read from pid_file.
func livePID(t *testing.T, node liveNode) int {
	t.Helper()
	b, err := os.ReadFile(node.PIDFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", node.PIDFile, err)
	}
	return pid
}

// eslBody is the body of an api reply as eslCommand returns it.
func eslBody(reply string) string {
	for {
		line, rest, ok := strings.Cut(reply, "\n")
		if !ok || !strings.HasPrefix(line, "Content-") {
			return strings.TrimSpace(reply)
		}
		reply = rest
	}
}

// liveSetupEnv turns on TestLiveRoutingSetupTime: the number of calls
// per case (e.g. 30).
const liveSetupEnv = "SWITCHBOARD_TEST_FREESWITCH_SETUP"

// TestLiveRoutingSetupTime measures the call setup time Switchboard adds:
// a carrier's INVITE to the first 180/183 (sipp's response time), calls
// one at a time, for a DID answered without routing (xml_curl bridges to
// the account), a DID routed to its account (a DID lookup and the
// account's label), and a DID through a condition (time window and
// caller) to a skip_busy hunt group (five lookups and a show channels).
func TestLiveRoutingSetupTime(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(liveSetupEnv))
	if n <= 0 {
		t.Skipf("set %s=<calls per case> (and %s) to measure call setup time", liveSetupEnv, liveEnv)
	}
	node := requireLiveNode(t)
	external := profileAddress(t, node, "external")
	ctx := context.Background()
	sc := provisioning.AdminScope()
	measure := func(t *testing.T, r *liveRig, name string, d func(phone *livePhoneOf) provisioning.Destination) {
		user := liveUser(t, 1)
		a, secret := r.account(t, user)
		uas := startPhone(t, user+" answers", "phone_answer.xml", "", "-s", user, "-m", strconv.Itoa(n))
		startPhone(t, user+" register", "phone_register.xml", node.SIP, "-s", user, "-au", user, "-ap", secret,
			"-key", "contact_port", strconv.Itoa(uas.port), "-d", "120000")
		waitFor(t, 10*time.Second, user+" registered", func() bool { return len(r.registered(user)) == 1 })
		dest := d(&livePhoneOf{acct: a, uas: uas, port: uas.port})
		number := "+1556" + strconv.FormatInt(time.Now().UnixMilli()%1000000, 10)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: a.TenantID, Number: number, Destination: &dest}))
		caller := startPhone(t, "carrier", "carrier_setup.xml", external, "-s", "carrier", "-key", "dest", number, "-d", "200",
			"-m", strconv.Itoa(n), "-l", "1", "-r", "4", "-trace_rtt", "-rtt_freq", "1")
		cctx, cancel := context.WithTimeout(ctx, time.Duration(n)*3*time.Second+20*time.Second)
		defer cancel()
		caller.wait(cctx)
		files, _ := filepath.Glob(filepath.Join(caller.dir, "*_rtt.csv"))
		if len(files) != 1 {
			t.Fatalf("no rtt file in %s", caller.dir)
		}
		b, err := os.ReadFile(files[0])
		must(err)
		var ms []float64
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Split(line, ";")
			if len(f) >= 2 {
				if v, err := strconv.ParseFloat(f[1], 64); err == nil {
					ms = append(ms, v)
				}
			}
		}
		if len(ms) != n {
			t.Fatalf("%d response times for %d calls", len(ms), n)
		}
		slices.Sort(ms)
		t.Logf("| %s | %d | %.1f | %.1f | %.1f |", name, n, ms[len(ms)/2], ms[len(ms)*95/100], ms[len(ms)-1])
	}
	t.Run("no routing", func(t *testing.T) {
		r := newLiveRig(t, node)
		r.waitConnected(t)
		measure(t, r, "DID → account, no routing (xml_curl bridges)", func(p *livePhoneOf) provisioning.Destination { return p.dest() })
	})
	t.Run("routing", func(t *testing.T) {
		r := newLiveRig(t, node, withRouting())
		r.waitConnected(t)
		measure(t, r, "DID → account (routing: DID + account label)", func(p *livePhoneOf) provisioning.Destination { return p.dest() })
		measure(t, r, "DID → condition → skip_busy hunt group", func(p *livePhoneOf) provisioning.Destination {
			ts, err := r.svc.Tenants(ctx, sc, provisioning.TenantFilter{})
			if err != nil {
				t.Fatal(err)
			}
			in := provisioning.RoutingMeta{TenantID: ts[0].ID}
			h := &provisioning.HuntGroup{RoutingMeta: in, Number: strconv.FormatInt(time.Now().UnixMilli()%100000, 10), Name: "setup", Strategy: provisioning.HuntSequential, SkipBusy: true,
				Members: []provisioning.HuntMember{{Destination: p.dest()}}}
			if err := r.svc.CreateHuntGroup(ctx, sc, h); err != nil {
				t.Fatal(err)
			}
			c := &provisioning.Condition{RoutingMeta: in, Name: "setup", TimeZone: "UTC", Times: []string{"00:00-24:00"}, CallerIDs: []string{"+1555*"},
				Match: provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}, Miss: provisioning.Destination{Kind: provisioning.DestHangup}}
			if err := r.svc.CreateCondition(ctx, sc, c); err != nil {
				t.Fatal(err)
			}
			return provisioning.Destination{Kind: provisioning.DestCondition, ID: c.ID}
		})
	})
}
