package provisioning_test

import (
	"errors"
	"reflect"
	"sort"
	"strconv"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// tree is the customer tree of the scope tests:
//
//	R ─┬─ A ── A1
//	   └─ B
//
// with a domain, user, account, gateway and DID in A1 and in B, and a
// shared gateway.
type tree struct {
	R, A, A1, B     *provisioning.Tenant
	dA1, dB         *provisioning.Domain
	uA1, uB, adminB *provisioning.User
	aA1, aB         *provisioning.Account
	gA1, gB, gShare *provisioning.Gateway
	nA1, nB         *provisioning.DID
}

func newTree(t *testing.T, e *env) *tree {
	w := &tree{}
	w.R = e.tenant(t, "R", nil)
	w.A = e.tenant(t, "A", w.R)
	w.A1 = e.tenant(t, "A1", w.A)
	w.B = e.tenant(t, "B", w.R)
	w.dA1, w.dB = e.domain(t, "a1.example", w.A1), e.domain(t, "b.example", w.B)
	w.uA1, w.uB = e.user(t, "ua1", w.A1, provisioning.RoleUser), e.user(t, "ub", w.B, provisioning.RoleUser)
	w.adminB = e.user(t, "admin-b", w.B, provisioning.RoleAdmin)
	w.aA1, w.aB = e.account(t, "100", w.dA1), e.account(t, "100", w.dB)
	w.gA1, w.gB, w.gShare = e.gateway(t, "gw-a1", w.A1), e.gateway(t, "gw-b", w.B), e.gateway(t, "shared", nil)
	w.nA1, w.nB = e.did(t, "+4930111111", w.A1, w.aA1), e.did(t, "+4940111111", w.B, w.aB)
	e.sink.take()
	return w
}

// scopeOf authenticates a fresh token of role for tenant, so the scope is
// exactly what the API layer would pass.
func (e *env) scopeOf(t *testing.T, role provisioning.Role, tenant *provisioning.Tenant) provisioning.Scope {
	t.Helper()
	secret, _, err := e.svc.CreateToken(e.ctx, string(role)+" of "+tenant.Name, role, ptr(tenant.ID))
	must(t, err)
	sc, _, err := e.svc.Authenticate(e.ctx, secret)
	must(t, err)
	return sc
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

// never is an update function that must not run: the object is out of
// scope and should not even have been loaded.
func never[T any](t *testing.T) func(*T) error {
	return func(*T) error {
		t.Error("update function called for an object out of scope")
		return errors.New("must not be called")
	}
}

func TestTenantAdminSeesOnlyItsSubtree(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		w := newTree(t, e)
		sc := e.scopeOf(t, provisioning.RoleTenantAdmin, w.A)
		if sc.Role != provisioning.RoleTenantAdmin || sc.TenantID != w.A.ID || sc.Path != w.A.Path {
			t.Fatalf("scope = %+v", sc)
		}

		// Its own subtree is visible.
		for _, err := range []error{
			second(e.svc.Tenant(e.ctx, sc, w.A1.ID)),
			second(e.svc.Domain(e.ctx, sc, w.dA1.ID)),
			second(e.svc.User(e.ctx, sc, w.uA1.ID)),
			second(e.svc.Account(e.ctx, sc, w.aA1.ID)),
			second(e.svc.AccountByUsername(e.ctx, sc, "A1.EXAMPLE", "100")),
			second(e.svc.Gateway(e.ctx, sc, w.gA1.ID)),
			second(e.svc.Gateway(e.ctx, sc, w.gShare.ID)), // shared: visible to all
			second(e.svc.DID(e.ctx, sc, w.nA1.ID)),
		} {
			must(t, err)
		}

		// The sibling's objects and the parent are not, by ID or by name.
		for name, err := range map[string]error{
			"parent tenant":       second(e.svc.Tenant(e.ctx, sc, w.R.ID)),
			"sibling tenant":      second(e.svc.Tenant(e.ctx, sc, w.B.ID)),
			"domain":              second(e.svc.Domain(e.ctx, sc, w.dB.ID)),
			"domain by name":      second(e.svc.DomainByName(e.ctx, sc, w.dB.Name)),
			"user":                second(e.svc.User(e.ctx, sc, w.uB.ID)),
			"user by login":       second(e.svc.UserByLogin(e.ctx, sc, w.uB.Login)),
			"account":             second(e.svc.Account(e.ctx, sc, w.aB.ID)),
			"account by username": second(e.svc.AccountByUsername(e.ctx, sc, w.dB.Name, w.aB.Username)),
			"gateway":             second(e.svc.Gateway(e.ctx, sc, w.gB.ID)),
			"gateway by name":     second(e.svc.GatewayByName(e.ctx, sc, w.gB.Name)),
			"DID":                 second(e.svc.DID(e.ctx, sc, w.nB.ID)),
			"DID by number":       second(e.svc.DIDByNumber(e.ctx, sc, w.nB.Number)),
		} {
			if !errors.Is(err, provisioning.ErrNotFound) {
				t.Errorf("%s of sibling: err = %v, want ErrNotFound", name, err)
			}
		}

		// Lists hold the subtree only (and shared gateways).
		lists := map[string][2][]int64{}
		tl, err := e.svc.Tenants(e.ctx, sc, provisioning.TenantFilter{})
		must(t, err)
		lists["tenants"] = [2][]int64{idsOf(tl, func(x provisioning.Tenant) int64 { return x.ID }), {w.A.ID, w.A1.ID}}
		dl, err := e.svc.Domains(e.ctx, sc, provisioning.DomainFilter{})
		must(t, err)
		lists["domains"] = [2][]int64{idsOf(dl, func(x provisioning.Domain) int64 { return x.ID }), {w.dA1.ID}}
		ul, err := e.svc.Users(e.ctx, sc, provisioning.UserFilter{})
		must(t, err)
		lists["users"] = [2][]int64{idsOf(ul, func(x provisioning.User) int64 { return x.ID }), {w.uA1.ID}}
		al, err := e.svc.Accounts(e.ctx, sc, provisioning.AccountFilter{})
		must(t, err)
		lists["accounts"] = [2][]int64{idsOf(al, func(x provisioning.Account) int64 { return x.ID }), {w.aA1.ID}}
		al, err = e.svc.Accounts(e.ctx, sc, provisioning.AccountFilter{DomainID: w.dB.ID})
		must(t, err)
		lists["accounts of sibling domain"] = [2][]int64{idsOf(al, func(x provisioning.Account) int64 { return x.ID }), {}}
		gl, err := e.svc.Gateways(e.ctx, sc, provisioning.GatewayFilter{})
		must(t, err)
		lists["gateways"] = [2][]int64{idsOf(gl, func(x provisioning.Gateway) int64 { return x.ID }), sorted(w.gA1.ID, w.gShare.ID)}
		nl, err := e.svc.DIDs(e.ctx, sc, provisioning.DIDFilter{})
		must(t, err)
		lists["DIDs"] = [2][]int64{idsOf(nl, func(x provisioning.DID) int64 { return x.ID }), {w.nA1.ID}}
		for name, l := range lists {
			if !reflect.DeepEqual(l[0], l[1]) {
				t.Errorf("%s listed %v, want %v", name, l[0], l[1])
			}
		}
	})
}

