package esltest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// client is a minimal ESL client reading raw frames.
type client struct {
	t      testing.TB
	nc     net.Conn
	br     *bufio.Reader
	events []*event // events read while waiting for a reply
	plain  [][]byte // their raw bodies
}

func dial(t testing.TB, s *Server) *client {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// readFrame reads one frame and returns it with its raw bytes.
func (c *client) readFrame(timeout time.Duration) (frame, []byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	var raw bytes.Buffer
	var f frame
	for {
		line, err := c.br.ReadString('\n')
		raw.WriteString(line)
		if err != nil {
			return f, raw.Bytes(), err
		}
		if line == "\n" {
			break
		}
		name, value, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		f.headers = append(f.headers, header{name, value})
	}
	if cl := f.get("Content-Length"); cl != "" {
		n, _ := strconv.Atoi(cl)
		f.body = make([]byte, n)
		if _, err := io.ReadFull(c.br, f.body); err != nil {
			return f, raw.Bytes(), err
		}
		raw.Write(f.body)
	}
	return f, raw.Bytes(), nil
}

func (c *client) send(cmd string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(cmd + "\n\n")); err != nil {
		c.t.Fatal(err)
	}
}

// until reads frames, keeping events, until one of Content-Type typ.
func (c *client) until(typ string) (frame, []byte) {
	c.t.Helper()
	for {
		f, raw, err := c.readFrame(3 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		switch ct := f.get("Content-Type"); {
		case ct == typ:
			return f, raw
		case strings.HasPrefix(ct, "text/event-"):
			e, err := parseEvent(f.body)
			if ct == "text/event-json" {
				e, err = &event{headers: []header{{"json", string(f.body)}}}, nil
			}
			if err != nil {
				c.t.Fatalf("bad event: %v", err)
			}
			c.events = append(c.events, e)
			c.plain = append(c.plain, f.body)
		default:
			c.t.Fatalf("waiting for %s, got %s", typ, raw)
		}
	}
}

// command sends cmd and returns its command/reply's Reply-Text.
func (c *client) command(cmd string) string {
	c.t.Helper()
	c.send(cmd)
	f, _ := c.until("command/reply")
	return f.get("Reply-Text")
}

// api sends "api cmd" and returns the answer's body.
func (c *client) api(cmd string) string {
	c.t.Helper()
	c.send("api " + cmd)
	f, _ := c.until("api/response")
	return string(f.body)
}

// login authenticates and subscribes (sub "" for no subscription).
func login(t testing.TB, s *Server, sub string) *client {
	t.Helper()
	c := dial(t, s)
	c.until("auth/request")
	if r := c.command("auth " + DefaultPassword); r != "+OK accepted" {
		t.Fatalf("auth: %s", r)
	}
	if sub != "" {
		if r := c.command(sub); !strings.HasPrefix(r, "+OK event listener enabled") {
			t.Fatalf("%s: %s", sub, r)
		}
	}
	return c
}

// sync waits until everything the server sent before now has been read.
func (c *client) sync() {
	c.t.Helper()
	c.command("nosuchcommand")
}

func (c *client) named(name string) []*event {
	var out []*event
	for _, e := range c.events {
		if e.name() == name {
			out = append(out, e)
		}
	}
	return out
}

func readAll(t *testing.T, c *client) []byte {
	t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c.br)
	if err != nil {
		t.Fatalf("want EOF, got %v after %q", err, b)
	}
	return b
}

