// Package switchtest gives tests of everything above the switch adapters a
// switch to talk to, and gives the adapters one contract to meet.
//
// Fake is an in-memory switch plus adapter: it is a presence.Source, a
// presence.CallController, a provisioning.ConfigSink and a cdr.Source, and
// tests drive it (phones register, calls are made, the connection drops)
// through plain methods. RunConformance is the suite every real adapter
// runs, with a Driver that makes its switch (or recorded traffic) do the
// same steps; the Fake passes it too.
package switchtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// The contracts the Fake implements.
var (
	_ presence.Source         = (*Fake)(nil)
	_ presence.CallController = (*Fake)(nil)
	_ provisioning.ConfigSink = (*Fake)(nil)
	_ cdr.Source              = (*Fake)(nil)
)

// ErrDisconnected is what the Fake reports while its connection is down:
// the LastError of its feed, and the error of call control.
var ErrDisconnected = errors.New("switchtest: switch disconnected")

type regKey struct{ domain, user, contact string }

// Fake is an in-memory switch. Its state changes only through its test
// drivers (Register, StartCall, Disconnect, …) and the calls an adapter
// would receive (Apply, Originate, Hangup); every change reaches the
// watching presence feeds within microseconds, through an in-memory queue
// per watcher, so tests wait for it with WaitFor and never sleep.
//
// A Fake starts connected. It is safe for concurrent use.
type Fake struct {
	name string

	mu        sync.Mutex
	now       func() time.Time
	seq       int
	regs      map[regKey]presence.Registration
	gateways  map[string]presence.Gateway
	calls     map[string]presence.Call
	connected bool
	// up is closed while connected; Disconnect replaces it with an open
	// one that Reconnect closes.
	up   chan struct{}
	subs map[*subscriber]struct{}
	// changed is closed and replaced whenever the CDR stream may have
	// something new to do (a new record, a reconnect).
	changed chan struct{}
	cdrs    []cdr.Record
	acked   int // cdrs[:acked] were accepted by a sink

	applyErr   error
	changes    []provisioning.Change
	accounts   map[string]provisioning.Account
	gws        map[string]provisioning.Gateway
	dids       map[string]provisioning.DID
	originated []presence.OriginateRequest
}

// NewFake returns a connected, empty switch with the given name; its CDRs
// carry that name as their Switch.
func NewFake(name string) *Fake {
	up := make(chan struct{})
	close(up)
	return &Fake{
		name:      name,
		now:       time.Now,
		regs:      map[regKey]presence.Registration{},
		gateways:  map[string]presence.Gateway{},
		calls:     map[string]presence.Call{},
		connected: true,
		up:        up,
		subs:      map[*subscriber]struct{}{},
		changed:   make(chan struct{}),
		accounts:  map[string]provisioning.Account{},
		gws:       map[string]provisioning.Gateway{},
		dids:      map[string]provisioning.DID{},
	}
}

// Name returns the switch's name.
func (f *Fake) Name() string { return f.name }

// SetClock sets the clock that stamps registrations, calls and CDRs.
func (f *Fake) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// subscriber is one WatchPresence call's queue of changes to apply to its
// feed. The queue is unbounded so that drivers never block on a slow
// watcher; closed means the connection it belonged to was cut.
type subscriber struct {
	queue  []func(*presence.Feed)
	wake   chan struct{} // capacity 1
	closed bool
}

