package cdrstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// billedCall is a priced call of tenant to group, billsec long.
func billedCall(id string, tenant int64, group string, billsec int, cost string, currency money.Currency, end time.Time) cdr.Record {
	r := priced(id, tenant, money.MustParse(cost), currency, end)
	r.RateGroup, r.Billsec, r.Duration = group, billsec, billsec+5
	r.Start = end.Add(-time.Duration(billsec+5) * time.Second)
	return r
}

func thisMonth() time.Time {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func TestInvoice(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		ctx := context.Background()
		month := thisMonth()
		in := month.Add(36 * time.Hour)
		mustInsert(t, s, []cdr.Record{
			billedCall("m1", 1, "Germany Mobile", 60, "0.10", "EUR", in),
			billedCall("m2", 1, "Germany Mobile", 90, "0.15", "EUR", in.Add(time.Minute)),
			billedCall("m3", 1, "Germany Mobile", 30, "0.053", "EUR", in.Add(2*time.Minute)),
			billedCall("f1", 1, "Germany Fixed", 120, "0.02", "EUR", in.Add(3*time.Minute)),
			billedCall("u1", 1, "", 10, "0.001", "EUR", in.Add(4*time.Minute)),
			// Not on it: last month's, another currency's, another tenant's, a free leg.
			billedCall("old", 1, "Germany Mobile", 60, "5", "EUR", month.Add(-time.Second)),
			billedCall("usd", 1, "Germany Mobile", 60, "7", "USD", in),
			billedCall("other", 2, "Germany Mobile", 60, "9", "EUR", in),
			priced("free", 1, 0, "", in),
		})
		ref := "subscription:7:" + month.Format("2006-01")
		for _, e := range []cdrstore.Entry{
			{TenantID: 1, Currency: "EUR", Kind: cdrstore.KindSubscription, Amount: money.MustParse("-30"), Reference: ref},
			{TenantID: 1, Currency: "EUR", Kind: cdrstore.KindSubscription, Amount: money.MustParse("-30"), Reference: ref}, // once
			{TenantID: 1, Currency: "EUR", Kind: cdrstore.KindPayment, Amount: money.MustParse("50"), Reference: "bank-1"},
		} {
			if _, err := s.Post(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		req := cdrstore.InvoiceRequest{TenantID: 1, Month: in, Currency: "eur", VATPercent: money.MustParse("19"),
			Describe: func(r string) string { return "PBX service " + r[len(r)-7:] }}
		inv, created, err := s.GenerateInvoice(ctx, req)
		if err != nil || !created {
			t.Fatalf("generate: %v %v", created, err)
		}
		want := []cdrstore.InvoiceLine{
			{Kind: cdrstore.LineCalls, Description: "Germany Fixed", Count: 1, Seconds: 120, Amount: money.MustParse("0.02")},
			{Kind: cdrstore.LineCalls, Description: "Germany Mobile", Count: 3, Seconds: 180, Amount: money.MustParse("0.30")},
			{Kind: cdrstore.LineCalls, Description: "other destinations", Count: 1, Seconds: 10, Amount: 0},
			{Kind: cdrstore.LineSubscription, Description: "PBX service " + month.Format("2006-01"), Count: 1, Amount: money.MustParse("30")},
			{Kind: cdrstore.LinePayment, Description: "payment bank-1", Count: 1, Amount: money.MustParse("50")},
		}
		if !slices.Equal(inv.Lines, want) {
			t.Fatalf("lines:\n got %+v\nwant %+v", inv.Lines, want)
		}
		// 0.02 + 0.30 + 0 + 30 = 30.32; VAT 19 % = 5.7608 → 5.76.
		if inv.Number != 1 || inv.Period != month.Format("2006-01") || inv.Subtotal != money.MustParse("30.32") ||
			inv.VAT != money.MustParse("5.76") || inv.Total != money.MustParse("36.08") || inv.Payments != money.MustParse("50") {
			t.Fatalf("invoice = %+v", inv)
		}
		// Stored and immutable: a late call does not change it.
		mustInsert(t, s, []cdr.Record{billedCall("late", 1, "Germany Mobile", 60, "1", "EUR", in.Add(time.Hour))})
		again, created, err := s.GenerateInvoice(ctx, req)
		if err != nil || created || again.Number != 1 || again.Total != inv.Total || !slices.Equal(again.Lines, inv.Lines) {
			t.Fatalf("again: %+v %v %v", again, created, err)
		}
		if !again.IssuedAt.Equal(inv.IssuedAt) {
			t.Fatalf("issued %v, read back %v", inv.IssuedAt, again.IssuedAt)
		}
		byNumber, err := s.InvoiceByNumber(ctx, 1)
		if err != nil || byNumber.TenantID != 1 {
			t.Fatalf("by number: %+v %v", byNumber, err)
		}
		if _, err := s.InvoiceByNumber(ctx, 2); !errors.Is(err, cdrstore.ErrInvoiceNotFound) {
			t.Fatalf("invoice 2: %v", err)
		}
		if _, _, err := s.GenerateInvoice(ctx, cdrstore.InvoiceRequest{TenantID: 1, Month: in, Currency: "E"}); !errors.Is(err, cdrstore.ErrInvalidEntry) {
			t.Fatalf("bad currency: %v", err)
		}
		if _, err := s.InvoiceByNumber(ctx, 2); !errors.Is(err, cdrstore.ErrInvoiceNotFound) {
			t.Fatalf("a refused generation used a number: %v", err)
		}
	})
}

// TestInvoiceNumbersConcurrent: 20 tenants' invoices generated at once,
// each asked for 3 times concurrently, get the numbers 1 to 20, each
// once, one invoice per tenant.
func TestInvoiceNumbersConcurrent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		ctx := context.Background()
		month := thisMonth()
		const tenants = 20
		var recs []cdr.Record
		for i := int64(1); i <= tenants; i++ {
			recs = append(recs, billedCall(fmt.Sprint("c", i), i, "Mobile", 60, "1", "USD", month.Add(time.Hour)))
		}
		mustInsert(t, s, recs)
		var wg sync.WaitGroup
		numbers := make(chan [2]int64, tenants*3)
		for i := int64(1); i <= tenants; i++ {
			for range 3 {
				wg.Go(func() {
					inv, _, err := s.GenerateInvoice(ctx, cdrstore.InvoiceRequest{TenantID: i, Month: month, Currency: "USD"})
					if err != nil {
						t.Error(err)
						return
					}
					numbers <- [2]int64{i, inv.Number}
				})
			}
		}
		wg.Wait()
		close(numbers)
		byTenant := map[int64]int64{}
		for p := range numbers {
			if n, ok := byTenant[p[0]]; ok && n != p[1] {
				t.Errorf("tenant %d got invoices %d and %d", p[0], n, p[1])
			}
			byTenant[p[0]] = p[1]
		}
		all, err := s.Invoices(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != tenants {
			t.Fatalf("%d invoices stored", len(all))
		}
		for i, inv := range all {
			if inv.Number != int64(i+1) || byTenant[inv.TenantID] != inv.Number || inv.Total != money.Unit {
				t.Fatalf("invoice %d: %+v", i, inv)
			}
		}
		mine, err := s.Invoices(ctx, []int64{3, 5})
		if err != nil || len(mine) != 2 {
			t.Fatalf("tenants 3 and 5: %d %v", len(mine), err)
		}
	})
}
