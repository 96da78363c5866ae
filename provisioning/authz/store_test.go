package authz

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// TestBalanceNeverBelowCredit (issue 15: "balance never goes below
// -credit under 100 parallel calls from one account, real store, both
// engines"): a postpaid tenant at -1.00 with a credit limit of 4.00
// places 100 calls at once; each allowed call lasts a random share of its
// authorized time, and its priced CDR is stored through ReleaseOnStore
// (the store books the charge and the call is released), while other
// calls are still being authorized. The balance ends at -4.00 or above,
// and equals the sum of the charges.
func TestBalanceNeverBelowCredit(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := cdrstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		store := cdrstore.NewStore(db)
		if _, err := store.Post(ctx, cdrstore.Entry{TenantID: 1, Currency: "EUR", Kind: cdrstore.KindCredit, Amount: money.MustParse("-1")}); err != nil {
			t.Fatal(err)
		}
		f := &fakeSources{credit: amt("4"), user: Limits{MaxCallSeconds: 30}}
		f.tariff = testTariff(t)
		a := New(f, StoreBalances(store), f, f, nil, Config{})
		w := ReleaseOnStore(store, a)
		var allowed, charged atomic.Int64
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 3 * time.Millisecond) // waves: later calls meet released and booked ones
				id := fmt.Sprintf("c%03d", i)
				d, err := a.Authorize(ctx, call(id))
				if err != nil {
					t.Error(err)
					return
				}
				if !d.Allowed {
					return
				}
				allowed.Add(1)
				secs := (i*7)%d.MaxSeconds + 1
				ch, err := f.tariff.Rate("4930123", time.Now(), secs)
				if err != nil {
					t.Error(err)
					return
				}
				end := time.Now().UTC()
				r := cdrtest.Minimal("fs1", id, "example.com", end)
				r.Direction, r.TenantID, r.Billsec, r.Duration = cdr.DirectionOutbound, ptr(int64(1)), secs, secs+2
				r.Cost, r.Currency, r.RatePrefix, r.Plan = &ch.Cost, "EUR", "49", "test"
				if _, err := w.InsertNew(ctx, []cdr.Record{r}); err != nil {
					t.Error(err)
					return
				}
				charged.Add(int64(ch.Cost))
			})
		}
		wg.Wait()
		bal, _, err := StoreBalances(store).Balance(ctx, 1, "EUR")
		if err != nil {
			t.Fatal(err)
		}
		if bal < money.MustParse("-4") || bal != money.MustParse("-1")-money.Amount(charged.Load()) || a.Live(1, 0) != 0 {
			t.Fatalf("balance %s (charged %s in %d calls), live %d; want ≥ -4 and -1 - charged, none live", bal, money.Amount(charged.Load()), allowed.Load(), a.Live(1, 0))
		}
		t.Logf("%d of 100 calls allowed, charged %s, balance %s (credit limit 4)", allowed.Load(), money.Amount(charged.Load()), bal)
	})
}

func ptr[T any](v T) *T { return &v }

// TestStoreSpendingCostLimit: with StoreSpending, a cost-per-day limit
// counts what the tenant's priced CDRs of today cost: a tenant with 1.00
// a day that spent 0.95 today (and 5.00 yesterday) gets the seconds 0.05
// pays (5 s at 0.60 a minute), and none once today's CDRs reach 1.00.
// The spending is read in the tariff's currency.
func TestStoreSpendingCostLimit(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := cdrstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		store := cdrstore.NewStore(db)
		now := time.Now().UTC()
		f := &fakeSources{tenant: Limits{CostPerDay: money.MustParse("1")}}
		f.tariff = testTariff(t)
		a := New(f, StoreBalances(store), f, f, StoreSpending(store, f, nil), Config{}) // postpaid without a limit: only the cost limit bounds
		put := func(id, cost string, end time.Time) {
			r := cdrtest.Minimal("fs1", id, "example.com", end)
			c := money.MustParse(cost)
			r.Direction, r.TenantID, r.Cost, r.Currency = cdr.DirectionOutbound, ptr(int64(1)), &c, "EUR"
			if _, err := store.InsertNew(ctx, []cdr.Record{r}); err != nil {
				t.Fatal(err)
			}
		}
		put("yesterday", "5", now.Add(-25*time.Hour))
		put("today-1", "0.95", now.Add(-time.Second))
		c := call("first")
		c.UserID = 0
		d, err := a.Authorize(ctx, c)
		if err != nil || !d.Allowed || d.MaxSeconds != 5 {
			t.Fatalf("with 0.05 left today: %+v %v, want 5 s", d, err)
		}
		if err := a.Release("fs1", "first", 0); err != nil {
			t.Fatal(err)
		}
		put("today-2", "0.05", now)
		c.CallID = "second"
		if d, err := a.Authorize(ctx, c); err != nil || d.Allowed || d.Reason != ReasonCostPerDay {
			t.Errorf("with today's limit spent: %+v %v, want cost_per_day", d, err)
		}
	})
}
