package asterisk

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRate reports events/s and the CPU time the process spent per
// 1,000 events between cpu0 and now.
func reportRate(b *testing.B, events int, cpu0 time.Duration) {
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/1000/(float64(events)/1000), "cpu-ms/1k-events")
}

// replay returns the scenario's events with channel ids (and linkedids)
// unique to round r: the adapter ignores the events of a channel it has
// already closed, as it must, so each replay needs fresh ones.
func replay(events [][]byte, r int) [][]byte {
	from := []byte(`"1795610`)
	to := fmt.Appendf(nil, `"%07d`, 3000000+r)
	out := make([][]byte, len(events))
	for i, e := range events {
		out[i] = bytes.ReplaceAll(e, from, to)
	}
	return out
}

// BenchmarkAdapterEvents measures how fast the adapter consumes one
// node's events: the recorded scenario (presence and 11 channel legs)
// replayed over and over, with fresh channel ids each time (the rewrite
// is inside the timed loop, a few percent of the work).
//
//   - socket: through the fake's WebSocket into a running WatchPresence,
//     as fast as the fake can send. The fake runs in the same process and
//     parses every event it pushes (to keep its REST state), so its CPU is
//     in the figure too: an upper bound for the adapter's share.
//   - direct: the adapter's per-event work alone (decode, presence,
//     calls, feed), without socket or fake.
func BenchmarkAdapterEvents(b *testing.B) {
	events := aritest.ScenarioEvents()
	legsPerReplay := func() int {
		calls := NewCalls(CallOptions{Switch: "ast1", Domain: presDomain})
		n := 0
		for _, e := range events {
			ev, err := ParseEvent(e)
			if err != nil {
				b.Fatal(err)
			}
			_, _, recs := calls.Apply(ev)
			n += len(recs)
		}
		return n
	}()

	b.Run("socket", func(b *testing.B) {
		srv := aritest.New(b)
		srv.SetEndpoints("offline", "1001", "1002", "1003", "gateway")
		cfg := adapterConfig(srv)
		cfg.MetricsURL = "-"
		a, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		view := presence.New()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = a.WatchPresence(ctx, view.Feed("ast1"))
		}()
		defer func() { cancel(); <-done; cfg.HTTPClient.CloseIdleConnections() }()
		// Connected means the first resync is over.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if sw := view.Switches(); len(sw) == 1 && sw[0].Connected {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the adapter did not connect")
			}
		}
		rounds := 0
		cpu0 := cpuTime(b)
		b.ResetTimer()
		for b.Loop() {
			srv.Push(replay(events, rounds)...)
			rounds++
		}
		// Pending counts the CDRs of every leg, the scenario's last
		// events: all are in once the adapter has applied them.
		deadline := time.Now().Add(30 * time.Second)
		for a.Pending() < legsPerReplay*rounds {
			if time.Now().After(deadline) {
				b.Fatalf("%d CDRs after %d replays, want %d", a.Pending(), rounds, legsPerReplay*rounds)
			}
			time.Sleep(100 * time.Microsecond)
		}
		b.StopTimer()
		reportRate(b, rounds*len(events), cpu0)
	})

	b.Run("direct", func(b *testing.B) {
		a, err := New(Config{Name: "ast1", URL: "http://127.0.0.1:1/ari", Domain: presDomain})
		if err != nil {
			b.Fatal(err)
		}
		s := &session{
			a:     a,
			feed:  presence.New().Feed("ast1"),
			calls: NewCalls(CallOptions{Switch: "ast1", Domain: presDomain}),
			pres:  NewPresence(PresenceOptions{Domain: presDomain}),
		}
		rounds := 0
		cpu0 := cpuTime(b)
		b.ResetTimer()
		for b.Loop() {
			for _, e := range replay(events, rounds) {
				s.handle(e)
			}
			rounds++
			a.outbox.Discard()
		}
		b.StopTimer()
		reportRate(b, rounds*len(events), cpu0)
	})
}

// BenchmarkResync10kEndpoints measures a full resync (the one on every
// connect) of a node with 10,000 PJSIP endpoints from the fake's REST:
// offline, one GET /endpoints/PJSIP (plus channels and metrics); online,
// also one AOR read per endpoint for its contacts, 8 at a time.
func BenchmarkResync10kEndpoints(b *testing.B) {
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("%d", 100000+i)
	}
	for _, state := range []string{"offline", "online"} {
		b.Run(state, func(b *testing.B) {
			srv := aritest.New(b)
			srv.SetEndpoints(state, ids...)
			cfg := adapterConfig(srv)
			cfg.RequestTimeout = time.Minute
			a, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer cfg.HTTPClient.CloseIdleConnections()
			view := presence.New()
			s := &session{
				a:     a,
				feed:  view.Feed("ast1"),
				calls: NewCalls(CallOptions{Switch: "ast1", Domain: presDomain}),
				pres:  NewPresence(PresenceOptions{Domain: presDomain, IsGateway: cfg.IsGateway}),
			}
			ctx := context.Background()
			for b.Loop() {
				if err := s.resync(ctx, true); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if state == "online" {
				if n := view.CountRegistrations(presDomain); n != len(ids) {
					b.Fatalf("%d registrations after the resync, want %d", n, len(ids))
				}
			}
		})
	}
}
