package asterisk

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// A leg that ended while the ARI connection was down has no
// ChannelDestroyed: Calls.Reset can only close it at the reconnect, with
// the reconnect time as its end and no cause. That is a guess, and the
// store keeps the first CDR it gets for a leg, so a guess stored first
// would shut out Asterisk's own record of the leg (CEL or Master.csv,
// read by the Backfill) for good. The adapter therefore holds such
// guesses, and its BackfillSink lets the switch's record through in their
// place:
//
//   - a guess is held for Config.CDRHold; when the switch's record of the
//     leg reaches BackfillSink meanwhile, the guess is dropped and the
//     record stored, completed with what only the adapter knew (codec,
//     user agent, SIP status); otherwise the guess is stored when the wait
//     ends (CauseText CauseTextDisconnected says what it is);
//   - a guess whose switch record already went through BackfillSink
//     (the backfill read it during the outage) is dropped at once;
//   - a switch record of a leg that was live when the connection dropped
//     is completed from what the adapter knew of it then.
//
// So each leg is stored once, with Asterisk's values whenever the switch
// wrote them within the wait. Holding rather than storing a provisional
// CDR and replacing it keeps the store's rule simple (one row per leg,
// never rewritten, which the billing exports rely on). What is held is in
// memory only: a Switchboard killed during the wait loses the guesses,
// and the backfill, which reads from its own checkpoint, still delivers
// the switch's records.

// holdMemory bounds the ids of switch records remembered, so a guess
// made after its switch record went through can be recognised.
const holdMemory = 8192

// legHold is the coordination between one adapter's CDRs and its
// backfill's. It is safe for concurrent use.
type legHold struct {
	mu       sync.Mutex
	wait     time.Duration
	log      *slog.Logger
	release  func([]cdr.Record) // queue CDRs for the sink (the outbox)
	held     map[string]*heldLeg
	suspects map[string]legExtras // legs live when the connection dropped
	switched recentIDs            // ids whose switch record went through
	late     recentIDs            // ids whose guess was released unmatched
	timer    *time.Timer
}

type heldLeg struct {
	rec      cdr.Record
	deadline time.Time
}

// legExtras is what a CDR from the switch's files lacks and the adapter
// may know.
type legExtras struct {
	codec, userAgent string
	sipStatus        int
}

func extrasOf(r cdr.Record) legExtras {
	return legExtras{codec: r.Codec, userAgent: r.UserAgent, sipStatus: r.SIPStatus}
}

func (x legExtras) fill(r *cdr.Record) {
	if r.Codec == "" {
		r.Codec = x.codec
	}
	if r.UserAgent == "" {
		r.UserAgent = x.userAgent
	}
	if r.SIPStatus == 0 {
		r.SIPStatus = x.sipStatus
	}
}

func newLegHold(wait time.Duration, log *slog.Logger, release func([]cdr.Record)) *legHold {
	return &legHold{
		wait: wait, log: log, release: release,
		held: map[string]*heldLeg{}, suspects: map[string]legExtras{},
		switched: newRecentIDs(holdMemory), late: newRecentIDs(holdMemory),
	}
}

// guessed takes the CDRs Calls.Reset made of legs that ended unseen:
// those whose switch record already went through are dropped, the others
// held (or queued at once when there is no wait: no backfill).
func (h *legHold) guessed(recs []cdr.Record, now time.Time) {
	if len(recs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.wait <= 0 {
		for _, r := range recs {
			h.late.add(r.CallID)
		}
		h.release(recs)
		return
	}
	for _, r := range recs {
		delete(h.suspects, r.CallID)
		if h.switched.has(r.CallID) {
			continue
		}
		h.held[r.CallID] = &heldLeg{rec: r, deadline: now.Add(h.wait)}
	}
	h.schedule(now)
}

// settled filters the CDRs the adapter made from ChannelDestroyed events:
// the CDR of a leg whose guess is held replaces the guess (the event was
// queued before the resync that closed the leg); that of a leg whose guess
// or switch record was already handed over is dropped, since the store
// would keep the earlier one anyway.
func (h *legHold) settled(recs []cdr.Record) []cdr.Record {
	if len(recs) == 0 {
		return recs
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.DeleteFunc(recs, func(r cdr.Record) bool {
		if _, ok := h.held[r.CallID]; ok {
			delete(h.held, r.CallID)
			return false
		}
		return h.late.has(r.CallID) || h.switched.has(r.CallID)
	})
}

// suspect records what the adapter knew of the legs live when its
// connection dropped: their switch records may arrive before the
// reconnect tells whether they ended.
func (h *legHold) suspect(legs map[string]legExtras) {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.suspects)
	for id, x := range legs {
		h.suspects[id] = x
	}
}

// fromSwitch completes the switch's records with what the adapter knew
// and drops the guesses they replace. It runs before the records are
// handed to the sink; passed is called once the sink accepted them.
func (h *legHold) fromSwitch(recs []cdr.Record) []cdr.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		if g, ok := h.held[r.CallID]; ok {
			extrasOf(g.rec).fill(r)
			delete(h.held, r.CallID)
			h.log.Info("asterisk: the switch's CDR replaces the one guessed at the reconnect",
				"call_id", r.CallID, "guessed_end", g.rec.End, "end", r.End)
		} else if x, ok := h.suspects[r.CallID]; ok {
			x.fill(r)
		} else if h.late.has(r.CallID) {
			h.log.Warn("asterisk: the switch's CDR came after the hold; the guessed one was stored first and stays",
				"call_id", r.CallID, "hold", h.wait)
		}
		h.endFromCaller(r)
	}
	return recs
}

