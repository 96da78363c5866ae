package cdr

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// pagedQuerier serves recs newest first in pages of pageSize, like Store.
type pagedQuerier struct {
	recs     []Record // newest first
	pageSize int
	calls    int
}

func (p *pagedQuerier) Query(_ context.Context, f Filter) ([]Record, *Cursor, error) {
	p.calls++
	start := 0
	if f.Before != nil {
		start = int(f.Before.ID)
	}
	end := min(start+p.pageSize, len(p.recs))
	var next *Cursor
	if end < len(p.recs) {
		next = &Cursor{ID: int64(end)}
	}
	return p.recs[start:end], next, nil
}

func TestExportCSV(t *testing.T) {
	ans := time.Date(2026, 11, 25, 12, 0, 3, 0, time.UTC)
	var recs []Record
	for i := 0; i < 2500; i++ {
		recs = append(recs, Record{ID: int64(i + 1), Switch: "ast1", CallID: fmt.Sprint("c", i), Direction: DirectionOutbound,
			CallerName: "=HYPERLINK(\"x\")", Start: ans.Add(-3 * time.Second), Answer: &ans, End: ans.Add(time.Minute),
			Duration: 63, Billsec: 60, Disposition: Answered, Cause: 16})
	}
	recs[1].Answer = nil
	recs[0].CallerNumber, recs[0].Dialed = "+4930123456", "-1+1"

	q := &pagedQuerier{recs: recs, pageSize: 1000}
	var buf bytes.Buffer
	flushes := 0
	n, err := ExportCSV(context.Background(), &buf, q, Filter{Limit: 5}, func() { flushes++ })
	if err != nil || n != 2500 {
		t.Fatalf("ExportCSV = %d, %v", n, err)
	}
	if q.calls != 3 || flushes != 3 {
		t.Errorf("%d queries and %d flushes, want 3 pages", q.calls, flushes)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2501 || len(rows[0]) != len(CSVHeader) {
		t.Fatalf("%d rows of %d columns", len(rows), len(rows[0]))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	first := rows[1]
	for name, want := range map[string]string{
		"id": "1", "call_id": "c0", "caller_number": "+4930123456", "dialed": "'-1+1", "caller_name": `'=HYPERLINK("x")`, "answer": "2026-11-25T12:00:03Z",
		"end": "2026-11-25T12:01:03Z", "billsec": "60", "disposition": "ANSWERED", "cause": "16",
	} {
		if got := first[col[name]]; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if rows[2][col["answer"]] != "" {
		t.Errorf("unanswered call has answer %q", rows[2][col["answer"]])
	}
}

// TestCSVRowPrices: the price and supplier price columns, by name: exact
// decimals, empty when there is no price, the reasons as they are.
func TestCSVRowPrices(t *testing.T) {
	cost, supplier := money.MustParse("0.0123"), money.MustParse("0.004")
	for _, tc := range []struct {
		name string
		rec  Record
		want map[string]string
	}{
		{"gateway leg", Record{Cost: new(money.Amount), SupplierCost: &supplier, SupplierCurrency: "EUR", SupplierPrefix: "4930", SupplierPlan: "=carrier"},
			map[string]string{"cost": "0", "currency": "", "supplier_cost": "0.004", "supplier_currency": "EUR", "supplier_prefix": "4930",
				"supplier_plan": "'=carrier", "supplier_unpriced": ""}},
		{"caller leg", Record{Cost: &cost, Currency: "USD", Plan: "retail"},
			map[string]string{"cost": "0.0123", "currency": "USD", "plan": "retail", "supplier_cost": "", "supplier_currency": "", "supplier_unpriced": ""}},
		{"gateway leg without a supplier plan", Record{Unpriced: UnpricedNoPlan, SupplierUnpriced: UnpricedNoPlan},
			map[string]string{"cost": "", "unpriced": "no_plan", "supplier_cost": "", "supplier_unpriced": "no_plan"}},
	} {
		row := CSVRow(&tc.rec)
		if len(row) != len(CSVHeader) {
			t.Fatalf("%s: %d cells for %d columns", tc.name, len(row), len(CSVHeader))
		}
		for i, col := range CSVHeader {
			if want, ok := tc.want[col]; ok && row[i] != want {
				t.Errorf("%s: %s = %q, want %q", tc.name, col, row[i], want)
			}
		}
	}
}
