package sqlstore

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/provisioning"
)

const gatewayCols = `g.id, g.tenant_id, g.name, g.host, g.port, g.transport, g.username, g.secret, g.register,
	g.qualify_seconds, g.description, g.observed, g.created_at, g.updated_at`

func fixGateway(g *provisioning.Gateway) { utc(&g.CreatedAt, &g.UpdatedAt) }

func (s *Store) gatewayWriteErr(ctx context.Context, op string, err error, g *provisioning.Gateway) error {
	return s.writeErr(ctx, op, err, "name", fmt.Sprintf("gateway %s already exists", g.Name),
		optRef("tenant_id", "tenant", "tenants", g.TenantID))
}

// CreateGateway inserts g and sets its ID and timestamps.
func (s *Store) CreateGateway(ctx context.Context, g *provisioning.Gateway) error {
	now := s.clock()
	var id int64
	if err := s.db.GetContext(ctx, &id, s.q(`INSERT INTO gateways (tenant_id, name, host, port, transport, username, secret,
		register, qualify_seconds, description, observed, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		g.TenantID, g.Name, g.Host, g.Port, string(g.Transport), g.Username, g.Secret, g.Register, g.QualifySecs,
		g.Description, g.Observed, s.ts(now), s.ts(now)); err != nil {
		return s.gatewayWriteErr(ctx, "create gateway", err, g)
	}
	g.ID, g.CreatedAt, g.UpdatedAt = id, now, now
	return nil
}

// Gateway returns gateway id.
func (s *Store) Gateway(ctx context.Context, id int64) (*provisioning.Gateway, error) {
	var g provisioning.Gateway
	if err := s.db.GetContext(ctx, &g, s.q(`SELECT `+gatewayCols+` FROM gateways g WHERE g.id = ?`), id); err != nil {
		return nil, notFound(err, "gateway", id)
	}
	fixGateway(&g)
	return &g, nil
}

// GatewayByName returns the gateway called name.
func (s *Store) GatewayByName(ctx context.Context, name string) (*provisioning.Gateway, error) {
	var g provisioning.Gateway
	if err := s.db.GetContext(ctx, &g, s.q(`SELECT `+gatewayCols+` FROM gateways g WHERE g.name = ?`), name); err != nil {
		return nil, notFound(err, "gateway", name)
	}
	fixGateway(&g)
	return &g, nil
}

// UpdateGateway saves g.
func (s *Store) UpdateGateway(ctx context.Context, g *provisioning.Gateway) error {
	now := s.clock()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE gateways SET tenant_id = ?, name = ?, host = ?, port = ?, transport = ?,
		username = ?, secret = ?, register = ?, qualify_seconds = ?, description = ?, observed = ?, updated_at = ? WHERE id = ?`),
		g.TenantID, g.Name, g.Host, g.Port, string(g.Transport), g.Username, g.Secret, g.Register, g.QualifySecs,
		g.Description, g.Observed, s.ts(now), g.ID)
	if err != nil {
		return s.gatewayWriteErr(ctx, fmt.Sprintf("update gateway %d", g.ID), err, g)
	}
	if err := oneRow(res, "gateway", g.ID); err != nil {
		return err
	}
	g.UpdatedAt = now
	return nil
}

// DeleteGateway deletes gateway id unless outbound routes or custom
// destinations still send calls through it.
func (s *Store) DeleteGateway(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.refusePointedAt(ctx, tx, "gateway", id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM gateways WHERE id = ?`), id)
		if err != nil {
			return deleteErr("gateway", id, err)
		}
		return oneRow(res, "gateway", id)
	})
}

// Gateways lists gateways matching f in ID order. With a Subtree and
// IncludeShared, shared gateways (no tenant) are listed alongside the
// subtree's.
func (s *Store) Gateways(ctx context.Context, f provisioning.GatewayFilter) ([]provisioning.Gateway, error) {
	base := `SELECT ` + gatewayCols + ` FROM gateways g`
	var w where
	if f.Subtree != "" {
		var sub where
		sub.prefix("t.path", f.Subtree)
		if f.IncludeShared {
			base += ` LEFT JOIN tenants t ON t.id = g.tenant_id`
			w.and("(g.tenant_id IS NULL OR ("+sub.conds[0]+"))", sub.args...)
		} else {
			base += ` JOIN tenants t ON t.id = g.tenant_id`
			w.and(sub.conds[0], sub.args...)
		}
	}
	if f.TenantID != 0 {
		w.and("g.tenant_id = ?", f.TenantID)
	}
	if f.Name != "" {
		w.and("g.name = ?", f.Name)
	}
	query, args := w.page(base, "g.id", f.Page)
	return list(ctx, s, "gateways", query, args, fixGateway)
}
