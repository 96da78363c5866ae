package switchtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

// ReconnectDelay is how long the Fake's DropConnection leaves the
// connection down before the switch comes back.
const ReconnectDelay = 20 * time.Millisecond

// Harness returns the Fake as a conformance harness: itself as both
// sources, driven by its own Driver.
func (f *Fake) Harness() Harness {
	return Harness{Presence: f, CDRs: f, Driver: f.Driver()}
}

// Driver returns the conformance Driver of the Fake.
func (f *Fake) Driver() Driver { return fakeDriver{f} }

type fakeDriver struct{ f *Fake }

// RegisterPhone registers a phone at a documentation address (RFC 5737:
// nothing is ever sent there) unique to this Fake's phones.
func (d fakeDriver) RegisterPhone(t testing.TB, domain, user string) presence.Registration {
	d.f.mu.Lock()
	d.f.seq++
	n, now := d.f.seq, d.f.now()
	d.f.mu.Unlock()
	addr := fmt.Sprintf("192.0.2.%d:%d", 1+n%254, 5060+n/254)
	r := presence.Registration{
		Switch:    d.f.name,
		Domain:    domain,
		User:      user,
		Contact:   fmt.Sprintf("sip:%s@%s;transport=udp", user, addr),
		Address:   addr,
		Transport: "udp",
		UserAgent: "switchtest phone",
		Expires:   now.Add(time.Hour),
		Status:    presence.ContactReachable,
		UpdatedAt: now,
	}
	d.f.Register(r)
	return r
}

func (d fakeDriver) UnregisterPhone(t testing.TB, domain, user string) {
	d.f.Unregister(domain, user, "")
}

// CompleteCall plays a call that was answered talk ago and hangs up now,
// so that it takes no real time.
func (d fakeDriver) CompleteCall(t testing.TB, from, to string, talk time.Duration) string {
	user, domain, ok := strings.Cut(from, "@")
	if !ok {
		t.Fatalf("switchtest: CompleteCall from %q: want user@domain", from)
	}
	d.f.mu.Lock()
	id := d.f.nextIDLocked()
	answer := d.f.now().Add(-talk)
	d.f.mu.Unlock()
	callee, _, _ := strings.Cut(to, "@")
	d.f.StartCall(presence.Call{
		ID: id, Direction: "internal", Domain: domain, Account: user,
		CallerNumber: user, Callee: callee, Start: answer.Add(-2 * time.Second), Answer: &answer,
	})
	d.f.EndCall(id, 16)
	return id
}

// DropConnection disconnects the Fake and reconnects it ReconnectDelay
// later.
func (d fakeDriver) DropConnection(t testing.TB) {
	d.f.Disconnect()
	timer := time.AfterFunc(ReconnectDelay, d.f.Reconnect)
	t.Cleanup(func() { timer.Stop() })
}
