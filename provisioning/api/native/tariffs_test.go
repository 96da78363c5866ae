package native

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const testDeck = "prefix,destination,group,price_per_minute,connect_fee,first_increment,next_increment,days,time_from,time_to,effective_from\n" +
	"1,USA,North America,0.60,0.10,30,6,,,,\n" +
	"1,USA night,North America,0.30,0.10,30,6,,22:00,06:00,\n" +
	"44,UK,Europe,0.02,,60,60,mon-fri,,,2026-01-01\n"

// putDeck uploads deck as the rates of plan id.
func (e *env) putDeck(id int64, token, contentType, deck, query string) resp {
	e.t.Helper()
	req := httptest.NewRequest("PUT", fmt.Sprintf("/api/v1/tariff-plans/%d/rates%s", id, query), strings.NewReader(deck))
	req.Header.Set("Content-Type", contentType)
	return e.send(req, token)
}

// TestTariffPlansAPI creates a plan, uploads and exports its deck, assigns
// it down the tree and quotes calls, as an admin and a reseller's
// tenant-admin; bad decks answer 400 naming line and column and write
// nothing.
func TestTariffPlansAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		reseller := e.create("tenants", e.admin, `{"name":"reseller"}`)
		cust := e.create("tenants", e.admin, fmt.Sprintf(`{"name":"cust","parent_id":%d}`, reseller))
		ra := e.token("reseller-admin", "tenant-admin", ptr(reseller))
		ca := e.token("cust-admin", "tenant-admin", ptr(cust))

		created := e.do("POST", "/api/v1/tariff-plans", ra, fmt.Sprintf(
			`{"tenant_id":%d,"name":"retail","currency":"usd","time_zone":"America/New_York","charge_step":"0.0001"}`, reseller)).must(t, http.StatusCreated)
		plan := created.id()
		if created.m["currency"] != "USD" || created.m["charge_step"] != "0.0001" || created.m["rates"] != 0.0 {
			t.Fatalf("created %s", created.body)
		}
		for _, tc := range []struct{ body, field string }{
			{fmt.Sprintf(`{"tenant_id":%d,"name":"x","currency":"dollars"}`, reseller), "currency"},
			{fmt.Sprintf(`{"tenant_id":%d,"name":"x","currency":"USD","time_zone":"Nowhere/Land"}`, reseller), "time_zone"},
			{fmt.Sprintf(`{"tenant_id":%d,"name":"x","currency":"USD","charge_step":"a cent"}`, reseller), "charge_step"},
		} {
			r := e.do("POST", "/api/v1/tariff-plans", ra, tc.body).must(t, http.StatusBadRequest)
			if r.errOf(t)["field"] != tc.field {
				t.Errorf("%s: %s, want field %s", tc.body, r.body, tc.field)
			}
		}

		imp := e.putDeck(plan, ra, "text/csv", testDeck, "").must(t, http.StatusOK)
		if imp.m["rates"] != 3.0 || imp.m["plan"].(map[string]any)["rates"] != 3.0 {
			t.Fatalf("import: %s", imp.body)
		}
		// Bad decks: 400 naming column and line; the plan keeps its 3 rates.
		for _, tc := range []struct {
			name, ct, deck string
			status         int
			field, message string
		}{
			{"bad price", "text/csv", testDeck + "49,Germany,,1.2.3,,60,60,,,,\n", 400, "price_per_minute", "rate deck line 5"},
			{"bad day", "text/csv", testDeck + "49,Germany,,0.1,,60,60,someday,,,\n", 400, "days", "rate deck line 5"},
			{"duplicate", "text/csv", testDeck + "44,UK again,Europe,0.03,,60,60,mon-fri,,,2026-01-01\n", 400, "prefix", "rates 3 and 4"},
			{"not csv", "application/json", `{"prefix":"1"}`, 415, "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.putDeck(plan, ra, tc.ct, tc.deck, "").must(t, tc.status)
				if env := r.errOf(t); tc.field != "" && (env["field"] != tc.field || !strings.Contains(env["message"].(string), tc.message)) {
					t.Errorf("error %v, want field %s and %q", env, tc.field, tc.message)
				}
				if got := e.do("GET", path("tariff-plans", plan), ra, "").must(t, http.StatusOK); got.m["rates"] != 3.0 {
					t.Errorf("the bad deck wrote: %s", got.body)
				}
			})
		}
		if r := e.putDeck(plan, ra, "text/csv", "prefix,price_per_minute\n7,1\n", "?dry_run=true").must(t, http.StatusOK); r.m["dry_run"] != true || r.m["rates"] != 1.0 {
			t.Errorf("dry run: %s", r.body)
		}
		// A read-only user of the reseller reads the deck but changes nothing.
		ru := e.token("reseller-user", "user", ptr(reseller))
		e.do("GET", path("tariff-plans", plan)+"/rates?format=json", ru, "").must(t, http.StatusOK)
		e.putDeck(plan, ru, "text/csv", testDeck, "").must(t, http.StatusForbidden)
		e.do("PATCH", path("tariff-plans", plan), ru, `{"name":"cheap"}`).must(t, http.StatusForbidden)
		// The customer cannot see, change or assign its reseller's plan.
		e.putDeck(plan, ca, "text/csv", testDeck, "").must(t, http.StatusNotFound)
		e.do("PUT", fmt.Sprintf("/api/v1/tenants/%d/tariff", cust), ca, fmt.Sprintf(`{"tariff_plan_id":%d}`, plan)).must(t, http.StatusForbidden)

		// Export: the same rates, as the canonical deck.
		exp := e.do("GET", path("tariff-plans", plan)+"/rates", ra, "").must(t, http.StatusOK)
		if !strings.HasPrefix(exp.hdr.Get("Content-Type"), "text/csv") || strings.Count(exp.body, "\n") != 4 ||
			!strings.Contains(exp.body, "44,UK,Europe,0.02,0,60,60,0,0,mon-fri,,,2026-01-01,\n") {
			t.Fatalf("export (%s):\n%s", exp.hdr.Get("Content-Type"), exp.body)
		}
		again := e.putDeck(plan, ra, "text/csv", exp.body, "").must(t, http.StatusOK)
		if again.m["rates"] != 3.0 {
			t.Fatalf("re-import of the export: %s", again.body)
		}
		page := e.do("GET", path("tariff-plans", plan)+"/rates?format=json&prefix=4&limit=1", ra, "").must(t, http.StatusOK)
		if items := page.items(t); len(items) != 1 || items[0]["prefix"] != "44" || items[0]["price_per_minute"] != "0.02" || items[0]["row"] != 3.0 {
			t.Fatalf("json page: %s", page.body)
		}
		e.do("GET", path("tariff-plans", plan)+"/rates?limit=1", ra, "").must(t, http.StatusBadRequest)

		// No plan yet: quote is 404; then the reseller assigns its plan to the customer.
		e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/rating/quote?number=12125550100", cust), ca, "").must(t, http.StatusNotFound)
		as := e.do("PUT", fmt.Sprintf("/api/v1/tenants/%d/tariff", cust), ra, fmt.Sprintf(`{"tariff_plan_id":%d}`, plan)).must(t, http.StatusOK)
		if as.m["effective_tariff_plan_id"] != float64(plan) || as.m["inherited_from"] != float64(cust) {
			t.Fatalf("assignment: %s", as.body)
		}
		e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/tariff/rates", reseller), ra, "").must(t, http.StatusNotFound)
		if mine := e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/tariff/rates", cust), ca, "").must(t, http.StatusOK); mine.body != exp.body {
			t.Fatalf("the customer's rates:\n%s", mine.body)
		}
		view := e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/tariff", cust), ca, "").must(t, http.StatusOK)
		if view.m["plan"].(map[string]any)["name"] != "retail" {
			t.Fatalf("customer's view: %s", view.body)
		}
		for _, tc := range []struct {
			query, cost, prefix, max string
		}{
			// 61 s at 30/6: 66 s billed, 0.10 + 0.60 × 66/60 = 0.76.
			{"number=%2B12125550100&seconds=61&at=2026-12-07T12:00:00-05:00", "0.76", "1", "<nil>"},
			// 23:00 in New York: the night rate, 0.10 + 0.30 × 66/60 = 0.43.
			{"number=12125550100&seconds=61&at=2026-12-08T04:00:00Z", "0.43", "1", "<nil>"},
			{"number=442071234567&seconds=60&at=2026-12-07T12:00:00Z&budget=1", "0.02", "44", "3000"},
		} {
			r := e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/rating/quote?%s", cust, tc.query), ca, "").must(t, http.StatusOK)
			rate := r.m["rate"].(map[string]any)
			if r.m["cost"] != tc.cost || rate["prefix"] != tc.prefix || fmt.Sprint(r.m["max_seconds"]) != tc.max || r.m["currency"] != "USD" {
				t.Errorf("%s: %s", tc.query, r.body)
			}
		}
		// UK rates are weekday-only: Saturday has no rate.
		r := e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/rating/quote?number=442071234567&at=2026-12-05T12:00:00Z", cust), ca, "").must(t, http.StatusBadRequest)
		if r.errOf(t)["field"] != "number" {
			t.Errorf("no rate: %s", r.body)
		}

		// A DID's inbound plan.
		did := e.create("dids", e.admin, fmt.Sprintf(`{"tenant_id":%d,"number":"+15551230001"}`, cust))
		d := e.do("PUT", path("dids", did)+"/tariff", ra, fmt.Sprintf(`{"tariff_plan_id":%d}`, plan)).must(t, http.StatusOK)
		if d.m["tariff_plan_id"] != float64(plan) || d.m["number"] != "+15551230001" {
			t.Fatalf("DID plan: %s", d.body)
		}
		if tr, tenant, err := e.svc.DIDTariff(t.Context(), "+15551230001"); err != nil || tr == nil || tenant != cust {
			t.Fatalf("DIDTariff = %v, %d, %v", tr, tenant, err)
		}
		// An assigned plan cannot be deleted; removed from both, it can.
		e.do("DELETE", path("tariff-plans", plan), ra, "").must(t, http.StatusConflict)
		e.do("PUT", path("dids", did)+"/tariff", ra, `{"tariff_plan_id":null}`).must(t, http.StatusOK)
		e.do("PUT", fmt.Sprintf("/api/v1/tenants/%d/tariff", cust), ra, `{"tariff_plan_id":null}`).must(t, http.StatusOK)
		e.do("DELETE", path("tariff-plans", plan), ra, "").must(t, http.StatusNoContent)
		e.do("GET", path("tariff-plans", plan)+"/rates", ra, "").must(t, http.StatusNotFound)
	})
}

