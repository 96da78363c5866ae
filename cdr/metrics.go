package cdr

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-voip/switchboard/internal/money"
)

// metrics are a pipeline's Prometheus series, namespace "switchboard",
// subsystem "cdr". None has a per-call label: the one label, a batch's
// target, has two values.
//
// The counters and gauges read the pipeline's own counters (the ones Stats
// reports) when scraped, so there is one source of truth; the histograms
// are observed by the writer.
type metrics struct {
	batchSeconds prometheus.Histogram
	delay        prometheus.Histogram
	// Calls, counted once per call (so ASR and ACD derive from counters;
	// see originating): labels are the configured switches, three
	// directions, five dispositions, eight Q.850 cause classes, and
	// provisioned gateways (capped: gatewayLabel).
	calls        *prometheus.CounterVec
	answeredSecs *prometheus.CounterVec
	gwCalls      *prometheus.CounterVec
	gwSeconds    *prometheus.CounterVec
	gateways     gatewayLabels
	// Prices of stored CDRs: revenue by currency (the plans' currencies)
	// and unpriced CDRs by reason (UnpricedReasons).
	revenue  *prometheus.CounterVec
	unpriced *prometheus.CounterVec
	// Supplier prices of stored gateway legs: cost by currency (the
	// supplier plans' currencies) and gateway legs without one by reason
	// (SupplierUnpricedReasons).
	supplierCost     *prometheus.CounterVec
	supplierUnpriced *prometheus.CounterVec
	collectors       []prometheus.Collector
}

func newMetrics(p *Pipeline) *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "switchboard", Subsystem: "cdr", Name: name, Help: help}
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts(name, help)), f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts(opts(name, help)), f)
	}
	batches := func(target string, f func() float64) prometheus.Collector {
		o := opts("batches_total", "Batches written, by target: the store (one transaction) or the spool (one fsync).")
		o.ConstLabels = prometheus.Labels{"target": target}
		return prometheus.NewCounterFunc(prometheus.CounterOpts(o), f)
	}
	m := &metrics{
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "switchboard", Subsystem: "cdr", Name: "batch_write_seconds",
			Help:    "Time to write one batch of CDRs to the store, failed attempts included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15), // 0.5 ms … 8 s
		}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "switchboard", Subsystem: "cdr", Name: "hangup_to_queryable_seconds",
			Help: "Time from a call's end to the commit that made its CDR queryable. " +
				"Replays after an outage and imports of old files land in the top buckets.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
		}),
	}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "switchboard", Name: "calls_completed_total",
		Help: "Calls ended (one per call, counted from its originating leg's stored CDR), by switch, direction, " +
			"disposition and Q.850 cause class (normal, resource, service, implementation, invalid, protocol, interworking, unknown).",
	}, []string{"switch", "direction", "disposition", "cause_class"})
	m.answeredSecs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "switchboard", Name: "call_answered_seconds_total",
		Help: "Billable seconds of ended calls (their originating leg's billsec), by switch and direction (ACD = this / answered calls).",
	}, []string{"switch", "direction"})
	m.gwCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "switchboard", Name: "gateway_calls_total",
		Help: "Calls ended through a gateway (one per call), by outcome answered or unanswered (ASR = answered / all).",
	}, []string{"gateway", "outcome"})
	m.gwSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "switchboard", Name: "gateway_answered_seconds_total",
		Help: "Billable seconds of calls ended through a gateway (ACD = this / answered calls).",
	}, []string{"gateway"})
	m.revenue = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "switchboard", Subsystem: "cdr", Name: "revenue_total",
		Help: "Cost of the priced CDRs stored, in units of their currency, by currency (every priced leg, as charged to its owner).",
	}, []string{"currency"})
	m.unpriced = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "switchboard", Subsystem: "cdr", Name: "unpriced_total",
		Help: "CDRs stored without a price, by reason (no_tenant, no_plan, no_rate, invalid_number, lookup_failed, did_other_tenant, no_direction, rating_error).",
	}, []string{"reason"})
	for _, r := range UnpricedReasons {
		m.unpriced.WithLabelValues(string(r)) // every reason exported from the start
	}
	m.supplierCost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "switchboard", Subsystem: "cdr", Name: "supplier_cost_total",
		Help: "Supplier cost of the gateway legs stored, in units of their currency, by currency (what the gateways' carriers charge, never charged to a tenant).",
	}, []string{"currency"})
	m.supplierUnpriced = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "switchboard", Subsystem: "cdr", Name: "supplier_unpriced_total",
		Help: "Gateway legs stored without a supplier cost, by reason (no_plan, no_rate, invalid_number, lookup_failed, rating_error).",
	}, []string{"reason"})
	for _, r := range SupplierUnpricedReasons {
		m.supplierUnpriced.WithLabelValues(string(r))
	}
	load := func(n interface{ Load() int64 }) func() float64 {
		return func() float64 { return float64(n.Load()) }
	}
	m.collectors = []prometheus.Collector{
		m.batchSeconds, m.delay, m.calls, m.answeredSecs, m.gwCalls, m.gwSeconds, m.revenue, m.unpriced, m.supplierCost, m.supplierUnpriced,
		gauge("queue_length", "CDRs and dead letters queued for the writer.", func() float64 { return float64(p.q.len()) }),
		gauge("spool_records", "Entries in the spool, waiting for the store.", func() float64 { return float64(p.spool.stats().records) }),
		gauge("spool_bytes", "Size of the spool on disk.", func() float64 { return float64(p.spool.stats().bytes) }),
		gauge("database_up", "1 while the last write to the store succeeded, 0 while the store is failing.", func() float64 {
			if p.dbUp.Load() {
				return 1
			}
			return 0
		}),
		counter("records_written_total", "CDRs committed to the store (new ones; duplicates not counted).", load(&p.written)),
		counter("duplicates_total", "CDRs skipped because the store already had their (switch, call_id).", load(&p.duplicates)),
		counter("dead_letters_total", "Dead letters written to the store: invalid, refused or damaged records.", load(&p.deadLetters)),
		batches("store", load(&p.storeBatches)),
		batches("spool", load(&p.spoolBatches)),
	}
	return m
}

