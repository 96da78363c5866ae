package cdr_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// gatewayLegs is pricedRec(i) as the two legs of a call through gateway
// carrier-a: the caller's leg (priced for tenant 1: (i+1) cents) and the
// leg to the gateway (its carrier's price: 0.3 a minute, (i+1)/2 cents
// in EUR), both naming the gateway.
func gatewayLegs(i int) []cdr.Record {
	a := pricedRec(i)
	a.LinkedID, a.Gateway, a.Destination = a.CallID, "carrier-a", a.Dialed+"@carrier-a"
	b := a
	b.CallID = a.CallID + "-b"
	return []cdr.Record{a, b}
}

// TestPipelineSupplierCost: the pipeline gives the leg to the gateway its
// supplier cost as it stores it, through a store outage with the tariffs
// down too (spooled unpriced, priced when replayed) and one with the
// tariffs up (spooled priced: the replay keeps that price though the plan
// changed since); the supplier cost is counted once per stored leg in
// switchboard_cdr_supplier_cost_total and never charged: the tenant's
// balance is its own price only. On both engines.
func TestPipelineSupplierCost(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		store := migrated(t, db)
		tf := cdrtest.NewTariffs()
		tf.SetTenant(1, cdrtest.Tariff("retail", "USD", "1=0.6"))
		tf.SetGateway("carrier-a", cdrtest.Tariff("carrier-a", "EUR", "1=0.3"))
		var down atomic.Bool
		reg := prometheus.NewRegistry()
		p := startPipeline(t, flaky(store, &down, errRefused), cdr.PipelineConfig{Tariffs: tf, Registerer: reg})

		var calls [][]cdr.Record
		var wantRevenue, wantSupplier money.Amount
		for i := range 60 {
			calls = append(calls, gatewayLegs(i))
			wantRevenue += money.Amount(i+1) * money.Unit / 100
			wantSupplier += money.Amount(i+1) * money.Unit / 200
		}
		flat := func(cs [][]cdr.Record) (out []cdr.Record) {
			for _, c := range cs {
				out = append(out, c...)
			}
			return out
		}
		put(t, p, flat(calls[:20]))

		// The store and the tariffs down: spooled unpriced.
		down.Store(true)
		tf.Fail(errors.New("connection refused"))
		put(t, p, flat(calls[20:40]))
		tf.Fail(nil)
		down.Store(false)
		waitFor(t, "the spool is replayed", drained(p))

		// The store down, the tariffs up: spooled priced; the plan
		// triples before the replay, which keeps the price it had.
		down.Store(true)
		put(t, p, flat(calls[40:]))
		tf.SetGateway("carrier-a", cdrtest.Tariff("carrier-a", "EUR", "1=0.9"))
		down.Store(false)
		waitFor(t, "the spool is replayed", drained(p))
		put(t, p, flat(calls)) // duplicates: nothing counted again

		recs, _, err := store.Query(context.Background(), cdr.Filter{Limit: cdr.MaxLimit})
		if err != nil || len(recs) != 120 {
			t.Fatalf("%d CDRs stored, %v; want 120", len(recs), err)
		}
		var supplier money.Amount
		for _, r := range recs {
			switch {
			case r.CallID == r.LinkedID:
				if r.SupplierCost != nil || r.SupplierUnpriced != "" {
					t.Errorf("%s (the caller's leg): supplier %v %q", r.CallID, r.SupplierCost, r.SupplierUnpriced)
				}
			case r.SupplierCost == nil || r.SupplierCurrency != "EUR" || r.SupplierPlan != "carrier-a" || r.SupplierPrefix != "1":
				t.Errorf("%s: supplier %v %q plan %q prefix %q unpriced %q", r.CallID, r.SupplierCost, r.SupplierCurrency, r.SupplierPlan, r.SupplierPrefix, r.SupplierUnpriced)
			default:
				supplier += *r.SupplierCost
			}
		}
		if supplier != wantSupplier {
			t.Errorf("supplier costs stored sum to %s, want %s (the 0.3 plan's, the spooled ones' too)", supplier, wantSupplier)
		}
		bs, err := store.Balances(context.Background(), 1)
		if err != nil || len(bs) != 1 || bs[0].Currency != "USD" || bs[0].Balance != -wantRevenue {
			t.Errorf("balances %+v, %v; want USD -%s only", bs, err, wantRevenue)
		}
		got := gathered(t, reg)
		near := func(f float64, a money.Amount) bool { return math.Abs(f-float64(a)/float64(money.Unit)) < 1e-9 } // float sums
		if c := got["switchboard_cdr_supplier_cost_total{currency=EUR}"]; !near(c, wantSupplier) {
			t.Errorf("supplier cost counted %v, want %s", c, wantSupplier)
		}
		if r := got["switchboard_cdr_revenue_total{currency=USD}"]; !near(r, wantRevenue) {
			t.Errorf("revenue counted %v, want %s", r, wantRevenue)
		}
		for _, reason := range cdr.SupplierUnpricedReasons {
			if n := got["switchboard_cdr_supplier_unpriced_total{reason="+string(reason)+"}"]; n != 0 {
				t.Errorf("supplier unpriced %s: %v", reason, n)
			}
		}
	})
}

// TestSupplierUnpricedMetric: a gateway leg without a supplier plan is
// stored, without a supplier cost, and counted by reason.
func TestSupplierUnpricedMetric(t *testing.T) {
	tf := cdrtest.NewTariffs()
	tf.SetTenant(1, cdrtest.Tariff("retail", "USD", "1=0.6"))
	reg := prometheus.NewRegistry()
	p := startPipeline(t, newMemStore(), cdr.PipelineConfig{Tariffs: tf, Registerer: reg})
	put(t, p, gatewayLegs(1))
	got := gathered(t, reg)
	if n := got["switchboard_cdr_supplier_unpriced_total{reason=no_plan}"]; n != 1 {
		t.Errorf("supplier unpriced no_plan = %v, want 1", n)
	}
	for name, v := range got {
		if strings.HasPrefix(name, "switchboard_cdr_supplier_cost_total{") {
			t.Errorf("%s = %v without a supplier plan", name, v)
		}
	}
}
