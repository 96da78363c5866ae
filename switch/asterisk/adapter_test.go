package asterisk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// adapterConfig is a test node's configuration: short timeouts and
// backoff, no periodic reconcile unless a test sets one.
func adapterConfig(srv *aritest.Server) Config {
	return Config{
		Name: "ast1", URL: srv.URL, User: aritest.User, Password: aritest.Password,
		App: "switchboard", Domain: presDomain,
		IsGateway:      func(id string) bool { return id == "gateway" },
		ReconcileEvery: time.Hour,
		DialTimeout:    300 * time.Millisecond, RequestTimeout: 300 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		HTTPClient: &http.Client{Transport: &http.Transport{}},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// running is an adapter whose WatchPresence and StreamCDRs run until the
// test ends (or stop is called).
type running struct {
	a    *Adapter
	view *presence.View
	sink *switchtest.CDRSink
	stop func()
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{a: a, view: presence.New(), sink: &switchtest.CDRSink{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.WatchPresence(ctx, r.view.Feed(cfg.Name)); err != nil {
			t.Errorf("WatchPresence: %v", err)
		}
	})
	wg.Go(func() {
		if err := a.StreamCDRs(ctx, r.sink); err != nil {
			t.Errorf("StreamCDRs: %v", err)
		}
	})
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				t.Error("the adapter did not stop within 2 s of its context ending")
			}
			cfg.HTTPClient.CloseIdleConnections()
		})
	}
	t.Cleanup(r.stop)
	return r
}

func (r *running) state() presence.SwitchState {
	for _, s := range r.view.Switches() {
		if s.Name == "ast1" {
			return s
		}
	}
	return presence.SwitchState{}
}

func (r *running) waitConnected(t *testing.T) {
	t.Helper()
	switchtest.WaitFor(t, "the adapter to connect", func() bool { return r.state().Connected })
}

// pushContacts registers (or, removed, unregisters) endpoint ep's contact.
func pushContacts(srv *aritest.Server, ep, uri string, rtt time.Duration, removed bool) int {
	return srv.Push(aritest.ContactEvents(ep, uri, rtt, removed, time.Now())...)
}

// TestAdapterScenario replays the whole recorded stream through the fake
// and checks presence, live calls and CDRs at the end.
func TestAdapterScenario(t *testing.T) {
	srv := aritest.New(t)
	srv.SetEndpoints("offline", "1001", "1002", "1003", "gateway")
	cfg := adapterConfig(srv)
	cfg.ReconcileEvery = 50 * time.Millisecond
	r := start(t, cfg)
	r.waitConnected(t)
	if got := srv.Subscriptions("switchboard"); len(got) != 0 {
		t.Errorf("explicit subscriptions %q, want none (subscribeAll covers them; see TestAdapterFreshNode)", got)
	}
	srv.ReplayScenario()

	// What Calls makes of the same events is what must reach the sink,
	// each leg once.
	calls := NewCalls(CallOptions{Switch: "ast1", Domain: presDomain, IsGateway: cfg.IsGateway})
	var want []string
	for _, b := range aritest.ScenarioEvents() {
		ev, err := ParseEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		_, _, recs := calls.Apply(ev)
		for _, rec := range recs {
			want = append(want, rec.CallID+" "+string(rec.Disposition))
		}
	}
	if len(want) != 11 {
		t.Fatalf("the scenario gives %d CDRs, want 11 (one per channel)", len(want))
	}
	switchtest.WaitFor(t, "every CDR", func() bool { return len(r.sink.Records()) >= len(want) })
	var got []string
	for _, rec := range r.sink.Records() {
		got = append(got, rec.CallID+" "+string(rec.Disposition))
	}
	if !slices.Equal(got, want) {
		t.Errorf("CDRs:\n got %q\nwant %q", got, want)
	}
	if n := len(r.view.Calls(presence.CallQuery{})); n != 0 {
		t.Errorf("%d live calls after the scenario, want 0", n)
	}
	wantRegs := []string{"1001@pbx.example sip:1001@127.0.0.1:5061 127.0.0.1:5061 udp reachable 7.076ms"}
	switchtest.WaitFor(t, "the final registrations", func() bool { return slices.Equal(regLines(r.view), wantRegs) })
	// The gateway's contact names the registration server's host, so the
	// reconcile after the replay reads its registration from res_prometheus.
	wantGW := []string{"gateway down failed Unreachable 0s"}
	var last []string
	defer func() { t.Logf("gateways: %q", last) }()
	switchtest.WaitFor(t, "the gateway down and its registration rejected", func() bool {
		last = gwLines(r.view)
		return slices.Equal(last, wantGW)
	})
}

