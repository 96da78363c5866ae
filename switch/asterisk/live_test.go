package asterisk

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// TestLive runs the adapter against a real Asterisk with sipp as the
// phones; it is skipped unless SWITCHBOARD_TEST_ASTERISK names the node
// (see live_env_test.go). Each subtest starts an adapter of its own, wired
// as the daemon wires it, and logs what it measured.
func TestLive(t *testing.T) {
	n := requireLiveNode(t)
	t.Run("Connect", func(t *testing.T) { testLiveConnect(t, n) })
	t.Run("Push", func(t *testing.T) { testLivePush(t, n) })
	t.Run("Presence", func(t *testing.T) { testLivePresence(t, n) })
	t.Run("PresenceAfterRestart", func(t *testing.T) { testLivePresenceAfterRestart(t, n) })
	t.Run("CallCDR", func(t *testing.T) { testLiveCallCDR(t, n) })
	t.Run("BusyCDR", func(t *testing.T) { testLiveBusyCDR(t, n) })
	t.Run("Reconnect", func(t *testing.T) { testLiveReconnect(t, n) })
	t.Run("GatewayRegistration", func(t *testing.T) { testLiveGatewayRegistration(t, n) })
	t.Run("GapCDR", func(t *testing.T) { testLiveGapCDR(t, n, 0) })
	t.Run("GapCDRBackfillLate", func(t *testing.T) { testLiveGapCDR(t, n, 12*time.Second) })
	t.Run("RestartMidCall", func(t *testing.T) { testLiveRestartMidCall(t, n) })
	t.Run("BurstKill", func(t *testing.T) { testLiveBurstKill(t, n) })
	t.Run("DaemonKill", func(t *testing.T) { testLiveDaemonKill(t, n) })
	t.Run("DaemonKillMasterCSV", func(t *testing.T) { testLiveDaemonKillMasterCSV(t, n) })
}

// connected waits for the rig's first connect and returns how long it
// took.
func (r *liveRig) connected(t *testing.T) time.Duration {
	t.Helper()
	return waitFor(t, 10*time.Second, "the adapter to connect and resync", func() bool { return r.state().Connected })
}

// testLiveConnect: the event socket is accepted with the subprotocol
// "ari", the adapter subscribes its application to the PJSIP endpoints,
// resyncs and stays connected: Asterisk answers the keepalive's pings.
func testLiveConnect(t *testing.T, n *liveNode) {
	r := startLiveRig(t, n, nil)
	t.Logf("connected and resynced %v after start", r.connected(t).Round(time.Millisecond))
	st := r.state()
	if st.LastSync.IsZero() || st.LastError != "" {
		t.Errorf("after connecting: last sync %v, last error %q; want a sync and no error", st.LastSync, st.LastError)
	}

	rest := &restClient{base: n.url, user: n.user, password: n.password, hc: r.hc}
	var app struct {
		Name        string   `json:"name"`
		ChannelIDs  []string `json:"channel_ids"`
		EndpointIDs []string `json:"endpoint_ids"`
	}
	if err := rest.do(t.Context(), http.MethodGet, "/applications/"+liveApp, nil, &app); err != nil {
		t.Fatalf("the adapter's application: %v", err)
	}
	// subscribeAll: every channel and endpoint. (The explicit
	// endpoint:PJSIP subscription the adapter adds is not listed: the
	// topic of all endpoints covers it.)
	if app.Name != liveApp || !slices.Contains(app.ChannelIDs, "__AST_CHANNEL_ALL_TOPIC") || !slices.Contains(app.EndpointIDs, "__AST_ENDPOINT_ALL_TOPIC") {
		t.Errorf("application %q subscribed to channels %q, endpoints %q; want %q subscribed to all", app.Name, app.ChannelIDs, app.EndpointIDs, liveApp)
	}

	// A socket of our own, dialled as the adapter dials: Asterisk picks
	// the subprotocol it offers, and refuses bad credentials with a 401.
	wsURL := n.url + "/events?app=" + liveApp + "-probe"
	ws, err := dialWS(t.Context(), &http.Client{}, wsURL, n.user, n.password)
	if err != nil {
		t.Fatalf("dialling the event socket: %v", err)
	}
	if got := ws.ws.Subprotocol(); got != ariSubprotocol {
		t.Errorf("Asterisk chose subprotocol %q, want %q", got, ariSubprotocol)
	}
	ws.Close()
	_, err = dialWS(t.Context(), &http.Client{}, wsURL, n.user, "not-"+n.password)
	var re *RequestError
	if !errors.As(err, &re) || re.Status != http.StatusUnauthorized {
		t.Errorf("dialling with a wrong password: %v, want a 401 RequestError", err)
	}

	// Six keepalive intervals: a connection whose pings went unanswered
	// would have been dropped (after two) and redialled.
	time.Sleep(6 * 500 * time.Millisecond)
	if c := r.log.connects(); len(c) != 1 || !r.state().Connected {
		t.Errorf("%d connects in %v of keepalive (connected now: %v), want 1: Asterisk does not answer the pings?",
			len(c), 3*time.Second, r.state().Connected)
	}
}

