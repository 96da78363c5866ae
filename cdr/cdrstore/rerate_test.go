package cdrstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// call returns an answered outbound leg of tenant to dialed, of secs
// seconds, ending at end.
func call(id string, tenant int64, dialed string, secs int, end time.Time) cdr.Record {
	r := leg("pbx1", id, "example.com", end)
	r.Direction, r.TenantID, r.Dialed, r.Duration, r.Billsec = cdr.DirectionOutbound, owner(tenant), dialed, secs, secs
	return r
}

// failingAfter is a tariff source that fails every lookup after the
// first n.
type failingAfter struct {
	cdr.Tariffs
	n atomic.Int64
}

func (f *failingAfter) TenantTariff(ctx context.Context, tenant int64) (*rating.Tariff, error) {
	if f.n.Add(-1) < 0 {
		return nil, errors.New("connection refused")
	}
	return f.Tariffs.TenantTariff(ctx, tenant)
}

// TestRerate: a plan change re-rated over a period updates the CDRs of
// the period only and books the difference on each owner's balance; a
// second run changes nothing; a run stopped half-way by a failing tariff
// lookup and run again books each difference once; a change of currency
// refunds in the old one and charges in the new one; a tenant's run
// touches that tenant only. On both engines, the balance always equals
// the ledger's sum.
func TestRerate(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		ctx := context.Background()
		tf := cdrtest.NewTariffs()
		tf.SetTenant(1, cdrtest.Tariff("v1", "USD", "1=0.6"))
		tf.SetTenant(2, cdrtest.Tariff("v1", "USD", "1=0.6"))
		from := base.Truncate(24 * time.Hour)
		to := from.Add(48 * time.Hour)
		var recs []cdr.Record
		// 60 calls of each tenant in the period, 10 s to 69 s (0.1 to
		// 0.69 USD at 0.6 a minute), over two days; 5 each before it.
		for i := range 60 {
			for tenant := int64(1); tenant <= 2; tenant++ {
				recs = append(recs, call(fmt.Sprintf("in-%d-%d", tenant, i), tenant, "12125550100", 10+i, from.Add(time.Duration(i)*40*time.Minute)))
			}
		}
		for i := range 5 {
			for tenant := int64(1); tenant <= 2; tenant++ {
				recs = append(recs, call(fmt.Sprintf("before-%d-%d", tenant, i), tenant, "12125550100", 60, from.Add(-time.Hour)))
			}
		}
		noRate := call("norate", 1, "4930123", 60, from.Add(time.Hour))
		recs = append(recs, noRate)
		if err := cdr.PriceRecords(ctx, tf, recs); err != nil {
			t.Fatal(err)
		}
		mustInsert(t, s, recs)
		// 0.1 + … + 0.69 = 23.7, and 5 × 0.6 = 3 before.
		checkLedger(t, s, 1, "USD", -money.MustParse("26.7"), 65)
		checkLedger(t, s, 2, "USD", -money.MustParse("26.7"), 65)

		// Tenant 1's price doubles, and 49 gets a rate.
		tf.SetTenant(1, cdrtest.Tariff("v2", "USD", "1=1.2", "49=0.6"))
		// The first run fails after its fourth lookup: pages of 10 CDRs,
		// two tenants a page, so after two pages.
		flaky := &failingAfter{Tariffs: tf}
		flaky.n.Store(4)
		var pages int
		pr, err := s.Rerate(ctx, cdrstore.RerateOptions{From: from, To: to, Tariffs: flaky, PageSize: 10,
			Progress: func(cdrstore.RerateProgress) { pages++ }})
		if err == nil || pages != 2 || pr.Examined != 20 || pr.Total != 121 {
			t.Fatalf("first run: %d pages, %+v, %v; want a failure after 2 pages of 121 CDRs", pages, pr, err)
		}
		sum1, _, _ := s.LedgerSum(ctx, 1, "USD")
		if b := balanceOf(t, s, 1, "USD"); b != sum1 || b == -money.MustParse("26.7") {
			t.Fatalf("after the interrupted run, balance %s, ledger %s: the done pages must be booked", b, sum1)
		}
		// Run again, whole: the rest is re-rated, the done pages not again.
		pr, err = s.Rerate(ctx, cdrstore.RerateOptions{From: from, To: to, Tariffs: tf, PageSize: 10})
		if err != nil || pr.Examined != 121 {
			t.Fatalf("second run: %+v, %v", pr, err)
		}
		// Tenant 1: 47.4 in the period, 3 before, and the call to 49
		// (60 s at 0.6 a minute) 0.6.
		checkLedger(t, s, 1, "USD", -money.MustParse("51"), 65+61)
		checkLedger(t, s, 2, "USD", -money.MustParse("26.7"), 65)
		// A third run changes nothing.
		pr, err = s.Rerate(ctx, cdrstore.RerateOptions{From: from, To: to, Tariffs: tf})
		if err != nil || pr.Changed != 0 || len(pr.Adjusted) != 0 {
			t.Fatalf("third run: %+v, %v", pr, err)
		}
		checkLedger(t, s, 1, "USD", -money.MustParse("51"), 126)
		got, _, err := s.Query(ctx, cdr.Filter{ID: mustID(t, s, "in-1-0")})
		if err != nil || len(got) != 1 || got[0].Cost == nil || *got[0].Cost != money.MustParse("0.2") || got[0].Plan != "v2" {
			t.Fatalf("in-1-0 after rerate: %+v, %v", got, err)
		}
		got, _, _ = s.Query(ctx, cdr.Filter{ID: mustID(t, s, "norate")})
		if got[0].Cost == nil || *got[0].Cost != money.MustParse("0.6") || got[0].Unpriced != "" || got[0].RatePrefix != "49" {
			t.Errorf("norate after rerate: cost %v unpriced %q prefix %q", got[0].Cost, got[0].Unpriced, got[0].RatePrefix)
		}

		// Tenant 2 moves to a plan in EUR; only tenant 2 is re-rated.
		tf.SetTenant(2, cdrtest.Tariff("euro", "EUR", "1=0.6"))
		tf.SetTenant(1, cdrtest.Tariff("v3", "USD", "1=6"))
		pr, err = s.Rerate(ctx, cdrstore.RerateOptions{From: from, To: to, TenantID: 2, Tariffs: tf})
		if err != nil || pr.Total != 60 || pr.Changed != 60 {
			t.Fatalf("tenant run: %+v, %v", pr, err)
		}
		if pr.Adjusted["USD"] != money.MustParse("23.7") || pr.Adjusted["EUR"] != -money.MustParse("23.7") {
			t.Errorf("tenant run adjusted %v", pr.Adjusted)
		}
		checkLedger(t, s, 2, "USD", -money.MustParse("3"), 65+60)
		checkLedger(t, s, 2, "EUR", -money.MustParse("23.7"), 60)
		checkLedger(t, s, 1, "USD", -money.MustParse("51"), 126)

		// A tariff change to "no rate" refunds and keeps the reason.
		tf.SetTenant(2, cdrtest.Tariff("euro", "EUR", "7=1"))
		if _, err := s.Rerate(ctx, cdrstore.RerateOptions{From: from, To: to, TenantID: 2, Tariffs: tf}); err != nil {
			t.Fatal(err)
		}
		checkLedger(t, s, 2, "EUR", 0, 120)
		got, _, _ = s.Query(ctx, cdr.Filter{ID: mustID(t, s, "in-2-5")})
		if got[0].Cost != nil || got[0].Unpriced != cdr.UnpricedNoRate {
			t.Errorf("in-2-5: cost %v unpriced %q", got[0].Cost, got[0].Unpriced)
		}

		for _, bad := range []cdrstore.RerateOptions{{From: to, To: from, Tariffs: tf}, {From: from, To: to}, {To: to, Tariffs: tf}} {
			if _, err := s.Rerate(ctx, bad); !errors.Is(err, cdrstore.ErrRerate) {
				t.Errorf("Rerate(%+v) = %v", bad, err)
			}
		}
	})
}

