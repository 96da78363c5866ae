package freeswitch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// Rejecter stores what a source received but could not make a Record of
// (cdr.Pipeline does, durably).
type Rejecter interface {
	Reject(ctx context.Context, dl cdr.DeadLetter) error
}

// maxJSONCDRBody bounds a mod_json_cdr POST: a leg's record is a few kB,
// tens with long variable lists.
const maxJSONCDRBody = 4 << 20

// JSONCDRHandler answers mod_json_cdr's POSTs for this node (url =
// http://switchboard/freeswitch/<node>/cdr in json_cdr.conf.xml). A record
// is answered 200 only once the CDR sink has accepted it (the pipeline
// acknowledges only what is committed or spooled to disk), so FreeSWITCH
// keeps, retries and finally writes to its err-log-dir whatever was not
// acknowledged. Records reach the sink through the same queue as the
// records derived from CHANNEL_HANGUP_COMPLETE, so both ways end in one
// row per leg (the store keeps the first record of a uuid; the two agree
// field by field).
//
// A body that is not a CDR (malformed JSON, no uuid) would fail the same
// way on every retry: it is stored as a dead letter through rejects and
// answered 200; without a Rejecter, or if storing it fails, it is answered
// 400 or 503 so that FreeSWITCH keeps it. Dead letters are rationed per
// node (Config.DeadLettersPerMinute, a token bucket): beyond the budget a
// malformed body is answered 429 with Retry-After and not stored, so that
// a sender with the node's credentials cannot fill the database with
// garbage. mod_json_cdr takes any answer but 2xx as a failure: it retries
// (retries, delay in json_cdr.conf.xml) and then writes the body to its
// err-log-dir, so a real node's record is kept on the node, not lost.
// Every malformed body is counted in
// switchboard_freeswitch_json_cdr_malformed_total by outcome.
func (a *Adapter) JSONCDRHandler(rejects Rejecter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "json_cdr: POST a mod_json_cdr record", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONCDRBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, fmt.Sprintf("json_cdr: body over %d bytes", maxJSONCDRBody), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "json_cdr: reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		rec, err := ParseJSONCDRPost(r.Header.Get("Content-Type"), body,
			JSONCDROptions{Switch: a.cfg.Name, IsGateway: a.cfg.IsGateway, OutsideProfiles: a.outsideProfiles()})
		if err != nil {
			a.rejectCDR(w, r, rejects, body, err)
			return
		}
		if err := a.submit(r.Context(), rec); err != nil {
			a.log.Warn("freeswitch: json_cdr record not yet stored; FreeSWITCH will retry", "call", rec.CallID, "err", err)
			http.Error(w, "json_cdr: not stored yet, retry: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// submit queues rec for StreamCDRs and waits until the sink accepted it,
// at most CDRAckTimeout. A record still queued when the wait ends is
// delivered later anyway, so FreeSWITCH's retry of it (every `delay`
// seconds, `retries` times) does not queue it again: it waits for the
// copy already queued. Otherwise a sink that is down would have every
// leg queued once per try (seen live: 6 copies per leg with the operator
// configuration), all of them held in memory and written when the sink
// is back.
func (a *Adapter) submit(ctx context.Context, rec cdr.Record) error {
	q := a.queueCDR(rec)
	t := time.NewTimer(a.cfg.CDRAckTimeout)
	defer t.Stop()
	select {
	case err := <-q.ack:
		a.acceptedCDR(rec.CallID, q)
		return err
	case <-q.done:
		return nil
	case <-t.C:
		return fmt.Errorf("freeswitch: the CDR sink did not accept the record within %s", a.cfg.CDRAckTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// queuedCDR is a json_cdr record in the outbox that the sink has not
// accepted yet.
type queuedCDR struct {
	ack  chan error    // the outbox's acknowledgement (buffered: sent once)
	done chan struct{} // closed once the acknowledgement was taken
}

// queueCDR returns the queued copy of rec's leg, queueing rec if there is
// none. Legs whose acknowledgement nobody waited for are forgotten on the
// way (at most once a second: while the sink is down, none is), so the
// map holds little more than the records still in the outbox.
func (a *Adapter) queueCDR(rec cdr.Record) *queuedCDR {
	a.queuedMu.Lock()
	defer a.queuedMu.Unlock()
	if now := time.Now(); now.Sub(a.queuedSwept) >= time.Second {
		a.queuedSwept = now
		for id, q := range a.queued {
			select {
			case <-q.ack:
				close(q.done)
				delete(a.queued, id)
			default:
			}
		}
	}
	if q := a.queued[rec.CallID]; q != nil {
		return q
	}
	q := &queuedCDR{ack: make(chan error, 1), done: make(chan struct{})}
	a.queued[rec.CallID] = q
	a.outbox.Add([]cdr.Record{rec}, q.ack)
	return q
}

// acceptedCDR tells the other waiters of q, if any, that its record was
// accepted and forgets it.
func (a *Adapter) acceptedCDR(id string, q *queuedCDR) {
	a.queuedMu.Lock()
	defer a.queuedMu.Unlock()
	close(q.done)
	if a.queued[id] == q {
		delete(a.queued, id)
	}
}

func (a *Adapter) rejectCDR(w http.ResponseWriter, r *http.Request, rejects Rejecter, body []byte, perr error) {
	if !errors.Is(perr, ErrMalformedCDR) || rejects == nil {
		a.metrics.malformed.WithLabelValues(outcomeNotStored).Inc()
		http.Error(w, "json_cdr: "+perr.Error(), http.StatusBadRequest)
		return
	}
	if ok, retryAfter := a.deadLetters.take(); !ok {
		a.metrics.malformed.WithLabelValues(outcomeRateLimited).Inc()
		a.log.Debug("freeswitch: malformed json_cdr record refused: over the dead-letter budget", "err", perr)
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
		http.Error(w, fmt.Sprintf("json_cdr: %v; over %d malformed records a minute, not stored",
			perr, a.cfg.DeadLettersPerMinute), http.StatusTooManyRequests)
		return
	}
	dl := cdr.DeadLetter{Source: "freeswitch:" + a.cfg.Name + " json_cdr", Reason: perr.Error(), Raw: string(body)}
	if err := rejects.Reject(r.Context(), dl); err != nil {
		a.metrics.malformed.WithLabelValues(outcomeNotStored).Inc()
		http.Error(w, "json_cdr: storing the malformed record failed, retry: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	a.metrics.malformed.WithLabelValues(outcomeDeadLetter).Inc()
	a.log.Warn("freeswitch: malformed json_cdr record kept as a dead letter", "err", perr)
	w.WriteHeader(http.StatusOK)
}
