package freeswitch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// testKeepAlive is the heartbeat of the adapters under test: short, so a
// dead or frozen fake is noticed fast.
const testKeepAlive = 150 * time.Millisecond

// fsRig is an adapter wired to a fake node: presence into a view, CDRs
// into a recording sink, mod_json_cdr POSTs through the adapter's handler.
type fsRig struct {
	srv  *esltest.Server
	a    *Adapter
	view *presence.View
	sink *recordingSink
	cdrs *httptest.Server
}

func newRig(t *testing.T, mutate func(*Config), opts ...esltest.Option) *fsRig {
	t.Helper()
	r := &fsRig{sink: &recordingSink{}}
	var handler http.Handler = http.NotFoundHandler()
	var mu sync.RWMutex
	r.cdrs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.RLock()
		h := handler
		mu.RUnlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.cdrs.Close)
	opts = append([]esltest.Option{esltest.WithJSONCDR(r.cdrs.URL, r.cdrs.Client())}, opts...)
	r.srv = esltest.New(t, opts...)
	cfg := Config{
		Name: "fs1", Addr: r.srv.Addr(), Password: "ClueCon", Domain: "127.0.0.1",
		KeepAlive: testKeepAlive, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		DialTimeout: time.Second, RequestTimeout: 2 * time.Second, CDRAckTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.a = a
	mu.Lock()
	handler = a.JSONCDRHandler(r.sink)
	mu.Unlock()
	r.view = presence.New()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.view.Run(ctx) })
	wg.Go(func() { _ = a.WatchPresence(ctx, r.view.Feed("fs1")) })
	wg.Go(func() { _ = a.StreamCDRs(ctx, r.sink) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return r
}

func (r *fsRig) state() presence.SwitchState {
	for _, s := range r.view.Switches() {
		if s.Name == "fs1" {
			return s
		}
	}
	return presence.SwitchState{}
}

func (r *fsRig) waitConnected(t *testing.T) {
	t.Helper()
	switchtest.WaitFor(t, "the adapter to connect", func() bool { return r.state().Connected })
}

// recordingSink is a cdr.Sink and Rejecter keeping what it was given.
type recordingSink struct {
	mu      sync.Mutex
	recs    []cdr.Record
	dead    []cdr.DeadLetter
	failing bool
}

func (s *recordingSink) Put(_ context.Context, recs ...cdr.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errors.New("sink: down")
	}
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *recordingSink) Reject(_ context.Context, dl cdr.DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = append(s.dead, dl)
	return nil
}

func (s *recordingSink) setFailing(on bool) {
	s.mu.Lock()
	s.failing = on
	s.mu.Unlock()
}

// byCall returns the records of one leg.
func (s *recordingSink) byCall(id string) []cdr.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []cdr.Record
	for _, r := range s.recs {
		if r.CallID == id {
			out = append(out, r)
		}
	}
	return out
}

func (s *recordingSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

// fsDriver drives the fake node for the shared conformance suite.
type fsDriver struct{ srv *esltest.Server }

func (d fsDriver) RegisterPhone(t testing.TB, domain, user string) presence.Registration {
	// The adapter reports a contact as ContactURI normalises it, the
	// same from sofia::register and from xmlstatus.
	contact := d.srv.Register(domain, user)
	return presence.Registration{Domain: domain, User: user, Contact: ContactURI(contact)}
}

func (d fsDriver) UnregisterPhone(t testing.TB, domain, user string) { d.srv.Unregister(domain, user) }

func (d fsDriver) CompleteCall(t testing.TB, from, to string, talk time.Duration) string {
	caller, _ := d.srv.CompleteCall(from, to, talk)
	return caller
}

func (d fsDriver) DropConnection(t testing.TB) { d.srv.DropConnections() }

// TestConformance runs the switch contract against the adapter. A call
// that ends while the connection is down reaches the sink the way it does
// with a real node: mod_json_cdr POSTs it to the adapter's handler.
func TestConformance(t *testing.T) {
	switchtest.RunConformance(t, func(t *testing.T) switchtest.Harness {
		var handler http.Handler = http.NotFoundHandler()
		var mu sync.RWMutex
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.RLock()
			h := handler
			mu.RUnlock()
			h.ServeHTTP(w, req)
		}))
		t.Cleanup(hs.Close)
		srv := esltest.New(t, esltest.WithJSONCDR(hs.URL, hs.Client()))
		a, err := New(Config{
			Name: "conformance", Addr: srv.Addr(), Password: "ClueCon", Domain: "conformance.example",
			KeepAlive: testKeepAlive, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			DialTimeout: time.Second, RequestTimeout: 2 * time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		handler = a.JSONCDRHandler(nil)
		mu.Unlock()
		return switchtest.Harness{Presence: a, CDRs: a, Driver: fsDriver{srv: srv}}
	})
}

