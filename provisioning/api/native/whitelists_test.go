package native

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestWhitelistsAPI: a tenant's and a user's whitelists through
// /api/v1/whitelists: a bad prefix answered 400 naming the entry with
// nothing written, a name taken 409, filters and paging, a patch that
// leaves entries out keeps them and one that sends them replaces them
// (without keeping an old description), a tenant-admin refused its own
// tenant's, delete.
func TestWhitelistsAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"cust"}`)
		user := e.create("users", e.admin, fmt.Sprintf(`{"tenant_id":%d,"login":"bob","email":"bob@example.com","role":"user","password":"a-long-password-1"}`, tn))
		id := e.create("whitelists", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"EU","entries":[{"prefix":"44","description":"United Kingdom"},{"prefix":"33"}]}`, tn))
		uid := e.create("whitelists", e.admin, fmt.Sprintf(`{"tenant_id":%d,"user_id":%d,"name":"UK"}`, tn, user))
		got := e.do(http.MethodGet, path("whitelists", id), e.admin, "").must(t, http.StatusOK).body
		for _, want := range []string{`"name":"EU"`, `"user_id":null`, `{"prefix":"44","description":"United Kingdom"}`, `{"prefix":"33"}`} {
			if !strings.Contains(got, want) {
				t.Errorf("GET: no %s in %s", want, got)
			}
		}
		if got := e.do(http.MethodGet, path("whitelists", uid), e.admin, "").must(t, http.StatusOK).body; !strings.Contains(got, `"entries":[]`) {
			t.Errorf("no entries given: %s", got)
		}
		for _, tc := range []struct{ body, field string }{
			{fmt.Sprintf(`{"tenant_id":%d,"name":"x","entries":[{"prefix":"49"},{"prefix":"+44"}]}`, tn), "entries[1].prefix"},
			{fmt.Sprintf(`{"tenant_id":%d,"name":"x","entries":[{"prefix":"4-9"}]}`, tn), "entries[0].prefix"},
			{fmt.Sprintf(`{"tenant_id":%d,"name":"x","entries":[{"prefix":"49","note":"x"}]}`, tn), "entries[0].note"},
			{fmt.Sprintf(`{"tenant_id":%d,"name":""}`, tn), "name"},
			{fmt.Sprintf(`{"tenant_id":%d,"name":"x","entries":"44"}`, tn), "entries"},
			{fmt.Sprintf(`{"tenant_id":%d,"name":"x","entries":null}`, tn), "entries"},
		} {
			bad := e.do(http.MethodPost, "/api/v1/whitelists", e.admin, tc.body).must(t, http.StatusBadRequest)
			if f := bad.errOf(t)["field"]; f != tc.field {
				t.Errorf("%s: field %v, want %s", tc.body, f, tc.field)
			}
		}
		e.do(http.MethodPost, "/api/v1/whitelists", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"EU"}`, tn)).must(t, http.StatusConflict)
		if items := e.do(http.MethodGet, fmt.Sprintf("/api/v1/whitelists?tenant_id=%d", tn), e.admin, "").must(t, http.StatusOK).items(t); len(items) != 2 {
			t.Errorf("refused creates wrote something: %v", items)
		}
		if items := e.do(http.MethodGet, fmt.Sprintf("/api/v1/whitelists?user_id=%d", user), e.admin, "").must(t, http.StatusOK).items(t); len(items) != 1 || int64(items[0]["id"].(float64)) != uid {
			t.Errorf("user filter: %v", items)
		}
		page := e.do(http.MethodGet, "/api/v1/whitelists?limit=1", e.admin, "").must(t, http.StatusOK)
		if !strings.Contains(page.body, `"next_cursor":"`) {
			t.Errorf("no cursor: %s", page.body)
		}

		e.do(http.MethodPatch, path("whitelists", id), e.admin, `{"name":"Europe"}`).must(t, http.StatusOK)
		if got := e.do(http.MethodGet, path("whitelists", id), e.admin, "").must(t, http.StatusOK).body; !strings.Contains(got, `"name":"Europe"`) || !strings.Contains(got, `"United Kingdom"`) {
			t.Errorf("a patch without entries changed them: %s", got)
		}
		e.do(http.MethodPatch, path("whitelists", id), e.admin, `{"entries":[{"prefix":"49"}]}`).must(t, http.StatusOK)
		if got := e.do(http.MethodGet, path("whitelists", id), e.admin, "").must(t, http.StatusOK).body; !strings.Contains(got, `"entries":[{"prefix":"49"}]`) {
			t.Errorf("entries not replaced: %s", got)
		}
		e.do(http.MethodPatch, path("whitelists", uid), e.admin, `{"entries":[{"prefix":"44"}]}`).must(t, http.StatusOK)
		if got := e.do(http.MethodPatch, path("whitelists", uid), e.admin, `{"entries":[]}`).must(t, http.StatusOK).body; !strings.Contains(got, `"entries":[]`) {
			t.Errorf("entries not emptied: %s", got)
		}
		bad := e.do(http.MethodPatch, path("whitelists", id), e.admin, `{"entries":[{"prefix":"49"},{"prefix":"49"}]}`).must(t, http.StatusBadRequest)
		if f := bad.errOf(t)["field"]; f != "entries[1].prefix" {
			t.Errorf("duplicate: field %v", f)
		}
		e.do(http.MethodPatch, path("whitelists", id), e.admin, fmt.Sprintf(`{"user_id":%d}`, user)).must(t, http.StatusBadRequest)

		// A tenant-admin writes its users' whitelists, not its own
		// tenant's.
		ta := e.token("cust admin", provisioning.RoleTenantAdmin, &tn)
		e.do(http.MethodPatch, path("whitelists", uid), ta, `{"entries":[{"prefix":"44"}]}`).must(t, http.StatusOK)
		e.do(http.MethodPatch, path("whitelists", id), ta, `{"entries":[{"prefix":"1"}]}`).must(t, http.StatusForbidden)
		e.do(http.MethodPost, "/api/v1/whitelists", ta, fmt.Sprintf(`{"tenant_id":%d,"name":"all"}`, tn)).must(t, http.StatusForbidden)
		e.do(http.MethodDelete, path("whitelists", id), ta, "").must(t, http.StatusForbidden)

		e.do(http.MethodDelete, path("whitelists", id), e.admin, "").must(t, http.StatusNoContent)
		e.do(http.MethodGet, path("whitelists", id), e.admin, "").must(t, http.StatusNotFound)
	})
}

