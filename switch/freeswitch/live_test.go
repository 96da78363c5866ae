package freeswitch

// Live tests: the adapter, the xml-curl and cdr endpoints and the Reloader
// against a real FreeSWITCH, with sipp processes as phones. They run only
// when SWITCHBOARD_TEST_FREESWITCH points at a node configured as
// README.md tells operators (see "Live tests" there); each is bounded
// well under a minute.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// TestLiveConnect: the adapter logs in, subscribes and resyncs; the
// heartbeat keeps a healthy connection up (no reconnect over several
// intervals); api commands go through.
func TestLiveConnect(t *testing.T) {
	node := requireLiveNode(t)
	r := newLiveRig(t, node)
	took := r.waitConnected(t)
	t.Logf("connected and resynced in %v", took)
	since := r.state().Since
	time.Sleep(3*liveTestKeepAlive + 500*time.Millisecond)
	if s := r.state(); !s.Connected || !s.Since.Equal(since) {
		t.Fatalf("after %d heartbeats: %+v, want the first connection still up (since %v)", 3, s, since)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := r.a.API(ctx, "status")
	if err != nil || !strings.Contains(out, "UP ") {
		t.Fatalf("api status: %q, %v", out, err)
	}
	if _, err := r.a.API(ctx, "no_such_command_here"); err == nil {
		t.Error("an unknown api command was not an error")
	}
}

// TestLiveRegistration: a provisioned account registers through
// mod_xml_curl (the directory answers with a1-hash), shows up in presence
// and leaves it on un-REGISTER; a wrong secret is refused and never shows.
func TestLiveRegistration(t *testing.T) {
	r := startLive(t)
	node := r.node
	user := liveUser(t, 1)
	_, secret := r.account(t, user)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	bad := startPhone(t, "wrong secret", "phone_register.xml", node.SIP, "-s", user, "-au", user, "-ap", secret+"x",
		"-key", "contact_port", "0", "-d", "100", "-recv_timeout", "3000")
	if err := bad.result(ctx); err == nil {
		t.Fatal("a phone with a wrong secret registered")
	}
	if regs := r.registered(user); len(regs) != 0 {
		t.Fatalf("a refused phone is in presence: %+v", regs)
	}

	port := freeUDPPort(t)
	phone := startPhoneOn(t, "phone", port, "phone_register.xml", node.SIP, "-s", user, "-au", user, "-ap", secret,
		"-key", "contact_port", strconv.Itoa(port), "-d", "3000")
	seen := waitFor(t, 10*time.Second, "the registration in presence", func() bool { return len(r.registered(user)) == 1 })
	reg := r.registered(user)[0]
	if !strings.Contains(reg.Contact, "127.0.0.1:"+strconv.Itoa(port)) || reg.Expires.IsZero() {
		t.Errorf("registration %+v, want contact on port %d and an expiry", reg, port)
	}
	// FreeSWITCH holds the phone as Reachable: so must presence, from the
	// event and from the table a resync reads (issue 12 item 18).
	if reg.Status != presence.ContactReachable {
		t.Errorf("registration status %q from sofia::register, want reachable", reg.Status)
	}
	// The table a resync reads, and the rows of one user that
	// sofia::sip_user_state makes the adapter re-read.
	for _, cmd := range []string{"sofia xmlstatus profile internal reg", "sofia xmlstatus profile internal user " + user + "@" + node.Domain} {
		table := eslCommand(t, node, "api "+cmd)
		body := table[max(0, strings.Index(table, "<?xml")):] // the frame's headers, then the reply
		regs, err := ParseXMLStatusReg([]byte(body), PresenceOptions{Switch: node.Name, Domain: node.Domain})
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		var found bool
		for _, x := range regs {
			if x.User == user {
				found = true
				if x.Status != presence.ContactReachable {
					t.Errorf("%s: registration %+v, want reachable", cmd, x)
				}
			}
		}
		if i := strings.Index(table, "<ping-status>"); !found || i < 0 {
			t.Errorf("%s: %s not in the answer: %s", cmd, user, table)
		} else {
			t.Logf("%s: %s", cmd, strings.Join(strings.Fields(table[i:min(len(table), i+70)]), " "))
		}
	}
	auths := r.xml.find(func(p loggedPost) bool {
		return p.form.Get("action") == "sip_auth" && p.form.Get("sip_auth_username") == user && p.status == http.StatusOK
	})
	if len(auths) == 0 {
		t.Error("FreeSWITCH never asked Switchboard's xml-curl endpoint to authenticate the phone")
	}
	phone.wait(ctx)
	gone := waitFor(t, 10*time.Second, "the registration to leave presence", func() bool { return len(r.registered(user)) == 0 })
	t.Logf("registration visible %v after the phone started (REGISTER, 401, REGISTER with credentials, xml-curl sip_auth, sofia::register); gone %v after the phone's un-REGISTER completed",
		seen, gone)
}

// liveCallResult is a call placeLiveCall made.
type liveCallResult struct {
	caller, callee string // usernames
	legs           []string
	ended          time.Time // when the caller's BYE was answered
	liveLegs       []presence.Call
}

// placeLiveCall provisions two accounts and a DID routed to the second,
// registers both phones, has the first call the DID and talk for talk,
// and returns once the call is over, with the uuids of its legs (the
// caller's first) and the legs the view showed while it was up.
func placeLiveCall(ctx context.Context, t *testing.T, r *liveRig, talk time.Duration) liveCallResult {
	t.Helper()
	node := r.node
	caller, callee := liveUser(t, 1), liveUser(t, 2)
	_, callerSecret := r.account(t, caller)
	calleeAcct, calleeSecret := r.account(t, callee)
	did := "+1555" + callee[1:]
	if err := r.svc.CreateDID(ctx, provisioning.AdminScope(), &provisioning.DID{
		TenantID: calleeAcct.TenantID, Number: did, AccountID: &calleeAcct.ID,
	}); err != nil {
		t.Fatal(err)
	}
	hold := strconv.Itoa(int((talk + 15*time.Second).Milliseconds()))
	uas := startPhone(t, "callee UAS", "phone_answer.xml", "", "-s", callee)
	startPhone(t, "callee", "phone_register.xml", node.SIP, "-s", callee, "-au", callee, "-ap", calleeSecret,
		"-key", "contact_port", strconv.Itoa(uas.port), "-d", hold)
	callerPort := freeUDPPort(t)
	startPhoneOn(t, "caller", callerPort, "phone_register.xml", node.SIP, "-s", caller, "-au", caller, "-ap", callerSecret,
		"-key", "contact_port", strconv.Itoa(callerPort), "-d", hold)
	waitFor(t, 10*time.Second, "both phones registered", func() bool {
		return len(r.registered(caller)) == 1 && len(r.registered(callee)) == 1
	})

	call := startPhone(t, "call", "phone_call.xml", node.SIP, "-s", caller, "-au", caller, "-ap", callerSecret,
		"-key", "dest", did, "-d", strconv.Itoa(int(talk.Milliseconds())))
	res := liveCallResult{caller: caller, callee: callee}
	waitFor(t, 15*time.Second, "both legs up in the view", func() bool {
		up := 0
		res.liveLegs = r.view.Calls(presence.CallQuery{Switch: node.Name})
		for _, c := range res.liveLegs {
			if (c.Account == caller || c.Account == callee) && c.Answer != nil {
				up++
			}
		}
		return up == 2
	})
	call.wait(ctx)
	res.ended = call.endsAt
	uas.wait(ctx)
	for _, c := range res.liveLegs {
		if c.Account == caller {
			res.legs = append([]string{c.ID}, res.legs...)
		} else if c.Account == callee {
			res.legs = append(res.legs, c.ID)
		}
	}
	if len(res.legs) != 2 {
		t.Fatalf("live legs %+v, want one per phone", res.liveLegs)
	}
	return res
}

// TestLiveCall: a call between two registered phones (the caller dials a
// DID that Switchboard's dialplan answer routes to the callee) is live in
// the view while up, leaves it when over, and each leg's CDR arrives once
// from CHANNEL_HANGUP_COMPLETE and once from mod_json_cdr, the two equal
// field by field.
func TestLiveCall(t *testing.T) {
	r := startLive(t)
	node := r.node
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	res := placeLiveCall(ctx, t, r, 2*time.Second)
	for _, c := range res.liveLegs {
		// Both legs are between local accounts.
		if (c.Account == res.caller || c.Account == res.callee) && c.Direction != string(cdr.DirectionInternal) {
			t.Errorf("live leg %+v: direction %q, want internal", c, c.Direction)
		}
	}
	waitFor(t, 10*time.Second, "the legs to leave the view", func() bool {
		for _, c := range r.view.Calls(presence.CallQuery{Switch: node.Name}) {
			if c.ID == res.legs[0] || c.ID == res.legs[1] {
				return false
			}
		}
		return true
	})
	waitFor(t, 15*time.Second, "both CDRs of both legs", func() bool {
		for _, id := range res.legs {
			if len(r.sink.of(id, "esl")) == 0 || len(r.sink.of(id, "json_cdr")) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(500 * time.Millisecond) // anything late and duplicated would show now
	for i, id := range res.legs {
		esl, js, ok := r.legRecords(t, id)
		if !ok {
			continue
		}
		rec := esl.rec
		wantAccount := []string{res.caller, res.callee}[i]
		if rec.Account != wantAccount || rec.Billsec < 1 || rec.Disposition != cdr.Answered {
			t.Errorf("leg %s: %+v, want account %s, answered, billsec >= 1", id, rec, wantAccount)
		}
		t.Logf("leg %d (%s): ESL CDR %v after the caller's BYE was answered, json_cdr %v; billsec %d, duration %d",
			i, rec.Direction, esl.at.Sub(res.ended).Round(time.Millisecond), js.at.Sub(res.ended).Round(time.Millisecond), rec.Billsec, rec.Duration)
	}
}

// TestLiveJSONCDRRefused: garbage beyond the per-minute budget is answered
// 429; and what the real mod_json_cdr does with a non-2xx answer: while
// the CDR sink refuses, a real call's records are answered 503, FreeSWITCH
// retries them and then keeps each in its err-log-dir; nothing is lost
// (the ESL records reach the sink once it is back, and the kept files are
// the same CDRs).
func TestLiveJSONCDRRefused(t *testing.T) {
	r := startLive(t)
	node := r.node

	url := "http://" + node.HTTP + "/freeswitch/" + node.Name + "/cdr"
	codes := make([]int, 0, 12)
	for range 12 {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("garbage, not a CDR"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if node.HTTPUser != "" {
			req.SetBasicAuth(node.HTTPUser, node.HTTPPassword)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	want := []int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 429, 429}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("garbage POSTs answered %v, want %v (10 dead letters a minute)", codes, want)
	}

	if node.CDRErrDir == "" {
		t.Skip("cdr_err_dir is not set: the refused-record half needs json_cdr.conf.xml's err-log-dir")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 58*time.Second)
	defer cancel()
	r.sink.setRefuse(true)
	res := placeLiveCall(ctx, t, r, time.Second)
	files := make([]string, len(res.legs))
	for i, id := range res.legs {
		files[i] = filepath.Join(node.CDRErrDir, id+".cdr.json")
		t.Cleanup(func() { os.Remove(files[i]) })
	}
	// mod_json_cdr: retries+1 attempts, delay apart, then the file.
	took := waitFor(t, 45*time.Second, "mod_json_cdr to keep both records in err-log-dir", func() bool {
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				return false
			}
		}
		return true
	})
	for _, id := range res.legs {
		posts := r.cdrs.find(func(p loggedPost) bool { return p.query.Get("uuid") == id })
		statuses := map[int]int{}
		for _, p := range posts {
			statuses[p.status]++
		}
		t.Logf("leg %s: %d POSTs (%v), then the file %v after the call", id, len(posts), statuses, took)
		if statuses[http.StatusServiceUnavailable] != len(posts) || len(posts) < 2 {
			t.Errorf("leg %s: POSTs answered %v, want several, all 503", id, statuses)
		}
	}
	r.sink.setRefuse(false)
	waitFor(t, 10*time.Second, "the ESL records once the sink is back", func() bool {
		return len(r.sink.of(res.legs[0], "esl")) > 0 && len(r.sink.of(res.legs[1], "esl")) > 0
	})
	for i, id := range res.legs {
		body, err := os.ReadFile(files[i])
		if err != nil {
			t.Fatal(err)
		}
		kept, err := ParseJSONCDR(body, JSONCDROptions{Switch: node.Name})
		if err != nil {
			t.Fatalf("%s: %v", files[i], err)
		}
		if d := recordDiff(r.sink.of(id, "esl")[0].rec, kept); d != "" {
			t.Errorf("leg %s: the kept file differs from the ESL CDR: %s", id, d)
		}
	}
	// The first refused POST queued the record; the retries waited for
	// that copy instead of queueing their own.
	time.Sleep(300 * time.Millisecond)
	for _, id := range res.legs {
		if esl, js := len(r.sink.of(id, "esl")), len(r.sink.of(id, "json_cdr")); esl != 1 || js != 1 {
			t.Errorf("leg %s once the sink was back: %d ESL and %d json_cdr records, want one of each", id, esl, js)
		}
	}

	// json_cdr_err_log_dir: Switchboard reads the kept files itself, hands
	// each record to the sink (the store keeps one row per leg) and
	// removes the file once accepted.
	ictx, icancel := context.WithCancel(ctx)
	imported := make(chan error, 1)
	go func() {
		imported <- r.a.ImportErrLogDir(ictx, ErrLogDirConfig{Dir: node.CDRErrDir, Poll: 100 * time.Millisecond, Settle: 100 * time.Millisecond})
	}()
	waitFor(t, 10*time.Second, "the kept files imported and removed", func() bool {
		for _, f := range files {
			if _, err := os.Stat(f); err == nil {
				return false
			}
		}
		return true
	})
	icancel()
	if err := <-imported; err != nil {
		t.Fatal(err)
	}
	for _, id := range res.legs {
		js := r.sink.of(id, "json_cdr")
		if len(js) != 2 {
			t.Fatalf("leg %s: %d json_cdr-shaped records, want 2 (the retried POST and the imported file)", id, len(js))
		}
		if d := recordDiff(r.sink.of(id, "esl")[0].rec, js[1].rec); d != "" {
			t.Errorf("leg %s: the imported file's record differs from the ESL CDR: %s", id, d)
		}
	}
}

// TestLiveReconnect: the node drops the ESL connection (mod_event_socket
// reloaded, as `fs_cli -x 'reload mod_event_socket'` does); the adapter
// notices, reconnects and resyncs: a registration it never heard of is
// gone, the node's registrations are back, and new events flow.
func TestLiveReconnect(t *testing.T) {
	r := startLive(t)
	node := r.node
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	user := liveUser(t, 1)
	_, secret := r.account(t, user)
	port := freeUDPPort(t)
	startPhoneOn(t, "phone", port, "phone_register.xml", node.SIP, "-s", user, "-au", user, "-ap", secret,
		"-key", "contact_port", strconv.Itoa(port), "-d", "20000")
	waitFor(t, 10*time.Second, "the registration", func() bool { return len(r.registered(user)) == 1 })
	// A registration the node does not have: the resync must drop it.
	r.view.Feed(node.Name).PutRegistration(presence.Registration{Domain: node.Domain, User: "stale", Contact: "sip:stale@192.0.2.1:5060"})
	before := r.state()

	if reply := eslCommand(t, node, "bgapi reload mod_event_socket"); !strings.Contains(reply, "+OK") {
		t.Fatalf("bgapi reload mod_event_socket: %s", reply)
	}
	took := waitFor(t, 15*time.Second, "the adapter to reconnect and resync", func() bool {
		s := r.state()
		return s.Connected && s.Since.After(before.Since) && s.LastSync.After(before.LastSync)
	})
	t.Logf("reconnected and resynced %v after the reload was asked for", took)
	if got := r.registered("stale"); len(got) != 0 {
		t.Errorf("the resync kept a registration the node does not have: %+v", got)
	}
	if got := r.registered(user); len(got) != 1 {
		t.Errorf("after the resync: %+v, want the phone's registration", got)
	}
	// Events flow on the new connection: a second phone shows up.
	user2 := liveUser(t, 2)
	_, secret2 := r.account(t, user2)
	port2 := freeUDPPort(t)
	p2 := startPhoneOn(t, "phone 2", port2, "phone_register.xml", node.SIP, "-s", user2, "-au", user2, "-ap", secret2,
		"-key", "contact_port", strconv.Itoa(port2), "-d", "500")
	waitFor(t, 10*time.Second, "a registration made after the reconnect", func() bool { return len(r.registered(user2)) == 1 })
	p2.wait(ctx)
	waitFor(t, 10*time.Second, "its un-REGISTER", func() bool { return len(r.registered(user2)) == 0 })
}

// TestLiveSecretChange: the Reloader, as a provisioning sink, flushes the
// registration of an account whose secret changed (`sofia profile
// internal flush_inbound_reg`), so the node forgets a phone that would no
// longer authenticate, and presence follows.
func TestLiveSecretChange(t *testing.T) {
	r := startLive(t)
	node := r.node
	user := liveUser(t, 1)
	acct, secret := r.account(t, user)
	port := freeUDPPort(t)
	startPhoneOn(t, "phone", port, "phone_register.xml", node.SIP, "-s", user, "-au", user, "-ap", secret,
		"-key", "contact_port", strconv.Itoa(port), "-d", "20000")
	waitFor(t, 10*time.Second, "the registration", func() bool { return len(r.registered(user)) == 1 })
	changed := time.Now()
	if _, err := r.svc.UpdateAccount(context.Background(), provisioning.AdminScope(), acct.ID, func(a *provisioning.Account) error {
		a.Secret = secret + "-rotated"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 10*time.Second, "the flushed registration to leave presence", func() bool { return len(r.registered(user)) == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := r.a.API(ctx, "sofia xmlstatus profile internal reg")
	if err != nil || strings.Contains(out, "<user>"+user+"@") {
		t.Errorf("the node still has the registration (%v):\n%s", err, out)
	}
	t.Logf("registration flushed and gone from presence %v after the secret changed (%v)", took, time.Since(changed).Round(time.Millisecond))
}

// TestLiveHeartbeat: a node that stops answering (its process stopped
// with SIGSTOP: the TCP connection stands, nothing comes) is dropped
// within two heartbeat intervals, and the adapter reconnects once the
// node runs again.
func TestLiveHeartbeat(t *testing.T) {
	node := requireLiveNode(t)
	if node.PIDFile == "" {
		t.Skip("pid_file is not set: the heartbeat test stops FreeSWITCH's process for a few seconds")
	}
	pid := livePID(t, node)
	r := newLiveRig(t, node)
	r.waitConnected(t)
	before := r.state()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	lost := waitFor(t, 4*liveTestKeepAlive, "the adapter to give up on the silent node", func() bool { return !r.state().Connected })
	if lost > 2*liveTestKeepAlive+500*time.Millisecond {
		t.Errorf("noticed after %v, want within two heartbeats (%v)", lost, 2*liveTestKeepAlive)
	}
	time.Sleep(time.Second) // a reconnect attempt or two against the stopped node
	resume()
	back := waitFor(t, 15*time.Second, "the adapter to reconnect", func() bool {
		s := r.state()
		return s.Connected && s.LastSync.After(before.LastSync)
	})
	t.Logf("silent node dropped %v after it stopped (heartbeat %v); reconnected %v after it resumed (%v stopped)",
		lost.Round(time.Millisecond), liveTestKeepAlive, back.Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
}
