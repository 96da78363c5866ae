package asterisk

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// TestAdapterRestartMidCall: an adapter that starts while a call is up
// (Switchboard restarted) reads each leg's answer time (CDR(answer,u)) and
// linkedid (CHANNEL(linkedid)) from Asterisk at its resync, so both legs'
// CDRs equal those of an adapter that saw the whole call: the true answer
// and billsec, not the resync's; the callee leg linked to the caller,
// with the caller's number and the dialled number (issue 12 item 3).
func TestAdapterRestartMidCall(t *testing.T) {
	srv := aritest.New(t)
	srv.SetEndpoints("offline")
	end := time.Now().Add(300 * time.Millisecond)
	events, caller, callee := aritest.CallEvents("1001", "1002", 5*time.Second, end)
	hangup := slices.IndexFunc(events, func(b []byte) bool { return bytes.Contains(b, []byte(`"type":"ChannelHangupRequest"`)) })
	srv.Push(events[:hangup]...) // before the adapter runs: only the fake's state

	r := start(t, adapterConfig(srv))
	r.waitConnected(t)
	if n := len(r.view.Calls(presence.CallQuery{})); n != 2 {
		t.Fatalf("%d live legs after the resync, want 2", n)
	}
	srv.Push(events[hangup:]...)
	switchtest.WaitFor(t, "both CDRs", func() bool { return len(r.sink.Leg(caller)) == 1 && len(r.sink.Leg(callee)) == 1 })

	// The reference: the same events all seen live.
	ref := NewCalls(CallOptions{Switch: "ast1", Domain: presDomain, IsGateway: func(id string) bool { return id == "gateway" }})
	want := map[string]cdr.Record{}
	for _, b := range events {
		ev, err := ParseEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		_, _, recs := ref.Apply(ev)
		for _, rec := range recs {
			want[rec.CallID] = rec
		}
	}
	for _, id := range []string{caller, callee} {
		got, w := r.sink.Leg(id)[0], want[id]
		if got.Answer == nil || w.Answer == nil || !got.Answer.Equal(*w.Answer) || got.Billsec != w.Billsec || got.Duration != w.Duration ||
			!got.Start.Equal(w.Start) || !got.End.Equal(w.End) || got.LinkedID != caller || got.LinkedID != w.LinkedID ||
			got.CallerNumber != "1001" || got.CallerNumber != w.CallerNumber || got.CallerName != w.CallerName ||
			got.Dialed != "1002" || got.Dialed != w.Dialed || got.Destination != w.Destination || got.Account != w.Account ||
			got.Direction != w.Direction || got.Disposition != w.Disposition || got.Cause != w.Cause {
			t.Errorf("leg %s after a restart: %s\nseen whole:              %s", id, brief(got), brief(w))
		}
		if got.Billsec < 4 { // 5 s talked, truncated from ms; the resync's guess would give 0
			t.Errorf("leg %s billsec %d, want the 5 s talked", id, got.Billsec)
		}
	}
}

// TestAdapterResyncReadsCDRStart: a leg first seen at a resync starts when
// Asterisk's CDR engine says (CDR(start,u)), which is what Master.csv and
// CEL write, even where that differs from the channel's creationtime (by
// 1.2 s in a live burst).
func TestAdapterResyncReadsCDRStart(t *testing.T) {
	srv := aritest.New(t)
	srv.SetEndpoints("offline")
	events, caller, _ := aritest.CallEvents("1001", "1002", 5*time.Second, time.Now().Add(time.Minute))
	hangup := slices.IndexFunc(events, func(b []byte) bool { return bytes.Contains(b, []byte(`"type":"ChannelHangupRequest"`)) })
	srv.Push(events[:hangup]...)
	cdrStart := time.Now().Add(-3 * time.Second).Truncate(time.Microsecond).UTC()
	srv.SetChannelVar(caller, "CDR(start,u)", fmt.Sprintf("%d.%06d", cdrStart.Unix(), cdrStart.Nanosecond()/1000))

	r := start(t, adapterConfig(srv))
	r.waitConnected(t)
	calls := r.view.Calls(presence.CallQuery{})
	i := slices.IndexFunc(calls, func(c presence.Call) bool { return c.ID == caller })
	if i < 0 || !calls[i].Start.Equal(cdrStart) {
		t.Fatalf("calls %+v: want %s starting at %v", calls, caller, cdrStart)
	}
}

// TestCallsProvisionalAfterFailedReads: a leg a resync sees first whose
// answer time or linkedid could not be read (seen live: it ended while
// the resync read 120 channels) yields a CDR marked provisional, which
// the adapter holds for Asterisk's own record; one whose reads came back
// does not.
func TestCallsProvisionalAfterFailedReads(t *testing.T) {
	now := time.Date(2026, 12, 6, 22, 39, 20, 0, time.UTC)
	c := NewCalls(CallOptions{Switch: "ast1", Now: func() time.Time { return now }})
	read := Channel{ID: "1.1", Name: "PJSIP/1001-00000001", State: "Up", CreationTime: now.Add(-4 * time.Second),
		LinkedID: "1.1", AnswerTime: now.Add(-3 * time.Second)}
	failed := Channel{ID: "1.2", Name: "PJSIP/1002-00000002", State: "Up", CreationTime: now.Add(-4 * time.Second)}
	c.Reset([]Channel{read, failed})
	var got []string
	for _, ch := range []Channel{read, failed} {
		ch := ch
		_, _, recs := c.Apply(Event{Type: "ChannelDestroyed", Timestamp: now.Add(time.Second), Channel: &ch, Cause: 16})
		if len(recs) != 1 {
			t.Fatalf("%s: %d CDRs", ch.ID, len(recs))
		}
		got = append(got, c.TakeProvisional()...)
	}
	if len(got) != 1 || got[0] != "1.2" {
		t.Errorf("provisional %v, want [1.2]", got)
	}
}
