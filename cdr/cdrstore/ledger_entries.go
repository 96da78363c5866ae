package cdrstore

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// LedgerEntry is one stored ledger entry.
type LedgerEntry struct {
	ID        int64          `json:"id"`
	TenantID  int64          `json:"tenant_id"`
	Currency  money.Currency `json:"currency"`
	Kind      string         `json:"kind"`
	Amount    money.Amount   `json:"amount"`
	Switch    string         `json:"switch,omitempty"`
	CallID    string         `json:"call_id,omitempty"`
	Reference string         `json:"reference,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

// LedgerFilter selects a tenant's ledger entries: of Kind ("" any), after
// entry After, at most Limit (1 to 1000), in ID order.
type LedgerFilter struct {
	TenantID int64
	Kind     string
	After    int64
	Limit    int
}

// PostSubscription books a subscription's charge (amount negative) once
// per reference: provisioning.SubscriptionLedger.
func (s *Store) PostSubscription(ctx context.Context, tenantID int64, currency money.Currency, amount money.Amount, reference string) (bool, error) {
	return s.Post(ctx, Entry{TenantID: tenantID, Currency: currency, Kind: KindSubscription, Amount: amount, Reference: reference})
}

// Ledger lists the entries f selects.
func (s *Store) Ledger(ctx context.Context, f LedgerFilter) ([]LedgerEntry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	q := `SELECT id, tenant_id, currency, kind, amount, switch, call_id, reference, created_at FROM ledger WHERE tenant_id = ? AND id > ?`
	args := []any{f.TenantID, f.After}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("cdr: ledger: %w", err)
	}
	defer rows.Close()
	out := []LedgerEntry{}
	for rows.Next() {
		var e LedgerEntry
		var at dbTime
		if err := rows.Scan(&e.ID, &e.TenantID, &e.Currency, &e.Kind, &e.Amount, &e.Switch, &e.CallID, &e.Reference, &at); err != nil {
			return nil, fmt.Errorf("cdr: ledger: %w", err)
		}
		e.CreatedAt = at.t
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cdr: ledger: %w", err)
	}
	return out, nil
}
