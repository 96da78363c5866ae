package asterisk

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
)

func TestParseEvent(t *testing.T) {
	dial := `{"type":"Dial","timestamp":"2026-11-25T12:35:10.166+0000","dialstatus":"ANSWER","forward":"","dialstring":"",` +
		`"caller":{"id":"1795610108.0","name":"PJSIP/1001-00000000","state":"Ring","caller":{"name":"Alice","number":"1001"},` +
		`"dialplan":{"context":"phones","exten":"1002","priority":2,"app_name":"Dial","app_data":"PJSIP/1002,8"},"creationtime":"2026-11-25T12:35:08.643+0000"},` +
		`"peer":{"id":"1795610108.1","name":"PJSIP/1002-00000001","state":"Up","creationtime":"2026-11-25T12:35:08.649+0000"},` +
		`"asterisk_id":"02:fc:00:00:00:01","application":"recorder"}`
	ev, err := ParseEvent([]byte(dial))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "Dial" || ev.DialStatus != "ANSWER" || ev.Application != "recorder" || ev.AsteriskID != "02:fc:00:00:00:01" ||
		!ev.Timestamp.Equal(time.Date(2026, 11, 25, 12, 35, 10, 166e6, time.UTC)) || ev.Channel != nil ||
		ev.Caller == nil || ev.Caller.ID != "1795610108.0" || ev.Caller.Caller.Name != "Alice" || ev.Caller.Dialplan.AppData != "PJSIP/1002,8" ||
		!ev.Caller.CreationTime.Equal(time.Date(2026, 11, 25, 12, 35, 8, 643e6, time.UTC)) ||
		ev.Peer == nil || ev.Peer.State != "Up" || string(ev.Raw) != dial {
		t.Errorf("Dial: %+v", ev)
	}

	tests := []struct {
		name, in string
		check    func(Event) bool
		err      string // substring of the error; "" for none
	}{
		{"destroyed with null tech_cause", `{"type":"ChannelDestroyed","timestamp":"2026-11-25T12:35:15.179+0000","cause":16,"cause_txt":"Normal Clearing","tech_cause":null,"channel":{"id":"1.0"}}`,
			func(e Event) bool {
				return e.Cause == 16 && e.CauseText == "Normal Clearing" && e.TechCause == 0 && e.Channel.ID == "1.0"
			}, ""},
		{"soft hangup request", `{"cause":16,"soft":true,"type":"ChannelHangupRequest","timestamp":"2026-11-25T12:35:27.063+0000","channel":{"id":"1.3"}}`,
			func(e Event) bool { return e.Soft && e.Cause == 16 }, ""},
		{"varset", `{"variable":"DIALSTATUS","value":"BUSY","type":"ChannelVarset","timestamp":"2026-11-25T12:35:30.893+0000","channel":{"id":"1.4"}}`,
			func(e Event) bool { return e.Variable == "DIALSTATUS" && e.Value == "BUSY" }, ""},
		{"global varset", `{"variable":"G","value":"1","type":"ChannelVarset","timestamp":"2026-11-25T12:35:30.893+0000"}`,
			func(e Event) bool { return e.Channel == nil }, ""},
		{"peer status: peer is not a channel", `{"type":"PeerStatusChange","timestamp":"2026-11-25T12:34:41.678+0000","endpoint":{"technology":"PJSIP","resource":"1001"},"peer":{"peer_status":"Reachable"}}`,
			func(e Event) bool { return e.Type == "PeerStatusChange" && e.Peer == nil }, ""},
		{"unknown type", `{"type":"ChannelTalkingStarted","timestamp":"2026-11-25T12:00:00Z","channel":{"id":"1.1"}}`,
			func(e Event) bool { return e.Type == "ChannelTalkingStarted" && e.Channel.ID == "1.1" }, ""},
		{"stasis args and bridge", `{"type":"ChannelEnteredBridge","timestamp":"2026-11-25T12:35:46.661+0000","args":["fixture"],"bridge":{"id":"b","technology":"simple_bridge","channels":["1.8"]},"channel":{"id":"1.8"}}`,
			func(e Event) bool { return e.Bridge.ID == "b" && len(e.Bridge.Channels) == 1 && e.Args[0] == "fixture" }, ""},
		{"no timestamp", `{"type":"ChannelCreated","channel":{"id":"1.1"}}`,
			func(e Event) bool { return e.Timestamp.IsZero() }, ""},
		{"empty", ``, nil, "not an ARI event"},
		{"array", `[{"type":"Dial"}]`, nil, "not an ARI event"},
		{"no type", `{"timestamp":"2026-11-25T12:00:00Z"}`, nil, "no type"},
		{"bad timestamp", `{"type":"ChannelCreated","timestamp":"yesterday"}`, nil, "timestamp"},
		{"bad creationtime", `{"type":"ChannelCreated","channel":{"id":"1","creationtime":"soon"}}`, nil, "creationtime"},
		{"cause as text", `{"type":"ChannelDestroyed","cause":"16"}`, nil, "cause"},
		{"dial peer not a channel", `{"type":"Dial","peer":"1.1"}`, nil, "peer"},
		{"truncated", `{"type":"Dial","caller":{"id":"1.0"`, nil, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseEvent([]byte(tt.in))
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one containing %q", err, tt.err)
				}
				if strings.Contains(tt.err, "ARI event") && !errors.Is(err, ErrNotEvent) {
					t.Errorf("err %v is not ErrNotEvent", err)
				}
			case err != nil:
				t.Fatal(err)
			case !tt.check(ev):
				t.Errorf("%+v", ev)
			}
		})
	}
}