// TestAdapterDropMidCall cuts the socket while a call is up: the call
// either ends during the gap (Reset closes it at the reconnect) or after
// it (its ChannelDestroyed closes it); either way its legs get one CDR
// each, and presence is resynced.
func TestAdapterDropMidCall(t *testing.T) {
	for _, endsInGap := range []bool{true, false} {
		t.Run(fmt.Sprintf("endsInGap=%v", endsInGap), func(t *testing.T) {
			srv := aritest.New(t)
			srv.SetEndpoints("offline")
			cfg := adapterConfig(srv)
			cfg.MinBackoff = 200 * time.Millisecond // a gap long enough to act in
			cfg.MaxBackoff = 200 * time.Millisecond
			r := start(t, cfg)
			r.waitConnected(t)
			pushContacts(srv, "1001", "sip:1001@192.0.2.1:5060", time.Millisecond, false)
			pushContacts(srv, "1002", "sip:1002@192.0.2.2:5060", time.Millisecond, false)

			events, caller, callee := aritest.CallEvents("1001", "1002", 3*time.Second, time.Now())
			hangup := slices.IndexFunc(events, func(b []byte) bool { return bytes.Contains(b, []byte(`"type":"ChannelHangupRequest"`)) })
			srv.Push(events[:hangup]...)
			switchtest.WaitFor(t, "both legs live", func() bool { return len(r.view.Calls(presence.CallQuery{})) == 2 })
			lastSync := r.state().LastSync

			srv.DropSockets()
			switchtest.WaitFor(t, "the feed marked disconnected", func() bool { return !r.state().Connected })
			// During the gap 1002 unregisters and 1003 registers.
			pushContacts(srv, "1002", "sip:1002@192.0.2.2:5060", 0, true)
			pushContacts(srv, "1003", "sip:1003@192.0.2.3:5060", time.Millisecond, false)
			if endsInGap {
				if n := srv.Push(events[hangup:]...); n != 0 {
					t.Fatalf("the hang-up reached %d sockets during the gap", n)
				}
			}
			switchtest.WaitFor(t, "the reconnect and resync", func() bool {
				s := r.state()
				return s.Connected && s.LastSync.After(lastSync)
			})
			if !endsInGap {
				if n := len(r.view.Calls(presence.CallQuery{})); n != 2 {
					t.Fatalf("%d live calls after the resync, want the 2 legs still up", n)
				}
				srv.Push(events[hangup:]...)
			}
			switchtest.WaitFor(t, "both CDRs", func() bool { return len(r.sink.Leg(caller)) > 0 && len(r.sink.Leg(callee)) > 0 })
			// A straggler after the fact changes nothing.
			srv.Push(events[len(events)-1])
			wantRegs := []string{
				"1001@pbx.example sip:1001@192.0.2.1:5060 192.0.2.1:5060 udp reachable 1ms",
				// Registered in the gap: read at the resync, Reachable as the
				// only qualified contact of an online endpoint; no RTT over ARI.
				"1003@pbx.example sip:1003@192.0.2.3:5060 192.0.2.3:5060 udp reachable 0s",
			}
			switchtest.WaitFor(t, "presence resynced", func() bool { return slices.Equal(regLines(r.view), wantRegs) })
			if n := len(r.view.Calls(presence.CallQuery{})); n != 0 {
				t.Errorf("%d live calls left", n)
			}
			time.Sleep(50 * time.Millisecond) // room for a wrong second CDR
			for _, id := range []string{caller, callee} {
				leg := r.sink.Leg(id)
				if len(leg) != 1 {
					t.Fatalf("leg %s delivered %d times, want once", id, len(leg))
				}
				rec := leg[0]
				if rec.Disposition != cdr.Answered || rec.Answer == nil {
					t.Errorf("leg %s: disposition %q answer %v, want ANSWERED", id, rec.Disposition, rec.Answer)
				}
				if endsInGap && rec.CauseText != CauseTextDisconnected {
					t.Errorf("leg %s: cause text %q, want %q", id, rec.CauseText, CauseTextDisconnected)
				}
				if !endsInGap && (rec.Cause != 16 || rec.Billsec < 2 || rec.Billsec > 4) {
					t.Errorf("leg %s: cause %d billsec %d, want 16 and 3±1", id, rec.Cause, rec.Billsec)
				}
			}
		})
	}
}