// emitLocked queues a change for every watcher. f.mu is held, so the order
// of changes is the order of the state they describe.
func (f *Fake) emitLocked(ev func(*presence.Feed)) {
	for s := range f.subs {
		s.queue = append(s.queue, ev)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// broadcastLocked wakes every CDR stream.
func (f *Fake) broadcastLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// snapshotLocked is the whole presence state, for a resync.
func (f *Fake) snapshotLocked() presence.Snapshot {
	var s presence.Snapshot
	for _, r := range f.regs {
		s.Registrations = append(s.Registrations, r)
	}
	for _, g := range f.gateways {
		s.Gateways = append(s.Gateways, g)
	}
	for _, c := range f.calls {
		s.Calls = append(s.Calls, cloneCall(c))
	}
	return s
}

// WatchPresence replaces feed with the switch's state, marks it connected
// and streams every change into it until ctx ends, when it marks the feed
// disconnected and returns nil. While the connection is down (Disconnect)
// the feed is marked disconnected with ErrDisconnected and nothing is
// streamed; on Reconnect the feed is resynced with a full Replace, so
// changes made meanwhile arrive only through that, as with a real switch.
func (f *Fake) WatchPresence(ctx context.Context, feed *presence.Feed) error {
	defer feed.SetConnected(false, nil)
	for {
		f.mu.Lock()
		if !f.connected {
			up := f.up
			f.mu.Unlock()
			feed.SetConnected(false, ErrDisconnected)
			select {
			case <-ctx.Done():
				return nil
			case <-up:
				continue
			}
		}
		snap := f.snapshotLocked()
		sub := &subscriber{wake: make(chan struct{}, 1)}
		f.subs[sub] = struct{}{}
		f.mu.Unlock()

		// Changes made from here on are queued for sub and applied after
		// the snapshot, in order.
		feed.Replace(snap)
		feed.SetConnected(true, nil)
		if !f.pump(ctx, sub, feed) {
			return nil
		}
	}
}

// pump applies sub's changes to feed until the connection is cut (true) or
// ctx ends (false).
func (f *Fake) pump(ctx context.Context, sub *subscriber, feed *presence.Feed) bool {
	for {
		f.mu.Lock()
		evs, closed := sub.queue, sub.closed
		sub.queue = nil
		f.mu.Unlock()
		if closed {
			return true // what was queued before the cut is lost with the connection
		}
		for _, ev := range evs {
			ev(feed)
		}
		select {
		case <-ctx.Done():
			f.mu.Lock()
			delete(f.subs, sub)
			f.mu.Unlock()
			return false
		case <-sub.wake:
		}
	}
}

// Disconnect simulates the loss of the connection between Switchboard and
// the switch: watchers mark their feeds disconnected and stop receiving
// changes, CDR streams pause, call control fails with ErrDisconnected. The
// switch itself goes on: phones still register and calls still end, and
// all of it shows after Reconnect.
func (f *Fake) Disconnect() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.connected {
		return
	}
	f.connected = false
	f.up = make(chan struct{})
	for s := range f.subs {
		s.closed = true
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	clear(f.subs)
	f.broadcastLocked()
}

// Reconnect ends a Disconnect: watchers resync their feeds with a full
// Replace and CDR streams resume. The last CDR a sink accepted before the
// cut is delivered again, as from a switch that never got the
// acknowledgement: cdr.Source allows it and consumers must keep one.
func (f *Fake) Reconnect() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.connected {
		return
	}
	f.connected = true
	close(f.up)
	if f.acked > 0 {
		f.acked--
	}
	f.broadcastLocked()
}

// Connected reports whether the fake connection is up.
func (f *Fake) Connected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected
}

// Register records a registration as the switch would on a REGISTER:
// (Domain, User, Contact) identifies it; Switch is set to the Fake's name
// and UpdatedAt to now when zero.
func (f *Fake) Register(r presence.Registration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Switch = f.name
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = f.now()
	}
	f.regs[regKey{r.Domain, r.User, r.Contact}] = r
	f.emitLocked(func(feed *presence.Feed) { feed.PutRegistration(r) })
}

// Unregister removes one contact of user@domain, or all of them when
// contact is "".
func (f *Fake) Unregister(domain, user, contact string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unregisterLocked(domain, user, contact)
}

func (f *Fake) unregisterLocked(domain, user, contact string) {
	for k := range f.regs {
		if k.domain == domain && k.user == user && (contact == "" || k.contact == contact) {
			delete(f.regs, k)
		}
	}
	f.emitLocked(func(feed *presence.Feed) { feed.DeleteRegistration(domain, user, contact) })
}

// Registrations returns the switch's own registrations, sorted by
// (Domain, User, Contact).
func (f *Fake) Registrations() []presence.Registration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Collect(maps.Values(f.regs))
	slices.SortFunc(out, func(a, b presence.Registration) int {
		return strings.Compare(a.Domain+"\x00"+a.User+"\x00"+a.Contact, b.Domain+"\x00"+b.User+"\x00"+b.Contact)
	})
	return out
}

// SetGateway sets a gateway's live status; Switch is set to the Fake's
// name and UpdatedAt to now when zero.
func (f *Fake) SetGateway(g presence.Gateway) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g.Switch = f.name
	if g.UpdatedAt.IsZero() {
		g.UpdatedAt = f.now()
	}
	f.gateways[g.Name] = g
	f.emitLocked(func(feed *presence.Feed) { feed.PutGateway(g) })
}

// RemoveGateway removes a gateway's live status.
func (f *Fake) RemoveGateway(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.gateways, name)
	f.emitLocked(func(feed *presence.Feed) { feed.DeleteGateway(name) })
}

