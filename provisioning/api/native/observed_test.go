package native

import (
	"net/http"
	"strings"
	"testing"
)

// TestObservedGateway: "managed": false declares a trunk defined on the
// switch: it needs only a name (no host, no credentials), reads back as
// managed false, and appears in gateway status like any gateway. A
// managed gateway still needs its host; credentials on an observed one,
// and a port without a host, are refused naming the field, with nothing
// written. PATCH turns one into the other.
func TestObservedGateway(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		obs := e.do("POST", "/api/v1/gateways", e.admin, `{"name":"pbx-trunk","managed":false}`).must(t, http.StatusCreated)
		m := obs.m
		if m["managed"] != false || m["host"] != "" || m["port"] != 0.0 || m["has_secret"] != false {
			t.Errorf("observed gateway: %s", obs.body)
		}
		withHost := e.do("POST", "/api/v1/gateways", e.admin, `{"name":"pbx-trunk2","managed":false,"host":"192.0.2.7"}`).must(t, http.StatusCreated)
		if m := withHost.m; m["managed"] != false || m["port"] != 5060.0 {
			t.Errorf("observed gateway with a host: %s", withHost.body)
		}
		// Named as the switch names it: FreeSWITCH's own example gateway.
		e.do("POST", "/api/v1/gateways", e.admin, `{"name":"example.com","managed":false}`).must(t, http.StatusCreated)
		managed := e.do("POST", "/api/v1/gateways", e.admin, `{"name":"carrier","host":"192.0.2.8"}`).must(t, http.StatusCreated)
		if m := managed.m; m["managed"] != true {
			t.Errorf("a gateway without managed is managed: %s", managed.body)
		}

		for _, tc := range []struct{ name, body, field string }{
			{"managed without host", `{"name":"x1"}`, "host"},
			{"managed true without host", `{"name":"x1","managed":true}`, "host"},
			{"observed with username", `{"name":"x1","managed":false,"username":"acct"}`, "username"},
			{"observed with secret", `{"name":"x1","managed":false,"secret":"a-Secret-1"}`, "secret"},
			{"observed registering", `{"name":"x1","managed":false,"register":true}`, "register"},
			{"observed port without host", `{"name":"x1","managed":false,"port":5060}`, "host"},
			{"managed not a boolean", `{"name":"x1","managed":"no"}`, "managed"},
			{"managed with a dot", `{"name":"x1.example","host":"192.0.2.1"}`, "name"},
		} {
			r := e.do("POST", "/api/v1/gateways", e.admin, tc.body)
			if r.code != http.StatusBadRequest || r.errOf(t)["field"] != tc.field {
				t.Errorf("%s: %d %s, want 400 naming %s", tc.name, r.code, r.body, tc.field)
			}
		}
		if items := e.do("GET", "/api/v1/gateways?name=x1", e.admin, "").must(t, http.StatusOK).items(t); len(items) != 0 {
			t.Errorf("a refused create wrote %v", items)
		}

		// PATCH: a hostless observed gateway keeps no port, and a change
		// of its description needs nothing else.
		r := e.do("PATCH", path("gateways", obs.id()), e.admin, `{"description":"the PBX's own trunk"}`).must(t, http.StatusOK)
		if m := r.m; m["managed"] != false || m["port"] != 0.0 {
			t.Errorf("patched observed gateway: %s", r.body)
		}
		// Observed → managed needs a host; with one it is managed.
		if r := e.do("PATCH", path("gateways", obs.id()), e.admin, `{"managed":true}`); r.code != http.StatusBadRequest || r.errOf(t)["field"] != "host" {
			t.Errorf("managed without host: %d %s", r.code, r.body)
		}
		r = e.do("PATCH", path("gateways", obs.id()), e.admin, `{"managed":true,"host":"192.0.2.9"}`).must(t, http.StatusOK)
		if m := r.m; m["managed"] != true || m["port"] != 5060.0 {
			t.Errorf("observed turned managed: %s", r.body)
		}
		// A managed gateway with credentials cannot become observed
		// without dropping them: the field is named, nothing changes.
		gw := e.do("POST", "/api/v1/gateways", e.admin, `{"name":"reg","host":"192.0.2.10","username":"u","secret":"gw-Secret-1","register":true}`).must(t, http.StatusCreated)
		if r := e.do("PATCH", path("gateways", gw.id()), e.admin, `{"managed":false}`); r.code != http.StatusBadRequest ||
			!strings.Contains(r.body, "observed") {
			t.Errorf("observed with credentials: %d %s", r.code, r.body)
		}
		if m := e.do("GET", path("gateways", gw.id()), e.admin, "").must(t, http.StatusOK).m; m["managed"] != true || m["has_secret"] != true {
			t.Errorf("a refused PATCH changed the gateway: %v", m)
		}
		r = e.do("PATCH", path("gateways", gw.id()), e.admin, `{"managed":false,"username":"","secret":"","register":false}`).must(t, http.StatusOK)
		if m := r.m; m["managed"] != false || m["has_secret"] != false {
			t.Errorf("managed turned observed: %s", r.body)
		}

		st := e.do("GET", "/api/v1/gateways/status?name=pbx-trunk2", e.admin, "").must(t, http.StatusOK).items(t)
		if len(st) != 1 || st[0]["name"] != "pbx-trunk2" || st[0]["state"] != "unknown" {
			t.Errorf("observed gateway in status: %v", st)
		}
	})
}
