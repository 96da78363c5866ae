package freeswitch

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// liveOutageEnv sets how long TestLiveOutageDIDRouting keeps Switchboard
// down (a Go duration; 60s when unset, as issue 12 item 13 asks).
const liveOutageEnv = "SWITCHBOARD_TEST_OUTAGE"

func liveOutageLength(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv(liveOutageEnv)
	if v == "" {
		return 60 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a duration like 60s", liveOutageEnv, v)
	}
	return d
}

// TestLiveOutageDIDRouting (issue 12 item 13): Switchboard's side dies
// (its xml-curl endpoint refuses every connection, as after a SIGKILL, and
// the DID fallback's keeper stops with it) for a whole minute; during it a
// phone re-registers every round and a carrier calls a provisioned DID
// every round, each call answered by the DID's registered account. Every
// attempt must succeed: registrations from FreeSWITCH's directory cache,
// DIDs from the static fallback file (00_switchboard_dids.xml in the
// node's public dialplan). A call to a number that is not provisioned
// must fail all the same, so that success is not a catch-all's doing.
func TestLiveOutageDIDRouting(t *testing.T) {
	r := startLive(t)
	node := r.node
	if node.FallbackDir == "" {
		t.Skipf("set fallback_dir in %s to the node's dialplan/public directory", liveEnv)
	}
	outage := liveOutageLength(t)
	external := profileAddress(t, node, "external")
	ctx, cancel := context.WithTimeout(context.Background(), outage+2*time.Minute)
	defer cancel()

	fbCtx, killFallback := context.WithCancel(ctx)
	fb := NewDIDFallback(DIDFallbackConfig{
		Node: node.Name, Dir: node.FallbackDir, Commander: r.a,
		Routes: func(ctx context.Context) ([]provisioning.DIDRoute, error) { return r.svc.DIDRoutes(ctx, "") },
		Keeper: genfile.Config{Debounce: 50 * time.Millisecond, RetryMin: 100 * time.Millisecond},
	})
	r.svc.AddSink(fb)
	fbDone := make(chan struct{})
	go func() { defer close(fbDone); _ = fb.Run(fbCtx) }()
	t.Cleanup(func() {
		killFallback()
		<-fbDone
		_ = os.Remove(fb.Path())
		eslCommand(t, node, "api reloadxml")
	})

	callee, phone := liveUser(t, 4), liveUser(t, 5)
	acct, calleeSecret := r.account(t, callee)
	_, phoneSecret := r.account(t, phone)
	did := "+1556" + callee[1:]
	if err := r.svc.CreateDID(ctx, provisioning.AdminScope(), &provisioning.DID{TenantID: acct.TenantID, Number: did, AccountID: &acct.ID}); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 10*time.Second, "the DID in the fallback file and reloadxml accepted", func() bool {
		b, _ := os.ReadFile(fb.Path())
		writes, reloads := fb.Counts()
		return strings.Contains(string(b), `expression="^\+?`+strings.TrimPrefix(did, "+")+`$"`) && reloads >= 1 && reloads == writes
	})
	t.Logf("fallback file written and reloaded %v after the DID was created", took)

	uasPort := freeUDPPort(t)
	// register has user register with the contact port contact (0: the
	// phone's own port) and hold the registration for hold.
	register := func(name, user, secret string, contact int, hold time.Duration) error {
		c, cancel := context.WithTimeout(ctx, hold+15*time.Second)
		defer cancel()
		port := freeUDPPort(t)
		if contact == 0 {
			contact = port
		}
		p := startPhoneOn(t, name, port, "phone_register.xml", node.SIP, "-s", user, "-au", user, "-ap", secret,
			"-key", "contact_port", strconv.Itoa(contact), "-d", strconv.Itoa(int(hold.Milliseconds())), "-recv_timeout", "3000")
		return p.result(c)
	}
	// call has the carrier call dest while the callee's UAS answers.
	call := func(name, dest string) error {
		c, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		uas := startPhoneOn(t, name+" (callee)", uasPort, "phone_answer.xml", "", "-s", callee)
		err := startPhone(t, name, "carrier_call.xml", external, "-s", "carrier", "-key", "dest", dest, "-d", "300", "-recv_timeout", "5000").result(c)
		if err != nil {
			_ = uas.cmd.Process.Kill()
		}
		<-uas.done
		return err
	}

	// The callee registers for the whole test (its contact is the UAS
	// port; Expires 120 s outlasts the outage, and sipp, stopped by its
	// 50 s timeout or at the end, never un-REGISTERs); the phone
	// registers once so that its lookup is cached.
	go func() { _ = register("callee", callee, calleeSecret, uasPort, outage+40*time.Second) }()
	waitFor(t, 10*time.Second, "the callee registered", func() bool { return len(r.registered(callee)) == 1 })
	if err := register("phone before", phone, phoneSecret, 0, 0); err != nil {
		t.Fatalf("registering with Switchboard up: %v", err)
	}
	if err := call("DID call before", did); err != nil {
		t.Fatalf("DID call with Switchboard up: %v", err)
	}

	killFallback()
	<-fbDone
	r.stopHTTP()
	down := time.Now()
	if err := call("unprovisioned number during", "+15579990000"); err == nil {
		t.Error("a call to a number nobody provisioned was answered during the outage: the DID calls prove nothing")
	}
	var regs, regsOK, calls, callsOK int
	for round := 0; time.Since(down) < outage; round++ {
		next := down.Add(time.Duration(round+1) * 5 * time.Second)
		regs++
		if err := register("phone during", phone, phoneSecret, 0, 0); err != nil {
			t.Errorf("%v into the outage: registration failed: %v", time.Since(down).Round(time.Second), err)
		} else {
			regsOK++
		}
		calls++
		if err := call("DID call during", did); err != nil {
			t.Errorf("%v into the outage: DID call failed: %v", time.Since(down).Round(time.Second), err)
		} else {
			callsOK++
		}
		if time.Until(next) > 0 && time.Until(down.Add(outage)) > 0 {
			time.Sleep(min(time.Until(next), time.Until(down.Add(outage))))
		}
	}
	gone := time.Since(down)
	r.startHTTP(t)
	t.Logf("Switchboard down %v: registrations %d/%d, DID calls %d/%d answered", gone.Round(time.Millisecond), regsOK, regs, callsOK, calls)
	if regs < 2 || calls < 2 {
		t.Errorf("only %d registrations and %d calls in the outage", regs, calls)
	}
}
