package cdr

import (
	"errors"
	"time"

	"github.com/switchboard-voip/switchboard/internal/backoff"
)

// The pipeline's reaction to store failures: the retry policy, the
// outage and recovery reports, and the tell between a poison record and
// an outage.

// errorAt is the last error and when it happened, for Stats.
type errorAt struct {
	err string
	at  time.Time
}

// retries returns a fresh retry policy for one loop of the pipeline:
// 100 ms doubling to 5 s, jittered (internal/backoff), unless a test set
// shorter waits.
func (p *Pipeline) retries() *backoff.Backoff { return backoff.New(p.retryMin, p.retryMax) }

// storeFailed records a store failure; the first after a success is
// logged as an outage.
func (p *Pipeline) storeFailed(err error) {
	p.setLastError(err)
	if p.dbUp.Swap(false) {
		p.log.Warn("cdr: the store is failing; CDRs go to the spool until it answers", "err", err)
	} else {
		p.log.Debug("cdr: the store is still failing", "err", err)
	}
}

func (p *Pipeline) storeUp() {
	if !p.dbUp.Swap(true) {
		st := p.spool.stats()
		p.log.Info("cdr: the store answers again; replaying the spool", "records", st.records, "bytes", st.bytes)
	}
}

func (p *Pipeline) setLastError(err error) {
	p.lastErr.Store(&errorAt{err: err.Error(), at: time.Now()})
}

// isPoison reports whether err is the store refusing a batch for what is
// in it, rather than failing to take it: ErrInvalidRecord (Validate's
// verdict) or ErrRefused (the store's, which alone knows its database's
// error codes). Anything else, known or not, is taken for an outage:
// retrying a good record costs time, while dead-lettering it because the
// database was down would lose it from the CDR table.
func isPoison(err error) bool {
	return errors.Is(err, ErrInvalidRecord) || errors.Is(err, ErrRefused)
}
