package provisioning_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// An out-of-scope domain looked up by ID must fail exactly like a missing
// one: ErrNotFound promises the two are indistinguishable, and the error
// must not reveal the name of another tenant's domain.
func TestOutOfScopeDomainErrorRevealsNothing(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		w := newTree(t, e)
		sc := e.scopeOf(t, provisioning.RoleTenantAdmin, w.A)
		for name, err := range map[string]error{
			"Domain":        second(e.svc.Domain(e.ctx, sc, w.dB.ID)),
			"UpdateDomain":  second(e.svc.UpdateDomain(e.ctx, sc, w.dB.ID, never[provisioning.Domain](t))),
			"DeleteDomain":  e.svc.DeleteDomain(e.ctx, sc, w.dB.ID),
			"CreateAccount": e.svc.CreateAccount(e.ctx, sc, &provisioning.Account{DomainID: w.dB.ID, Username: "x"}),
		} {
			if !errors.Is(err, provisioning.ErrNotFound) {
				t.Fatalf("%s: err = %v, want ErrNotFound", name, err)
			}
			if strings.Contains(err.Error(), w.dB.Name) {
				t.Errorf("%s of domain %d out of scope: error %q reveals its name", name, w.dB.ID, err)
			}
		}
	})
}

// A tenant-admin may not create admins nor promote anyone to admin; it must
// not be able to take over, demote or delete an admin of its subtree either.
func TestTenantAdminCannotChangeAdmins(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		w := newTree(t, e)
		boss := e.user(t, "boss", w.A1, provisioning.RoleAdmin)
		sc := e.scopeOf(t, provisioning.RoleTenantAdmin, w.A)
		for name, err := range map[string]error{
			"set password": second(e.svc.UpdateUser(e.ctx, sc, boss.ID, func(u *provisioning.User) error {
				return e.svc.SetPassword(u, "taken-over")
			})),
			"demote": second(e.svc.UpdateUser(e.ctx, sc, boss.ID, func(u *provisioning.User) error {
				u.Role = provisioning.RoleUser
				return nil
			})),
			"delete": e.svc.DeleteUser(e.ctx, sc, boss.ID),
		} {
			if !errors.Is(err, provisioning.ErrForbidden) {
				t.Errorf("%s of an admin by a tenant-admin: err = %v, want ErrForbidden", name, err)
			}
		}
	})
}

// An account's owner lives in the account's tenant or below it, so that
// whoever sees an account may see its owner's login, and a user who owns
// accounts cannot move away from them.
func TestAccountOwnerStaysInTheAccountsSubtree(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		a := e.tenant(t, "a", root)
		b := e.tenant(t, "b", root)
		child := e.tenant(t, "a-child", a)
		dA := e.domain(t, "a.example.com", a)
		alice := e.user(t, "alice", child, provisioning.RoleUser)
		bob := e.user(t, "bob", b, provisioning.RoleUser)

		own := &provisioning.Account{DomainID: dA.ID, Username: "1001", UserID: &alice.ID}
		must(t, e.svc.CreateAccount(e.ctx, admin, own))
		got, err := e.svc.Account(e.ctx, admin, own.ID)
		must(t, err)
		if got.UserLogin != "alice" {
			t.Errorf("UserLogin = %q, want alice", got.UserLogin)
		}
		foreign := &provisioning.Account{DomainID: dA.ID, Username: "1002", UserID: &bob.ID}
		err = e.svc.CreateAccount(e.ctx, admin, foreign)
		if fieldOf(err) != "user_id" {
			t.Errorf("owner from a sibling tenant: err = %v, want one naming user_id", err)
		}
		_, err = e.svc.UpdateUser(e.ctx, admin, alice.ID, func(u *provisioning.User) error { u.TenantID = b.ID; return nil })
		wantIs(t, err, provisioning.ErrConflict)
		if u, _ := e.svc.User(e.ctx, admin, alice.ID); u.TenantID != child.ID {
			t.Errorf("refused move changed the tenant to %d", u.TenantID)
		}
	})
}
