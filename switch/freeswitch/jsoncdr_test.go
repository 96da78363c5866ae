package freeswitch

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var testOpt = JSONCDROptions{Switch: "fs1"}

// recorded returns the recorded mod_json_cdr bodies by file name (kept in
// esltest's testdata; their golden records are in testdata/cdr).
func recorded(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, n := range esltest.RecordedNames("call-*-leg.json") {
		out[n] = esltest.Recorded(n)
	}
	if len(out) != 9 {
		t.Fatalf("%d recorded bodies, want 9", len(out))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// withoutRaw marshals a Record without its Raw for comparisons.
func withoutRaw(t testing.TB, r cdr.Record) string {
	t.Helper()
	r.Raw = nil
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestParseJSONCDRGolden compares the Record of every recorded body with
// its .golden.json (Raw left out: it is the body); -update rewrites them.
func TestParseJSONCDRGolden(t *testing.T) {
	bodies := recorded(t)
	for _, name := range sortedKeys(bodies) {
		t.Run(name, func(t *testing.T) {
			rec, err := ParseJSONCDR(bodies[name], testOpt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rec.Raw, bytes.TrimSpace(bodies[name])) {
				t.Error("Raw is not the body")
			}
			got := []byte(withoutRaw(t, rec) + "\n")
			golden := filepath.Join("testdata", "cdr", strings.TrimSuffix(name, ".json")+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("record differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

// TestParseJSONCDRRecordedCalls checks the records field by field against
// what ../shared/testdata/freeswitch/README.md says happened.
func TestParseJSONCDRRecordedCalls(t *testing.T) {
	type want struct {
		linkedTo          string // file of the a-leg ("" for an a-leg)
		account, dialed   string
		destination       string
		answered          bool
		billsec, duration int
		disposition       cdr.Disposition
		cause             int
		causeText         string
		sip               int
	}
	calls := map[string]want{
		// A: rang 1.5 s, answered, caller BYE after 6 s: 6/8 on both legs.
		"call-a-1001-to-1002-a-leg.json": {"", "1001", "1002", "1002", true, 6, 8, cdr.Answered, 16, "NORMAL_CLEARING", 200},
		"call-a-1001-to-1002-b-leg.json": {"call-a-1001-to-1002-a-leg.json", "1002", "1002", "1002", true, 6, 8, cdr.Answered, 16, "NORMAL_CLEARING", 200},
		// B: 1003 not registered, no b-leg, caller got 480. FreeSWITCH
		// records q850 16 for USER_NOT_REGISTERED.
		"call-b-1001-to-1003-a-leg.json": {"", "1001", "1003", "1003", false, 0, 0, cdr.Failed, 16, "USER_NOT_REGISTERED", 480},
		// C: FreeSWITCH answered (tone, echo) and hung up: 5/5.
		"call-c-1001-to-9196-a-leg.json": {"", "1001", "9196", "echo", true, 5, 5, cdr.Answered, 16, "NORMAL_CLEARING", 200},
		// D: 486 from 1002, passed on to the caller.
		"call-d-1001-to-1002-a-leg.json": {"", "1001", "1002", "1002", false, 0, 0, cdr.Busy, 17, "USER_BUSY", 486},
		"call-d-1001-to-1002-b-leg.json": {"call-d-1001-to-1002-a-leg.json", "1002", "1002", "1002", false, 0, 0, cdr.Busy, 17, "USER_BUSY", 486},
		// E: rang until call_timeout=10, b-leg CANCELled (487), caller got 480.
		"call-e-1001-to-1002-a-leg.json": {"", "1001", "1002", "1002", false, 0, 10, cdr.NoAnswer, 19, "NO_ANSWER", 480},
		"call-e-1001-to-1002-b-leg.json": {"call-e-1001-to-1002-a-leg.json", "1002", "1002", "1002", false, 0, 10, cdr.NoAnswer, 19, "NO_ANSWER", 487},
		// F: dialplan hangup UNALLOCATED_NUMBER, caller got 404.
		"call-f-1001-to-9999-a-leg.json": {"", "1001", "9999", "hangup", false, 0, 0, cdr.Failed, 1, "UNALLOCATED_NUMBER", 404},
	}
	bodies := recorded(t)
	recs := map[string]cdr.Record{}
	for name, b := range bodies {
		rec, err := ParseJSONCDR(b, testOpt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		recs[name] = rec
	}
	for _, name := range sortedKeys(calls) {
		w, r := calls[name], recs[name]
		got := want{w.linkedTo, r.Account, r.Dialed, r.Destination, r.Answer != nil, r.Billsec, r.Duration, r.Disposition, r.Cause, r.CauseText, r.SIPStatus}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, w)
		}
		wantLinked := r.CallID
		if w.linkedTo != "" {
			wantLinked = recs[w.linkedTo].CallID
		}
		if r.LinkedID != wantLinked {
			t.Errorf("%s: linked to %s, want %s", name, r.LinkedID, wantLinked)
		}
		if r.Switch != "fs1" || r.Direction != cdr.DirectionInternal || r.Domain != "127.0.0.1" ||
			r.CallerNumber != "1001" || r.Gateway != "" {
			t.Errorf("%s: %+v", name, r)
		}
		if r.Answer != nil && (r.End.Sub(*r.Answer)-time.Duration(r.Billsec)*time.Second).Abs() > time.Second {
			t.Errorf("%s: answer %v to end %v is not billsec %d", name, r.Answer, r.End, r.Billsec)
		}
		if (r.End.Sub(r.Start) - time.Duration(r.Duration)*time.Second).Abs() > time.Second {
			t.Errorf("%s: start %v to end %v is not duration %d", name, r.Start, r.End, r.Duration)
		}
	}
	// The a-leg's caller name is the phone's; FreeSWITCH sends the b-leg
	// the account's effective caller ID.
	if n := recs["call-a-1001-to-1002-a-leg.json"].CallerName; n != "Phone 1001" {
		t.Errorf("a-leg caller name %q", n)
	}
	if n := recs["call-a-1001-to-1002-b-leg.json"].CallerName; n != "Extension 1001" {
		t.Errorf("b-leg caller name %q", n)
	}
	if r := recs["call-a-1001-to-1002-a-leg.json"]; r.Codec != "PCMU" || r.UserAgent != "sipp-phone-1001" {
		t.Errorf("codec %q user agent %q", r.Codec, r.UserAgent)
	}
}

// fsURLEncode encodes s as FreeSWITCH's switch_url_encode does.
func fsURLEncode(s string) string {
	const unsafe = "\r\n #%&+:;<=>?@[\\]^`{|}\""
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || strings.IndexByte(unsafe, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// encodeValues rewrites a body as encode-values=true would have: every
// variable's value URL-encoded, nothing else.
func encodeValues(t testing.TB, body []byte) []byte {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	var vars map[string]string
	if err := json.Unmarshal(doc["variables"], &vars); err != nil {
		t.Fatal(err)
	}
	for k, v := range vars {
		vars[k] = fsURLEncode(v)
	}
	var err error
	if doc["variables"], err = json.Marshal(vars); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestParseJSONCDREncodedValues: FreeSWITCH's default encode-values=true
// gives the same Records as the plain values recorded.
func TestParseJSONCDREncodedValues(t *testing.T) {
	bodies := recorded(t)
	for _, name := range sortedKeys(bodies) {
		plain, err := ParseJSONCDR(bodies[name], testOpt)
		if err != nil {
			t.Fatal(err)
		}
		enc := encodeValues(t, bodies[name])
		if !bytes.Contains(enc, []byte(`"start_stamp":"2026-11-25%20`)) {
			t.Fatalf("%s: encoding did not happen", name)
		}
		got, err := ParseJSONCDR(enc, testOpt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a, b := withoutRaw(t, plain), withoutRaw(t, got); a != b {
			t.Errorf("%s: encoded values give\n%s\nwant\n%s", name, b, a)
		}
	}

	// A '+' is %2B when encoded and stays a '+'; plain values holding a
	// '%' are not decoded.
	body := func(vars string) []byte {
		return []byte(`{"variables":{"uuid":"u1","start_epoch":"1795610405","end_epoch":"1795610413",` + vars + `}}`)
	}
	for _, tt := range []struct{ vars, number, name string }{
		{`"caller_id_number":"%2B33123456789","caller_id_name":"Jos%C3%A9%20M."`, "+33123456789", "José M."},
		{`"caller_id_number":"+33123456789","caller_id_name":"100%25 sure"`, "+33123456789", "100%25 sure"},
		{`"caller_id_number":"%2B33","caller_id_name":"x","app":"tone_stream://%(2000,0,440)"`, "%2B33", "x"},
	} {
		r, err := ParseJSONCDR(body(tt.vars), testOpt)
		if err != nil {
			t.Fatal(err)
		}
		if r.CallerNumber != tt.number || r.CallerName != tt.name {
			t.Errorf("%s: got %q %q, want %q %q", tt.vars, r.CallerNumber, r.CallerName, tt.number, tt.name)
		}
	}
}

// TestParseJSONCDRPost covers the three envelopes of mod_json_cdr.c
// (encode=false|true|base64), with and without encode-values.
func TestParseJSONCDRPost(t *testing.T) {
	bodies := recorded(t)
	for _, name := range sortedKeys(bodies) {
		body := bytes.TrimSpace(bodies[name])
		want, err := ParseJSONCDR(body, testOpt)
		if err != nil {
			t.Fatal(err)
		}
		b64 := base64.StdEncoding.EncodeToString(body)
		posts := []struct {
			name, contentType string
			body              []byte
		}{
			{"encode=false", "application/json", body},
			{"encode=false, no content type", "", body},
			{"encode=true", "application/x-www-form-urlencoded", []byte("cdr=" + fsURLEncode(string(body)))},
			{"encode=true, charset", "application/x-www-form-urlencoded; charset=utf-8", []byte("cdr=" + fsURLEncode(string(body)))},
			{"encode=base64", "application/x-www-form-base64-encoded", []byte("cdr=" + b64)},
			{"encode=base64, no content type", "", []byte("cdr=" + b64 + "\n")},
			{"encode=base64 sent as urlencoded", "application/x-www-form-urlencoded", []byte("cdr=" + b64)},
		}
		for _, p := range posts {
			got, err := ParseJSONCDRPost(p.contentType, p.body, testOpt)
			if err != nil {
				t.Errorf("%s %s: %v", name, p.name, err)
				continue
			}
			if !bytes.Equal(got.Raw, body) {
				t.Errorf("%s %s: Raw is not the JSON document", name, p.name)
			}
			if a, b := withoutRaw(t, want), withoutRaw(t, got); a != b {
				t.Errorf("%s %s: got\n%s\nwant\n%s", name, p.name, b, a)
			}
		}
		// encode=true with encode-values=true: both layers.
		enc := encodeValues(t, body)
		got, err := ParseJSONCDRPost("application/x-www-form-urlencoded", []byte("cdr="+fsURLEncode(string(enc))), testOpt)
		if err != nil {
			t.Fatalf("%s double encoding: %v", name, err)
		}
		if a, b := withoutRaw(t, want), withoutRaw(t, got); a != b {
			t.Errorf("%s double encoding: got\n%s\nwant\n%s", name, b, a)
		}
	}
}

// TestParseJSONCDRCallflowShapes: callflow as an array (1.10), a single
// object, or a repeated key (older versions), newest profile first.
func TestParseJSONCDRCallflowShapes(t *testing.T) {
	const vars = `"variables":{"uuid":"u1","start_uepoch":"1795610405000000","end_uepoch":"1795610413000000"}`
	newest := `{"profile_index":"2","caller_profile":{"caller_id_number":"1001","caller_id_name":"Alice","destination_number":"2002","uuid":"u1"}}`
	oldest := `{"profile_index":"1","caller_profile":{"caller_id_number":"1001","caller_id_name":"Alice","destination_number":"*8","uuid":"u1"}}`
	tests := []struct{ name, body, dialed string }{
		{"array", `{` + vars + `,"callflow":[` + newest + `,` + oldest + `]}`, "2002"},
		{"object", `{` + vars + `,"callflow":` + newest + `}`, "2002"},
		{"repeated key", `{` + vars + `,"callflow":` + newest + `,"callflow":` + oldest + `}`, "2002"},
		{"no callflow: variables", `{"variables":{"uuid":"u1","start_epoch":"1795610405","end_epoch":"1795610413","caller_id_number":"1001","destination_number":"3003"}}`, "3003"},
		{"callflow not an object", `{` + vars + `,"callflow":"x"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseJSONCDR([]byte(tt.body), testOpt)
			if err != nil {
				t.Fatal(err)
			}
			if r.Dialed != tt.dialed || r.Duration != 8 {
				t.Errorf("dialed %q duration %d, want %q 8", r.Dialed, r.Duration, tt.dialed)
			}
		})
	}

	t.Run("times from the callflow", func(t *testing.T) {
		body := `{"variables":{"uuid":"u1"},"callflow":[` +
			`{"caller_profile":{"uuid":"u1"},"times":{"created_time":"1795610410000000","answered_time":"1795610411000000","hangup_time":"1795610420000000"}},` +
			`{"caller_profile":{"uuid":"u1"},"times":{"created_time":"1795610405000000","answered_time":"0","hangup_time":"1795610410000000"}}]}`
		r, err := ParseJSONCDR([]byte(body), testOpt)
		if err != nil {
			t.Fatal(err)
		}
		if r.Start.Unix() != 1795610405 || r.Answer == nil || r.Answer.Unix() != 1795610411 || r.End.Unix() != 1795610420 ||
			r.Duration != 15 || r.Billsec != 9 || r.Disposition != cdr.Answered {
			t.Errorf("got %+v", r)
		}
	})
}

// TestLegRecordDirection covers the mapping of FreeSWITCH's per-leg
// direction to the call's, with gateways on either side.
func TestLegRecordDirection(t *testing.T) {
	base := func(extra map[string]string) map[string]string {
		v := map[string]string{
			"uuid": "u2", "start_epoch": "1795610405", "answer_epoch": "1795610406", "end_epoch": "1795610413",
			"hangup_cause": "NORMAL_CLEARING", "hangup_cause_q850": "16",
		}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	onlyGW1 := func(name string) bool { return name == "gw1" }
	tests := []struct {
		name      string
		vars      map[string]string
		prof      CallerProfile
		isGateway func(string) bool
		direction cdr.Direction
		account   string
		gateway   string
		dest      string
		domain    string
	}{{
		name: "a-leg phone to phone",
		vars: base(map[string]string{"direction": "inbound", "user_name": "1001", "domain_name": "pbx.example",
			"dialed_user": "1002", "last_app": "bridge", "last_arg": "user/1002@pbx.example"}),
		direction: cdr.DirectionInternal, account: "1001", dest: "1002", domain: "pbx.example",
	}, {
		name: "a-leg phone to gateway",
		vars: base(map[string]string{"direction": "inbound", "user_name": "1001", "domain_name": "pbx.example",
			"last_app": "bridge", "last_arg": "{origination_caller_id_number=1001}sofia/gateway/gw1/0033123456789|sofia/gateway/gw2/0033123456789"}),
		direction: cdr.DirectionOutbound, account: "1001", gateway: "gw1", dest: "0033123456789@gw1", domain: "pbx.example",
	}, {
		name:      "a-leg phone to gateway, from the originatee profile",
		vars:      base(map[string]string{"direction": "inbound", "sip_auth_username": "1001", "sip_req_host": "pbx.example"}),
		prof:      CallerProfile{OriginateeChannels: []string{"sofia/gateway/external::gw1/555"}},
		direction: cdr.DirectionOutbound, account: "1001", gateway: "gw1", dest: "555@gw1", domain: "pbx.example",
	}, {
		name: "b-leg to gateway",
		vars: base(map[string]string{"direction": "outbound", "sip_gateway_name": "gw1", "originator": "u1",
			"channel_name": "sofia/external/0033123456789"}),
		prof:      CallerProfile{Username: "1001", DestinationNumber: "0033123456789"},
		direction: cdr.DirectionOutbound, account: "1001", gateway: "gw1", dest: "0033123456789@gw1",
	}, {
		name: "a-leg from gateway to a phone",
		vars: base(map[string]string{"direction": "inbound", "sip_gateway": "gw1", "dialed_user": "1002",
			"dialed_domain": "pbx.example", "sip_req_host": "192.0.2.2"}),
		direction: cdr.DirectionInbound, account: "1002", gateway: "gw1", dest: "1002", domain: "pbx.example",
	}, {
		name:      "b-leg to a phone of a call from a gateway channel",
		vars:      base(map[string]string{"direction": "outbound", "dialed_user": "1002", "dialed_domain": "pbx.example", "originator": "u1"}),
		prof:      CallerProfile{OriginatorChannel: "sofia/gateway/gw1/+33123456789"},
		direction: cdr.DirectionInbound, account: "1002", gateway: "gw1", dest: "1002", domain: "pbx.example",
	}, {
		name:      "IsGateway refuses an unknown gateway",
		vars:      base(map[string]string{"direction": "outbound", "sip_gateway_name": "other", "dialed_user": ""}),
		prof:      CallerProfile{Username: "1001", DestinationNumber: "555"},
		isGateway: onlyGW1,
		direction: cdr.DirectionInternal, dest: "555",
	}, {
		name:      "IsGateway accepts gw1",
		vars:      base(map[string]string{"direction": "outbound", "channel_name": "sofia/gateway/gw1/555"}),
		prof:      CallerProfile{Username: "1001", DestinationNumber: "555"},
		isGateway: onlyGW1,
		direction: cdr.DirectionOutbound, account: "1001", gateway: "gw1", dest: "555@gw1",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := LegRecord(tt.vars, tt.prof, JSONCDROptions{Switch: "fs1", IsGateway: tt.isGateway})
			if err != nil {
				t.Fatal(err)
			}
			if r.Direction != tt.direction || r.Account != tt.account || r.Gateway != tt.gateway ||
				r.Destination != tt.dest || r.Domain != tt.domain {
				t.Errorf("got %s account=%q gateway=%q dest=%q domain=%q, want %s %q %q %q %q",
					r.Direction, r.Account, r.Gateway, r.Destination, r.Domain,
					tt.direction, tt.account, tt.gateway, tt.dest, tt.domain)
			}
		})
	}
}

func TestDisposition(t *testing.T) {
	tests := []struct {
		cause    string
		answered bool
		want     cdr.Disposition
	}{
		{"NORMAL_CLEARING", true, cdr.Answered},
		{"MEDIA_TIMEOUT", true, cdr.Answered},
		{"NORMAL_CLEARING", false, cdr.NoAnswer},
		{"USER_BUSY", false, cdr.Busy},
		{"NO_ANSWER", false, cdr.NoAnswer},
		{"ORIGINATOR_CANCEL", false, cdr.NoAnswer},
		{"NO_USER_RESPONSE", false, cdr.NoAnswer},
		{"LOSE_RACE", false, cdr.NoAnswer},
		{"NORMAL_TEMPORARY_FAILURE", false, cdr.Congestion},
		{"SWITCH_CONGESTION", false, cdr.Congestion},
		{"NORMAL_CIRCUIT_CONGESTION", false, cdr.Congestion},
		{"GATEWAY_DOWN", false, cdr.Congestion},
		{"USER_NOT_REGISTERED", false, cdr.Failed},
		{"UNALLOCATED_NUMBER", false, cdr.Failed},
		{"CALL_REJECTED", false, cdr.Failed},
		{"", false, cdr.Failed},
	}
	for _, tt := range tests {
		if got := Disposition(tt.cause, tt.answered); got != tt.want {
			t.Errorf("Disposition(%q, %v) = %s, want %s", tt.cause, tt.answered, got, tt.want)
		}
	}
}

func TestSIPStatus(t *testing.T) {
	tests := []struct {
		name     string
		vars     map[string]string
		answered bool
		want     int
	}{
		{"refused, b-leg status passed on", map[string]string{"sip_hangup_disposition": "send_refuse", "hangup_cause": "USER_BUSY", "last_bridge_proto_specific_hangup_cause": "sip:486"}, false, 486},
		{"refused, sip_ignore_remote_cause", map[string]string{"sip_hangup_disposition": "send_refuse", "hangup_cause": "NO_ANSWER", "last_bridge_proto_specific_hangup_cause": "sip:486", "sip_ignore_remote_cause": "true"}, false, 480},
		{"refused by respond", map[string]string{"sip_hangup_disposition": "send_refuse", "last_app": "respond", "last_arg": "403 Forbidden", "hangup_cause": "CALL_REJECTED"}, false, 403},
		{"refused for a cause", map[string]string{"sip_hangup_disposition": "send_refuse", "hangup_cause": "UNALLOCATED_NUMBER"}, false, 404},
		{"refused, unknown cause", map[string]string{"sip_hangup_disposition": "send_refuse", "hangup_cause": "USER_NOT_REGISTERED"}, false, 480},
		{"b-leg got a final response", map[string]string{"sip_hangup_disposition": "recv_refuse", "sip_term_status": "486"}, false, 486},
		{"b-leg cancelled", map[string]string{"sip_hangup_disposition": "send_cancel", "sip_invite_failure_status": "487"}, false, 487},
		{"caller cancelled", map[string]string{"sip_hangup_disposition": "recv_cancel", "hangup_cause": "ORIGINATOR_CANCEL"}, false, 487},
		{"answered", map[string]string{"sip_hangup_disposition": "send_bye"}, true, 200},
		{"proto cause only", map[string]string{"proto_specific_hangup_cause": "sips:503"}, false, 503},
		{"nothing known", map[string]string{"sip_term_status": "abc"}, false, 0},
	}
	for _, tt := range tests {
		v := func(k string) string { return tt.vars[k] }
		if got := sipStatus(v, tt.vars["hangup_cause"], tt.answered); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestParseJSONCDRMalformed: bad records are refused with an error that
// wraps ErrMalformedCDR, never a panic.
func TestParseJSONCDRMalformed(t *testing.T) {
	good := `"uuid":"u1","start_epoch":"1795610405","end_epoch":"1795610413"`
	tests := []struct{ name, body, reason string }{
		{"empty", ``, "not JSON"},
		{"not JSON", `<xml/>`, "not JSON"},
		{"array", `[1,2]`, "not a JSON object"},
		{"truncated", `{"variables":{` + good + `,"billsec":"5"`, "not JSON"},
		{"trailing data", `{"variables":{` + good + `}} {}`, "data after the JSON object"},
		{"no uuid", `{"variables":{"start_epoch":"1795610405","end_epoch":"1795610413"}}`, "no uuid"},
		{"no end", `{"variables":{"uuid":"u1","start_epoch":"1795610405"}}`, "no end time"},
		{"no start", `{"variables":{"uuid":"u1","end_epoch":"1795610405"}}`, "no start time"},
		{"end before start", `{"variables":{"uuid":"u1","start_epoch":"1795610413","end_epoch":"1795610405"}}`, "end before start"},
		{"bad epoch", `{"variables":{"uuid":"u1","start_uepoch":"soon","end_epoch":"1795610405"}}`, "start_uepoch"},
		{"epoch out of range", `{"variables":{"uuid":"u1","start_epoch":"1795610405","end_epoch":"99999999999999"}}`, "end_epoch"},
		{"bad billsec", `{"variables":{` + good + `,"billsec":"-3"}}`, "billsec"},
		{"variables not an object of strings", `{"variables":{"uuid":{"a":1}` + `}}`, "no uuid"},
		{"variables garbage", `{"variables":[1]}`, "no uuid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJSONCDR([]byte(tt.body), testOpt)
			if !errors.Is(err, ErrMalformedCDR) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("err = %v, want ErrMalformedCDR with %q", err, tt.reason)
			}
		})
	}
	posts := []struct{ name, contentType, body, reason string }{
		{"form without cdr", "application/x-www-form-urlencoded", "uuid=u1", "neither JSON nor a cdr= form"},
		{"plain text", "text/plain", "hello", "neither JSON nor a cdr= form"},
		{"bad base64", "application/x-www-form-base64-encoded", "cdr=!!!", "neither JSON nor base64"},
		{"base64 of no object", "application/x-www-form-base64-encoded", "cdr=" + base64.StdEncoding.EncodeToString([]byte("[1]")), "does not hold a JSON object"},
		{"bad escape", "application/x-www-form-urlencoded", "cdr=%zz", "neither JSON nor a cdr= form"},
	}
	for _, tt := range posts {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJSONCDRPost(tt.contentType, []byte(tt.body), testOpt)
			if !errors.Is(err, ErrMalformedCDR) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("err = %v, want ErrMalformedCDR with %q", err, tt.reason)
			}
		})
	}
	if _, err := ParseJSONCDR([]byte(`{}`), JSONCDROptions{}); err == nil || errors.Is(err, ErrMalformedCDR) {
		t.Errorf("no switch: %v", err)
	}
}