// settledGoroutines waits for the goroutine count to fall to at most n.
func settledGoroutines(n int) int {
	var got int
	for range 100 {
		if got = runtime.NumGoroutine(); got <= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	return got
}

// TestAdapterFailingARI makes ARI answer 5xx, then slowly: the feed is
// marked disconnected with the reason, the adapter keeps retrying, and
// stopping it leaves no goroutine behind.
func TestAdapterFailingARI(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(*aritest.Server)
		reason  string
	}{
		{"503 on the socket", func(s *aritest.Server) { s.FailNext(503, 503, 503, 503, 503, 503) }, "503"},
		{"slow", func(s *aritest.Server) { s.Delay(time.Second) }, "deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := aritest.New(t)
			before := runtime.NumGoroutine()
			r := start(t, adapterConfig(srv))
			r.waitConnected(t)
			connects := srv.Connects()
			tc.breakIt(srv)
			srv.DropSockets()
			switchtest.WaitFor(t, "the feed marked disconnected with the reason", func() bool {
				s := r.state()
				return !s.Connected && strings.Contains(s.LastError, tc.reason)
			})
			// Stale, not wiped: the last state stays while disconnected.
			if len(regLines(r.view)) == 0 {
				t.Error("the registrations went with the connection")
			}
			srv.Delay(0)
			switchtest.WaitFor(t, "the adapter to reconnect once ARI recovers", func() bool {
				return r.state().Connected && srv.Connects() > connects
			})
			srv.Delay(time.Second)
			srv.DropSockets()
			switchtest.WaitFor(t, "the feed marked disconnected", func() bool { return !r.state().Connected })
			r.stop()
			if got := settledGoroutines(before); got > before {
				var buf [1 << 16]byte
				t.Errorf("%d goroutines after stopping, %d before:\n%s", got, before, buf[:runtime.Stack(buf[:], true)])
			}
		})
	}
}

