package asterisk

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

func TestCodecName(t *testing.T) {
	for in, want := range map[string]string{
		"(ulaw)":      "ulaw", // CHANNEL(audionativeformat) of an answered leg (recorded)
		"(ulaw|alaw)": "",     // the set on offer, before the answer: no one codec
		"alaw":        "alaw",
		" (g722) ":    "g722",
		"()":          "",
		"":            "",
	} {
		if got := codecName(in); got != want {
			t.Errorf("codecName(%q) = %q, want %q", in, got, want)
		}
	}
}

// Each leg's codec is the one negotiated, read once it is up; the
// dialplan's SB_CODEC, set before the answer, is the offered set and a
// dialled leg has none.
func TestCallsNegotiatedCodec(t *testing.T) {
	a := &Channel{ID: "5.1", Name: "PJSIP/1001-00000001", State: "Ring", Caller: CallerID{Number: "1001"},
		Dialplan: Dialplan{Context: "phones", Exten: "1002", AppName: "Dial", AppData: "PJSIP/1002,30"}, CreationTime: ts("00:00")}
	b := &Channel{ID: "5.2", Name: "PJSIP/1002-00000002", State: "Down", Caller: CallerID{Number: "1002"},
		Dialplan: Dialplan{Context: "phones", AppName: "AppDial", AppData: "(Outgoing Line)"}, CreationTime: ts("00:00")}
	aUp, bUp := *a, *b
	aUp.State, bUp.State = "Up", "Up"
	at := func(s string, ev Event) Event { ev.Timestamp = ts(s); return ev }
	c := NewCalls(callOptions(ts("00:00")))
	tr := newTracker(t)
	tr.apply(c,
		at("00:00", Event{Type: "ChannelCreated", Channel: a}),
		at("00:00.1", Event{Type: "ChannelVarset", Channel: a, Variable: VarCodec, Value: "(ulaw|alaw)"}),
		at("00:00.2", Event{Type: "ChannelCreated", Channel: b}),
		at("00:00.2", Event{Type: "Dial", Caller: a, Peer: b}),
	)
	if got := c.TakeAnswered(); len(got) != 0 {
		t.Errorf("answered before any answer: %v", got)
	}
	tr.apply(c,
		at("00:02", Event{Type: "ChannelStateChange", Channel: &bUp}),
		at("00:02", Event{Type: "Dial", Caller: a, Peer: &bUp, DialStatus: "ANSWER"}),
		at("00:02", Event{Type: "ChannelStateChange", Channel: &aUp}),
	)
	got := c.TakeAnswered()
	slices.Sort(got)
	if !slices.Equal(got, []string{"5.1", "5.2"}) {
		t.Errorf("answered %v, want both legs once", got)
	}
	if again := c.TakeAnswered(); len(again) != 0 {
		t.Errorf("answered again: %v", again)
	}
	c.SetCodec("5.1", "(ulaw)")
	c.SetCodec("5.2", "(alaw)")
	c.SetCodec("9.9", "(ulaw)") // unknown leg: nothing
	tr.apply(c,
		// A later SB_CODEC does not replace what was read.
		at("00:03", Event{Type: "ChannelVarset", Channel: &aUp, Variable: VarCodec, Value: "(g722)"}),
		at("00:05", Event{Type: "ChannelHangupRequest", Channel: &aUp, Cause: 16, Soft: true}),
		at("00:05", Event{Type: "ChannelDestroyed", Channel: &bUp, Cause: 16, CauseText: "Normal Clearing"}),
		at("00:05", Event{Type: "ChannelDestroyed", Channel: &aUp, Cause: 16, CauseText: "Normal Clearing"}),
	)
	recs := tr.byID()
	if recs["5.1"].Codec != "ulaw" || recs["5.2"].Codec != "alaw" {
		t.Errorf("codecs: caller %q, callee %q; want ulaw, alaw (read after the answer)", recs["5.1"].Codec, recs["5.2"].Codec)
	}

	// No read (it failed, or the leg ended first): SB_CODEC, if it
	// names one codec, without Asterisk's parentheses.
	for val, want := range map[string]string{"(ulaw)": "ulaw", "(ulaw|alaw)": ""} {
		c := NewCalls(callOptions(ts("00:00")))
		tr := newTracker(t)
		x := *a
		x.ID = "6." + val
		xUp := x
		xUp.State = "Up"
		tr.apply(c,
			at("00:00", Event{Type: "ChannelCreated", Channel: &x}),
			at("00:00.1", Event{Type: "ChannelVarset", Channel: &x, Variable: VarCodec, Value: val}),
			at("00:01", Event{Type: "ChannelStateChange", Channel: &xUp}),
			at("00:02", Event{Type: "ChannelDestroyed", Channel: &xUp, Cause: 16}),
		)
		if got := tr.byID()[x.ID].Codec; got != want {
			t.Errorf("SB_CODEC %q and no read: codec %q, want %q", val, got, want)
		}
	}
}

// Through the fake: the adapter reads CHANNEL(audionativeformat) of each
// leg once it is up, as Asterisk 23.4.1 answers it ("(ulaw)").
func TestAdapterReadsNegotiatedCodec(t *testing.T) {
	srv := aritest.New(t)
	srv.SetEndpoints("offline")
	r := start(t, adapterConfig(srv))
	r.waitConnected(t)
	pushContacts(srv, "1001", "sip:1001@192.0.2.1:5060", time.Millisecond, false)
	pushContacts(srv, "1002", "sip:1002@192.0.2.2:5060", time.Millisecond, false)
	events, caller, callee := aritest.CallEvents("1001", "1002", 3*time.Second, time.Now())
	srv.SetChannelVar(callee, "CHANNEL(audionativeformat)", "(alaw)")
	hangup := slices.IndexFunc(events, func(b []byte) bool { return bytes.Contains(b, []byte(`"type":"ChannelHangupRequest"`)) })
	srv.Push(events[:hangup]...)
	switchtest.WaitFor(t, "both legs live", func() bool { return len(r.view.Calls(presence.CallQuery{})) == 2 })
	switchtest.WaitFor(t, "the codec reads of both legs", func() bool {
		n := 0
		for _, q := range srv.Requests() {
			if strings.Contains(q, "/variable?variable=CHANNEL%28audionativeformat%29") {
				n++
			}
		}
		return n == 2
	})
	time.Sleep(100 * time.Millisecond) // the answers applied by the event loop
	srv.Push(events[hangup:]...)
	switchtest.WaitFor(t, "both CDRs", func() bool { return len(r.sink.Leg(caller)) > 0 && len(r.sink.Leg(callee)) > 0 })
	if a, b := r.sink.Leg(caller)[0].Codec, r.sink.Leg(callee)[0].Codec; a != "ulaw" || b != "alaw" {
		t.Errorf("codecs: caller %q, callee %q; want ulaw (recorded answer), alaw", a, b)
	}
}
