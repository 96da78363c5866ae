package freeswitch

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// eslCallOpt are the options of the recorded node.
var eslCallOpt = CallOptions{Switch: "fs1", Domain: "127.0.0.1"}

// callRun is what feeding events through Calls produced.
type callRun struct {
	calls   *Calls
	cdrs    []cdr.Record
	ended   []string
	upserts map[string][]presence.Call // by leg, in order
	live    map[string]presence.Call   // what presence would hold
}

func runCalls(t testing.TB, evs []Event, opt CallOptions) *callRun {
	t.Helper()
	r := &callRun{calls: NewCalls(opt), upserts: map[string][]presence.Call{}, live: map[string]presence.Call{}}
	for _, ev := range evs {
		ups, ended, cdrs := r.calls.Apply(ev)
		for _, c := range ups {
			r.upserts[c.ID] = append(r.upserts[c.ID], c)
			r.live[c.ID] = c
		}
		for _, id := range ended {
			delete(r.live, id)
		}
		r.ended = append(r.ended, ended...)
		r.cdrs = append(r.cdrs, cdrs...)
	}
	return r
}

// jsonCDRsByUUID parses the recorded mod_json_cdr bodies.
func jsonCDRsByUUID(t testing.TB) map[string]cdr.Record {
	t.Helper()
	out := map[string]cdr.Record{}
	for name, b := range recorded(t) {
		rec, err := ParseJSONCDR(b, JSONCDROptions{Switch: eslCallOpt.Switch})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[rec.CallID] = rec
	}
	return out
}