func TestTenantAdminCannotTouchSibling(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		w := newTree(t, e)
		sc := e.scopeOf(t, provisioning.RoleTenantAdmin, w.A)
		snapshot := func() []any {
			t.Helper()
			var out []any
			for _, v := range []any{
				first(e.svc.Tenant(e.ctx, admin, w.B.ID)), first(e.svc.Domain(e.ctx, admin, w.dB.ID)),
				first(e.svc.User(e.ctx, admin, w.uB.ID)), first(e.svc.Account(e.ctx, admin, w.aB.ID)),
				first(e.svc.Gateway(e.ctx, admin, w.gB.ID)), first(e.svc.DID(e.ctx, admin, w.nB.ID)),
				first(e.svc.Tenant(e.ctx, admin, w.A1.ID)),
			} {
				if reflect.ValueOf(v).IsNil() {
					t.Fatal("sibling object vanished")
				}
				out = append(out, v)
			}
			return out
		}
		before := snapshot()

		for name, err := range map[string]error{
			"update tenant":   second(e.svc.UpdateTenant(e.ctx, sc, w.B.ID, never[provisioning.Tenant](t))),
			"update domain":   second(e.svc.UpdateDomain(e.ctx, sc, w.dB.ID, never[provisioning.Domain](t))),
			"update user":     second(e.svc.UpdateUser(e.ctx, sc, w.uB.ID, never[provisioning.User](t))),
			"update account":  second(e.svc.UpdateAccount(e.ctx, sc, w.aB.ID, never[provisioning.Account](t))),
			"update gateway":  second(e.svc.UpdateGateway(e.ctx, sc, w.gB.ID, never[provisioning.Gateway](t))),
			"update DID":      second(e.svc.UpdateDID(e.ctx, sc, w.nB.ID, never[provisioning.DID](t))),
			"delete tenant":   e.svc.DeleteTenant(e.ctx, sc, w.B.ID),
			"delete parent":   e.svc.DeleteTenant(e.ctx, sc, w.R.ID),
			"delete domain":   e.svc.DeleteDomain(e.ctx, sc, w.dB.ID),
			"delete user":     e.svc.DeleteUser(e.ctx, sc, w.uB.ID),
			"delete account":  e.svc.DeleteAccount(e.ctx, sc, w.aB.ID),
			"delete gateway":  e.svc.DeleteGateway(e.ctx, sc, w.gB.ID),
			"delete DID":      e.svc.DeleteDID(e.ctx, sc, w.nB.ID),
			"tenant under B":  e.svc.CreateTenant(e.ctx, sc, &provisioning.Tenant{Name: "x", ParentID: ptr(w.B.ID)}),
			"domain in B":     e.svc.CreateDomain(e.ctx, sc, &provisioning.Domain{TenantID: w.B.ID, Name: "x.example"}),
			"user in B":       e.svc.CreateUser(e.ctx, sc, &provisioning.User{TenantID: w.B.ID, Login: "x"}, "password"),
			"account in B":    e.svc.CreateAccount(e.ctx, sc, &provisioning.Account{DomainID: w.dB.ID, Username: "x"}),
			"account by name": e.svc.CreateAccount(e.ctx, sc, &provisioning.Account{Domain: w.dB.Name, Username: "x"}),
			"gateway in B":    e.svc.CreateGateway(e.ctx, sc, &provisioning.Gateway{TenantID: ptr(w.B.ID), Name: "x", Host: "h.example"}),
			"DID in B":        e.svc.CreateDID(e.ctx, sc, &provisioning.DID{TenantID: w.B.ID, Number: "+4950111111"}),
			"DID to B's account": e.svc.CreateDID(e.ctx, sc, &provisioning.DID{TenantID: w.A1.ID, Number: "+4950111111",
				AccountID: ptr(w.aB.ID)}),
			"account owned by B's user": e.svc.CreateAccount(e.ctx, sc, &provisioning.Account{DomainID: w.dA1.ID, Username: "x",
				UserID: ptr(w.uB.ID)}),
			"move A1 under B": second(e.svc.UpdateTenant(e.ctx, sc, w.A1.ID, func(x *provisioning.Tenant) error {
				x.ParentID = ptr(w.B.ID)
				return nil
			})),
			"move own DID to B": second(e.svc.UpdateDID(e.ctx, sc, w.nA1.ID, func(x *provisioning.DID) error {
				x.TenantID = w.B.ID
				return nil
			})),
		} {
			if !errors.Is(err, provisioning.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", name, err)
			}
		}
		if after := snapshot(); !reflect.DeepEqual(after, before) {
			t.Errorf("sibling objects changed:\n%+v\nwere\n%+v", after, before)
		}
		if ch := e.sink.take(); len(ch) != 0 {
			t.Errorf("refused changes reached the sink: %+v", ch)
		}
	})
}

