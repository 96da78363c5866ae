package sqlstore

import (
	"context"
	"fmt"

	"github.com/switchboard-voip/switchboard/provisioning"
)

const didCols = `n.id, n.tenant_id, n.number, n.account_id, n.dest_kind, n.dest_id, n.dest_number, n.description, n.record, n.created_at, n.updated_at`

func fixDID(d *provisioning.DID) { utc(&d.CreatedAt, &d.UpdatedAt); d.LoadDestination() }

func (s *Store) didWriteErr(ctx context.Context, op string, err error, d *provisioning.DID) error {
	return s.writeErr(ctx, op, err, "number", fmt.Sprintf("DID %s already exists", d.Number),
		ref{"tenant_id", "tenant", "tenants", d.TenantID}, optRef("account_id", "account", "accounts", d.AccountID))
}

// CreateDID inserts d and sets its ID and timestamps.
func (s *Store) CreateDID(ctx context.Context, d *provisioning.DID) error {
	now := s.clock()
	var id int64
	d.StoreDestination()
	if err := s.db.GetContext(ctx, &id, s.q(`INSERT INTO dids (tenant_id, number, account_id, dest_kind, dest_id, dest_number, description, record, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		d.TenantID, d.Number, d.AccountID, d.DestKind, d.DestID, d.DestNumber, d.Description, d.Record, s.ts(now), s.ts(now)); err != nil {
		return s.didWriteErr(ctx, "create DID", err, d)
	}
	d.ID, d.CreatedAt, d.UpdatedAt = id, now, now
	d.LoadDestination()
	return nil
}

// DID returns DID id.
func (s *Store) DID(ctx context.Context, id int64) (*provisioning.DID, error) {
	var d provisioning.DID
	if err := s.db.GetContext(ctx, &d, s.q(`SELECT `+didCols+` FROM dids n WHERE n.id = ?`), id); err != nil {
		return nil, notFound(err, "did", id)
	}
	fixDID(&d)
	return &d, nil
}

// DIDByNumber returns the DID with the E.164 number.
func (s *Store) DIDByNumber(ctx context.Context, number string) (*provisioning.DID, error) {
	var d provisioning.DID
	if err := s.db.GetContext(ctx, &d, s.q(`SELECT `+didCols+` FROM dids n WHERE n.number = ?`), number); err != nil {
		return nil, notFound(err, "did", number)
	}
	fixDID(&d)
	return &d, nil
}

// UpdateDID saves d.
func (s *Store) UpdateDID(ctx context.Context, d *provisioning.DID) error {
	now := s.clock()
	d.StoreDestination()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE dids SET tenant_id = ?, number = ?, account_id = ?, dest_kind = ?, dest_id = ?, dest_number = ?,
		description = ?, record = ?, updated_at = ? WHERE id = ?`),
		d.TenantID, d.Number, d.AccountID, d.DestKind, d.DestID, d.DestNumber, d.Description, d.Record, s.ts(now), d.ID)
	if err != nil {
		return s.didWriteErr(ctx, fmt.Sprintf("update DID %d", d.ID), err, d)
	}
	if err := oneRow(res, "did", d.ID); err != nil {
		return err
	}
	d.UpdatedAt = now
	d.LoadDestination()
	return nil
}

// DeleteDID deletes DID id. Nothing references a DID.
func (s *Store) DeleteDID(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM dids WHERE id = ?`), id)
	if err != nil {
		return deleteErr("did", id, err)
	}
	return oneRow(res, "did", id)
}

// DIDs lists DIDs matching f in ID order.
func (s *Store) DIDs(ctx context.Context, f provisioning.DIDFilter) ([]provisioning.DID, error) {
	base := `SELECT ` + didCols + ` FROM dids n`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = n.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	if f.TenantID != 0 {
		w.and("n.tenant_id = ?", f.TenantID)
	}
	if f.AccountID != 0 {
		w.and("n.account_id = ?", f.AccountID)
	}
	w.prefix("n.number", f.NumberPrefix)
	query, args := w.page(base, "n.id", f.Page)
	return list(ctx, s, "DIDs", query, args, fixDID)
}
