package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// requestCounts gathers switchboard_http_requests_total as
// "label=value;…" → count.
func requestCounts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "switchboard_http_requests_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			key := ""
			for _, l := range s.GetLabel() {
				key += l.GetName() + "=" + l.GetValue() + ";"
			}
			got[key] = s.GetCounter().GetValue()
		}
	}
	return got
}

// unwrapper is a middleware's writer that exposes the one it wraps, as
// http.ResponseController expects.
type unwrapper struct{ http.ResponseWriter }

func (u unwrapper) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// TestHTTPMetrics: requests are counted by dialect, the mux pattern (not
// the path: bounded), the status as sent and its class by meaning: a
// dialect's own "not found" codes and a client that went away are client
// errors, not server errors.
func TestHTTPMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := api.NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /api/v1/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", 503) })
	// dcp's "DCP not found" is 501 on the wire and a 404 in meaning, told
	// through a prefix strip and a wrapping writer.
	mux.Handle("/dcp/", http.StripPrefix("/dcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = unwrapper{w}
		switch r.URL.Path {
		case "/phonenumber/list":
			api.ReportStatus(w, http.StatusNotFound)
			w.WriteHeader(501)
		case "/user/list":
			w.WriteHeader(500) // a real internal error
		}
	})))
	// The client is gone by the time the handler answers: an error, or
	// nothing at all, reached no one; an answer already given stands.
	gone := func(write func(w http.ResponseWriter)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.Context().Value(cancelKey{}).(context.CancelFunc)()
			write(w)
		}
	}
	mux.Handle("GET /gone/error", gone(func(w http.ResponseWriter) { w.WriteHeader(500) }))
	mux.Handle("GET /gone/nothing", gone(func(http.ResponseWriter) {}))
	mux.Handle("GET /gone/after", gone(func(w http.ResponseWriter) { w.Write([]byte("ok")) })) //nolint:errcheck
	mux.Handle("GET /gone/refused", gone(func(w http.ResponseWriter) { w.WriteHeader(403) }))

	h := api.Instrument(slog.New(slog.NewTextHandler(io.Discard, nil)), m.Measure(api.DialectOf("/dcp/"), mux))
	for _, p := range []string{"/api/v1/accounts/1", "/api/v1/accounts/2", "/api/v1/missing", "/boom", "/nowhere",
		"/dcp/phonenumber/list", "/dcp/phonenumber/list", "/dcp/user/list",
		"/gone/error", "/gone/nothing", "/gone/after", "/gone/refused"} {
		ctx, cancel := context.WithCancel(context.Background())
		ctx = context.WithValue(ctx, cancelKey{}, cancel)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, http.MethodGet, p, nil))
		cancel()
	}
	want := map[string]float64{
		"class=ok;code=200;dialect=native;route=GET /api/v1/accounts/{id};":     2,
		"class=client_error;code=404;dialect=native;route=GET /api/v1/missing;": 1,
		"class=server_error;code=503;dialect=ops;route=GET /boom;":              1,
		"class=client_error;code=404;dialect=ops;route=unmatched;":              1,
		"class=client_error;code=501;dialect=dcp;route=/dcp/;":                  2,
		"class=server_error;code=500;dialect=dcp;route=/dcp/;":                  1,
		"class=client_error;code=499;dialect=ops;route=GET /gone/error;":        1,
		"class=client_error;code=499;dialect=ops;route=GET /gone/nothing;":      1,
		"class=ok;code=200;dialect=ops;route=GET /gone/after;":                  1,
		"class=client_error;code=403;dialect=ops;route=GET /gone/refused;":      1,
	}
	got := requestCounts(t, reg)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series %v", got)
	}
}

type cancelKey struct{}

// TestHTTPMetricsClientGone: over a real connection, a client that gives
// up while the handler works is counted as 499, not as the 500 the handler
// writes when its context ends.
func TestHTTPMetricsClientGone(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := api.NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/slow", func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		<-r.Context().Done()
		http.Error(w, "context canceled", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(m.Measure(api.DialectOf(""), mux))
	defer srv.Close()
	client := &http.Client{Timeout: 100 * time.Millisecond}
	if resp, err := client.Get(srv.URL + "/api/v1/slow"); err == nil {
		resp.Body.Close()
		t.Fatal("the client got an answer")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler never saw the client go")
	}
	// The count is taken as the handler returns; give Measure's deferred
	// call the moment it needs.
	key := "class=client_error;code=499;dialect=native;route=GET /api/v1/slow;"
	deadline := time.Now().Add(5 * time.Second)
	for requestCounts(t, reg)[key] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("series %v, want %s", requestCounts(t, reg), key)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