// TestAdapterBlackHole makes the node vanish without closing TCP: no
// event, no pong. The keepalive notices within two intervals (not at the
// next reconcile, an hour away here), the adapter closes the dead socket,
// reconnects and resyncs what changed meanwhile, and stopping it leaves no
// goroutine behind. A healthy but quiet connection, answering pings, is
// kept.
func TestAdapterBlackHole(t *testing.T) {
	const keepAlive = 100 * time.Millisecond
	srv := aritest.New(t)
	srv.SetEndpoints("offline")
	before := runtime.NumGoroutine()
	cfg := adapterConfig(srv)
	cfg.KeepAlive = keepAlive
	cfg.MinBackoff, cfg.MaxBackoff = 300*time.Millisecond, 300*time.Millisecond // a gap to observe
	r := start(t, cfg)
	r.waitConnected(t)
	pushContacts(srv, "1001", "sip:1001@192.0.2.1:5060", time.Millisecond, false)

	// Quiet for several intervals: the pongs keep it up.
	time.Sleep(5 * keepAlive)
	if !r.state().Connected || srv.Connects() != 1 {
		t.Fatalf("a quiet, healthy connection was dropped: connected %v, %d connects", r.state().Connected, srv.Connects())
	}
	if n := srv.Pings(); n < 3 {
		t.Errorf("%d pings in 5 keepalive intervals, want at least 3", n)
	}

	lastSync := r.state().LastSync
	srv.StallSockets()
	stalled := time.Now()
	if n := pushContacts(srv, "1003", "sip:1003@192.0.2.3:5060", time.Millisecond, false); n != 0 {
		t.Fatalf("an event reached %d sockets through the black hole", n)
	}
	switchtest.WaitFor(t, "the dead socket noticed", func() bool { return !r.state().Connected })
	if d := time.Since(stalled); d < keepAlive {
		t.Errorf("the socket was declared dead %v after it went silent, within one keepalive interval", d)
	}
	if s := r.state(); !strings.Contains(s.LastError, "keepalive: no frame from Asterisk") {
		t.Errorf("feed error %q, want the keepalive's", s.LastError)
	}
	switchtest.WaitFor(t, "the reconnect and resync", func() bool {
		s := r.state()
		return s.Connected && s.LastSync.After(lastSync) && srv.Connects() == 2
	})
	wantRegs := []string{
		"1001@pbx.example sip:1001@192.0.2.1:5060 192.0.2.1:5060 udp reachable 1ms",
		// Registered in the gap: read at the resync, Reachable as the
		// only qualified contact of an online endpoint; no RTT over ARI.
		"1003@pbx.example sip:1003@192.0.2.3:5060 192.0.2.3:5060 udp reachable 0s",
	}
	switchtest.WaitFor(t, "presence resynced", func() bool { return slices.Equal(regLines(r.view), wantRegs) })
	switchtest.WaitFor(t, "the dead socket closed by the adapter", func() bool { return srv.Stalled() == 0 })

	r.stop()
	if got := settledGoroutines(before); got > before {
		var buf [1 << 16]byte
		t.Errorf("%d goroutines after stopping, %d before:\n%s", got, before, buf[:runtime.Stack(buf[:], true)])
	}
}

// TestAdapterSilentNode makes the whole node go silent, as a host that
// vanished or a lost NAT state does: the event socket and the REST
// connections kept alive in the client's pool all go dark. Found against
// a real Asterisk behind a black-holing proxy (TestLive/Reconnect/Silent):
// the keepalive noticed the dead socket, but the resync after the redial
// went out on a dead pooled connection and hung for RequestTimeout. The
// adapter must drop its idle connections with the dead socket, so that
// it is back as soon as the node answers again.
func TestAdapterSilentNode(t *testing.T) {
	const keepAlive = 100 * time.Millisecond
	srv := aritest.New(t)
	srv.SetEndpoints("offline", "1001")
	cfg := adapterConfig(srv)
	cfg.KeepAlive = keepAlive
	cfg.RequestTimeout = 5 * time.Second // what a dead pooled connection would cost
	r := start(t, cfg)
	r.waitConnected(t)
	lastSync := r.state().LastSync

	srv.StallNode()
	stalled := time.Now()
	// Registered while the node is silent: the resync reads it.
	if n := pushContacts(srv, "1001", "sip:1001@192.0.2.1:5060", time.Millisecond, false); n != 0 {
		t.Fatalf("an event reached %d sockets of a silent node", n)
	}
	// The gap is too short to watch: wait for the second connect.
	switchtest.WaitFor(t, "the reconnect and resync", func() bool {
		s := r.state()
		return s.Connected && s.LastSync.After(lastSync) && srv.Connects() == 2
	})
	if d := time.Since(stalled); d > 2*time.Second {
		t.Errorf("back %v after the node went silent, want about 2 keepalive intervals (%v) plus a backoff step: a request hung on a dead connection", d, 2*keepAlive)
	}
	if got, want := regLines(r.view), []string{"1001@pbx.example sip:1001@192.0.2.1:5060 192.0.2.1:5060 udp reachable 0s"}; !slices.Equal(got, want) {
		t.Errorf("presence after the resync %q, want %q", got, want)
	}
}

