package freeswitch

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
)

// recordedJSONEvent reads an event recorded as JSON headers (a CDR's Raw).
func recordedJSONEvent(t *testing.T, name string) Event {
	t.Helper()
	var h map[string]string
	if err := json.Unmarshal(esltest.Recorded(name), &h); err != nil {
		t.Fatal(err)
	}
	return NewEvent(h, nil)
}

// TestCarrierDIDInbound: a carrier that is no provisioned gateway called a
// DID on FreeSWITCH 1.10.12's external profile (recorded live): both legs
// are inbound with no gateway, from mod_json_cdr and from the ESL events
// alike, the b-leg's account the phone reached. They were internal
// (issue 12 item 11).
func TestCarrierDIDInbound(t *testing.T) {
	provisioned := func(name string) bool { return name == "gw1" }
	opt := JSONCDROptions{Switch: "fs1", IsGateway: provisioned}
	calls := NewCalls(CallOptions{Switch: "fs1", IsGateway: provisioned})
	for _, leg := range []struct{ name, account, dialed string }{
		{"a", "7633873", "+1555633873"},
		{"b", "7633873", "7633873"},
	} {
		js, err := ParseJSONCDR(esltest.Recorded("did-external-"+leg.name+"-leg.json"), opt)
		if err != nil {
			t.Fatal(err)
		}
		if js.Direction != cdr.DirectionInbound || js.Gateway != "" || js.Account != leg.account ||
			js.Dialed != leg.dialed || js.CallerNumber != "+15550001111" || js.Disposition != cdr.Answered {
			t.Errorf("%s-leg from json_cdr: %s", leg.name, formatRecord(js))
		}
		_, _, recs := calls.Apply(recordedJSONEvent(t, "did-external-"+leg.name+"-leg.event.json"))
		if len(recs) != 1 {
			t.Fatalf("%s-leg: %d CDRs from CHANNEL_HANGUP_COMPLETE", leg.name, len(recs))
		}
		if d := recordDiff(recs[0], js); d != "" {
			t.Errorf("%s-leg: the ESL CDR differs from json_cdr's: %s", leg.name, d)
		}

		// The outside is what the options say: neither the profile nor
		// the context named, the same legs are internal.
		elsewhere := opt
		elsewhere.OutsideProfiles, elsewhere.OutsideContexts = []string{"carriers"}, []string{"from-carriers"}
		if rec, _ := ParseJSONCDR(esltest.Recorded("did-external-"+leg.name+"-leg.json"), elsewhere); rec.Direction != cdr.DirectionInternal {
			t.Errorf("%s-leg with other outside profiles and contexts: %s", leg.name, rec.Direction)
		}
	}
}

// TestLegRecordOutside covers the outside rule on its own: the profile of
// the a-leg's channel or of a b-leg's originator, or the dialplan context.
func TestLegRecordOutside(t *testing.T) {
	base := map[string]string{"uuid": "u1", "start_uepoch": "1795610400000000", "end_uepoch": "1795610401000000"}
	tests := []struct {
		name string
		vars map[string]string
		prof CallerProfile
		want cdr.Direction
	}{
		{"a-leg on external", map[string]string{"direction": "inbound", "channel_name": "sofia/external/+15550001111@192.0.2.9"},
			CallerProfile{}, cdr.DirectionInbound},
		{"a-leg on internal in public (unauthenticated)", map[string]string{"direction": "inbound", "channel_name": "sofia/internal/555@192.0.2.9"},
			CallerProfile{Context: "public"}, cdr.DirectionInbound},
		{"a-leg of a phone", map[string]string{"direction": "inbound", "channel_name": "sofia/internal/1001@127.0.0.1", "user_name": "1001"},
			CallerProfile{Context: "default"}, cdr.DirectionInternal},
		{"b-leg of a call from external", map[string]string{"direction": "outbound", "channel_name": "sofia/internal/1002@127.0.0.1", "dialed_user": "1002"},
			CallerProfile{Context: "default", OriginatorChannel: "sofia/external/+15550001111@192.0.2.9"}, cdr.DirectionInbound},
		{"b-leg that inherited public", map[string]string{"direction": "outbound", "channel_name": "sofia/internal/1002@127.0.0.1", "dialed_user": "1002"},
			CallerProfile{Context: "public"}, cdr.DirectionInbound},
		{"b-leg of a phone's call", map[string]string{"direction": "outbound", "channel_name": "sofia/internal/1002@127.0.0.1", "dialed_user": "1002"},
			CallerProfile{Context: "default", OriginatorChannel: "sofia/internal/1001@127.0.0.1"}, cdr.DirectionInternal},
		{"a gateway channel is no profile", map[string]string{"direction": "inbound", "channel_name": "sofia/gateway/unknown/555"},
			CallerProfile{Context: "default"}, cdr.DirectionInternal},
	}
	for _, tt := range tests {
		vars := map[string]string{}
		for k, v := range base {
			vars[k] = v
		}
		for k, v := range tt.vars {
			vars[k] = v
		}
		rec, err := LegRecord(vars, tt.prof, JSONCDROptions{Switch: "fs1", IsGateway: func(string) bool { return false }})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if rec.Direction != tt.want || rec.Gateway != "" {
			t.Errorf("%s: direction %s gateway %q, want %s and none", tt.name, rec.Direction, rec.Gateway, tt.want)
		}
	}
}

// TestJSONCDREndpointCarrierDID: the recorded bodies posted to the
// endpoint as mod_json_cdr posts them reach the sink inbound.
func TestJSONCDREndpointCarrierDID(t *testing.T) {
	_, sink, h := startCDREndpoint(t, Config{CDRAckTimeout: time.Second, IsGateway: func(string) bool { return false }})
	for _, name := range []string{"did-external-a-leg.json", "did-external-b-leg.json"} {
		body := esltest.Recorded(name)
		if code := postCDR(h, "application/json", body); code != http.StatusOK {
			t.Fatalf("%s: %d", name, code)
		}
		want, _ := ParseJSONCDR(body, JSONCDROptions{Switch: "fs1"})
		got := sink.byCall(want.CallID)
		if len(got) != 1 || got[0].Direction != cdr.DirectionInbound || got[0].Gateway != "" {
			t.Errorf("%s: stored %+v, want one inbound record with no gateway", name, got)
		}
	}
}