func TestTenantAdminLimits(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		w := newTree(t, e)
		sc := e.scopeOf(t, provisioning.RoleTenantAdmin, w.A)

		// It may create below its tenant, and change its subtree.
		sub := &provisioning.Tenant{Name: "A2", ParentID: ptr(w.A.ID)}
		must(t, e.svc.CreateTenant(e.ctx, sc, sub))
		must(t, e.svc.CreateUser(e.ctx, sc, &provisioning.User{TenantID: w.A1.ID, Login: "helper", Role: provisioning.RoleTenantAdmin}, "password"))
		moved, err := e.svc.UpdateTenant(e.ctx, sc, w.A1.ID, func(x *provisioning.Tenant) error { x.ParentID = ptr(sub.ID); return nil })
		must(t, err)
		if moved.Path != sub.Path+itoa(w.A1.ID)+"/" {
			t.Errorf("moved path %q under %q", moved.Path, sub.Path)
		}
		must(t, second(e.svc.UpdateGateway(e.ctx, sc, w.gA1.ID, func(x *provisioning.Gateway) error { x.Port = 5080; return nil })))

		before := e.counts(t)
		for name, c := range map[string]struct {
			err  error
			want error
		}{
			"create admin": {e.svc.CreateUser(e.ctx, sc, &provisioning.User{TenantID: w.A1.ID, Login: "boss", Role: provisioning.RoleAdmin}, "password"),
				provisioning.ErrForbidden},
			"promote to admin": {second(e.svc.UpdateUser(e.ctx, sc, w.uA1.ID, func(x *provisioning.User) error {
				x.Role = provisioning.RoleAdmin
				return nil
			})), provisioning.ErrForbidden},
			"create shared gateway": {e.svc.CreateGateway(e.ctx, sc, &provisioning.Gateway{Name: "mine", Host: "h.example"}),
				provisioning.ErrForbidden},
			"share own gateway": {second(e.svc.UpdateGateway(e.ctx, sc, w.gA1.ID, func(x *provisioning.Gateway) error {
				x.TenantID = nil
				return nil
			})), provisioning.ErrForbidden},
			"update shared gateway": {second(e.svc.UpdateGateway(e.ctx, sc, w.gShare.ID, never[provisioning.Gateway](t))),
				provisioning.ErrForbidden},
			"delete shared gateway": {e.svc.DeleteGateway(e.ctx, sc, w.gShare.ID), provisioning.ErrForbidden},
			"create root tenant":    {e.svc.CreateTenant(e.ctx, sc, &provisioning.Tenant{Name: "root"}), provisioning.ErrForbidden},
			"delete own tenant":     {e.svc.DeleteTenant(e.ctx, sc, w.A.ID), provisioning.ErrForbidden},
			"move own tenant": {second(e.svc.UpdateTenant(e.ctx, sc, w.A.ID, func(x *provisioning.Tenant) error {
				x.ParentID = ptr(w.A1.ID)
				return nil
			})), provisioning.ErrForbidden},
			"make sub-tenant a root": {second(e.svc.UpdateTenant(e.ctx, sc, w.A1.ID, func(x *provisioning.Tenant) error {
				x.ParentID = nil
				return nil
			})), provisioning.ErrForbidden},
		} {
			if !errors.Is(c.err, c.want) {
				t.Errorf("%s: err = %v, want %v", name, c.err, c.want)
			}
		}
		if after := e.counts(t); after != before {
			t.Errorf("refused operations changed the store: %v, were %v", after, before)
		}
		g, err := e.svc.Gateway(e.ctx, admin, w.gA1.ID)
		must(t, err)
		if g.TenantID == nil || *g.TenantID != w.A1.ID {
			t.Errorf("tenant gateway became %v", g.TenantID)
		}
		u, err := e.svc.User(e.ctx, admin, w.uA1.ID)
		must(t, err)
		if u.Role != provisioning.RoleUser {
			t.Errorf("user role became %q", u.Role)
		}
	})
}