// TestScenarioPresenceAndCDRs replays the whole recorded session (every
// event byte for byte) into a connected adapter: what the view shows at
// the end, and one CDR per leg equal to FreeSWITCH's own json_cdr record.
func TestScenarioPresenceAndCDRs(t *testing.T) {
	r := newRig(t, nil)
	r.waitConnected(t)
	r.srv.Push(r.srv.Scenario()...)
	switchtest.WaitFor(t, "9 CDRs", func() bool { return r.sink.count() >= 9 })
	time.Sleep(50 * time.Millisecond)
	if n := r.sink.count(); n != 9 {
		t.Fatalf("%d CDRs, want 9 (one per leg)", n)
	}
	files := esltest.RecordedNames("call-*-leg.json")
	if len(files) != 9 {
		t.Fatalf("json_cdr bodies: %v", files)
	}
	for _, f := range files {
		body := esltest.Recorded(f)
		want, err := ParseJSONCDR(body, JSONCDROptions{Switch: "fs1"})
		if err != nil {
			t.Fatal(err)
		}
		got := r.sink.byCall(want.CallID)
		if len(got) != 1 {
			t.Errorf("%s: %d CDRs for %s", filepath.Base(f), len(got), want.CallID)
			continue
		}
		if d := recordDiff(got[0], want); d != "" {
			t.Errorf("%s: ESL CDR differs from FreeSWITCH's json_cdr: %s", filepath.Base(f), d)
		}
	}
	// At the end of the session 1001 unregistered, 1002 expired, and the
	// gateway's far end is gone.
	switchtest.WaitFor(t, "no registration left", func() bool {
		regs, _ := r.view.Registrations(presence.RegistrationQuery{})
		return len(regs) == 0
	})
	gws := r.view.Gateways(presence.GatewayQuery{})
	if len(gws) != 1 || gws[0].Name != "gw1" || gws[0].State != presence.GatewayDown {
		t.Errorf("gateways at the end: %+v, want gw1 down", gws)
	}
	if calls := r.view.Calls(presence.CallQuery{}); len(calls) != 0 {
		t.Errorf("calls left: %+v", calls)
	}
}

// recordDiff compares two records on every field but ID and Raw.
func recordDiff(a, b cdr.Record) string {
	a.ID, b.ID, a.Raw, b.Raw = 0, 0, nil, nil
	var out []string
	if !a.Start.Equal(b.Start) {
		out = append(out, "start "+a.Start.String()+" vs "+b.Start.String())
	}
	if !a.End.Equal(b.End) {
		out = append(out, "end "+a.End.String()+" vs "+b.End.String())
	}
	if (a.Answer == nil) != (b.Answer == nil) || a.Answer != nil && !a.Answer.Equal(*b.Answer) {
		out = append(out, "answer differs")
	}
	a.Start, b.Start, a.End, b.End, a.Answer, b.Answer = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil, nil
	if !reflect.DeepEqual(a, b) {
		out = append(out, strings.ReplaceAll(strings.TrimSpace(
			strings.Join([]string{"got", formatRecord(a), "want", formatRecord(b)}, " ")), "\n", " "))
	}
	return strings.Join(out, "; ")
}

