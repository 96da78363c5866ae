package native

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// lcrLine renders a list of GatewayCost answers as "name cost" ("-"
// without one), and left-out ones as "(name reason)".
func lcrLine(gs, left []any) string {
	var parts []string
	for _, g := range gs {
		m := g.(map[string]any)
		cost := "-"
		if c, ok := m["cost"].(string); ok {
			cost = c + " " + m["currency"].(string)
		}
		parts = append(parts, m["name"].(string)+" "+cost)
	}
	for _, l := range left {
		m := l.(map[string]any)
		parts = append(parts, fmt.Sprintf("(%s %s)", m["name"], m["reason"]))
	}
	return strings.Join(parts, ", ")
}

// TestLeastCostRoutingAPI: supplier plans on gateways (scoped, bad input
// refused naming the field with nothing written, a plan in use kept), a
// least-cost route created through the API, its order for a number, and
// the routing trace showing that order.
func TestLeastCostRoutingAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"acme"}`)
		other := e.create("tenants", e.admin, `{"name":"other"}`)
		ta := e.token("acme-admin", "tenant-admin", ptr(tn))
		oa := e.token("other-admin", "tenant-admin", ptr(other))
		plan := func(token, name, deck string) int64 {
			id := e.do("POST", "/api/v1/tariff-plans", token, fmt.Sprintf(`{"tenant_id":%d,"name":%q,"currency":"USD"}`, tn, name)).must(t, http.StatusCreated).id()
			e.putDeck(id, token, "text/csv", "prefix,destination,price_per_minute,connect_fee,first_increment,next_increment\n"+deck, "").must(t, http.StatusOK)
			return id
		}
		cheap := plan(ta, "cheap", "49,Germany,0.01,0,60,60\n")
		dear := plan(ta, "dear", "49,Germany,0.02,0,60,60\n")
		usonly := plan(ta, "usonly", "1,USA,0.01,0,60,60\n")
		shared := e.create("gateways", e.admin, `{"name":"shared","host":"sip.shared.example"}`)
		gw := func(name string) int64 {
			return e.create("gateways", ta, fmt.Sprintf(`{"tenant_id":%d,"name":%q,"host":"sip.%s.example"}`, tn, name, name))
		}
		a, b, c, d := gw("carrier-a"), gw("carrier-b"), gw("carrier-c"), gw("carrier-d")
		assign := func(token string, g, p int64) resp {
			return e.do("PUT", path("gateways", g)+"/tariff", token, fmt.Sprintf(`{"tariff_plan_id":%d}`, p))
		}
		if r := assign(ta, a, dear).must(t, http.StatusOK); r.m["tariff_plan_id"] != float64(dear) || r.m["plan"].(map[string]any)["name"] != "dear" {
			t.Fatalf("assignment: %s", r.body)
		}
		assign(ta, b, cheap).must(t, http.StatusOK)
		assign(ta, c, usonly).must(t, http.StatusOK)
		assign(e.admin, shared, cheap).must(t, http.StatusOK)
		if r := e.do("GET", path("gateways", b)+"/tariff", ta, "").must(t, http.StatusOK); r.m["tariff_plan_id"] != float64(cheap) || r.m["name"] != "carrier-b" {
			t.Fatalf("read back: %s", r.body)
		}

		// Scope: a shared gateway's plan is an admin's; another tenant sees nothing.
		assign(ta, shared, cheap).must(t, http.StatusForbidden)
		e.do("GET", path("gateways", shared)+"/tariff", ta, "").must(t, http.StatusForbidden)
		e.do("GET", path("gateways", a)+"/tariff", oa, "").must(t, http.StatusNotFound)
		assign(oa, a, cheap).must(t, http.StatusNotFound)

		// Bad input: 4xx naming the field, and d keeps no plan.
		for _, tc := range []struct {
			body  string
			code  int
			field string
		}{
			{`{}`, http.StatusBadRequest, "tariff_plan_id"},
			{`{"tariff_plan_id":"cheap"}`, http.StatusBadRequest, "tariff_plan_id"},
			{fmt.Sprintf(`{"tariff_plan_id":%d,"plan":1}`, cheap), http.StatusBadRequest, "plan"},
			{`{"tariff_plan_id":999999}`, http.StatusUnprocessableEntity, "tariff_plan_id"},
		} {
			r := e.do("PUT", path("gateways", d)+"/tariff", ta, tc.body).must(t, tc.code)
			if r.errOf(t)["field"] != tc.field {
				t.Errorf("%s: %s, want field %s", tc.body, r.body, tc.field)
			}
			if got := e.do("GET", path("gateways", d)+"/tariff", ta, "").must(t, http.StatusOK); got.m["tariff_plan_id"] != nil {
				t.Fatalf("%s wrote: %s", tc.body, got.body)
			}
		}
		// A plan in use cannot go.
		e.do("DELETE", path("tariff-plans", usonly), ta, "").must(t, http.StatusConflict)

		// A least-cost route: d has no plan, c no rate for Germany.
		route := e.do("POST", "/api/v1/outbound-routes", ta, fmt.Sprintf(
			`{"tenant_id":%d,"name":"intl","patterns":["00Z."],"strip":2,"prepend":"+","gateway_ids":[%d,%d,%d,%d,%d],"order":"cost"}`,
			tn, d, a, c, shared, b)).must(t, http.StatusCreated)
		if route.m["order"] != "cost" {
			t.Fatalf("route: %s", route.body)
		}
		lcr := func(token, query string) resp {
			return e.do("GET", path("outbound-routes", route.id())+"/lcr?"+query, token, "")
		}
		r := lcr(e.admin, "number=004930123&at=2026-12-07T12:00:00Z").must(t, http.StatusOK)
		if got, want := lcrLine(r.m["gateways"].([]any), r.m["left_out"].([]any)), "shared 0.01 USD, carrier-b 0.01 USD, carrier-a 0.02 USD, carrier-d -, (carrier-c no_rate)"; got != want {
			t.Fatalf("admin's order:\n got %s\nwant %s", got, want)
		}
		if r.m["sent_number"] != "+4930123" || r.m["matches"] != true || r.m["at"] != "2026-12-07T12:00:00Z" {
			t.Fatalf("answer: %s", r.body)
		}
		r = lcr(ta, "number=004930123").must(t, http.StatusOK)
		if got, want := lcrLine(r.m["gateways"].([]any), r.m["left_out"].([]any)), "shared -, carrier-b 0.01 USD, carrier-a 0.02 USD, carrier-d -, (carrier-c no_rate)"; got != want {
			t.Fatalf("the tenant's order (shared price hidden):\n got %s\nwant %s", got, want)
		}
		lcr(oa, "number=004930123").must(t, http.StatusNotFound)
		for _, tc := range []struct{ query, field string }{
			{"", "number"},
			{"number=49+30", "number"},
			{"number=4930&at=yesterday", "at"},
			{"number=4930&carrier=a", "carrier"},
		} {
			if r := lcr(ta, tc.query).must(t, http.StatusBadRequest); r.errOf(t)["field"] != tc.field {
				t.Errorf("?%s: %s, want field %s", tc.query, r.body, tc.field)
			}
		}

		// The trace dials in the same order.
		tr := e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/routing/trace?number=004930123", tn), ta, "").must(t, http.StatusOK)
		st := tr.m["steps"].([]any)[0].(map[string]any)
		if gws := fmt.Sprint(st["gateways"]); gws != "[shared carrier-b carrier-a carrier-d]" || st["order"] != "cost" ||
			lcrLine(st["gateway_costs"].([]any), st["left_out"].([]any)) != "shared -, carrier-b 0.01 USD, carrier-a 0.02 USD, carrier-d -, (carrier-c no_rate)" {
			t.Fatalf("trace step: %v", st)
		}

		// Schemas match the answers.
		body, _ := fetchDoc(t, e.h)
		conf := newConformance(t, body)
		conf.check(t, "GatewayTariff", e.do("GET", path("gateways", a)+"/tariff", ta, "").must(t, http.StatusOK).m)
		conf.check(t, "GatewayTariff", e.do("PUT", path("gateways", a)+"/tariff", ta, `{"tariff_plan_id":null}`).must(t, http.StatusOK).m)
		conf.check(t, "OutboundRouteLCR", lcr(e.admin, "number=004930123").must(t, http.StatusOK).m)
		conf.check(t, "RoutingTrace", tr.m)
	})
}
