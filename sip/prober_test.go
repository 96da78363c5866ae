package sip

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// testConfig probes every 100 ms, so that a test sees several probes in
// well under a second.
func testConfig() Config {
	return Config{
		Interval:     100 * time.Millisecond,
		Timeout:      80 * time.Millisecond,
		Misses:       3,
		LagThreshold: time.Second,
		ListenAddr:   "127.0.0.1",
	}
}

// tWriter sends log lines to t.Log, so that a failing test shows what the
// prober said.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// withTestLogger sends cfg's logs, from Warn up, to the test's log.
func withTestLogger(t testing.TB, cfg Config) Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return cfg
}

// startProber runs a Prober on cfg and targets until the test ends.
func startProber(t testing.TB, cfg Config, targets ...Target) *Prober {
	t.Helper()
	p, err := NewProber(withTestLogger(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	p.SetTargets(targets)
	runProber(t, p)
	return p
}

// runProber runs p until the test ends.
func runProber(t testing.TB, p *Prober) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// waitResult waits until the target's result satisfies ok, and returns it.
func waitResult(t testing.TB, p *Prober, kind Kind, name string, within time.Duration, what string, ok func(Result) bool) Result {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, found := p.Result(kind, name)
		if found && ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: not %s within %v; last result %+v", kind, name, what, within, r)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func gateway(name, uri string) Target {
	return Target{Kind: KindGateway, Name: name, URI: uri}
}

// changes records OnChange events.
type changes struct {
	mu  sync.Mutex
	all []Result
}

func (c *changes) record(r Result) {
	c.mu.Lock()
	c.all = append(c.all, r)
	c.mu.Unlock()
}

func (c *changes) of(name string) []Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Result
	for _, r := range c.all {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

func TestOptionsAnswered(t *testing.T) {
	t.Parallel()
	// Every final answer proves the target alive, whatever it says: 401
	// and 403 (we are not trusted), 404, 405 (no OPTIONS), 503 (alive
	// but overloaded: reported reachable, the code tells the rest).
	tests := []struct {
		code   int
		reason string
	}{
		{200, "OK"},
		{401, "Unauthorized"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{503, "Service Unavailable"},
	}
	var targets []Target
	for _, tt := range tests {
		s := startSipp(t, UDP, "options_uas.xml", "200 OK", fmt.Sprint(tt.code, " ", tt.reason))
		targets = append(targets, gateway(fmt.Sprint(tt.code), s.uri()))
	}
	tcp := startSipp(t, TCP, "options_uas.xml")
	targets = append(targets,
		Target{Kind: KindSwitch, Name: "tcp-by-field", URI: tcp.uri(), Transport: TCP},
		Target{Kind: KindSwitch, Name: "tcp-by-uri", URI: tcp.uri() + ";transport=tcp"},
		// A hostname, resolved by sipgo.
		Target{Kind: KindSwitch, Name: "tcp-by-name", URI: fmt.Sprintf("sip:localhost:%d;transport=TCP", tcp.port)},
	)
	p := startProber(t, testConfig(), targets...)

	for _, tt := range tests {
		r := waitResult(t, p, KindGateway, fmt.Sprint(tt.code), 2*time.Second, "answered", func(r Result) bool { return r.Code != 0 })
		if r.Status != StatusReachable || r.Code != tt.code || r.Reason != tt.reason || r.RTT <= 0 || r.Misses != 0 {
			t.Errorf("%d: got %s %d %q rtt %v misses %d, want reachable %d %q", tt.code, r.Status, r.Code, r.Reason, r.RTT, r.Misses, tt.code, tt.reason)
		}
	}
	for _, name := range []string{"tcp-by-field", "tcp-by-uri", "tcp-by-name"} {
		r := waitResult(t, p, KindSwitch, name, 2*time.Second, "answered", func(r Result) bool { return r.Code != 0 })
		if r.Status != StatusReachable || r.Code != 200 {
			t.Errorf("%s: %s %d %q, want reachable 200", name, r.Status, r.Code, r.Reason)
		}
	}
}

func TestGatewayDownAfterMissesUpAfterOneSuccess(t *testing.T) {
	t.Parallel()
	for _, tp := range []Transport{UDP, TCP} {
		t.Run(string(tp), func(t *testing.T) {
			t.Parallel()
			testDownAndUp(t, tp)
		})
	}
}

func testDownAndUp(t *testing.T, tp Transport) {
	s := startSipp(t, tp, "options_uas.xml")
	s.logOnFailure()
	var ch changes
	cfg := testConfig()
	cfg.OnChange = ch.record
	p := startProber(t, cfg, Target{Kind: KindGateway, Name: "gw", URI: s.uri(), Transport: tp})
	up := func(r Result) bool { return r.Status == StatusReachable }
	down := func(r Result) bool { return r.Status == StatusUnreachable }
	waitResult(t, p, KindGateway, "gw", 2*time.Second, "reachable", up)

	want := "reachable/0 unreachable/3 reachable/0"
	if tp == UDP {
		// Frozen: the socket is open, nothing answers. Each probe times
		// out; the third makes the gateway unreachable. (Not over TCP:
		// sipp's TCP server exits when it finds, on resuming, that the
		// prober closed the connection it owed answers on.)
		s.pause()
		r := waitResult(t, p, KindGateway, "gw", 2*time.Second, "unreachable", down)
		if r.Reason != reasonTimeout || r.Code != 0 {
			t.Errorf("paused: reason %q code %d, want timeout 0", r.Reason, r.Code)
		}
		s.resume()
		waitResult(t, p, KindGateway, "gw", 2*time.Second, "reachable again", up)
		want += " unreachable/3 reachable/0"
	}

	// Killed: the port is closed. The kernel answers ICMP port
	// unreachable (UDP) or RST (TCP), and the prober says so instead of
	// waiting for the timeout.
	s.kill()
	r := waitResult(t, p, KindGateway, "gw", 2*time.Second, "unreachable", down)
	if r.Reason != reasonRefused {
		t.Errorf("killed: reason %q, want %q", r.Reason, reasonRefused)
	}
	s.restart()
	waitResult(t, p, KindGateway, "gw", 2*time.Second, "reachable again", up)

	// The events: up, then down after exactly Misses misses and up on the
	// first answer, each time.
	var got []string
	for _, c := range ch.of("gw") {
		got = append(got, fmt.Sprintf("%s/%d", c.Status, c.Misses))
	}
	if strings.Join(got, " ") != want {
		t.Errorf("OnChange events %v, want %s", got, want)
	}
}
