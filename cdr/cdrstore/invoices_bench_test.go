package cdrstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// BenchmarkInvoiceMillionCalls times the invoice of a tenant with
// 1,000,000 priced calls in the month (20 destination groups), among
// 100,000 calls of other tenants, on SQLite on disk: the calls are summed
// by the database (one aggregate over the (tenant_id, end_time) index),
// never loaded, so memory stays flat however many calls there are.
// SWITCHBOARD_BENCH_INVOICE_CALLS changes the count.
func BenchmarkInvoiceMillionCalls(b *testing.B) {
	calls := 1_000_000
	if v := os.Getenv("SWITCHBOARD_BENCH_INVOICE_CALLS"); v != "" {
		calls, _ = strconv.Atoi(v)
	}
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "invoice.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := newStore(b, db)
	month := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	step := 30 * 24 * time.Hour / time.Duration(calls+calls/10)
	cost := money.MustParse("0.0123")
	start := time.Now()
	batch := make([]cdr.Record, 0, 10000)
	flush := func() {
		if _, err := s.Insert(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range calls + calls/10 {
		tenant := int64(1)
		if i%11 == 10 {
			tenant = 2 + int64(i%7)
		}
		r := cdrtest.Call(i, "example.com", month.Add(time.Duration(i)*step+time.Second), tenant)
		r.Raw = nil
		r.Cost, r.Currency, r.Plan, r.RatePrefix, r.RateGroup = &cost, "EUR", "retail", "49", fmt.Sprintf("group %02d", i%20)
		batch = append(batch, r)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cdrs WHERE tenant_id = 1`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d calls of the tenant (%d in all) in %v", n, calls+calls/10, time.Since(start).Round(time.Second))
	b.ResetTimer()
	b.ReportAllocs()
	for b.Loop() {
		inv, created, err := s.GenerateInvoice(ctx, cdrstore.InvoiceRequest{TenantID: 1, Month: month, Currency: "EUR", VATPercent: money.MustParse("20")})
		if err != nil || !created {
			b.Fatalf("generate: %v %v", created, err)
		}
		var got int64
		for _, l := range inv.Lines {
			got += l.Count
		}
		if got != n || len(inv.Lines) != 20 {
			b.Fatalf("invoice counts %d calls in %d lines, want %d in 20", got, len(inv.Lines), n)
		}
		b.StopTimer()
		if _, err := db.ExecContext(ctx, `DELETE FROM invoices`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