// testLivePush: an account provisioned through the ConfigPusher becomes
// an auth, an aor and an endpoint on Asterisk, follows an update, and is
// removed on delete.
func testLivePush(t *testing.T, n *liveNode) {
	r := startLiveRig(t, n, nil)
	r.connected(t)
	p := r.newPhone("Live Push")
	took := waitFor(t, 10*time.Second, "the account's PJSIP objects on the node", func() bool { return r.pushed(p) })
	t.Logf("account %s on the node %v after it was provisioned", p.user, took.Round(time.Millisecond))

	get := func(typ ObjectType) map[string]string {
		fs, err := r.direct.Get(t.Context(), ObjectRef{typ, p.user})
		if err != nil {
			t.Fatalf("GET res_pjsip/%s/%s: %v", typ, p.user, err)
		}
		m := map[string]string{}
		for _, f := range fs {
			m[f.Attribute] = f.Value
		}
		return m
	}
	ep := get(PJSIPEndpoint)
	for attr, want := range map[string]string{
		"context": "phones", "aors": p.user, "auth": p.user, "transport": "transport-udp",
		"callerid": `"Live Push" <` + p.user + ">", "allow": "(ulaw|alaw)",
	} {
		if ok, _ := regexp.MatchString("^"+want+"$", ep[attr]); !ok && ep[attr] != want {
			t.Errorf("endpoint %s: %s = %q, want %q", p.user, attr, ep[attr], want)
		}
	}
	if auth := get(PJSIPAuth); auth["username"] != p.user || auth["auth_type"] != "userpass" {
		t.Errorf("auth %s: username %q, auth_type %q; want %s, userpass", p.user, auth["username"], auth["auth_type"], p.user)
	}
	if aor := get(PJSIPAOR); aor["max_contacts"] != "1" || aor["remove_existing"] != "true" {
		t.Errorf("aor %s: max_contacts %q, remove_existing %q; want 1, true", p.user, aor["max_contacts"], aor["remove_existing"])
	}

	// An update reaches the node.
	a := r.accounts()[0]
	a.CallerIDName = "Live Renamed"
	r.provision(a)
	took = waitFor(t, 10*time.Second, "the renamed caller id on the node", func() bool {
		return get(PJSIPEndpoint)["callerid"] == `"Live Renamed" <`+p.user+">"
	})
	t.Logf("update on the node %v after it was provisioned", took.Round(time.Millisecond))

	r.deprovision(p)
	took = waitFor(t, 10*time.Second, "the account's PJSIP objects to go", func() bool {
		for _, typ := range []ObjectType{PJSIPAuth, PJSIPAOR, PJSIPEndpoint} {
			if _, err := r.direct.Get(t.Context(), ObjectRef{typ, p.user}); !errors.Is(err, ErrConfigNotFound) {
				return false
			}
		}
		return true
	})
	t.Logf("account gone from the node %v after it was deleted", took.Round(time.Millisecond))
	if err := r.pusher.LastError(); err != nil {
		t.Errorf("the pusher reports %v", err)
	}
}

