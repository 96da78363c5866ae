package native

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// base is a small tree every test starts from: a tenant with a domain, a
// user and an account.
type base struct {
	tenant, domain, user, account int64
	domainName                    string
}

func (e *env) base(prefix string, parent *int64) base {
	e.t.Helper()
	b := base{domainName: prefix + ".example.com"}
	body := map[string]any{"name": prefix + " Inc"}
	if parent != nil {
		body["parent_id"] = *parent
	}
	b.tenant = e.create("tenants", e.admin, jsonStr(body))
	b.domain = e.create("domains", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":%q}`, b.tenant, b.domainName))
	b.user = e.create("users", e.admin, fmt.Sprintf(`{"tenant_id":%d,"login":"%s-owner","password":"pw-123456"}`, b.tenant, prefix))
	b.account = e.create("accounts", e.admin, fmt.Sprintf(`{"domain_id":%d,"username":"%s-base","user_id":%d}`, b.domain, prefix, b.user))
	return b
}

// Each kind goes through create, get, list, a partial update, delete.
func TestCRUD(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.base("acme", nil)
		cases := []struct {
			kind   string
			create string
			// created are fields the create answer must have.
			created map[string]any
			patch   string
			// patched are fields the update answer must have; kept are
			// fields of the create answer the update must not change.
			patched map[string]any
			kept    []string
		}{
			{
				kind:    "tenants",
				create:  fmt.Sprintf(`{"name":"Acme Sales","parent_id":%d}`, b.tenant),
				created: map[string]any{"name": "Acme Sales", "parent_id": float64(b.tenant)},
				patch:   `{"name":"Acme Field Sales"}`,
				patched: map[string]any{"name": "Acme Field Sales", "parent_id": float64(b.tenant)},
				kept:    []string{"created_at"},
			},
			{
				kind:    "domains",
				create:  fmt.Sprintf(`{"tenant_id":%d,"name":"Voice.Acme.Example","description":"main"}`, b.tenant),
				created: map[string]any{"name": "voice.acme.example", "description": "main", "tenant_id": float64(b.tenant)},
				patch:   `{"description":"primary"}`,
				patched: map[string]any{"description": "primary"},
				kept:    []string{"name", "tenant_id"},
			},
			{
				kind:    "users",
				create:  fmt.Sprintf(`{"tenant_id":%d,"login":"bob","password":"pw-123456","email":"bob@example.com","role":"tenant-admin"}`, b.tenant),
				created: map[string]any{"login": "bob", "email": "bob@example.com", "role": "tenant-admin"},
				patch:   `{"first_name":"Bob","last_name":"O'Brien"}`,
				patched: map[string]any{"first_name": "Bob", "last_name": "O'Brien"},
				kept:    []string{"login", "email", "role", "tenant_id"},
			},
			{
				kind:    "accounts",
				create:  fmt.Sprintf(`{"domain":%q,"username":"1001","caller_id_number":"+15551000","user_id":%d}`, strings.ToUpper(b.domainName), b.user),
				created: map[string]any{"username": "1001", "domain": b.domainName, "domain_id": float64(b.domain), "tenant_id": float64(b.tenant), "has_secret": true, "user_id": float64(b.user)},
				patch:   `{"caller_id_name":"Front desk","user_id":null}`,
				patched: map[string]any{"caller_id_name": "Front desk", "user_id": nil, "has_secret": true},
				kept:    []string{"username", "caller_id_number", "domain_id"},
			},
			{
				kind:    "gateways",
				create:  fmt.Sprintf(`{"tenant_id":%d,"name":"carrier-a","host":"sip.carrier.example","transport":"tls"}`, b.tenant),
				created: map[string]any{"name": "carrier-a", "port": float64(5061), "transport": "tls", "has_secret": false, "register": false},
				patch:   `{"qualify_seconds":30,"username":"acme","secret":"gw-Secret-1","register":true}`,
				patched: map[string]any{"qualify_seconds": float64(30), "register": true, "has_secret": true},
				kept:    []string{"name", "host", "port", "transport", "tenant_id"},
			},
			{
				kind:    "dids",
				create:  fmt.Sprintf(`{"tenant_id":%d,"number":"+15551234567","account_id":%d}`, b.tenant, b.account),
				created: map[string]any{"number": "+15551234567", "account_id": float64(b.account)},
				patch:   `{"account_id":null,"description":"unrouted"}`,
				patched: map[string]any{"account_id": nil, "description": "unrouted"},
				kept:    []string{"number", "tenant_id"},
			},
		}
		for _, tc := range cases {
			t.Run(tc.kind, func(t *testing.T) {
				r := e.do("POST", "/api/v1/"+tc.kind, e.admin, tc.create).must(t, http.StatusCreated)
				id := r.id()
				if got, want := r.hdr.Get("Location"), path(tc.kind, id); got != want {
					t.Errorf("Location = %q, want %q", got, want)
				}
				if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				checkFields(t, "create", r.m, tc.created)
				created := r.m

				g := e.do("GET", path(tc.kind, id), e.admin, "").must(t, http.StatusOK)
				checkFields(t, "get", g.m, tc.created)

				l := e.do("GET", "/api/v1/"+tc.kind, e.admin, "").must(t, http.StatusOK)
				if !containsID(l.items(t), id) {
					t.Errorf("list does not contain %d: %s", id, l.body)
				}

				p := e.do("PATCH", path(tc.kind, id), e.admin, tc.patch).must(t, http.StatusOK)
				checkFields(t, "patch", p.m, tc.patched)
				for _, k := range tc.kept {
					if jsonStr(p.m[k]) != jsonStr(created[k]) {
						t.Errorf("patch changed %s: %v → %v", k, created[k], p.m[k])
					}
				}
				g = e.do("GET", path(tc.kind, id), e.admin, "").must(t, http.StatusOK)
				checkFields(t, "get after patch", g.m, tc.patched)

				d := e.do("DELETE", path(tc.kind, id), e.admin, "").must(t, http.StatusNoContent)
				if d.body != "" {
					t.Errorf("delete answered a body: %q", d.body)
				}
				e.do("GET", path(tc.kind, id), e.admin, "").must(t, http.StatusNotFound)
				e.do("DELETE", path(tc.kind, id), e.admin, "").must(t, http.StatusNotFound)
			})
		}
	})
}

