package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// newStore migrates db and returns a store over it.
func newStore(t *testing.T, db *sqldb.DB) *sqlstore.Store {
	t.Helper()
	if err := sqlstore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return sqlstore.New(db)
}

func ptr[T any](v T) *T { return &v }

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tenant creates a tenant called name under parent (nil for a root).
func tenant(t *testing.T, s *sqlstore.Store, name string, parent *provisioning.Tenant) *provisioning.Tenant {
	t.Helper()
	tn := &provisioning.Tenant{Name: name}
	if parent != nil {
		tn.ParentID = ptr(parent.ID)
	}
	must(t, s.CreateTenant(context.Background(), tn))
	return tn
}

func domain(t *testing.T, s *sqlstore.Store, name string, owner *provisioning.Tenant) *provisioning.Domain {
	t.Helper()
	d := &provisioning.Domain{TenantID: owner.ID, Name: name, Description: "domain " + name}
	must(t, s.CreateDomain(context.Background(), d))
	return d
}

func user(t *testing.T, s *sqlstore.Store, login string, owner *provisioning.Tenant) *provisioning.User {
	t.Helper()
	u := &provisioning.User{TenantID: owner.ID, Login: login, Email: login + "@Example.com", FirstName: "First",
		LastName: "Last", Role: provisioning.RoleUser, PasswordHash: "$2a$04$hash"}
	must(t, s.CreateUser(context.Background(), u))
	return u
}

func account(t *testing.T, s *sqlstore.Store, username string, d *provisioning.Domain, owner *provisioning.User) *provisioning.Account {
	t.Helper()
	a := &provisioning.Account{DomainID: d.ID, Username: username, Secret: "s3cret-" + username,
		HA1: provisioning.HA1(username, d.Name, "s3cret-"+username), CallerIDName: "CID " + username,
		CallerIDNumber: "+4930123", Description: "account " + username}
	if owner != nil {
		a.UserID = ptr(owner.ID)
	}
	must(t, s.CreateAccount(context.Background(), a))
	return a
}

func gateway(t *testing.T, s *sqlstore.Store, name string, owner *provisioning.Tenant) *provisioning.Gateway {
	t.Helper()
	g := &provisioning.Gateway{Name: name, Host: "sip.example.net", Port: 5060, Transport: provisioning.TransportUDP,
		Username: "trunk", Secret: "trunk-secret", Register: true, QualifySecs: 30, Description: "gw " + name}
	if owner != nil {
		g.TenantID = ptr(owner.ID)
	}
	must(t, s.CreateGateway(context.Background(), g))
	return g
}

func did(t *testing.T, s *sqlstore.Store, number string, owner *provisioning.Tenant, to *provisioning.Account) *provisioning.DID {
	t.Helper()
	d := &provisioning.DID{TenantID: owner.ID, Number: number, Description: "did " + number}
	if to != nil {
		d.AccountID = ptr(to.ID)
	}
	must(t, s.CreateDID(context.Background(), d))
	return d
}

// wantNotFound fails unless err is a *provisioning.NotFoundError of kind.
func wantNotFound(t *testing.T, err error, kind string) {
	t.Helper()
	var nf *provisioning.NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("err = %v, want a NotFoundError", err)
	}
	if nf.Kind != kind {
		t.Fatalf("NotFoundError kind = %q, want %q (%v)", nf.Kind, kind, err)
	}
}

// wantConflict fails unless err is a *provisioning.ConflictError on field
// and returns it.
func wantConflict(t *testing.T, err error, field string) *provisioning.ConflictError {
	t.Helper()
	var ce *provisioning.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, provisioning.ErrConflict) {
		t.Fatalf("err = %v, want a ConflictError", err)
	}
	if ce.Field != field {
		t.Fatalf("ConflictError field = %q, want %q (%v)", ce.Field, field, err)
	}
	return ce
}

// wantRef fails unless err is a *provisioning.RefError on field.
func wantRef(t *testing.T, err error, field string) {
	t.Helper()
	var re *provisioning.RefError
	if !errors.As(err, &re) || !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("err = %v, want a RefError", err)
	}
	if re.Field != field {
		t.Fatalf("RefError field = %q, want %q (%v)", re.Field, field, err)
	}
}

func ids[T any](items []T, id func(T) int64) []int64 {
	out := make([]int64, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}