// testLivePresence: a phone that registers with the pushed credentials is
// listed, with its contact, address and transport; it leaves the view
// when it unregisters, and when its account is deleted while registered.
func testLivePresence(t *testing.T, n *liveNode) {
	const reconcile = time.Second
	r := startLiveRig(t, n, func(c *Config) { c.ReconcileEvery = reconcile })
	r.connected(t)
	p := r.newPhone("Live Presence")
	waitFor(t, 10*time.Second, "the account on the node", func() bool { return r.pushed(p) })

	n.register(t, p, 60)
	took := waitFor(t, 10*time.Second, "the registration in the view", func() bool { _, ok := r.registration(p); return ok })
	listed := time.Now()
	reg, _ := r.registration(p)
	// UpdatedAt is the ContactStatusChange's timestamp (ms): the latency
	// from Asterisk's event to the view, give or take the 5 ms poll.
	t.Logf("presence: listed %v after the ContactStatusChange, %v after sipp got the REGISTER's 200",
		listed.Sub(reg.UpdatedAt).Round(time.Millisecond), took.Round(time.Millisecond))
	// The address is the Contact's until the contact object gives the
	// REGISTER's source (via_addr:via_port), both on 127.0.0.1.
	if !strings.HasPrefix(reg.Address, "127.0.0.1:") || reg.Transport != "udp" || reg.Switch != liveSwitch || reg.Status != presence.ContactUnknown {
		t.Errorf("registration %+v; want address 127.0.0.1, transport udp, switch %s, status unknown (not qualified)", reg, liveSwitch)
	}
	if !r.view.Online(p.domain, p.user) {
		t.Errorf("View.Online(%s, %s) = false while registered", p.domain, p.user)
	}
	// The user agent and expiry come from the contact object, read after
	// the ContactStatusChange (no event carries them).
	took = waitFor(t, 5*time.Second, "the user agent and expiry", func() bool { reg, _ = r.registration(p); return reg.UserAgent != "" })
	t.Logf("presence: user agent and expiry %v after the registration was listed", took.Round(time.Millisecond))
	if reg.UserAgent != "switchboard-live-test" || reg.Expires.Before(listed.Add(50*time.Second)) || reg.Expires.After(listed.Add(62*time.Second)) {
		t.Errorf("user agent %q, expires %v; want switchboard-live-test, about 60 s after %v", reg.UserAgent, reg.Expires, listed)
	}
	// A periodic reconcile (REST) keeps what the events said.
	synced := r.state().LastSync
	waitFor(t, 3*reconcile, "a periodic reconcile", func() bool { return r.state().LastSync.After(synced) })
	if again, ok := r.registration(p); !ok || again.Contact != reg.Contact || again.Status != reg.Status {
		t.Errorf("after a periodic reconcile: %+v (listed %v), want %+v", again, ok, reg)
	}

	n.register(t, p, 0)
	took = waitFor(t, 10*time.Second, "the registration to leave the view", func() bool { return !r.view.Online(p.domain, p.user) })
	t.Logf("presence: gone %v after the unREGISTER's 200", took.Round(time.Millisecond))

	// Registered, then deleted: the account's contact must not linger.
	n.register(t, p, 60)
	waitFor(t, 10*time.Second, "the registration in the view again", func() bool { _, ok := r.registration(p); return ok })
	r.deprovision(p)
	took = waitFor(t, 10*time.Second, "a deleted account's registration to leave the view", func() bool { return !r.view.Online(p.domain, p.user) })
	t.Logf("presence: a registered account gone %v after its deletion", took.Round(time.Millisecond))
	if took > reconcile/2 {
		t.Errorf("a deleted account's registration went %v after the delete: by a periodic reconcile (every %v), not at once", took, reconcile)
	}
}