func formatRecord(r cdr.Record) string {
	var b bytes.Buffer
	b.WriteString(r.CallID + " " + r.LinkedID + " " + string(r.Direction) + " " + r.Domain + " " + r.Account + " " + r.Gateway +
		" " + r.CallerNumber + " " + r.CallerName + " " + r.Dialed + " " + r.Destination + " " + string(r.Disposition) + " " + r.CauseText)
	return b.String()
}

// TestCutMidCall: the TCP connection is cut while a call is up and the
// call ends during the gap. The adapter notices within the heartbeat
// window, re-dials, resyncs (the call leaves the view) and the leg's CDR
// arrives exactly once, from mod_json_cdr.
func TestCutMidCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(*esltest.Server)
		heal func(*esltest.Server)
	}{
		{"tcp cut", func(s *esltest.Server) { s.Refuse(true); s.DropConnections() }, func(s *esltest.Server) { s.Refuse(false) }},
		{"server stops sending", func(s *esltest.Server) { s.Freeze(true) }, func(s *esltest.Server) { s.Freeze(false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.waitConnected(t)
			r.srv.Register("127.0.0.1", "1001")
			r.srv.Register("127.0.0.1", "1002")
			caller, callee := r.srv.StartCall("1001@127.0.0.1", "1002@127.0.0.1")
			switchtest.WaitFor(t, "the call in the view", func() bool { return len(r.view.Calls(presence.CallQuery{})) == 2 })
			start := time.Now()
			tc.cut(r.srv)
			switchtest.WaitFor(t, "the adapter to notice", func() bool { return !r.state().Connected })
			if d := time.Since(start); d > 2*testKeepAlive+200*time.Millisecond {
				t.Errorf("noticed after %v, want within two heartbeats (%v)", d, 2*testKeepAlive)
			}
			if tc.name == "server stops sending" {
				// A frozen node's TCP connection still stands: the call
				// ends after the adapter gave up on it, then the node
				// recovers and drops the dead session itself.
				r.srv.DropConnections()
			}
			r.srv.EndCall(caller)
			tc.heal(r.srv)
			switchtest.WaitFor(t, "a resync after the reconnect", func() bool {
				return r.state().Connected && len(r.view.Calls(presence.CallQuery{})) == 0
			})
			switchtest.WaitFor(t, "both legs' CDRs", func() bool {
				return len(r.sink.byCall(caller)) > 0 && len(r.sink.byCall(callee)) > 0
			})
			time.Sleep(100 * time.Millisecond)
			for _, id := range []string{caller, callee} {
				if n := len(r.sink.byCall(id)); n != 1 {
					t.Errorf("leg %s: %d CDRs, want 1", id, n)
				}
			}
			if rec := r.sink.byCall(caller)[0]; rec.Disposition != cdr.Answered || rec.Answer == nil {
				t.Errorf("caller CDR: disposition %s, answer %v", rec.Disposition, rec.Answer)
			}
		})
	}
}

// TestWrongPassword: a refused password is a clear error in the switch
// state, and the adapter waits its longest backoff between attempts
// instead of hammering the node.
func TestWrongPassword(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Password = "WrongPassword"; c.MaxBackoff = 400 * time.Millisecond },
		esltest.WithPassword("ClueCon"))
	switchtest.WaitFor(t, "the error in the switch state", func() bool {
		return strings.Contains(r.state().LastError, "password refused")
	})
	before := len(r.srv.Logins())
	time.Sleep(1000 * time.Millisecond)
	if n := len(r.srv.Logins()) - before; n > 4 {
		t.Errorf("%d logins in 1 s with a refused password, want a few (backoff 400 ms)", n)
	}
	if r.state().Connected {
		t.Error("connected with a wrong password")
	}
}

