package cdr

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// CSVHeader is the header row of every CSV export (API and CLI), in column
// order. Times are RFC 3339 in UTC; an unanswered call has an empty answer.
// The price columns come last, so that scripts reading the columns before
// them by position go on working: cost is the exact decimal ("0.0123"),
// empty when the leg is not priced (unpriced then says why); the supplier
// price columns come after them, for the same reason, supplier_cost empty
// on a leg without one.
var CSVHeader = []string{
	"id", "switch", "call_id", "linked_id", "direction", "domain", "account", "gateway",
	"caller_number", "caller_name", "dialed", "destination",
	"start", "answer", "end", "duration", "billsec",
	"disposition", "cause", "cause_text", "sip_status", "codec", "user_agent",
	"cost", "currency", "rate_prefix", "rate_destination", "rate_group", "plan", "unpriced",
	"supplier_cost", "supplier_currency", "supplier_prefix", "supplier_plan", "supplier_unpriced",
}

// CSVRow renders r in CSVHeader's order. Text a spreadsheet would run as a
// formula (starting with = + - @, tab or carriage return) gets a leading
// apostrophe: caller names come from outside and must not execute in the
// billing clerk's spreadsheet. A plain number with a sign (+4930123456) is
// left alone: it cannot run, and billing scripts read E.164 numbers.
func CSVRow(r *Record) []string {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	answer := ""
	if r.Answer != nil {
		answer = ts(*r.Answer)
	}
	amount := func(a *money.Amount) string {
		if a == nil {
			return ""
		}
		return a.String()
	}
	return []string{
		strconv.FormatInt(r.ID, 10), safeCell(r.Switch), safeCell(r.CallID), safeCell(r.LinkedID),
		string(r.Direction), safeCell(r.Domain), safeCell(r.Account), safeCell(r.Gateway),
		safeCell(r.CallerNumber), safeCell(r.CallerName), safeCell(r.Dialed), safeCell(r.Destination),
		ts(r.Start), answer, ts(r.End), strconv.Itoa(r.Duration), strconv.Itoa(r.Billsec),
		string(r.Disposition), strconv.Itoa(r.Cause), safeCell(r.CauseText), strconv.Itoa(r.SIPStatus),
		safeCell(r.Codec), safeCell(r.UserAgent),
		amount(r.Cost), string(r.Currency), safeCell(r.RatePrefix), safeCell(r.RateDestination), safeCell(r.RateGroup),
		safeCell(r.Plan), string(r.Unpriced),
		amount(r.SupplierCost), string(r.SupplierCurrency), safeCell(r.SupplierPrefix), safeCell(r.SupplierPlan), string(r.SupplierUnpriced),
	}
}

func safeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '+', '-':
		if allDigits(s[1:]) { // an E.164 number is data, not a formula
			return s
		}
		return "'" + s
	case '=', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Querier is what ExportCSV reads from (*Store).
type Querier interface {
	Query(ctx context.Context, f Filter) ([]Record, *Cursor, error)
}

// ExportCSV writes every CDR matching f (its Before and Limit are ignored)
// to w as CSV with a header row, newest first, a page at a time, so memory
// stays flat however many rows match. flush, if not nil, is called after
// each page so a streaming HTTP response makes progress. It returns the
// number of rows written.
func ExportCSV(ctx context.Context, w io.Writer, q Querier, f Filter, flush func()) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, fmt.Errorf("cdr: export: %w", err)
	}
	f.Before, f.Limit = nil, MaxLimit
	n := 0
	for {
		recs, next, err := q.Query(ctx, f)
		if err != nil {
			return n, fmt.Errorf("cdr: export: %w", err)
		}
		for i := range recs {
			if err := cw.Write(CSVRow(&recs[i])); err != nil {
				return n, fmt.Errorf("cdr: export: %w", err)
			}
			n++
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, fmt.Errorf("cdr: export: %w", err)
		}
		if flush != nil {
			flush()
		}
		if next == nil {
			return n, nil
		}
		f.Before = next
	}
}