// testLivePresenceAfterRestart: phones registered before Switchboard
// (re)started are listed at its first resync with the status Asterisk
// gives them (seen before: 69 s of "unknown" while Asterisk showed
// Avail), their user agent and expiry: a qualified phone that answers
// OPTIONS is reachable, one whose AOR is not qualified (NonQual) is
// unknown, "registered but not qualified" in presence's vocabulary.
func testLivePresenceAfterRestart(t *testing.T, n *liveNode) {
	opts := DefaultPushOptions()
	opts.PhoneQualifySecs = 2
	r := startLiveRigPush(t, n, nil, opts)
	r.connected(t)
	p := r.newPhone("Live Qualified")
	waitFor(t, 10*time.Second, "the account on the node", func() bool { return r.pushed(p) })
	n.qualified(t, p)
	r.register(p)
	waitFor(t, 10*time.Second, "the qualified phone reachable", func() bool {
		reg, _ := r.registration(p)
		return reg.Status == presence.ContactReachable
	})
	plain := startLiveRig(t, n, nil)
	plain.connected(t)
	q := plain.registeredPhone("Live NonQualified")
	if out, err := n.runCLI(context.Background(), "pjsip show contacts"); err == nil {
		t.Logf("the node's contacts before the restart:\n%s", out)
	}

	// A Switchboard started now: a second adapter of its own.
	view := presence.New()
	cfg := Config{
		Name: liveSwitch, URL: n.url, User: n.user, Password: n.password, App: liveApp + "-restart",
		Domain: liveDomain, IsGateway: func(string) bool { return false }, ReconcileEvery: time.Minute,
		HTTPClient: &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second},
		Logger:     slog.New(newLiveLog(t)),
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.WatchPresence(ctx, view.Feed(liveSwitch)) }()
	t.Cleanup(func() { cancel(); <-done; cfg.HTTPClient.CloseIdleConnections() })
	started := time.Now()
	waitFor(t, 10*time.Second, "the restarted adapter's first resync", func() bool {
		for _, s := range view.Switches() {
			if s.Name == liveSwitch && s.Connected {
				return true
			}
		}
		return false
	})
	t.Logf("presence after restart: first resync %v after start", time.Since(started).Round(time.Millisecond))
	for _, tc := range []struct {
		phone livePhone
		want  presence.ContactStatus
	}{{p, presence.ContactReachable}, {q, presence.ContactUnknown}} {
		regs, _ := view.Registrations(presence.RegistrationQuery{Domain: tc.phone.domain, User: tc.phone.user})
		if len(regs) != 1 {
			t.Errorf("%s after the restart: %+v, want its one registration", tc.phone.user, regs)
			continue
		}
		g := regs[0]
		t.Logf("presence after restart: %s %s status %s rtt %v user agent %q expires in %v", g.User, g.Contact, g.Status, g.RTT, g.UserAgent, time.Until(g.Expires).Round(time.Second))
		if g.Contact != tc.phone.contact() || g.Status != tc.want || g.UserAgent != "switchboard-live-test" ||
			g.Expires.Before(started.Add(30*time.Second)) || !strings.HasPrefix(g.Address, "127.0.0.1:") {
			t.Errorf("%s at the first resync: %+v; want contact %s, status %s, user agent switchboard-live-test, an expiry",
				tc.phone.user, g, tc.phone.contact(), tc.want)
		}
	}
}

