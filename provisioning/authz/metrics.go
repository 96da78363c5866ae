package authz

import "github.com/prometheus/client_golang/prometheus"

var (
	refusedDesc = prometheus.NewDesc("switchboard_authz_refused_total",
		"Calls refused by real-time authorization, by reason.", []string{"reason"}, nil)
	liveDesc = prometheus.NewDesc("switchboard_authz_reserved_calls",
		"Calls holding an authorization reservation (authorized, not yet released or expired).", nil, nil)
	journalFailDesc = prometheus.NewDesc("switchboard_authz_journal_failures_total",
		"Writes of the reservation journal (the live calls' reservations, written behind every 50 ms so that a restarted daemon still counts them) that failed, the database being down: retried with backoff while authorization goes on from memory; a restart meanwhile forgets the calls not written.", nil, nil)
	journalPendingDesc = prometheus.NewDesc("switchboard_authz_journal_pending",
		"Reservation changes (new, released, ended calls) waiting to be written to the journal: near 0 normally, growing while the database is down.", nil, nil)
)

// Collector exports the refusals by reason (every reason, 0 included, so
// that an alert's rate() sees the first one), the live reservations and
// the journal's failed writes and pending changes (0 without a journal).
func (a *Authorizer) Collector() prometheus.Collector { return collector{a} }

type collector struct{ a *Authorizer }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- refusedDesc
	ch <- liveDesc
	ch <- journalFailDesc
	ch <- journalPendingDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.a.mu.Lock()
	n, failures, pending := len(c.a.calls), c.a.journalFailures, c.a.journalPending()
	counts := make([]uint64, len(Reasons))
	for i, r := range Reasons {
		counts[i] = c.a.refused[r]
	}
	c.a.mu.Unlock()
	for i, r := range Reasons {
		ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(counts[i]), string(r))
	}
	ch <- prometheus.MustNewConstMetric(liveDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(journalFailDesc, prometheus.CounterValue, float64(failures))
	ch <- prometheus.MustNewConstMetric(journalPendingDesc, prometheus.GaugeValue, float64(pending))
}
