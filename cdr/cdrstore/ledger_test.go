package cdrstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// priced returns a leg of tenant costing cost (nano-units) in currency.
func priced(callID string, tenant int64, cost money.Amount, currency money.Currency, end time.Time) cdr.Record {
	r := leg("pbx1", callID, "example.com", end)
	r.Direction, r.TenantID = cdr.DirectionOutbound, owner(tenant)
	r.Cost, r.Currency, r.RatePrefix, r.Plan = &cost, currency, "49", "retail"
	return r
}

// balanceOf returns tenant's balance in currency, 0 when it has none.
func balanceOf(t testing.TB, s *cdrstore.Store, tenant int64, currency money.Currency) money.Amount {
	t.Helper()
	bs, err := s.Balances(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Currency == currency {
			return b.Balance
		}
	}
	return 0
}

// checkLedger checks that tenant's balance in currency is want, is the sum
// of its ledger entries, and that there are entries of them.
func checkLedger(t testing.TB, s *cdrstore.Store, tenant int64, currency money.Currency, want money.Amount, entries int64) {
	t.Helper()
	sum, n, err := s.LedgerSum(context.Background(), tenant, currency)
	if err != nil {
		t.Fatal(err)
	}
	if got := balanceOf(t, s, tenant, currency); got != want || sum != want || n != entries {
		t.Errorf("tenant %d %s: balance %s, ledger sum %s in %d entries; want %s in %d", tenant, currency, got, sum, n, want, entries)
	}
}

// TestChargeExactlyOnce: a priced CDR is charged to its owner with its
// insert, once, whatever is replayed: the same batch again, a batch
// mixing old and new legs, a leg stored again after retention deleted it.
// Free and unpriced legs and legs without owner charge nothing.
func TestChargeExactlyOnce(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		ctx := context.Background()
		free := priced("free", 1, 0, "", base)
		unpriced := leg("pbx1", "unpriced", "example.com", base)
		unpriced.TenantID, unpriced.Unpriced = owner(1), cdr.UnpricedNoRate
		orphan := priced("orphan", 0, money.MustParse("9"), "EUR", base)
		batch := []cdr.Record{
			priced("a", 1, money.MustParse("0.0123"), "EUR", base),
			priced("b", 1, money.MustParse("1.5"), "EUR", base),
			priced("c", 2, money.MustParse("0.000000001"), "EUR", base),
			priced("d", 1, money.MustParse("2"), "USD", base),
			free, unpriced, orphan,
		}
		if n := mustInsert(t, s, batch); n != len(batch) {
			t.Fatalf("inserted %d", n)
		}
		check := func() {
			t.Helper()
			checkLedger(t, s, 1, "EUR", -money.MustParse("1.5123"), 2)
			checkLedger(t, s, 2, "EUR", -money.MustParse("0.000000001"), 1)
			checkLedger(t, s, 1, "USD", -money.MustParse("2"), 1)
		}
		check()
		// The same batch, and a batch of old and new legs.
		if n := mustInsert(t, s, batch); n != 0 {
			t.Fatalf("replay inserted %d", n)
		}
		newLeg := priced("e", 1, money.MustParse("0.5"), "EUR", base)
		if n := mustInsert(t, s, []cdr.Record{batch[0], newLeg, batch[1]}); n != 1 {
			t.Fatalf("mixed batch inserted %d", n)
		}
		checkLedger(t, s, 1, "EUR", -money.MustParse("2.0123"), 3)
		// Retention deletes the rows; the same legs come back: stored
		// again, charged not again.
		if _, err := s.Retain(ctx, time.Hour, base.Add(72*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if c := count(t, s); c != 0 {
			t.Fatalf("%d rows after retention", c)
		}
		// A fresh Store (a restart) takes its fast path first: every key
		// is new to cdrs, but the charges are not to the ledger.
		s = cdrstore.NewStore(db)
		if n := mustInsert(t, s, batch); n != len(batch) {
			t.Fatalf("after retention, inserted %d", n)
		}
		checkLedger(t, s, 1, "EUR", -money.MustParse("2.0123"), 3)
		// The price is stored with the row.
		got, _, err := s.Query(ctx, cdr.Filter{Tenants: []int64{1}, Domain: "example.com", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]cdr.Record{}
		for _, r := range got {
			byID[r.CallID] = r
		}
		if r := byID["a"]; r.Cost == nil || *r.Cost != money.MustParse("0.0123") || r.Currency != "EUR" || r.RatePrefix != "49" || r.Plan != "retail" {
			t.Errorf("a read back as cost %v %q prefix %q plan %q", r.Cost, r.Currency, r.RatePrefix, r.Plan)
		}
		if r := byID["free"]; r.Cost == nil || *r.Cost != 0 {
			t.Errorf("free read back as cost %v", r.Cost)
		}
		if r := byID["unpriced"]; r.Cost != nil || r.Unpriced != cdr.UnpricedNoRate {
			t.Errorf("unpriced read back as cost %v reason %q", r.Cost, r.Unpriced)
		}
	})
}

// TestChargeConcurrent: 100 writers store overlapping batches of priced
// legs of three tenants at once (each leg is sent by several writers, as
// reconnect resyncs and spool replays do); every balance is then exactly
// the sum of the distinct legs' costs, and of the ledger's entries.
func TestChargeConcurrent(t *testing.T) {
	const writers, legs, perBatch = 100, 2000, 60
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		rng := rand.New(rand.NewPCG(7, 7))
		all := make([]cdr.Record, legs)
		want := map[int64]money.Amount{}
		for i := range all {
			tenant := int64(1 + i%3)
			cost := money.Amount(1 + rng.Int64N(5_000_000_000))
			all[i] = priced(fmt.Sprintf("leg-%d", i), tenant, cost, "EUR", base.Add(time.Duration(i)*time.Second))
			want[tenant] -= cost
		}
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := range writers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 1))
				batch := make([]cdr.Record, perBatch)
				for i := range batch {
					batch[i] = all[r.IntN(legs)]
				}
				_, errs[w] = s.InsertNew(context.Background(), batch)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		// Then every leg once more, so that all are stored.
		if _, err := s.InsertNew(context.Background(), all); err != nil {
			t.Fatal(err)
		}
		for tenant, sum := range want {
			checkLedger(t, s, tenant, "EUR", sum, int64(legs/3+map[bool]int{true: 1}[tenant <= legs%3]))
		}
	})
}

