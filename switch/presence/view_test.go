package presence

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func reg(domain, user, contact string) Registration {
	return Registration{Domain: domain, User: user, Contact: contact, Transport: "udp", Status: ContactReachable}
}

// keys renders registrations as "domain/user/contact@switch" for compact
// comparisons.
func keys(regs []Registration) []string {
	out := make([]string, len(regs))
	for i, r := range regs {
		out[i] = fmt.Sprintf("%s/%s/%s@%s", r.Domain, r.User, r.Contact, r.Switch)
	}
	return out
}

func allRegs(t *testing.T, v *View, q RegistrationQuery) []Registration {
	t.Helper()
	var out []Registration
	for range 100000 {
		page, next := v.Registrations(q)
		out = append(out, page...)
		if next == "" {
			return out
		}
		q.After = next
	}
	t.Fatal("paging did not end")
	return nil
}

func TestMergeOfTwoSwitches(t *testing.T) {
	v := New()
	a, b := v.Feed("sw-a"), v.Feed("sw-b")
	a.PutRegistration(reg("example.com", "1001", "sip:1001@10.0.0.1"))
	a.PutRegistration(reg("example.com", "1003", "sip:1003@10.0.0.3"))
	a.PutRegistration(reg("other.net", "2001", "sip:2001@10.0.1.1"))
	b.PutRegistration(reg("example.com", "1001", "sip:1001@10.0.0.1")) // same phone on both switches
	b.PutRegistration(reg("example.com", "1002", "sip:1002@10.0.0.2"))
	r := reg("example.com", "1002", "sip:1002@10.0.0.9")
	r.Switch = "sw-a" // a feed overrides whatever switch the adapter wrote
	b.PutRegistration(r)

	tests := []struct {
		name string
		q    RegistrationQuery
		want []string
	}{
		{"all", RegistrationQuery{}, []string{
			"example.com/1001/sip:1001@10.0.0.1@sw-a",
			"example.com/1001/sip:1001@10.0.0.1@sw-b",
			"example.com/1002/sip:1002@10.0.0.2@sw-b",
			"example.com/1002/sip:1002@10.0.0.9@sw-b",
			"example.com/1003/sip:1003@10.0.0.3@sw-a",
			"other.net/2001/sip:2001@10.0.1.1@sw-a",
		}},
		{"one domain", RegistrationQuery{Domain: "other.net"}, []string{"other.net/2001/sip:2001@10.0.1.1@sw-a"}},
		{"one switch", RegistrationQuery{Switch: "sw-b"}, []string{
			"example.com/1001/sip:1001@10.0.0.1@sw-b",
			"example.com/1002/sip:1002@10.0.0.2@sw-b",
			"example.com/1002/sip:1002@10.0.0.9@sw-b",
		}},
		{"user", RegistrationQuery{Domain: "example.com", User: "1001"}, []string{
			"example.com/1001/sip:1001@10.0.0.1@sw-a",
			"example.com/1001/sip:1001@10.0.0.1@sw-b",
		}},
		{"user in any domain", RegistrationQuery{User: "2001"}, []string{"other.net/2001/sip:2001@10.0.1.1@sw-a"}},
		{"unknown switch", RegistrationQuery{Switch: "nope"}, nil},
		{"unknown domain", RegistrationQuery{Domain: "nope"}, nil},
		{"paged by 1", RegistrationQuery{Domain: "example.com", Limit: 1}, []string{
			"example.com/1001/sip:1001@10.0.0.1@sw-a",
			"example.com/1001/sip:1001@10.0.0.1@sw-b",
			"example.com/1002/sip:1002@10.0.0.2@sw-b",
			"example.com/1002/sip:1002@10.0.0.9@sw-b",
			"example.com/1003/sip:1003@10.0.0.3@sw-a",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keys(allRegs(t, v, tt.q))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}

	counts := map[string]int{"": 6, "example.com": 5, "other.net": 1, "nope": 0}
	for d, want := range counts {
		if got := v.CountRegistrations(d); got != want {
			t.Errorf("CountRegistrations(%q) = %d, want %d", d, got, want)
		}
	}
	online := []struct {
		domain, user string
		want         bool
	}{
		{"example.com", "1001", true},
		{"example.com", "1002", true},
		{"example.com", "100", false},
		{"example.com", "2001", false},
		{"other.net", "2001", true},
	}
	for _, o := range online {
		if got := v.Online(o.domain, o.user); got != o.want {
			t.Errorf("Online(%q, %q) = %v, want %v", o.domain, o.user, got, o.want)
		}
	}

	// Deletes: one contact, then every contact of a user.
	b.DeleteRegistration("example.com", "1002", "sip:1002@10.0.0.9")
	if got := v.CountRegistrations("example.com"); got != 4 {
		t.Errorf("after deleting one contact: %d registrations, want 4", got)
	}
	b.DeleteRegistration("example.com", "1002", "")
	if v.Online("example.com", "1002") {
		t.Error("1002 still online after deleting all its contacts")
	}
	a.DeleteRegistration("other.net", "2001", "")
	if got := v.domains.names; !slices.Equal(got, []string{"example.com"}) {
		t.Errorf("domains after emptying other.net = %q", got)
	}
	// Deleting on one switch does not touch the other's copy.
	a.DeleteRegistration("example.com", "1001", "")
	if got := keys(allRegs(t, v, RegistrationQuery{User: "1001"})); !slices.Equal(got, []string{"example.com/1001/sip:1001@10.0.0.1@sw-b"}) {
		t.Errorf("after deleting 1001 on sw-a: %q", got)
	}
}

func TestPutRegistrationUpdatesInPlace(t *testing.T) {
	v := New()
	f := v.Feed("sw")
	r := reg("d", "u", "c")
	r.UserAgent = "old"
	f.PutRegistration(r)
	r.UserAgent = "new"
	f.PutRegistration(r)
	got, _ := v.Registrations(RegistrationQuery{})
	if len(got) != 1 || got[0].UserAgent != "new" || got[0].Switch != "sw" || got[0].UpdatedAt.IsZero() {
		t.Fatalf("got %+v, want one updated registration with Switch and UpdatedAt set", got)
	}
	got[0].User = "changed by caller" // returned slices are copies
	if again, _ := v.Registrations(RegistrationQuery{}); again[0].User != "u" {
		t.Error("a caller changed the view through a returned slice")
	}
}

func TestReplace(t *testing.T) {
	clk := newFakeClock()
	v := New(WithClock(clk.Now))
	a, b := v.Feed("a"), v.Feed("b")
	a.PutRegistration(reg("d1", "old", "c"))
	a.PutGateway(Gateway{Name: "gw-old", State: GatewayUp})
	a.PutCall(Call{ID: "call-old"})
	b.PutRegistration(reg("d1", "keep", "c"))
	b.PutGateway(Gateway{Name: "gw-b"})
	b.PutCall(Call{ID: "call-b"})

	clk.Advance(time.Minute)
	dupOld, dupNew := reg("d2", "dup", "c"), reg("d2", "dup", "c")
	dupOld.UserAgent, dupNew.UserAgent = "first", "second"
	past := reg("d2", "gone", "c")
	past.Expires = clk.Now().Add(-time.Second)
	a.Replace(Snapshot{
		Registrations: []Registration{reg("d2", "new", "c"), dupOld, dupNew, past},
		Gateways:      []Gateway{{Name: "gw-new", State: GatewayDown}},
		Calls:         []Call{{ID: "call-new"}},
	})

	got := keys(allRegs(t, v, RegistrationQuery{}))
	want := []string{"d1/keep/c@b", "d2/dup/c@a", "d2/new/c@a"}
	if !slices.Equal(got, want) {
		t.Errorf("registrations after Replace = %q, want %q", got, want)
	}
	if r, _ := v.Registrations(RegistrationQuery{User: "dup"}); len(r) != 1 || r[0].UserAgent != "second" {
		t.Errorf("duplicate in snapshot: got %+v, want the later one", r)
	}
	if got := v.domains.names; !slices.Equal(got, []string{"d1", "d2"}) {
		t.Errorf("domains = %q", got)
	}
	var gws []string
	for _, g := range v.Gateways(GatewayQuery{}) {
		gws = append(gws, g.Name+"@"+g.Switch)
	}
	if want := []string{"gw-b@b", "gw-new@a"}; !slices.Equal(gws, want) {
		t.Errorf("gateways = %q, want %q", gws, want)
	}
	var calls []string
	for _, c := range v.Calls(CallQuery{}) {
		calls = append(calls, c.ID+"@"+c.Switch)
	}
	slices.Sort(calls)
	if want := []string{"call-b@b", "call-new@a"}; !slices.Equal(calls, want) {
		t.Errorf("calls = %q, want %q", calls, want)
	}
	for _, s := range v.Switches() {
		want := time.Time{}
		if s.Name == "a" {
			want = clk.Now()
		}
		if !s.LastSync.Equal(want) {
			t.Errorf("switch %s LastSync = %v, want %v", s.Name, s.LastSync, want)
		}
	}

	// An empty snapshot empties the switch and its domains.
	a.Replace(Snapshot{})
	if got := v.domains.names; !slices.Equal(got, []string{"d1"}) {
		t.Errorf("domains after empty Replace = %q", got)
	}
}

// TestReplaceAtomic swaps between two full states while readers check that
// each page they read is entirely one or the other, and that the other
// switch never flickers.
func TestReplaceAtomic(t *testing.T) {
	v := New()
	a, other := v.Feed("a"), v.Feed("other")
	for i := range 10 {
		other.PutRegistration(reg("d", fmt.Sprintf("o%02d", i), "c"))
	}
	snap := func(tag string) Snapshot {
		var s Snapshot
		for i := range 500 {
			s.Registrations = append(s.Registrations, reg("d", fmt.Sprintf("u%04d", i), tag))
			// Half the domains differ between the states, exercising the domain set.
			s.Registrations = append(s.Registrations, reg(fmt.Sprintf("%s-%03d", tag, i), "x", tag))
		}
		return s
	}
	states := []Snapshot{snap("A"), snap("B")}
	a.Replace(states[0])

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range 40 {
			a.Replace(states[i%2])
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				page, _ := v.Registrations(RegistrationQuery{Switch: "a", Limit: MaxLimit})
				if len(page) != 1000 {
					t.Errorf("page of %d, want 1000", len(page))
					return
				}
				for _, r := range page {
					if r.Contact != page[0].Contact {
						t.Errorf("page mixes states %q and %q", page[0].Contact, r.Contact)
						return
					}
				}
				if n := v.CountRegistrations("d"); n != 510 {
					t.Errorf("CountRegistrations(d) = %d, want 510", n)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(v.domains.names); n != 501 {
		t.Errorf("%d domains after the swaps, want 501", n)
	}
}

func TestExpiry(t *testing.T) {
	clk := newFakeClock()
	v := New(WithClock(clk.Now))
	f := v.Feed("sw")
	exp := func(user string, in time.Duration) Registration {
		r := reg("d", user, "c")
		if in != 0 {
			r.Expires = clk.Now().Add(in)
		}
		return r
	}
	f.PutRegistration(exp("forever", 0))
	f.PutRegistration(exp("short", 10*time.Second))
	f.PutRegistration(exp("long", time.Hour))
	f.PutRegistration(exp("refreshed", 10*time.Second))
	f.PutRegistration(exp("already", -time.Second)) // never stored

	live := func() []string {
		var out []string
		for _, r := range allRegs(t, v, RegistrationQuery{}) {
			out = append(out, r.User)
		}
		return out
	}
	steps := []struct {
		name    string
		advance time.Duration
		before  func()
		sweep   bool
		want    []string
	}{
		{name: "start", want: []string{"forever", "long", "refreshed", "short"}},
		{name: "refresh", advance: 5 * time.Second, before: func() { f.PutRegistration(exp("refreshed", time.Minute)) },
			want: []string{"forever", "long", "refreshed", "short"}},
		{name: "short expired before janitor", advance: 5 * time.Second, want: []string{"forever", "long", "refreshed"}},
		{name: "janitor", sweep: true, want: []string{"forever", "long", "refreshed"}},
		{name: "refreshed expires", advance: time.Minute, sweep: true, want: []string{"forever", "long"}},
		{name: "long expires", advance: time.Hour, want: []string{"forever"}},
		{name: "janitor again", sweep: true, want: []string{"forever"}},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		clk.Advance(s.advance)
		if s.sweep {
			v.sweep()
		}
		if got := live(); !slices.Equal(got, s.want) {
			t.Errorf("%s: live = %q, want %q", s.name, got, s.want)
		}
		if got := v.CountRegistrations("d"); got != len(s.want) {
			t.Errorf("%s: CountRegistrations = %d, want %d", s.name, got, len(s.want))
		}
		if got := v.CountRegistrations(""); got != len(s.want) {
			t.Errorf("%s: CountRegistrations(all) = %d, want %d", s.name, got, len(s.want))
		}
		for _, u := range []string{"short", "long", "refreshed"} {
			if want := slices.Contains(s.want, u); v.Online("d", u) != want {
				t.Errorf("%s: Online(%s) = %v, want %v", s.name, u, !want, want)
			}
		}
	}
	if n := v.switches["sw"].regs.n; n != 1 {
		t.Errorf("janitor left %d entries stored, want 1", n)
	}
	if n := len(v.switches["sw"].regs.expiry); n != 0 {
		t.Errorf("expiry heap holds %d items, want 0", n)
	}
}

func TestDomainsRestriction(t *testing.T) {
	v := New()
	f := v.Feed("sw")
	for _, d := range []string{"a.com", "b.com", "c.com", "d.com"} {
		for u := range 3 {
			f.PutRegistration(reg(d, fmt.Sprint(u), "c"))
		}
	}
	domainsOf := func(regs []Registration) []string {
		var out []string
		for _, r := range regs {
			if len(out) == 0 || out[len(out)-1] != r.Domain {
				out = append(out, r.Domain)
			}
		}
		return out
	}
	tests := []struct {
		name  string
		q     RegistrationQuery
		want  []string
		count int
	}{
		{"nil = everything", RegistrationQuery{}, []string{"a.com", "b.com", "c.com", "d.com"}, 12},
		{"empty = nothing", RegistrationQuery{Domains: []string{}}, nil, 0},
		{"two, unsorted, duplicated", RegistrationQuery{Domains: []string{"d.com", "b.com", "d.com"}}, []string{"b.com", "d.com"}, 6},
		{"unknown domain in scope", RegistrationQuery{Domains: []string{"x.com", "c.com"}}, []string{"c.com"}, 3},
		{"domain inside scope", RegistrationQuery{Domain: "b.com", Domains: []string{"a.com", "b.com"}}, []string{"b.com"}, 3},
		{"domain outside scope", RegistrationQuery{Domain: "c.com", Domains: []string{"a.com", "b.com"}}, nil, 0},
		{"paged", RegistrationQuery{Domains: []string{"a.com", "c.com"}, Limit: 2}, []string{"a.com", "c.com"}, 6},
		{"user within scope", RegistrationQuery{Domains: []string{"a.com", "c.com"}, User: "1"}, []string{"a.com", "c.com"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := allRegs(t, v, tt.q)
			if !slices.Equal(domainsOf(got), tt.want) || len(got) != tt.count {
				t.Errorf("got %d registrations in %q, want %d in %q", len(got), domainsOf(got), tt.count, tt.want)
			}
		})
	}
}

func TestGateways(t *testing.T) {
	v := New()
	a, b := v.Feed("a"), v.Feed("b")
	a.PutGateway(Gateway{Name: "carrier2", State: GatewayUp})
	a.PutGateway(Gateway{Name: "carrier1", State: GatewayDown})
	b.PutGateway(Gateway{Name: "carrier1", State: GatewayUp, Registration: RegRegistered})
	b.PutGateway(Gateway{Name: "gone"})
	b.DeleteGateway("gone")
	a.PutGateway(Gateway{Name: "carrier2", State: GatewayDown, Detail: "Unreachable"}) // update

	render := func(gs []Gateway) []string {
		var out []string
		for _, g := range gs {
			out = append(out, fmt.Sprintf("%s@%s:%s", g.Name, g.Switch, g.State))
		}
		return out
	}
	tests := []struct {
		name string
		q    GatewayQuery
		want []string
	}{
		{"all", GatewayQuery{}, []string{"carrier1@a:down", "carrier1@b:up", "carrier2@a:down"}},
		{"by name", GatewayQuery{Names: []string{"carrier2"}}, []string{"carrier2@a:down"}},
		{"by names and switch", GatewayQuery{Names: []string{"carrier1", "carrier2"}, Switch: "b"}, []string{"carrier1@b:up"}},
		{"empty names", GatewayQuery{Names: []string{}}, nil},
		{"unknown name", GatewayQuery{Names: []string{"x"}}, nil},
		{"unknown switch", GatewayQuery{Switch: "x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(v.Gateways(tt.q)); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestGatewayRTTKept: a report that says a gateway is up without its
// round trip (FreeSWITCH's gateway_state event, an Asterisk resync) keeps
// the last measured one, in the API's read (Gateways) and the metric
// alike; a gateway that goes down loses it.
func TestGatewayRTTKept(t *testing.T) {
	v := New()
	f := v.Feed("fs1")
	rtt := func() (time.Duration, float64) {
		t.Helper()
		gs := v.Gateways(GatewayQuery{Names: []string{"gw1"}})
		if len(gs) != 1 {
			t.Fatalf("gateways %+v", gs)
		}
		return gs[0].RTT, gatheredRTT(t, v)
	}
	steps := []struct {
		name    string
		do      func()
		wantRTT time.Duration
	}{
		{"xmlstatus with pingtime", func() {
			f.Replace(Snapshot{Gateways: []Gateway{{Name: "gw1", State: GatewayUp, RTT: 580 * time.Microsecond, Detail: "REGED"}}})
		}, 580 * time.Microsecond},
		{"gateway_state event without", func() { f.PutGateway(Gateway{Name: "gw1", State: GatewayUp, Detail: "REGED"}) }, 580 * time.Microsecond},
		{"resync without", func() { f.Replace(Snapshot{Gateways: []Gateway{{Name: "gw1", State: GatewayUp}}}) }, 580 * time.Microsecond},
		{"a new ping time", func() { f.PutGateway(Gateway{Name: "gw1", State: GatewayUp, RTT: time.Millisecond}) }, time.Millisecond},
		{"down", func() { f.PutGateway(Gateway{Name: "gw1", State: GatewayDown}) }, 0},
		{"up again, no ping yet", func() { f.PutGateway(Gateway{Name: "gw1", State: GatewayUp}) }, 0},
	}
	for _, st := range steps {
		st.do()
		got, metric := rtt()
		if got != st.wantRTT || metric != st.wantRTT.Seconds() {
			t.Errorf("after %s: RTT %v, metric %v, want %v", st.name, got, metric, st.wantRTT)
		}
	}
}

// gatheredRTT is switchboard_gateway_rtt_seconds of gw1 on fs1, 0 when
// the series is absent.
func gatheredRTT(t *testing.T, v *View) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(v.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "switchboard_gateway_rtt_seconds" {
			for _, m := range mf.GetMetric() {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func TestCalls(t *testing.T) {
	v := New()
	a, b := v.Feed("a"), v.Feed("b")
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	ans := t0.Add(3 * time.Second)
	a.PutCall(Call{ID: "1", Domain: "x.com", Start: t0})
	a.PutCall(Call{ID: "2", Domain: "y.com", Start: t0.Add(time.Second)})
	b.PutCall(Call{ID: "3", Domain: "x.com", Start: t0.Add(2 * time.Second)})
	b.PutCall(Call{ID: "4", Domain: "", Start: t0.Add(2 * time.Second), Gateway: "carrier"}) // not yet routed
	a.PutCall(Call{ID: "1", Domain: "x.com", Start: t0, State: "up", Answer: &ans})
	a.PutCall(Call{ID: "5", Start: t0})
	a.EndCall("5")

	tests := []struct {
		name string
		q    CallQuery
		want []string
	}{
		{"all newest first", CallQuery{}, []string{"3", "4", "2", "1"}},
		{"limit", CallQuery{Limit: 2}, []string{"3", "4"}},
		{"domains", CallQuery{Domains: []string{"x.com"}}, []string{"3", "1"}},
		{"empty domains", CallQuery{Domains: []string{}}, nil},
		{"switch", CallQuery{Switch: "a"}, []string{"2", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range v.Calls(tt.q) {
				got = append(got, c.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	got := v.Calls(CallQuery{Switch: "a", Domains: []string{"x.com"}})
	if len(got) != 1 || got[0].State != "up" || got[0].Answer == nil || !got[0].Answer.Equal(ans) {
		t.Fatalf("updated call = %+v", got)
	}
	*got[0].Answer = t0 // returned calls are deep copies
	ans = t0            // and so are stored ones
	if again := v.Calls(CallQuery{Switch: "a", Domains: []string{"x.com"}}); !again[0].Answer.Equal(t0.Add(3 * time.Second)) {
		t.Error("a caller changed a stored call through its Answer pointer")
	}
}

func TestSwitches(t *testing.T) {
	clk := newFakeClock()
	v := New(WithClock(clk.Now))
	start := clk.Now()
	b := v.Feed("b")
	if v.Feed("b") != b {
		t.Fatal("Feed(b) returned a different feed the second time")
	}
	if b.Name() != "b" {
		t.Errorf("Name() = %q", b.Name())
	}
	v.Feed("a")
	clk.Advance(time.Second)
	b.SetConnected(true, nil)
	clk.Advance(time.Second)
	b.SetConnected(true, nil) // no change: Since stays
	clk.Advance(time.Second)
	v.Feed("a").SetConnected(false, errors.New("dial tcp: connection refused"))

	want := []SwitchState{
		{Name: "a", Since: start, LastError: "dial tcp: connection refused"},
		{Name: "b", Connected: true, Since: start.Add(time.Second)},
	}
	if got := v.Switches(); !slices.Equal(got, want) {
		t.Errorf("Switches() =\n%+v\nwant\n%+v", got, want)
	}
	clk.Advance(time.Second)
	b.SetConnected(false, errors.New("EOF"))
	if got := v.Switches()[1]; got.Connected || !got.Since.Equal(start.Add(4*time.Second)) || got.LastError != "EOF" {
		t.Errorf("after disconnect: %+v", got)
	}
}
