package asterisk

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// TestAdapterHoldsGuessedCDRs: a call that ends while the ARI connection
// is down is guessed at the reconnect (end = reconnect, no cause). With
// CDRHold the guess waits for Asterisk's own record through BackfillSink:
// the switch's record is stored, once, completed with the codec only the
// adapter read, whether it comes after the reconnect or during the gap;
// without one, the guess is stored when the hold ends (issue 12 item 1).
func TestAdapterHoldsGuessedCDRs(t *testing.T) {
	tests := []struct {
		name      string
		duringGap bool // the switch's record comes before the reconnect
		none      bool // no switch record at all
	}{
		{name: "switch record after the reconnect"},
		{name: "switch record during the gap", duringGap: true},
		{name: "no switch record", none: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := aritest.New(t)
			srv.SetEndpoints("offline")
			cfg := adapterConfig(srv)
			cfg.MinBackoff = 300 * time.Millisecond
			cfg.MaxBackoff = 300 * time.Millisecond
			cfg.CDRHold = 700 * time.Millisecond
			r := start(t, cfg)
			r.waitConnected(t)
			backfill := r.a.BackfillSink(r.sink)

			end := time.Now().Add(100 * time.Millisecond)
			events, caller, callee := aritest.CallEvents("1001", "1002", 3*time.Second, end)
			hangup := slices.IndexFunc(events, func(b []byte) bool { return bytes.Contains(b, []byte(`"type":"ChannelHangupRequest"`)) })
			srv.Push(events[:hangup]...)
			switchtest.WaitFor(t, "both legs live", func() bool { return len(r.view.Calls(presence.CallQuery{})) == 2 })
			time.Sleep(50 * time.Millisecond) // the codec reads
			lastSync := r.state().LastSync

			srv.DropSockets()
			switchtest.WaitFor(t, "the feed marked disconnected", func() bool { return !r.state().Connected })
			srv.Push(events[hangup:]...) // ends unseen
			switchRecs := func() []cdr.Record {
				var recs []cdr.Record
				for _, id := range []string{caller, callee} {
					recs = append(recs, cdr.Record{
						Switch: "ast1", CallID: id, LinkedID: caller, Direction: cdr.DirectionInternal,
						Start: end.Add(-5 * time.Second), End: end, Duration: 5, Billsec: 3,
						Disposition: cdr.Answered, Cause: 16, CauseText: "Normal Clearing",
					})
				}
				return recs
			}
			if tt.duringGap {
				time.Sleep(50 * time.Millisecond) // the session has ended: its legs are suspects
				if err := backfill.Put(context.Background(), switchRecs()...); err != nil {
					t.Fatal(err)
				}
			}
			switchtest.WaitFor(t, "the reconnect and resync", func() bool {
				s := r.state()
				return s.Connected && s.LastSync.After(lastSync)
			})
			if !tt.duringGap {
				time.Sleep(100 * time.Millisecond)
				if n := len(r.sink.Leg(caller)) + len(r.sink.Leg(callee)); n != 0 {
					t.Fatalf("%d guessed CDRs stored before the hold ended", n)
				}
				if r.a.hold.heldCount() != 2 {
					t.Fatalf("%d legs held, want 2", r.a.hold.heldCount())
				}
			}
			if !tt.duringGap && !tt.none {
				if err := backfill.Put(context.Background(), switchRecs()...); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(cfg.CDRHold + 200*time.Millisecond) // past the hold: no second CDR
			for _, id := range []string{caller, callee} {
				leg := r.sink.Leg(id)
				if len(leg) != 1 {
					t.Fatalf("leg %s stored %d times, want once", id, len(leg))
				}
				rec := leg[0]
				if tt.none {
					if rec.CauseText != CauseTextDisconnected || rec.Cause != 0 {
						t.Errorf("leg %s: %s, want the guess", id, brief(rec))
					}
					continue
				}
				if rec.Cause != 16 || !rec.End.Equal(end) || rec.Billsec != 3 || rec.Codec != "ulaw" {
					t.Errorf("leg %s: %s codec %q, want the switch's record with the codec read live", id, brief(rec), rec.Codec)
				}
			}
			if r.a.hold.heldCount() != 0 {
				t.Errorf("%d legs still held", r.a.hold.heldCount())
			}
		})
	}
}
