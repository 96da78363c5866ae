package switchtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// Harness is what an adapter's test provides: the adapter and a way to make
// its (fake) switch act.
type Harness struct {
	Presence presence.Source
	CDRs     cdr.Source // may be nil if not yet implemented: the CDR checks are then left out
	Driver   Driver
}

// Driver makes the switch behind an adapter take the steps of a scenario.
// Each adapter's test writes one: the Fake's drives the Fake; the Asterisk
// and FreeSWITCH ones drive a loopback fake ARI or ESL server that replays
// recorded real traffic, rewritten with the step's names, ids and times.
//
// The steps are the ones any switch can be made to take and any adapter
// can observe, nothing more: a phone registers or unregisters, a call
// between two registered accounts is answered and hung up, the connection
// is cut. Every method returns once the switch has taken the step, not once
// the adapter has noticed: the suite waits for that itself. A method that
// cannot take its step fails t with Fatal.
type Driver interface {
	// RegisterPhone makes a phone register user@domain with a contact of
	// its own, and returns the registration the adapter should report.
	// The suite compares Domain, User and Contact, and Address,
	// Transport, UserAgent and Status where the returned value sets them;
	// Switch is the feed's and is not compared.
	RegisterPhone(t testing.TB, domain, user string) presence.Registration
	// UnregisterPhone removes every contact of user@domain (REGISTER with
	// Expires: 0, or the switch's own expiry).
	UnregisterPhone(t testing.TB, domain, user string)
	// CompleteCall makes from (an AOR of a registered account) call to (an
	// AOR or a number); the call is answered, lasts talk from answer to
	// hangup, and is hung up normally (cause 16). It returns the CallID
	// the adapter reports for the caller's leg. A replaying driver need
	// not take talk in real time: it rewrites the recorded timestamps.
	CompleteCall(t testing.TB, from, to string, talk time.Duration) (callID string)
	// DropConnection cuts the adapter's connection to the switch as a
	// network failure or a switch restart would, and returns at once. The
	// switch accepts connections again shortly after by itself: the
	// adapter must notice the cut and reconnect on its own. Steps taken
	// after DropConnection happen on the switch whether or not the
	// adapter is back yet.
	DropConnection(t testing.TB)
}

// conformanceSwitch is the feed name the suite gives the adapter.
const conformanceSwitch = "conformance"

// conformanceDomain is the SIP domain the suite's phones register in.
const conformanceDomain = "conformance.example"

