package sqlstore

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/provisioning"
)

const domainCols = `d.id, d.tenant_id, d.name, d.description, d.created_at, d.updated_at`

func fixDomain(d *provisioning.Domain) { utc(&d.CreatedAt, &d.UpdatedAt) }

// CreateDomain inserts d and sets its ID and timestamps.
func (s *Store) CreateDomain(ctx context.Context, d *provisioning.Domain) error {
	if err := s.insertDomain(ctx, s.db, d); err != nil {
		return s.writeErr(ctx, "create domain", err, "name", fmt.Sprintf("domain %s already exists", d.Name),
			ref{"tenant_id", "tenant", "tenants", d.TenantID})
	}
	return nil
}

// insertDomain inserts d through q (the database or a transaction) and
// returns the engine's error untranslated.
func (s *Store) insertDomain(ctx context.Context, q sqlx.QueryerContext, d *provisioning.Domain) error {
	now := s.clock()
	var id int64
	if err := sqlx.GetContext(ctx, q, &id, s.q(`INSERT INTO domains (tenant_id, name, description, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`), d.TenantID, d.Name, d.Description, s.ts(now), s.ts(now)); err != nil {
		return err
	}
	d.ID, d.CreatedAt, d.UpdatedAt = id, now, now
	return nil
}

// Domain returns domain id.
func (s *Store) Domain(ctx context.Context, id int64) (*provisioning.Domain, error) {
	var d provisioning.Domain
	if err := s.db.GetContext(ctx, &d, s.q(`SELECT `+domainCols+` FROM domains d WHERE d.id = ?`), id); err != nil {
		return nil, notFound(err, "domain", id)
	}
	fixDomain(&d)
	return &d, nil
}

// DomainByName returns the domain called name (names are stored lower-case
// by the Service; the match here is exact).
func (s *Store) DomainByName(ctx context.Context, name string) (*provisioning.Domain, error) {
	var d provisioning.Domain
	if err := s.db.GetContext(ctx, &d, s.q(`SELECT `+domainCols+` FROM domains d WHERE d.name = ?`), name); err != nil {
		return nil, notFound(err, "domain", name)
	}
	fixDomain(&d)
	return &d, nil
}

// UpdateDomain saves d.
func (s *Store) UpdateDomain(ctx context.Context, d *provisioning.Domain) error {
	now := s.clock()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE domains SET tenant_id = ?, name = ?, description = ?, updated_at = ? WHERE id = ?`),
		d.TenantID, d.Name, d.Description, s.ts(now), d.ID)
	if err != nil {
		return s.writeErr(ctx, fmt.Sprintf("update domain %d", d.ID), err, "name", fmt.Sprintf("domain %s already exists", d.Name),
			ref{"tenant_id", "tenant", "tenants", d.TenantID})
	}
	if err := oneRow(res, "domain", d.ID); err != nil {
		return err
	}
	d.UpdatedAt = now
	return nil
}

// DeleteDomain deletes domain id unless it still has SIP accounts.
func (s *Store) DeleteDomain(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := exists(ctx, tx, s.q, "domains", "domain", id); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, s.q(`SELECT COUNT(*) FROM accounts WHERE domain_id = ?`), id); err != nil {
			return fmt.Errorf("sqlstore: count accounts of domain %d: %w", id, err)
		}
		if n > 0 {
			return provisioning.Conflict("", "domain %d still has %s", id, plural(n, "SIP account", "SIP accounts"))
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM domains WHERE id = ?`), id); err != nil {
			return deleteErr("domain", id, err)
		}
		return nil
	})
}

// Domains lists domains matching f in ID order.
func (s *Store) Domains(ctx context.Context, f provisioning.DomainFilter) ([]provisioning.Domain, error) {
	base := `SELECT ` + domainCols + ` FROM domains d`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = d.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	if f.TenantID != 0 {
		w.and("d.tenant_id = ?", f.TenantID)
	}
	if f.Name != "" {
		w.and("d.name = ?", f.Name)
	}
	query, args := w.page(base, "d.id", f.Page)
	return list(ctx, s, "domains", query, args, fixDomain)
}
