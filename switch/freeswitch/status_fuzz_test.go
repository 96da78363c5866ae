package freeswitch

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

// checkStatusErr fails unless err is nil or wraps ErrMalformedReply.
func checkStatusErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrMalformedReply) {
		t.Fatalf("error does not wrap ErrMalformedReply: %v", err)
	}
}

func FuzzParseXMLStatusProfiles(f *testing.F) {
	f.Add(eslReplyBody(f, "api-sofia-xmlstatus.txt"))
	f.Add([]byte("<profiles><profile><name>a</name></profile><profile><name>a</name><type>profile</type></profile></profiles>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		names, err := ParseXMLStatusProfiles(b)
		checkStatusErr(t, err)
		for _, n := range names {
			if n == "" || strings.TrimSpace(n) != n {
				t.Fatalf("profile name %q", n)
			}
		}
	})
}

func FuzzParseXMLStatusReg(f *testing.F) {
	f.Add(eslReplyBody(f, "api-sofia-xmlstatus-profile-internal-reg.txt"))
	f.Add([]byte(`<profile><registrations><registration><user>a@d</user><status>Registered(TLS-NAT) expsecs(9)</status><ping-status>Reachable</ping-status><ping-time>1e3</ping-time></registration></registrations></profile>`))
	opt := eslStatusOpt()
	f.Fuzz(func(t *testing.T, b []byte) {
		regs, err := ParseXMLStatusReg(b, opt)
		checkStatusErr(t, err)
		for _, r := range regs {
			if r.User == "" || r.Domain == "" || r.Switch != "fs1" || r.RTT < 0 ||
				(!r.Expires.IsZero() && r.Expires.Before(eslStatusNow)) {
				t.Fatalf("registration %+v", r)
			}
			switch r.Status {
			case presence.ContactReachable, presence.ContactUnreachable, presence.ContactUnknown:
			default:
				t.Fatalf("status %q", r.Status)
			}
		}
	})
}

func FuzzParseXMLStatusGateways(f *testing.F) {
	f.Add(eslReplyBody(f, "api-sofia-xmlstatus-gateway.txt"))
	f.Add(eslReplyBody(f, "api-sofia-xmlstatus-gateway-down.txt"))
	opt := eslStatusOpt()
	f.Fuzz(func(t *testing.T, b []byte) {
		gws, err := ParseXMLStatusGateways(b, opt)
		checkStatusErr(t, err)
		for _, g := range gws {
			if g.Name == "" || g.RTT < 0 || g.State == "" || g.Registration == "" {
				t.Fatalf("gateway %+v", g)
			}
		}
	})
}

func FuzzParseShowChannels(f *testing.F) {
	f.Add(eslReplyBody(f, "api-show-channels-json.txt"))
	f.Add(eslReplyBody(f, "api-show-channels-json-empty.txt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := ParseShowChannels(b)
		checkStatusErr(t, err)
		for _, r := range rows {
			if r.UUID == "" || r.CreatedEpoch < 0 {
				t.Fatalf("row %+v", r)
			}
		}
		// Whatever the rows, Reset and Live cope.
		c := NewCalls(eslCallOpt)
		c.Reset(rows)
		if live := c.Live(); len(live) > len(rows) {
			t.Fatalf("%d live legs from %d rows", len(live), len(rows))
		}
	})
}

func FuzzAPIResult(f *testing.F) {
	f.Add(eslReplyBody(f, "api-reloadxml.txt"))
	f.Add(eslReplyBody(f, "error-unknown-api-command.txt"))
	f.Add([]byte("-USAGE: x\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := APIResult(b)
		var ae *APIError
		switch {
		case err != nil && !errors.As(err, &ae):
			t.Fatalf("error is not an APIError: %v", err)
		case err != nil && s != "":
			t.Fatalf("result %q with an error", s)
		case err == nil && (strings.HasPrefix(s, "-ERR") || strings.HasSuffix(s, "\n")):
			t.Fatalf("result %q", s)
		}
	})
}

// FuzzEventConsumers feeds damaged events to PresenceFromEvent and Calls:
// never a panic, registrations with a user, at most one CDR per leg.
func FuzzEventConsumers(f *testing.F) {
	for _, s := range eslFuzzSeeds(f) {
		f.Add(s)
	}
	bodies, err := eslScenarioBodies()
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range bodies {
		if strings.Contains(string(b), "CHANNEL_CREATE") || strings.Contains(string(b), "sofia%3A%3Aexpire") {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParsePlainEvent(b)
		if err != nil {
			return
		}
		if ch, ok := PresenceFromEvent(ev, eslPresenceOpt); ok {
			for _, r := range ch.Put {
				if r.User == "" || r.Domain == "" {
					t.Fatalf("registration %+v", r)
				}
			}
			for _, g := range ch.Gateways {
				if g.Name == "" {
					t.Fatalf("gateway %+v", g)
				}
			}
		}
		c := NewCalls(eslCallOpt)
		n := 0
		for range 3 { // the same event again is no second CDR
			_, _, cdrs := c.Apply(ev)
			n += len(cdrs)
		}
		if n > 1 {
			t.Fatalf("%d CDRs from one event", n)
		}
	})
}