// TestPost: payments and credits add to the balance the charges take
// from, once per reference.
func TestPost(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		ctx := context.Background()
		mustInsert(t, s, []cdr.Record{priced("a", 1, money.MustParse("3.25"), "EUR", base)})
		pay := cdrstore.Entry{TenantID: 1, Currency: "eur", Kind: cdrstore.KindPayment, Amount: money.MustParse("100"), Reference: "pay-1"}
		for i, want := range []bool{true, false} {
			ok, err := s.Post(ctx, pay)
			if err != nil || ok != want {
				t.Fatalf("post %d = %v, %v; want %v", i, ok, err, want)
			}
		}
		if ok, err := s.Post(ctx, cdrstore.Entry{TenantID: 1, Currency: "EUR", Kind: cdrstore.KindCredit, Amount: money.MustParse("-0.75")}); err != nil || !ok {
			t.Fatalf("credit = %v, %v", ok, err)
		}
		checkLedger(t, s, 1, "EUR", money.MustParse("96"), 3)
		for _, bad := range []cdrstore.Entry{
			{TenantID: 1, Currency: "EUR", Kind: cdrstore.KindCharge, Amount: 1},
			{TenantID: 0, Currency: "EUR", Kind: cdrstore.KindPayment, Amount: 1},
			{TenantID: 1, Currency: "EURO", Kind: cdrstore.KindPayment, Amount: 1},
			{TenantID: 1, Currency: "EUR", Kind: cdrstore.KindPayment},
		} {
			if _, err := s.Post(ctx, bad); !errors.Is(err, cdrstore.ErrInvalidEntry) {
				t.Errorf("Post(%+v) = %v", bad, err)
			}
		}
		checkLedger(t, s, 1, "EUR", money.MustParse("96"), 3)
	})
}

// TestChargeInMemory: a :memory: SQLite database has one connection; the
// charge and rerate paths must not wait for a second one inside their
// transaction.
func TestChargeInMemory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := newStore(t, db)
	if _, err := s.InsertNew(ctx, []cdr.Record{priced("a", 1, money.MustParse("1"), "EUR", base)}); err != nil {
		t.Fatal(err)
	}
	tf := cdrtest.NewTariffs()
	tf.SetTenant(1, cdrtest.Tariff("v", "EUR", "1=1"))
	if _, err := s.Rerate(ctx, cdrstore.RerateOptions{From: base.Add(-time.Hour), To: base.Add(time.Hour), Tariffs: tf}); err != nil {
		t.Fatal(err)
	}
	checkLedger(t, s, 1, "EUR", 0, 2) // the leg has no billable second: free now, so refunded
}