func checkFields(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if jsonStr(got[k]) != jsonStr(v) {
			t.Errorf("%s: %s = %v, want %v", what, k, jsonStr(got[k]), jsonStr(v))
		}
	}
}

func containsID(items []map[string]any, id int64) bool {
	for _, it := range items {
		if f, _ := it["id"].(float64); int64(f) == id {
			return true
		}
	}
	return false
}

// Secrets are shown once, in the answer to a create, and never again.
func TestSecrets(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.base("acme", nil)
		ctx := context.Background()

		r := e.do("POST", "/api/v1/accounts", e.admin, fmt.Sprintf(`{"domain_id":%d,"username":"1002","secret":"my-Secret-1002"}`, b.domain)).must(t, http.StatusCreated)
		// A supplied secret is not echoed: only a generated one is shown.
		if _, ok := r.m["secret"]; ok || strings.Contains(r.body, "my-Secret-1002") || r.m["has_secret"] != true {
			t.Errorf("create answer with a supplied secret: %s", r.body)
		}
		gen := e.do("POST", "/api/v1/accounts", e.admin, fmt.Sprintf(`{"domain_id":%d,"username":"1003"}`, b.domain)).must(t, http.StatusCreated)
		secret, _ := gen.m["secret"].(string)
		stored, err := e.svc.Account(ctx, provisioning.AdminScope(), gen.id())
		if err != nil {
			t.Fatal(err)
		}
		if len(secret) != 20 || stored.Secret != secret {
			t.Errorf("generated secret %q, stored %q", secret, stored.Secret)
		}
		gw := e.do("POST", "/api/v1/gateways", e.admin, `{"name":"gw1","host":"10.0.0.1","username":"u","secret":"gw-Secret-1","register":true}`).must(t, http.StatusCreated)
		if _, ok := gw.m["secret"]; ok || strings.Contains(gw.body, "gw-Secret-1") || gw.m["has_secret"] != true {
			t.Errorf("gateway create answer with a supplied secret: %s", gw.body)
		}
		nogw := e.do("POST", "/api/v1/gateways", e.admin, `{"name":"gw2","host":"10.0.0.2"}`).must(t, http.StatusCreated)
		if _, ok := nogw.m["secret"]; ok {
			t.Errorf("gateway without secret answered one: %s", nogw.body)
		}

		// Nothing else ever shows a secret, a password or a hash.
		u := e.do("POST", "/api/v1/users", e.admin, fmt.Sprintf(`{"tenant_id":%d,"login":"carol","password":"carol-Pass-9"}`, b.tenant)).must(t, http.StatusCreated)
		e.do("PATCH", path("accounts", r.id()), e.admin, `{"secret":"new-Secret-1002"}`).must(t, http.StatusOK)
		var bodies []string
		for _, p := range []string{path("accounts", r.id()), path("accounts", gen.id()), "/api/v1/accounts", path("gateways", gw.id()), "/api/v1/gateways",
			path("users", u.id()), "/api/v1/users", "/api/v1/gateways/status"} {
			bodies = append(bodies, e.do("GET", p, e.admin, "").must(t, http.StatusOK).body)
		}
		bodies = append(bodies, e.do("PATCH", path("accounts", r.id()), e.admin, `{"description":"x"}`).must(t, http.StatusOK).body)
		for _, body := range bodies {
			for _, s := range []string{"my-Secret-1002", "new-Secret-1002", secret, "gw-Secret-1", "carol-Pass-9", "$2a$", `"secret"`, `"password`, `"ha1"`} {
				if strings.Contains(body, s) {
					t.Errorf("answer leaks %q: %s", s, body)
				}
			}
		}
		if !strings.Contains(bodies[0], `"has_secret":true`) {
			t.Errorf("account GET lacks has_secret: %s", bodies[0])
		}

		// PATCH password re-hashes it; other fields stay.
		e.do("PATCH", path("users", u.id()), e.admin, `{"password":"carol-Pass-10"}`).must(t, http.StatusOK)
		got, err := e.svc.User(ctx, provisioning.AdminScope(), u.id())
		if err != nil {
			t.Fatal(err)
		}
		if !provisioning.CheckPassword(got, "carol-Pass-10") || provisioning.CheckPassword(got, "carol-Pass-9") {
			t.Error("PATCH password did not replace the password")
		}
		if strings.Contains(e.logs.String(), "carol-Pass") || strings.Contains(e.logs.String(), "Secret-1002") {
			t.Error("a secret reached the log")
		}
	})
}