// RunConformance runs the presence and CDR contract against the adapter
// newHarness returns; it is called once per subtest, so each starts from a
// fresh switch. The adapter's sources run for the whole subtest and must
// return (nil or a context error) promptly once their context ends.
//
// The contract, besides each subtest's own checks: a Source marks its feed
// connected once it has resynced, resyncs with Feed.Replace on every
// (re)connect and reconnects by itself; a CDR Source delivers every
// finished leg, retries a failing sink, and may deliver a leg more than
// once only as an identical record.
//
// An adapter's test reads:
//
//	func TestConformance(t *testing.T) {
//		switchtest.RunConformance(t, func(t *testing.T) switchtest.Harness {
//			srv := newReplayServer(t, "testdata/traffic") // loopback fake ARI/ESL
//			c := asterisk.New(srv.Config())
//			return switchtest.Harness{Presence: c, CDRs: c, Driver: srv}
//		})
//	}
func RunConformance(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("RegistrationAppears", func(t *testing.T) {
		r := startRig(t, newHarness)
		want := []presence.Registration{
			r.h.Driver.RegisterPhone(t, conformanceDomain, "1001"),
			r.h.Driver.RegisterPhone(t, conformanceDomain, "1002"),
			r.h.Driver.RegisterPhone(t, "other."+conformanceDomain, "1001"),
		}
		for _, w := range want {
			r.waitRegistered(t, w)
			if !r.view.Online(w.Domain, w.User) {
				t.Errorf("View.Online(%q, %q) = false after the registration appeared", w.Domain, w.User)
			}
		}
	})

	t.Run("UnregistrationRemoves", func(t *testing.T) {
		r := startRig(t, newHarness)
		gone := r.h.Driver.RegisterPhone(t, conformanceDomain, "1001")
		kept := r.h.Driver.RegisterPhone(t, conformanceDomain, "1002")
		r.waitRegistered(t, gone)
		r.waitRegistered(t, kept)
		r.h.Driver.UnregisterPhone(t, conformanceDomain, "1001")
		WaitFor(t, "1001 to go offline", func() bool { return !r.view.Online(conformanceDomain, "1001") })
		if !r.registered(kept) {
			t.Errorf("unregistering 1001 also removed %s", describe(kept))
		}
	})

	t.Run("CompletedCallYieldsOneCDR", func(t *testing.T) {
		r := startRig(t, newHarness)
		if r.sink == nil {
			t.Log("Harness.CDRs is nil: only the live call is checked")
		}
		r.registerPair(t)
		for _, talk := range []time.Duration{time.Second, 4 * time.Second} {
			id := r.h.Driver.CompleteCall(t, "1001@"+conformanceDomain, "1002@"+conformanceDomain, talk)
			WaitFor(t, "call "+id+" to leave the view", func() bool { return !r.hasCall(id) })
			if r.sink == nil {
				continue
			}
			rec := r.waitCDR(t, id)
			checkAnswered(t, rec, talk)
		}
		r.checkNoDuplicates(t)
	})

	t.Run("ResyncAfterDrop", func(t *testing.T) {
		r := startRig(t, newHarness)
		stale := r.h.Driver.RegisterPhone(t, conformanceDomain, "stale")
		kept := r.h.Driver.RegisterPhone(t, conformanceDomain, "kept")
		r.waitRegistered(t, stale)
		r.waitRegistered(t, kept)
		r.registerPair(t)
		var before string
		if r.sink != nil {
			before = r.h.Driver.CompleteCall(t, "1001@"+conformanceDomain, "1002@"+conformanceDomain, 2*time.Second)
			r.waitCDR(t, before)
		}
		lastSync := r.state(t).LastSync

		r.h.Driver.DropConnection(t)
		r.h.Driver.UnregisterPhone(t, conformanceDomain, "stale")
		fresh := r.h.Driver.RegisterPhone(t, conformanceDomain, "fresh")
		var after string
		if r.sink != nil {
			after = r.h.Driver.CompleteCall(t, "1002@"+conformanceDomain, "1001@"+conformanceDomain, 3*time.Second)
		}

		WaitFor(t, "the adapter to reconnect and resync", func() bool {
			s := r.state(t)
			return s.Connected && s.LastSync.After(lastSync)
		})
		r.waitRegistered(t, fresh)
		WaitFor(t, "the stale registration to go", func() bool { return !r.view.Online(conformanceDomain, "stale") })
		if !r.registered(kept) {
			t.Errorf("%s is missing after the resync", describe(kept))
		}
		if r.sink == nil {
			return
		}
		checkAnswered(t, r.waitCDR(t, after), 3*time.Second)
		checkAnswered(t, r.waitCDR(t, before), 2*time.Second)
		r.checkNoDuplicates(t)
	})

	t.Run("CDRSinkErrorsAreRetried", func(t *testing.T) {
		r := startRig(t, newHarness)
		if r.sink == nil {
			t.Log("Harness.CDRs is nil: nothing to check")
			return
		}
		r.registerPair(t)
		r.sink.FailNext(2, errors.New("conformance: store unavailable"))
		id := r.h.Driver.CompleteCall(t, "1001@"+conformanceDomain, "1002@"+conformanceDomain, time.Second)
		checkAnswered(t, r.waitCDR(t, id), time.Second)
		if n := r.sink.Attempts(); n < 3 {
			t.Errorf("the CDR arrived after %d Put calls; the sink refused the first two", n)
		}
		r.checkNoDuplicates(t)
	})
}

// rig is one running adapter under test.
type rig struct {
	h    Harness
	view *presence.View
	feed *presence.Feed
	sink *CDRSink // nil without a CDR source
}

// startRig starts the harness's sources, stopped and checked when t ends,
// and waits until the adapter reports its feed connected.
func startRig(t *testing.T, newHarness func(t *testing.T) Harness) *rig {
	t.Helper()
	h := newHarness(t)
	if h.Presence == nil || h.Driver == nil {
		t.Fatal("Harness needs Presence and Driver")
	}
	r := &rig{h: h, view: presence.New()}
	r.feed = r.view.Feed(conformanceSwitch)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() {
		if err := h.Presence.WatchPresence(ctx, r.feed); err != nil {
			errs <- fmt.Errorf("WatchPresence: %w", err)
		}
	})
	if h.CDRs != nil {
		r.sink = &CDRSink{}
		wg.Go(func() {
			if err := h.CDRs.StreamCDRs(ctx, r.sink); err != nil {
				errs <- fmt.Errorf("StreamCDRs: %w", err)
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(WaitTimeout):
			t.Errorf("the adapter's sources did not return within %s of their context ending", WaitTimeout)
			return
		}
		close(errs)
		for err := range errs {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%v, want nil or context.Canceled once the context ends", err)
			}
		}
	})
	WaitFor(t, "the adapter to mark its feed connected", func() bool { return r.state(t).Connected })
	return r
}

// state returns the feed's SwitchState.
func (r *rig) state(t testing.TB) presence.SwitchState {
	for _, s := range r.view.Switches() {
		if s.Name == conformanceSwitch {
			return s
		}
	}
	t.Fatalf("switch %q missing from View.Switches", conformanceSwitch)
	return presence.SwitchState{}
}

// registerPair registers the two accounts the calls are between.
func (r *rig) registerPair(t *testing.T) {
	for _, u := range []string{"1001", "1002"} {
		r.waitRegistered(t, r.h.Driver.RegisterPhone(t, conformanceDomain, u))
	}
}