func TestParseChannels(t *testing.T) {
	chs := readChannels(t, "channels-active-call.json")
	if len(chs) != 2 || chs[1].ID != "1795610108.0" || chs[1].Dialplan.AppName != "Dial" ||
		!chs[1].CreationTime.Equal(time.Date(2026, 11, 25, 12, 35, 8, 643e6, time.UTC)) {
		t.Errorf("%+v", chs)
	}
	if _, err := ParseChannels([]byte(`{"message":"Authentication required"}`)); err == nil {
		t.Error("an error object parsed as a channel list")
	}
}

// FuzzParseEvent feeds ParseEvent damaged ARI messages, seeded with every
// recorded line. It must never panic, and whatever it accepts must fold
// into Calls (after the recorded calls' beginnings) without panicking or
// producing an unstorable CDR.
func FuzzParseEvent(f *testing.F) {
	sc := bufio.NewScanner(bytes.NewReader(aritest.Recorded("scenario.jsonl")))
	sc.Buffer(nil, 1<<20)
	var prefix []Event
	for sc.Scan() {
		f.Add(append([]byte(nil), sc.Bytes()...))
		if ev, err := ParseEvent(sc.Bytes()); err == nil && len(prefix) < 40 {
			prefix = append(prefix, ev)
		}
	}
	if err := sc.Err(); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"type":"ChannelDestroyed","channel":{"id":"1795610108.0","creationtime":"2999-01-01T00:00:00.000+0000"},"timestamp":"1970-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"type":"Dial","caller":{"id":"x"},"peer":{"id":"x"},"dialstatus":"ANSWER"}`))
	f.Add([]byte(`{"type":"ChannelEnteredBridge","bridge":{"channels":["1795610108.0","1795610108.1","nope"]},"channel":{"id":"1795610108.1"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseEvent(data)
		if err != nil {
			return
		}
		if ev.Type == "" {
			t.Fatal("accepted an event without a type")
		}
		c := NewCalls(callOptions(time.Date(2026, 11, 25, 12, 40, 0, 0, time.UTC)))
		for _, p := range prefix {
			c.Apply(p)
		}
		check := func(where string, up []string, recs []error) {
			for _, id := range up {
				if id == "" {
					t.Errorf("%s: upsert without id", where)
				}
			}
			for _, err := range recs {
				if err != nil {
					t.Errorf("%s: %v", where, err)
				}
			}
		}
		for i := 0; i < 2; i++ { // twice: a repeated event must be harmless too
			up, _, cdrs := c.Apply(ev)
			var ids []string
			for _, u := range up {
				ids = append(ids, u.ID)
			}
			var errs []error
			for _, r := range cdrs {
				errs = append(errs, r.Validate())
			}
			check("Apply", ids, errs)
		}
		var errs []error
		for _, r := range c.Reset(nil) {
			errs = append(errs, r.Validate())
		}
		check("Reset", nil, errs)
		if len(c.Live()) != 0 {
			t.Errorf("live after Reset(nil): %+v", c.Live())
		}
	})
}