// testLiveCallCDR: a call between two registered phones is listed while
// up and yields one CDR per leg with the right parties, ANSWERED and the
// hold time as billsec, equal to the row Asterisk writes in Master.csv.
func testLiveCallCDR(t *testing.T, n *liveNode) {
	const hold = 2 * time.Second
	r := startLiveRig(t, n, nil)
	r.connected(t)
	caller, callee := r.registeredPhone("Live Caller"), r.registeredPhone("Live Callee")

	uas := n.answer(t, callee, hold)
	uac := n.call(t, caller, callee.user)
	var up map[string]presence.Call // by account
	took := waitFor(t, 15*time.Second, "both legs up in the view", func() bool {
		up = map[string]presence.Call{}
		for _, c := range r.view.Calls(presence.CallQuery{Switch: liveSwitch}) {
			if (c.Account == caller.user || c.Account == callee.user) && c.State == "up" {
				up[c.Account] = c
			}
		}
		return len(up) == 2
	})
	t.Logf("call: both legs up in the view %v after the INVITE", took.Round(time.Millisecond))
	a, b := up[caller.user], up[callee.user]
	if a.CallerNumber != caller.user || a.Callee != callee.user || a.Domain != liveDomain || a.Direction != string(cdr.DirectionInternal) ||
		a.LinkedID == "" || a.LinkedID != b.LinkedID || a.Answer == nil {
		t.Errorf("live legs:\n caller %+v\n callee %+v\nwant caller %s calling %s, internal, in %s, answered, one linked id", a, b, caller.user, callee.user, liveDomain)
	}

	if err := uac.wait(30 * time.Second); err != nil {
		t.Fatalf("the caller: %v", err)
	}
	if err := uas.wait(10 * time.Second); err != nil {
		t.Fatalf("the callee: %v", err)
	}
	// Pushed endpoints have direct_media=no (NodeConfig.DirectMedia):
	// Asterisk keeps the media and sends the callee no re-INVITE.
	if n := uas.received("INVITE"); n != 1 {
		t.Errorf("the callee received %d INVITEs, want 1: a re-INVITE means direct_media is on", n)
	}
	took = waitFor(t, 10*time.Second, "the CDRs of both legs", func() bool {
		return len(r.sink.Leg(a.ID)) > 0 && len(r.sink.Leg(b.ID)) > 0
	})
	for _, id := range []string{a.ID, b.ID} {
		// End is the ChannelDestroyed timestamp (ms).
		t.Logf("call: CDR of %s in the sink %v after its ChannelDestroyed", id, r.arrival(id).Sub(r.sink.Leg(id)[0].End).Round(time.Millisecond))
	}
	t.Logf("call: both CDRs in the sink %v after the caller's sipp exited", took.Round(time.Millisecond))
	waitFor(t, 5*time.Second, "the call to leave the view", func() bool {
		return !slices.ContainsFunc(r.view.Calls(presence.CallQuery{Switch: liveSwitch}), func(c presence.Call) bool { return c.ID == a.ID || c.ID == b.ID })
	})

	for _, leg := range []struct {
		id, account string
	}{{a.ID, caller.user}, {b.ID, callee.user}} {
		recs := r.sink.Leg(leg.id)
		if len(recs) != 1 {
			t.Errorf("leg %s: %d CDRs, want 1", leg.id, len(recs))
		}
		rec := recs[0]
		if rec.Switch != liveSwitch || rec.Account != leg.account || rec.CallerNumber != caller.user || rec.CallerName != "Live Caller" ||
			rec.Dialed != callee.user || rec.Direction != cdr.DirectionInternal || rec.Domain != liveDomain || rec.LinkedID != a.LinkedID {
			t.Errorf("leg %s CDR parties: %+v; want account %s, caller %s \"Live Caller\", dialled %s, internal, %s, linked %s",
				leg.id, brief(rec), leg.account, caller.user, callee.user, liveDomain, a.LinkedID)
		}
		// The negotiated codec, read after the answer (sipp offers PCMU
		// only), on the dialled leg too, without Asterisk's parentheses.
		if rec.Codec != "ulaw" {
			t.Errorf("leg %s codec %q, want ulaw", leg.id, rec.Codec)
		}
		if rec.Disposition != cdr.Answered || rec.Cause != 16 || rec.Answer == nil {
			t.Errorf("leg %s CDR: disposition %s, cause %d, answer %v; want ANSWERED, 16, set", leg.id, rec.Disposition, rec.Cause, rec.Answer)
		}
		if want := int(hold / time.Second); rec.Billsec < want || rec.Billsec > want+1 || rec.Duration < rec.Billsec {
			t.Errorf("leg %s CDR: billsec %d, duration %d; want billsec %d (+1) for %v of talk, duration ≥ billsec", leg.id, rec.Billsec, rec.Duration, want, hold)
		}
		t.Logf("CDR %s: %s", leg.id, brief(rec))
	}
	if n.cdrFile == "" {
		t.Logf("%s is not set: the CDRs are not compared with Master.csv", envLiveCDR)
		return
	}
	compareMasterCSV(t, n.cdrFile, r.sink.Leg(a.ID)[0])
}

