package provisioning_test

import (
	"errors"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestCreateNumberedAccount: the Service checks scope, role and owner
// before the store allocates, generates the secret, derives the HA1 from
// the number allocated, and tells the sinks.
func TestCreateNumberedAccount(t *testing.T) {
	r := provisioning.NumberRange{First: 1000, Last: 99_999_999}
	eachEngine(t, func(t *testing.T, e *env) {
		ta, tb := e.tenant(t, "a", nil), e.tenant(t, "b", nil)
		da, db := e.domain(t, "a.example", ta), e.domain(t, "b.example", tb)
		e.account(t, "99999999999999999999", da)
		ua, ub := e.user(t, "ua", ta, provisioning.RoleUser), e.user(t, "ub", tb, provisioning.RoleUser)
		scA := e.scopeOf(t, provisioning.RoleTenantAdmin, ta)
		e.sink.take()

		a := &provisioning.Account{DomainID: da.ID, UserID: &ua.ID, Username: "ignored", Description: "desk"}
		must(t, e.svc.CreateNumberedAccount(e.ctx, scA, a, r))
		if a.Username != "1000" || len(a.Secret) != 20 || a.HA1 != provisioning.HA1("1000", "a.example", a.Secret) || a.UserLogin != "ua" {
			t.Errorf("allocated %+v", a)
		}
		if cs := e.sink.take(); len(cs) != 1 || cs[0].Op != provisioning.OpUpsert || cs[0].Account.Username != "1000" {
			t.Errorf("sink got %+v", cs)
		}

		for _, c := range []struct {
			name string
			sc   provisioning.Scope
			a    provisioning.Account
			r    provisioning.NumberRange
			want error
		}{
			{"another tenant's domain", scA, provisioning.Account{DomainID: db.ID}, r, provisioning.ErrNotFound},
			{"an owner of another tenant", admin, provisioning.Account{DomainID: da.ID, UserID: &ub.ID}, r, provisioning.ErrInvalid},
			{"a read-only token", e.scopeOf(t, provisioning.RoleUser, ta), provisioning.Account{DomainID: da.ID}, r, provisioning.ErrForbidden},
			{"a bad secret", admin, provisioning.Account{DomainID: da.ID, Secret: "a b"}, r, provisioning.ErrInvalid},
			{"an empty range", admin, provisioning.Account{DomainID: da.ID}, provisioning.NumberRange{First: 5, Last: 4}, provisioning.ErrInvalid},
		} {
			if err := e.svc.CreateNumberedAccount(e.ctx, c.sc, &c.a, c.r); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		}
		if cs := e.sink.take(); len(cs) != 0 {
			t.Errorf("refusals reached the sink: %+v", cs)
		}
		as, err := e.svc.Accounts(e.ctx, admin, provisioning.AccountFilter{})
		must(t, err)
		if len(as) != 2 {
			t.Errorf("%d accounts, want 2", len(as))
		}
	})
}