// TestAdapterShutdownByAsterisk: Asterisk closes the event socket with a
// close frame (1000) on `ari shutdown websocket session`; the adapter
// answers it, reconnects at once and resyncs, presence kept.
func TestAdapterShutdownByAsterisk(t *testing.T) {
	srv := aritest.New(t)
	srv.SetEndpoints("offline", "1001")
	var logs bytes.Buffer
	var mu sync.Mutex
	cfg := adapterConfig(srv)
	cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	r := start(t, cfg)
	r.waitConnected(t)
	pushContacts(srv, "1001", "sip:1001@192.0.2.1:5060", time.Millisecond, false)
	want := []string{"1001@pbx.example sip:1001@192.0.2.1:5060 192.0.2.1:5060 udp reachable 1ms"}
	switchtest.WaitFor(t, "the registration", func() bool { return slices.Equal(regLines(r.view), want) })
	lastSync := r.state().LastSync

	srv.ShutdownSockets()
	switchtest.WaitFor(t, "the reconnect and resync", func() bool {
		s := r.state()
		return s.Connected && s.LastSync.After(lastSync) && srv.Connects() == 2
	})
	if got := regLines(r.view); !slices.Equal(got, want) {
		t.Errorf("presence after the resync %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "event socket closed by Asterisk") || !strings.Contains(logs.String(), "StatusNormalClosure") {
		t.Errorf("the log does not say Asterisk closed the socket normally:\n%s", logs.String())
	}
}

// lockedWriter serialises writes to a buffer read by the test.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestAdapterEndpointDeleted: Asterisk 23.4.1 removes a deleted
// account's contacts without any event (seen by TestLive/Presence; the
// fake's DELETE does the same), so a registration of an account deleted
// from the node would stay in presence until the next periodic
// reconcile, an hour away here. EndpointDeleted, which the daemon calls
// when its ConfigPusher deleted an endpoint, drops it at once, and a
// deleted gateway likewise; nothing else changes.
func TestAdapterEndpointDeleted(t *testing.T) {
	srv := aritest.New(t)
	srv.SetEndpoints("offline", "1001", "1002", "gateway")
	r := start(t, adapterConfig(srv))
	r.waitConnected(t)
	pushContacts(srv, "1001", "sip:1001@192.0.2.1:5060", time.Millisecond, false)
	pushContacts(srv, "1002", "sip:1002@192.0.2.2:5060", time.Millisecond, false)
	pushContacts(srv, "gateway", "sip:192.0.2.9:5060", time.Millisecond, false)
	switchtest.WaitFor(t, "both registrations and the gateway", func() bool {
		return len(regLines(r.view)) == 2 && len(gwLines(r.view)) == 1
	})

	for _, ref := range []ObjectRef{{PJSIPEndpoint, "1001"}, {PJSIPAOR, "1001"}, {PJSIPEndpoint, "gateway"}, {PJSIPAOR, "gateway"}} {
		if err := r.a.config.Delete(t.Context(), ref); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n, g := len(regLines(r.view)), len(gwLines(r.view)); n != 2 || g != 1 {
		t.Fatalf("%d registrations and %d gateways right after the delete, want 2 and 1: the fake sent an event Asterisk does not send", n, g)
	}
	r.a.EndpointDeleted("1001")
	r.a.EndpointDeleted("gateway")
	want := []string{"1002@pbx.example sip:1002@192.0.2.2:5060 192.0.2.2:5060 udp reachable 1ms"}
	switchtest.WaitFor(t, "the deleted endpoints to go", func() bool {
		return slices.Equal(regLines(r.view), want) && len(gwLines(r.view)) == 0
	})
	if !r.state().Connected || srv.Connects() != 1 {
		t.Errorf("EndpointDeleted reconnected: connected %v, %d connects", r.state().Connected, srv.Connects())
	}
	r.stop()
	r.a.EndpointDeleted("1002") // with no connection to take it: must not block
}

// TestNewAdapterBadURL checks New's URL handling.
func TestNewAdapterBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x/ari", "::"} {
		if _, err := New(Config{Name: "x", URL: u}); err == nil {
			t.Errorf("New accepted URL %q", u)
		}
	}
	a, err := New(Config{Name: "x", URL: "ws://127.0.0.1:8088/ari/"})
	if err != nil {
		t.Fatal(err)
	}
	if a.wsURL != "http://127.0.0.1:8088/ari/events?app=switchboard&subscribeAll=true" || a.cfg.MetricsURL != "http://127.0.0.1:8088/metrics" {
		t.Errorf("wsURL %q metrics %q", a.wsURL, a.cfg.MetricsURL)
	}
}

