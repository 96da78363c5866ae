package cdrstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

func ptr[T any](v T) *T { return &v }

// gatewayCall returns the two legs of an answered outbound call of tenant
// to number through gateway gw, of secs seconds, ending at end: the
// caller's leg (priced for the tenant) and the leg to the gateway (priced
// for the supplier).
func gatewayCall(id string, tenant int64, gw, number string, secs int, end time.Time) []cdr.Record {
	a := call(id+"-a", tenant, number, secs, end)
	a.LinkedID, a.Gateway, a.Destination = a.CallID, gw, number+"@"+gw
	b := a
	b.CallID = id + "-b"
	return []cdr.Record{a, b}
}

// sellAndBuy is tenant 1's plan (1.2 USD a minute to 0033) and gateway
// gw1's supplier plan (0.6 USD a minute to 0033).
func sellAndBuy() *cdrtest.Tariffs {
	tf := cdrtest.NewTariffs()
	tf.SetTenant(1, cdrtest.Tariff("retail", "USD", "0033=1.2"))
	tf.SetGateway("gw1", cdrtest.Tariff("carrier-a", "USD", "0033=0.6"))
	return tf
}

// TestSupplierCostNotCharged: the supplier cost of a leg is stored and
// read back, and never reaches a balance, the ledger or a tenant's spent
// total (the authorizer's cost limits): only the tenant's price does. On
// both engines.
func TestSupplierCostNotCharged(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		ctx := context.Background()
		tf := sellAndBuy()
		recs := gatewayCall("c1", 1, "gw1", "0033123", 60, base)
		if err := cdr.PriceRecords(ctx, tf, recs); err != nil {
			t.Fatal(err)
		}
		mustInsert(t, s, recs)
		mustInsert(t, s, recs) // a replay
		got, _, err := s.Query(ctx, cdr.Filter{ID: mustID(t, s, "c1-b")})
		if err != nil || len(got) != 1 {
			t.Fatalf("query: %v, %v", got, err)
		}
		if b := got[0]; b.SupplierCost == nil || *b.SupplierCost != money.MustParse("0.6") || b.SupplierCurrency != "USD" ||
			b.SupplierPlan != "carrier-a" || b.SupplierPrefix != "0033" || b.Cost == nil || *b.Cost != 0 {
			t.Errorf("gateway leg stored as cost %v supplier %v %q %q %q", b.Cost, b.SupplierCost, b.SupplierCurrency, b.SupplierPlan, b.SupplierPrefix)
		}
		// One charge, the tenant's 1.2; the supplier's 0.6 is nowhere.
		checkLedger(t, s, 1, "USD", -money.MustParse("1.2"), 1)
		spent, err := s.Spent(ctx, 1, "USD", base.Add(-time.Hour), nil)
		if err != nil || spent != money.MustParse("1.2") {
			t.Errorf("spent %s, %v; want 1.2", spent, err)
		}
	})
}

// TestRerateSupplierCost: a supplier plan change re-rated over a period
// updates the supplier cost of the gateway legs and books nothing; a
// second run changes nothing; a source without supplier plans leaves the
// stored supplier costs alone. On both engines.
func TestRerateSupplierCost(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		ctx := context.Background()
		tf := sellAndBuy()
		from := base.Truncate(24 * time.Hour)
		to := from.Add(24 * time.Hour)
		var recs []cdr.Record
		for i := range 25 { // 25 calls of 60 s: 30 USD sold, 15 bought
			recs = append(recs, gatewayCall(fmt.Sprintf("c%d", i), 1, "gw1", "0033123", 60, from.Add(time.Duration(i)*time.Minute))...)
		}
		if err := cdr.PriceRecords(ctx, tf, recs); err != nil {
			t.Fatal(err)
		}
		mustInsert(t, s, recs)
		checkLedger(t, s, 1, "USD", -money.MustParse("30"), 25)

		tf.SetGateway("gw1", cdrtest.Tariff("carrier-a v2", "EUR", "003=0.3"))
		pr, err := s.Rerate(ctx, cdrstore.RerateOptions{From: from, To: to, Tariffs: tf, PageSize: 10})
		if err != nil || pr.Examined != 50 || pr.Changed != 25 || pr.SupplierChanged != 25 || len(pr.Adjusted) != 0 {
			t.Fatalf("run: %+v, %v; want 25 of 50 changed, all supplier costs, nothing booked", pr, err)
		}
		checkLedger(t, s, 1, "USD", -money.MustParse("30"), 25)
		checkLedger(t, s, 1, "EUR", 0, 0)
		got, _, err := s.Query(ctx, cdr.Filter{ID: mustID(t, s, "c7-b")})
		if err != nil || len(got) != 1 {
			t.Fatalf("query: %v, %v", got, err)
		}
		if b := got[0]; b.SupplierCost == nil || *b.SupplierCost != money.MustParse("0.3") || b.SupplierCurrency != "EUR" ||
			b.SupplierPlan != "carrier-a v2" || b.SupplierPrefix != "003" {
			t.Errorf("after rerate: supplier %v %q %q %q", b.SupplierCost, b.SupplierCurrency, b.SupplierPlan, b.SupplierPrefix)
		}
		pr, err = s.Rerate(ctx, cdrstore.RerateOptions{From: from, To: to, Tariffs: tf})
		if err != nil || pr.Changed != 0 {
			t.Fatalf("second run: %+v, %v", pr, err)
		}
		onlySell := struct{ cdr.Tariffs }{tf}
		pr, err = s.Rerate(ctx, cdrstore.RerateOptions{From: from, To: to, Tariffs: onlySell})
		if err != nil || pr.Changed != 0 {
			t.Fatalf("run without supplier plans: %+v, %v", pr, err)
		}
		got, _, _ = s.Query(ctx, cdr.Filter{ID: mustID(t, s, "c7-b")})
		if b := got[0]; b.SupplierCost == nil || *b.SupplierCost != money.MustParse("0.3") {
			t.Errorf("a run without supplier plans changed the supplier cost: %v", b.SupplierCost)
		}
	})
}
