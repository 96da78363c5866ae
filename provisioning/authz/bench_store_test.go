package authz

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// BenchmarkHTTP1000rpsSQLite is BenchmarkHTTP1000rps's authorization
// with the daemon's real sources on SQLite: the balance from the CDR
// store and the tenant's and user's limits from the provisioning store
// (three queries per request; the tariff is the compiled one, as the
// provisioning cache hands it out), without and with the reservation
// journal written behind to the same database.
func BenchmarkHTTP1000rpsSQLite(b *testing.B) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "authz.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := sqlstore.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	if err := cdrstore.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	svc := provisioning.NewService(sqlstore.New(db))
	admin := provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "bench"}
	if err := svc.CreateTenant(ctx, admin, tn); err != nil {
		b.Fatal(err)
	}
	if err := svc.CreateLimit(ctx, admin, &provisioning.Limit{TenantID: tn.ID, ConcurrentCalls: 1 << 16, CallsPerMinute: 1 << 16, CostPerDay: money.MustParse("1000000")}); err != nil {
		b.Fatal(err)
	}
	store := cdrstore.NewStore(db)
	if _, err := store.Post(ctx, cdrstore.Entry{TenantID: tn.ID, Currency: "EUR", Kind: cdrstore.KindPayment, Amount: money.MustParse("1000000")}); err != nil {
		b.Fatal(err)
	}
	f := &fakeSources{prepaid: true, tariff: testTariff(b)}
	for _, journal := range []bool{false, true} {
		b.Run(map[bool]string{false: "memory", true: "journal"}[journal], func(b *testing.B) {
			cfg := Config{}
			if journal {
				cfg.Journal = store // the daemon's: the same database
			}
			a := New(f, StoreBalances(store), f, ProvisioningLimits(svc), nil, cfg)
			if journal {
				defer runJournal(b, a)()
			}
			srv := httptest.NewServer(Handler{A: a})
			defer srv.Close()
			p50, p99, pmax := openLoop(b, srv.URL, tn.ID, a)
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
			b.ReportMetric(pmax, "max-ms")
		})
	}
}