func TestAuth(t *testing.T) {
	s := New(t, WithPassword("s3cret"))

	t.Run("wrong password", func(t *testing.T) {
		c := dial(t, s)
		c.send("auth ClueCon")
		got := readAll(t, c)
		if want := Recorded("error-wrong-password.txt"); !bytes.Equal(got, want) {
			t.Errorf("session:\n%q\nwant\n%q", got, want)
		}
	})
	t.Run("commands before auth", func(t *testing.T) {
		c := dial(t, s)
		c.until("auth/request")
		for _, cmd := range []string{"api status", "event plain ALL", "nosuchcommand"} {
			if r := c.command(cmd); r != "-ERR command not found" {
				t.Errorf("%s before auth: %q", cmd, r)
			}
		}
		if r := c.command("auth s3cret"); r != "+OK accepted" {
			t.Errorf("auth after refused commands: %q", r)
		}
		if got := s.Commands(); len(got) != 0 {
			t.Errorf("commands before auth recorded: %q", got)
		}
		if got := s.Logins(); !slices.Equal(got, []string{"ClueCon", "s3cret"}) {
			t.Errorf("Logins() = %q", got)
		}
	})
	t.Run("exit", func(t *testing.T) {
		c := dial(t, s)
		c.until("auth/request")
		c.command("auth s3cret")
		c.send("exit")
		want := "Content-Type: command/reply\nReply-Text: +OK bye\n\n" + disconnectNotice
		if got := string(readAll(t, c)); got != want {
			t.Errorf("exit: %q", got)
		}
	})
}

// TestRecordedReplies checks that the reply frames replay the recordings
// byte for byte.
func TestRecordedReplies(t *testing.T) {
	s := New(t)
	c := login(t, s, "")
	tests := []struct{ send, typ, file string }{
		{"api status", "api/response", "api-status.txt"},
		{"api sofia status", "api/response", "api-sofia-status.txt"},
		{"api sofia xmlstatus", "api/response", "api-sofia-xmlstatus.txt"},
		{"api sofia xmlstatus gateway", "api/response", "api-sofia-xmlstatus-gateway.txt"},
		{"api sofia status gateway gw1", "api/response", "api-sofia-status-gateway-gw1.txt"},
		{"api show registrations as json", "api/response", "api-show-registrations-json-empty.txt"},
		{"api show channels as json", "api/response", "api-show-channels-json-empty.txt"},
		{"api show calls as json", "api/response", "api-show-calls-json-empty.txt"},
		{"api nosuchcommand foo", "api/response", "error-unknown-api-command.txt"},
		{"nosuchcommand", "command/reply", "error-unknown-command.txt"},
		{"api reloadxml", "api/response", "api-reloadxml.txt"},
		{"api sofia profile external killgw gw1", "api/response", "api-sofia-profile-external-killgw-gw1.txt"},
		{"api sofia profile external rescan", "api/response", "api-sofia-profile-external-rescan.txt"},
		{"bgapi status\nJob-UUID: 8a865062-ec6a-4a39-9f0a-aeba0ed0881d", "command/reply", "bgapi-status-reply.txt"},
	}
	for _, tc := range tests {
		c.send(tc.send)
		_, raw := c.until(tc.typ)
		if want := Recorded(tc.file); !bytes.Equal(raw, want) {
			t.Errorf("%q:\n%q\nwant %s:\n%q", tc.send, raw, tc.file, want)
		}
	}
	want := []string{"api status", "api sofia status", "api sofia xmlstatus", "api sofia xmlstatus gateway",
		"api sofia status gateway gw1", "api show registrations as json", "api show channels as json",
		"api show calls as json", "api nosuchcommand foo", "nosuchcommand", "api reloadxml",
		"api sofia profile external killgw gw1", "api sofia profile external rescan", "bgapi status"}
	if got := s.Commands(); !slices.Equal(got, want) {
		t.Errorf("Commands() = %q", got)
	}
}

// wantScenario returns the recorded events a subscription should get.
func wantScenario(keep func(e *event) bool) [][]byte {
	var out [][]byte
	for _, b := range ScenarioEvents() {
		if keep(mustEvent(b)) {
			out = append(out, b)
		}
	}
	return out
}

