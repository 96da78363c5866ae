package sqlstore

import (
	"context"
	"fmt"

	"github.com/switchboard-voip/switchboard/provisioning"
)

var _ provisioning.BillingStore = (*Store)(nil)

// TenantBilling returns tenant id's own billing settings.
func (s *Store) TenantBilling(ctx context.Context, tenantID int64) (*provisioning.BillingSettings, error) {
	var b provisioning.BillingSettings
	if err := s.db.GetContext(ctx, &b, s.q(`SELECT tenant_id, mode, credit_limit, currency, vat_percent, updated_at FROM tenant_billing WHERE tenant_id = ?`), tenantID); err != nil {
		return nil, notFound(err, "billing settings of tenant", tenantID)
	}
	utc(&b.UpdatedAt)
	return &b, nil
}

// SetTenantBilling writes (inserts or replaces) b.
func (s *Store) SetTenantBilling(ctx context.Context, b *provisioning.BillingSettings) error {
	now := s.clock()
	var limit any
	if b.CreditLimit != nil {
		limit = int64(*b.CreditLimit)
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO tenant_billing (tenant_id, mode, credit_limit, currency, vat_percent, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET mode = excluded.mode, credit_limit = excluded.credit_limit, currency = excluded.currency,
		vat_percent = excluded.vat_percent, updated_at = excluded.updated_at`),
		b.TenantID, b.Mode, limit, string(b.Currency), int64(b.VATPercent), s.ts(now))
	if err != nil {
		return s.writeErr(ctx, "set billing settings", err, "", "", ref{"tenant_id", "tenant", "tenants", b.TenantID})
	}
	b.UpdatedAt = now
	return nil
}

// BillingLimits lists the settings of prepaid tenants and of postpaid
// ones with a credit limit.
func (s *Store) BillingLimits(ctx context.Context) ([]provisioning.BillingSettings, error) {
	out := []provisioning.BillingSettings{}
	if err := s.db.SelectContext(ctx, &out, `SELECT tenant_id, mode, credit_limit, currency, vat_percent, updated_at FROM tenant_billing
		WHERE credit_limit IS NOT NULL ORDER BY tenant_id`); err != nil {
		return nil, fmt.Errorf("sqlstore: billing limits: %w", err)
	}
	for i := range out {
		utc(&out[i].UpdatedAt)
	}
	return out, nil
}

const subscriptionCols = `b.id, b.tenant_id, b.name, b.did_id, b.amount, b.currency, b.start_date, b.end_date, b.created_at, b.updated_at`

func fixSubscription(b *provisioning.Subscription) { utc(&b.CreatedAt, &b.UpdatedAt) }

// CreateSubscription inserts sub.
func (s *Store) CreateSubscription(ctx context.Context, sub *provisioning.Subscription) error {
	now := s.clock()
	err := s.db.GetContext(ctx, &sub.ID, s.q(`INSERT INTO subscriptions (tenant_id, name, did_id, amount, currency, start_date, end_date, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		sub.TenantID, sub.Name, sub.DIDID, int64(sub.Amount), string(sub.Currency), sub.Start, sub.End, s.ts(now), s.ts(now))
	if err != nil {
		sub.ID = 0
		return s.writeErr(ctx, "create subscription", err, "", "", ref{"tenant_id", "tenant", "tenants", sub.TenantID},
			optRef("did_id", "did", "dids", sub.DIDID))
	}
	sub.CreatedAt, sub.UpdatedAt = now, now
	return nil
}

// Subscription returns subscription id.
func (s *Store) Subscription(ctx context.Context, id int64) (*provisioning.Subscription, error) {
	var b provisioning.Subscription
	if err := s.db.GetContext(ctx, &b, s.q(`SELECT `+subscriptionCols+` FROM subscriptions b WHERE b.id = ?`), id); err != nil {
		return nil, notFound(err, "subscription", id)
	}
	fixSubscription(&b)
	return &b, nil
}

// Subscriptions lists subscriptions matching f in ID order.
func (s *Store) Subscriptions(ctx context.Context, f provisioning.SubscriptionFilter) ([]provisioning.Subscription, error) {
	base := `SELECT ` + subscriptionCols + ` FROM subscriptions b`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = b.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	if f.TenantID != 0 {
		w.and("b.tenant_id = ?", f.TenantID)
	}
	query, args := w.page(base, "b.id", f.Page)
	return list(ctx, s, "subscriptions", query, args, fixSubscription)
}

// UpdateSubscription saves sub.
func (s *Store) UpdateSubscription(ctx context.Context, sub *provisioning.Subscription) error {
	now := s.clock()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE subscriptions SET name = ?, did_id = ?, amount = ?, currency = ?, start_date = ?, end_date = ?, updated_at = ? WHERE id = ?`),
		sub.Name, sub.DIDID, int64(sub.Amount), string(sub.Currency), sub.Start, sub.End, s.ts(now), sub.ID)
	if err != nil {
		return s.writeErr(ctx, fmt.Sprintf("update subscription %d", sub.ID), err, "", "", optRef("did_id", "did", "dids", sub.DIDID))
	}
	if err := oneRow(res, "subscription", sub.ID); err != nil {
		return err
	}
	sub.UpdatedAt = now
	return nil
}

// DeleteSubscription deletes subscription id.
func (s *Store) DeleteSubscription(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM subscriptions WHERE id = ?`), id)
	if err != nil {
		return deleteErr("subscription", id, err)
	}
	return oneRow(res, "subscription", id)
}
