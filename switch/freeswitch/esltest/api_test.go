package esltest

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// replayed returns the state after the recorded events up to and
// including Event-Sequence last.
func replayed(last int) *state {
	st := newState()
	for _, b := range ScenarioEvents() {
		e := mustEvent(b)
		st.track(e)
		if e.get("Event-Sequence") == strconv.Itoa(last) {
			break
		}
	}
	return st
}

// TestRenderedMatchesRecording renders the state-driven answers from the
// state the recorded events build, at the time each answer was recorded,
// and compares them with the recordings.
func TestRenderedMatchesRecording(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	afterRegs := replayed(461)  // the api commands of 12:40:04
	duringCall := replayed(512) // call A bridged
	down := newState()
	down.gateways[0] = &gateway{name: "gw1", profile: "external", state: "FAIL_WAIT", ping: "DOWN",
		pingAt: 1795610495, fixedUptime: -1, stateAt: at("2026-11-25T12:41:30.027Z").Add(-18 * time.Second)}
	// FreeSWITCH stamps a channel's created_epoch when its SQL runs: the
	// recorded b-leg got the next second. The fake uses the event's.
	sqlLag := strings.NewReplacer(`"created_epoch":"1795610406"`, `"created_epoch":"1795610405"`,
		`"b_created_epoch":"1795610406"`, `"b_created_epoch":"1795610405"`)
	tests := []struct {
		file string
		got  string
		fix  *strings.Replacer
	}{
		{"api-sofia-xmlstatus-profile-internal-reg.txt", renderRegsXML(afterRegs, "internal", "", at("2026-11-25T12:40:04.231Z"), time.UTC), nil},
		{"api-sofia-status-profile-internal-reg.txt", renderRegsText(afterRegs, "internal", at("2026-11-25T12:40:04.694Z"), time.UTC), nil},
		{"api-show-registrations-json.txt", renderRegistrationsJSON(afterRegs), nil},
		{"api-show-channels-json.txt", renderChannelsJSON(duringCall), sqlLag},
		{"api-show-calls-json.txt", renderCallsJSON(duringCall), sqlLag},
		{"api-sofia-xmlstatus-gateway-down.txt", renderGatewaysXML(down, "", at("2026-11-25T12:41:30.027Z")), nil},
		{"api-sofia-status-gateway-gw1-down.txt", renderGatewayText(down, "gw1", at("2026-11-25T12:41:29.590Z")), nil},
		{"api-sofia-status.txt", renderSofiaStatus(duringCall, time.Now()), nil},
		{"api-sofia-xmlstatus.txt", renderSofiaXMLStatus(duringCall), nil},
	}
	for _, tc := range tests {
		want := string(RecordedBody(tc.file))
		if tc.fix != nil {
			want = tc.fix.Replace(want)
		}
		if tc.got != want {
			t.Errorf("%s:\n%s\nwant\n%s", tc.file, tc.got, want)
		}
	}
}

// sameBut reports the headers of got and want that differ, but for those
// named in ignore.
func sameBut(got, want *event, ignore ...string) []string {
	var diffs []string
	if len(got.headers) != len(want.headers) {
		diffs = append(diffs, "header count")
	}
	for i := range min(len(got.headers), len(want.headers)) {
		g, w := got.headers[i], want.headers[i]
		if g.name != w.name || g.value != w.value && !slices.Contains(ignore, g.name) {
			diffs = append(diffs, g.name+": "+g.value+" / "+w.name+": "+w.value)
		}
	}
	return diffs
}

var dateHeaders = []string{"Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Sequence"}