// TestAdapterBadCredentials shows Asterisk's 401 in the feed's state.
func TestAdapterBadCredentials(t *testing.T) {
	srv := aritest.New(t)
	cfg := adapterConfig(srv)
	cfg.Password = "wrong"
	r := start(t, cfg)
	switchtest.WaitFor(t, "the 401 in the feed state", func() bool {
		return strings.Contains(r.state().LastError, `401 Unauthorized "Authentication required"`)
	})
}

// ariDriver drives the fake ARI for the conformance suite. Endpoints are
// named user@domain (PushOptions.IDWithDomain).
type ariDriver struct {
	srv *aritest.Server
	mu  sync.Mutex
	n   int
	reg map[string][]string // endpoint → contacts
}

func (d *ariDriver) RegisterPhone(t testing.TB, domain, user string) presence.Registration {
	d.mu.Lock()
	d.n++
	addr := fmt.Sprintf("192.0.2.%d:%d", 1+d.n%254, 5060+d.n/254)
	ep, uri := user+"@"+domain, fmt.Sprintf("sip:%s@%s", user, addr)
	d.reg[ep] = append(d.reg[ep], uri)
	d.mu.Unlock()
	r := presence.Registration{Domain: domain, User: user, Contact: uri, Address: addr, Transport: "udp"}
	if pushContacts(d.srv, ep, uri, 3*time.Millisecond, false) > 0 {
		// Heard live: qualified. Otherwise the resync reads the contact
		// from the AOR, with no status.
		r.Status = presence.ContactReachable
	}
	return r
}

func (d *ariDriver) UnregisterPhone(t testing.TB, domain, user string) {
	ep := user + "@" + domain
	d.mu.Lock()
	uris := d.reg[ep]
	delete(d.reg, ep)
	d.mu.Unlock()
	for _, uri := range uris {
		pushContacts(d.srv, ep, uri, 0, true)
	}
}

// CompleteCall plays the recorded answered call. ARI cannot tell a client
// about a call that began and ended while it was disconnected (that is the
// CDR backfill's job), so the driver waits for the adapter to be back
// before playing it.
func (d *ariDriver) CompleteCall(t testing.TB, from, to string, talk time.Duration) string {
	if !d.srv.WaitSocket(5 * time.Second) {
		t.Fatal("no adapter connected to play the call to")
	}
	events, caller, _ := aritest.CallEvents(from, to, talk, time.Now())
	d.srv.Push(events...)
	return caller
}

func (d *ariDriver) DropConnection(t testing.TB) { d.srv.DropSockets() }

func TestConformance(t *testing.T) {
	switchtest.RunConformance(t, func(t *testing.T) switchtest.Harness {
		srv := aritest.New(t)
		srv.SetEndpoints("offline")
		cfg := adapterConfig(srv)
		cfg.Domain = "conformance.example"
		a, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cfg.HTTPClient.CloseIdleConnections)
		return switchtest.Harness{Presence: a, CDRs: a, Driver: &ariDriver{srv: srv, reg: map[string][]string{}}}
	})
}
