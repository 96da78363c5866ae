package freeswitch

// What the live tests (live_test.go) saw a real FreeSWITCH 1.10.12 do,
// replayed with the fake so that CI covers it without one.

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// TestReloadEventSocket: `reload mod_event_socket` sends every client a
// shutdown disconnect notice and closes it; the adapter reconnects and
// resyncs (what it never heard of is gone, the node's registrations are
// there).
func TestReloadEventSocket(t *testing.T) {
	r := newRig(t, nil)
	r.waitConnected(t)
	r.srv.Register("127.0.0.1", "1001")
	switchtest.WaitFor(t, "1001 registered", func() bool { return r.view.Online("127.0.0.1", "1001") })
	r.view.Feed("fs1").PutRegistration(presence.Registration{Domain: "127.0.0.1", User: "stale", Contact: "sip:stale@192.0.2.1:5060"})
	before := r.state()
	start := time.Now()
	r.srv.ReloadEventSocket()
	switchtest.WaitFor(t, "a reconnect and resync", func() bool {
		s := r.state()
		return s.Connected && s.Since.After(before.Since) && s.LastSync.After(before.LastSync)
	})
	if d := time.Since(start); d > time.Second {
		t.Errorf("reconnected after %v", d)
	}
	if r.view.Online("127.0.0.1", "stale") || !r.view.Online("127.0.0.1", "1001") {
		regs, _ := r.view.Registrations(presence.RegistrationQuery{})
		t.Errorf("after the resync: %+v", regs)
	}
}

// TestRegistrationReachable: a phone FreeSWITCH holds as Reachable
// (sofia::register, then `sofia xmlstatus profile internal reg` with
// <ping-status>Reachable</ping-status> and ping-time 0.00, as the live
// node answered on a profile that pings nobody) is reachable in presence,
// from the event and after a resync alike, never unknown (issue 12 item
// 18).
func TestRegistrationReachable(t *testing.T) {
	r := newRig(t, nil)
	r.waitConnected(t)
	r.srv.Register("127.0.0.1", "1001")
	reachable := func() bool {
		regs, _ := r.view.Registrations(presence.RegistrationQuery{Domain: "127.0.0.1", User: "1001"})
		return len(regs) == 1 && regs[0].Status == presence.ContactReachable && regs[0].RTT == 0
	}
	switchtest.WaitFor(t, "1001 reachable from sofia::register", reachable)
	before := r.state()
	r.srv.ReloadEventSocket()
	switchtest.WaitFor(t, "a resync", func() bool { return r.state().LastSync.After(before.LastSync) })
	if !reachable() {
		regs, _ := r.view.Registrations(presence.RegistrationQuery{})
		t.Errorf("after the resync: %+v, want 1001 reachable", regs)
	}
}

// TestContactPingState: with OPTIONS pings on, FreeSWITCH fires
// sofia::sip_user_state when a contact turns Unreachable or Reachable
// again; the adapter re-reads that user's rows (`sofia xmlstatus profile
// internal user 1001@127.0.0.1`) at once, with the ping time, rather than
// at the next reconcile.
func TestContactPingState(t *testing.T) {
	r := newRig(t, func(c *Config) { c.ReconcileEvery = time.Hour })
	r.waitConnected(t)
	r.srv.Register("127.0.0.1", "1001")
	status := func(want presence.ContactStatus, rtt time.Duration) func() bool {
		return func() bool {
			regs, _ := r.view.Registrations(presence.RegistrationQuery{Domain: "127.0.0.1", User: "1001"})
			return len(regs) == 1 && regs[0].Status == want && regs[0].RTT == rtt
		}
	}
	switchtest.WaitFor(t, "1001 reachable", status(presence.ContactReachable, 0))
	r.srv.SetContactPing("127.0.0.1", "1001", false, 0)
	switchtest.WaitFor(t, "1001 unreachable after sofia::sip_user_state", status(presence.ContactUnreachable, 0))
	r.srv.SetContactPing("127.0.0.1", "1001", true, 12500*time.Microsecond)
	switchtest.WaitFor(t, "1001 reachable again, with its ping time", status(presence.ContactReachable, 12500*time.Microsecond))
}

// TestJSONCDRRefusedKeptOnNode: while the CDR sink refuses, the json_cdr
// endpoint answers a real leg's record 503; mod_json_cdr retries and then
// keeps it in its err-log-dir, and nothing is lost: the ESL records reach
// the sink once it is back, and the kept files are the same CDRs (what
// `switchboard cdr import` would read). The retries of a record still
// queued do not queue it again: the sink gets one record per leg from
// each source, not one per try.
func TestJSONCDRRefusedKeptOnNode(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, func(c *Config) { c.CDRAckTimeout = 50 * time.Millisecond },
		esltest.WithJSONCDRRetry(4, 20*time.Millisecond), esltest.WithJSONCDRErrLogDir(dir))
	r.waitConnected(t)
	r.sink.setFailing(true)
	a, b := r.srv.CompleteCall("1001@127.0.0.1", "1002@127.0.0.1", 2*time.Second)
	switchtest.WaitFor(t, "both records kept in err-log-dir", func() bool { return r.srv.CDRsFailed() == 2 && r.srv.CDRsPending() == 0 })
	if n := r.sink.count(); n != 0 {
		t.Fatalf("a refusing sink has %d records", n)
	}
	r.sink.setFailing(false)
	for _, id := range []string{a, b} {
		switchtest.WaitFor(t, "the leg's record once the sink is back", func() bool { return len(r.sink.byCall(id)) > 0 })
		body, err := os.ReadFile(filepath.Join(dir, id+".cdr.json"))
		if err != nil {
			t.Fatal(err)
		}
		kept, err := ParseJSONCDR(body, JSONCDROptions{Switch: "fs1"})
		if err != nil {
			t.Fatal(err)
		}
		if d := recordDiff(r.sink.byCall(id)[0], kept); d != "" {
			t.Errorf("leg %s: the kept record differs: %s", id, d)
		}
	}
	time.Sleep(100 * time.Millisecond) // anything queued twice would arrive now
	for _, id := range []string{a, b} {
		bySource := map[string]int{}
		for _, rec := range r.sink.byCall(id) {
			bySource[recordSource(rec)]++
		}
		if bySource["esl"] != 1 || bySource["json_cdr"] != 1 || len(bySource) != 2 {
			t.Errorf("leg %s: records by source %v, want one from each (4 refused POSTs)", id, bySource)
		}
	}
}