// Values full of SQL and LIKE metacharacters are stored and matched
// verbatim.
func TestSQLMetacharacters(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		nasty := `Robert'); DROP TABLE tenants;-- 100% _x_ \ "q" ` + "`b`"
		id := e.create("tenants", e.admin, jsonStr(map[string]any{"name": nasty}))
		r := e.do("GET", path("tenants", id), e.admin, "").must(t, http.StatusOK)
		if r.m["name"] != nasty {
			t.Errorf("name = %q, want %q", r.m["name"], nasty)
		}
		l := e.do("GET", "/api/v1/tenants?name="+urlQuery(nasty), e.admin, "").must(t, http.StatusOK)
		if items := l.items(t); len(items) != 1 || items[0]["name"] != nasty {
			t.Errorf("filter by name: %s", l.body)
		}
		d := e.create("domains", e.admin, jsonStr(map[string]any{"tenant_id": id, "name": "x.example", "description": nasty}))
		e.create("accounts", e.admin, fmt.Sprintf(`{"domain_id":%d,"username":"a_1"}`, d))
		e.create("accounts", e.admin, fmt.Sprintf(`{"domain_id":%d,"username":"ab1"}`, d))
		for _, tc := range []struct {
			prefix string
			want   int
		}{{"%", 0}, {"a_", 1}, {"a", 2}, {"'", 0}, {`\`, 0}} {
			l := e.do("GET", "/api/v1/accounts?username_prefix="+urlQuery(tc.prefix), e.admin, "").must(t, http.StatusOK)
			if n := len(l.items(t)); n != tc.want {
				t.Errorf("username_prefix=%q: %d accounts, want %d", tc.prefix, n, tc.want)
			}
		}
		e.do("GET", "/api/v1/tenants", e.admin, "").must(t, http.StatusOK)
	})
}

// Lists page by keyset: walking next_cursor returns every object once.
func TestPaging(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tid := e.create("tenants", e.admin, `{"name":"pager"}`)
		want := map[int64]bool{}
		for i := range 7 {
			want[e.create("domains", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"d%d.example"}`, tid, i))] = true
		}
		seen := map[int64]bool{}
		cursor, pages := "", 0
		for {
			r := e.do("GET", "/api/v1/domains?limit=3&tenant_id="+fmt.Sprint(tid)+"&cursor="+cursor, e.admin, "").must(t, http.StatusOK)
			pages++
			for _, it := range r.items(t) {
				id := int64(it["id"].(float64))
				if seen[id] {
					t.Errorf("domain %d seen twice", id)
				}
				seen[id] = true
			}
			cursor, _ = r.m["next_cursor"].(string)
			if cursor == "" || pages > 10 {
				break
			}
		}
		if len(seen) != len(want) || pages != 3 {
			t.Errorf("walked %d domains in %d pages, want %d in 3", len(seen), pages, len(want))
		}
	})
}