// TestRateDeckTooLarge: a deck over the body limit is 413 on rates.
func TestRateDeckTooLarge(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"acme"}`)
		plan := e.create("tariff-plans", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"p","currency":"EUR"}`, tn))
		var b strings.Builder
		b.WriteString("prefix,price_per_minute,destination\n")
		pad := strings.Repeat("x", 1000)
		for i := 0; b.Len() <= rateDeckLimit; i++ {
			fmt.Fprintf(&b, "%d,0.01,%s\n", 100000+i, pad)
		}
		r := e.putDeck(plan, e.admin, "text/csv", b.String(), "").must(t, http.StatusRequestEntityTooLarge)
		if r.errOf(t)["field"] != "rates" {
			t.Errorf("too large: %s", r.body)
		}
	})
}

// TestTariffSchemasMatchAnswers checks every tariff answer against its
// schema in the served document (types, nullability, formats, required
// and undocumented fields), with the nullable fields both null and set.
func TestTariffSchemasMatchAnswers(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		body, _ := fetchDoc(t, e.h)
		conf := newConformance(t, body)
		tn := e.create("tenants", e.admin, `{"name":"acme"}`)
		did := e.create("dids", e.admin, fmt.Sprintf(`{"tenant_id":%d,"number":"+15550101010"}`, tn))
		plan := e.do("POST", "/api/v1/tariff-plans", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"p","currency":"EUR"}`, tn)).must(t, http.StatusCreated)
		conf.check(t, "TariffPlan", plan.m)
		conf.check(t, "TenantTariff", e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/tariff", tn), e.admin, "").must(t, http.StatusOK).m)
		conf.check(t, "DIDTariff", e.do("GET", path("dids", did)+"/tariff", e.admin, "").must(t, http.StatusOK).m)
		conf.check(t, "RateImport", e.putDeck(plan.id(), e.admin, "text/csv", testDeck, "").must(t, http.StatusOK).m)
		conf.check(t, "RateImport", e.putDeck(plan.id(), e.admin, "text/csv", testDeck, "?dry_run=1").must(t, http.StatusOK).m)
		conf.check(t, "TariffRateList", e.do("GET", path("tariff-plans", plan.id())+"/rates?format=json", e.admin, "").must(t, http.StatusOK).m)
		assign := fmt.Sprintf(`{"tariff_plan_id":%d}`, plan.id())
		conf.check(t, "TenantTariff", e.do("PUT", fmt.Sprintf("/api/v1/tenants/%d/tariff", tn), e.admin, assign).must(t, http.StatusOK).m)
		conf.check(t, "DIDTariff", e.do("PUT", path("dids", did)+"/tariff", e.admin, assign).must(t, http.StatusOK).m)
		for _, q := range []string{"number=12125550100", "number=12125550100&budget=2.5&seconds=0"} {
			conf.check(t, "RatingQuote", e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/rating/quote?%s", tn, q), e.admin, "").must(t, http.StatusOK).m)
		}
		conf.check(t, "TariffPlanList", e.do("GET", "/api/v1/tariff-plans", e.admin, "").must(t, http.StatusOK).m)
	})
}
