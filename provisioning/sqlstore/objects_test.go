package sqlstore_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// Each test below creates an object, reads it back by ID and by its natural
// key, changes every field, reads it again, deletes it and finds it gone.

func TestDomainRoundTrip(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		t1, t2 := tenant(t, s, "t1", nil), tenant(t, s, "t2", nil)
		d := domain(t, s, "sip.example.com", t1)
		if d.ID == 0 || d.CreatedAt.IsZero() || !d.UpdatedAt.Equal(d.CreatedAt) {
			t.Fatalf("create did not set ID and timestamps: %+v", d)
		}
		check := func() {
			t.Helper()
			got, err := s.Domain(ctx, d.ID)
			must(t, err)
			if !reflect.DeepEqual(got, d) {
				t.Errorf("Domain\n got %+v\nwant %+v", got, d)
			}
			got, err = s.DomainByName(ctx, d.Name)
			must(t, err)
			if !reflect.DeepEqual(got, d) {
				t.Errorf("DomainByName\n got %+v\nwant %+v", got, d)
			}
		}
		check()
		d.TenantID, d.Name, d.Description = t2.ID, "pbx.example.org", "moved"
		must(t, s.UpdateDomain(ctx, d))
		check()
		must(t, s.DeleteDomain(ctx, d.ID))
		_, err := s.Domain(ctx, d.ID)
		wantNotFound(t, err, "domain")
		_, err = s.DomainByName(ctx, d.Name)
		wantNotFound(t, err, "domain")
		wantNotFound(t, s.UpdateDomain(ctx, d), "domain")
		wantNotFound(t, s.DeleteDomain(ctx, d.ID), "domain")
		wantRef(t, s.CreateDomain(ctx, &provisioning.Domain{TenantID: 9999, Name: "x.example"}), "tenant_id")
	})
}

func TestUserRoundTrip(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		t1, t2 := tenant(t, s, "t1", nil), tenant(t, s, "t2", nil)
		u := user(t, s, "alice", t1)
		check := func() {
			t.Helper()
			got, err := s.User(ctx, u.ID)
			must(t, err)
			if !reflect.DeepEqual(got, u) {
				t.Errorf("User\n got %+v\nwant %+v", got, u)
			}
			got, err = s.UserByLogin(ctx, u.Login)
			must(t, err)
			if !reflect.DeepEqual(got, u) {
				t.Errorf("UserByLogin\n got %+v\nwant %+v", got, u)
			}
		}
		check()
		u.TenantID, u.Login, u.Email, u.FirstName, u.LastName = t2.ID, "alice2", "a@example.org", "Alice", "Ñandú"
		u.Role, u.PasswordHash = provisioning.RoleTenantAdmin, "$2a$04$other"
		must(t, s.UpdateUser(ctx, u))
		check()
		must(t, s.DeleteUser(ctx, u.ID))
		_, err := s.User(ctx, u.ID)
		wantNotFound(t, err, "user")
		_, err = s.UserByLogin(ctx, u.Login)
		wantNotFound(t, err, "user")
		wantNotFound(t, s.UpdateUser(ctx, u), "user")
		wantNotFound(t, s.DeleteUser(ctx, u.ID), "user")
	})
}

func TestAccountRoundTrip(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		t1 := tenant(t, s, "t1", nil)
		d := domain(t, s, "sip.example.com", t1)
		u := user(t, s, "alice", t1)
		a := account(t, s, "1001", d, u)
		if a.Domain != d.Name || a.TenantID != t1.ID {
			t.Fatalf("create did not fill Domain and TenantID: %+v", a)
		}
		check := func() {
			t.Helper()
			got, err := s.Account(ctx, a.ID)
			must(t, err)
			if !reflect.DeepEqual(got, a) {
				t.Errorf("Account\n got %+v\nwant %+v", got, a)
			}
			got, err = s.AccountByUsername(ctx, d.ID, a.Username)
			must(t, err)
			if !reflect.DeepEqual(got, a) {
				t.Errorf("AccountByUsername\n got %+v\nwant %+v", got, a)
			}
		}
		check()
		a.Username, a.Secret, a.HA1 = "1002", "new-secret", provisioning.HA1("1002", d.Name, "new-secret")
		a.CallerIDName, a.CallerIDNumber, a.Description, a.UserID = "Reception", "*98#", "front desk", nil
		must(t, s.UpdateAccount(ctx, a))
		check()
		_, err := s.AccountByUsername(ctx, d.ID, "1001")
		wantNotFound(t, err, "account")
		must(t, s.DeleteAccount(ctx, a.ID))
		_, err = s.Account(ctx, a.ID)
		wantNotFound(t, err, "account")
		wantNotFound(t, s.UpdateAccount(ctx, a), "account")
		wantNotFound(t, s.DeleteAccount(ctx, a.ID), "account")

		// References that do not exist name their field.
		bad := provisioning.Account{DomainID: 9999, Username: "x", Secret: "xxxx", HA1: "h"}
		wantRef(t, s.CreateAccount(ctx, &bad), "domain_id")
		bad = provisioning.Account{DomainID: d.ID, Username: "x", Secret: "xxxx", HA1: "h", UserID: ptr(int64(9999))}
		wantRef(t, s.CreateAccount(ctx, &bad), "user_id")
		if bad.ID != 0 {
			t.Errorf("failed create left ID %d", bad.ID)
		}
	})
}