// mustID returns the id of the CDR with call id callID.
func mustID(t testing.TB, s *cdrstore.Store, callID string) int64 {
	t.Helper()
	recs, next, err := s.Query(context.Background(), cdr.Filter{Limit: cdr.MaxLimit})
	for err == nil {
		for _, r := range recs {
			if r.CallID == callID {
				return r.ID
			}
		}
		if next == nil {
			break
		}
		recs, next, err = s.Query(context.Background(), cdr.Filter{Limit: cdr.MaxLimit, Before: next})
	}
	t.Fatalf("no CDR %s (%v)", callID, err)
	return 0
}

// TestRerateConcurrentRuns: four runs over one period at once each read
// every CDR, but each CDR's difference is booked once (the others find
// its price changed under them and skip it): the balance is the new
// costs' sum exactly.
func TestRerateConcurrentRuns(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		ctx := context.Background()
		tf := cdrtest.NewTariffs()
		tf.SetTenant(1, cdrtest.Tariff("v1", "USD", "1=0.6"))
		from := base.Truncate(24 * time.Hour)
		var recs []cdr.Record
		for i := range 600 {
			recs = append(recs, call(fmt.Sprint("c", i), 1, "12125550100", 60, from.Add(time.Duration(i)*time.Minute)))
		}
		if err := cdr.PriceRecords(ctx, tf, recs); err != nil {
			t.Fatal(err)
		}
		mustInsert(t, s, recs)
		tf.SetTenant(1, cdrtest.Tariff("v2", "USD", "1=1.2"))
		results := make([]cdrstore.RerateProgress, 4)
		errs := make([]error, 4)
		done := make(chan struct{})
		for k := range results {
			go func() {
				defer func() { done <- struct{}{} }()
				results[k], errs[k] = s.Rerate(ctx, cdrstore.RerateOptions{From: from, To: from.Add(24 * time.Hour), Tariffs: tf, PageSize: 50})
			}()
		}
		for range results {
			<-done
		}
		var changed, skipped int64
		for k := range results {
			if errs[k] != nil {
				t.Fatal(errs[k])
			}
			changed += results[k].Changed
			skipped += results[k].Skipped
		}
		if changed != 600 {
			t.Errorf("%d changed by all runs (%d skipped), want 600", changed, skipped)
		}
		checkLedger(t, s, 1, "USD", -money.MustParse("720"), 1200)
	})
}
