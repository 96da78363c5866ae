package presence

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func TestCollectorValues(t *testing.T) {
	clk := newFakeClock()
	v := New(WithClock(clk.Now))
	a, b, probe := v.Feed("sw-a"), v.Feed("sw-b"), v.Feed(ProbeFeed)
	a.SetConnected(true, nil)
	a.SetConnected(false, errors.New("EOF"))
	a.SetConnected(true, nil)
	b.SetConnected(false, errors.New("connection refused")) // never connected: no reconnect

	r := func(domain, user, transport string) Registration {
		return Registration{Domain: domain, User: user, Contact: "sip:" + user + "@192.0.2.1", Transport: transport}
	}
	for _, reg := range []Registration{
		r("example.com", "1001", "udp"),
		r("example.com", "1002", "udp"),
		r("example.com", "1003", "tls"),
		r("example.com", "1004", "TCP"),   // switches do not agree on case
		r("example.com", "1005", "bogus"), // a phone's own transport= parameter
		r("example.com", "1006", ""),
	} {
		a.PutRegistration(reg)
	}
	soon := r("example.com", "1007", "udp")
	soon.Expires = clk.Now().Add(time.Minute)
	a.PutRegistration(soon) // expired by the scrape, before any janitor run
	b.PutRegistration(r("other.net", "2001", "wss"))

	a.PutGateway(Gateway{Name: "gw1", State: GatewayUp, RTT: 12 * time.Millisecond})
	a.PutGateway(Gateway{Name: "gw2", State: GatewayUp})                              // RTT unknown
	a.PutGateway(Gateway{Name: "gw3", State: GatewayDown, RTT: 5 * time.Millisecond}) // stale RTT
	a.PutGateway(Gateway{Name: "gw4", State: GatewayUnknown})
	probe.PutGateway(Gateway{Name: "gw1", State: GatewayUp, RTT: 25 * time.Millisecond})

	for _, c := range []Call{
		{ID: "L1-a", LinkedID: "L1", Direction: "outbound"},                 // the phone's leg …
		{ID: "L1-b", LinkedID: "L1", Direction: "outbound", Gateway: "gw1"}, // … and the trunk's: one call
		{ID: "L2-a", LinkedID: "L2", Direction: "internal"},
		{ID: "L2-b", LinkedID: "L2", Direction: "internal"},
		{ID: "solo", Direction: "inbound", Gateway: "gw1"}, // no LinkedID: a call of its own
		{ID: "odd", Direction: "sideways"},
		{ID: "blank"},
	} {
		a.PutCall(c)
	}
	clk.Advance(time.Hour)

	want := `
# HELP switchboard_active_calls Calls up or ringing (legs sharing a linked id count once), by switch, direction and gateway ("none" for on-net calls).
# TYPE switchboard_active_calls gauge
switchboard_active_calls{direction="inbound",gateway="gw1",switch="sw-a"} 1
switchboard_active_calls{direction="internal",gateway="none",switch="sw-a"} 1
switchboard_active_calls{direction="other",gateway="none",switch="sw-a"} 1
switchboard_active_calls{direction="outbound",gateway="gw1",switch="sw-a"} 1
switchboard_active_calls{direction="unknown",gateway="none",switch="sw-a"} 1
# HELP switchboard_gateway_rtt_seconds Last qualify/ping round trip to the gateway; only while the gateway is up and the round trip is known.
# TYPE switchboard_gateway_rtt_seconds gauge
switchboard_gateway_rtt_seconds{gateway="gw1",switch="sip"} 0.025
switchboard_gateway_rtt_seconds{gateway="gw1",switch="sw-a"} 0.012
# HELP switchboard_gateway_up 1 while the gateway can carry calls, 0 while it is down, as the switch (or the SIP prober, switch="sip") reports it; no series while the state is unknown.
# TYPE switchboard_gateway_up gauge
switchboard_gateway_up{gateway="gw1",switch="sip"} 1
switchboard_gateway_up{gateway="gw1",switch="sw-a"} 1
switchboard_gateway_up{gateway="gw2",switch="sw-a"} 1
switchboard_gateway_up{gateway="gw3",switch="sw-a"} 0
# HELP switchboard_registrations Live registered contacts, by switch, domain and transport. Domains beyond the largest max-domain-series are summed into domain="_other".
# TYPE switchboard_registrations gauge
switchboard_registrations{domain="_other",switch="sw-a",transport="tcp"} 0
switchboard_registrations{domain="_other",switch="sw-a",transport="tls"} 0
switchboard_registrations{domain="_other",switch="sw-a",transport="udp"} 0
switchboard_registrations{domain="_other",switch="sw-a",transport="ws"} 0
switchboard_registrations{domain="_other",switch="sw-a",transport="wss"} 0
switchboard_registrations{domain="_other",switch="sw-b",transport="tcp"} 0
switchboard_registrations{domain="_other",switch="sw-b",transport="tls"} 0
switchboard_registrations{domain="_other",switch="sw-b",transport="udp"} 0
switchboard_registrations{domain="_other",switch="sw-b",transport="ws"} 0
switchboard_registrations{domain="_other",switch="sw-b",transport="wss"} 0
switchboard_registrations{domain="example.com",switch="sw-a",transport="other"} 1
switchboard_registrations{domain="example.com",switch="sw-a",transport="tcp"} 1
switchboard_registrations{domain="example.com",switch="sw-a",transport="tls"} 1
switchboard_registrations{domain="example.com",switch="sw-a",transport="udp"} 2
switchboard_registrations{domain="example.com",switch="sw-a",transport="unknown"} 1
switchboard_registrations{domain="other.net",switch="sw-b",transport="wss"} 1
# HELP switchboard_switch_reconnects_total Connections to the switch that were lost (connected to disconnected transitions).
# TYPE switchboard_switch_reconnects_total counter
switchboard_switch_reconnects_total{switch="sw-a"} 1
switchboard_switch_reconnects_total{switch="sw-b"} 0
# HELP switchboard_switch_up 1 while Switchboard is connected to the switch, 0 while it is not (its last known state is still served).
# TYPE switchboard_switch_up gauge
switchboard_switch_up{switch="sw-a"} 1
switchboard_switch_up{switch="sw-b"} 0
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(v.Collector())
	var got bytes.Buffer
	for _, mf := range gather(t, reg) {
		if _, err := expfmt.MetricFamilyToText(&got, mf); err != nil {
			t.Fatal(err)
		}
	}
	if got.String() != strings.TrimPrefix(want, "\n") {
		t.Errorf("scrape:\n%s\nwant:\n%s", got.String(), want)
	}
	problems, err := promlint.NewWithMetricFamilies(gather(t, reg)).Lint()
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}
}

func gather(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func TestReconnectsCount(t *testing.T) {
	tests := []struct {
		name  string
		steps []bool
		want  float64
	}{
		{"never connected", []bool{false, false}, 0},
		{"connected", []bool{true}, 0},
		{"one loss", []bool{true, false}, 1},
		{"repeats do not count", []bool{true, true, false, false, true}, 1},
		{"flapping", []bool{true, false, true, false, true, false}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := New()
			f := v.Feed("sw")
			for _, up := range tt.steps {
				f.SetConnected(up, nil)
			}
			got := gatherValues(t, v.Collector())["switchboard_switch_reconnects_total"]
			if len(got) != 1 || got[`{switch="sw"}`] != tt.want {
				t.Errorf("reconnects = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCollectorDomainCap(t *testing.T) {
	v := New()
	a, b := v.Feed("sw-a"), v.Feed("sw-b")
	add := func(f *Feed, domain string, n int) {
		for i := range n {
			f.PutRegistration(Registration{Domain: domain, User: fmt.Sprint(i), Contact: "sip:x", Transport: "udp"})
		}
	}
	add(a, "big.example", 5)
	add(a, "mid.example", 2)
	add(b, "mid.example", 2) // 4 over both switches: the cap counts every switch
	add(a, "tie-a.example", 3)
	add(b, "tie-b.example", 3)

	tests := []struct {
		max  int
		want []string // the domains with series of their own
	}{
		{0, nil},
		{1, []string{"big.example"}},
		{2, []string{"big.example", "mid.example"}},
		{3, []string{"big.example", "mid.example", "tie-a.example"}}, // a tie goes to the first name
		{-1, []string{"big.example", "mid.example", "tie-a.example", "tie-b.example"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			regs := gatherValues(t, v.Collector(WithMaxDomainSeries(tt.max)))["switchboard_registrations"]
			own := map[string]bool{}
			total := 0.0
			for labels, n := range regs {
				total += n
				d := between(labels, `domain="`, `"`)
				if d != OtherDomain {
					own[d] = true
				}
			}
			if len(own) != len(tt.want) {
				t.Errorf("domains with series = %v, want %v", own, tt.want)
			}
			for _, d := range tt.want {
				if !own[d] {
					t.Errorf("%s has no series of its own (have %v)", d, own)
				}
			}
			if total != 15 {
				t.Errorf("sum of registrations = %v, want 15 whatever the cap", total)
			}
		})
	}
}

func TestProbeFeeds(t *testing.T) {
	v := New()
	v.Feed("sw-a")
	v.Feed("prober").PutGateway(Gateway{Name: "gw", State: GatewayUp})
	v.Feed(ProbeFeed)
	got := gatherValues(t, v.Collector(WithProbeFeeds("prober")))
	if up := got["switchboard_switch_up"]; len(up) != 2 || up[`{switch="sip"}`] != 0 || up[`{switch="sw-a"}`] != 0 {
		t.Errorf("switch_up = %v: want sw-a and sip (no longer a probe feed), not prober", up)
	}
	if gw := got["switchboard_gateway_up"]; gw[`{gateway="gw",switch="prober"}`] != 1 {
		t.Errorf("gateway_up = %v: a probe feed's gateways are still exported", gw)
	}
}

// scaleView is the acceptance scale of the metrics issue: 100,000
// registrations over 500 domains (of uneven size, as tenants are), 3
// transports and 2 switches; 1,000 gateways (500 per switch, all up with a
// known round trip); and 2,000 live calls of two legs each over 200 of the
// gateways and on-net.
func scaleView(tb testing.TB) *View {
	tb.Helper()
	v := New()
	exp := time.Now().Add(time.Hour)
	tr := []string{"udp", "tcp", "tls"}
	for s, name := range []string{"sw-a", "sw-b"} {
		f := v.Feed(name)
		f.SetConnected(true, nil)
		var snap Snapshot
		for i := range 50000 {
			// Domains 0-99 get three times the registrations of 100-499.
			d := i % 1000
			if d >= 500 {
				d = (d - 500) % 100
			}
			u := fmt.Sprintf("%d-%06d", s, i)
			snap.Registrations = append(snap.Registrations, Registration{
				Domain: fmt.Sprintf("tenant%03d.example", d), User: u, Contact: "sip:" + u + "@198.51.100.7:5060",
				Transport: tr[i%3], Expires: exp,
			})
		}
		for g := range 500 {
			snap.Gateways = append(snap.Gateways, Gateway{Name: fmt.Sprintf("gw%04d", s*500+g), State: GatewayUp, RTT: 20 * time.Millisecond})
		}
		dirs := []string{"inbound", "outbound", "internal"}
		for c := range 1000 {
			id := fmt.Sprintf("c%d", c)
			dir := dirs[c%3]
			gw := ""
			if dir != "internal" {
				gw = fmt.Sprintf("gw%04d", s*500+c%100)
			}
			snap.Calls = append(snap.Calls,
				Call{ID: id + "-a", LinkedID: id, Direction: dir},
				Call{ID: id + "-b", LinkedID: id, Direction: dir, Gateway: gw})
		}
		f.Replace(snap)
	}
	return v
}

// scrape gathers reg and encodes it as the text exposition format, as
// promhttp does, and returns the number of series and the bytes written.
func scrape(tb testing.TB, reg *prometheus.Registry) (series, size int) {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			tb.Fatal(err)
		}
		series += seriesOf(mf)
	}
	return series, buf.Len()
}

// seriesOf counts the series a family stores in Prometheus: a histogram is
// one per bucket plus _sum and _count, a summary one per quantile plus two.
func seriesOf(mf *dto.MetricFamily) int {
	n := 0
	for _, m := range mf.GetMetric() {
		switch {
		case m.GetHistogram() != nil:
			n += len(m.GetHistogram().GetBucket()) + 3 // +Inf, _sum, _count
		case m.GetSummary() != nil:
			n += len(m.GetSummary().GetQuantile()) + 2
		default:
			n++
		}
	}
	return n
}

// TestScrapeAtScale is the acceptance test for the presence part of
// a scrape: under 100 ms and, with the process's runtime series, well
// under 5,000 series.
func TestScrapeAtScale(t *testing.T) {
	v := scaleView(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(v.Collector())
	presenceSeries, _ := scrape(t, reg)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	best := time.Duration(1 << 62)
	var series, size int
	for range 5 {
		start := time.Now()
		series, size = scrape(t, reg)
		best = min(best, time.Since(start))
	}
	t.Logf("scrape: %v (best of 5), %d series (%d presence), %d bytes", best, series, presenceSeries, size)

	// 2 switches × (DefaultMaxDomainSeries domains × 3 transports + 5 "_other"), 2 × 500
	// gateways × (up, rtt), 2 × (200 inbound/outbound gateway pairs + 1
	// internal), 2 × (up, reconnects).
	if want := 2*(DefaultMaxDomainSeries*3+5) + 2*500*2 + 2*(200+1) + 2*2; presenceSeries != want {
		t.Errorf("presence series = %d, want %d", presenceSeries, want)
	}
	// The rest of the daemon (CDR pipeline, SIP prober, API, store) is
	// budgeted at 1,000 series.
	if series+1000 >= 5000 {
		t.Errorf("%d series leave no room for the rest of the daemon under 5,000", series)
	}
	if raceEnabled {
		return // the race detector slows the scan several times over; time it without
	}
	if best >= 100*time.Millisecond {
		t.Errorf("scrape took %v, want < 100ms", best)
	}
}

func BenchmarkScrape(b *testing.B) {
	v := scaleView(b)
	reg := prometheus.NewRegistry()
	reg.MustRegister(v.Collector())
	for b.Loop() {
		scrape(b, reg)
	}
}

// gatherValues collects c and returns its values by family name and then
// by rendered label set, e.g. `{gateway="gw",switch="sip"}`.
func gatherValues(t *testing.T, c prometheus.Collector) map[string]map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	out := map[string]map[string]float64{}
	for _, mf := range gather(t, reg) {
		vals := map[string]float64{}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			val := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			vals["{"+strings.Join(ls, ",")+"}"] = val
		}
		out[mf.GetName()] = vals
	}
	return out
}

// between returns the text of s between the first prefix and the next
// suffix after it.
func between(s, prefix, suffix string) string {
	_, rest, _ := strings.Cut(s, prefix)
	v, _, _ := strings.Cut(rest, suffix)
	return v
}
