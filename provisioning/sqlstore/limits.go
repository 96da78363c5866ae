package sqlstore

import (
	"context"
	"fmt"

	"github.com/switchboard-voip/switchboard/provisioning"
)

const limitCols = `l.id, l.tenant_id, l.user_id, l.concurrent_calls, l.calls_per_minute, l.cost_per_hour, l.cost_per_day, l.cost_per_month, l.max_call_seconds, l.created_at, l.updated_at`

func fixLimit(l *provisioning.Limit) { utc(&l.CreatedAt, &l.UpdatedAt) }

// CreateLimit inserts l; a second limit of the tenant (or user) is a
// conflict.
func (s *Store) CreateLimit(ctx context.Context, l *provisioning.Limit) error {
	now := s.clock()
	err := s.db.GetContext(ctx, &l.ID, s.q(`INSERT INTO limits (tenant_id, user_id, concurrent_calls, calls_per_minute, cost_per_hour, cost_per_day, cost_per_month, max_call_seconds, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		l.TenantID, l.UserID, l.ConcurrentCalls, l.CallsPerMinute, int64(l.CostPerHour), int64(l.CostPerDay), int64(l.CostPerMonth), l.MaxCallSeconds, s.ts(now), s.ts(now))
	if err != nil {
		l.ID = 0
		return s.writeErr(ctx, "create limit", err, "user_id", "the tenant (or user) has a limit already: update it",
			ref{"tenant_id", "tenant", "tenants", l.TenantID}, optRef("user_id", "user", "users", l.UserID))
	}
	l.CreatedAt, l.UpdatedAt = now, now
	return nil
}

// Limit returns limit id.
func (s *Store) Limit(ctx context.Context, id int64) (*provisioning.Limit, error) {
	var l provisioning.Limit
	if err := s.db.GetContext(ctx, &l, s.q(`SELECT `+limitCols+` FROM limits l WHERE l.id = ?`), id); err != nil {
		return nil, notFound(err, "limit", id)
	}
	fixLimit(&l)
	return &l, nil
}

// Limits lists limits matching f in ID order.
func (s *Store) Limits(ctx context.Context, f provisioning.LimitFilter) ([]provisioning.Limit, error) {
	base := `SELECT ` + limitCols + ` FROM limits l`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = l.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	if f.TenantID != 0 {
		w.and("l.tenant_id = ?", f.TenantID)
	}
	if f.UserID != 0 {
		w.and("l.user_id = ?", f.UserID)
	}
	if f.TenantOnly {
		w.and("l.user_id IS NULL")
	}
	query, args := w.page(base, "l.id", f.Page)
	return list(ctx, s, "limits", query, args, fixLimit)
}

// UpdateLimit saves the limit's values.
func (s *Store) UpdateLimit(ctx context.Context, l *provisioning.Limit) error {
	now := s.clock()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE limits SET concurrent_calls = ?, calls_per_minute = ?, cost_per_hour = ?, cost_per_day = ?, cost_per_month = ?,
		max_call_seconds = ?, updated_at = ? WHERE id = ?`),
		l.ConcurrentCalls, l.CallsPerMinute, int64(l.CostPerHour), int64(l.CostPerDay), int64(l.CostPerMonth), l.MaxCallSeconds, s.ts(now), l.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update limit %d: %w", l.ID, err)
	}
	if err := oneRow(res, "limit", l.ID); err != nil {
		return err
	}
	l.UpdatedAt = now
	return nil
}

// DeleteLimit deletes limit id.
func (s *Store) DeleteLimit(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM limits WHERE id = ?`), id)
	if err != nil {
		return deleteErr("limit", id, err)
	}
	return oneRow(res, "limit", id)
}
