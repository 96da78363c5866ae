package presence

import (
	"context"
	"slices"
	"sync"
	"time"
)

// View is the merged in-memory live view of every switch. Adapters write
// into it through one Feed per switch; the APIs query it. It is safe for
// concurrent use.
//
// Layout: every switch keeps its own state (registrations indexed per
// domain, gateways, calls), and queries merge the switches at read time.
// That is what makes a Feed.Replace atomic and harmless to the other
// switches: the new state is built outside the lock and swapped in with a
// few pointer assignments, so a resync of 100,000 registrations neither
// blocks readers for long nor touches another switch's entries, and a
// reader sees either the whole old state or the whole new one. Merging
// costs little because there are few switches.
//
// One sync.RWMutex guards everything: queries take the read lock and run
// concurrently; writes are short (an index insert, a pointer swap) and take
// the write lock.
type View struct {
	now        func() time.Time
	sweepEvery time.Duration // the janitor's period; tests shorten it

	mu          sync.RWMutex
	switches    map[string]*switchData
	names       []string // switch names, sorted
	domains     domainSet
	feeds       map[string]*Feed
	controllers map[string]CallController
}

// switchData is one switch's part of the View.
type switchData struct {
	name     string
	state    SwitchState
	regs     *regTable
	gateways map[string]Gateway
	calls    map[string]Call
	// reconnects counts connections lost (SetConnected from true to
	// false), for switchboard_switch_reconnects_total: a switch that flaps
	// faster than the scrape interval shows up only here.
	reconnects uint64
}

// Option configures a View.
type Option func(*View)

// WithClock sets the clock the View uses for expiry and timestamps. Tests
// pass a fake one.
func WithClock(now func() time.Time) Option { return func(v *View) { v.now = now } }

// New returns an empty View.
func New(opts ...Option) *View {
	v := &View{
		now:         time.Now,
		sweepEvery:  time.Second,
		switches:    map[string]*switchData{},
		domains:     domainSet{refs: map[string]int{}},
		feeds:       map[string]*Feed{},
		controllers: map[string]CallController{},
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Feed returns the writer handle of the named switch, creating the switch
// (disconnected, empty) on first use. The same name always yields the same
// Feed.
func (v *View) Feed(switchName string) *Feed {
	v.mu.Lock()
	defer v.mu.Unlock()
	if f := v.feeds[switchName]; f != nil {
		return f
	}
	sd := &switchData{
		name:     switchName,
		state:    SwitchState{Name: switchName, Since: v.now()},
		regs:     newRegTable(),
		gateways: map[string]Gateway{},
		calls:    map[string]Call{},
	}
	v.switches[switchName] = sd
	i, _ := slices.BinarySearch(v.names, switchName)
	v.names = slices.Insert(v.names, i, switchName)
	f := &Feed{v: v, sw: sd}
	v.feeds[switchName] = f
	return f
}

// Switches returns the health of every switch that has a Feed, sorted by
// name.
func (v *View) Switches() []SwitchState {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]SwitchState, 0, len(v.names))
	for _, n := range v.names {
		out = append(out, v.switches[n].state)
	}
	return out
}

// Run is the janitor: it drops expired registrations every second until ctx
// ends, and then returns nil. Queries never return expired registrations
// even without it; it only reclaims their memory and keeps counts cheap.
func (v *View) Run(ctx context.Context) error {
	t := time.NewTicker(v.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			v.sweep()
		}
	}
}

// sweep drops every registration expired by now.
func (v *View) sweep() {
	now := v.now()
	v.mu.RLock()
	due := false
	for _, sd := range v.switches {
		due = due || sd.regs.mayHaveExpired(now)
	}
	v.mu.RUnlock()
	if !due {
		return // the common case takes no write lock
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, sd := range v.switches {
		for _, d := range sd.regs.expire(now) {
			v.domains.remove(d)
		}
	}
}

// sources returns the switches a query looks at, in name order.
func (v *View) sources(switchName string) []*switchData {
	if switchName != "" {
		if sd := v.switches[switchName]; sd != nil {
			return []*switchData{sd}
		}
		return nil
	}
	out := make([]*switchData, 0, len(v.names))
	for _, n := range v.names {
		out = append(out, v.switches[n])
	}
	return out
}

// normDomains returns a sorted, duplicate-free copy of ds.
func normDomains(ds []string) []string {
	out := slices.Clone(ds)
	if !slices.IsSorted(out) {
		slices.Sort(out)
	}
	return slices.Compact(out)
}
