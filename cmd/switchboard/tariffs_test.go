package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// TestServiceSupplierTariffs: the daemon prices a gateway leg's supplier
// cost with the gateway's supplier plan, looked up by the gateway's name
// as CDRs carry it; a gateway without a plan, and one provisioning does
// not know, have none (not a failed lookup).
func TestServiceSupplierTariffs(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx, admin := context.Background(), provisioning.AdminScope()
		if err := migrateAll(ctx, db); err != nil {
			t.Fatal(err)
		}
		svc := provisioning.NewService(sqlstore.New(db))
		for _, name := range []string{"carrier-a", "carrier-b"} {
			if err := svc.CreateGateway(ctx, admin, &provisioning.Gateway{Name: name, Host: "127.0.0.1", Port: 5090}); err != nil {
				t.Fatal(err)
			}
		}
		tn := &provisioning.Tenant{Name: "operator"}
		if err := svc.CreateTenant(ctx, admin, tn); err != nil {
			t.Fatal(err)
		}
		plan := &provisioning.TariffPlan{TenantID: tn.ID, Name: "supplier-a", Currency: "EUR", TimeZone: "UTC"}
		if err := svc.CreateTariffPlan(ctx, admin, plan); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ReplaceTariffRates(ctx, admin, plan.ID, strings.NewReader("prefix,price_per_minute\n44,0.012\n"), provisioning.RateImportOptions{}); err != nil {
			t.Fatal(err)
		}
		gw, err := svc.GatewayByName(ctx, admin, "carrier-a")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetGatewayTariffPlan(ctx, admin, gw.ID, &plan.ID); err != nil {
			t.Fatal(err)
		}
		src, ok := tariffSource(svc).(cdr.SupplierTariffs)
		if !ok {
			t.Fatal("the daemon's tariff source prices no supplier costs")
		}
		tf, err := src.GatewayTariff(ctx, "carrier-a")
		if err != nil || tf == nil {
			t.Fatalf("carrier-a: %v, %v", tf, err)
		}
		if c, err := tf.Rate("4420", time.Now(), 60); err != nil || c.Cost.String() != "0.012" || tf.Currency() != "EUR" {
			t.Errorf("carrier-a prices a minute to 44 at %v %s (%v), want 0.012 EUR", c.Cost, tf.Currency(), err)
		}
		if tf, err := src.GatewayTariff(ctx, "carrier-b"); err != nil || tf != nil {
			t.Errorf("carrier-b (no plan): %v, %v; want none", tf, err)
		}
		if _, err := src.GatewayTariff(ctx, "gone"); !errors.Is(err, cdr.ErrNoTariff) {
			t.Errorf("unknown gateway: %v, want cdr.ErrNoTariff", err)
		}
	})
}
