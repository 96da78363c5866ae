package asterisk

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

const presDomain = "pbx.example"

func presOptions() PresenceOptions {
	return PresenceOptions{Domain: presDomain, IsGateway: func(id string) bool { return id == "gateway" }}
}

// regLines renders a view's registrations as "user contact status rtt".
func regLines(v *presence.View) []string {
	regs, _ := v.Registrations(presence.RegistrationQuery{Limit: presence.MaxLimit})
	var out []string
	for _, r := range regs {
		out = append(out, fmt.Sprintf("%s@%s %s %s %s %s %v", r.User, r.Domain, r.Contact, r.Address, r.Transport, r.Status, r.RTT))
	}
	slices.Sort(out)
	return out
}

func gwLines(v *presence.View) []string {
	var out []string
	for _, g := range v.Gateways(presence.GatewayQuery{}) {
		out = append(out, fmt.Sprintf("%s %s %s %s %v", g.Name, g.State, g.Registration, g.Detail, g.RTT))
	}
	return out
}

// applyUntil folds the scenario's presence events up to (excluding) the
// first whose timestamp is not before until ("" = all).
func applyUntil(t *testing.T, p *Presence, feed Feed, until string) {
	t.Helper()
	for _, ev := range aritest.ScenarioEvents() {
		e, err := ParseEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		if until != "" && !e.Timestamp.Before(mustARITime(t, until)) {
			return
		}
		if _, err := p.Apply(e, e.Timestamp, feed); err != nil {
			t.Fatal(err)
		}
	}
}

// applyRaw parses one event and applies it to p, as the adapter does.
func applyRaw(t *testing.T, p *Presence, raw []byte, at time.Time, feed Feed) {
	t.Helper()
	ev, err := ParseEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(ev, at, feed); err != nil {
		t.Fatal(err)
	}
}