// cdrDiff lists the fields of two records that differ, Raw and ID left
// out.
func cdrDiff(got, want cdr.Record) []string {
	got.Raw, want.Raw, got.ID, want.ID = nil, nil, 0, 0
	var g, w map[string]any
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	_ = json.Unmarshal(gb, &g)
	_ = json.Unmarshal(wb, &w)
	var diffs []string
	for k := range w {
		if fmt.Sprint(g[k]) != fmt.Sprint(w[k]) {
			diffs = append(diffs, fmt.Sprintf("%s: %v, json_cdr %v", k, g[k], w[k]))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// TestCallsRecordedCDRs feeds the whole recording through Calls: nine
// CDRs, one per leg, each equal field by field to the json_cdr record
// mod_json_cdr posted for the same leg.
func TestCallsRecordedCDRs(t *testing.T) {
	r := runCalls(t, eslScenario(t), eslCallOpt)
	want := jsonCDRsByUUID(t)
	if len(want) != 9 {
		t.Fatalf("%d json_cdr records", len(want))
	}
	if len(r.cdrs) != 9 {
		t.Errorf("%d CDRs, want 9", len(r.cdrs))
	}
	seen := map[string]bool{}
	for _, rec := range r.cdrs {
		if seen[rec.CallID] {
			t.Errorf("second CDR for %s", rec.CallID)
		}
		seen[rec.CallID] = true
		w, ok := want[rec.CallID]
		if !ok {
			t.Errorf("CDR of %s, a leg json_cdr does not know", rec.CallID)
			continue
		}
		if d := cdrDiff(rec, w); len(d) > 0 {
			t.Errorf("leg %s (%s → %s):\n  %s", rec.CallID, rec.CallerNumber, rec.Dialed, strings.Join(d, "\n  "))
		}
		var raw map[string]string
		if err := json.Unmarshal(rec.Raw, &raw); err != nil || raw["Unique-Id"] != rec.CallID ||
			raw["Event-Name"] != "CHANNEL_HANGUP_COMPLETE" {
			t.Errorf("%s: Raw is not the event: %v", rec.CallID, err)
		}
	}
	// Every leg that was live ended, and nothing is left.
	if live := r.calls.Live(); len(live) != 0 || len(r.live) != 0 {
		t.Errorf("live at the end: %v %v", live, r.live)
	}
	slices.Sort(r.ended)
	if len(r.ended) != 9 || len(slices.Compact(r.ended)) != 9 {
		t.Errorf("ended %v", r.ended)
	}
}

// TestCallsRecordedLive checks what presence saw of the recorded calls:
// each leg's last upsert has the parties its CDR has, its start and
// answer; call A's legs rang, then were up.
func TestCallsRecordedLive(t *testing.T) {
	const aLeg, bLeg = "c0ac0e89-8277-4837-b5d4-83444258b662", "286be19b-08b4-462d-819f-c79f3d404246"
	r := runCalls(t, eslScenario(t), eslCallOpt)
	want := jsonCDRsByUUID(t)
	if len(r.upserts) != 9 {
		t.Errorf("%d legs were live, want 9", len(r.upserts))
	}
	for id, ups := range r.upserts {
		rec, ok := want[id]
		if !ok {
			t.Errorf("live leg %s has no CDR", id)
			continue
		}
		last := ups[len(ups)-1]
		got := presence.Call{
			Switch: last.Switch, ID: last.ID, LinkedID: last.LinkedID, Direction: last.Direction, Domain: last.Domain,
			Account: last.Account, Gateway: last.Gateway, CallerNumber: last.CallerNumber, CallerName: last.CallerName,
			Callee: last.Callee,
		}
		wantCall := presence.Call{
			Switch: rec.Switch, ID: rec.CallID, LinkedID: rec.LinkedID, Direction: string(rec.Direction), Domain: rec.Domain,
			Account: rec.Account, Gateway: rec.Gateway, CallerNumber: rec.CallerNumber, CallerName: rec.CallerName,
			Callee: rec.Dialed,
		}
		if got != wantCall {
			t.Errorf("leg %s live as\n %+v\nCDR says\n %+v", id, got, wantCall)
		}
		if !last.Start.Equal(rec.Start) || (last.Answer == nil) != (rec.Answer == nil) ||
			(last.Answer != nil && !last.Answer.Equal(*rec.Answer)) {
			t.Errorf("leg %s: start %v answer %v, CDR %v %v", id, last.Start, last.Answer, rec.Start, rec.Answer)
		}
		if wantState := map[bool]string{true: "up", false: "ringing"}[rec.Answer != nil]; last.State != wantState {
			t.Errorf("leg %s: state %s, want %s", id, last.State, wantState)
		}
		for i := 1; i < len(ups); i++ {
			if sameCall(ups[i-1], ups[i]) {
				t.Errorf("leg %s: upsert %d repeats the one before", id, i)
			}
		}
	}
	for _, id := range []string{aLeg, bLeg} {
		if first := r.upserts[id][0]; first.State != "ringing" || first.Answer != nil || first.LinkedID != aLeg {
			t.Errorf("%s first upsert %+v", id, first)
		}
	}
}

// eslSubscribed keeps the events the adapter subscribes to (not ALL).
func eslSubscribed(evs []Event) []Event { return eslKeep(evs, subscribed) }

// eslKeep keeps the events a subscription to names takes (event names,
// and sofia subclasses after CUSTOM).
func eslKeep(evs []Event, names []string) []Event {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []Event
	for _, ev := range evs {
		if want[ev.Name()] && (ev.Name() != "CUSTOM" || want[ev.Subclass()]) {
			out = append(out, ev)
		}
	}
	return out
}

// TestSubscriptionSameResult: the adapter's subscription gives the same
// live calls (every upsert, in order) and the same CDRs from the recorded
// session as the wider one it had before issue 12 item 14; and the same
// CDRs and last state of each leg as ALL (whose CHANNEL_STATE and
// CHANNEL_CALLSTATE make more upserts on the way).
func TestSubscriptionSameResult(t *testing.T) {
	all := eslScenario(t)
	got := runCalls(t, eslSubscribed(all), eslCallOpt)
	for name, evs := range map[string][]Event{"wider": eslKeep(all, widerSubscription), "ALL": all} {
		want := runCalls(t, evs, eslCallOpt)
		if len(got.upserts) != len(want.upserts) || len(got.cdrs) != len(want.cdrs) {
			t.Errorf("%s: %d live legs and %d CDRs, want %d and %d", name, len(got.upserts), len(got.cdrs), len(want.upserts), len(want.cdrs))
		}
		for id, ups := range want.upserts {
			g := got.upserts[id]
			if name == "ALL" && len(g) > 0 {
				g, ups = g[len(g)-1:], ups[len(ups)-1:]
			}
			if !slices.EqualFunc(g, ups, sameCall) {
				t.Errorf("%s: leg %s upserts\n %+v\nwant\n %+v", name, id, got.upserts[id], ups)
			}
		}
		for i := range min(len(got.cdrs), len(want.cdrs)) {
			if d := cdrDiff(got.cdrs[i], want.cdrs[i]); len(d) > 0 || got.cdrs[i].CallID != want.cdrs[i].CallID {
				t.Errorf("%s: CDR %d (%s): %s", name, i, got.cdrs[i].CallID, strings.Join(d, "; "))
			}
		}
	}
}

// TestCallsOutOfOrder: events can come slightly out of order (FreeSWITCH
// delivers them from several dispatch threads when busy; eslgo, before
// issue 12 item 14, handed each to a goroutine of its own). Whatever the order, each leg
// yields one CDR, equal to its json_cdr record, and no leg outlives its
// end. Seed 0 keeps the recorded order.
func TestCallsOutOfOrder(t *testing.T) {
	all := eslScenario(t)
	want := jsonCDRsByUUID(t)
	// Without CHANNEL_HANGUP_COMPLETE, CHANNEL_DESTROY gives the same CDRs.
	noComplete := slices.DeleteFunc(slices.Clone(all), func(ev Event) bool { return ev.Name() == "CHANNEL_HANGUP_COMPLETE" })
	streams := map[string][]Event{"ALL": all, "subscribed": eslSubscribed(all), "no HANGUP_COMPLETE": noComplete}
	for name, evs := range streams {
		for seed := range uint64(30) {
			t.Run(fmt.Sprintf("%s/seed=%d", name, seed), func(t *testing.T) {
				evs := slices.Clone(evs)
				// Shuffle within windows of up to 8 events, as a reordering
				// buffer that held too little would leave them.
				rng := rand.New(rand.NewPCG(seed, 42))
				for i := 0; seed > 0 && i < len(evs); {
					n := 2 + rng.IntN(7)
					end := min(i+n, len(evs))
					w := evs[i:end]
					rng.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
					i = end
				}
				r := runCalls(t, evs, eslCallOpt)
				seen := map[string]bool{}
				for _, rec := range r.cdrs {
					if seen[rec.CallID] {
						t.Errorf("second CDR for %s", rec.CallID)
					}
					seen[rec.CallID] = true
					if d := cdrDiff(rec, want[rec.CallID]); len(d) > 0 {
						t.Errorf("leg %s: %s", rec.CallID, strings.Join(d, "; "))
					}
				}
				if len(seen) != 9 {
					t.Errorf("%d legs with a CDR, want 9", len(seen))
				}
				if live := r.calls.Live(); len(live) != 0 || len(r.live) != 0 {
					t.Errorf("legs live after their end: %v / %v", live, r.live)
				}
			})
		}
	}
}

// eslEvent builds a channel event for the table tests.
func eslEvent(name, id string, seq int, kv ...string) Event {
	h := map[string]string{"Event-Name": name, hdrUniqueID: id, "Event-Sequence": fmt.Sprint(seq),
		"Event-Date-Timestamp": fmt.Sprint(1795610405000000 + int64(seq)*1000000)}
	for i := 0; i+1 < len(kv); i += 2 {
		h[canonicalHeaderKey(kv[i])] = kv[i+1]
	}
	return NewEvent(h, nil)
}

// eslHangupComplete is a minimal CHANNEL_HANGUP_COMPLETE (or DESTROY).
func eslHangupComplete(name, id string, seq int) Event {
	return eslEvent(name, id, seq, "Channel-Call-State", "HANGUP", "Call-Direction", "inbound",
		"Caller-Caller-ID-Number", "1001", "Caller-Destination-Number", "1002",
		"variable_uuid", id, "variable_direction", "inbound", "variable_start_epoch", "1795610405",
		"variable_end_epoch", "1795610415", "variable_hangup_cause", "NORMAL_CLEARING", "variable_user_name", "1001")
}

func TestCallsApply(t *testing.T) {
	create := func(id string, seq int) Event {
		return eslEvent("CHANNEL_CREATE", id, seq, "Channel-Call-State", "DOWN", "Call-Direction", "inbound",
			"Caller-Caller-ID-Number", "1001", "Caller-Destination-Number", "1002", "variable_user_name", "1001")
	}
	answer := func(id string, seq int) Event {
		return eslEvent("CHANNEL_ANSWER", id, seq, "Channel-Call-State", "RINGING", "Answer-State", "answered",
			"Call-Direction", "inbound", "Caller-Channel-Answered-Time", "1795610409500000")
	}
	type step struct {
		ev                   Event
		upserts, ended, cdrs int
		state                string // of the upsert, when there is one
	}
	tests := []struct {
		name  string
		steps []step
		live  int
	}{{
		name: "create, answer, hangup complete",
		steps: []step{
			{ev: create("u1", 1), upserts: 1, state: "ringing"},
			{ev: answer("u1", 2), upserts: 1, state: "up"},
			{ev: eslEvent("CHANNEL_HANGUP", "u1", 3, "Channel-Call-State", "HANGUP", "Answer-State", "hangup")},
			{ev: eslHangupComplete("CHANNEL_HANGUP_COMPLETE", "u1", 4), ended: 1, cdrs: 1},
			{ev: eslHangupComplete("CHANNEL_DESTROY", "u1", 5)},
			{ev: eslEvent("CHANNEL_STATE", "u1", 6, "Channel-State", "CS_DESTROY")},
		},
	}, {
		name: "destroy before hangup complete: one CDR",
		steps: []step{
			{ev: create("u1", 1), upserts: 1},
			{ev: eslHangupComplete("CHANNEL_DESTROY", "u1", 5), ended: 1, cdrs: 1},
			{ev: eslHangupComplete("CHANNEL_HANGUP_COMPLETE", "u1", 4)},
		},
	}, {
		name: "an event straggling after the end does not resurrect the leg",
		steps: []step{
			{ev: create("u1", 1), upserts: 1},
			{ev: eslHangupComplete("CHANNEL_HANGUP_COMPLETE", "u1", 4), ended: 1, cdrs: 1},
			{ev: answer("u1", 2)},
		},
	}, {
		name: "an older event changes nothing",
		steps: []step{
			{ev: answer("u1", 2), upserts: 1, state: "up"},
			{ev: create("u1", 1)},
		},
		live: 1,
	}, {
		name: "hangup complete of a leg never seen: a CDR, no end",
		steps: []step{
			{ev: eslHangupComplete("CHANNEL_HANGUP_COMPLETE", "u9", 4), cdrs: 1},
		},
	}, {
		name: "a hanging-up event does not make a leg",
		steps: []step{
			{ev: eslEvent("CHANNEL_HANGUP", "u1", 3, "Channel-Call-State", "HANGUP")},
			{ev: eslEvent("CHANNEL_STATE", "u1", 4, "Channel-State", "CS_REPORTING")},
			{ev: eslEvent("CHANNEL_DESTROY", "u1", 5)},
		},
	}, {
		name: "hold",
		steps: []step{
			{ev: answer("u1", 2), upserts: 1, state: "up"},
			{ev: eslEvent("CHANNEL_HOLD", "u1", 3, "Channel-Call-State", "HELD"), upserts: 1, state: "held"},
			{ev: eslEvent("CHANNEL_UNHOLD", "u1", 4, "Channel-Call-State", "ACTIVE"), upserts: 1, state: "up"},
			{ev: eslEvent("CHANNEL_EXECUTE", "u1", 5, "Channel-Call-State", "ACTIVE")},
		},
		live: 1,
	}, {
		name: "other events and events without a uuid",
		steps: []step{
			{ev: NewEvent(map[string]string{"Event-Name": "HEARTBEAT"}, nil)},
			{ev: eslEvent("CUSTOM", "u1", 1, "Event-Subclass", "sofia::register")},
			{ev: eslEvent("CHANNEL_CREATE", "", 1)},
		},
	}, {
		name: "CHANNEL_UUID renames the leg",
		steps: []step{
			{ev: create("u1", 1), upserts: 1},
			{ev: eslEvent("CHANNEL_UUID", "u2", 2, "Old-Unique-ID", "u1", "Channel-Call-State", "RINGING"), upserts: 1, ended: 1},
			{ev: eslHangupComplete("CHANNEL_HANGUP_COMPLETE", "u2", 3), ended: 1, cdrs: 1},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCalls(eslCallOpt)
			for i, s := range tt.steps {
				ups, ended, cdrs := c.Apply(s.ev)
				if len(ups) != s.upserts || len(ended) != s.ended || len(cdrs) != s.cdrs {
					t.Fatalf("step %d (%s): %d upserts, %d ended, %d CDRs; want %d %d %d",
						i, s.ev.Name(), len(ups), len(ended), len(cdrs), s.upserts, s.ended, s.cdrs)
				}
				if len(ups) == 1 && s.state != "" && ups[0].State != s.state {
					t.Errorf("step %d: state %s, want %s", i, ups[0].State, s.state)
				}
			}
			if live := c.Live(); len(live) != tt.live {
				t.Errorf("%d live legs, want %d: %+v", len(live), tt.live, live)
			}
		})
	}
}

// TestCallsAnswerTime: the answer time is FreeSWITCH's, else the event's.
func TestCallsAnswerTime(t *testing.T) {
	c := NewCalls(eslCallOpt)
	ups, _, _ := c.Apply(eslEvent("CHANNEL_ANSWER", "u1", 7, "Answer-State", "answered"))
	if len(ups) != 1 || ups[0].Answer == nil || !ups[0].Answer.Equal(time.UnixMicro(1795610412000000)) {
		t.Fatalf("answer from the event time: %+v", ups)
	}
	ups, _, _ = c.Apply(eslEvent("CHANNEL_BRIDGE", "u1", 8, "Channel-Call-State", "ACTIVE",
		"Caller-Channel-Answered-Time", "1795610411250000", "Caller-Channel-Created-Time", "1795610405500000"))
	if len(ups) != 1 || !ups[0].Answer.Equal(time.UnixMicro(1795610411250000)) || !ups[0].Start.Equal(time.UnixMicro(1795610405500000)) {
		t.Fatalf("answer and start from the caller profile: %+v", ups)
	}
}

// TestCallsReset resyncs from the recorded `show channels as json` (taken
// during call A) at several points of the recording.
func TestCallsReset(t *testing.T) {
	const aLeg, bLeg = "c0ac0e89-8277-4837-b5d4-83444258b662", "286be19b-08b4-462d-819f-c79f3d404246"
	rows, err := ParseShowChannels(eslReplyBody(t, "api-show-channels-json.txt"))
	if err != nil {
		t.Fatal(err)
	}
	capturedAt := time.Date(2026, 11, 25, 12, 40, 10, 481000000, time.UTC)
	opt := eslCallOpt
	opt.Now = func() time.Time { return capturedAt }
	evs := eslScenario(t)
	want := jsonCDRsByUUID(t)

	t.Run("connect during the call", func(t *testing.T) {
		c := NewCalls(opt)
		if ended := c.Reset(rows); len(ended) != 0 {
			t.Fatalf("ended %v", ended)
		}
		live := c.Live()
		if len(live) != 2 || live[0].ID != aLeg || live[1].ID != bLeg {
			t.Fatalf("live %+v", live)
		}
		a, b := live[0], live[1]
		if a.LinkedID != aLeg || b.LinkedID != aLeg || a.Direction != "internal" || b.Direction != "internal" ||
			a.Account != "1001" || b.Account != "1002" || a.Domain != "127.0.0.1" || b.Domain != "127.0.0.1" ||
			a.CallerNumber != "1001" || a.CallerName != "Phone 1001" || b.CallerName != "Extension 1001" ||
			a.Callee != "1002" || b.Callee != "1002" || a.State != "up" || b.State != "up" ||
			!a.Start.Equal(time.Unix(1795610405, 0)) || a.Answer == nil || !a.Answer.Equal(capturedAt) {
			t.Errorf("a-leg %+v\nb-leg %+v", a, b)
		}
		// The rest of the call's events refine the legs and end them with
		// their CDRs.
		r := &callRun{calls: c, upserts: map[string][]presence.Call{}, live: map[string]presence.Call{}}
		var cdrs []cdr.Record
		for _, ev := range evs {
			if ev.Time().Before(capturedAt) {
				continue
			}
			ups, _, recs := c.Apply(ev)
			for _, u := range ups {
				r.upserts[u.ID] = append(r.upserts[u.ID], u)
			}
			cdrs = append(cdrs, recs...)
		}
		if ups := r.upserts[aLeg]; len(ups) == 0 || ups[0].Answer == nil || !ups[0].Answer.Equal(*want[aLeg].Answer) {
			t.Errorf("a-leg answer not corrected by its next event: %+v", ups)
		}
		if len(cdrs) != 9 || cdrs[0].CallID != aLeg || cdrs[1].CallID != bLeg {
			t.Errorf("%d CDRs after the resync", len(cdrs))
		}
	})

	t.Run("legs that vanished while disconnected", func(t *testing.T) {
		c := NewCalls(opt)
		c.Reset(rows)
		ended := c.Reset(nil)
		if !slices.Equal(ended, []string{aLeg, bLeg}) || len(c.Live()) != 0 {
			t.Fatalf("ended %v, live %v", ended, c.Live())
		}
		// A late HANGUP_COMPLETE still gives the CDR, and no end of a leg
		// presence no longer has.
		for _, ev := range evs {
			if ev.Name() == "CHANNEL_HANGUP_COMPLETE" && ev.Get("Unique-ID") == aLeg {
				ups, ended, cdrs := c.Apply(ev)
				if len(ups) != 0 || len(ended) != 0 || len(cdrs) != 1 || len(cdrDiff(cdrs[0], want[aLeg])) != 0 {
					t.Errorf("late hangup: %v %v %v", ups, ended, cdrs)
				}
			}
		}
	})

	t.Run("rows of legs already ended are ignored", func(t *testing.T) {
		c := runCalls(t, evs, eslCallOpt).calls
		if ended := c.Reset(rows); len(ended) != 0 || len(c.Live()) != 0 {
			t.Errorf("ended %v live %v", ended, c.Live())
		}
	})

	t.Run("known legs keep what events said", func(t *testing.T) {
		c := NewCalls(opt)
		var before []presence.Call
		for _, ev := range evs {
			if ev.Time().After(capturedAt) {
				break
			}
			c.Apply(ev)
		}
		before = c.Live()
		if ended := c.Reset(rows); len(ended) != 0 {
			t.Fatalf("ended %v", ended)
		}
		after := c.Live()
		if len(before) != 2 || len(after) != 2 || !sameCall(before[0], after[0]) || !sameCall(before[1], after[1]) {
			t.Errorf("before %+v\nafter %+v", before, after)
		}
	})
}

// BenchmarkCallsApply folds the recorded stream (all 326 events, a new
// Calls each time round), CDRs included.
func BenchmarkCallsApply(b *testing.B) {
	evs := eslScenario(b)
	c := NewCalls(eslCallOpt)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n%len(evs) == 0 {
			c = NewCalls(eslCallOpt)
		}
		c.Apply(evs[n%len(evs)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// mapVars is how Calls read an event's variables until issue 12 item 14
// (a map of them all, names in lower case; live: without the times, with
// the start and end placeholders, nil when only times were there): the
// reference for the lookups that replaced it.
func mapVars(ev Event, live bool) map[string]string {
	var vars map[string]string
	for k, v := range ev.Headers() {
		if len(k) <= len(hdrVariablePrefix) || !strings.EqualFold(k[:len(hdrVariablePrefix)], hdrVariablePrefix) {
			continue
		}
		name := strings.ToLower(k[len(hdrVariablePrefix):])
		if live && isTimeVar(name) {
			continue
		}
		if vars == nil {
			vars = map[string]string{}
		}
		vars[name] = v
	}
	if live && vars != nil {
		vars["start_uepoch"], vars["end_uepoch"] = liveTimePlaceholder, liveTimePlaceholder
	}
	return vars
}

// TestVariableLookups: for every recorded event, a CDR's variable lookup
// (Event.variable) and a live leg's (fsLeg.variable) give what the map
// of all variables gave, for every variable and for names it lacks.
func TestVariableLookups(t *testing.T) {
	absent := []string{"no_such_variable", "answer_epoch", "billsec", "duration", "start_epoch", "Variable_uuid"}
	for i, ev := range eslScenario(t) {
		final, live := mapVars(ev, false), mapVars(ev, true)
		for _, k := range append(slices.Collect(maps.Keys(final)), absent...) {
			if got := ev.variable(k); got != final[k] {
				t.Fatalf("event %d: variable(%q) = %q, want %q", i, k, got, final[k])
			}
		}
		if hasLiveVars(ev) != (live != nil) {
			t.Fatalf("event %d: hasLiveVars %v, want %v", i, hasLiveVars(ev), live != nil)
		}
		if live == nil {
			continue
		}
		l := &fsLeg{ev: ev, evVars: true, vars: map[string]string{"start_uepoch": liveTimePlaceholder, "end_uepoch": liveTimePlaceholder}}
		for _, k := range append(slices.Collect(maps.Keys(final)), absent...) {
			if got := l.variable(k); got != live[k] {
				t.Fatalf("event %d: live variable(%q) = %q, want %q", i, k, got, live[k])
			}
		}
	}
}