// testLiveBusyCDR: a call the callee refuses with 486 yields a BUSY CDR
// per leg, unanswered, equal to the calling channel's in Master.csv.
func testLiveBusyCDR(t *testing.T, n *liveNode) {
	r := startLiveRig(t, n, nil)
	r.connected(t)
	caller, callee := r.registeredPhone("Live Caller"), r.registeredPhone("Live Busy")
	uas := n.busy(t, callee)
	uac := n.call(t, caller, callee.user)
	for _, s := range []*sippRun{uac, uas} {
		if err := s.wait(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	legs := r.waitLegs(t, caller, callee)
	for _, rec := range legs {
		t.Logf("CDR %s: %s sip=%d", rec.CallID, brief(rec), rec.SIPStatus)
		if rec.Disposition != cdr.Busy || rec.Answer != nil || rec.Billsec != 0 || rec.CallerNumber != caller.user || rec.Dialed != callee.user {
			t.Errorf("leg %s CDR: %s; want BUSY, unanswered, billsec 0, %s calling %s", rec.CallID, brief(rec), caller.user, callee.user)
		}
	}
	if n.cdrFile == "" {
		t.Logf("%s is not set: the CDRs are not compared with Master.csv", envLiveCDR)
		return
	}
	compareMasterCSV(t, n.cdrFile, legs[caller.user])
}

// waitLegs waits for the CDRs of a call from caller to callee and returns
// them by account.
func (r *liveRig) waitLegs(t *testing.T, caller, callee livePhone) map[string]cdr.Record {
	t.Helper()
	legs := map[string]cdr.Record{}
	waitFor(t, 10*time.Second, "the CDRs of both legs", func() bool {
		for _, rec := range r.sink.Records() {
			if (rec.Account == caller.user || rec.Account == callee.user) && rec.CallerNumber == caller.user {
				legs[rec.Account] = rec
			}
		}
		return len(legs) == 2
	})
	return legs
}

// compareMasterCSV waits for the row Asterisk's cdr_csv writes for the
// calling leg and compares it with the leg's CDR from the events.
func compareMasterCSV(t *testing.T, path string, live cdr.Record) {
	t.Helper()
	var row cdr.Record
	took := waitFor(t, 10*time.Second, "the call's row in "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", envLiveCDR, err)
		}
		if !bytes.Contains(b, []byte(`"`+live.CallID+`"`)) {
			return false
		}
		recs, _, err := ParseCSV(bytes.NewReader(b), CSVOptions{Switch: liveSwitch, Domain: liveDomain})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(recs, func(r cdr.Record) bool { return r.CallID == live.CallID })
		if i < 0 {
			return false
		}
		row = recs[i]
		return true
	})
	t.Logf("Master.csv: the row written %v after the CDR reached the sink", took.Round(time.Millisecond))
	t.Logf("Master.csv %s: %s", row.CallID, brief(row))
	if row.Billsec != live.Billsec || row.Duration != live.Duration || row.Disposition != live.Disposition ||
		row.CallerNumber != live.CallerNumber || row.CallerName != live.CallerName || row.Dialed != live.Dialed ||
		row.Destination != live.Destination || row.Account != live.Account || row.LinkedID != live.LinkedID {
		t.Errorf("Master.csv and the events disagree on call %s:\n csv    %s\n events %s", live.CallID, brief(row), brief(live))
	}
	for _, tm := range []struct {
		name      string
		csv, live time.Time
	}{{"start", row.Start, live.Start}, {"end", row.End, live.End}, {"answer", deref(row.Answer), deref(live.Answer)}} {
		// Master.csv has whole seconds; the events milliseconds.
		if !tm.csv.Equal(tm.live.Truncate(time.Second)) {
			t.Errorf("call %s: %s %v in Master.csv, %v from the events", live.CallID, tm.name, tm.csv, tm.live)
		}
	}
}

