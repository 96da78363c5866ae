package sip

import (
	"fmt"
	"testing"
	"time"
)

// TestOneSocketPerTransport probes 400 targets spread over four sipp peers
// and counts this process's sockets: one UDP socket for every UDP target,
// one TCP connection per TCP peer (not per target, not per probe), and
// none left after Run. Not parallel: it counts the whole process's sockets.
func TestOneSocketPerTransport(t *testing.T) {
	var peers []*sipp
	for _, tp := range []Transport{UDP, UDP, TCP, TCP} {
		peers = append(peers, startSipp(t, tp, "options_uas.xml"))
	}
	before := countSockets(t)

	var targets []Target
	for i := range 400 {
		s := peers[i%len(peers)]
		targets = append(targets, Target{Kind: KindContact, Name: fmt.Sprint("c", i), URI: s.uri(), Transport: s.transport})
	}
	cfg := testConfig()
	cfg.Interval = 300 * time.Millisecond
	cfg.Timeout = 250 * time.Millisecond
	p, err := NewProber(withTestLogger(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	p.SetTargets(targets)
	stop := runUntilStopped(t, p)

	// Three rounds: every target answered at least three times.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := 0
		for _, r := range p.Results() {
			if r.Status == StatusReachable {
				n++
			}
		}
		if n == len(targets) && p.probesAnswered() >= 3*len(targets) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d targets reachable, %d answers within 5s", n, len(targets), p.probesAnswered())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := countSockets(t)-before, 1+2; got != want {
		t.Errorf("%d new sockets while probing %d targets on 2 UDP and 2 TCP peers, want %d", got, len(targets), want)
	}
	// sipgo's UDP pool keeps one entry whatever the peers (see probeConn).
	p.mu.Lock()
	pool := p.run.ua.TransportLayer().Pool("udp").Size()
	p.mu.Unlock()
	if pool != 1 {
		t.Errorf("sipgo's UDP pool has %d entries after probing 200 UDP targets, want 1", pool)
	}

	stop()
	if got := countSockets(t) - before; got != 0 {
		t.Errorf("%d sockets left open after Run returned", got)
	}
}

// runUntilStopped runs p and returns the function that stops it and
// waits for Run to return.
func runUntilStopped(t testing.TB, p *Prober) func() {
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// probesAnswered is the number of answered probes so far.
func (p *Prober) probesAnswered() int {
	n := 0
	p.metrics.probes.Range(func(_, v any) bool {
		n += int(v.(*[numResults]resultCounter)[resultAnswered].Load())
		return true
	})
	return n
}
