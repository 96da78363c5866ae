package freeswitch

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

// eslStatusNow is when the recorded xmlstatus registrations were taken
// (timeline.txt: 12:40:04.231).
var eslStatusNow = time.Date(2026, 11, 25, 12, 40, 4, 231000000, time.UTC)

func eslStatusOpt() PresenceOptions {
	return PresenceOptions{Switch: "fs1", Domain: "127.0.0.1", Now: func() time.Time { return eslStatusNow }}
}

func TestParseXMLStatusProfiles(t *testing.T) {
	got, err := ParseXMLStatusProfiles(eslReplyBody(t, "api-sofia-xmlstatus.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// The alias 127.0.0.1 (of internal) and the gateway gw1 are not
	// profiles.
	if want := []string{"external", "internal"}; !slices.Equal(got, want) {
		t.Errorf("profiles %q, want %q", got, want)
	}
}

// TestParseXMLStatusReg: the recorded reply gives the registrations the
// sofia::register events of 1001 and 1002 gave, with the same keys, so a
// resync replaces them without a change. Both are reachable: FreeSWITCH
// reports <ping-status>Reachable</ping-status> (ping-time 0.00, the
// profile pings nobody), which was once shown as unknown (issue 12 item
// 18).
func TestParseXMLStatusReg(t *testing.T) {
	regs, err := ParseXMLStatusReg(eslReplyBody(t, "api-sofia-xmlstatus-profile-internal-reg.txt"), eslStatusOpt())
	if err != nil {
		t.Fatal(err)
	}
	want := []presence.Registration{{
		Switch: "fs1", User: "1001", Domain: "127.0.0.1", Contact: "sip:1001@127.0.0.1:25001",
		Address: "127.0.0.1:25001", Transport: "udp", UserAgent: "sipp-phone-1001",
		Expires: eslStatusNow.Add(3597 * time.Second), Status: presence.ContactReachable, UpdatedAt: eslStatusNow,
	}, {
		Switch: "fs1", User: "1002", Domain: "127.0.0.1", Contact: "sip:1002@127.0.0.1:25002",
		Address: "127.0.0.1:25002", Transport: "udp", UserAgent: "sipp-phone-1002",
		Expires: eslStatusNow.Add(598 * time.Second), Status: presence.ContactReachable, UpdatedAt: eslStatusNow,
	}}
	if !samePresenceChange(PresenceChange{Put: regs}, PresenceChange{Put: want}) {
		t.Errorf("got  %+v\nwant %+v", regs, want)
	}

	// The events' registrations: same key and fields, expiry within the
	// seconds the status rounds to.
	byKey := map[string]presence.Registration{}
	for _, ev := range eslScenario(t) {
		if ev.Subclass() == subRegister && ev.Time().Before(eslStatusNow) {
			ch, _ := PresenceFromEvent(ev, eslStatusOpt())
			for _, r := range ch.Put {
				byKey[r.Domain+" "+r.User+" "+r.Contact] = r
			}
		}
	}
	for _, r := range regs {
		e, ok := byKey[r.Domain+" "+r.User+" "+r.Contact]
		if !ok {
			t.Errorf("no event registered %s %s %s", r.Domain, r.User, r.Contact)
			continue
		}
		if e.Address != r.Address || e.Transport != r.Transport || e.UserAgent != r.UserAgent || e.Status != r.Status ||
			e.Expires.Sub(r.Expires).Abs() > 2*time.Second {
			t.Errorf("event %+v\nxmlstatus %+v", e, r)
		}
	}
}

func TestParseXMLStatusRegPing(t *testing.T) {
	body := `<?xml version="1.0" encoding="ISO-8859-1"?>
<profile><registrations>
<registration><user>a@d1</user><contact>"" &lt;sip:a@192.0.2.1:5060&gt;</contact><status>Registered(TCP-NAT)(unknown) exp(2026-11-25 13:00:00) expsecs(60)</status><ping-status>Reachable</ping-status><ping-time>12.50</ping-time><network-ip>192.0.2.1</network-ip><network-port>5060</network-port></registration>
<registration><user>b@d1</user><contact>&lt;sip:b@192.0.2.2&gt;</contact><status>Registered(UDP)</status><ping-status>Unreachable</ping-status><ping-time>0.00</ping-time></registration>
<registration><user>c</user><contact>&lt;sip:c@192.0.2.3&gt;</contact><status>Registered(WSS-NAT)</status><agent>J` + "\xe9" + `r` + "\xf4" + `me</agent></registration>
<registration><user>d@d1</user><contact>&lt;sip:d@192.0.2.4&gt;</contact><status>Registered(UDP)</status><ping-status>REACHABLE</ping-status><ping-time>0.00</ping-time></registration>
<registration><user>e@d1</user><contact>&lt;sip:e@192.0.2.5&gt;</contact><status>Registered(UDP)</status><ping-status>Pending</ping-status><ping-time>3.00</ping-time></registration>
<registration><user></user></registration>
</registrations></profile>`
	regs, err := ParseXMLStatusReg([]byte(body), eslStatusOpt())
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 5 {
		t.Fatalf("%d registrations: %+v", len(regs), regs)
	}
	a, b, c, d, e := regs[0], regs[1], regs[2], regs[3], regs[4]
	if a.Status != presence.ContactReachable || a.RTT != 12500*time.Microsecond || a.Transport != "tcp" ||
		!a.Expires.Equal(eslStatusNow.Add(time.Minute)) || a.Domain != "d1" {
		t.Errorf("a %+v", a)
	}
	if b.Status != presence.ContactUnreachable || b.RTT != 0 || !b.Expires.IsZero() || b.Address != "" {
		t.Errorf("b %+v", b)
	}
	// No domain: the default; a Latin-1 body is read as Latin-1.
	if c.Domain != "127.0.0.1" || c.Transport != "wss" || c.UserAgent != "Jérôme" || c.Status != presence.ContactUnknown {
		t.Errorf("c %+v", c)
	}
	// Reachable without a ping (any case) is reachable with no RTT; a
	// status FreeSWITCH does not write is unknown, its ping time unused.
	if d.Status != presence.ContactReachable || d.RTT != 0 {
		t.Errorf("d %+v", d)
	}
	if e.Status != presence.ContactUnknown || e.RTT != 0 {
		t.Errorf("e %+v", e)
	}
}

func TestParseXMLStatusGateways(t *testing.T) {
	opt := eslStatusOpt()
	tests := []struct {
		file string
		want presence.Gateway
	}{
		{"api-sofia-xmlstatus-gateway.txt", presence.Gateway{Switch: "fs1", Name: "gw1", State: presence.GatewayUp,
			Registration: presence.RegRegistered, Detail: "REGED", UpdatedAt: eslStatusNow}},
		{"api-sofia-xmlstatus-gateway-down.txt", presence.Gateway{Switch: "fs1", Name: "gw1", State: presence.GatewayDown,
			Registration: presence.RegFailed, Detail: "FAIL_WAIT", UpdatedAt: eslStatusNow}},
	}
	for _, tt := range tests {
		got, err := ParseXMLStatusGateways(eslReplyBody(t, tt.file), opt)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.file, got, tt.want)
		}
	}
	// One gateway (sofia xmlstatus gateway <name>), pinged, not
	// registering; and none.
	got, err := ParseXMLStatusGateways([]byte(`<gateway><name>carrier</name><state>NOREG</state><status>UP</status><pingtime>23.40</pingtime></gateway>`), opt)
	if err != nil || len(got) != 1 || got[0].State != presence.GatewayUp || got[0].Registration != presence.RegUnknown ||
		got[0].RTT != 23400*time.Microsecond || got[0].Detail != "NOREG" {
		t.Errorf("one gateway: %+v %v", got, err)
	}
	if got, err := ParseXMLStatusGateways([]byte("<?xml version=\"1.0\"?>\n<gateways>\n</gateways>\n"), opt); err != nil || len(got) != 0 {
		t.Errorf("no gateway: %+v %v", got, err)
	}
}