func TestRegistrations(t *testing.T) {
	s := New(t)
	c := login(t, s, "event plain CUSTOM sofia::register sofia::unregister sofia::expire")
	if got := s.Register("127.0.0.1", "1001"); got != "sip:1001@127.0.0.1:25001;transport=UDP" {
		t.Errorf("Register returned %q", got)
	}
	s.Register("127.0.0.1", "1002")
	alice := s.Register("example.com", "alice")
	reg := c.api("sofia xmlstatus profile internal reg")
	for _, want := range []string{"<user>1001@127.0.0.1</user>", "<user>1002@127.0.0.1</user>",
		"<user>alice@example.com</user>", "&lt;" + alice + "&gt;", "expsecs(3600)"} {
		if !strings.Contains(reg, want) {
			t.Errorf("xmlstatus reg lacks %s:\n%s", want, reg)
		}
	}
	s.Unregister("127.0.0.1", "1001")
	s.Expire("127.0.0.1", "1002")
	reg = c.api("sofia xmlstatus profile internal reg")
	if strings.Contains(reg, "1001@") || strings.Contains(reg, "1002@") || !strings.Contains(reg, "alice@example.com") {
		t.Errorf("after Unregister and Expire:\n%s", reg)
	}
	c.sync()
	if len(c.events) != 5 {
		t.Fatalf("%d events", len(c.events))
	}
	// Generated for the recorded users, they are the recorded events.
	for i, tc := range []struct {
		seq    int
		ignore []string
	}{{seqRegister1001, nil}, {seqUnregister1001, nil}, {seqExpire1002, []string{"expires"}}} {
		e := c.events[[]int{0, 3, 4}[i]]
		if d := sameBut(e, recordedEvent(tc.seq), append(tc.ignore, dateHeaders...)...); len(d) > 0 {
			t.Errorf("event for recorded %d differs: %q", tc.seq, d)
		}
	}
	a := c.events[2]
	for h, want := range map[string]string{"from-user": "alice", "from-host": "example.com",
		"contact": `"" <` + alice + ">", "network-port": "26000", "call-id": "reg-alice@example.com",
		"user-agent": "sipp-phone-alice", "domain_name": "example.com", "effective_caller_id_name": "Extension alice"} {
		if got := a.get(h); got != want {
			t.Errorf("alice's register %s = %q, want %q", h, got, want)
		}
	}
	s.Expire("example.com", "alice")
	c.sync()
	if e := c.events[len(c.events)-1]; e.get("user") != "alice" || e.get("host") != "example.com" {
		t.Errorf("alice's expire: user %q host %q", e.get("user"), e.get("host"))
	}
	exp := c.events[4]
	if d := time.Since(eventTime(exp)); d < 0 || d > 5*time.Second {
		t.Errorf("Event-Date-Timestamp %v ago", d)
	}
	if exp.get("expires") == "" || exp.get("expires") > exp.get("Event-Date-Timestamp")[:10] {
		t.Errorf("expire's expires %s is not an epoch up to now", exp.get("expires"))
	}
}

func TestGateways(t *testing.T) {
	s := New(t)
	c := login(t, s, "event plain CUSTOM sofia::gateway_state sofia::gateway_add sofia::gateway_delete")
	s.SetGateway("gw1", "FAILED", "DOWN")
	s.SetGateway("gw2", "REGED", "UP")
	c.sync()
	if len(c.events) != 3 {
		t.Fatalf("%d events", len(c.events))
	}
	if d := sameBut(c.events[0], recordedEvent(seqGatewayFailed), dateHeaders...); len(d) > 0 {
		t.Errorf("FAILED differs from the recording: %q", d)
	}
	if c.events[1].subclass() != "sofia::gateway_add" || c.events[1].get("Gateway") != "gw2" {
		t.Errorf("a new gateway is not added first: %v", c.events[1].headers)
	}
	xml := c.api("sofia xmlstatus gateway")
	for _, want := range []string{"<name>gw1</name>", "<state>FAILED</state>", "<status>DOWN</status>",
		"<name>gw2</name>", "<state>REGED</state>", "<status>UP</status>"} {
		if !strings.Contains(xml, want) {
			t.Errorf("xmlstatus gateway lacks %s:\n%s", want, xml)
		}
	}
	if st := c.api("sofia status"); !strings.Contains(st, "external::gw2") {
		t.Errorf("sofia status:\n%s", st)
	}
	s.DeleteGateway("gw2")
	if xml := c.api("sofia xmlstatus gateway gw2"); xml != "Invalid Gateway!\n" {
		t.Errorf("deleted gateway: %q", xml)
	}
	if r := c.api("sofia profile external killgw nosuch"); r != "-ERR no such gateway.\n" {
		t.Errorf("killgw nosuch: %q", r)
	}
	c.api("sofia profile external rescan")
	if xml := c.api("sofia xmlstatus gateway gw2"); !strings.Contains(xml, "<state>REGED</state>") {
		t.Errorf("rescan did not bring gw2 back:\n%s", xml)
	}
}