// TestOriginateAndHangup: bgapi originate with a job tracked to its
// BACKGROUND_JOB, and uuid_kill.
func TestOriginateAndHangup(t *testing.T) {
	r := newRig(t, nil)
	r.waitConnected(t)
	r.srv.Register("127.0.0.1", "1001")
	ctx := context.Background()
	id, err := r.a.Originate(ctx, presence.OriginateRequest{From: "1001@127.0.0.1", To: "1002", CallerNumber: "1002", CallerName: "Call back"})
	if err != nil {
		t.Fatal(err)
	}
	jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := r.a.Job(jctx, id)
	if err != nil || res.Err != nil || res.CallID != id {
		t.Fatalf("job: %+v, %v", res, err)
	}
	cmds := strings.Join(r.srv.Commands(), "\n")
	for _, want := range []string{"bgapi originate {origination_uuid=" + id, "origination_caller_id_name='Call back'", "}user/1001@127.0.0.1 1002 XML default"} {
		if !strings.Contains(cmds, want) {
			t.Errorf("commands lack %q:\n%s", want, cmds)
		}
	}
	if err := r.a.Hangup(ctx, id); err != nil {
		t.Errorf("hangup: %v", err)
	}
	if err := r.a.Hangup(ctx, "no-such-uuid"); !errors.Is(err, presence.ErrUnknownCall) {
		t.Errorf("hangup of an unknown call: %v, want ErrUnknownCall", err)
	}
	// An unregistered caller: accepted as a job, which then fails.
	id2, err := r.a.Originate(ctx, presence.OriginateRequest{From: "1009@127.0.0.1", To: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	res, err = r.a.Job(jctx, id2)
	if err != nil || res.Err == nil || !strings.Contains(res.Err.Error(), "USER_NOT_REGISTERED") {
		t.Errorf("job of an unregistered caller: %+v, %v", res, err)
	}
	for _, bad := range []presence.OriginateRequest{{From: "", To: "1"}, {From: "1001", To: ""}, {From: "1001 &system(x)", To: "1"}, {From: "1001", To: "1", Gateway: "gw}"}} {
		if _, err := r.a.Originate(ctx, bad); err == nil {
			t.Errorf("Originate(%+v) accepted", bad)
		}
	}
}

// TestJSONCDREndpoint: mod_json_cdr POSTs answered 200 only once the sink
// holds the record, 503 while it refuses (FreeSWITCH retries), malformed
// bodies kept as dead letters.
func TestJSONCDREndpoint(t *testing.T) {
	_, sink, h := startCDREndpoint(t, Config{CDRAckTimeout: time.Second})
	body := esltest.Recorded("call-a-1001-to-1002-a-leg.json")
	post := func(ct string, b []byte) int { return postCDR(h, ct, b) }
	sink.setFailing(true)
	if code := post("application/json", body); code != http.StatusServiceUnavailable {
		t.Errorf("sink down: %d, want 503", code)
	}
	sink.setFailing(false)
	// The outbox may still be in a backoff wait when the sink recovers (a
	// loaded machine stretches it past CDRAckTimeout): mod_json_cdr posts
	// again after a non-200, and so does this client, a few times.
	code := 0
	for range 5 {
		if code = post("application/json", body); code == http.StatusOK {
			break
		}
	}
	if code != http.StatusOK {
		t.Errorf("sink up: %d after 5 posts, want 200", code)
	}
	want, _ := ParseJSONCDR(body, JSONCDROptions{Switch: "fs1"})
	if got := sink.byCall(want.CallID); len(got) == 0 {
		t.Error("the record is not in the sink after 200")
	}
	if code := post("application/json", []byte(`{"variables":{}}`)); code != http.StatusOK || len(sink.dead) != 1 {
		t.Errorf("malformed: %d, %d dead letters", code, len(sink.dead))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
}

// TestNoGoroutineLeak: an adapter that connects, loses its node and is
// stopped leaves no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		srv := esltest.New(t)
		a, err := New(Config{Name: "fs1", Addr: srv.Addr(), Password: "ClueCon", KeepAlive: testKeepAlive,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		view := presence.New()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = a.WatchPresence(ctx, view.Feed("fs1")); close(done) }()
		if !srv.WaitConnected(5 * time.Second) {
			t.Fatal("no connection")
		}
		srv.Freeze(true)
		time.Sleep(3 * testKeepAlive)
		srv.Freeze(false)
		srv.DropConnections()
		time.Sleep(2 * testKeepAlive)
		cancel()
		<-done
		srv.Close()
	}()
	switchtest.WaitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before+2 })
}
