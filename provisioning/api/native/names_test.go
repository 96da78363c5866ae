package native

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestGlobalNamesRevealOnlyExistence: domain names, user logins, gateway
// names and DID numbers are unique across Switchboard (README "Names and
// uniqueness"), so a tenant taking a name another tenant holds gets a 409.
// That 409 must say no more than "taken": byte for byte the answer to a
// clash with the caller's own object, with nothing of the owner (tenant,
// ids). Reading, changing or deleting the other tenant's object by id is
// the 404 of an id that does not exist.
func TestGlobalNamesRevealOnlyExistence(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tr := e.tree()
		a, b := tr.a, tr.b
		kinds := []struct {
			kind, field string
			body        func(tenant int64, name string) string
			names       [3]string // A's, B's own, never used
		}{
			{"domains", "name", func(tn int64, n string) string { return fmt.Sprintf(`{"tenant_id":%d,"name":%q}`, tn, n) },
				[3]string{"taken.example", "mine.example", "free.example"}},
			{"users", "login", func(tn int64, n string) string {
				return fmt.Sprintf(`{"tenant_id":%d,"login":%q,"password":"pw-123456"}`, tn, n)
			}, [3]string{"taken-login", "mine-login", "free-login"}},
			{"gateways", "name", func(tn int64, n string) string {
				return fmt.Sprintf(`{"tenant_id":%d,"name":%q,"host":"h.example"}`, tn, n)
			},
				[3]string{"taken-gw", "mine-gw", "free-gw"}},
			{"dids", "number", func(tn int64, n string) string { return fmt.Sprintf(`{"tenant_id":%d,"number":%q}`, tn, n) },
				[3]string{"+15557770001", "+15557770002", "+15557770003"}},
		}
		for _, k := range kinds {
			t.Run(k.kind, func(t *testing.T) {
				theirs := e.create(k.kind, tr.tokA, k.body(a.tenant, k.names[0]))
				e.create(k.kind, tr.tokB, k.body(b.tenant, k.names[1]))

				own := e.do("POST", "/api/v1/"+k.kind, tr.tokB, k.body(b.tenant, k.names[1]))
				foreign := e.do("POST", "/api/v1/"+k.kind, tr.tokB, k.body(b.tenant, k.names[0]))
				if foreign.code != http.StatusConflict || foreign.errOf(t)["field"] != k.field {
					t.Fatalf("taking A's name: %d %s, want 409 on %s", foreign.code, foreign.body, k.field)
				}
				if strings.ReplaceAll(foreign.body, k.names[0], "NAME") != strings.ReplaceAll(own.body, k.names[1], "NAME") {
					t.Errorf("a clash with another tenant's object reads differently from one with the caller's own:\n%s\n%s", foreign.body, own.body)
				}
				for _, secret := range []string{strconv.FormatInt(a.tenant, 10), strconv.FormatInt(theirs, 10), "a Inc", "tenant"} {
					if strings.Contains(foreign.errOf(t)["message"].(string), secret) {
						t.Errorf("the 409 names %q: %s", secret, foreign.body)
					}
				}

				// By id, A's object is B's nonexistent object.
				missing := theirs + 100000
				for _, m := range []struct{ method, body string }{{"GET", ""}, {"PATCH", patches[k.kind]}, {"DELETE", ""}} {
					got := e.do(m.method, path(k.kind, theirs), tr.tokB, m.body)
					none := e.do(m.method, path(k.kind, missing), tr.tokB, m.body)
					if got.code != http.StatusNotFound ||
						anyID.ReplaceAllString(got.body, "ID not found") != anyID.ReplaceAllString(none.body, "ID not found") {
						t.Errorf("%s A's %s by B: %d %s; a missing id: %d %s", m.method, k.kind, got.code, got.body, none.code, none.body)
					}
				}
				// A name nobody holds is free for B.
				e.create(k.kind, tr.tokB, k.body(b.tenant, k.names[2]))
			})
		}
	})
}

// anyID matches the key of a not-found message, which echoes the caller's
// own id.
var anyID = regexp.MustCompile(`\d+ not found`)
