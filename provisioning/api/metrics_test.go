package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// TestHTTPMetrics: requests are counted by dialect, the mux pattern (not
// the path: bounded) and status.
func TestHTTPMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := api.NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", 503) })
	h := m.Measure(api.DialectOf("/dcp/"), mux)
	for _, p := range []string{"/api/v1/accounts/1", "/api/v1/accounts/2", "/boom", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
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
	want := map[string]float64{
		"code=200;dialect=native;route=GET /api/v1/accounts/{id};": 2,
		"code=503;dialect=ops;route=GET /boom;":                    1,
		"code=404;dialect=ops;route=unmatched;":                    1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series %v", got)
	}
}
