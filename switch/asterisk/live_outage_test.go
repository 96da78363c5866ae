package asterisk

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// The variables of TestLiveOutage, besides the node's (live_env_test.go).
const (
	// envLiveDialplan is the generated dialplan file on the node
	// (NodeConfig.DialplanFile), writable by the test, that the node's
	// extensions.conf #tryincludes and whose switchboard-dids context its
	// from-gateway context includes (README, "DIDs").
	envLiveDialplan = "SWITCHBOARD_TEST_ASTERISK_DIALPLAN"
	// envLiveRestart, set to 1, lets TestLiveOutage restart the node
	// (CLI core restart now) while Switchboard is away; it needs the
	// CLI and the astdb sorcery wizards of the README.
	envLiveRestart = "SWITCHBOARD_TEST_ASTERISK_RESTART"
	// envLiveOutage is how long Switchboard stays away (a Go duration;
	// 60s when unset).
	envLiveOutage = "SWITCHBOARD_TEST_OUTAGE"
)

// TestLiveOutage (issue 12 item 13): Switchboard pushes two accounts and a
// carrier gateway and writes the DID of one account into the generated
// dialplan; then it goes away (every connection to ARI cut and refused,
// the dialplan keeper stopped) and, with envLiveRestart, Asterisk is
// restarted meanwhile. For the whole outage a phone REGISTERs every round
// and a carrier (an unauthenticated INVITE from 127.0.0.2, the gateway's
// identify) calls the DID, answered by the account's registered phone:
// every attempt must succeed. Once Switchboard is back its reconcile
// finds every object as it left it, and an object it did not create is
// still there.
func TestLiveOutage(t *testing.T) {
	n := requireLiveNode(t)
	dpPath := os.Getenv(envLiveDialplan)
	if dpPath == "" {
		t.Skipf("%s is not set: the outage test needs the node's generated dialplan file (see switch/asterisk/README.md)", envLiveDialplan)
	}
	restart := os.Getenv(envLiveRestart) == "1"
	if restart && n.cli == nil {
		t.Fatalf("%s=1 needs %s to restart the node", envLiveRestart, envLiveCLI)
	}
	outage := 60 * time.Second
	if v := os.Getenv(envLiveOutage); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a duration like 60s", envLiveOutage, v)
		}
		outage = d
	}

	r := startLiveRig(t, n, nil)
	r.connected(t)
	callee, phone := r.newPhone("callee"), r.newPhone("phone")
	gw := provisioning.Gateway{ID: 900, Name: "sblive-carrier-" + strconv.Itoa(liveUserBase), Host: "127.0.0.2", Port: 5060}
	if err := r.pusher.Apply(t.Context(), provisioning.Change{Op: provisioning.OpUpsert, Gateway: &gw}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "both accounts and the gateway on the node", func() bool {
		_, err := r.direct.Get(t.Context(), ObjectRef{PJSIPIdentify, gw.Name})
		return r.pushed(callee) && r.pushed(phone) && err == nil
	})
	// An object Switchboard did not create, next to its own.
	foreign := ObjectRef{PJSIPAuth, "sblive-foreign-" + strconv.Itoa(liveUserBase)}
	if _, err := r.direct.Put(t.Context(), foreign, []Field{{"auth_type", "userpass"}, {"username", "x"}, {"password", "not-switchboards"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.direct.Delete(context.Background(), foreign) })

	did := "+1556" + callee.user
	dpCtx, stopDialplan := context.WithCancel(context.Background())
	dp := NewDialplan(DialplanConfig{
		Node: liveSwitch, Path: dpPath, Options: DefaultPushOptions(), Client: r.direct,
		Routes: func(context.Context) ([]provisioning.DIDRoute, error) {
			return []provisioning.DIDRoute{{Number: did, Account: provisioning.Account{Username: callee.user, Domain: liveDomain}}}, nil
		},
		Keeper: genfile.Config{Debounce: 20 * time.Millisecond, RetryMin: 100 * time.Millisecond},
	})
	dpDone := make(chan struct{})
	go func() { defer close(dpDone); _ = dp.Run(dpCtx) }()
	t.Cleanup(func() {
		stopDialplan()
		<-dpDone
		_ = os.WriteFile(dpPath, nil, 0o644)
		_ = r.direct.ReloadModule(context.Background(), "pbx_config")
	})
	took := waitFor(t, 10*time.Second, "the DID in the dialplan file and pbx_config reloaded", func() bool {
		b, _ := os.ReadFile(dpPath)
		writes, reloads := dp.Counts()
		return strings.Contains(string(b), "exten => "+did+",1,") && reloads >= 1 && reloads == writes
	})
	t.Logf("dialplan file written and pbx_config reloaded %v after start", took.Round(time.Millisecond))

	// register REGISTERs p for expires seconds and reports whether
	// Asterisk answered 200 (liveNode.register fails the test instead).
	register := func(p livePhone, expires int) error {
		s := startSipp(t, "register_uac.xml", nil, n.sip,
			"-s", p.user, "-au", p.user, "-ap", p.secret,
			"-key", "domain", p.domain, "-key", "contact", "127.0.0.1:"+strconv.Itoa(p.port), "-key", "expires", strconv.Itoa(expires),
			"-p", strconv.Itoa(freeUDPPort(t)), "-m", "1", "-timeout", "10s", "-timeout_error")
		return s.wait(15 * time.Second)
	}
	// callDID registers the callee's phone, has it answer, and has the
	// carrier call dest (the DID with or without its +); nil when the
	// call was answered and ended.
	callDID := func(dest string) error {
		if err := register(callee, 300); err != nil {
			return fmt.Errorf("the callee's REGISTER: %w", err)
		}
		uas := n.answer(t, callee, 300*time.Millisecond)
		carrier := startSipp(t, "carrier_uac.xml", nil, n.sip, "-key", "callee", dest, "-i", "127.0.0.2",
			"-p", strconv.Itoa(freeUDPPort(t)), "-m", "1", "-timeout", "15s", "-timeout_error")
		err := carrier.wait(20 * time.Second)
		if err != nil {
			_ = uas.cmd.Process.Kill()
		}
		<-uas.done
		return err
	}
	if err := callDID(did); err != nil {
		t.Fatalf("DID call with Switchboard up: %v", err)
	}

	// Switchboard goes away.
	stopDialplan()
	<-dpDone
	r.proxy.Refuse(true)
	r.proxy.Cut()
	down := time.Now()
	waitFor(t, 10*time.Second, "the adapter to see the node gone", func() bool { return !r.state().Connected })
	if restart {
		restarted := time.Now()
		if _, err := n.runCLI(t.Context(), "core restart now"); err != nil {
			t.Fatal(err)
		}
		// The new process (the old one may still answer the first
		// commands: its uptime is longer than the time since the
		// restart), fully booted: every module loaded.
		uptime := regexp.MustCompile(`System uptime: (\d+)`)
		back := waitFor(t, 60*time.Second, "the node back from its restart", func() bool {
			out, err := n.runCLI(t.Context(), "core show uptime seconds")
			m := uptime.FindStringSubmatch(out)
			if err != nil || m == nil {
				return false
			}
			secs, _ := strconv.Atoi(m[1])
			return time.Duration(secs)*time.Second <= time.Since(restarted)
		})
		if _, err := n.runCLI(t.Context(), "core waitfullybooted"); err != nil {
			t.Fatal(err)
		}
		t.Logf("node restarted while Switchboard was away: up again %v, fully booted %v after the restart command",
			back.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
		for _, u := range []livePhone{callee, phone} {
			for _, typ := range []ObjectType{PJSIPAuth, PJSIPAOR, PJSIPEndpoint} {
				if _, err := r.direct.Get(t.Context(), ObjectRef{typ, u.user}); err != nil {
					t.Errorf("res_pjsip/%s/%s after the restart: %v (sorcery.conf must keep pushed objects in astdb)", typ, u.user, err)
				}
			}
		}
	}
	var regs, regsOK, calls, callsOK int
	for round := 0; time.Since(down) < outage; round++ {
		next := down.Add(time.Duration(round+1) * 5 * time.Second)
		regs++
		if err := register(phone, 60); err != nil {
			t.Errorf("%v into the outage: REGISTER failed: %v", time.Since(down).Round(time.Second), err)
		} else {
			regsOK++
		}
		calls++
		// Every other call without the +: a digit-only number that an _X.
		// of the operator's would take if it were matched before the
		// included switchboard-dids.
		dest := did
		if round%2 == 1 {
			dest = strings.TrimPrefix(did, "+")
		}
		if err := callDID(dest); err != nil {
			t.Errorf("%v into the outage: DID call to %s failed: %v", time.Since(down).Round(time.Second), dest, err)
		} else {
			callsOK++
		}
		if wait := min(time.Until(next), time.Until(down.Add(outage))); wait > 0 {
			time.Sleep(wait)
		}
	}
	gone := time.Since(down)
	t.Logf("Switchboard away %v (node restarted: %v): REGISTERs %d/%d, DID calls %d/%d answered", gone.Round(time.Millisecond), restart, regsOK, regs, callsOK, calls)
	if regs < 2 || calls < 2 {
		t.Errorf("only %d REGISTERs and %d calls in the outage", regs, calls)
	}

	// Back: the reconcile on connect finds everything as it left it and
	// leaves the foreign object alone.
	r.proxy.Refuse(false)
	waitFor(t, 30*time.Second, "the adapter back", func() bool { return r.state().Connected })
	if err := r.pusher.Reconcile(t.Context(), r.accounts(), []provisioning.Gateway{gw}); err != nil {
		t.Errorf("reconcile after the outage: %v", err)
	}
	if _, err := r.direct.Get(t.Context(), foreign); err != nil {
		t.Errorf("the object Switchboard did not create, after its reconcile: %v", err)
	}
	for _, st := range r.pusher.States() {
		if st.State != StateApplied {
			t.Errorf("after the outage %s is %s: %s", st.Ref, st.State, st.Error)
		}
	}
}