// observeCalls counts the calls of freshly stored legs: one per call,
// from its originating leg (see originating), so that one answered call
// of two legs is one call and its talk time is counted once, as
// switchboard_active_calls counts live calls.
func (m *metrics) observeCalls(fresh []Record) {
	for i := range fresh {
		r := &fresh[i]
		if !originating(r) {
			continue
		}
		dir := string(r.Direction)
		m.calls.WithLabelValues(r.Switch, dir, string(r.Disposition), CauseClass(r.Cause)).Inc()
		if r.Billsec > 0 {
			m.answeredSecs.WithLabelValues(r.Switch, dir).Add(float64(r.Billsec))
		}
		name := r.Gateway
		if name == "" {
			if r.Direction != DirectionInbound && r.Direction != DirectionOutbound {
				continue
			}
			name = UnknownGateway
		}
		gw := m.gateways.label(name)
		outcome := "unanswered"
		if r.Disposition == Answered {
			outcome = "answered"
			m.gwSeconds.WithLabelValues(gw).Add(float64(r.Billsec))
		}
		m.gwCalls.WithLabelValues(gw, outcome).Inc()
	}
}

// observePrices counts the prices of freshly stored legs: revenue per
// currency, unpriced legs per reason, and the same for supplier prices.
// A leg costing 0 by rule counts in neither.
func (m *metrics) observePrices(fresh []Record) {
	for i := range fresh {
		r := &fresh[i]
		switch {
		case r.Cost != nil && *r.Cost != 0:
			m.revenue.WithLabelValues(string(r.Currency)).Add(float64(*r.Cost) / float64(money.Unit))
		case r.Cost == nil && r.Unpriced != "":
			m.unpriced.WithLabelValues(string(r.Unpriced)).Inc()
		}
		switch {
		case r.SupplierCost != nil && *r.SupplierCost != 0:
			m.supplierCost.WithLabelValues(string(r.SupplierCurrency)).Add(float64(*r.SupplierCost) / float64(money.Unit))
		case r.SupplierCost == nil && r.SupplierUnpriced != "":
			m.supplierUnpriced.WithLabelValues(string(r.SupplierUnpriced)).Inc()
		}
	}
}

// originating reports whether r is the leg that stands for its call in
// the call counters: the leg that started the call, whose CallID is the
// LinkedID every leg of the call shares (Asterisk's linkedid is the
// uniqueid of the channel that started it; FreeSWITCH's a-leg has no
// originator, so its LinkedID is its own uuid), or a leg without a
// LinkedID, which is a call of its own. Its disposition and billsec are
// the call's: the caller's leg is answered once the call is, and is up
// as long as the call. Every other leg (a callee, each leg a ring group
// forked, a transfer's new legs) belongs to a call counted by its
// originating leg. A store that never receives the originating leg (an
// import of callee legs alone) therefore counts no call for them; their
// CDRs are stored and counted in switchboard_cdr_records_written_total
// all the same.
func originating(r *Record) bool {
	return r.LinkedID == "" || r.LinkedID == r.CallID
}

// CauseClass names the Q.850 class of a cause value: the class is the
// value's top three bits (ITU-T Q.850 §2.2.5).
func CauseClass(cause int) string {
	switch {
	case cause <= 0 || cause > 127:
		return "unknown"
	case cause < 32:
		return "normal"
	case cause < 48:
		return "resource"
	case cause < 64:
		return "service"
	case cause < 80:
		return "implementation"
	case cause < 96:
		return "invalid"
	case cause < 112:
		return "protocol"
	default:
		return "interworking"
	}
}

// UnknownGateway is the gateway label of a leg from or to outside the
// switch that names no provisioned gateway (a carrier calling a DID from
// an address no gateway matches): counted, not lost from ASR/ACD. The
// record itself keeps an empty gateway.
const UnknownGateway = "_unknown"

// maxGatewayLabels bounds the gateway label: switches name only
// provisioned gateways in live CDRs, but an import of another system's
// files could bring any number of names.
const maxGatewayLabels = 2000

// gatewayLabels hands out gateway label values, at most maxGatewayLabels
// distinct ones; later names count as "_other".
type gatewayLabels struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (g *gatewayLabels) label(name string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen[name] {
		return name
	}
	if len(g.seen) >= maxGatewayLabels {
		return "_other"
	}
	if g.seen == nil {
		g.seen = map[string]bool{}
	}
	g.seen[name] = true
	return name
}

// register registers every series with reg. A series already registered
// (a second pipeline on the same registry) is an error.
func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return fmt.Errorf("cdr: metrics: already registered (one pipeline per registry): %w", err)
			}
			return fmt.Errorf("cdr: metrics: %w", err)
		}
	}
	return nil
}
