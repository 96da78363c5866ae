package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPMetrics counts and times the requests of every dialect:
// switchboard_http_requests_total{dialect,route,code} and
// switchboard_http_request_duration_seconds{dialect,route}. route is the
// ServeMux pattern that matched ("GET /api/v1/accounts/{id}"), never the
// path, so the label set is the route table's; a request no pattern
// matched counts as route "unmatched".
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewHTTPMetrics registers the request series with reg.
func NewHTTPMetrics(reg prometheus.Registerer) (*HTTPMetrics, error) {
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchboard", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by dialect (native, dcp, freeswitch, ops), route pattern and status code.",
		}, []string{"dialect", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "switchboard", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer an HTTP request, by dialect and route pattern (streams count until they end).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"dialect", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Measure wraps a ServeMux (or a handler that routes with one) so that
// each request is counted under dialect(r) and the pattern the mux
// matched. The mux sets the pattern on the request it is given, so it
// must receive r itself, not a copy: wrap the mux, not something in
// front of a StripPrefix.
func (m *HTTPMetrics) Measure(dialect func(r *http.Request) string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// Behind Instrument, reuse its recorder rather than wrap twice.
		rec, ok := w.(*statusRecorder)
		if !ok {
			rec = &statusRecorder{ResponseWriter: w}
		}
		defer func() {
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			d := dialect(r)
			m.requests.WithLabelValues(d, route, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(d, route).Observe(time.Since(start).Seconds())
		}()
		h.ServeHTTP(rec, r)
	})
}

// DialectOf names the dialect of a request on the main listener by its
// path: the native API, the dcp mount, FreeSWITCH's endpoints, or the
// operational ones (health, metrics).
func DialectOf(dcpMount string) func(r *http.Request) string {
	return func(r *http.Request) string {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/api/"):
			return "native"
		case dcpMount != "" && strings.HasPrefix(p, dcpMount):
			return "dcp"
		case strings.HasPrefix(p, "/freeswitch/"):
			return "freeswitch"
		default:
			return "ops"
		}
	}
}
