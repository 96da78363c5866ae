package authz

import "github.com/prometheus/client_golang/prometheus"

var (
	refusedDesc = prometheus.NewDesc("switchboard_authz_refused_total",
		"Calls refused by real-time authorization, by reason.", []string{"reason"}, nil)
	liveDesc = prometheus.NewDesc("switchboard_authz_reserved_calls",
		"Calls holding an authorization reservation (authorized, not yet released or expired).", nil, nil)
)

// Collector exports the refusals by reason (every reason, 0 included, so
// that an alert's rate() sees the first one) and the live reservations.
func (a *Authorizer) Collector() prometheus.Collector { return collector{a} }

type collector struct{ a *Authorizer }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- refusedDesc
	ch <- liveDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.a.mu.Lock()
	n := len(c.a.calls)
	counts := make([]uint64, len(Reasons))
	for i, r := range Reasons {
		counts[i] = c.a.refused[r]
	}
	c.a.mu.Unlock()
	for i, r := range Reasons {
		ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(counts[i]), string(r))
	}
	ch <- prometheus.MustNewConstMetric(liveDesc, prometheus.GaugeValue, float64(n))
}