func TestUserScopeIsReadOnly(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		w := newTree(t, e)
		sc := e.scopeOf(t, provisioning.RoleUser, w.A1)
		// Reads of its tenant work.
		must(t, second(e.svc.Account(e.ctx, sc, w.aA1.ID)))
		must(t, second(e.svc.Domain(e.ctx, sc, w.dA1.ID)))
		l, err := e.svc.Accounts(e.ctx, sc, provisioning.AccountFilter{})
		must(t, err)
		if len(l) != 1 || l[0].ID != w.aA1.ID {
			t.Errorf("user scope lists %v", l)
		}
		before := e.counts(t)
		ok := func(*provisioning.Tenant) error { return nil }
		for name, err := range map[string]error{
			"create tenant":  e.svc.CreateTenant(e.ctx, sc, &provisioning.Tenant{Name: "x", ParentID: ptr(w.A1.ID)}),
			"update tenant":  second(e.svc.UpdateTenant(e.ctx, sc, w.A1.ID, ok)),
			"delete tenant":  e.svc.DeleteTenant(e.ctx, sc, w.A1.ID),
			"create domain":  e.svc.CreateDomain(e.ctx, sc, &provisioning.Domain{TenantID: w.A1.ID, Name: "x.example"}),
			"update domain":  second(e.svc.UpdateDomain(e.ctx, sc, w.dA1.ID, never[provisioning.Domain](t))),
			"delete domain":  e.svc.DeleteDomain(e.ctx, sc, w.dA1.ID),
			"create user":    e.svc.CreateUser(e.ctx, sc, &provisioning.User{TenantID: w.A1.ID, Login: "x"}, "password"),
			"update user":    second(e.svc.UpdateUser(e.ctx, sc, w.uA1.ID, never[provisioning.User](t))),
			"delete user":    e.svc.DeleteUser(e.ctx, sc, w.uA1.ID),
			"create account": e.svc.CreateAccount(e.ctx, sc, &provisioning.Account{DomainID: w.dA1.ID, Username: "x"}),
			"update account": second(e.svc.UpdateAccount(e.ctx, sc, w.aA1.ID, never[provisioning.Account](t))),
			"delete account": e.svc.DeleteAccount(e.ctx, sc, w.aA1.ID),
			"create gateway": e.svc.CreateGateway(e.ctx, sc, &provisioning.Gateway{TenantID: ptr(w.A1.ID), Name: "x", Host: "h.example"}),
			"update gateway": second(e.svc.UpdateGateway(e.ctx, sc, w.gA1.ID, never[provisioning.Gateway](t))),
			"delete gateway": e.svc.DeleteGateway(e.ctx, sc, w.gA1.ID),
			"create DID":     e.svc.CreateDID(e.ctx, sc, &provisioning.DID{TenantID: w.A1.ID, Number: "+4950111111"}),
			"update DID":     second(e.svc.UpdateDID(e.ctx, sc, w.nA1.ID, never[provisioning.DID](t))),
			"delete DID":     e.svc.DeleteDID(e.ctx, sc, w.nA1.ID),
		} {
			if !errors.Is(err, provisioning.ErrForbidden) {
				t.Errorf("%s: err = %v, want ErrForbidden", name, err)
			}
		}
		if after := e.counts(t); after != before {
			t.Errorf("read-only scope changed the store: %v, were %v", after, before)
		}
		if ch := e.sink.take(); len(ch) != 0 {
			t.Errorf("read-only scope reached the sink: %+v", ch)
		}
	})
}

func first[T any](v T, _ error) T { return v }

func second[T any](_ T, err error) error { return err }

func idsOf[T any](items []T, id func(T) int64) []int64 {
	out := []int64{}
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func sorted(v ...int64) []int64 {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