func TestSubscriptions(t *testing.T) {
	named := func(names ...string) func(*event) bool {
		return func(e *event) bool {
			return slices.Contains(names, e.name()) || e.name() == "CUSTOM" && slices.Contains(names, e.subclass())
		}
	}
	tests := []struct {
		name, sub, reply string
		keep             func(*event) bool
	}{
		{"all", "event plain ALL", "+OK event listener enabled plain", func(*event) bool { return true }},
		{"adapter's list",
			"event plain CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE HEARTBEAT BACKGROUND_JOB CUSTOM sofia::register sofia::unregister",
			"+OK event listener enabled plain",
			named("CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE", "HEARTBEAT", "BACKGROUND_JOB", "sofia::register", "sofia::unregister")},
		{"no format word, case-insensitive names", "event channel_create", "+OK event listener enabled plain", named("CHANNEL_CREATE")},
		{"CUSTOM without subclass takes no subclassed event", "event plain CUSTOM", "+OK event listener enabled plain", named()},
		// Every word after CUSTOM is a subclass, even an event name.
		{"words after CUSTOM are subclasses", "event plain CUSTOM sofia::expire HEARTBEAT", "+OK event listener enabled plain", named("sofia::expire")},
		{"SWITCH_EVENT_ prefix", "event plain SWITCH_EVENT_API", "+OK event listener enabled plain", named("API")},
	}
	s := New(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := login(t, s, "")
			if r := c.command(tc.sub); r != tc.reply {
				t.Fatalf("%s: %q", tc.sub, r)
			}
			s.Push(s.Scenario()...)
			c.sync()
			want := wantScenario(tc.keep)
			if len(c.plain) != len(want) {
				t.Fatalf("got %d events, want %d", len(c.plain), len(want))
			}
			for i := range want {
				if !bytes.Equal(c.plain[i], want[i]) {
					t.Fatalf("event %d not verbatim:\n%s\nwant\n%s", i, c.plain[i], want[i])
				}
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		c := login(t, s, "")
		for _, tc := range []struct{ cmd, want string }{
			{"event plain", "-ERR no keywords supplied"},
			{"event plain NOSUCH", "-ERR no keywords supplied"},
			{"noevents", "-ERR not listening for events"},
			{"event json ALL", "+OK event listener enabled json"},
			{"nixevent API", "+OK events nixed"},
			{"nixevent", "-ERR no keywords supplied"},
			{"filter Event-Name", "-ERR invalid syntax"},
			{"filter Event-Name API", "+OK filter added. [Event-Name]=[API]"},
			{"filter delete all", "+OK filter deleted. [all][]"},
			{"log", "+OK log level  [7]"},
			{"nolog", "+OK no longer logging"},
			{"nolog", "-ERR not loging"},
			{"sendevent CUSTOM", "-ERR command not found"},
		} {
			if got := c.command(tc.cmd); got != tc.want {
				t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
			}
		}
		if r := c.command("noevents"); r != "+OK no longer listening for events" {
			t.Errorf("noevents: %q", r)
		}
		s.Push(s.Scenario()[:5]...)
		c.sync()
		if len(c.events) != 0 {
			t.Errorf("%d events after noevents", len(c.events))
		}
	})
	t.Run("nixevent and filter", func(t *testing.T) {
		c := login(t, s, "event plain ALL")
		// nixevent turns ALL into every type but leaves no CUSTOM
		// subclass: sofia::register no longer comes, filter or not.
		c.command("nixevent API HEARTBEAT")
		c.command("filter Event-Name CHANNEL_CREATE")
		c.command("filter Event-Subclass sofia::register")
		s.Push(s.Scenario()...)
		c.sync()
		want := wantScenario(named("CHANNEL_CREATE"))
		if len(c.plain) != len(want) {
			t.Errorf("got %d events, want %d", len(c.plain), len(want))
		}
	})
}

// TestJSONFormat checks the json format against the recording of an
// `event json ALL` connection that received the same events.
func TestJSONFormat(t *testing.T) {
	raw, err := os.ReadFile("testdata/scenario-json.txt")
	if err != nil {
		t.Fatal(err)
	}
	frames, err := splitFrames(raw)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for _, f := range frames {
		if f.get("Content-Type") == "text/event-json" {
			want = append(want, f.body)
		}
	}
	s := New(t)
	c := login(t, s, "event json ALL")
	s.Push(s.Scenario()...)
	c.sync()
	if len(c.plain) != len(want) {
		t.Fatalf("got %d json events, want %d", len(c.plain), len(want))
	}
	for i := range want {
		if !bytes.Equal(c.plain[i], want[i]) {
			t.Fatalf("json event %d:\n%s\nwant\n%s", i, c.plain[i], want[i])
		}
	}
}

