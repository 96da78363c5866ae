package presence

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxDomainSeries is how many domains get series of their own in
// switchboard_registrations unless WithMaxDomainSeries says otherwise.
const DefaultMaxDomainSeries = 100

// OtherDomain is the domain label under which switchboard_registrations
// sums the registrations of every domain beyond the cap.
const OtherDomain = "_other"

// ProbeFeed is the name of the feed the SIP prober writes its gateway
// results into (gateways only: the switches' own SIP listeners it probes
// are not gateways and are exported by the prober). It is not a switch: it has no connection of its own to
// report, so the collector gives it no switch_up or reconnects series (the
// prober exports its own health), while its gateways appear with
// switch="sip".
const ProbeFeed = "sip"

// The label values of switchboard_registrations' transport. A phone can
// put any transport=… parameter in its Contact, so the label is closed:
// unknown words become "other", an empty one "unknown".
var transports = [...]string{"udp", "tcp", "tls", "ws", "wss", "other", "unknown"}

const (
	transportOther   = 5
	transportUnknown = 6
	// canonicalTransports are the first entries of transports: each switch
	// always has an OtherDomain series for them, zero or not.
	canonicalTransports = 5
)

// transportIndex returns the index of t's label value in transports.
func transportIndex(t string) int {
	switch t {
	case "udp":
		return 0
	case "tcp":
		return 1
	case "tls":
		return 2
	case "ws":
		return 3
	case "wss":
		return 4
	case "":
		return transportUnknown
	}
	if l := strings.ToLower(t); l != t {
		return transportIndex(l)
	}
	return transportOther
}

// callDirections are the label values of switchboard_active_calls'
// direction; anything else an adapter reports is "other", and nothing at
// all "unknown".
func callDirection(d string) string {
	switch d {
	case "inbound", "outbound", "internal":
		return d
	case "":
		return "unknown"
	}
	return "other"
}

// CollectorOption configures the collector returned by View.Collector.
type CollectorOption func(*collectorConfig)

type collectorConfig struct {
	maxDomains int
	probeFeeds map[string]bool
}

// WithMaxDomainSeries sets how many domains, the largest by live
// registrations over every switch, get switchboard_registrations series of
// their own per scrape; the others are summed into domain="_other". Zero
// puts every domain into "_other"; a negative n means the default.
func WithMaxDomainSeries(n int) CollectorOption {
	return func(c *collectorConfig) {
		if n >= 0 {
			c.maxDomains = n
		}
	}
}

// WithProbeFeeds names the feeds that are probers rather than switches
// (default: ProbeFeed). They get no switch_up or reconnects series.
func WithProbeFeeds(names ...string) CollectorOption {
	return func(c *collectorConfig) {
		c.probeFeeds = make(map[string]bool, len(names))
		for _, n := range names {
			c.probeFeeds[n] = true
		}
	}
}

// Collector returns a Prometheus collector of the View's switch, registration,
// gateway and live-call series (see metrics/README.md for the table). It
// reads the View when scraped, under the read lock, so the series are never
// older than the scrape and there is no second copy of the state to keep in
// step.
//
// Cardinality is bounded by configuration, never by traffic: there is no
// per-phone or per-call label. Switch and gateway names are provisioned;
// transports and call directions are closed sets; and domains are capped
// (WithMaxDomainSeries) because a hosted platform can carry thousands of
// tenant domains, and a switch can accept registrations for domains nobody
// provisioned: without the cap, switches × domains × transports series
// would grow with the customer base instead of with the NOC's needs. The
// largest domains, the ones whose loss a NOC must see, keep their own
// series, and sum by (switch) stays exact whatever the cap. Smaller domains
// are in the API.
func (v *View) Collector(opts ...CollectorOption) prometheus.Collector {
	cfg := collectorConfig{maxDomains: DefaultMaxDomainSeries, probeFeeds: map[string]bool{ProbeFeed: true}}
	for _, o := range opts {
		o(&cfg)
	}
	return &collector{v: v, cfg: cfg}
}

var (
	descSwitchUp = prometheus.NewDesc("switchboard_switch_up",
		"1 while Switchboard is connected to the switch, 0 while it is not (its last known state is still served).",
		[]string{"switch"}, nil)
	descReconnects = prometheus.NewDesc("switchboard_switch_reconnects_total",
		"Connections to the switch that were lost (connected to disconnected transitions).",
		[]string{"switch"}, nil)
	descRegistrations = prometheus.NewDesc("switchboard_registrations",
		"Live registered contacts, by switch, domain and transport. Domains beyond the largest "+
			"max-domain-series are summed into domain=\"_other\".",
		[]string{"switch", "domain", "transport"}, nil)
	descGatewayUp = prometheus.NewDesc("switchboard_gateway_up",
		"1 while the gateway can carry calls, 0 while it is down, as the switch (or the SIP prober, switch=\"sip\") "+
			"reports it; no series while the state is unknown.",
		[]string{"switch", "gateway"}, nil)
	descGatewayRTT = prometheus.NewDesc("switchboard_gateway_rtt_seconds",
		"Last qualify/ping round trip to the gateway; only while the gateway is up and the round trip is known.",
		[]string{"switch", "gateway"}, nil)
	descActiveCalls = prometheus.NewDesc("switchboard_active_calls",
		"Calls up or ringing (legs sharing a linked id count once), by switch, direction and gateway "+
			"(\"none\" for on-net calls).",
		[]string{"switch", "direction", "gateway"}, nil)
)