func TestGatewayRoundTrip(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		t1 := tenant(t, s, "t1", nil)
		for _, owner := range []*provisioning.Tenant{nil, t1} {
			g := gateway(t, s, "carrier-"+map[bool]string{true: "shared", false: "own"}[owner == nil], owner)
			check := func() {
				t.Helper()
				got, err := s.Gateway(ctx, g.ID)
				must(t, err)
				if !reflect.DeepEqual(got, g) {
					t.Errorf("Gateway\n got %+v\nwant %+v", got, g)
				}
				got, err = s.GatewayByName(ctx, g.Name)
				must(t, err)
				if !reflect.DeepEqual(got, g) {
					t.Errorf("GatewayByName\n got %+v\nwant %+v", got, g)
				}
			}
			check()
			g.Name, g.Host, g.Port, g.Transport = g.Name+"-2", "2001:db8::1", 5061, provisioning.TransportTLS
			g.Username, g.Secret, g.Register, g.QualifySecs, g.Description = "", "", false, 0, ""
			if owner == nil {
				g.TenantID = ptr(t1.ID)
			} else {
				g.TenantID = nil
			}
			must(t, s.UpdateGateway(ctx, g))
			check()
			must(t, s.DeleteGateway(ctx, g.ID))
			_, err := s.Gateway(ctx, g.ID)
			wantNotFound(t, err, "gateway")
			_, err = s.GatewayByName(ctx, g.Name)
			wantNotFound(t, err, "gateway")
			wantNotFound(t, s.UpdateGateway(ctx, g), "gateway")
			wantNotFound(t, s.DeleteGateway(ctx, g.ID), "gateway")
		}
	})
}

func TestDIDRoundTrip(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		t1, t2 := tenant(t, s, "t1", nil), tenant(t, s, "t2", nil)
		a := account(t, s, "1001", domain(t, s, "sip.example.com", t1), nil)
		n := did(t, s, "+493012345678", t1, nil)
		check := func() {
			t.Helper()
			got, err := s.DID(ctx, n.ID)
			must(t, err)
			if !reflect.DeepEqual(got, n) {
				t.Errorf("DID\n got %+v\nwant %+v", got, n)
			}
			got, err = s.DIDByNumber(ctx, n.Number)
			must(t, err)
			if !reflect.DeepEqual(got, n) {
				t.Errorf("DIDByNumber\n got %+v\nwant %+v", got, n)
			}
		}
		check()
		n.AccountID, n.Description = ptr(a.ID), "main line"
		must(t, s.UpdateDID(ctx, n))
		check()
		n.TenantID, n.Number, n.AccountID = t2.ID, "+14155550100", nil
		must(t, s.UpdateDID(ctx, n))
		check()
		must(t, s.DeleteDID(ctx, n.ID))
		_, err := s.DID(ctx, n.ID)
		wantNotFound(t, err, "did")
		_, err = s.DIDByNumber(ctx, n.Number)
		wantNotFound(t, err, "did")
		wantNotFound(t, s.UpdateDID(ctx, n), "did")
		wantNotFound(t, s.DeleteDID(ctx, n.ID), "did")
		wantRef(t, s.CreateDID(ctx, &provisioning.DID{TenantID: t1.ID, Number: "+4930999999", AccountID: ptr(int64(9999))}), "account_id")
		wantRef(t, s.CreateDID(ctx, &provisioning.DID{TenantID: 9999, Number: "+4930999999"}), "tenant_id")
	})
}

