package provisioning_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// fakeSink records every change it is given, copying the objects because
// the Service hands over the caller's own pointers.
type fakeSink struct {
	mu      sync.Mutex
	changes []provisioning.Change
	err     error // returned from Apply, to show failures do not propagate
}

func (f *fakeSink) Apply(_ context.Context, c provisioning.Change) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.Account != nil {
		a := *c.Account
		c.Account = &a
	}
	if c.Gateway != nil {
		g := *c.Gateway
		c.Gateway = &g
	}
	if c.DID != nil {
		d := *c.DID
		c.DID = &d
	}
	f.changes = append(f.changes, c)
	return f.err
}

// take returns the changes recorded since the last call.
func (f *fakeSink) take() []provisioning.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.changes
	f.changes = nil
	return out
}

// env is a Service over a real store on one engine.
type env struct {
	svc   *provisioning.Service
	store *sqlstore.Store
	sink  *fakeSink
	ctx   context.Context
}

var admin = provisioning.AdminScope()

// eachEngine runs fn with a fresh Service on every available engine.
func eachEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		store := sqlstore.New(db)
		sink := &fakeSink{}
		svc := provisioning.NewService(store, provisioning.WithSink(sink), provisioning.WithBcryptCost(4),
			provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		fn(t, &env{svc: svc, store: store, sink: sink, ctx: ctx})
	})
}

func ptr[T any](v T) *T { return &v }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The fixtures below create through the Service as an admin.

func (e *env) tenant(t *testing.T, name string, parent *provisioning.Tenant) *provisioning.Tenant {
	t.Helper()
	tn := &provisioning.Tenant{Name: name}
	if parent != nil {
		tn.ParentID = ptr(parent.ID)
	}
	must(t, e.svc.CreateTenant(e.ctx, admin, tn))
	return tn
}

func (e *env) domain(t *testing.T, name string, owner *provisioning.Tenant) *provisioning.Domain {
	t.Helper()
	d := &provisioning.Domain{TenantID: owner.ID, Name: name}
	must(t, e.svc.CreateDomain(e.ctx, admin, d))
	return d
}

func (e *env) user(t *testing.T, login string, owner *provisioning.Tenant, role provisioning.Role) *provisioning.User {
	t.Helper()
	u := &provisioning.User{TenantID: owner.ID, Login: login, Email: login + "@example.com", Role: role}
	must(t, e.svc.CreateUser(e.ctx, admin, u, "password-"+login))
	return u
}

func (e *env) account(t *testing.T, username string, d *provisioning.Domain) *provisioning.Account {
	t.Helper()
	a := &provisioning.Account{DomainID: d.ID, Username: username, Secret: "secret-" + username}
	must(t, e.svc.CreateAccount(e.ctx, admin, a))
	return a
}

func (e *env) gateway(t *testing.T, name string, owner *provisioning.Tenant) *provisioning.Gateway {
	t.Helper()
	g := &provisioning.Gateway{Name: name, Host: "sip.carrier.example", Username: "trunk", Secret: "gw-secret-" + name, Register: true}
	if owner != nil {
		g.TenantID = ptr(owner.ID)
	}
	must(t, e.svc.CreateGateway(e.ctx, admin, g))
	return g
}

func (e *env) did(t *testing.T, number string, owner *provisioning.Tenant, to *provisioning.Account) *provisioning.DID {
	t.Helper()
	d := &provisioning.DID{TenantID: owner.ID, Number: number}
	if to != nil {
		d.AccountID = ptr(to.ID)
	}
	must(t, e.svc.CreateDID(e.ctx, admin, d))
	return d
}
