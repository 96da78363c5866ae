package freeswitch

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// The outcomes of a malformed json_cdr POST.
const (
	outcomeDeadLetter  = "dead_letter"  // stored as a dead letter, answered 200
	outcomeRateLimited = "rate_limited" // over the node's budget, answered 429, nothing stored
	outcomeNotStored   = "not_stored"   // no dead-letter store (400) or storing failed (503)
)

// metrics are an adapter's Prometheus series, namespace "switchboard",
// subsystem "freeswitch", labelled with the node's name (bounded by the
// configuration) and the outcome (three values).
type metrics struct {
	malformed *prometheus.CounterVec
	errLog    *prometheus.CounterVec
}

// The outcomes of an err-log-dir file (ImportErrLogDir).
const (
	errLogImported   = "imported"    // its record was stored (or was already)
	errLogDeadLetter = "dead_letter" // not a CDR: stored as a dead letter, moved to rejected/
)

// newMetrics creates the adapter's series, every outcome at zero so that
// the family is exported before the first malformed post, and registers
// them with reg when it is not nil.
func newMetrics(node string, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchboard", Subsystem: "freeswitch", Name: "json_cdr_malformed_total",
			Help:        "mod_json_cdr POSTs that were not a CDR, by outcome: dead_letter (stored, 200), rate_limited (over the node's dead-letter budget: 429, nothing stored), not_stored (400 or 503).",
			ConstLabels: prometheus.Labels{"switch": node},
		}, []string{"outcome"}),
		errLog: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchboard", Subsystem: "freeswitch", Name: "json_cdr_err_log_files_total",
			Help:        "Files of mod_json_cdr's err-log-dir (records FreeSWITCH gave up posting) read by Switchboard, by outcome: imported (stored, file removed), dead_letter (not a CDR, moved to rejected/).",
			ConstLabels: prometheus.Labels{"switch": node},
		}, []string{"outcome"}),
	}
	for _, o := range []string{outcomeDeadLetter, outcomeRateLimited, outcomeNotStored} {
		m.malformed.WithLabelValues(o)
	}
	for _, o := range []string{errLogImported, errLogDeadLetter} {
		m.errLog.WithLabelValues(o)
	}
	if reg != nil {
		if err := registerAll(reg, m.malformed, m.errLog); err != nil {
			var dup prometheus.AlreadyRegisteredError
			if errors.As(err, &dup) {
				return nil, fmt.Errorf("freeswitch: node %q: metrics already registered (two nodes of one name?): %w", node, err)
			}
			return nil, fmt.Errorf("freeswitch: node %q: metrics: %w", node, err)
		}
	}
	return m, nil
}

// registerAll registers each collector, stopping at the first error.
func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
