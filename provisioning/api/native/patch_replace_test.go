package native

import (
	"fmt"
	"net/http"
	"testing"
)

// TestPatchReplacesGivenFields: a field a PATCH sends replaces the stored
// value whole; encoding/json alone would decode a list over the stored
// list's elements and an object over the stored object, keeping what the
// new one leaves out (a member's ring time, a destination's id).
func TestPatchReplacesGivenFields(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"acme"}`)
		ta := e.token("acme-admin", "tenant-admin", ptr(tn))
		dom := e.create("domains", ta, fmt.Sprintf(`{"tenant_id":%d,"name":"acme.example"}`, tn))
		a := e.create("accounts", ta, fmt.Sprintf(`{"domain_id":%d,"username":"201","secret":"secret-201"}`, dom))
		b := e.create("accounts", ta, fmt.Sprintf(`{"domain_id":%d,"username":"202","secret":"secret-202"}`, dom))
		x := e.create("extensions", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"100","destination":{"type":"account","id":%d}}`, tn, a))
		hg := e.create("hunt-groups", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"500","name":"sales","strategy":"sequential",
			"members":[{"destination":{"type":"account","id":%d},"ring_seconds":45}],"failover":{"type":"extension","id":%d}}`, tn, a, x))

		for _, tc := range []struct {
			name, body string
			check      func(m map[string]any) string
		}{
			{"list replaced, not merged", fmt.Sprintf(`{"members":[{"destination":{"type":"account","id":%d}}]}`, b), func(m map[string]any) string {
				mem := m["members"].([]any)[0].(map[string]any)
				if id := mem["destination"].(map[string]any)["id"]; id != float64(b) {
					return fmt.Sprintf("member destination id %v, want %d", id, b)
				}
				if rs := mem["ring_seconds"]; rs == float64(45) {
					return "the new member kept the old member's ring_seconds 45"
				}
				return ""
			}},
			{"object replaced, not merged", `{"failover":{"type":"busy"}}`, func(m map[string]any) string {
				f := m["failover"].(map[string]any)
				if f["type"] != "busy" || f["id"] != nil {
					return fmt.Sprintf("failover %v, want busy without an id", f)
				}
				return ""
			}},
			{"absent fields kept", `{"name":"sales2"}`, func(m map[string]any) string {
				if m["name"] != "sales2" || m["strategy"] != "sequential" || len(m["members"].([]any)) != 1 {
					return fmt.Sprintf("after a name-only patch: %v", m)
				}
				return ""
			}},
		} {
			r := e.do("PATCH", path("hunt-groups", hg), ta, tc.body).must(t, http.StatusOK)
			if msg := tc.check(r.m); msg != "" {
				t.Errorf("%s: %s", tc.name, msg)
			}
		}
	})
}
