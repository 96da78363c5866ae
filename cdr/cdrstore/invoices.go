package cdrstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// Invoices (migration 0005): one per tenant, month and currency, built
// from the store's own tables in one read-only snapshot: the month's
// priced calls summed by destination group in SQL (a month of a million
// calls is one indexed aggregate, never loaded), its subscription charges
// and its payments from the ledger; then numbered and stored in one short
// write transaction. Once stored an invoice never changes: a
// rerate or a late CDR after it is issued shows on the balance, not on
// the invoice.

// KindSubscription is a subscription's monthly charge (negative), once
// per reference.
const KindSubscription = "subscription"

// Invoice line kinds.
const (
	LineCalls        = "calls"
	LineSubscription = "subscription"
	LinePayment      = "payment"
)

// InvoiceLine is one line of an invoice. Amount is what the tenant owes
// for it (calls, subscriptions), or what it paid (payments), rounded
// half up to the cent; Seconds is the calls' billed time.
type InvoiceLine struct {
	Kind        string       `json:"kind"`
	Description string       `json:"description"`
	Count       int64        `json:"count"`
	Seconds     int64        `json:"seconds"`
	Amount      money.Amount `json:"amount"`
}

// Invoice is a tenant's bill for one month in one currency. Subtotal is
// the sum of its call and subscription lines, VAT the subtotal's
// VATPercent (half up to the cent), Total their sum; Payments sums the
// payment lines, shown but not deducted (they move the balance).
type Invoice struct {
	ID         int64          `json:"id"`
	Number     int64          `json:"number"`
	TenantID   int64          `json:"tenant_id"`
	Period     string         `json:"period"`
	Currency   money.Currency `json:"currency"`
	Lines      []InvoiceLine  `json:"lines"`
	Subtotal   money.Amount   `json:"subtotal"`
	VATPercent money.Amount   `json:"vat_percent"`
	VAT        money.Amount   `json:"vat"`
	Total      money.Amount   `json:"total"`
	Payments   money.Amount   `json:"payments"`
	IssuedAt   time.Time      `json:"issued_at"`
}

// InvoiceRequest asks for tenant TenantID's invoice of the month starting
// at Month (UTC) in Currency, with VATPercent (19 for 19 %). Describe,
// when set, names a subscription line from its ledger reference.
type InvoiceRequest struct {
	TenantID   int64
	Month      time.Time
	Currency   money.Currency
	VATPercent money.Amount
	Describe   func(reference string) string
}

// ErrInvoiceNotFound is an invoice that was never generated.
var ErrInvoiceNotFound = errors.New("cdr: invoice not found")

// cent is what invoice amounts are rounded to.
const cent = money.Unit / 100

