package native

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestRoutingAPI builds a tenant's routing over HTTP as a tenant-admin and
// traces calls through it; bad input answers 4xx naming the field and
// writes nothing.
func TestRoutingAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"acme"}`)
		ta := e.token("acme-admin", "tenant-admin", ptr(tn))
		dom := e.create("domains", ta, fmt.Sprintf(`{"tenant_id":%d,"name":"acme.example"}`, tn))
		var phones [3]int64
		for i := range phones {
			phones[i] = e.create("accounts", ta, fmt.Sprintf(`{"domain_id":%d,"username":"20%d","secret":"secret-20%d"}`, dom, i+1, i+1))
		}
		gw := e.create("gateways", e.admin, `{"name":"carrier","host":"sip.carrier.example"}`)
		e.create("outbound-routes", ta, fmt.Sprintf(`{"tenant_id":%d,"name":"nanp","patterns":["1NXXNXXXXXX"],"prepend":"+","gateway_ids":[%d]}`, tn, gw))
		x := e.create("extensions", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"100","name":"reception","destination":{"type":"account","id":%d}}`, tn, phones[0]))
		hg := e.create("hunt-groups", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"500","name":"sales","strategy":"ring_all",
			"members":[{"destination":{"type":"extension","id":%d}},{"destination":{"type":"account","id":%d}},{"destination":{"type":"account","id":%d}}],
			"failover":{"type":"external","number":"15145550199"}}`, tn, x, phones[1], phones[2]))
		cond := e.do("POST", "/api/v1/conditions", ta, fmt.Sprintf(`{"tenant_id":%d,"name":"office","time_zone":"America/Montreal","times":["08:00-17:00 fri-mon"],
			"match":{"type":"hunt_group","id":%d},"miss":{"type":"busy"}}`, tn, hg)).must(t, http.StatusCreated)
		if got := cond.m["times"].([]any)[0]; got != "mon,fri-sun 08:00-17:00" {
			t.Errorf("times written back as %q, want the canonical form", got)
		}
		if cond.m["manual"] != "auto" {
			t.Errorf("manual = %v, want the default auto", cond.m["manual"])
		}
		did := e.do("POST", "/api/v1/dids", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"+15145550100","destination":{"type":"condition","id":%d}}`, tn, cond.id())).must(t, http.StatusCreated)
		if did.m["account_id"] != nil {
			t.Errorf("a DID routed to a condition shows account_id %v", did.m["account_id"])
		}

		trace := func(number, at string) string {
			r := e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/routing/trace?number=%s&at=%s", tn, urlQuery(number), urlQuery(at)), ta, "").must(t, http.StatusOK)
			var lines []string
			for _, s := range r.m["steps"].([]any) {
				st := s.(map[string]any)
				line := st["do"].(string)
				for _, tg := range st["targets"].([]any) {
					line += " " + tg.(string)
				}
				for _, g := range st["gateways"].([]any) {
					line += " via " + g.(string)
				}
				lines = append(lines, line)
			}
			return r.m["entry"].(string) + ": " + strings.Join(lines, "; ")
		}
		for _, tc := range []struct{ number, at, want string }{
			{"+15145550100", "2026-12-07T10:00:00-05:00", "did: ring 201@acme.example 202@acme.example 203@acme.example; dial_out +15145550199 via carrier"},
			{"+15145550100", "2026-12-08T10:00:00-05:00", "did: busy"},
			{"500", "2026-12-08T10:00:00-05:00", "plan: ring 201@acme.example 202@acme.example 203@acme.example; dial_out +15145550199 via carrier"},
			{"15145550142", "2026-12-08T10:00:00-05:00", "external: dial_out +15145550142 via carrier"},
		} {
			if got := trace(tc.number, tc.at); got != tc.want {
				t.Errorf("trace %s at %s:\n got %s\nwant %s", tc.number, tc.at, got, tc.want)
			}
		}

		// Bad input: 4xx naming the field; nothing written.
		before := len(e.do("GET", "/api/v1/extensions", ta, "").must(t, http.StatusOK).items(t))
		for _, tc := range []struct {
			method, path, body string
			code               int
			field, text        string
		}{
			{"POST", "/api/v1/extensions", fmt.Sprintf(`{"tenant_id":%d,"number":"500","destination":{"type":"busy"}}`, tn), http.StatusConflict, "number", "already in this tenant's numbering plan"},
			{"POST", "/api/v1/extensions", fmt.Sprintf(`{"tenant_id":%d,"number":"10a","destination":{"type":"busy"}}`, tn), http.StatusBadRequest, "number", "1 to 15 digits"},
			{"POST", "/api/v1/extensions", fmt.Sprintf(`{"tenant_id":%d,"number":"101","destination":{"type":"pigeon","id":1}}`, tn), http.StatusBadRequest, "destination.type", "must be one of"},
			{"POST", "/api/v1/extensions", fmt.Sprintf(`{"tenant_id":%d,"number":"101","destination":{"type":"busy","idd":1}}`, tn), http.StatusBadRequest, "destination.idd", ""},
			{"POST", "/api/v1/extensions", fmt.Sprintf(`{"tenant_id":%d,"number":"101","destination":{"type":"hunt_group","id":99999}}`, tn), http.StatusUnprocessableEntity, "destination", "hunt_group 99999 not found"},
			{"PATCH", path("extensions", x), fmt.Sprintf(`{"destination":{"type":"hunt_group","id":%d}}`, hg), http.StatusBadRequest, "destination", "calls would loop: extension"},
			{"POST", "/api/v1/conditions", fmt.Sprintf(`{"tenant_id":%d,"name":"bad","times":["mon-fri 9:00-17:00"],"match":{"type":"busy"},"miss":{"type":"busy"}}`, tn), http.StatusBadRequest, "times[0]", "HH:MM"},
			{"POST", "/api/v1/conditions", fmt.Sprintf(`{"tenant_id":%d,"name":"bad","time_zone":"Mars/Olympus","match":{"type":"busy"},"miss":{"type":"busy"}}`, tn), http.StatusBadRequest, "time_zone", "IANA"},
			{"POST", "/api/v1/outbound-routes", fmt.Sprintf(`{"tenant_id":%d,"name":"bad","patterns":["1.X"],"gateway_ids":[%d]}`, tn, gw), http.StatusBadRequest, "patterns[0]", "only at the end"},
			{"DELETE", path("hunt-groups", hg), "", http.StatusConflict, "", "condition"},
			{"DELETE", path("accounts", phones[1]), "", http.StatusConflict, "", "hunt_group"},
		} {
			r := e.do(tc.method, tc.path, ta, tc.body)
			if r.code != tc.code {
				t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, r.code, r.body, tc.code)
				continue
			}
			env := r.errOf(t)
			if f, _ := env["field"].(string); f != tc.field {
				t.Errorf("%s %s: field %q, want %q (%s)", tc.method, tc.path, f, tc.field, r.body)
			}
			if !strings.Contains(env["message"].(string), tc.text) {
				t.Errorf("%s %s: message %q, want it to say %q", tc.method, tc.path, env["message"], tc.text)
			}
		}
		if after := len(e.do("GET", "/api/v1/extensions", ta, "").must(t, http.StatusOK).items(t)); after != before {
			t.Errorf("%d extensions after refused writes, want %d", after, before)
		}
		got := e.do("GET", path("extensions", x), ta, "").must(t, http.StatusOK)
		if d := got.m["destination"].(map[string]any); d["type"] != "account" {
			t.Errorf("extension after a refused loop: destination %v", d)
		}

		// Another tenant sees none of it.
		other := e.create("tenants", e.admin, `{"name":"globex"}`)
		ot := e.token("globex-admin", "tenant-admin", ptr(other))
		e.do("GET", path("hunt-groups", hg), ot, "").must(t, http.StatusNotFound)
		e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/routing/trace?number=500", tn), ot, "").must(t, http.StatusNotFound)
		if n := len(e.do("GET", "/api/v1/conditions", ot, "").must(t, http.StatusOK).items(t)); n != 0 {
			t.Errorf("another tenant lists %d conditions", n)
		}
	})
}
