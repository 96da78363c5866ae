package freeswitch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// TestServiceDirectory reads every tenant's objects through
// ServiceDirectory, on a real store on every engine.
func TestServiceDirectory(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		svc := provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4),
			provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		admin := provisioning.AdminScope()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		// Two tenants, one a child of the other: the directory sees both.
		root := &provisioning.Tenant{Name: "root"}
		must(svc.CreateTenant(ctx, admin, root))
		child := &provisioning.Tenant{Name: "child", ParentID: &root.ID}
		must(svc.CreateTenant(ctx, admin, child))
		must(svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: root.ID, Name: "root.example"}))
		must(svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: child.ID, Name: "child.example"}))
		a := &provisioning.Account{Domain: "child.example", Username: "200", Secret: "secret-200"}
		must(svc.CreateAccount(ctx, admin, a))
		var gwIDs []int64
		for i := range 5 {
			g := &provisioning.Gateway{Name: fmt.Sprintf("gw%d", i), Host: "192.0.2.1"}
			if i%2 == 1 {
				g.TenantID = &child.ID
			}
			must(svc.CreateGateway(ctx, admin, g))
			gwIDs = append(gwIDs, g.ID)
		}
		must(svc.CreateDID(ctx, admin, &provisioning.DID{TenantID: root.ID, Number: "+4930123456", AccountID: &a.ID}))
		must(svc.CreateDID(ctx, admin, &provisioning.DID{TenantID: root.ID, Number: "+4930999999"}))

		dir := ServiceDirectory(svc)

		t.Run("accounts", func(t *testing.T) {
			got, err := dir.AccountByUsername(ctx, "Child.Example", "200")
			if err != nil || got.ID != a.ID || got.HA1 != a.HA1 || got.Secret != a.Secret || got.Domain != "child.example" {
				t.Fatalf("AccountByUsername = %+v, %v; want account %d with its HA1 and secret", got, err, a.ID)
			}
			for _, tc := range [][2]string{{"child.example", "201"}, {"nowhere.example", "200"}, {"root.example", "200"}} {
				if _, err := dir.AccountByUsername(ctx, tc[0], tc[1]); !errors.Is(err, provisioning.ErrNotFound) {
					t.Errorf("AccountByUsername(%s, %s): %v, want ErrNotFound", tc[0], tc[1], err)
				}
			}
		})

		t.Run("gateways, paged", func(t *testing.T) {
			defer func(n int) { xmlGatewayPage = n }(xmlGatewayPage)
			for _, page := range []int{2, 5, provisioning.MaxLimit} {
				xmlGatewayPage = page
				gws, err := dir.Gateways(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var ids []int64
				for _, g := range gws {
					ids = append(ids, g.ID)
				}
				if fmt.Sprint(ids) != fmt.Sprint(gwIDs) {
					t.Errorf("page %d: gateways %v, want %v", page, ids, gwIDs)
				}
			}
		})

		t.Run("DIDs", func(t *testing.T) {
			got, err := dir.RouteDID(ctx, "+4930123456")
			if err != nil || got.ID != a.ID || got.Domain != "child.example" {
				t.Fatalf("RouteDID = %+v, %v; want account %d", got, err, a.ID)
			}
			for _, n := range []string{"+4930999999", "+4930000000", "4930123456"} {
				if _, err := dir.RouteDID(ctx, n); !errors.Is(err, provisioning.ErrNotFound) {
					t.Errorf("RouteDID(%s): %v, want ErrNotFound", n, err)
				}
			}
		})

		t.Run("domains", func(t *testing.T) {
			for name, want := range map[string]bool{"root.example": true, "CHILD.example": true, "nowhere.example": false} {
				if got, err := dir.DomainExists(ctx, name); err != nil || got != want {
					t.Errorf("DomainExists(%s) = %v, %v; want %v", name, got, err, want)
				}
			}
		})

		t.Run("store down", func(t *testing.T) {
			db.Close()
			if _, err := dir.AccountByUsername(ctx, "child.example", "200"); err == nil || errors.Is(err, provisioning.ErrNotFound) {
				t.Errorf("AccountByUsername: %v, want an error other than not found", err)
			}
			// A name not asked before: answers already given come from
			// the Service's invalidated domain cache, store or no store.
			if _, err := dir.DomainExists(ctx, "unasked.example"); err == nil {
				t.Error("DomainExists: no error")
			}
			if _, err := dir.Gateways(ctx); err == nil {
				t.Error("Gateways: no error")
			}
			if _, err := dir.RouteDID(ctx, "+4930123456"); err == nil || errors.Is(err, provisioning.ErrNotFound) {
				t.Errorf("RouteDID: %v, want an error other than not found", err)
			}
		})
	})
}
