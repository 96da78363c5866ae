package cdrstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// Balance is a tenant's running balance in one currency: the sum of its
// ledger entries. Negative means the tenant owes it.
type Balance struct {
	TenantID  int64
	Currency  money.Currency
	Balance   money.Amount
	UpdatedAt time.Time
}

// Balances returns the tenant's balances, one per currency it was charged
// or paid in, by currency.
func (s *Store) Balances(ctx context.Context, tenantID int64) ([]Balance, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT currency, balance, updated_at FROM balances WHERE tenant_id = ? ORDER BY currency`), tenantID)
	if err != nil {
		return nil, fmt.Errorf("cdr: balances: %w", err)
	}
	defer rows.Close()
	var out []Balance
	for rows.Next() {
		b := Balance{TenantID: tenantID}
		var at dbTime
		if err := rows.Scan(&b.Currency, &b.Balance, &at); err != nil {
			return nil, fmt.Errorf("cdr: balances: %w", err)
		}
		b.UpdatedAt = at.t
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cdr: balances: %w", err)
	}
	return out, nil
}

// Entry is a ledger entry posted directly: a payment or a credit.
type Entry struct {
	TenantID int64
	Currency money.Currency
	Kind     string // KindPayment, KindCredit or KindSubscription
	Amount   money.Amount
	// Reference, when set, makes the entry once-only per tenant and
	// kind: a payment posted again with the same reference (a retried
	// request, a provider's notification sent twice) is not booked again.
	Reference string
}

// ErrInvalidEntry is an entry Post refuses, naming the field.
var ErrInvalidEntry = errors.New("cdr: invalid ledger entry")

// Post books e and adds it to its balance, in one transaction. It
// returns false, having changed nothing, when e's reference is booked
// already.
func (s *Store) Post(ctx context.Context, e Entry) (bool, error) {
	switch {
	case e.Kind != KindPayment && e.Kind != KindCredit && e.Kind != KindSubscription:
		return false, fmt.Errorf("%w: kind %q is not %s, %s or %s", ErrInvalidEntry, e.Kind, KindPayment, KindCredit, KindSubscription)
	case e.Kind == KindSubscription && e.Reference == "":
		return false, fmt.Errorf("%w: a subscription charge needs its reference", ErrInvalidEntry)
	case e.TenantID <= 0:
		return false, fmt.Errorf("%w: tenant_id %d", ErrInvalidEntry, e.TenantID)
	case e.Amount == 0:
		return false, fmt.Errorf("%w: amount is 0", ErrInvalidEntry)
	}
	if c, err := money.ParseCurrency(string(e.Currency)); err != nil {
		return false, fmt.Errorf("%w: currency: %w", ErrInvalidEntry, err)
	} else {
		e.Currency = c
	}
	if s.db.Engine == sqldb.SQLite {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("cdr: post: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	now := time.Now().UTC()
	at := s.timeArg(now, false)
	res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO ledger (tenant_id, currency, kind, amount, reference, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`), e.TenantID, string(e.Currency), e.Kind, int64(e.Amount), e.Reference, at)
	if err != nil {
		return false, fmt.Errorf("cdr: post: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO balances (tenant_id, currency, balance, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, currency) DO UPDATE SET balance = balances.balance + excluded.balance, updated_at = excluded.updated_at`),
		e.TenantID, string(e.Currency), int64(e.Amount), at); err != nil {
		return false, fmt.Errorf("cdr: post: balance: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("cdr: post: commit: %w", err)
	}
	return true, nil
}

// LedgerSum returns the sum of the tenant's ledger entries in currency:
// what its balance must be. For audits and tests.
func (s *Store) LedgerSum(ctx context.Context, tenantID int64, currency money.Currency) (money.Amount, int64, error) {
	var sum, n int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT), COUNT(*) FROM ledger WHERE tenant_id = ? AND currency = ?`),
		tenantID, string(currency)).Scan(&sum, &n)
	if err != nil {
		return 0, 0, fmt.Errorf("cdr: ledger: %w", err)
	}
	return money.Amount(sum), n, nil
}
