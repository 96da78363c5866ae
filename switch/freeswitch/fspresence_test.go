package freeswitch

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

var eslPresenceOpt = PresenceOptions{Switch: "fs1", Domain: "127.0.0.1"}

// eslApplyPresence writes a change into a feed as the adapter does.
func eslApplyPresence(feed *presence.Feed, ch PresenceChange) {
	for _, r := range ch.Put {
		feed.PutRegistration(r)
	}
	for _, k := range ch.Delete {
		feed.DeleteRegistration(k.Domain, k.User, k.Contact)
	}
	for _, g := range ch.Gateways {
		feed.PutGateway(g)
	}
	for _, n := range ch.DeletedGateways {
		feed.DeleteGateway(n)
	}
}

// eslRegs returns the registrations of the view at a time.
func eslRegs(v *presence.View) []presence.Registration {
	regs, _ := v.Registrations(presence.RegistrationQuery{Limit: 100})
	return regs
}

// TestPresenceRecorded feeds the whole recording through
// PresenceFromEvent into a presence view and checks it at the points
// timeline.txt names.
func TestPresenceRecorded(t *testing.T) {
	for _, multi := range []bool{false, true} {
		t.Run(map[bool]string{false: "single registration", true: "multiple registrations"}[multi], func(t *testing.T) {
			opt := eslPresenceOpt
			opt.MultipleRegistrations = multi
			testPresenceRecorded(t, opt)
		})
	}
}