func mustARITime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := parseARITime(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestPresenceScenario replays the recorded stream's presence events and
// checks the view at the README's landmarks.
func TestPresenceScenario(t *testing.T) {
	tests := []struct {
		name  string
		until string
		regs  []string
		gws   []string
	}{{
		name:  "1001 registered, qualified",
		until: "2026-11-25T12:34:43.000+0000",
		regs:  []string{"1001@pbx.example sip:1001@127.0.0.1:5061 127.0.0.1:5061 udp reachable 7.076ms"},
	}, {
		name:  "both phones and the gateway up",
		until: "2026-11-25T12:35:00.000+0000",
		regs: []string{
			"1001@pbx.example sip:1001@127.0.0.1:5061 127.0.0.1:5061 udp reachable 7.076ms",
			"1002@pbx.example sip:1002@127.0.0.1:5062 127.0.0.1:5062 udp reachable 4.79ms",
		},
		gws: []string{"gateway up unknown Reachable 1.763ms"},
	}, {
		name:  "2001 pushed and registered, not qualified",
		until: "2026-11-25T12:36:00.000+0000",
		regs: []string{
			"1001@pbx.example sip:1001@127.0.0.1:5061 127.0.0.1:5061 udp reachable 7.076ms",
			"1002@pbx.example sip:1002@127.0.0.1:5062 127.0.0.1:5062 udp reachable 4.79ms",
			"2001@pbx.example sip:2001@127.0.0.1:5063 127.0.0.1:5063 udp unknown 0s",
		},
		gws: []string{"gateway up unknown Reachable 1.763ms"},
	}, {
		name: "end: 2001 and 1002 gone, gateway down",
		regs: []string{"1001@pbx.example sip:1001@127.0.0.1:5061 127.0.0.1:5061 udp reachable 7.076ms"},
		gws:  []string{"gateway down unknown Unreachable 0s"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := presence.New()
			applyUntil(t, NewPresence(presOptions()), v.Feed("ast1"), tc.until)
			if got := regLines(v); !slices.Equal(got, tc.regs) {
				t.Errorf("registrations:\n got %q\nwant %q", got, tc.regs)
			}
			if got := gwLines(v); !slices.Equal(got, tc.gws) {
				t.Errorf("gateways:\n got %q\nwant %q", got, tc.gws)
			}
		})
	}
}

// TestPresenceSnapshot checks the resync: REST has no contacts, so known
// contacts are kept for online endpoints, AOR contacts replace them, and
// an online endpoint with neither gets the placeholder.
func TestPresenceSnapshot(t *testing.T) {
	var eps []Endpoint
	if err := json.Unmarshal(aritest.Recorded("endpoints-pjsip.json"), &eps); err != nil {
		t.Fatal(err)
	}
	now := mustARITime(t, "2026-11-25T12:40:00.000+0000")
	tests := []struct {
		name  string
		until string
		aors  map[string][]string
		regs  []string
		gws   []string
	}{{
		name: "nothing known: placeholders",
		regs: []string{
			"1001@pbx.example PJSIP/1001   unknown 0s",
			"1002@pbx.example PJSIP/1002   unknown 0s",
		},
		gws: []string{"gateway up unknown online 0s"},
	}, {
		name:  "contacts from events kept",
		until: "2026-11-25T12:35:00.000+0000",
		regs: []string{
			"1001@pbx.example sip:1001@127.0.0.1:5061 127.0.0.1:5061 udp reachable 7.076ms",
			"1002@pbx.example sip:1002@127.0.0.1:5062 127.0.0.1:5062 udp reachable 4.79ms",
		},
		gws: []string{"gateway up unknown Reachable 1.763ms"},
	}, {
		name:  "AOR contacts replace, keeping the RTT of the same contact",
		until: "2026-11-25T12:35:00.000+0000",
		aors:  map[string][]string{"1001": {"sip:1001@127.0.0.1:5061"}, "1002": {"sip:1002@192.0.2.7:5062;transport=tcp"}},
		regs: []string{
			"1001@pbx.example sip:1001@127.0.0.1:5061 127.0.0.1:5061 udp reachable 7.076ms",
			"1002@pbx.example sip:1002@192.0.2.7:5062;transport=tcp 192.0.2.7:5062 tcp unknown 0s",
		},
		gws: []string{"gateway up unknown Reachable 1.763ms"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := presence.New()
			p := NewPresence(presOptions())
			if tc.until != "" {
				applyUntil(t, p, v.Feed("scratch"), tc.until)
			}
			v2 := presence.New()
			v2.Feed("ast1").Replace(p.Snapshot(eps, tc.aors, now))
			if got := regLines(v2); !slices.Equal(got, tc.regs) {
				t.Errorf("registrations:\n got %q\nwant %q", got, tc.regs)
			}
			if got := gwLines(v2); !slices.Equal(got, tc.gws) {
				t.Errorf("gateways:\n got %q\nwant %q", got, tc.gws)
			}
		})
	}
}

// TestPresenceTrunkDeclaredLater: a pjsip.conf trunk read while it was
// not yet a gateway (its AOR's contact kept, status unknown: no event
// since) becomes one when a gateway of its name is provisioned; the next
// resync reports it up from its endpoint's "online", not unknown (seen
// live on 23.4.1: an observed trunk, Avail in `pjsip show contacts`,
// stayed unknown).
func TestPresenceTrunkDeclaredLater(t *testing.T) {
	declared := false
	p := NewPresence(PresenceOptions{Domain: presDomain, IsGateway: func(id string) bool { return declared && id == "pbx-trunk" }})
	eps := []Endpoint{{Technology: "PJSIP", Resource: "pbx-trunk", State: "online"}}
	aors := map[string][]string{"pbx-trunk": {"sip:127.0.0.1:5099"}}
	now := time.Now()
	v := presence.New()
	v.Feed("ast1").Replace(p.Snapshot(eps, aors, now))
	declared = true
	v.Feed("ast1").Replace(p.Snapshot(eps, aors, now))
	if got, want := gwLines(v), []string{"pbx-trunk up unknown online 0s"}; !slices.Equal(got, want) {
		t.Errorf("gateways %q, want %q", got, want)
	}
	if got := regLines(v); len(got) != 0 {
		t.Errorf("the trunk is still a registration: %q", got)
	}
}

// TestPresencePlaceholderReplaced checks that the placeholder of a resync
// goes once an event names the real contact, and that offline removes all.
func TestPresencePlaceholderReplaced(t *testing.T) {
	v := presence.New()
	feed := v.Feed("ast1")
	p := NewPresence(presOptions())
	now := time.Now()
	feed.Replace(p.Snapshot([]Endpoint{{Technology: "PJSIP", Resource: "7@other.example", State: "online"}}, nil, now))
	if got, want := regLines(v), []string{"7@other.example PJSIP/7@other.example   unknown 0s"}; !slices.Equal(got, want) {
		t.Fatalf("after the snapshot: %q, want %q", got, want)
	}
	for _, ev := range aritest.ContactEvents("7@other.example", "sip:7@192.0.2.1:5060", 2*time.Millisecond, false, now) {
		applyRaw(t, p, ev, now, feed)
	}
	if got, want := regLines(v), []string{"7@other.example sip:7@192.0.2.1:5060 192.0.2.1:5060 udp reachable 2ms"}; !slices.Equal(got, want) {
		t.Fatalf("after the contact's event: %q, want %q", got, want)
	}
	for _, ev := range aritest.ContactEvents("7@other.example", "sip:7@192.0.2.1:5060", 0, true, now) {
		applyRaw(t, p, ev, now, feed)
	}
	if got := regLines(v); len(got) != 0 {
		t.Fatalf("after unregistering: %q, want none", got)
	}
}

func TestParseOutboundRegistrations(t *testing.T) {
	regs, err := ParseOutboundRegistrations(aritest.Recorded("res-prometheus-metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []OutboundRegistration{{ServerURI: "sip:127.0.0.1:5090", ClientURI: "sip:asterisk@127.0.0.1:5090", State: presence.RegFailed}}
	if !slices.Equal(regs, want) {
		t.Fatalf("got %+v, want %+v", regs, want)
	}
	byGW := registrationsByGateway(regs, nil, map[string]string{"127.0.0.1:5090": "gateway"})
	if byGW["gateway"] != presence.RegFailed || len(byGW) != 1 {
		t.Errorf("by gateway: %v", byGW)
	}
	byGW = registrationsByGateway(regs, func(server, client string) string { return "named" }, nil)
	if byGW["named"] != presence.RegFailed {
		t.Errorf("with RegistrationGateway: %v", byGW)
	}
	for _, text := range []string{"", "# nothing\n", "other_metric 1\n"} {
		if regs, err := ParseOutboundRegistrations([]byte(text)); err != nil || len(regs) != 0 {
			t.Errorf("%q: %v, %v; want none", text, regs, err)
		}
	}
	if _, err := ParseOutboundRegistrations([]byte("asterisk_pjsip_outbound_registration_status{ 1\n")); err == nil {
		t.Error("a broken exposition parsed without error")
	}
}

func TestContactAddress(t *testing.T) {
	tests := []struct{ uri, addr, transport string }{
		{"sip:1001@127.0.0.1:5061", "127.0.0.1:5061", "udp"},
		{"sip:1001@192.0.2.1:5070;transport=TCP;ob", "192.0.2.1:5070", "tcp"},
		{"sips:1001@example.com", "example.com:5061", "tls"},
		{"sip:[2001:db8::1]:5060", "[2001:db8::1]:5060", "udp"},
		{"sip:gw.example", "gw.example:5060", "udp"},
		{"PJSIP/1001", "", ""},
	}
	for _, tc := range tests {
		addr, tr := contactAddress(tc.uri)
		if addr != tc.addr || tr != tc.transport {
			t.Errorf("contactAddress(%q) = %q, %q; want %q, %q", tc.uri, addr, tr, tc.addr, tc.transport)
		}
	}
}

func FuzzPresenceApply(f *testing.F) {
	for _, ev := range aritest.ScenarioEvents()[:40] {
		f.Add(ev)
	}
	f.Add([]byte(`{"type":"ContactStatusChange","endpoint":{"technology":"PJSIP","resource":"x"},"contact_info":{"uri":"sip:"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v := presence.New()
		p := NewPresence(presOptions())
		ev, err := ParseEvent(b)
		if err != nil {
			return // the adapter drops it before Presence
		}
		_, _ = p.Apply(ev, time.Now(), v.Feed("f"))
		for _, l := range regLines(v) {
			if strings.HasPrefix(l, "@") {
				t.Errorf("registration without user: %q", l)
			}
		}
	})
}