// testLiveReconnect: the adapter reconnects and resyncs after Asterisk
// closes its event socket, after a network outage during which phones
// came and went, and after the node fell silent without closing TCP.
func testLiveReconnect(t *testing.T, n *liveNode) {
	r := startLiveRig(t, n, nil)
	r.connected(t)
	kept, gone, fresh := r.newPhone("Live Kept"), r.newPhone("Live Gone"), r.newPhone("Live Fresh")
	for _, p := range []livePhone{kept, gone, fresh} {
		waitFor(t, 10*time.Second, "the account on the node", func() bool { return r.pushed(p) })
	}
	for _, p := range []livePhone{kept, gone} {
		r.register(p)
	}
	// reconnected waits for a connect after the n-th and a resync after
	// since.
	reconnected := func(t *testing.T, what string, n int, since time.Time) time.Duration {
		t.Helper()
		return waitFor(t, 10*time.Second, what, func() bool {
			s := r.state()
			return len(r.log.connects()) > n && s.Connected && s.LastSync.After(since)
		})
	}

	t.Run("ClosedByAsterisk", func(t *testing.T) {
		if n.cli == nil {
			t.Skipf("%s is not set: Asterisk cannot be told to close the socket", envLiveCLI)
		}
		id := ariSession(t, n, liveApp)
		before, since := len(r.log.connects()), r.state().LastSync
		if _, err := n.runCLI(t.Context(), "ari shutdown websocket session "+id); err != nil {
			t.Fatal(err)
		}
		took := reconnected(t, "the adapter to reconnect after Asterisk closed its socket", before, since)
		t.Logf("reconnect: connected and resynced %v after `ari shutdown websocket session`", took.Round(time.Millisecond))
		for _, p := range []livePhone{kept, gone} {
			if _, ok := r.registration(p); !ok {
				t.Errorf("%s is missing after the resync", p.contact())
			}
		}
	})

	t.Run("Outage", func(t *testing.T) {
		before, since := len(r.log.connects()), r.state().LastSync
		r.proxy.Refuse(true)
		r.proxy.Cut()
		took := waitFor(t, 5*time.Second, "the adapter to notice the cut", func() bool { return !r.state().Connected })
		t.Logf("outage: noticed %v after the cut", took.Round(time.Millisecond))
		// Changes while the adapter cannot hear them.
		n.register(t, gone, 0)
		n.register(t, fresh, 60)
		r.proxy.Refuse(false)
		took = reconnected(t, "the adapter to reconnect after the outage", before, since)
		t.Logf("outage: connected and resynced %v after the node was reachable again", took.Round(time.Millisecond))
		if _, ok := r.registration(fresh); !ok {
			t.Errorf("%s, registered during the outage, is missing after the resync (the AOR's contact)", fresh.contact())
		}
		if r.view.Online(gone.domain, gone.user) {
			t.Errorf("%s, unregistered during the outage, is still online after the resync", gone.user)
		}
		if _, ok := r.registration(kept); !ok {
			t.Errorf("%s is missing after the resync", kept.contact())
		}
	})

	t.Run("Silent", func(t *testing.T) {
		before, lost, since := len(r.log.connects()), len(r.log.losses()), r.state().LastSync
		r.proxy.Stall()
		stalled := time.Now()
		waitFor(t, 5*time.Second, "the adapter to notice the silence", func() bool { return len(r.log.losses()) > lost })
		r.proxy.Unstall()
		noticed := r.log.losses()[lost]
		t.Logf("silent node: noticed %v after it fell silent (keepalive 500 ms)", noticed.Sub(stalled).Round(time.Millisecond))
		reconnected(t, "the adapter to reconnect after the silence", before, since)
		t.Logf("silent node: connected and resynced %v after the loss was noticed", r.log.connects()[before].Sub(noticed).Round(time.Millisecond))
		for _, p := range []livePhone{kept, fresh} {
			if _, ok := r.registration(p); !ok {
				t.Errorf("%s is missing after the resync", p.contact())
			}
		}
	})

	// After all that, channel events still reach the application.
	t.Run("CallAfter", func(t *testing.T) {
		uas := n.answer(t, fresh, time.Second)
		uac := n.call(t, kept, fresh.user)
		for _, s := range []*sippRun{uac, uas} {
			if err := s.wait(30 * time.Second); err != nil {
				t.Fatal(err)
			}
		}
		for _, rec := range r.waitLegs(t, kept, fresh) {
			if rec.Disposition != cdr.Answered || rec.Billsec < 1 || rec.Billsec > 2 {
				t.Errorf("leg %s CDR: %s; want ANSWERED, billsec 1 (+1)", rec.CallID, brief(rec))
			}
		}
	})
}

// ariSession returns the id of app's event socket from
// `ari show websocket sessions`.
func ariSession(t *testing.T, n *liveNode, app string) string {
	t.Helper()
	out, err := n.runCLI(t.Context(), "ari show websocket sessions")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) >= 5 && f[len(f)-1] == app && f[len(f)-2] == "Up" {
			return f[0]
		}
	}
	t.Fatalf("no session of application %s in `ari show websocket sessions`:\n%s", app, out)
	return ""
}

// brief renders a CDR's compared fields.
func brief(r cdr.Record) string {
	return strings.Join([]string{
		"account=" + r.Account, "caller=" + r.CallerNumber, "name=" + r.CallerName, "dialed=" + r.Dialed,
		"dest=" + r.Destination, "dir=" + string(r.Direction), "linked=" + r.LinkedID,
		"start=" + r.Start.Format(time.RFC3339Nano), "answer=" + deref(r.Answer).Format(time.RFC3339Nano),
		"end=" + r.End.Format(time.RFC3339Nano), "duration=" + strconv.Itoa(r.Duration), "billsec=" + strconv.Itoa(r.Billsec),
		"disp=" + string(r.Disposition), "cause=" + strconv.Itoa(r.Cause),
	}, " ")
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