type showRows struct {
	RowCount int                 `json:"row_count"`
	Rows     []map[string]string `json:"rows"`
}

func show(t *testing.T, c *client, what string) showRows {
	t.Helper()
	var r showRows
	if err := json.Unmarshal([]byte(c.api("show "+what+" as json")), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLiveCall(t *testing.T) {
	s := New(t)
	c := login(t, s, "")
	a, b := s.StartCall("1001", "1002")
	ch := show(t, c, "channels")
	if ch.RowCount != 2 || ch.Rows[0]["uuid"] != a || ch.Rows[1]["uuid"] != b ||
		ch.Rows[0]["callstate"] != "ACTIVE" || ch.Rows[0]["dest"] != "1002" {
		t.Fatalf("show channels during the call: %+v", ch)
	}
	calls := show(t, c, "calls")
	if calls.RowCount != 1 || calls.Rows[0]["uuid"] != a || calls.Rows[0]["b_uuid"] != b {
		t.Errorf("show calls during the call: %+v", calls)
	}
	if got := c.api("uuid_exists " + b); got != "true" {
		t.Errorf("uuid_exists of a live leg: %q", got)
	}
	s.EndCall(a)
	if got := c.api("show channels as json"); got != "{\"row_count\": 0}\n" {
		t.Errorf("show channels after EndCall: %q", got)
	}
	// as mod_commands answers: no newline
	if got := c.api("uuid_exists " + a); got != "false" {
		t.Errorf("uuid_exists after EndCall: %q", got)
	}
}

// TestFlushInboundReg: `sofia profile internal flush_inbound_reg
// user@host` answers as sofia.c does and expires that user's
// registrations (sofia::expire), leaving the others.
func TestFlushInboundReg(t *testing.T) {
	s := New(t)
	c := login(t, s, "")
	s.Register("127.0.0.1", "1001")
	s.Register("127.0.0.1", "1002")
	body := c.api("sofia profile internal flush_inbound_reg 1001@127.0.0.1")
	if body != "+OK flushing all registrations matching specified call_id\n" {
		t.Fatalf("answer %q", body)
	}
	xml := c.api("sofia xmlstatus profile internal reg")
	if strings.Contains(xml, "sip:1001@") || !strings.Contains(xml, "sip:1002@") {
		t.Errorf("registrations after the flush:\n%s", xml)
	}
}

// TestXMLFlushCache checks xml_flush_cache against the answers FreeSWITCH
// 1.10.12 recorded: one entry for a user whose lookup is cached, none
// after that or for a user never looked up, all with no user.
func TestXMLFlushCache(t *testing.T) {
	one, none := string(RecordedBody("api-xml-flush-cache-1-entry.txt")), string(RecordedBody("api-xml-flush-cache-0-entries.txt"))
	s := New(t)
	c := login(t, s, "")
	s.Register("127.0.0.1", "1001")
	s.Register("127.0.0.1", "1002")
	s.Register("127.0.0.1", "1003")
	for _, tc := range []struct{ cmd, want string }{
		{"xml_flush_cache id 1001 127.0.0.1", one},
		{"xml_flush_cache id 1001 127.0.0.1", none},
		{"xml_flush_cache id 1009 127.0.0.1", none},
		{"xml_flush_cache id 1002", one}, // the global domain
		{"xml_flush_cache", "+OK cleared 1 entry\n"},
		{"xml_flush_cache id", none},
	} {
		if got := c.api(tc.cmd); got != tc.want {
			t.Errorf("%s: answer %q, want %q", tc.cmd, got, tc.want)
		}
	}
}