func TestEventSequenceIncreases(t *testing.T) {
	s := New(t)
	c := login(t, s, "event plain ALL")
	s.Push(s.Scenario()[8:10]...) // recorded 432, 434
	s.Register("127.0.0.1", "1001")
	c.api("status")
	s.Heartbeat()
	s.CompleteCall("1001", "1002", time.Second)
	c.sync()
	last := int64(0)
	for i, e := range c.events {
		n, _ := strconv.ParseInt(e.get("Event-Sequence"), 10, 64)
		if n <= last {
			t.Fatalf("event %d (%s) has Event-Sequence %d after %d", i, e.name(), n, last)
		}
		last = n
	}
	if len(c.events) < 30 {
		t.Errorf("only %d events", len(c.events))
	}
}

// TestReloadEventSocket: the clients get FreeSWITCH's shutdown notice,
// then EOF; the node takes new connections at once.
func TestReloadEventSocket(t *testing.T) {
	s := New(t)
	c := login(t, s, "event plain ALL")
	if !s.WaitConnected(time.Second) {
		t.Fatal("not connected")
	}
	s.ReloadEventSocket()
	want := "Content-Type: text/disconnect-notice\nContent-Length: 31\n\nThe system is being shut down.\n"
	if b := readAll(t, c); string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	login(t, s, "event plain ALL")
	if !s.WaitConnected(time.Second) {
		t.Error("no reconnection after ReloadEventSocket")
	}
}

func TestDropConnections(t *testing.T) {
	s := New(t)
	c := login(t, s, "event plain ALL")
	if !s.WaitConnected(time.Second) || s.Connections() != 1 {
		t.Fatalf("not connected: %d", s.Connections())
	}
	s.DropConnections()
	if b := readAll(t, c); len(b) != 0 {
		t.Errorf("a dropped connection got %q", b)
	}
	login(t, s, "event plain ALL")
	if !s.WaitConnected(time.Second) {
		t.Error("no reconnection after DropConnections")
	}
}

func TestFreeze(t *testing.T) {
	s := New(t)
	c := login(t, s, "event plain ALL")
	s.Freeze(true)
	c.send("api status")
	s.Heartbeat()
	if f, _, err := c.readFrame(200 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a frozen node sent %v (%v)", f.headers, err)
	}
	fresh := dial(t, s)
	if f, _, err := fresh.readFrame(100 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a frozen node greeted a new connection: %v (%v)", f.headers, err)
	}
	if got := s.Commands(); !slices.Contains(got, "api status") {
		t.Errorf("commands read while frozen: %q", got)
	}
	s.Freeze(false)
	if body := c.api("status"); body != string(RecordedBody("api-status.txt")) {
		t.Errorf("after Freeze(false): %q", body)
	}
	if len(c.named("HEARTBEAT")) != 0 {
		t.Error("the heartbeat sent while frozen came out")
	}
}

func TestRefuse(t *testing.T) {
	s := New(t)
	kept := login(t, s, "event plain ALL")
	s.Refuse(true)
	if b := readAll(t, dial(t, s)); len(b) != 0 {
		t.Errorf("a refused connection got %q", b)
	}
	if kept.api("reloadxml") != "+OK [Success]\n" {
		t.Error("Refuse cut an established connection")
	}
	s.Refuse(false)
	login(t, s, "")
	if s.Connections() != 2 {
		t.Errorf("Connections() = %d", s.Connections())
	}
}

func TestWaitConnectedNeedsSubscription(t *testing.T) {
	s := New(t)
	c := login(t, s, "")
	if s.WaitConnected(50 * time.Millisecond) {
		t.Error("WaitConnected without a subscription")
	}
	c.command("event plain HEARTBEAT")
	if !s.WaitConnected(time.Second) {
		t.Error("WaitConnected after event")
	}
}

func TestHeartbeatOption(t *testing.T) {
	s := New(t, WithHeartbeat(20*time.Millisecond))
	c := login(t, s, "event plain HEARTBEAT")
	time.Sleep(100 * time.Millisecond)
	c.sync()
	if len(c.events) < 2 {
		t.Errorf("%d heartbeats in 100 ms", len(c.events))
	}
}
