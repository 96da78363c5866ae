package provisioning_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/provisioningtest"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// The size: 100,000 extensions in 1,000 tenants, each ringing an
// account of its tenant.
const (
	benchTenants       = 1000
	benchExtsPerTenant = 100
)

type routingWorld struct {
	svc     *provisioning.Service
	store   *sqlstore.Store
	tenants []*provisioning.Tenant
	anyID   int64 // one routing object, for the raw read
}

func seedRouting(b *testing.B, db *sqldb.DB) *routingWorld {
	ctx := context.Background()
	if err := sqlstore.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	st := sqlstore.New(db)
	seeded := provisioningtest.SeedRouting(b, ctx, st, benchTenants, benchExtsPerTenant)
	return &routingWorld{store: st, svc: provisioning.NewService(st), tenants: seeded.Tenants,
		anyID: seeded.Records[len(seeded.Records)/2].ID}
}

func must2(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRoutingDecision: what a call to a number of a tenant's plan is,
// as a switch renderer asks it on every call — the cached plan and a map
// lookup (warm) — beside building a tenant's plan from the store (what a
// miss costs, once per change) and a single raw read of one routing row
// by id on the same database (the floor of any store round trip). Each
// reports its p99 over the run.
func BenchmarkRoutingDecision(b *testing.B) {
	ctx := context.Background()
	for engine, dsn := range sqldbtest.DSNs(b) {
		db, err := sqldb.Open(ctx, dsn)
		must2(b, err)
		w := seedRouting(b, db)
		rnd := rand.New(rand.NewPCG(1, 2))
		pick := func() (*provisioning.Tenant, string) {
			return w.tenants[rnd.IntN(len(w.tenants))], strconv.Itoa(100 + rnd.IntN(benchExtsPerTenant))
		}
		for _, t := range w.tenants { // warm every tenant's plan
			_, err := w.svc.TenantPlan(ctx, t.ID)
			must2(b, err)
		}
		run := func(name string, op func()) {
			b.Run(string(engine)+"/"+name, func(b *testing.B) {
				var took []time.Duration
				for b.Loop() {
					start := time.Now()
					op()
					took = append(took, time.Since(start))
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
			})
		}
		run("warm", func() {
			t, n := pick()
			p, err := w.svc.TenantPlan(ctx, t.ID)
			if err != nil {
				b.Fatal(err)
			}
			if _, ok := p.Number(n); !ok {
				b.Fatalf("%s not in tenant %d's plan", n, t.ID)
			}
		})
		run("build", func() {
			t, _ := pick()
			if _, err := w.svc.RoutingPlan(ctx, provisioning.AdminScope(), t.ID); err != nil {
				b.Fatal(err)
			}
		})
		run("raw-row-read", func() {
			if _, err := w.store.Routing(ctx, w.anyID); err != nil {
				b.Fatal(err)
			}
		})
		db.Close()
	}
}