// collector is the View's prometheus.Collector.
type collector struct {
	v   *View
	cfg collectorConfig
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSwitchUp, descReconnects, descRegistrations, descGatewayUp, descGatewayRTT, descActiveCalls} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	stats := c.v.metricStats(c.cfg.probeFeeds)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	top := topDomains(stats, c.cfg.maxDomains)
	for _, s := range stats {
		if !s.probe {
			up := 0.0
			if s.connected {
				up = 1
			}
			gauge(descSwitchUp, up, s.name)
			ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(s.reconnects), s.name)
		}
		var other [len(transports)]int
		for _, d := range s.domains {
			if !top[d.name] {
				for t, n := range d.byTransport {
					other[t] += n
				}
				continue
			}
			for t, n := range d.byTransport {
				if n > 0 {
					gauge(descRegistrations, float64(n), s.name, d.name, transports[t])
				}
			}
		}
		for t, n := range other {
			// Every switch always has its "_other" series of the common
			// transports, zero or not, so that sum by (switch) never
			// vanishes: a switch that lost every registration must read
			// 0, not "no data", or the drop alert could not see it.
			if n > 0 || (t < canonicalTransports && !s.probe) {
				gauge(descRegistrations, float64(n), s.name, OtherDomain, transports[t])
			}
		}
		for _, g := range s.gateways {
			switch g.state {
			case GatewayUp:
				gauge(descGatewayUp, 1, s.name, g.name)
				if g.rtt > 0 {
					gauge(descGatewayRTT, g.rtt.Seconds(), s.name, g.name)
				}
			case GatewayDown:
				gauge(descGatewayUp, 0, s.name, g.name)
			}
		}
		for k, n := range s.calls {
			gauge(descActiveCalls, float64(n), s.name, k.direction, k.gateway)
		}
	}
}

// switchStats is what one scrape needs of one switch, copied out under
// the read lock.
type switchStats struct {
	name       string
	probe      bool
	connected  bool
	reconnects uint64
	domains    []domainStats
	gateways   []gatewayStats
	calls      map[callKey]int
}

type domainStats struct {
	name        string
	byTransport [len(transports)]int
}

type gatewayStats struct {
	name  string
	state GatewayState
	rtt   time.Duration
}

type callKey struct{ direction, gateway string }

// metricStats counts, under the read lock, what Collect exports. Counting
// 100,000 registrations is one pass over their index chunks (about a
// millisecond), which is why the collector needs no counters of its own
// maintained on every write.
func (v *View) metricStats(probeFeeds map[string]bool) []switchStats {
	now := v.now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]switchStats, 0, len(v.names))
	for _, name := range v.names {
		sd := v.switches[name]
		s := switchStats{
			name: name, probe: probeFeeds[name],
			connected: sd.state.Connected, reconnects: sd.reconnects,
			domains:  make([]domainStats, 0, len(sd.regs.byDomain)),
			gateways: make([]gatewayStats, 0, len(sd.gateways)),
		}
		checkExpiry := sd.regs.mayHaveExpired(now)
		for d, x := range sd.regs.byDomain {
			ds := domainStats{name: d}
			for _, ch := range x.chunks {
				for _, e := range ch {
					if checkExpiry && expired(&e.Registration, now) {
						continue
					}
					ds.byTransport[transportIndex(e.Transport)]++
				}
			}
			s.domains = append(s.domains, ds)
		}
		for _, g := range sd.gateways {
			s.gateways = append(s.gateways, gatewayStats{name: g.Name, state: g.State, rtt: g.RTT})
		}
		s.calls = countCalls(sd.calls)
		out = append(out, s)
	}
	return out
}

// countCalls counts calls, not legs: the legs of one call share a LinkedID
// (a leg without one is a call of its own), and a bridged call to a trunk
// must count once against that trunk. A call is labelled by its leg that
// names a gateway, if any (the smallest id among equals, so that the
// choice does not depend on map order).
func countCalls(legs map[string]Call) map[callKey]int {
	type rep struct{ id, direction, gateway string }
	calls := make(map[string]rep, len(legs))
	for _, l := range legs {
		key := cmp.Or(l.LinkedID, l.ID)
		r, seen := calls[key]
		hasGW, repHasGW := l.Gateway != "", r.gateway != ""
		if !seen || hasGW && !repHasGW || hasGW == repHasGW && l.ID < r.id {
			calls[key] = rep{id: l.ID, direction: l.Direction, gateway: l.Gateway}
		}
	}
	out := make(map[callKey]int)
	for _, r := range calls {
		out[callKey{direction: callDirection(r.direction), gateway: cmp.Or(r.gateway, "none")}]++
	}
	return out
}

// topDomains returns the at most n domains with the most live registrations
// over every switch (probe feeds included: they have none), ties broken by
// name so that the choice is stable from one scrape to the next.
func topDomains(stats []switchStats, n int) map[string]bool {
	totals := map[string]int{}
	for _, s := range stats {
		for _, d := range s.domains {
			for _, c := range d.byTransport {
				totals[d.name] += c
			}
		}
	}
	if len(totals) <= n {
		top := make(map[string]bool, len(totals))
		for d := range totals {
			top[d] = true
		}
		return top
	}
	names := make([]string, 0, len(totals))
	for d := range totals {
		names = append(names, d)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(totals[b], totals[a]), strings.Compare(a, b))
	})
	top := make(map[string]bool, n)
	for _, d := range names[:n] {
		top[d] = true
	}
	return top
}
