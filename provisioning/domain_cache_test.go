package provisioning_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/provisioningtest"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// eachCounted is eachEngine with the store behind a CountingStore and a
// cache TTL of an hour, so that only invalidation can keep answers right.
func eachCounted(t *testing.T, fn func(t *testing.T, e *env, count *provisioningtest.CountingStore)) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		must(t, sqlstore.Migrate(ctx, db))
		store := sqlstore.New(db)
		count := &provisioningtest.CountingStore{Store: store}
		svc := provisioning.NewService(count, provisioning.WithBcryptCost(4), provisioning.WithCacheTTL(time.Hour),
			provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		fn(t, &env{svc: svc, store: store, sink: &fakeSink{}, ctx: ctx}, count)
	})
}

// TestDomainCacheInvalidation changes domains and tenants through the
// Service and checks, after each change, that the cached answers (scope
// domain lists, lookups by name, the domain's tenant) are the new ones, and
// that asking again does not reach the store.
func TestDomainCacheInvalidation(t *testing.T) {
	eachCounted(t, func(t *testing.T, e *env, count *provisioningtest.CountingStore) {
		R := e.tenant(t, "R", nil)
		A, B := e.tenant(t, "A", R), e.tenant(t, "B", R)
		A1 := e.tenant(t, "A1", A)
		e.domain(t, "a.example", A)
		e.domain(t, "a1.example", A1)
		e.domain(t, "b.example", B)
		scA, scB := e.scopeOf(t, provisioning.RoleTenantAdmin, A), e.scopeOf(t, provisioning.RoleTenantAdmin, B)
		secretA1, _, err := e.svc.CreateToken(e.ctx, "a1", provisioning.RoleTenantAdmin, &A1.ID)
		must(t, err)
		var moving *provisioning.Domain

		// want is what the caches must answer after a step.
		type want struct {
			a, b     []string // ScopeDomainNames of A and B
			name     string   // a domain name looked up...
			seenByA  bool     // ...which A's scope sees
			tenant   int64    // ...owned by this tenant (0: no such domain)
			a1Prefix string   // the path prefix of A1's token scope
		}
		check := func(t *testing.T, w want) {
			t.Helper()
			for i := range 2 { // the second round must be served from the caches
				if i == 1 {
					count.Reset()
				}
				for _, c := range []struct {
					sc   provisioning.Scope
					want []string
				}{{scA, w.a}, {scB, w.b}} {
					got, err := e.svc.ScopeDomainNames(e.ctx, c.sc)
					must(t, err)
					slices.Sort(got)
					if !slices.Equal(got, c.want) {
						t.Errorf("ScopeDomainNames(tenant %d) = %q, want %q", c.sc.TenantID, got, c.want)
					}
				}
				_, err := e.svc.DomainByName(e.ctx, scA, w.name)
				if seen := err == nil; seen != w.seenByA {
					t.Errorf("DomainByName(A, %s): err = %v, want seen %v", w.name, err, w.seenByA)
				}
				if err != nil && !errors.Is(err, provisioning.ErrNotFound) {
					t.Errorf("DomainByName(A, %s): err = %v, want not found", w.name, err)
				}
				tenant, ok, err := e.svc.DomainTenant(e.ctx, w.name)
				must(t, err)
				if ok != (w.tenant != 0) || tenant != w.tenant {
					t.Errorf("DomainTenant(%s) = %d, %v; want %d", w.name, tenant, ok, w.tenant)
				}
				sc, _, err := e.svc.Authenticate(e.ctx, secretA1)
				must(t, err)
				if !hasPrefix(sc.Path, w.a1Prefix) {
					t.Errorf("A1's token scope path %q, want under %q", sc.Path, w.a1Prefix)
				}
			}
			if n := count.Calls(); n != 0 {
				t.Errorf("warm lookups made %d store calls, want 0", n)
			}
		}

		steps := []struct {
			name   string
			change func(t *testing.T)
			want   want
		}{
			{"initial; unknown name cached as absent", func(*testing.T) {},
				want{a: []string{"a.example", "a1.example"}, b: []string{"b.example"}, name: "new.example", a1Prefix: A.Path}},
			{"create", func(t *testing.T) { moving = e.domain(t, "new.example", A) },
				want{a: []string{"a.example", "a1.example", "new.example"}, b: []string{"b.example"}, name: "new.example", seenByA: true, tenant: A.ID, a1Prefix: A.Path}},
			{"rename", func(t *testing.T) {
				_, err := e.svc.UpdateDomain(e.ctx, admin, moving.ID, func(d *provisioning.Domain) error { d.Name = "renamed.example"; return nil })
				must(t, err)
			}, want{a: []string{"a.example", "a1.example", "renamed.example"}, b: []string{"b.example"}, name: "new.example", a1Prefix: A.Path}},
			{"move the domain to B", func(t *testing.T) {
				_, err := e.svc.UpdateDomain(e.ctx, admin, moving.ID, func(d *provisioning.Domain) error { d.TenantID = B.ID; return nil })
				must(t, err)
			}, want{a: []string{"a.example", "a1.example"}, b: []string{"b.example", "renamed.example"}, name: "renamed.example", tenant: B.ID, a1Prefix: A.Path}},
			{"delete", func(t *testing.T) { must(t, e.svc.DeleteDomain(e.ctx, admin, moving.ID)) },
				want{a: []string{"a.example", "a1.example"}, b: []string{"b.example"}, name: "renamed.example", a1Prefix: A.Path}},
			{"move tenant A1 under B", func(t *testing.T) {
				_, err := e.svc.UpdateTenant(e.ctx, admin, A1.ID, func(tn *provisioning.Tenant) error { tn.ParentID = &B.ID; return nil })
				must(t, err)
			}, want{a: []string{"a.example"}, b: []string{"a1.example", "b.example"}, name: "a1.example", tenant: A1.ID, a1Prefix: B.Path}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				st.change(t)
				check(t, st.want)
			})
		}
	})
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// TestScopeDomainNames: an admin gets nil (no filter), a tenant without
// domains an empty, non-nil list (filter everything out), and callers may
// change what they are given without changing the cache.
func TestScopeDomainNames(t *testing.T) {
	eachCounted(t, func(t *testing.T, e *env, _ *provisioningtest.CountingStore) {
		A, B := e.tenant(t, "A", nil), e.tenant(t, "B", nil)
		e.domain(t, "a.example", A)
		names, err := e.svc.ScopeDomainNames(e.ctx, admin)
		if err != nil || names != nil {
			t.Errorf("admin: %q, %v; want nil", names, err)
		}
		none, err := e.svc.ScopeDomainNames(e.ctx, e.scopeOf(t, provisioning.RoleUser, B))
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("tenant without domains: %#v, %v; want an empty list", none, err)
		}
		scA := e.scopeOf(t, provisioning.RoleUser, A)
		got, err := e.svc.ScopeDomainNames(e.ctx, scA)
		must(t, err)
		got[0] = "changed.example"
		again, err := e.svc.ScopeDomainNames(e.ctx, scA)
		must(t, err)
		if !slices.Equal(again, []string{"a.example"}) {
			t.Errorf("after a caller changed its copy: %q", again)
		}
	})
}

