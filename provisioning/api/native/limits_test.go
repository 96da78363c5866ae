package native

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestLimitsAPI: a tenant's and a user's limits through /api/v1/limits:
// amounts as decimal strings, a bad value answered 400 naming its field
// with nothing written, a second tenant limit 409, filters, patch, delete.
func TestLimitsAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"cust"}`)
		user := e.create("users", e.admin, fmt.Sprintf(`{"tenant_id":%d,"login":"bob","email":"bob@example.com","role":"user","password":"a-long-password-1"}`, tn))
		id := e.create("limits", e.admin, fmt.Sprintf(`{"tenant_id":%d,"concurrent_calls":5,"cost_per_day":"12.50"}`, tn))
		uid := e.create("limits", e.admin, fmt.Sprintf(`{"tenant_id":%d,"user_id":%d,"max_call_seconds":600}`, tn, user))
		got := e.do(http.MethodGet, path("limits", id), e.admin, "").must(t, http.StatusOK).body
		for _, want := range []string{`"concurrent_calls":5`, `"cost_per_day":"12.5"`, `"user_id":null`} {
			if !strings.Contains(got, want) {
				t.Errorf("GET: no %s in %s", want, got)
			}
		}
		bad := e.do(http.MethodPost, "/api/v1/limits", e.admin, fmt.Sprintf(`{"tenant_id":%d,"user_id":%d,"calls_per_minute":-1}`, tn, user)).must(t, http.StatusBadRequest)
		if f := bad.errOf(t)["field"]; f != "calls_per_minute" {
			t.Errorf("bad value: field %v", f)
		}
		e.do(http.MethodPost, "/api/v1/limits", e.admin, fmt.Sprintf(`{"tenant_id":%d}`, tn)).must(t, http.StatusConflict)
		if items := e.do(http.MethodGet, fmt.Sprintf("/api/v1/limits?user_id=%d", user), e.admin, "").must(t, http.StatusOK).items(t); len(items) != 1 || int64(items[0]["id"].(float64)) != uid {
			t.Errorf("user filter: %v", items)
		}
		e.do(http.MethodPatch, path("limits", id), e.admin, `{"cost_per_hour":"1.25"}`).must(t, http.StatusOK)
		if got := e.do(http.MethodGet, path("limits", id), e.admin, "").must(t, http.StatusOK).body; !strings.Contains(got, `"cost_per_hour":"1.25"`) || !strings.Contains(got, `"concurrent_calls":5`) {
			t.Errorf("after patch: %s", got)
		}
		e.do(http.MethodDelete, path("limits", id), e.admin, "").must(t, http.StatusNoContent)
		e.do(http.MethodGet, path("limits", id), e.admin, "").must(t, http.StatusNotFound)
	})
}
