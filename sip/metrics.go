package sip

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the prober's Prometheus series, namespace "switchboard",
// subsystem "sip". Switch listeners are labelled per target (a handful);
// gateways are exported by the presence view's collector from the "sip"
// feed; contacts are only counted by status,
// as per-phone labels would grow with traffic. The per-target gauges are
// read from the prober's state when scraped, so a removed target's series
// disappear with it; the counters are kept in arrays, not label lookups,
// so that counting a probe allocates nothing.
type metrics struct {
	p *Prober

	probes  sync.Map // Kind -> *[numResults]resultCounter
	changes sync.Map // Kind -> *atomic.Uint64

	regFailures *prometheus.CounterVec
	// rttHist is switchboard_sip_options_rtt_seconds{kind}: the
	// distribution of round trips without a per-target label, which would
	// cost a dozen series per gateway.
	rttHist *prometheus.HistogramVec

	up, rtt, contacts, regOK, regDur, probesDesc, changesDesc *prometheus.Desc
}

func newMetrics(p *Prober) *metrics {
	name := func(n string) string { return prometheus.BuildFQName("switchboard", "sip", n) }
	return &metrics{
		p: p,
		regFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchboard", Subsystem: "sip", Name: "register_check_failures_total",
			Help: "Failed synthetic registration checks, by switch and final SIP code (0: no answer).",
		}, []string{"switch", "code"}),
		rttHist: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "switchboard", Subsystem: "sip", Name: "options_rtt_seconds",
			Help:    "Round trips of answered OPTIONS probes, by kind of target (gateway, switch, contact).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"kind"}),
		up: prometheus.NewDesc(name("probe_up"),
			"1 while a gateway or switch SIP listener answers OPTIONS (reachable or lagged), 0 once unreachable. Absent until decided.",
			[]string{"kind", "target"}, nil),
		rtt: prometheus.NewDesc(name("probe_rtt_seconds"),
			"Round trip of the last answered OPTIONS to a gateway or switch SIP listener.",
			[]string{"kind", "target"}, nil),
		contacts: prometheus.NewDesc(name("contacts"),
			"Qualified contacts by status (reachable, lagged, unreachable, unknown).",
			[]string{"status"}, nil),
		probesDesc: prometheus.NewDesc(name("probes_total"),
			"OPTIONS probes by target kind and result: answered (any final response), timeout or error (ICMP, refused, TLS).",
			[]string{"kind", "result"}, nil),
		changesDesc: prometheus.NewDesc(name("probe_status_changes_total"),
			"Status changes of probed targets, by kind.",
			[]string{"kind"}, nil),
		regOK: prometheus.NewDesc(name("register_check_success"),
			"1 if the last synthetic registration check of a switch succeeded, 0 if it failed. Absent before the first check.",
			[]string{"switch"}, nil),
		regDur: prometheus.NewDesc(name("register_check_duration_seconds"),
			"Time from the first REGISTER of the last check to its 200 OK (or to its failure).",
			[]string{"switch"}, nil),
	}
}

// resultCounter counts the probes of one kind with one result.
type resultCounter = atomic.Uint64

func (m *metrics) probe(k Kind, r probeResult, rtt time.Duration) {
	if r == resultAnswered && rtt > 0 {
		m.rttHist.WithLabelValues(string(k)).Observe(rtt.Seconds())
	}
	v, ok := m.probes.Load(k)
	if !ok {
		v, _ = m.probes.LoadOrStore(k, new([numResults]resultCounter))
	}
	v.(*[numResults]resultCounter)[r].Add(1)
}

func (m *metrics) statusChange(k Kind) {
	v, ok := m.changes.Load(k)
	if !ok {
		v, _ = m.changes.LoadOrStore(k, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

func (m *metrics) registerFailure(sw string, code int) {
	m.regFailures.WithLabelValues(sw, strconv.Itoa(code)).Inc()
}

// RegisterMetrics registers the prober's series on reg:
//
//	switchboard_sip_probe_up{kind,target}                  switch listeners only: 1 reachable/lagged, 0 unreachable
//	switchboard_sip_probe_rtt_seconds{kind,target}         switch listeners only: last RTT
//	switchboard_sip_options_rtt_seconds{kind}              histogram of answered round trips
//	switchboard_sip_probes_total{kind,result}              result = answered|timeout|error
//	switchboard_sip_probe_status_changes_total{kind}
//	switchboard_sip_register_check_success{switch}         1/0
//	switchboard_sip_register_check_duration_seconds{switch}
//	switchboard_sip_register_check_failures_total{switch,code}
//	switchboard_sip_contacts{status}
func (p *Prober) RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{collector{p.metrics}, p.metrics.regFailures, p.metrics.rttHist} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// collector reads the prober's state at scrape time.
type collector struct{ m *metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	m := c.m
	for _, d := range []*prometheus.Desc{m.up, m.rtt, m.contacts, m.probesDesc, m.changesDesc, m.regOK, m.regDur} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	p := m.p
	type infra struct {
		kind, name string
		status     Status
		rtt        float64
		answered   bool
	}
	var rows []infra
	contacts := map[Status]int{StatusReachable: 0, StatusLagged: 0, StatusUnreachable: 0, StatusUnknown: 0}
	type reg struct {
		name string
		ok   bool
		dur  float64
	}
	var regs []reg
	p.mu.Lock()
	for _, e := range p.entries {
		if e.res.Kind == KindContact {
			contacts[e.res.Status]++
			continue
		}
		if e.res.Kind == KindGateway {
			// Gateways are in the presence view (switch "sip"), whose
			// collector exports switchboard_gateway_up and _rtt_seconds:
			// repeating them here would cost two series per gateway of a
			// 5,000-series budget.
			continue
		}
		rows = append(rows, infra{string(e.res.Kind), e.res.Name, e.res.Status, e.res.RTT.Seconds(), e.res.RTT > 0})
	}
	for _, r := range p.regs {
		if !r.res.At.IsZero() {
			regs = append(regs, reg{r.check.Name, r.res.OK, r.res.Duration.Seconds()})
		}
	}
	p.mu.Unlock()

	for _, r := range rows {
		switch r.status {
		case StatusReachable, StatusLagged:
			ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 1, r.kind, r.name)
		case StatusUnreachable:
			ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 0, r.kind, r.name)
		}
		if r.answered {
			ch <- prometheus.MustNewConstMetric(m.rtt, prometheus.GaugeValue, r.rtt, r.kind, r.name)
		}
	}
	for st, n := range contacts {
		ch <- prometheus.MustNewConstMetric(m.contacts, prometheus.GaugeValue, float64(n), string(st))
	}
	m.probes.Range(func(k, v any) bool {
		counts := v.(*[numResults]resultCounter)
		for r := range numResults {
			ch <- prometheus.MustNewConstMetric(m.probesDesc, prometheus.CounterValue, float64(counts[r].Load()), string(k.(Kind)), r.String())
		}
		return true
	})
	m.changes.Range(func(k, v any) bool {
		ch <- prometheus.MustNewConstMetric(m.changesDesc, prometheus.CounterValue, float64(v.(*atomic.Uint64).Load()), string(k.(Kind)))
		return true
	})
	for _, r := range regs {
		ok := 0.0
		if r.ok {
			ok = 1
		}
		ch <- prometheus.MustNewConstMetric(m.regOK, prometheus.GaugeValue, ok, r.name)
		ch <- prometheus.MustNewConstMetric(m.regDur, prometheus.GaugeValue, r.dur, r.name)
	}
}