// registered reports whether the view holds a registration matching want.
func (r *rig) registered(want presence.Registration) bool {
	regs, _ := r.view.Registrations(presence.RegistrationQuery{Domain: want.Domain, User: want.User, Limit: presence.MaxLimit})
	for _, got := range regs {
		if got.Contact == want.Contact && matchesSet(got, want) {
			return true
		}
	}
	return false
}

func (r *rig) waitRegistered(t *testing.T, want presence.Registration) {
	t.Helper()
	WaitFor(t, describe(want)+" to appear in the view", func() bool { return r.registered(want) })
}

// matchesSet compares the optional fields want sets.
func matchesSet(got, want presence.Registration) bool {
	return (want.Address == "" || got.Address == want.Address) &&
		(want.Transport == "" || got.Transport == want.Transport) &&
		(want.UserAgent == "" || got.UserAgent == want.UserAgent) &&
		(want.Status == "" || got.Status == want.Status)
}

func describe(r presence.Registration) string {
	return fmt.Sprintf("registration %s@%s contact %q (address %q, transport %q, user agent %q, status %q)",
		r.User, r.Domain, r.Contact, r.Address, r.Transport, r.UserAgent, r.Status)
}

func (r *rig) hasCall(id string) bool {
	for _, c := range r.view.Calls(presence.CallQuery{}) {
		if c.ID == id {
			return true
		}
	}
	return false
}

// waitCDR waits for the leg callID and returns its first delivery.
func (r *rig) waitCDR(t *testing.T, callID string) cdr.Record {
	t.Helper()
	var leg []cdr.Record
	WaitFor(t, "the CDR of call "+callID, func() bool {
		leg = r.sink.Leg(callID)
		return len(leg) > 0
	})
	return leg[0]
}

// checkNoDuplicates checks that every leg delivered more than once was
// delivered identically, so that a store keeping one row per (Switch,
// CallID) keeps the right one.
func (r *rig) checkNoDuplicates(t *testing.T) {
	t.Helper()
	first := map[[2]string]cdr.Record{}
	for _, rec := range r.sink.Records() {
		k := [2]string{rec.Switch, rec.CallID}
		if prev, ok := first[k]; ok && !sameLeg(prev, rec) {
			t.Errorf("leg %s/%s delivered twice with different contents: %s", rec.Switch, rec.CallID, legDiff(prev, rec))
		} else if !ok {
			first[k] = rec
		}
	}
}

// sameLeg compares two deliveries of a leg, ignoring what the store assigns
// (ID) and the switch's raw text, and comparing times as instants.
func sameLeg(a, b cdr.Record) bool { return reflect.DeepEqual(normLeg(a), normLeg(b)) }

func normLeg(r cdr.Record) cdr.Record {
	r.ID, r.Raw = 0, nil
	r.Start, r.End = r.Start.UTC().Round(0), r.End.UTC().Round(0)
	if r.Answer != nil {
		t := r.Answer.UTC().Round(0)
		r.Answer = &t
	}
	return r
}

// legDiff names the fields in which two deliveries of a leg differ.
func legDiff(a, b cdr.Record) string {
	va, vb := reflect.ValueOf(normLeg(a)), reflect.ValueOf(normLeg(b))
	var out []string
	for i := range va.NumField() {
		fa, fb := va.Field(i).Interface(), vb.Field(i).Interface()
		if !reflect.DeepEqual(fa, fb) {
			out = append(out, fmt.Sprintf("%s %v then %v", va.Type().Field(i).Name, fa, fb))
		}
	}
	return strings.Join(out, "; ")
}

// checkAnswered checks the CDR of a call completed by CompleteCall.
func checkAnswered(t *testing.T, rec cdr.Record, talk time.Duration) {
	t.Helper()
	if rec.Switch == "" || rec.CallID == "" {
		t.Errorf("CDR without Switch or CallID: %+v", rec)
	}
	if rec.Disposition != cdr.Answered {
		t.Errorf("CDR %s: disposition %q, want %q", rec.CallID, rec.Disposition, cdr.Answered)
	}
	want := int(talk / time.Second)
	if rec.Billsec < want-1 || rec.Billsec > want+1 {
		t.Errorf("CDR %s: billsec %d, want %d±1 for %s of talk", rec.CallID, rec.Billsec, want, talk)
	}
	if rec.Duration < rec.Billsec {
		t.Errorf("CDR %s: duration %d < billsec %d", rec.CallID, rec.Duration, rec.Billsec)
	}
	switch {
	case rec.Answer == nil:
		t.Errorf("CDR %s: answered but Answer is nil", rec.CallID)
	case rec.Answer.Before(rec.Start) || rec.End.Before(*rec.Answer):
		t.Errorf("CDR %s: times out of order: start %v, answer %v, end %v", rec.CallID, rec.Start, *rec.Answer, rec.End)
	}
}
