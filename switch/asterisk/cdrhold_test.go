package asterisk

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// TestLegHold drives the hold directly, case by case: which CDR of a leg
// that ended during an ARI gap is stored, and when.
func TestLegHold(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 19, 22, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ptr := func(t time.Time) *time.Time { return &t }
	guess := func(id, linked string) cdr.Record {
		return cdr.Record{Switch: "ast1", CallID: id, LinkedID: linked, Start: at(0), Answer: ptr(at(2000)), End: at(30000),
			Duration: 30, Billsec: 28, Disposition: cdr.Answered, CauseText: CauseTextDisconnected, Codec: "ulaw", UserAgent: "phone/1"}
	}
	switchRec := func(id, linked string, endMS int) cdr.Record {
		return cdr.Record{Switch: "ast1", CallID: id, LinkedID: linked, Start: at(0), Answer: ptr(at(2000)), End: at(endMS),
			Duration: endMS / 1000, Billsec: (endMS - 2000) / 1000, Disposition: cdr.Answered, Cause: 16, CauseText: "Normal Clearing"}
	}
	type step struct {
		guessed    []cdr.Record // Calls.Reset's guesses
		fromSwitch []cdr.Record // through BackfillSink
		suspects   map[string]legExtras
	}
	tests := []struct {
		name  string
		wait  time.Duration
		steps []step
		// want is what the store keeps per leg, after the hold.
		want map[string]func(cdr.Record) bool
		puts int
	}{
		{
			name: "no hold: the guess at once", wait: 0,
			steps: []step{{guessed: []cdr.Record{guess("1.1", "1.1")}}},
			want:  map[string]func(cdr.Record) bool{"1.1": func(r cdr.Record) bool { return r.CauseText == CauseTextDisconnected }},
			puts:  1,
		},
		{
			name: "switch record replaces the guess, completed", wait: time.Hour,
			steps: []step{{guessed: []cdr.Record{guess("1.1", "1.1")}}, {fromSwitch: []cdr.Record{switchRec("1.1", "1.1", 12500)}}},
			want: map[string]func(cdr.Record) bool{"1.1": func(r cdr.Record) bool {
				return r.Cause == 16 && r.End.Equal(at(12500)) && r.Codec == "ulaw" && r.UserAgent == "phone/1"
			}},
			puts: 1,
		},
		{
			name: "switch record first, guess dropped", wait: time.Hour,
			steps: []step{
				{suspects: map[string]legExtras{"1.1": {codec: "alaw"}}},
				{fromSwitch: []cdr.Record{switchRec("1.1", "1.1", 12500)}},
				{guessed: []cdr.Record{guess("1.1", "1.1")}},
			},
			want: map[string]func(cdr.Record) bool{"1.1": func(r cdr.Record) bool { return r.Cause == 16 && r.Codec == "alaw" }},
			puts: 1,
		},
		{
			name: "Master.csv: the callee's guess ends with its caller", wait: 50 * time.Millisecond,
			steps: []step{
				{guessed: []cdr.Record{guess("1.1", "1.1"), guess("1.2", "1.1")}},
				{fromSwitch: []cdr.Record{switchRec("1.1", "1.1", 12000)}},
			},
			want: map[string]func(cdr.Record) bool{
				"1.1": func(r cdr.Record) bool { return r.Cause == 16 && r.End.Equal(at(12000)) },
				"1.2": func(r cdr.Record) bool {
					return r.CauseText == CauseTextEndFromCaller && r.End.Equal(at(12000)) && r.Duration == 12 && r.Billsec == 10
				},
			},
			puts: 2,
		},
		{
			name: "CEL: the callee's own record still wins", wait: 50 * time.Millisecond,
			steps: []step{
				{guessed: []cdr.Record{guess("1.1", "1.1"), guess("1.2", "1.1")}},
				{fromSwitch: []cdr.Record{switchRec("1.1", "1.1", 12000)}},
				{fromSwitch: []cdr.Record{switchRec("1.2", "1.1", 12001)}},
			},
			want: map[string]func(cdr.Record) bool{
				"1.1": func(r cdr.Record) bool { return r.End.Equal(at(12000)) },
				"1.2": func(r cdr.Record) bool { return r.Cause == 16 && r.End.Equal(at(12001)) },
			},
			puts: 2,
		},
		{
			name: "no switch record within the hold", wait: 30 * time.Millisecond,
			steps: []step{{guessed: []cdr.Record{guess("1.1", "1.1")}}},
			want:  map[string]func(cdr.Record) bool{"1.1": func(r cdr.Record) bool { return r.CauseText == CauseTextDisconnected }},
			puts:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &switchtest.CDRSink{}
			var mu sync.Mutex
			release := func(recs []cdr.Record) {
				mu.Lock()
				defer mu.Unlock()
				if err := store.Put(context.Background(), recs...); err != nil {
					t.Error(err)
				}
			}
			h := newLegHold(tt.wait, slog.New(slog.NewTextHandler(io.Discard, nil)), release)
			sink := backfillSink{next: store, hold: h}
			for _, s := range tt.steps {
				if s.suspects != nil {
					h.suspect(s.suspects)
				}
				h.guessed(s.guessed, time.Now())
				if len(s.fromSwitch) > 0 {
					if err := sink.Put(context.Background(), s.fromSwitch...); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tt.wait > 0 && tt.wait < time.Second {
				// expire releases after it let go of the lock.
				switchtest.WaitFor(t, "the hold to end", func() bool { return h.heldCount() == 0 && len(store.Records()) >= tt.puts })
			}
			recs := store.Records()
			if len(recs) != tt.puts {
				t.Fatalf("%d CDRs stored, want %d: %v", len(recs), tt.puts, callIDs(recs))
			}
			for id, ok := range tt.want {
				leg := store.Leg(id)
				if len(leg) != 1 || !ok(leg[0]) {
					t.Errorf("leg %s: %d CDRs, %+v", id, len(leg), leg)
				}
			}
		})
	}
}

// TestHoldQueuedDestroyed: a channel that ends between the socket's
// connect and the resync's GET /channels is closed by Reset with a guess,
// then its ChannelDestroyed, queued meanwhile, is applied: that true CDR
// replaces the held guess, and a straggler after it (or after a guess
// already stored) adds nothing.
func TestHoldQueuedDestroyed(t *testing.T) {
	events, caller, callee := aritest.CallEvents("1001", "1002", 3*time.Second, time.Now())
	hangup := slices.IndexFunc(events, func(b []byte) bool { return bytes.Contains(b, []byte(`"type":"ChannelHangupRequest"`)) })
	for _, wait := range []time.Duration{time.Hour, 0} {
		store := &switchtest.CDRSink{}
		h := newLegHold(wait, slog.New(slog.NewTextHandler(io.Discard, nil)), func(recs []cdr.Record) {
			_ = store.Put(context.Background(), recs...)
		})
		c := NewCalls(CallOptions{Switch: "ast1"})
		apply := func(b []byte) {
			ev, err := ParseEvent(b)
			if err != nil {
				t.Fatal(err)
			}
			_, _, recs := c.Apply(ev)
			_ = store.Put(context.Background(), h.settled(recs)...)
		}
		for _, b := range events[:hangup] {
			apply(b)
		}
		h.guessed(c.Reset(nil), time.Now()) // both legs gone at the resync
		for _, b := range events[hangup:] {
			apply(b)
		}
		apply(events[len(events)-1]) // a straggler
		for _, id := range []string{caller, callee} {
			leg := store.Leg(id)
			switch {
			case len(leg) != 1:
				t.Errorf("wait %v: leg %s stored %d times", wait, id, len(leg))
			case wait > 0 && (leg[0].Cause != 16 || leg[0].CauseText == CauseTextDisconnected):
				t.Errorf("wait %v: leg %s stored %s, want its ChannelDestroyed's CDR", wait, id, brief(leg[0]))
			case wait == 0 && leg[0].CauseText != CauseTextDisconnected:
				t.Errorf("no hold: leg %s stored %s, want the guess, stored at once", id, brief(leg[0]))
			}
		}
		if h.heldCount() != 0 {
			t.Errorf("wait %v: %d still held", wait, h.heldCount())
		}
	}
}