// TestQuoteWhitelisted: the rating quote says whether the tenant's
// whitelists (its own and its parent's) allow the number: true without
// any, false outside them, whatever the price.
func TestQuoteWhitelisted(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		reseller := e.create("tenants", e.admin, `{"name":"reseller"}`)
		cust := e.create("tenants", e.admin, fmt.Sprintf(`{"name":"cust","parent_id":%d}`, reseller))
		plan := e.create("tariff-plans", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"retail","currency":"usd"}`, reseller))
		e.putDeck(plan, e.admin, "text/csv", "prefix,price_per_minute\n1,0.01\n44,0.02\n", "").must(t, http.StatusOK)
		e.do(http.MethodPut, fmt.Sprintf("/api/v1/tenants/%d/tariff", reseller), e.admin, fmt.Sprintf(`{"tariff_plan_id":%d}`, plan)).must(t, http.StatusOK)
		quote := func(number string) any {
			r := e.do(http.MethodGet, fmt.Sprintf("/api/v1/tenants/%d/rating/quote?number=%s", cust, number), e.admin, "").must(t, http.StatusOK)
			return r.m["whitelisted"]
		}
		if got := quote("12125550100"); got != true {
			t.Errorf("no whitelist: %v", got)
		}
		e.create("whitelists", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"uk","entries":[{"prefix":"44"}]}`, reseller))
		if got := quote("12125550100"); got != false {
			t.Errorf("outside the parent's whitelist: %v", got)
		}
		if got := quote("%2B442071234567"); got != true {
			t.Errorf("inside it: %v", got)
		}
	})
}
