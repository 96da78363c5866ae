package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPMetrics counts and times the requests of every dialect:
// switchboard_http_requests_total{dialect,route,code,class} and
// switchboard_http_request_duration_seconds{dialect,route}. route is the
// ServeMux pattern that matched ("GET /api/v1/accounts/{id}"), never the
// path, so the label set is the route table's; a request no pattern
// matched counts as route "unmatched".
//
// code is the status as sent; class is what it means, by HTTP semantics
// rather than by number: ok, client_error or server_error. A dialect whose
// document numbers its answers its own way says what each means with
// ReportStatus (dcp's 501 "DCP not found" is a 404: a client's typo must
// not page anyone as a server error would). A request whose client went
// away before it was answered is code 499 (nginx's "client closed
// request"), a client error, whatever the handler then wrote: nobody got
// that answer, and a burst of impatient clients is not a failing daemon.
// class follows from dialect and code, so it adds no series.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewHTTPMetrics registers the request series with reg.
func NewHTTPMetrics(reg prometheus.Registerer) (*HTTPMetrics, error) {
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchboard", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by dialect (native, dcp, freeswitch, ops), route pattern, status code as sent (499: the client went away first) and class by meaning (ok, client_error, server_error).",
		}, []string{"dialect", "route", "code", "class"}),
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
			code, class := rec.outcome(r)
			d := dialect(r)
			m.requests.WithLabelValues(d, route, strconv.Itoa(code), class).Inc()
			m.duration.WithLabelValues(d, route).Observe(time.Since(start).Seconds())
		}()
		h.ServeHTTP(rec, r)
	})
}

// StatusClientClosedRequest is the code recorded for a request whose
// client went away before it was answered (nginx's 499; net/http has no
// name for it).
const StatusClientClosedRequest = 499

// The classes of switchboard_http_requests_total.
const (
	ClassOK          = "ok"
	ClassClientError = "client_error"
	ClassServerError = "server_error"
)

// ReportStatus tells the HTTP metrics which HTTP status a response stands
// for when the dialect's own code says otherwise: dcp answers "DCP not
// found" with its document's 501, which means 404. Call it before writing
// the response; w is the writer the handler was given (it finds the
// metrics' recorder through Unwrap, as http.ResponseController does).
// Without metrics in front it does nothing.
func ReportStatus(w http.ResponseWriter, status int) {
	for w != nil {
		if rec, ok := w.(*statusRecorder); ok {
			rec.meaning = status
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

// outcome is the code and class the metrics record for the response.
func (s *statusRecorder) outcome(r *http.Request) (code int, class string) {
	code, meaning := s.status, s.meaning
	if code == 0 {
		code = http.StatusOK // nothing written: net/http sends 200
	}
	if meaning == 0 {
		meaning = code
	}
	// The client left before the answer: what the handler then wrote (an
	// error, or nothing) reached no one.
	if r.Context().Err() != nil && (s.status == 0 || code >= 500) {
		code, meaning = StatusClientClosedRequest, StatusClientClosedRequest
	}
	switch {
	case meaning >= 500:
		return code, ClassServerError
	case meaning >= 400:
		return code, ClassClientError
	}
	return code, ClassOK
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