// endFromCaller bounds the guessed end of the held legs linked to r (a
// calling leg's record) by r's end: with Master.csv, which has no row of
// its own for a dialled leg, that leg's guess is stored when the hold ends
// with the end of its call instead of the reconnect time (off by less
// than a second, Master.csv's precision, instead of by the outage). A
// record of the leg itself, from CEL, still replaces the guess. h.mu is
// held.
func (h *legHold) endFromCaller(r *cdr.Record) {
	for id, g := range h.held {
		if id == r.CallID || g.rec.LinkedID != r.CallID || r.End.IsZero() ||
			!r.End.Before(g.rec.End) || r.End.Before(g.rec.Start) {
			continue
		}
		g.rec.End = r.End
		g.rec.Duration = wholeSeconds(g.rec.Start, r.End)
		if a := g.rec.Answer; a != nil {
			if a.After(r.End) {
				end := r.End
				g.rec.Answer = &end
			}
			g.rec.Billsec = wholeSeconds(*g.rec.Answer, r.End)
		}
		g.rec.CauseText = CauseTextEndFromCaller
	}
}

// passed records that the sink accepted recs.
func (h *legHold) passed(recs []cdr.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range recs {
		h.switched.add(r.CallID)
		delete(h.suspects, r.CallID)
	}
}

// expire releases the guesses whose wait ended by now.
func (h *legHold) expire(now time.Time) {
	h.mu.Lock()
	var out []cdr.Record
	for id, g := range h.held {
		if !g.deadline.After(now) {
			out = append(out, g.rec)
			delete(h.held, id)
			h.late.add(id)
		}
	}
	h.schedule(now)
	h.mu.Unlock()
	if len(out) > 0 {
		h.log.Warn("asterisk: no switch record within the hold: storing the CDRs guessed at the reconnect",
			"legs", len(out), "hold", h.wait)
		h.release(out)
	}
}

// schedule arms the timer for the earliest deadline. h.mu is held.
func (h *legHold) schedule(now time.Time) {
	var first time.Time
	for _, g := range h.held {
		if first.IsZero() || g.deadline.Before(first) {
			first = g.deadline
		}
	}
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	if first.IsZero() {
		return
	}
	h.timer = time.AfterFunc(max(first.Sub(now), 0), func() { h.expire(time.Now()) })
}

// heldCount is how many guesses wait.
func (h *legHold) heldCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

// recentIDs is a bounded set that forgets its oldest ids first.
type recentIDs struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newRecentIDs(n int) recentIDs {
	return recentIDs{set: map[string]struct{}{}, ring: make([]string, 0, n)}
}

func (r *recentIDs) has(id string) bool { _, ok := r.set[id]; return ok }

func (r *recentIDs) add(id string) {
	if r.has(id) {
		return
	}
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, id)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % len(r.ring)
	}
	r.set[id] = struct{}{}
}

// backfillSink is Adapter.BackfillSink's sink.
type backfillSink struct {
	next cdr.Sink
	hold *legHold
}

func (s backfillSink) Put(ctx context.Context, recs ...cdr.Record) error {
	recs = s.hold.fromSwitch(recs)
	if err := s.next.Put(ctx, recs...); err != nil {
		return err
	}
	s.hold.passed(recs)
	return nil
}
