package dcp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// TestMetricsClassByMeaning: the document's "not found" codes (501, 502,
// 503) are client errors in switchboard_http_requests_total, mounted
// either way; only a real internal error is a server error.
func TestMetricsClassByMeaning(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		reg := prometheus.NewRegistry()
		m, err := api.NewHTTPMetrics(reg)
		must(t, err)
		mounted := m.Measure(api.DialectOf("/dcp/"), f.mux)
		own := m.Measure(func(*http.Request) string { return "dcp" }, f.handler)
		for _, tc := range []struct {
			h      http.Handler
			mount  string
			verb   string
			params map[string]any
			code   int
		}{
			{mounted, "/dcp", "phonenumber/list", map[string]any{"dcp": "nowhere.example.com"}, 501},
			{own, "", "phonenumber/list", map[string]any{"user": "nobody"}, 502},
			{mounted, "/dcp", "phonenumber/remove", map[string]any{"user": "alice", "dcp": "a.example.com", "phonenumber": "1999"}, 503},
			{own, "", "user/list", nil, 200},
		} {
			p := map[string]any{"token": f.tok["A"]}
			for k, v := range tc.params {
				p[k] = v
			}
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, newRequest(t, tc.mount, encGET, tc.verb, p))
			if rec.Code != tc.code {
				t.Fatalf("%s: %d %s", tc.verb, rec.Code, rec.Body)
			}
		}
		mfs, err := reg.Gather()
		must(t, err)
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, s := range mf.GetMetric() {
				key := ""
				for _, l := range s.GetLabel() {
					key += l.GetName() + "=" + l.GetValue() + ";"
				}
				got[mf.GetName()+"{"+key+"}"] = s.GetCounter().GetValue()
			}
		}
		for _, k := range []string{
			"switchboard_http_requests_total{class=client_error;code=501;dialect=dcp;route=/dcp/;}",
			"switchboard_http_requests_total{class=client_error;code=502;dialect=dcp;route=unmatched;}",
			"switchboard_http_requests_total{class=client_error;code=503;dialect=dcp;route=/dcp/;}",
			"switchboard_http_requests_total{class=ok;code=200;dialect=dcp;route=unmatched;}",
		} {
			if got[k] != 1 {
				t.Errorf("%s = %v, want 1 (all: %v)", k, got[k], got)
			}
		}
	})
}