// StartCall starts a call leg. c.ID is required (StartCall panics without
// one: it is a bug in the test); Switch is set to the Fake's name, Start
// defaults to now, State to "ringing" (or "up" when c.Answer is set) and
// LinkedID to ID. A leg started with Answer set is already answered.
func (f *Fake) StartCall(c presence.Call) {
	if c.ID == "" {
		panic("switchtest: StartCall needs a call ID")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.startCallLocked(c)
}

func (f *Fake) startCallLocked(c presence.Call) {
	c = cloneCall(c)
	c.Switch = f.name
	if c.Start.IsZero() {
		c.Start = f.now()
	}
	if c.LinkedID == "" {
		c.LinkedID = c.ID
	}
	if c.State == "" {
		c.State = "ringing"
		if c.Answer != nil {
			c.State = "up"
		}
	}
	f.calls[c.ID] = c
	c = cloneCall(c)
	f.emitLocked(func(feed *presence.Feed) { feed.PutCall(c) })
}

// AnswerCall answers a ringing leg now. Unknown or answered legs are left
// alone: a hangup may have won the race.
func (f *Fake) AnswerCall(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.calls[id]
	if !ok || c.Answer != nil {
		return
	}
	now := f.now()
	c.Answer, c.State = &now, "up"
	f.calls[id] = c
	c = cloneCall(c)
	f.emitLocked(func(feed *presence.Feed) { feed.PutCall(c) })
}

// EndCall hangs up a leg now with a Q.850 cause and emits its CDR: one
// record whose Billsec counts whole seconds from answer to end (0 when
// unanswered) and whose Disposition is ANSWERED for an answered leg and
// otherwise follows the cause (17 BUSY; 18, 19, 16 NO ANSWER; 34, 38, 41,
// 42 CONGESTION; anything else FAILED). Unknown legs are ignored.
func (f *Fake) EndCall(id string, cause int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endCallLocked(id, cause)
}

func (f *Fake) endCallLocked(id string, cause int) bool {
	c, ok := f.calls[id]
	if !ok {
		return false
	}
	delete(f.calls, id)
	f.cdrs = append(f.cdrs, f.record(c, f.now(), cause))
	f.broadcastLocked()
	f.emitLocked(func(feed *presence.Feed) { feed.EndCall(id) })
	return true
}

// Calls returns the switch's live calls, sorted by ID.
func (f *Fake) Calls() []presence.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]presence.Call, 0, len(f.calls))
	for _, c := range f.calls {
		out = append(out, cloneCall(c))
	}
	slices.SortFunc(out, func(a, b presence.Call) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// nextIDLocked returns a call id unique to this Fake.
func (f *Fake) nextIDLocked() string {
	f.seq++
	return fmt.Sprintf("%s-%d", f.name, f.seq)
}

// Originate places a call as a switch would: a new ringing leg from req.From
// (an AOR, user@domain) to req.To, returned by id. It fails with
// ErrDisconnected while disconnected.
func (f *Fake) Originate(ctx context.Context, req presence.OriginateRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.connected {
		return "", fmt.Errorf("switchtest: originate: %w", ErrDisconnected)
	}
	f.originated = append(f.originated, req)
	user, domain, _ := strings.Cut(req.From, "@")
	dir := "internal"
	if req.Gateway != "" {
		dir = "outbound"
	}
	id := f.nextIDLocked()
	f.startCallLocked(presence.Call{
		ID: id, Direction: dir, Domain: domain, Account: user, Gateway: req.Gateway,
		CallerNumber: req.CallerNumber, CallerName: req.CallerName, Callee: req.To,
	})
	return id, nil
}

// Originated returns every request Originate accepted, in order.
func (f *Fake) Originated() []presence.OriginateRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.originated)
}

// Hangup ends a live leg with cause 16 (normal clearing), emitting its CDR.
// An unknown id fails with an error wrapping presence.ErrUnknownCall; any
// call control fails with ErrDisconnected while disconnected.
func (f *Fake) Hangup(ctx context.Context, callID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.connected {
		return fmt.Errorf("switchtest: hangup %s: %w", callID, ErrDisconnected)
	}
	if !f.endCallLocked(callID, 16) {
		return fmt.Errorf("switchtest: hangup %s: %w", callID, presence.ErrUnknownCall)
	}
	return nil
}

// cloneCall copies c deeply (its Answer pointer).
func cloneCall(c presence.Call) presence.Call {
	if c.Answer != nil {
		a := *c.Answer
		c.Answer = &a
	}
	return c
}