func TestTokenRoundTrip(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		t1 := tenant(t, s, "t1", nil)
		admin := &provisioning.Token{Name: "ops", Role: provisioning.RoleAdmin, Hash: provisioning.HashToken("a")}
		scoped := &provisioning.Token{Name: "crm", Role: provisioning.RoleTenantAdmin, TenantID: ptr(t1.ID), Hash: provisioning.HashToken("b")}
		must(t, s.CreateToken(ctx, admin))
		must(t, s.CreateToken(ctx, scoped))
		for _, tok := range []*provisioning.Token{admin, scoped} {
			got, err := s.TokenByHash(ctx, tok.Hash)
			must(t, err)
			if !reflect.DeepEqual(got, tok) {
				t.Errorf("TokenByHash\n got %+v\nwant %+v", got, tok)
			}
		}
		must(t, s.RevokeToken(ctx, scoped.ID))
		got, err := s.TokenByHash(ctx, scoped.Hash)
		must(t, err)
		if got.RevokedAt == nil || got.RevokedAt.Before(got.CreatedAt) {
			t.Fatalf("revoked token has RevokedAt %v", got.RevokedAt)
		}
		first := *got.RevokedAt
		must(t, s.RevokeToken(ctx, scoped.ID)) // idempotent, keeps the first time
		got, err = s.TokenByHash(ctx, scoped.Hash)
		must(t, err)
		if !got.RevokedAt.Equal(first) {
			t.Errorf("second revoke moved RevokedAt from %v to %v", first, got.RevokedAt)
		}
		all, err := s.Tokens(ctx, provisioning.Page{})
		must(t, err)
		if g, w := ids(all, func(t provisioning.Token) int64 { return t.ID }), []int64{admin.ID, scoped.ID}; !reflect.DeepEqual(g, w) {
			t.Errorf("Tokens = %v, want %v", g, w)
		}
		_, err = s.TokenByHash(ctx, provisioning.HashToken("nope"))
		wantNotFound(t, err, "token")
		wantNotFound(t, s.RevokeToken(ctx, 9999), "token")
		wantRef(t, s.CreateToken(ctx, &provisioning.Token{Name: "x", Role: provisioning.RoleUser, TenantID: ptr(int64(9999)), Hash: "h"}), "tenant_id")
	})
}

func TestUniqueViolations(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		t1 := tenant(t, s, "t1", nil)
		d1, d2 := domain(t, s, "one.example", t1), domain(t, s, "two.example", t1)
		u1, u2 := user(t, s, "alice", t1), user(t, s, "bob", t1)
		a1, a2 := account(t, s, "100", d1, nil), account(t, s, "101", d1, nil)
		account(t, s, "100", d2, nil) // the same username in another domain is fine
		g1, g2 := gateway(t, s, "gw1", nil), gateway(t, s, "gw2", t1)
		n1, n2 := did(t, s, "+4930100000", t1, nil), did(t, s, "+4930200000", t1, nil)
		must(t, s.CreateToken(ctx, &provisioning.Token{Name: "x", Role: provisioning.RoleAdmin, Hash: "h1"}))

		for _, tc := range []struct {
			name  string
			err   func() error
			field string
		}{
			{"create domain", func() error { return s.CreateDomain(ctx, &provisioning.Domain{TenantID: t1.ID, Name: d1.Name}) }, "name"},
			{"rename domain", func() error { d := *d2; d.Name = d1.Name; return s.UpdateDomain(ctx, &d) }, "name"},
			{"create user", func() error {
				return s.CreateUser(ctx, &provisioning.User{TenantID: t1.ID, Login: u1.Login, Role: provisioning.RoleUser, PasswordHash: "x"})
			}, "login"},
			{"rename user", func() error { u := *u2; u.Login = u1.Login; return s.UpdateUser(ctx, &u) }, "login"},
			{"create account", func() error {
				return s.CreateAccount(ctx, &provisioning.Account{DomainID: d1.ID, Username: a1.Username, Secret: "xxxx", HA1: "h"})
			}, "username"},
			{"rename account", func() error { a := *a2; a.Username = a1.Username; return s.UpdateAccount(ctx, &a) }, "username"},
			{"bulk accounts", func() error {
				return s.BulkCreateAccounts(ctx, []provisioning.Account{{DomainID: d1.ID, Username: "new", Secret: "xxxx", HA1: "h"},
					{DomainID: d1.ID, Username: a1.Username, Secret: "xxxx", HA1: "h"}})
			}, "username"},
			{"create gateway", func() error {
				return s.CreateGateway(ctx, &provisioning.Gateway{Name: g1.Name, Host: "h", Port: 5060, Transport: "udp"})
			}, "name"},
			{"rename gateway", func() error { g := *g2; g.Name = g1.Name; return s.UpdateGateway(ctx, &g) }, "name"},
			{"create DID", func() error { return s.CreateDID(ctx, &provisioning.DID{TenantID: t1.ID, Number: n1.Number}) }, "number"},
			{"renumber DID", func() error { n := *n2; n.Number = n1.Number; return s.UpdateDID(ctx, &n) }, "number"},
			{"create token", func() error {
				return s.CreateToken(ctx, &provisioning.Token{Name: "y", Role: provisioning.RoleAdmin, Hash: "h1"})
			}, "hash"},
		} {
			t.Run(tc.name, func(t *testing.T) { wantConflict(t, tc.err(), tc.field) })
		}

		// Nothing of the failed writes is visible.
		accts, err := s.Accounts(ctx, provisioning.AccountFilter{DomainID: d1.ID})
		must(t, err)
		if len(accts) != 2 {
			t.Errorf("domain 1 has %d accounts after refused writes, want 2", len(accts))
		}
		if got, _ := s.Domain(ctx, d2.ID); got.Name != d2.Name {
			t.Errorf("refused rename changed domain 2 to %q", got.Name)
		}
	})
}