func testPresenceRecorded(t *testing.T, opt PresenceOptions) {
	var clock time.Time
	view := presence.New(presence.WithClock(func() time.Time { return clock }))
	feed := view.Feed("fs1")

	// checkpoints: what the view holds once the events up to a time are
	// applied.
	type gwWant struct {
		state  presence.GatewayState
		reg    presence.RegistrationState
		detail string
	}
	type checkpoint struct {
		at    time.Time
		users []string // user@domain contact
		gw    *gwWant
	}
	ts := func(h, m, s, ms int) time.Time { return time.Date(2026, 11, 25, h, m, s, ms*1e6, time.UTC) }
	checkpoints := []checkpoint{
		{at: ts(12, 39, 53, 500), gw: &gwWant{presence.GatewayDown, presence.RegUnregistered, "DOWN"}}, // killgw
		{at: ts(12, 39, 54, 700), gw: &gwWant{presence.GatewayUnknown, presence.RegUnknown, ""}},       // re-added
		{at: ts(12, 39, 55, 500), gw: &gwWant{presence.GatewayDown, presence.RegRegistered, "REGISTER"}},
		{at: ts(12, 40, 1, 500), gw: &gwWant{presence.GatewayUp, presence.RegRegistered, "REGED"}},
		// 1001 registered; 1002's first REGISTER was refused (403).
		{at: ts(12, 40, 2, 100), users: []string{"1001@127.0.0.1 sip:1001@127.0.0.1:25001"}},
		{at: ts(12, 40, 4, 0), users: []string{"1001@127.0.0.1 sip:1001@127.0.0.1:25001", "1002@127.0.0.1 sip:1002@127.0.0.1:25002"}},
		// The six calls' challenged INVITEs fired pre_register and
		// register_attempt for 1002, 1003, 9196, 9999: no registration.
		{at: ts(12, 40, 45, 0), users: []string{"1001@127.0.0.1 sip:1001@127.0.0.1:25001", "1002@127.0.0.1 sip:1002@127.0.0.1:25002"},
			gw: &gwWant{presence.GatewayUp, presence.RegRegistered, "REGED"}},
		// 1001 unregistered, 1002 re-registered for 20 s…
		{at: ts(12, 40, 48, 0), users: []string{"1002@127.0.0.1 sip:1002@127.0.0.1:25002"}},
		// …and expired.
		{at: ts(12, 41, 10, 0), users: nil},
		{at: ts(12, 41, 27, 0), gw: &gwWant{presence.GatewayDown, presence.RegFailed, "FAIL_WAIT"}},
		{at: ts(12, 41, 51, 0), gw: &gwWant{presence.GatewayDown, presence.RegUnregistered, "UNREGED"}},
		{at: ts(12, 42, 10, 0), users: nil, gw: &gwWant{presence.GatewayDown, presence.RegFailed, "FAIL_WAIT"}},
	}

	check := func(cp checkpoint) {
		t.Helper()
		clock = cp.at
		var users []string
		for _, r := range eslRegs(view) {
			users = append(users, r.User+"@"+r.Domain+" "+r.Contact)
		}
		if cp.users != nil || cp.gw == nil {
			if !slices.Equal(users, cp.users) {
				t.Errorf("%s: registrations %q, want %q", cp.at.Format("15:04:05.000"), users, cp.users)
			}
		}
		if cp.gw != nil {
			gws := view.Gateways(presence.GatewayQuery{})
			if len(gws) != 1 || gws[0].Name != "gw1" {
				t.Fatalf("%s: gateways %+v", cp.at.Format("15:04:05.000"), gws)
			}
			g := gws[0]
			if got := (gwWant{g.State, g.Registration, g.Detail}); got != *cp.gw {
				t.Errorf("%s: gw1 %+v, want %+v", cp.at.Format("15:04:05.000"), got, *cp.gw)
			}
		}
	}

	presenceEvents := 0
	next := 0
	for _, ev := range eslScenario(t) {
		for next < len(checkpoints) && ev.Time().After(checkpoints[next].at) {
			check(checkpoints[next])
			next++
		}
		clock = ev.Time()
		ch, ok := PresenceFromEvent(ev, opt)
		switch sub := ev.Subclass(); sub {
		case "sofia::pre_register", "sofia::register_attempt", "sofia::register_failure":
			if ok {
				t.Errorf("seq %d: %s taken as a presence event: %+v", ev.Seq(), sub, ch)
			}
		case subRegister, subUnregister, subExpire, subGatewayState, subGatewayAdd, subGatewayDelete:
			if !ok {
				t.Errorf("seq %d: %s not taken", ev.Seq(), sub)
			}
		default:
			if ok {
				t.Errorf("seq %d: %s %s taken as a presence event", ev.Seq(), ev.Name(), sub)
			}
		}
		if ok {
			presenceEvents++
			if len(ch.Put) > 0 && len(ch.Delete) > 0 {
				t.Errorf("seq %d: both puts and deletes: %+v", ev.Seq(), ch)
			}
			eslApplyPresence(feed, ch)
		}
	}
	for ; next < len(checkpoints); next++ {
		check(checkpoints[next])
	}
	// 3 register, 1 unregister, 1 expire, 22 gateway_state, add, delete.
	if presenceEvents != 29 {
		t.Errorf("%d presence events, want 29", presenceEvents)
	}
}

