package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// TestRerateCommand: rerate re-prices a period with the tariffs of now
// and books the difference; run again, it changes nothing; without a
// tariff source, or with a bad command line, it refuses. On both engines.
func TestRerateCommand(t *testing.T) {
	tf := cdrtest.NewTariffs()
	old := tariffSource
	tariffSource = func(*provisioning.Service) cdr.Tariffs { return tf }
	t.Cleanup(func() { tariffSource = old })
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for engine, dsn := range sqldbtest.DSNs(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			tf.SetTenant(1, cdrtest.Tariff("v1", "EUR", "0049=0.6"))
			db, err := sqldb.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := migrateAll(ctx, db); err != nil {
				t.Fatal(err)
			}
			store := cdrstore.NewStore(db)
			var recs []cdr.Record
			for i := range 2500 { // three pages
				// 40 s to 0049…: 0.4 EUR
				recs = append(recs, cdrtest.Call(i, "example.com", from.Add(time.Duration(i)*time.Minute), 1))
			}
			if err := cdr.PriceRecords(ctx, tf, recs); err != nil {
				t.Fatal(err)
			}
			if _, err := store.InsertNew(ctx, recs); err != nil {
				t.Fatal(err)
			}
			tf.SetTenant(1, cdrtest.Tariff("v2", "EUR", "0049=0.9"))
			args := []string{"rerate", "--database-dsn", dsn, "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z"}
			_, stderr, err := runCmd(t, args...)
			if err != nil {
				t.Fatalf("rerate: %v\n%s", err, stderr)
			}
			// 1440 CDRs in the day, each 0.2 EUR dearer.
			if want := "1440 of 1440 CDRs examined, 1440 changed (0 supplier costs), 0 skipped (changed meanwhile); balances adjusted by -288 EUR"; !strings.Contains(stderr, want) {
				t.Errorf("summary %q, want %q", stderr, want)
			}
			bs, err := store.Balances(ctx, 1)
			if err != nil || len(bs) != 1 || bs[0].Balance != -money.MustParse(fmt.Sprint(2500*0.4+288)) {
				t.Errorf("balances %+v, %v", bs, err)
			}
			_, stderr, err = runCmd(t, append(args, "--tenant", "1")...)
			if err != nil || !strings.Contains(stderr, "1440 of 1440 CDRs examined, 0 changed") || !strings.Contains(stderr, "adjusted by nothing") {
				t.Errorf("second run: %v\n%s", err, stderr)
			}
			_, stderr, err = runCmd(t, append(args[:len(args):len(args)], "--tenant", "2")...)
			if err != nil || !strings.Contains(stderr, "0 of 0 CDRs examined") {
				t.Errorf("another tenant's run: %v\n%s", err, stderr)
			}
		})
	}
	for _, bad := range [][]string{
		{"rerate", "--to", "2026-11-02T00:00:00Z"},
		{"rerate", "--from", "2026-11-02", "--to", "2026-11-03T00:00:00Z"},
		{"rerate", "--from", "2026-11-02T00:00:00Z", "--to", "2026-11-01T00:00:00Z"},
		{"rerate", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z", "--tenant", "-1"},
		{"rerate", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z", "extra"},
	} {
		var ue *usageError
		if _, _, err := runCmd(t, bad...); !errors.As(err, &ue) {
			t.Errorf("%q: err = %v, want a usage error", bad, err)
		}
	}
	tariffSource = func(*provisioning.Service) cdr.Tariffs { return nil }
	dsn := sqldbtest.DSNs(t)[sqldb.SQLite]
	if _, _, err := runCmd(t, "rerate", "--database-dsn", dsn, "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z"); !errors.Is(err, errNoTariffs) {
		t.Errorf("without tariffs: %v", err)
	}
}

// TestCDRImportPrices: `cdr import` prices what it imports as the
// pipeline does, and the store charges it: the recording's one outbound
// call (9555, sent to the gateway as 555: priced on that number, as the
// real-time authorizer rates it; 3 s) costs its owner 0.03 at 0.6 a
// minute, once, however often the file is imported; its internal calls
// cost 0. The tariffs come from a fake, or from the daemon's own source,
// the provisioning service: a plan uploaded as a deck and assigned to the
// tenant.
func TestCDRImportPrices(t *testing.T) {
	fake := cdrtest.NewTariffs()
	for _, tc := range []struct {
		name   string
		source func(*provisioning.Service) cdr.Tariffs
		plan   func(t *testing.T, ctx context.Context, svc *provisioning.Service, tenant int64)
	}{
		{"fake tariffs", func(*provisioning.Service) cdr.Tariffs { return fake },
			func(_ *testing.T, _ context.Context, _ *provisioning.Service, tenant int64) {
				fake.SetTenant(tenant, cdrtest.Tariff("retail", "USD", "5=0.6"))
			}},
		{"provisioning plans", tariffSource, func(t *testing.T, ctx context.Context, svc *provisioning.Service, tenant int64) {
			admin := provisioning.AdminScope()
			plan := &provisioning.TariffPlan{TenantID: tenant, Name: "retail", Currency: "USD", TimeZone: "UTC"}
			if err := svc.CreateTariffPlan(ctx, admin, plan); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.ReplaceTariffRates(ctx, admin, plan.ID, strings.NewReader("prefix,price_per_minute\n5,0.6\n"), provisioning.RateImportOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.SetTenantTariffPlan(ctx, admin, tenant, &plan.ID); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := tariffSource
			tariffSource = tc.source
			t.Cleanup(func() { tariffSource = old })
			for engine, dsn := range sqldbtest.DSNs(t) {
				t.Run(string(engine), func(t *testing.T) { testCDRImportPrices(t, dsn, tc.plan) })
			}
		})
	}
}

func testCDRImportPrices(t *testing.T, dsn string, plan func(t *testing.T, ctx context.Context, svc *provisioning.Service, tenant int64)) {
	csv := "../../switch/asterisk/testdata/cdr/master.csv"
	ctx := context.Background()
	if err := provisionGateway(dsn, "gateway"); err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, admin := provisioning.NewService(sqlstore.New(db)), provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "b"}
	if err := svc.CreateTenant(ctx, admin, tn); err != nil {
		t.Fatal(err)
	}
	if err := svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: tn.ID, Name: "pbx.example.com"}); err != nil {
		t.Fatal(err)
	}
	plan(t, ctx, svc, tn.ID)
	for range 2 {
		if _, stderr, err := runCmd(t, "cdr", "import", "--switch", "ast1", "--domain", "pbx.example.com", "--database-dsn", dsn, csv); err != nil {
			t.Fatalf("import: %v\n%s", err, stderr)
		}
	}
	store := cdrstore.NewStore(db)
	recs, _, err := store.Query(ctx, cdr.Filter{Limit: cdr.MaxLimit})
	if err != nil || len(recs) != 7 {
		t.Fatalf("%d CDRs, %v", len(recs), err)
	}
	for _, r := range recs {
		want := "0"
		if r.Direction == cdr.DirectionOutbound {
			want = "0.03"
		}
		if r.Cost == nil || r.Cost.String() != want || r.Plan != "" && r.Plan != "retail" {
			t.Errorf("%s (%s, %s): cost %v plan %q unpriced %q, want %s", r.CallID, r.Direction, r.Disposition, r.Cost, r.Plan, r.Unpriced, want)
		}
	}
	bs, err := store.Balances(ctx, tn.ID)
	if err != nil || len(bs) != 1 || bs[0].Balance != -money.MustParse("0.03") {
		t.Errorf("balances %+v, %v", bs, err)
	}
}