// GenerateInvoice returns the tenant's invoice for the month, generating
// and storing it with the next number if it was not yet: created says
// which. Two generations of the same invoice at once store one: the
// loser gets the winner's. The number is allocated in the transaction
// that stores the invoice, so numbers have no gaps.
func (s *Store) GenerateInvoice(ctx context.Context, req InvoiceRequest) (*Invoice, bool, error) {
	if req.TenantID <= 0 {
		return nil, false, fmt.Errorf("%w: tenant_id %d", ErrInvalidEntry, req.TenantID)
	}
	cur, err := money.ParseCurrency(string(req.Currency))
	if err != nil {
		return nil, false, fmt.Errorf("%w: currency: %w", ErrInvalidEntry, err)
	}
	req.Currency = cur
	from := time.Date(req.Month.UTC().Year(), req.Month.UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	period := from.Format("2006-01")
	if inv, err := s.Invoice(ctx, req.TenantID, period, cur); err == nil {
		return inv, false, nil
	} else if !errors.Is(err, ErrInvoiceNotFound) {
		return nil, false, err
	}
	inv, err := s.buildInvoice(ctx, req, from, period)
	if err != nil {
		return nil, false, err
	}
	err = s.storeInvoice(ctx, inv)
	if err != nil && sqldb.IsUniqueViolation(err) {
		// Another generation stored it first: theirs. The failed
		// transaction's number was rolled back with it.
		inv, err = s.Invoice(ctx, req.TenantID, period, cur)
		return inv, false, err
	}
	if err != nil {
		return nil, false, err
	}
	return inv, true, nil
}

// buildInvoice sums the invoice's lines and totals in one read-only
// transaction, a consistent snapshot of the calls and the ledger
// (PostgreSQL: repeatable read; SQLite: a read transaction of WAL), which
// holds no write lock: summing a million calls takes a second, and the
// CDR pipeline goes on writing meanwhile.
func (s *Store) buildInvoice(ctx context.Context, req InvoiceRequest, from time.Time, period string) (*Invoice, error) {
	to := from.AddDate(0, 1, 0)
	var opts *sql.TxOptions
	if s.db.Engine == sqldb.Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cdr: invoice: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to commit
	inv := &Invoice{TenantID: req.TenantID, Period: period, Currency: req.Currency, VATPercent: req.VATPercent, IssuedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.invoiceCalls(ctx, tx, inv, from, to); err != nil {
		return nil, err
	}
	if err := s.invoiceLedger(ctx, tx, inv, req.Describe, from, to); err != nil {
		return nil, err
	}
	if err := inv.total(); err != nil {
		return nil, err
	}
	return inv, nil
}

// storeInvoice numbers inv and stores it, in one transaction: the
// counter's row lock makes concurrent generations take turns, and a
// refusal (the invoice stored meanwhile by another generation: a unique
// violation, returned unwrapped) rolls the number back with it.
func (s *Store) storeInvoice(ctx context.Context, inv *Invoice) error {
	lines, err := json.Marshal(inv.Lines)
	if err != nil {
		return fmt.Errorf("cdr: invoice: %w", err)
	}
	if s.db.Engine == sqldb.SQLite {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cdr: invoice: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := tx.QueryRowContext(ctx, `UPDATE invoice_numbers SET last = last + 1 RETURNING last`).Scan(&inv.Number); err != nil {
		return fmt.Errorf("cdr: invoice: number: %w", err)
	}
	err = tx.QueryRowContext(ctx, s.db.Rebind(`INSERT INTO invoices (number, tenant_id, period, currency, subtotal, vat_percent, vat, total, payments, lines, issued_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		inv.Number, inv.TenantID, inv.Period, string(inv.Currency), int64(inv.Subtotal), int64(inv.VATPercent), int64(inv.VAT),
		int64(inv.Total), int64(inv.Payments), string(lines), s.timeArg(inv.IssuedAt, false)).Scan(&inv.ID)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		if sqldb.IsUniqueViolation(err) {
			return err // unwrapped: GenerateInvoice tests it
		}
		return fmt.Errorf("cdr: invoice: store: %w", err)
	}
	return nil
}

// invoiceCalls adds the month's priced calls in the invoice's currency,
// one line per destination group, summed by the database.
func (s *Store) invoiceCalls(ctx context.Context, tx *sql.Tx, inv *Invoice, from, to time.Time) error {
	rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT rate_group, COUNT(*), CAST(COALESCE(SUM(billsec), 0) AS BIGINT), CAST(COALESCE(SUM(cost), 0) AS BIGINT)
		FROM cdrs WHERE tenant_id = ? AND end_time >= ? AND end_time < ? AND currency = ? AND cost IS NOT NULL
		GROUP BY rate_group`),
		inv.TenantID, s.timeArg(from, false), s.timeArg(to, false), string(inv.Currency))
	if err != nil {
		return fmt.Errorf("cdr: invoice: calls: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		l := InvoiceLine{Kind: LineCalls}
		var cost int64
		if err := rows.Scan(&l.Description, &l.Count, &l.Seconds, &cost); err != nil {
			return fmt.Errorf("cdr: invoice: calls: %w", err)
		}
		if l.Description == "" {
			l.Description = noGroup
		}
		if l.Amount, err = money.Amount(cost).RoundTo(cent, money.HalfUp); err != nil {
			return fmt.Errorf("cdr: invoice: calls: %w", err)
		}
		inv.Lines = append(inv.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cdr: invoice: calls: %w", err)
	}
	// By group name in byte order on both engines (PostgreSQL's ORDER
	// BY follows the database's collation), the ungrouped calls last.
	slices.SortFunc(inv.Lines, func(a, b InvoiceLine) int {
		if (a.Description == noGroup) != (b.Description == noGroup) {
			if a.Description == noGroup {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Description, b.Description)
	})
	return nil
}

// noGroup describes the calls whose rate has no destination group.
const noGroup = "other destinations"

// invoiceLedger adds the month's subscription charges (by their
// reference's month) and the payments booked in the month.
func (s *Store) invoiceLedger(ctx context.Context, tx *sql.Tx, inv *Invoice, describe func(string) string, from, to time.Time) error {
	rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT kind, reference, amount FROM ledger
		WHERE tenant_id = ? AND currency = ? AND ((kind = ? AND reference LIKE ?) OR (kind = ? AND created_at >= ? AND created_at < ?))
		ORDER BY id`),
		inv.TenantID, string(inv.Currency), KindSubscription, "subscription:%:"+inv.Period, KindPayment, s.timeArg(from, false), s.timeArg(to, false))
	if err != nil {
		return fmt.Errorf("cdr: invoice: ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, ref string
		var amount int64
		if err := rows.Scan(&kind, &ref, &amount); err != nil {
			return fmt.Errorf("cdr: invoice: ledger: %w", err)
		}
		l := InvoiceLine{Kind: LinePayment, Count: 1, Description: "payment " + ref}
		a := money.Amount(amount)
		if kind == KindSubscription {
			l.Kind, a = LineSubscription, -a
			l.Description = ref
			if describe != nil {
				if d := describe(ref); d != "" {
					l.Description = d
				}
			}
		} else if ref == "" {
			l.Description = "payment"
		}
		if l.Amount, err = a.RoundTo(cent, money.HalfUp); err != nil {
			return fmt.Errorf("cdr: invoice: ledger: %w", err)
		}
		inv.Lines = append(inv.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cdr: invoice: ledger: %w", err)
	}
	return nil
}

// total computes the subtotal (of the lines as rounded, so that the
// invoice adds up as printed), VAT, total and payments.
func (inv *Invoice) total() error {
	var err error
	for _, l := range inv.Lines {
		if l.Kind == LinePayment {
			if inv.Payments, err = inv.Payments.Add(l.Amount); err != nil {
				return fmt.Errorf("cdr: invoice: %w", err)
			}
			continue
		}
		if inv.Subtotal, err = inv.Subtotal.Add(l.Amount); err != nil {
			return fmt.Errorf("cdr: invoice: %w", err)
		}
	}
	vat, err := inv.Subtotal.MulDiv(int64(inv.VATPercent), 100*int64(money.Unit), money.HalfUp)
	if err != nil {
		return fmt.Errorf("cdr: invoice: VAT: %w", err)
	}
	if inv.VAT, err = vat.RoundTo(cent, money.HalfUp); err != nil {
		return fmt.Errorf("cdr: invoice: VAT: %w", err)
	}
	if inv.Total, err = inv.Subtotal.Add(inv.VAT); err != nil {
		return fmt.Errorf("cdr: invoice: %w", err)
	}
	return nil
}

const invoiceCols = `id, number, tenant_id, period, currency, subtotal, vat_percent, vat, total, payments, lines, issued_at`

// Invoice returns the tenant's stored invoice for period (YYYY-MM) in
// currency, or ErrInvoiceNotFound.
func (s *Store) Invoice(ctx context.Context, tenantID int64, period string, currency money.Currency) (*Invoice, error) {
	invs, err := s.invoices(ctx, `tenant_id = ? AND period = ? AND currency = ?`, tenantID, period, string(currency))
	if err != nil {
		return nil, err
	}
	if len(invs) == 0 {
		return nil, ErrInvoiceNotFound
	}
	return &invs[0], nil
}

// InvoiceByNumber returns the invoice with number n, or ErrInvoiceNotFound.
func (s *Store) InvoiceByNumber(ctx context.Context, n int64) (*Invoice, error) {
	invs, err := s.invoices(ctx, `number = ?`, n)
	if err != nil {
		return nil, err
	}
	if len(invs) == 0 {
		return nil, ErrInvoiceNotFound
	}
	return &invs[0], nil
}

// Invoices lists the invoices of the tenants in tenantIDs (nil: every
// tenant), by number.
func (s *Store) Invoices(ctx context.Context, tenantIDs []int64) ([]Invoice, error) {
	if tenantIDs == nil {
		return s.invoices(ctx, `1 = 1`)
	}
	if len(tenantIDs) == 0 {
		return []Invoice{}, nil
	}
	args := make([]any, len(tenantIDs))
	for i, id := range tenantIDs {
		args[i] = id
	}
	return s.invoices(ctx, `tenant_id IN (?`+strings.Repeat(", ?", len(tenantIDs)-1)+`)`, args...)
}

// invoices reads the invoices matching cond (a constant of this file).
func (s *Store) invoices(ctx context.Context, cond string, args ...any) ([]Invoice, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+invoiceCols+` FROM invoices WHERE `+cond+` ORDER BY number`), args...)
	if err != nil {
		return nil, fmt.Errorf("cdr: invoices: %w", err)
	}
	defer rows.Close()
	out := []Invoice{}
	for rows.Next() {
		var inv Invoice
		var lines string
		var at dbTime
		if err := rows.Scan(&inv.ID, &inv.Number, &inv.TenantID, &inv.Period, &inv.Currency, &inv.Subtotal, &inv.VATPercent, &inv.VAT,
			&inv.Total, &inv.Payments, &lines, &at); err != nil {
			return nil, fmt.Errorf("cdr: invoices: %w", err)
		}
		if err := json.Unmarshal([]byte(lines), &inv.Lines); err != nil {
			return nil, fmt.Errorf("cdr: invoice %d: lines: %w", inv.Number, err)
		}
		inv.IssuedAt = at.t
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cdr: invoices: %w", err)
	}
	return out, nil
}