func TestParseXMLStatusMalformed(t *testing.T) {
	for _, body := range []string{"", "Invalid Profile!\n", "-ERR no reply\n", "<profile><registrations>", "<a></b>"} {
		if _, err := ParseXMLStatusReg([]byte(body), eslStatusOpt()); !errors.Is(err, ErrMalformedReply) {
			t.Errorf("reg %q: %v", body, err)
		}
		if _, err := ParseXMLStatusGateways([]byte(body), eslStatusOpt()); !errors.Is(err, ErrMalformedReply) {
			t.Errorf("gateways %q: %v", body, err)
		}
		if _, err := ParseXMLStatusProfiles([]byte(body)); !errors.Is(err, ErrMalformedReply) {
			t.Errorf("profiles %q: %v", body, err)
		}
	}
}

func TestParseShowChannels(t *testing.T) {
	rows, err := ParseShowChannels(eslReplyBody(t, "api-show-channels-json.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	a, b := rows[0], rows[1]
	if a.UUID != "c0ac0e89-8277-4837-b5d4-83444258b662" || a.Direction != "inbound" || a.Created != "2026-11-25 12:40:05" ||
		a.CreatedEpoch != 1795610405 || a.Name != "sofia/internal/1001@127.0.0.1" || a.State != "CS_EXECUTE" ||
		a.CIDName != "Phone 1001" || a.CIDNum != "1001" || a.Dest != "1002" || a.Application != "bridge" ||
		a.AppData != "user/1002@127.0.0.1" || a.CallState != "ACTIVE" || a.PresenceID != "1001@127.0.0.1" ||
		a.ReadCodec != "PCMU" || a.CallUUID != a.UUID {
		t.Errorf("a-leg %+v", a)
	}
	if b.Direction != "outbound" || b.CallUUID != a.UUID || b.CreatedEpoch != 1795610406 || b.CIDName != "Extension 1001" {
		t.Errorf("b-leg %+v", b)
	}

	tests := []struct {
		body string
		n    int
		err  bool
	}{
		{string(eslReplyBody(t, "api-show-channels-json-empty.txt")), 0, false},
		{`{"row_count":1,"rows":[{"uuid":"u1","created_epoch":"x","cid_num":1001},{"uuid":""}]}`, 1, false},
		{`{"rows":[]}`, 0, true},
		{`{"row_count": 0} {}`, 0, true},
		{"-ERR no reply", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		rows, err := ParseShowChannels([]byte(tt.body))
		if (err != nil) != tt.err || (err != nil && !errors.Is(err, ErrMalformedReply)) || len(rows) != tt.n {
			t.Errorf("%q: %d rows, %v", tt.body, len(rows), err)
		}
	}
}

func TestAPIResult(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
		err  string
	}{
		{"reloadxml", string(eslReplyBody(t, "api-reloadxml.txt")), "+OK [Success]", ""},
		{"unknown command", string(eslReplyBody(t, "error-unknown-api-command.txt")), "", "nosuchcommand Command not found!"},
		{"status", string(eslReplyBody(t, "api-status.txt")), "", ""},
		{"usage", "-USAGE: <uuid>\n", "", "USAGE: <uuid>"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		got, err := APIResult([]byte(tt.body))
		if tt.err != "" {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Reply != tt.err || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %q %v, want APIError %q", tt.name, got, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
		if strings.HasSuffix(got, "\n") {
			t.Errorf("%s: final line break kept", tt.name)
		}
	}
}
