package switchtest

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// Retry delays of StreamCDRs after a sink error: short, because the Fake
// lives in tests.
const (
	minRetry = 5 * time.Millisecond
	maxRetry = 200 * time.Millisecond
)

// cdrBatch bounds one Put.
const cdrBatch = 100

// causeNames are the Q.850 causes tests use, by the names both switches
// print.
var causeNames = map[int]string{
	1:   "UNALLOCATED_NUMBER",
	16:  "NORMAL_CLEARING",
	17:  "USER_BUSY",
	18:  "NO_USER_RESPONSE",
	19:  "NO_ANSWER",
	21:  "CALL_REJECTED",
	31:  "NORMAL_UNSPECIFIED",
	34:  "NORMAL_CIRCUIT_CONGESTION",
	38:  "NETWORK_OUT_OF_ORDER",
	41:  "NORMAL_TEMPORARY_FAILURE",
	42:  "SWITCH_CONGESTION",
	127: "INTERWORKING",
}

// disposition maps a leg's outcome to Asterisk's vocabulary.
func disposition(answered bool, cause int) cdr.Disposition {
	switch {
	case answered:
		return cdr.Answered
	case cause == 17:
		return cdr.Busy
	case cause == 16 || cause == 18 || cause == 19:
		return cdr.NoAnswer // 16 unanswered: the caller gave up
	case cause == 34 || cause == 38 || cause == 41 || cause == 42:
		return cdr.Congestion
	}
	return cdr.Failed
}

// record builds the CDR of leg c ending at end.
func (f *Fake) record(c presence.Call, end time.Time, cause int) cdr.Record {
	r := cdr.Record{
		Switch:       f.name,
		CallID:       c.ID,
		LinkedID:     c.LinkedID,
		Direction:    cdr.Direction(c.Direction),
		Domain:       c.Domain,
		Account:      c.Account,
		Gateway:      c.Gateway,
		CallerNumber: c.CallerNumber,
		CallerName:   c.CallerName,
		Dialed:       c.Callee,
		Destination:  c.Callee,
		Start:        c.Start,
		End:          end,
		Duration:     int(end.Sub(c.Start) / time.Second),
		Disposition:  disposition(c.Answer != nil, cause),
		Cause:        cause,
		CauseText:    causeNames[cause],
		Codec:        "PCMA",
		UserAgent:    "switchtest",
	}
	if r.Direction == "" {
		r.Direction = cdr.DirectionInternal
		if c.Gateway != "" {
			r.Direction = cdr.DirectionOutbound
		}
	}
	if c.Answer != nil {
		a := *c.Answer
		r.Answer = &a
		r.Billsec = int(end.Sub(a) / time.Second)
		r.SIPStatus = 200
	}
	r.Raw, _ = json.Marshal(map[string]any{"fake": f.name, "call": c, "end": end, "cause": cause})
	return r
}

// CDRs returns every record the Fake has produced, delivered or not, in
// the order the legs ended.
func (f *Fake) CDRs() []cdr.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cdrs)
}

// PendingCDRs returns how many records no sink has accepted yet.
func (f *Fake) PendingCDRs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cdrs) - f.acked
}

// StreamCDRs hands every finished leg to sink, in order and in batches,
// until ctx ends, when it returns nil. Like a switch's CDR spool, a record
// is delivered until a Put accepts it: a failed Put is retried with backoff,
// and delivery pauses while disconnected. Records are kept by the Fake, not
// the stream, so a second StreamCDRs picks up where the first left off.
func (f *Fake) StreamCDRs(ctx context.Context, sink cdr.Sink) error {
	delay := minRetry
	for {
		f.mu.Lock()
		start := f.acked
		var batch []cdr.Record
		if f.connected && start < len(f.cdrs) {
			batch = slices.Clone(f.cdrs[start:min(len(f.cdrs), start+cdrBatch)])
		}
		changed := f.changed
		f.mu.Unlock()

		if batch == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
				continue
			}
		}
		if err := sink.Put(ctx, batch...); err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
			delay = min(2*delay, maxRetry)
			continue
		}
		delay = minRetry
		f.mu.Lock()
		f.acked = max(f.acked, start+len(batch))
		f.mu.Unlock()
	}
}
