package sip

import (
	"container/heap"
	"fmt"
	"testing"
	"time"
)

func TestFirstAndNextDue(t *testing.T) {
	iv := 30 * time.Second
	base := time.Unix(1_800_000_000, 0) // a multiple of 30 s
	tests := []struct {
		now   time.Duration // after base
		phase time.Duration
		want  time.Duration // after base
	}{
		{0, 0, 0},
		{0, 7 * time.Second, 7 * time.Second},
		{7 * time.Second, 7 * time.Second, 7 * time.Second},
		{8 * time.Second, 7 * time.Second, 37 * time.Second},
		{29 * time.Second, 0, 30 * time.Second},
	}
	for _, tt := range tests {
		got := firstDue(base.Add(tt.now), iv, tt.phase)
		if !got.Equal(base.Add(tt.want)) {
			t.Errorf("firstDue(+%v, phase %v) = +%v, want +%v", tt.now, tt.phase, got.Sub(base), tt.want)
		}
	}

	due := base.Add(7 * time.Second)
	nexts := []struct {
		ended time.Duration // after due
		want  time.Duration // after base
	}{
		{10 * time.Millisecond, 37 * time.Second}, // on the grid
		{31 * time.Second, 37 * time.Second},      // late but within an interval: right away
		{95 * time.Second, 127 * time.Second},     // starved: next grid slot, no catch-up burst
	}
	for _, tt := range nexts {
		got := nextDue(due, due.Add(tt.ended), iv, 7*time.Second)
		if !got.Equal(base.Add(tt.want)) {
			t.Errorf("nextDue(ended +%v) = +%v, want +%v", tt.ended, got.Sub(base), tt.want)
		}
	}
}

// TestPhasesSpread: 10,000 targets every 30 s start spread over the
// interval, not in a burst: no second of it gets more than twice its share.
func TestPhasesSpread(t *testing.T) {
	const n, iv = 10000, 30 * time.Second
	var perSecond [30]int
	for i := range n {
		ph := phase(key{KindContact, fmt.Sprintf("u%d@example.com sip:u%d@10.0.%d.%d:5060", i, i, i/250, i%250)}, iv)
		perSecond[ph/time.Second]++
	}
	for s, c := range perSecond {
		if c > 2*n/30 || c < n/30/2 {
			t.Errorf("second %d of the interval has %d probes, want about %d", s, c, n/30)
		}
	}
}

func TestSetTargets(t *testing.T) {
	p, err := NewProber(Config{Interval: 10 * time.Second, Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	gw := func(name string, iv time.Duration) Target {
		return Target{Kind: KindGateway, Name: name, URI: "sip:" + name + ".example.com", Interval: iv}
	}
	before := time.Now()
	p.SetTargets([]Target{gw("a", 0), gw("b", 0), gw("c", 2*time.Second), {Kind: KindContact, Name: "a", URI: "sip:a@10.0.0.1"}})
	if len(p.entries) != 4 || len(p.infra) != 3 || len(p.queue) != 4 {
		t.Fatalf("entries %d infra %d queue %d, want 4 3 4", len(p.entries), len(p.infra), len(p.queue))
	}
	for k, e := range p.entries {
		if e.due.Before(before) || e.due.After(before.Add(e.interval+time.Second)) {
			t.Errorf("%v: first probe in %v, want within its interval %v", k, time.Until(e.due), e.interval)
		}
		if e.res.Status != StatusUnknown {
			t.Errorf("%v: status %q before any probe, want unknown", k, e.res.Status)
		}
	}
	if r, _ := p.Result(KindGateway, "c"); r.Interval != 2*time.Second {
		t.Errorf("c: interval %v", r.Interval)
	}

	// a answers once: its state survives the next SetTargets.
	a := p.entries[key{KindGateway, "a"}]
	heapRemove(p, a)
	p.record(a, answered(200, "OK", time.Millisecond), nil)
	aDue := a.due

	// Keep a (new URI), drop b, re-time c, add d; duplicates: the last wins.
	a2 := gw("a", 0)
	a2.URI = "sip:a2.example.com;transport=tcp"
	p.SetTargets([]Target{a2, gw("c", 5*time.Second), gw("d", 0), gw("d", 3*time.Second)})
	if _, ok := p.Result(KindGateway, "b"); ok {
		t.Error("b is still there after removal")
	}
	if _, ok := p.Result(KindContact, "a"); ok {
		t.Error("the contact a is still there after removal")
	}
	if len(p.entries) != 3 || len(p.infra) != 3 || len(p.queue) != 3 {
		t.Errorf("entries %d infra %d queue %d, want 3 3 3", len(p.entries), len(p.infra), len(p.queue))
	}
	ra, _ := p.Result(KindGateway, "a")
	if ra.Status != StatusReachable || ra.Code != 200 || ra.URI != a2.URI || a.spec.transport != "TCP" || !a.due.Equal(aDue) {
		t.Errorf("a after SetTargets: %+v transport %s due moved %v; want its state and schedule kept, its URI new",
			ra, a.spec.transport, a.due.Sub(aDue))
	}
	c := p.entries[key{KindGateway, "c"}]
	if c.interval != 5*time.Second || c.phase >= 5*time.Second {
		t.Errorf("c: interval %v phase %v, want re-phased on 5s", c.interval, c.phase)
	}
	if d := p.entries[key{KindGateway, "d"}]; d.interval != 3*time.Second {
		t.Errorf("d: interval %v, want the last duplicate's 3s", d.interval)
	}
	for i, e := range p.queue {
		if e.index != i {
			t.Errorf("queue[%d] has index %d", i, e.index)
		}
	}

	p.SetTargets(nil)
	if len(p.entries) != 0 || len(p.infra) != 0 || len(p.queue) != 0 || !a.removed {
		t.Errorf("after SetTargets(nil): entries %d infra %d queue %d", len(p.entries), len(p.infra), len(p.queue))
	}
	// A probe finishing after its target was removed changes nothing.
	p.record(a, answered(200, "OK", time.Millisecond), nil)
	if len(p.queue) != 0 {
		t.Error("a removed target was rescheduled")
	}
}

// heapRemove takes e out of the queue as the scheduler does when it starts
// e's probe.
func heapRemove(p *Prober, e *entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	heap.Remove(&p.queue, e.index)
}