func TestRefusedDeletes(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		root := tenant(t, s, "root", nil)
		tenant(t, s, "sub", root)
		d1, d2 := domain(t, s, "one.example", root), domain(t, s, "two.example", root)
		u := user(t, s, "alice", root)
		a := account(t, s, "100", d1, u)
		account(t, s, "101", d1, u)
		gateway(t, s, "gw", root)
		did(t, s, "+4930100000", root, a)
		must(t, s.CreateToken(ctx, &provisioning.Token{Name: "x", Role: provisioning.RoleUser, TenantID: ptr(root.ID), Hash: "h1"}))
		_ = d2

		for _, tc := range []struct {
			name   string
			del    func() error
			reason string
			still  func() error
		}{
			{"tenant", func() error { return s.DeleteTenant(ctx, root.ID) },
				"tenant " + itoa(root.ID) + " still has 1 sub-tenant, 2 domains, 1 user, 1 gateway, 1 DID, 1 active token",
				func() error { _, err := s.Tenant(ctx, root.ID); return err }},
			{"domain", func() error { return s.DeleteDomain(ctx, d1.ID) },
				"domain " + itoa(d1.ID) + " still has 2 SIP accounts",
				func() error { _, err := s.Domain(ctx, d1.ID); return err }},
			{"user", func() error { return s.DeleteUser(ctx, u.ID) },
				"user " + itoa(u.ID) + " still owns 2 SIP accounts",
				func() error { _, err := s.User(ctx, u.ID); return err }},
			{"account", func() error { return s.DeleteAccount(ctx, a.ID) },
				"account " + itoa(a.ID) + " still has 1 DID routed to it",
				func() error { _, err := s.Account(ctx, a.ID); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ce := wantConflict(t, tc.del(), "")
				if ce.Reason != tc.reason {
					t.Errorf("reason %q, want %q", ce.Reason, tc.reason)
				}
				if err := tc.still(); err != nil {
					t.Errorf("refused delete removed the object: %v", err)
				}
			})
		}
		// The empty domain goes.
		must(t, s.DeleteDomain(ctx, d2.ID))
	})
}

func TestDeleteTenantTakesRevokedTokens(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		tn := tenant(t, s, "t", nil)
		tok := &provisioning.Token{Name: "x", Role: provisioning.RoleUser, TenantID: ptr(tn.ID), Hash: "h1"}
		must(t, s.CreateToken(ctx, tok))
		wantConflict(t, s.DeleteTenant(ctx, tn.ID), "")
		must(t, s.RevokeToken(ctx, tok.ID))
		must(t, s.DeleteTenant(ctx, tn.ID))
		_, err := s.TokenByHash(ctx, tok.Hash)
		wantNotFound(t, err, "token")
	})
}
