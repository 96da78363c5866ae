package freeswitch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
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
// 1,000 events since cpu0.
func reportRate(b *testing.B, events int, cpu0 time.Duration) {
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/1000/(float64(events)/1000), "cpu-ms/1k-events")
}

var (
	benchUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	benchSeq  = regexp.MustCompile(`(?m)^Event-Sequence: (\d+)$`)
)

// roundTemplate is an event cut at its uuids and its Event-Sequence, so
// that a round's copy is assembled by appending (a regexp per round would
// cost more than the adapter's own work).
type roundTemplate struct {
	parts [][]byte // text between the cuts
	kinds []byte   // per cut: 'u' uuid (its first 8 hex digits replaced), 's' sequence
	uuids [][]byte // the uuid's remaining 28 characters, per 'u' cut
	seqs  []int    // the recorded sequence, per 's' cut
}

func newRoundTemplates(events [][]byte) []roundTemplate {
	out := make([]roundTemplate, len(events))
	for i, e := range events {
		type cut struct {
			start, end int
			kind       byte
		}
		var cuts []cut
		for _, m := range benchUUID.FindAllIndex(e, -1) {
			cuts = append(cuts, cut{m[0], m[1], 'u'})
		}
		for _, m := range benchSeq.FindAllSubmatchIndex(e, -1) {
			cuts = append(cuts, cut{m[2], m[3], 's'})
		}
		slices.SortFunc(cuts, func(a, b cut) int { return a.start - b.start })
		t := &out[i]
		prev := 0
		for _, c := range cuts {
			t.parts = append(t.parts, e[prev:c.start])
			t.kinds = append(t.kinds, c.kind)
			if c.kind == 'u' {
				t.uuids = append(t.uuids, e[c.start+8:c.end])
			} else {
				n, _ := strconv.Atoi(string(e[c.start:c.end]))
				t.seqs = append(t.seqs, n)
			}
			prev = c.end
		}
		t.parts = append(t.parts, e[prev:])
	}
	return out
}

// scenarioRound returns the events rewritten for round r: channel uuids
// unique to the round (an ended leg's events are ignored, so each replay
// needs fresh ones) and Event-Sequence numbers rising across rounds.
func scenarioRound(ts []roundTemplate, r int) [][]byte {
	out := make([][]byte, len(ts))
	hex := roundHex(r)
	for i := range ts {
		out[i] = ts[i].appendRound(make([]byte, 0, ts[i].size()), hex, r)
	}
	return out
}

// roundHex is the 8 hex digits that start round r's uuids.
func roundHex(r int) []byte { return fmt.Appendf(nil, "%08x", r) }

// size is an upper bound of the length of one round's copy.
func (t *roundTemplate) size() int {
	n := 0
	for _, p := range t.parts {
		n += len(p)
	}
	return n + 8*len(t.uuids) + 40*len(t.seqs)
}

// appendRound appends the template's event of round r to dst. It
// allocates nothing once dst has room: the benchmark's own work and
// garbage stay small beside the adapter's, whose CPU is measured in the
// same process.
func (t *roundTemplate) appendRound(dst, hex []byte, r int) []byte {
	u, q := 0, 0
	for k, kind := range t.kinds {
		dst = append(dst, t.parts[k]...)
		if kind == 'u' {
			dst = append(append(dst, hex...), t.uuids[u]...)
			u++
		} else {
			dst = strconv.AppendInt(dst, int64(r*100000+t.seqs[q]), 10)
			q++
		}
	}
	return append(dst, t.parts[len(t.parts)-1]...)
}

// subscribedEvents keeps the scenario's events the adapter subscribes to
// (FreeSWITCH sends only those) and counts the CDRs one replay yields.
func subscribedEvents(b *testing.B) (events [][]byte, legs int) {
	want := map[string]bool{}
	for _, s := range subscribed {
		want[s] = true
	}
	calls := NewCalls(CallOptions{Switch: "fs1"})
	for _, raw := range esltest.ScenarioEvents() {
		ev, err := ParsePlainEvent(raw)
		if err != nil {
			b.Fatal(err)
		}
		if !want[ev.Name()] || ev.Name() == "CUSTOM" && !want[ev.Subclass()] {
			continue
		}
		events = append(events, raw)
		_, _, recs := calls.Apply(ev)
		legs += len(recs)
	}
	return events, legs
}

// countingSink counts the records it is given and signals each Put.
type countingSink struct {
	mu   sync.Mutex
	n    int
	kick chan struct{}
}

