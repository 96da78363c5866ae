package native

import (
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// tree is a root tenant with two sibling children, A and B, each with one
// object of every kind and a tenant-admin token; A also has a
// sub-tenant. A shared gateway belongs to no tenant.
type tree struct {
	root             int64
	a, b             base
	aSub             int64
	objs             map[string]map[string]int64 // "a"/"b" → kind → id
	tokA, tokB, tokR string
	sharedGW         int64
}

func (e *env) tree() *tree {
	e.t.Helper()
	tr := &tree{objs: map[string]map[string]int64{}}
	tr.root = e.create("tenants", e.admin, `{"name":"root"}`)
	tr.a = e.base("a", &tr.root)
	tr.b = e.base("b", &tr.root)
	tr.aSub = e.create("tenants", e.admin, fmt.Sprintf(`{"name":"a-sub","parent_id":%d}`, tr.a.tenant))
	for _, side := range []struct {
		name string
		b    base
		num  string
	}{{"a", tr.a, "+15550000001"}, {"b", tr.b, "+15550000002"}} {
		gw := e.create("gateways", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"%s-gw","host":"%s.gw.example"}`, side.b.tenant, side.name, side.name))
		did := e.create("dids", e.admin, fmt.Sprintf(`{"tenant_id":%d,"number":%q,"account_id":%d}`, side.b.tenant, side.num, side.b.account))
		tr.objs[side.name] = map[string]int64{
			"tenants": side.b.tenant, "domains": side.b.domain, "users": side.b.user,
			"accounts": side.b.account, "gateways": gw, "dids": did,
		}
	}
	tr.sharedGW = e.create("gateways", e.admin, `{"name":"shared-gw","host":"shared.gw.example"}`)
	tr.tokA = e.token("a-admin", provisioning.RoleTenantAdmin, &tr.a.tenant)
	tr.tokB = e.token("b-admin", provisioning.RoleTenantAdmin, &tr.b.tenant)
	tr.tokR = e.token("root-admin", provisioning.RoleTenantAdmin, &tr.root)
	return tr
}

// A valid PATCH body per kind, so that a 404 can only come from scope.
var patches = map[string]string{
	"tenants":  `{"name":"pwned"}`,
	"domains":  `{"description":"pwned"}`,
	"users":    `{"first_name":"pwned"}`,
	"accounts": `{"description":"pwned"}`,
	"gateways": `{"description":"pwned"}`,
	"dids":     `{"description":"pwned"}`,
}

var kinds = []string{"tenants", "domains", "users", "accounts", "gateways", "dids"}

// Sibling tenants cannot see, change or delete each other's objects,
// however they guess IDs; a parent tenant sees its children's; an admin
// sees everything.
func TestCrossTenant(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tr := e.tree()
		before := e.snapshot()

		for _, other := range []struct {
			tok    string
			victim string
		}{{tr.tokB, "a"}, {tr.tokA, "b"}} {
			for _, kind := range kinds {
				id := tr.objs[other.victim][kind]
				for _, m := range []string{"GET", "PATCH", "DELETE"} {
					body := ""
					if m == "PATCH" {
						body = patches[kind]
					}
					r := e.do(m, path(kind, id), other.tok, body)
					if r.code != http.StatusNotFound {
						t.Errorf("%s %s/%d by the sibling: %d %s, want 404", m, kind, id, r.code, r.body)
					}
				}
			}
		}
		// The sub-tenant of A is as invisible to B as A.
		e.do("GET", path("tenants", tr.aSub), tr.tokB, "").must(t, http.StatusNotFound)
		e.do("DELETE", path("tenants", tr.aSub), tr.tokB, "").must(t, http.StatusNotFound)

		// References to the sibling's objects are refused too.
		a, b := tr.objs["a"], tr.objs["b"]
		for _, tc := range []struct {
			method, path, body, field string
		}{
			{"POST", "/api/v1/accounts", fmt.Sprintf(`{"domain_id":%d,"username":"x1"}`, a["domains"]), "domain_id"},
			{"POST", "/api/v1/accounts", `{"domain":"a.example.com","username":"x1"}`, "domain_id"},
			{"POST", "/api/v1/tenants", fmt.Sprintf(`{"name":"x","parent_id":%d}`, a["tenants"]), "parent_id"},
			{"POST", "/api/v1/domains", fmt.Sprintf(`{"name":"x.example","tenant_id":%d}`, a["tenants"]), "tenant_id"},
			{"POST", "/api/v1/dids", fmt.Sprintf(`{"number":"+15559999999","tenant_id":%d,"account_id":%d}`, b["tenants"], a["accounts"]), "account_id"},
			{"PATCH", path("accounts", b["accounts"]), fmt.Sprintf(`{"user_id":%d}`, a["users"]), "user_id"},
			{"PATCH", path("dids", b["dids"]), fmt.Sprintf(`{"account_id":%d}`, a["accounts"]), "account_id"},
			{"PATCH", path("tenants", tr.b.tenant), fmt.Sprintf(`{"parent_id":%d}`, a["tenants"]), "parent_id"},
			{"PATCH", path("gateways", b["gateways"]), fmt.Sprintf(`{"tenant_id":%d}`, a["tenants"]), "tenant_id"},
		} {
			r := e.do(tc.method, tc.path, tr.tokB, tc.body)
			if r.code != http.StatusUnprocessableEntity && r.code != http.StatusForbidden {
				t.Errorf("%s %s %s by B: %d %s, want 422", tc.method, tc.path, tc.body, r.code, r.body)
			} else if r.code == http.StatusUnprocessableEntity {
				checkError(t, r, http.StatusUnprocessableEntity, codeInvalidRef, tc.field)
			}
		}
		// A tenant-admin may not touch the shared gateway.
		if r := e.do("PATCH", path("gateways", tr.sharedGW), tr.tokB, `{"description":"x"}`); r.code != http.StatusForbidden {
			t.Errorf("PATCH shared gateway by B: %d %s", r.code, r.body)
		}
		if r := e.do("DELETE", path("gateways", tr.sharedGW), tr.tokB, ""); r.code != http.StatusForbidden {
			t.Errorf("DELETE shared gateway by B: %d %s", r.code, r.body)
		}
		if after := e.snapshot(); after != before {
			t.Fatalf("the sibling changed the store:\nbefore %s\nafter  %s", before, after)
		}

		// Lists show only the caller's subtree (and shared gateways).
		for _, kind := range kinds {
			own := e.do("GET", "/api/v1/"+kind, tr.tokB, "").must(t, http.StatusOK).items(t)
			ids := idsOf(own)
			if !ids[b[kind]] || ids[a[kind]] {
				t.Errorf("B lists %s %v: want its own %d and not A's %d", kind, keys(ids), b[kind], a[kind])
			}
			for id := range ids {
				if !e.owns(tr.b.tenant, kind, id) {
					t.Errorf("B lists %s %d outside its subtree", kind, id)
				}
			}
			if n := len(e.do("GET", "/api/v1/"+kind+"?limit=1000", tr.tokB, "").must(t, http.StatusOK).items(t)); n == 0 {
				t.Errorf("B lists no %s", kind)
			}
		}
		// Filtering by the sibling's tenant finds nothing.
		for _, q := range []string{"accounts?tenant_id=%d", "domains?tenant_id=%d", "users?tenant_id=%d", "dids?tenant_id=%d", "tenants?parent_id=%d"} {
			if items := e.do("GET", "/api/v1/"+fmt.Sprintf(q, tr.a.tenant), tr.tokB, "").must(t, http.StatusOK).items(t); len(items) != 0 {
				t.Errorf("B lists %s of A: %v", q, items)
			}
		}
		if items := e.do("GET", "/api/v1/accounts?domain=a.example.com", tr.tokB, "").must(t, http.StatusOK).items(t); len(items) != 0 {
			t.Errorf("B lists accounts of A's domain by name: %v", items)
		}
		gws := idsOf(e.do("GET", "/api/v1/gateways", tr.tokB, "").must(t, http.StatusOK).items(t))
		if !gws[tr.sharedGW] {
			t.Error("B does not see the shared gateway")
		}

		// The parent sees and changes both children's objects.
		for _, side := range []string{"a", "b"} {
			for _, kind := range kinds {
				e.do("GET", path(kind, tr.objs[side][kind]), tr.tokR, "").must(t, http.StatusOK)
				if !idsOf(e.do("GET", "/api/v1/"+kind+"?limit=1000", tr.tokR, "").must(t, http.StatusOK).items(t))[tr.objs[side][kind]] {
					t.Errorf("root does not list %s %d of %s", kind, tr.objs[side][kind], side)
				}
			}
		}
		e.do("PATCH", path("accounts", a["accounts"]), tr.tokR, `{"description":"by the parent"}`).must(t, http.StatusOK)
		e.do("GET", path("tenants", tr.aSub), tr.tokR, "").must(t, http.StatusOK)
		// …but not the root tenant's siblings: there are none, and an
		// unrelated root tenant stays invisible.
		other := e.create("tenants", e.admin, `{"name":"other root"}`)
		e.do("GET", path("tenants", other), tr.tokR, "").must(t, http.StatusNotFound)

		// An admin may move a tenant: its subtree's scope follows.
		e.do("PATCH", path("tenants", tr.aSub), e.admin, fmt.Sprintf(`{"parent_id":%d}`, tr.b.tenant)).must(t, http.StatusOK)
		e.do("GET", path("tenants", tr.aSub), tr.tokB, "").must(t, http.StatusOK)
		e.do("GET", path("tenants", tr.aSub), tr.tokA, "").must(t, http.StatusNotFound)

		// The admin sees all.
		all := idsOf(e.do("GET", "/api/v1/tenants", e.admin, "").must(t, http.StatusOK).items(t))
		for _, id := range []int64{tr.root, tr.a.tenant, tr.b.tenant, tr.aSub, other} {
			if !all[id] {
				t.Errorf("admin does not list tenant %d", id)
			}
		}
	})
}

// owns reports whether object id of kind belongs to tenant's subtree (or
// is a shared gateway), asking the store directly.
func (e *env) owns(tenant int64, kind string, id int64) bool {
	e.t.Helper()
	r := e.do("GET", path(kind, id), e.admin, "")
	var owner any
	switch kind {
	case "tenants":
		if r.id() == tenant {
			return true
		}
		owner = r.m["parent_id"]
	default:
		owner = r.m["tenant_id"]
	}
	if owner == nil {
		return kind == "gateways"
	}
	o := int64(owner.(float64))
	if o == tenant {
		return true
	}
	return e.owns(tenant, "tenants", o)
}

func idsOf(items []map[string]any) map[int64]bool {
	out := map[int64]bool{}
	for _, it := range items {
		out[int64(it["id"].(float64))] = true
	}
	return out
}

func keys(m map[int64]bool) []int64 {
	var out []int64
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Registrations are scoped by domain: a tenant sees the phones of its
// subtree's domains only.
func TestRegistrations(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tr := e.tree()
		exp := time.Now().Add(time.Hour)
		feed := e.view.Feed("test")
		for _, r := range []presence.Registration{
			{User: "a-base", Domain: "a.example.com", Contact: "sip:a-base@10.0.0.1:5060", Address: "10.0.0.1:5060", Transport: "udp", Status: presence.ContactReachable, RTT: 12500 * time.Microsecond, Expires: exp},
			{User: "a-base", Domain: "a.example.com", Contact: "sip:a-base@10.0.0.2:5060", Address: "10.0.0.2:5060", Transport: "tcp", Status: presence.ContactUnknown, Expires: exp},
			{User: "b-base", Domain: "b.example.com", Contact: "sip:b-base@10.0.1.1:5060", Address: "10.0.1.1:5060", Transport: "udp", Status: presence.ContactReachable, Expires: exp},
			{User: "ghost", Domain: "unprovisioned.example", Contact: "sip:ghost@10.9.9.9", Transport: "udp", Status: presence.ContactReachable, Expires: exp},
		} {
			feed.PutRegistration(r)
		}
		e.view.Feed("other").PutRegistration(presence.Registration{User: "a-base", Domain: "a.example.com", Contact: "sip:a-base@10.0.0.3", Transport: "tls", Expires: exp})

		count := func(tok, query string) int {
			t.Helper()
			return len(e.do("GET", "/api/v1/registrations"+query, tok, "").must(t, http.StatusOK).items(t))
		}
		for _, tc := range []struct {
			who, tok, query string
			want            int
		}{
			{"admin", e.admin, "", 5},
			{"A", tr.tokA, "", 3},
			{"B", tr.tokB, "", 1},
			{"root", tr.tokR, "", 4},
			{"A asks for B's domain", tr.tokA, "?domain=b.example.com", 0},
			{"B asks for an unprovisioned domain", tr.tokB, "?domain=unprovisioned.example", 0},
			{"A by domain", tr.tokA, "?domain=A.Example.com", 3},
			{"A by user", tr.tokA, "?user=a-base", 3},
			{"A by switch", tr.tokA, "?switch=other", 1},
			{"admin by user", e.admin, "?user=ghost", 1},
		} {
			if got := count(tc.tok, tc.query); got != tc.want {
				t.Errorf("%s %s: %d registrations, want %d", tc.who, tc.query, got, tc.want)
			}
		}
		// A tenant without domains sees nothing, not everything.
		empty := e.create("tenants", e.admin, `{"name":"empty"}`)
		if got := count(e.token("empty", provisioning.RoleUser, &empty), ""); got != 0 {
			t.Errorf("a tenant without domains sees %d registrations", got)
		}

		// The fields of an item, and paging.
		r := e.do("GET", "/api/v1/registrations?limit=2&switch=test&domain=a.example.com", tr.tokA, "").must(t, http.StatusOK)
		items := r.items(t)
		if len(items) != 2 || items[0]["contact"] != "sip:a-base@10.0.0.1:5060" || items[0]["switch"] != "test" || items[0]["rtt_ms"] != 12.5 || items[0]["status"] != "reachable" {
			t.Errorf("registrations page: %s", r.body)
		}
		if r.m["next_cursor"] != "" {
			t.Errorf("a last page has a next_cursor: %s", r.body)
		}
		var all []map[string]any
		cursor := ""
		for range 10 {
			r := e.do("GET", "/api/v1/registrations?limit=1&cursor="+urlQuery(cursor), tr.tokA, "").must(t, http.StatusOK)
			all = append(all, r.items(t)...)
			if cursor, _ = r.m["next_cursor"].(string); cursor == "" {
				break
			}
		}
		if len(all) != 3 {
			t.Errorf("walking one by one: %d registrations, want 3", len(all))
		}
	})
}

// Gateway status joins the provisioned gateways in scope with presence;
// a gateway no switch reports is unknown.
func TestGatewayStatus(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tr := e.tree()
		s1, s2 := e.view.Feed("s1"), e.view.Feed("s2")
		s1.PutGateway(presence.Gateway{Name: "a-gw", State: presence.GatewayUp, Registration: presence.RegRegistered, Detail: "Reachable", RTT: 3 * time.Millisecond})
		s2.PutGateway(presence.Gateway{Name: "a-gw", State: presence.GatewayDown, Registration: presence.RegFailed, Detail: "Unreachable"})
		s2.PutGateway(presence.Gateway{Name: "b-gw", State: presence.GatewayDown, Registration: presence.RegUnknown})
		s1.PutGateway(presence.Gateway{Name: "unprovisioned-gw", State: presence.GatewayUp})

		byName := func(tok, query string) map[string]map[string]any {
			t.Helper()
			out := map[string]map[string]any{}
			for _, it := range e.do("GET", "/api/v1/gateways/status"+query, tok, "").must(t, http.StatusOK).items(t) {
				out[it["name"].(string)] = it
			}
			return out
		}
		a := byName(tr.tokA, "")
		if len(a) != 2 || a["a-gw"] == nil || a["shared-gw"] == nil {
			t.Fatalf("A's gateway status: %v", a)
		}
		if a["a-gw"]["state"] != "up" || len(a["a-gw"]["switches"].([]any)) != 2 {
			t.Errorf("a-gw: %v", jsonStr(a["a-gw"]))
		}
		sw := a["a-gw"]["switches"].([]any)[0].(map[string]any)
		if sw["switch"] != "s1" || sw["registration"] != "registered" || sw["rtt_ms"] != 3.0 || sw["detail"] != "Reachable" {
			t.Errorf("a-gw on s1: %v", sw)
		}
		if a["shared-gw"]["state"] != "unknown" || len(a["shared-gw"]["switches"].([]any)) != 0 {
			t.Errorf("shared-gw: %v", jsonStr(a["shared-gw"]))
		}
		if st := byName(tr.tokA, "?switch=s2")["a-gw"]["state"]; st != "down" {
			t.Errorf("a-gw on s2 = %v, want down", st)
		}
		b := byName(tr.tokB, "")
		if b["a-gw"] != nil || b["b-gw"]["state"] != "down" {
			t.Errorf("B's gateway status: %v", b)
		}
		all := byName(e.admin, "")
		if len(all) != 3 || all["unprovisioned-gw"] != nil {
			t.Errorf("admin's gateway status lists %d: %v", len(all), all)
		}
		if got := byName(e.admin, fmt.Sprintf("?tenant_id=%d", tr.a.tenant)); len(got) != 1 || got["a-gw"] == nil {
			t.Errorf("filter by tenant: %v", got)
		}
		// Paging.
		r := e.do("GET", "/api/v1/gateways/status?limit=2", e.admin, "").must(t, http.StatusOK)
		next, _ := r.m["next_cursor"].(string)
		if len(r.items(t)) != 2 || next == "" {
			t.Fatalf("first page: %s", r.body)
		}
		r = e.do("GET", "/api/v1/gateways/status?limit=2&cursor="+next, e.admin, "").must(t, http.StatusOK)
		if len(r.items(t)) != 1 || r.m["next_cursor"] != "" {
			t.Errorf("second page: %s", r.body)
		}
	})
}
