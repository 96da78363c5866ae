package cdrstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// AccountRef names a SIP account as CDRs do: its domain and username.
type AccountRef struct{ Domain, Username string }

// Spent sums the cost of tenant's priced CDRs that ended at or after
// since, in currency: what the real-time authorizer's cost limits count
// (cost per hour, day, month). With accounts, only the legs of those
// accounts count (a user's); an empty, non-nil accounts counts nothing.
// It reads the (tenant_id, end_time) index: one aggregate, whatever the
// number of calls.
func (s *Store) Spent(ctx context.Context, tenantID int64, currency money.Currency, since time.Time, accounts []AccountRef) (money.Amount, error) {
	if accounts != nil && len(accounts) == 0 {
		return 0, nil
	}
	q := `SELECT SUM(cost) FROM cdrs WHERE tenant_id = ? AND end_time >= ? AND cost IS NOT NULL AND currency = ?`
	args := []any{tenantID, s.timeArg(since, true), string(currency)}
	if len(accounts) > 0 {
		ors := make([]string, len(accounts))
		for i, a := range accounts {
			ors[i] = "(domain = ? AND account = ?)"
			args = append(args, a.Domain, a.Username)
		}
		q += " AND (" + strings.Join(ors, " OR ") + ")"
	}
	var sum sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.db.Rebind(q), args...).Scan(&sum); err != nil {
		return 0, fmt.Errorf("cdr: spent by tenant %d: %w", tenantID, err)
	}
	return money.Amount(sum.Int64), nil
}