func (s *countingSink) Put(_ context.Context, recs ...cdr.Record) error {
	s.mu.Lock()
	s.n += len(recs)
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

func (s *countingSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// BenchmarkAdapterEvents measures how fast the adapter consumes one
// node's events: the recorded session's subscribed events (channel
// events of 6 calls, 9 legs, registrations and gateway states) replayed
// over and over with fresh uuids and rising sequence numbers.
//
//   - socket: from the fake ESL server over TCP, through the connection's
//     reader and the sequencer into a running WatchPresence, each round
//     waited for by its 9 CDRs. The fake and the rewrite run in the same
//     process and the fake parses every event it pushes (Push), so their
//     CPU is in the figure: an upper bound, as the Asterisk adapter's
//     socket benchmark.
//   - socket-framed: the same, the fake writing each round's frames as
//     they are (PushFramed: no parse on its side) from one reused buffer
//     (the rewrite allocates nothing), so that nearly all the CPU is the
//     adapter's.
//   - direct: the adapter's per-event work alone (ParsePlainEvent,
//     presence, calls, feed, CDR queue).
//
// Each runs with the adapter's subscription and, under "wider/", with
// the one it had before issue 12 item 14 (widerSubscription): the same
// event mix as the figures of those days. legs/s counts the call legs
// (CDRs) consumed.
func BenchmarkAdapterEvents(b *testing.B) {
	for _, sub := range []struct {
		name string
		list []string
	}{{"", subscribed}, {"wider/", widerSubscription}} {
		saved := subscribed
		subscribed = sub.list
		benchAdapterEvents(b, sub.name)
		subscribed = saved
	}
}

// widerSubscription is the adapter's subscription before issue 12 item
// 14.
var widerSubscription = append([]string{"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
	"CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP"}, subscribed...)

func benchAdapterEvents(b *testing.B, prefix string) {
	events, legs := subscribedEvents(b)
	tmpl := newRoundTemplates(events)
	socket := func(b *testing.B, push func(srv *esltest.Server, round int)) {
		srv := esltest.New(b)
		a, err := New(Config{Name: "fs1", Addr: srv.Addr(), Password: "ClueCon", Domain: "127.0.0.1",
			KeepAlive: -1, ReconcileEvery: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		view := presence.New()
		sink := &countingSink{kick: make(chan struct{}, 1)}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = view.Run(ctx) })
		wg.Go(func() { _ = a.WatchPresence(ctx, view.Feed("fs1")) })
		wg.Go(func() { _ = a.StreamCDRs(ctx, sink) })
		defer func() { cancel(); wg.Wait() }()
		for !func() bool {
			for _, s := range view.Switches() {
				if s.Name == "fs1" && s.Connected {
					return true
				}
			}
			return false
		}() {
			time.Sleep(5 * time.Millisecond)
		}
		// Rounds are pushed back to back (FreeSWITCH does not wait for the
		// adapter either); the clock stops once every round's CDRs are in.
		cpu0 := cpuTime(b)
		b.ResetTimer()
		for i := range b.N {
			push(srv, i+1)
		}
		for sink.count() < b.N*legs {
			select {
			case <-sink.kick:
			case <-time.After(30 * time.Second):
				b.Fatalf("%d CDRs, want %d", sink.count(), b.N*legs)
			}
		}
		b.StopTimer()
		reportRate(b, b.N*len(events), cpu0)
		b.ReportMetric(float64(b.N*legs)/b.Elapsed().Seconds(), "legs/s")
	}
	b.Run(prefix+"socket", func(b *testing.B) {
		socket(b, func(srv *esltest.Server, r int) { srv.Push(scenarioRound(tmpl, r)...) })
	})
	b.Run(prefix+"socket-framed", func(b *testing.B) {
		var buf, ev []byte
		socket(b, func(srv *esltest.Server, r int) {
			buf = buf[:0]
			hex := roundHex(r)
			for i := range tmpl {
				ev = tmpl[i].appendRound(ev[:0], hex, r)
				buf = append(buf, "Content-Length: "...)
				buf = strconv.AppendInt(buf, int64(len(ev)), 10)
				buf = append(buf, "\nContent-Type: text/event-plain\n\n"...)
				buf = append(buf, ev...)
			}
			srv.PushFramed(buf) // written before it returns: buf is free again
		})
	})
	b.Run(prefix+"direct", func(b *testing.B) {
		a, err := New(Config{Name: "fs1", Addr: "127.0.0.1:1", Password: "x", Domain: "127.0.0.1"})
		if err != nil {
			b.Fatal(err)
		}
		s := &fsSession{a: a, feed: presence.New().Feed("fs1"), calls: NewCalls(CallOptions{Switch: "fs1", Domain: "127.0.0.1"}),
			popt: PresenceOptions{Switch: "fs1", Domain: "127.0.0.1"}}
		rounds := 0
		var raw []byte
		cpu0 := cpuTime(b)
		b.ResetTimer()
		for b.Loop() {
			hex := roundHex(rounds + 1)
			for i := range tmpl {
				raw = tmpl[i].appendRound(raw[:0], hex, rounds+1)
				ev, err := ParsePlainEvent(raw) // copies what it keeps
				if err != nil {
					b.Fatal(err)
				}
				s.handle(ev)
			}
			rounds++
			a.outbox.Discard()
		}
		b.StopTimer()
		reportRate(b, rounds*len(events), cpu0)
		b.ReportMetric(float64(rounds*legs)/b.Elapsed().Seconds(), "legs/s")
	})
}
