package native

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api/dcp"
)

// TestRoleRefusals: every write a role may not make is 403 forbidden (never
// 400 invalid: the request is well-formed, the caller may just not make
// it), names the field that asked for it when one did, and changes
// nothing. The same refusals through the dcp dialect are its 403
// "Permission denied".
func TestRoleRefusals(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tr := e.tree()
		a := tr.a
		user := e.token("a-user", provisioning.RoleUser, &a.tenant)
		boss := e.create("users", e.admin, fmt.Sprintf(`{"tenant_id":%d,"login":"boss","password":"pw-123456","role":"admin"}`, a.tenant))
		gwA, shared := tr.objs["a"]["gateways"], tr.sharedGW
		didA := tr.objs["a"]["dids"]
		before := e.snapshot()

		cases := []struct {
			name, method, path, tok, body, field string
		}{
			// A user token writes nothing.
			{"user creates a tenant", "POST", "/api/v1/tenants", user, fmt.Sprintf(`{"name":"x","parent_id":%d}`, a.tenant), ""},
			{"user renames its tenant", "PATCH", path("tenants", a.tenant), user, `{"name":"x"}`, ""},
			{"user deletes a sub-tenant", "DELETE", path("tenants", tr.aSub), user, "", ""},
			{"user creates a domain", "POST", "/api/v1/domains", user, fmt.Sprintf(`{"tenant_id":%d,"name":"x.example"}`, a.tenant), ""},
			{"user changes a domain", "PATCH", path("domains", a.domain), user, `{"description":"x"}`, ""},
			{"user deletes a domain", "DELETE", path("domains", a.domain), user, "", ""},
			{"user creates a user", "POST", "/api/v1/users", user, fmt.Sprintf(`{"tenant_id":%d,"login":"x","password":"pw-123456"}`, a.tenant), ""},
			{"user changes a user", "PATCH", path("users", a.user), user, `{"first_name":"x"}`, ""},
			{"user deletes a user", "DELETE", path("users", a.user), user, "", ""},
			{"user creates an account", "POST", "/api/v1/accounts", user, fmt.Sprintf(`{"domain_id":%d,"username":"x"}`, a.domain), ""},
			{"user changes an account", "PATCH", path("accounts", a.account), user, `{"description":"x"}`, ""},
			{"user deletes an account", "DELETE", path("accounts", a.account), user, "", ""},
			{"user creates a gateway", "POST", "/api/v1/gateways", user, fmt.Sprintf(`{"tenant_id":%d,"name":"x","host":"h.example"}`, a.tenant), ""},
			{"user changes a gateway", "PATCH", path("gateways", gwA), user, `{"port":5080}`, ""},
			{"user deletes a gateway", "DELETE", path("gateways", gwA), user, "", ""},
			{"user creates a DID", "POST", "/api/v1/dids", user, fmt.Sprintf(`{"tenant_id":%d,"number":"+15559990000"}`, a.tenant), ""},
			{"user changes a DID", "PATCH", path("dids", didA), user, `{"description":"x"}`, ""},
			{"user deletes a DID", "DELETE", path("dids", didA), user, "", ""},
			// A tenant-admin stays inside its subtree and below admins.
			{"tenant-admin creates a root tenant", "POST", "/api/v1/tenants", tr.tokA, `{"name":"x"}`, "parent_id"},
			{"tenant-admin creates a root tenant with null", "POST", "/api/v1/tenants", tr.tokA, `{"name":"x","parent_id":null}`, "parent_id"},
			{"tenant-admin makes a sub-tenant a root", "PATCH", path("tenants", tr.aSub), tr.tokA, `{"parent_id":null}`, "parent_id"},
			{"tenant-admin moves its own tenant", "PATCH", path("tenants", a.tenant), tr.tokA, fmt.Sprintf(`{"parent_id":%d}`, tr.aSub), "parent_id"},
			{"tenant-admin deletes its own tenant", "DELETE", path("tenants", a.tenant), tr.tokA, "", ""},
			{"tenant-admin creates an admin", "POST", "/api/v1/users", tr.tokA, fmt.Sprintf(`{"tenant_id":%d,"login":"x","password":"pw-123456","role":"admin"}`, a.tenant), "role"},
			{"tenant-admin promotes to admin", "PATCH", path("users", a.user), tr.tokA, `{"role":"admin"}`, "role"},
			{"tenant-admin changes an admin", "PATCH", path("users", boss), tr.tokA, `{"first_name":"x"}`, ""},
			{"tenant-admin deletes an admin", "DELETE", path("users", boss), tr.tokA, "", ""},
			{"tenant-admin creates a shared gateway", "POST", "/api/v1/gateways", tr.tokA, `{"name":"x","host":"h.example"}`, "tenant_id"},
			{"tenant-admin shares its gateway", "PATCH", path("gateways", gwA), tr.tokA, `{"tenant_id":null}`, "tenant_id"},
			{"tenant-admin changes a shared gateway", "PATCH", path("gateways", shared), tr.tokA, `{"port":5080}`, ""},
			{"tenant-admin deletes a shared gateway", "DELETE", path("gateways", shared), tr.tokA, "", ""},
			{"tenant-admin submits CDRs", "POST", "/api/v1/cdrs", tr.tokA, `[]`, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(tc.method, tc.path, tc.tok, tc.body)
				if r.code != http.StatusForbidden {
					t.Fatalf("%d %s, want 403", r.code, r.body)
				}
				env := r.errOf(t)
				if env["code"] != codeForbidden || env["status"] != float64(http.StatusForbidden) {
					t.Errorf("envelope %s, want code forbidden", r.body)
				}
				if f, _ := env["field"].(string); f != tc.field {
					t.Errorf("field %q, want %q: %s", f, tc.field, r.body)
				}
			})
		}
		if after := e.snapshot(); after != before {
			t.Error("refused writes changed the store")
		}

		// The dcp dialect over the same Service answers its own 403.
		h := dcp.New(e.deps)
		for _, tc := range []struct {
			name, verb, tok string
			params          url.Values
		}{
			{"user creates a user", "user/create", user, url.Values{"accid": {"x"}, "password": {"pw-123456"}, "email": {"x@example.com"}, "dcp": {a.domainName}}},
			{"user updates a user", "user/update", user, url.Values{"accid": {"a-owner"}, "firstname": {"x"}}},
			{"user removes a user", "user/remove", user, url.Values{"accid": {"a-owner"}}},
			{"user creates a number", "phonenumber/create", user, url.Values{"user": {"a-owner"}, "dcp": {a.domainName}}},
			{"user updates a number", "phonenumber/update", user, url.Values{"user": {"a-owner"}, "dcp": {a.domainName}, "phonenumber": {"a-base"}, "desc": {"x"}}},
			{"user removes a number", "phonenumber/remove", user, url.Values{"user": {"a-owner"}, "dcp": {a.domainName}, "phonenumber": {"a-base"}}},
			{"tenant-admin updates an admin", "user/update", tr.tokA, url.Values{"accid": {"boss"}, "firstname": {"x"}}},
			{"tenant-admin removes an admin", "user/remove", tr.tokA, url.Values{"accid": {"boss"}}},
		} {
			t.Run("dcp "+tc.name, func(t *testing.T) {
				tc.params.Set("token", tc.tok)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/"+tc.verb+"?"+tc.params.Encode(), nil))
				var m map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
					t.Fatal(err)
				}
				if w.Code != http.StatusForbidden || m["code"] != float64(http.StatusForbidden) || m["message"] != "Permission denied" {
					t.Errorf("%d %s, want 403 Permission denied", w.Code, w.Body)
				}
			})
		}
		if after := e.snapshot(); after != before {
			t.Error("refused dcp writes changed the store")
		}
	})
}
