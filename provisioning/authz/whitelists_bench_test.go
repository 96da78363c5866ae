package authz

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// BenchmarkAuthorizeWhitelisted is BenchmarkAuthorize with the
// provisioning whitelists asked on every call: the tenant's whitelist of
// 1,000 prefixes and, for ten of the hundred calling users, a user's
// whitelist, answered from the Service's cache (SQLite behind it, read
// once per tenant and user).
func BenchmarkAuthorizeWhitelisted(b *testing.B) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite::memory:")
	must(b, err)
	defer db.Close()
	must(b, sqlstore.Migrate(ctx, db))
	svc := provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4))
	admin := provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "bench"}
	must(b, svc.CreateTenant(ctx, admin, tn))
	wide := &provisioning.Whitelist{TenantID: tn.ID, Name: "wide"}
	for i := range 999 {
		wide.Entries = append(wide.Entries, provisioning.WhitelistEntry{Prefix: fmt.Sprint(100000 + i)})
	}
	wide.Entries = append(wide.Entries, provisioning.WhitelistEntry{Prefix: "49"})
	must(b, svc.CreateWhitelist(ctx, admin, wide))
	for i := range 10 {
		u := &provisioning.User{TenantID: tn.ID, Login: fmt.Sprint("u", i), Email: fmt.Sprintf("u%d@example.com", i), Role: provisioning.RoleUser}
		must(b, svc.CreateUser(ctx, admin, u, "a-long-password-1"))
		must(b, svc.CreateWhitelist(ctx, admin, &provisioning.Whitelist{TenantID: tn.ID, UserID: &u.ID, Name: "de",
			Entries: []provisioning.WhitelistEntry{{Prefix: "4930"}, {Prefix: "4940"}}}))
	}
	a, _ := benchAuthorizer(b, nil)
	a.cfg.Whitelists = svc
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint(n.Add(1))
			c := call(id)
			c.TenantID, c.UserID = tn.ID, n.Load()%100
			if d, err := a.Authorize(ctx, c); err != nil || !d.Allowed {
				b.Fatal(d, err)
			}
			a.Release("fs1", id, 30) //nolint:errcheck
		}
	})
}