// TestPresenceFromEventRegister checks the fields of the recorded
// registrations and their mapping.
func TestPresenceFromEventRegister(t *testing.T) {
	bySeq := map[uint64]Event{}
	for _, ev := range eslScenario(t) {
		bySeq[ev.Seq()] = ev
	}
	at := time.UnixMicro(1795610401848014).UTC()
	want1001 := presence.Registration{
		Switch: "fs1", User: "1001", Domain: "127.0.0.1", Contact: "sip:1001@127.0.0.1:25001",
		Address: "127.0.0.1:25001", Transport: "udp", UserAgent: "sipp-phone-1001",
		Expires: at.Add(3600 * time.Second), Status: presence.ContactReachable, UpdatedAt: at,
	}
	tests := []struct {
		name  string
		seq   uint64
		multi bool
		want  PresenceChange
	}{{
		name: "register, single registration", seq: 448,
		want: PresenceChange{Put: []presence.Registration{want1001}},
	}, {
		name: "register, multiple registrations", seq: 448, multi: true,
		want: PresenceChange{Put: []presence.Registration{want1001}},
	}, {
		name: "unregister, single registration: every contact", seq: 746,
		want: PresenceChange{Delete: []RegKey{{"127.0.0.1", "1001", ""}}},
	}, {
		name: "unregister, multiple registrations: the contact", seq: 746, multi: true,
		want: PresenceChange{Delete: []RegKey{{"127.0.0.1", "1001", "sip:1001@127.0.0.1:25001"}}},
	}, {
		name: "expire: user and host, the contact", seq: 758,
		want: PresenceChange{Delete: []RegKey{{"127.0.0.1", "1002", "sip:1002@127.0.0.1:25002"}}},
	}, {
		name: "gateway FAILED", seq: 764,
		want: PresenceChange{Gateways: []presence.Gateway{{Switch: "fs1", Name: "gw1", State: presence.GatewayDown,
			Registration: presence.RegFailed, Detail: "FAILED", UpdatedAt: time.UnixMicro(1795610485308038).UTC()}}},
	}, {
		name: "gateway REGED, Ping-Status UP", seq: 440,
		want: PresenceChange{Gateways: []presence.Gateway{{Switch: "fs1", Name: "gw1", State: presence.GatewayUp,
			Registration: presence.RegRegistered, Detail: "REGED", UpdatedAt: time.UnixMicro(1795610396048007).UTC()}}},
	}, {
		name: "gateway TRYING, Ping-Status DOWN", seq: 438,
		want: PresenceChange{Gateways: []presence.Gateway{{Switch: "fs1", Name: "gw1", State: presence.GatewayDown,
			Registration: presence.RegUnregistered, Detail: "TRYING", UpdatedAt: time.UnixMicro(1795610395048014).UTC()}}},
	}, {
		name: "gateway_delete", seq: 432, want: PresenceChange{DeletedGateways: []string{"gw1"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := eslPresenceOpt
			opt.MultipleRegistrations = tt.multi
			got, ok := PresenceFromEvent(bySeq[tt.seq], opt)
			if !ok || !samePresenceChange(got, tt.want) {
				t.Errorf("got %v %+v\nwant %+v", ok, got, tt.want)
			}
		})
	}
	// The second registration of 1002 (Expires: 20) at 12:40:47.
	ch, _ := PresenceFromEvent(bySeq[750], eslPresenceOpt)
	if len(ch.Put) != 1 || !ch.Put[0].Expires.Equal(time.UnixMicro(1795610447547979).Add(20*time.Second)) {
		t.Errorf("1002 again: %+v", ch.Put)
	}
	for _, seq := range []uint64{445, 447, 453, 464, 467} { // pre_register, register_attempt, register_failure
		if ch, ok := PresenceFromEvent(bySeq[seq], eslPresenceOpt); ok {
			t.Errorf("seq %d (%s) is a presence event: %+v", seq, bySeq[seq].Subclass(), ch)
		}
	}
}

func samePresenceChange(a, b PresenceChange) bool {
	return slices.EqualFunc(a.Put, b.Put, func(x, y presence.Registration) bool {
		ex, ey := x.Expires, y.Expires
		ux, uy := x.UpdatedAt, y.UpdatedAt
		x.Expires, y.Expires, x.UpdatedAt, y.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		return x == y && ex.Equal(ey) && ux.Equal(uy)
	}) && slices.Equal(a.Delete, b.Delete) &&
		slices.EqualFunc(a.Gateways, b.Gateways, func(x, y presence.Gateway) bool {
			ux, uy := x.UpdatedAt, y.UpdatedAt
			x.UpdatedAt, y.UpdatedAt = time.Time{}, time.Time{}
			return x == y && ux.Equal(uy)
		}) && slices.Equal(a.DeletedGateways, b.DeletedGateways)
}

func TestPresenceFromEventSynthetic(t *testing.T) {
	now := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	opt := PresenceOptions{Switch: "fs1", Domain: "pbx.example", MultipleRegistrations: true, Now: func() time.Time { return now }}
	custom := func(sub string, kv ...string) Event {
		h := map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": sub}
		for i := 0; i+1 < len(kv); i += 2 {
			h[canonicalHeaderKey(kv[i])] = kv[i+1]
		}
		return NewEvent(h, nil)
	}
	t.Run("register over TLS behind NAT, IPv6, no host, no time", func(t *testing.T) {
		ch, ok := PresenceFromEvent(custom(subRegister, "from-user", "alice", "status", "Registered(TLS-NAT)",
			"contact", `"Alice" <sips:alice@[2001:db8::5]:5061;transport=tls;fs_nat=yes;fs_path=%3Csip%3A...%3E>`,
			"network-ip", "2001:db8::5", "network-port", "40000", "expires", "300"), opt)
		want := presence.Registration{Switch: "fs1", User: "alice", Domain: "pbx.example",
			Contact: "sips:alice@[2001:db8::5]:5061", Address: "[2001:db8::5]:40000", Transport: "tls",
			Expires: now.Add(300 * time.Second), Status: presence.ContactReachable, UpdatedAt: now}
		if !ok || !samePresenceChange(ch, PresenceChange{Put: []presence.Registration{want}}) {
			t.Errorf("got %+v", ch)
		}
	})
	t.Run("register with expires 0", func(t *testing.T) {
		ch, _ := PresenceFromEvent(custom(subRegister, "from-user", "bob", "from-host", "d.example",
			"contact", "<sip:bob@192.0.2.9>", "expires", "0"), opt)
		if !samePresenceChange(ch, PresenceChange{Delete: []RegKey{{"d.example", "bob", "sip:bob@192.0.2.9"}}}) {
			t.Errorf("got %+v", ch)
		}
	})
	t.Run("register without user", func(t *testing.T) {
		ch, ok := PresenceFromEvent(custom(subRegister, "contact", "<sip:x@y>"), opt)
		if !ok || len(ch.Put)+len(ch.Delete) != 0 {
			t.Errorf("got %v %+v", ok, ch)
		}
	})
	t.Run("gateway_add", func(t *testing.T) {
		ch, ok := PresenceFromEvent(custom(subGatewayAdd, "Gateway", "carrier", "profile-name", "external"), opt)
		if !ok || len(ch.Gateways) != 1 || ch.Gateways[0].State != presence.GatewayUnknown ||
			ch.Gateways[0].Registration != presence.RegUnknown || !ch.Gateways[0].UpdatedAt.Equal(now) {
			t.Errorf("got %+v", ch)
		}
	})
	t.Run("not CUSTOM", func(t *testing.T) {
		if _, ok := PresenceFromEvent(NewEvent(map[string]string{"Event-Name": "CHANNEL_CREATE", "Event-Subclass": subRegister}, nil), opt); ok {
			t.Error("a channel event taken for presence")
		}
	})
}

func TestGatewayMapping(t *testing.T) {
	tests := []struct {
		state, status string
		want          presence.GatewayState
		reg           presence.RegistrationState
	}{
		{"REGED", "UP", presence.GatewayUp, presence.RegRegistered},
		{"REGED", "", presence.GatewayUp, presence.RegRegistered},
		{"REGED", "DOWN", presence.GatewayDown, presence.RegRegistered}, // pings fail
		{"REGISTER", "DOWN", presence.GatewayDown, presence.RegRegistered},
		{"REGISTER", "", presence.GatewayUnknown, presence.RegRegistered},
		{"TRYING", "", presence.GatewayUnknown, presence.RegUnregistered},
		{"TRYING", "UP", presence.GatewayUp, presence.RegUnregistered},
		{"FAILED", "UP", presence.GatewayDown, presence.RegFailed},
		{"FAIL_WAIT", "DOWN", presence.GatewayDown, presence.RegFailed},
		{"TIMEOUT", "", presence.GatewayDown, presence.RegFailed},
		{"UNREGED", "DOWN", presence.GatewayDown, presence.RegUnregistered},
		{"DOWN", "UP", presence.GatewayDown, presence.RegUnregistered},
		{"NOREG", "UP", presence.GatewayUp, presence.RegUnknown},
		{"NOREG", "", presence.GatewayUnknown, presence.RegUnknown},
		{"", "", presence.GatewayUnknown, presence.RegUnknown},
	}
	for _, tt := range tests {
		if got, reg := gatewayState(tt.state, tt.status), gatewayRegistration(tt.state); got != tt.want || reg != tt.reg {
			t.Errorf("%s/%s: %s %s, want %s %s", tt.state, tt.status, got, reg, tt.want, tt.reg)
		}
	}
}

func TestContactURIAndTransport(t *testing.T) {
	tests := []struct{ contact, status, uri, transport string }{
		{`"" <sip:1001@127.0.0.1:25001;transport=UDP>`, "Registered(UDP)", "sip:1001@127.0.0.1:25001", "udp"},
		{`"" <sip:1001@127.0.0.1:25001;transport=UDP>`, "Registered(UDP)(unknown) exp(2026-11-25 13:40:01) expsecs(3597)", "sip:1001@127.0.0.1:25001", "udp"},
		{`"Bob" <sip:bob@198.51.100.7:5060;fs_nat=yes;fs_path=%3Csip%3Abob%40203.0.113.1%3A40123%3E>`, "Registered(UDP-NAT)", "sip:bob@198.51.100.7:5060", "udp"},
		{`<sip:c@h;transport=tcp>`, "Registered(AUTO-NAT)", "sip:c@h", "tcp"},
		{`<sip:c@h;transport=ws>`, "Registered(WSS-NAT)", "sip:c@h", "wss"},
		{`<sip:c@h;transport=tls>`, "Registered(TLSHACK)", "sip:c@h", "tls"},
		{`<sips:c@h:5061>`, "", "sips:c@h:5061", "tls"},
		{`sip:c@h;transport=TCP`, "", "sip:c@h", "tcp"},
		{`sip:c@h?X-Header=1`, "Registered", "sip:c@h", "udp"},
		{`*`, "", "", "udp"},
		{``, "", "", "udp"},
	}
	for _, tt := range tests {
		if got := ContactURI(tt.contact); got != tt.uri {
			t.Errorf("ContactURI(%q) = %q, want %q", tt.contact, got, tt.uri)
		}
		if got := regTransport(tt.status, tt.contact); got != tt.transport {
			t.Errorf("regTransport(%q, %q) = %q, want %q", tt.status, tt.contact, got, tt.transport)
		}
	}
}

// TestPresenceFromEventUserState: sofia::sip_user_state asks for the
// user's registrations to be re-read; names that could not be one word of
// an api command are refused (left to the reconcile).
func TestPresenceFromEventUserState(t *testing.T) {
	opt := PresenceOptions{Switch: "fs1", Domain: "pbx.example"}
	ev := func(kv ...string) Event {
		h := map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": subUserState}
		for i := 0; i+1 < len(kv); i += 2 {
			h[canonicalHeaderKey(kv[i])] = kv[i+1]
		}
		return NewEvent(h, nil)
	}
	tests := []struct {
		name string
		ev   Event
		want []UserRef
	}{
		{"unreachable", ev("profile-name", "internal", "from-user", "1001", "from-host", "127.0.0.1", "Ping-Status", "UNREACHABLE"),
			[]UserRef{{Profile: "internal", User: "1001", Domain: "127.0.0.1"}}},
		{"no host: the default domain", ev("profile-name", "internal", "from-user", "1001", "Ping-Status", "REACHABLE"),
			[]UserRef{{Profile: "internal", User: "1001", Domain: "pbx.example"}}},
		{"no profile", ev("from-user", "1001", "from-host", "127.0.0.1"), nil},
		{"a command in the user", ev("profile-name", "internal", "from-user", "1001 x\n\napi reloadxml", "from-host", "127.0.0.1"), nil},
		{"an @ in the user", ev("profile-name", "internal", "from-user", "a@b", "from-host", "127.0.0.1"), nil},
	}
	for _, tt := range tests {
		ch, ok := PresenceFromEvent(tt.ev, opt)
		if !ok || !reflect.DeepEqual(ch.Reread, tt.want) || len(ch.Put)+len(ch.Delete) != 0 {
			t.Errorf("%s: %v %+v, want %+v", tt.name, ok, ch, tt.want)
		}
	}
}