// TestForeignLooksLikeMissing: reading another tenant's object costs the
// store exactly what reading an id or a name nobody holds costs, so that
// not even the answer's timing tells the two apart.
func TestForeignLooksLikeMissing(t *testing.T) {
	eachCounted(t, func(t *testing.T, e *env, count *provisioningtest.CountingStore) {
		w := newTree(t, e)
		scB := e.scopeOf(t, provisioning.RoleTenantAdmin, w.B)
		const missing = 1 << 40
		calls := func(f func() error) (int64, error) {
			count.Reset()
			err := f()
			return count.Calls(), err
		}
		for _, c := range []struct {
			kind    string
			foreign func() error
			absent  func() error
		}{
			{"tenant", func() error { _, err := e.svc.Tenant(e.ctx, scB, w.A1.ID); return err },
				func() error { _, err := e.svc.Tenant(e.ctx, scB, missing); return err }},
			{"domain", func() error { _, err := e.svc.Domain(e.ctx, scB, w.dA1.ID); return err },
				func() error { _, err := e.svc.Domain(e.ctx, scB, missing); return err }},
			{"user", func() error { _, err := e.svc.User(e.ctx, scB, w.uA1.ID); return err },
				func() error { _, err := e.svc.User(e.ctx, scB, missing); return err }},
			{"user by login", func() error { _, err := e.svc.UserByLogin(e.ctx, scB, w.uA1.Login); return err },
				func() error { _, err := e.svc.UserByLogin(e.ctx, scB, "nobody"); return err }},
			{"account", func() error { _, err := e.svc.Account(e.ctx, scB, w.aA1.ID); return err },
				func() error { _, err := e.svc.Account(e.ctx, scB, missing); return err }},
			{"gateway", func() error { _, err := e.svc.Gateway(e.ctx, scB, w.gA1.ID); return err },
				func() error { _, err := e.svc.Gateway(e.ctx, scB, missing); return err }},
			{"gateway by name", func() error { _, err := e.svc.GatewayByName(e.ctx, scB, w.gA1.Name); return err },
				func() error { _, err := e.svc.GatewayByName(e.ctx, scB, "nothing"); return err }},
			{"did", func() error { _, err := e.svc.DID(e.ctx, scB, w.nA1.ID); return err },
				func() error { _, err := e.svc.DID(e.ctx, scB, missing); return err }},
			{"did by number", func() error { _, err := e.svc.DIDByNumber(e.ctx, scB, w.nA1.Number); return err },
				func() error { _, err := e.svc.DIDByNumber(e.ctx, scB, "+4999999999"); return err }},
			// Domain names are cached: compare cold lookups (a domain
			// write empties the cache first).
			{"domain by name", func() error {
				e.domain(t, "flush-1.example", w.B)
				count.Reset()
				_, err := e.svc.DomainByName(e.ctx, scB, w.dA1.Name)
				return err
			}, func() error {
				e.domain(t, "flush-2.example", w.B)
				count.Reset()
				_, err := e.svc.DomainByName(e.ctx, scB, "nothing.example")
				return err
			}},
		} {
			nf, errF := calls(c.foreign)
			na, errA := calls(c.absent)
			if !errors.Is(errF, provisioning.ErrNotFound) || !errors.Is(errA, provisioning.ErrNotFound) {
				t.Errorf("%s: foreign %v, absent %v; want both not found", c.kind, errF, errA)
			}
			if nf != na {
				t.Errorf("%s: %d store calls for another tenant's, %d for a missing one", c.kind, nf, na)
			}
		}
	})
}
