package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/provisioning"
)

const tenantCols = `t.id, t.parent_id, t.name, t.path, t.created_at, t.updated_at`

func fixTenant(t *provisioning.Tenant) { utc(&t.CreatedAt, &t.UpdatedAt) }

// CreateTenant inserts t under t.ParentID and sets its ID, Path and
// timestamps.
func (s *Store) CreateTenant(ctx context.Context, t *provisioning.Tenant) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.lockTree(ctx, tx); err != nil {
			return err
		}
		return s.createTenant(ctx, tx, t)
	})
}

// createTenant inserts t inside tx, which holds the tree lock. The path
// contains the new ID, so the row is inserted first and its path set once
// the ID is known; nobody sees the empty path because tx is not committed.
func (s *Store) createTenant(ctx context.Context, tx *sqlx.Tx, t *provisioning.Tenant) error {
	parentPath := ""
	if t.ParentID != nil {
		var err error
		if parentPath, err = tenantPath(ctx, tx, s.q, *t.ParentID); err != nil {
			return asRef("parent_id", err)
		}
	}
	now := s.clock()
	var id int64
	if err := tx.GetContext(ctx, &id, s.q(`INSERT INTO tenants (parent_id, name, path, created_at, updated_at)
		VALUES (?, ?, '', ?, ?) RETURNING id`), t.ParentID, t.Name, s.ts(now), s.ts(now)); err != nil {
		return fmt.Errorf("sqlstore: create tenant: %w", err)
	}
	path := provisioning.TenantPath(parentPath, id)
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE tenants SET path = ? WHERE id = ?`), path, id); err != nil {
		return fmt.Errorf("sqlstore: create tenant: set path: %w", err)
	}
	t.ID, t.Path, t.CreatedAt, t.UpdatedAt = id, path, now, now
	return nil
}

// tenantPath reads the path of tenant id.
func tenantPath(ctx context.Context, q sqlx.QueryerContext, rebind func(string) string, id int64) (string, error) {
	var path string
	if err := sqlx.GetContext(ctx, q, &path, rebind(`SELECT path FROM tenants WHERE id = ?`), id); err != nil {
		return "", notFound(err, "tenant", id)
	}
	return path, nil
}

// asRef names field as the reference that was not found.
func asRef(field string, err error) error {
	var nf *provisioning.NotFoundError
	if errors.As(err, &nf) {
		return &provisioning.RefError{Field: field, NotFoundError: nf}
	}
	return err
}

// Tenant returns tenant id.
func (s *Store) Tenant(ctx context.Context, id int64) (*provisioning.Tenant, error) {
	var t provisioning.Tenant
	if err := s.db.GetContext(ctx, &t, s.q(`SELECT `+tenantCols+` FROM tenants t WHERE t.id = ?`), id); err != nil {
		return nil, notFound(err, "tenant", id)
	}
	fixTenant(&t)
	return &t, nil
}

// UpdateTenant saves t's Name and ParentID. A move rewrites the path of t
// and of every descendant with one range update in the same transaction.
func (s *Store) UpdateTenant(ctx context.Context, t *provisioning.Tenant) error {
	now := s.clock()
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.lockTree(ctx, tx); err != nil {
			return err
		}
		var cur provisioning.Tenant
		if err := tx.GetContext(ctx, &cur, s.q(`SELECT `+tenantCols+` FROM tenants t WHERE t.id = ?`), t.ID); err != nil {
			return notFound(err, "tenant", t.ID)
		}
		path := cur.Path
		if !sameParent(cur.ParentID, t.ParentID) {
			parentPath := ""
			if t.ParentID != nil {
				var err error
				if parentPath, err = tenantPath(ctx, tx, s.q, *t.ParentID); err != nil {
					return asRef("parent_id", err)
				}
				if strings.HasPrefix(parentPath, cur.Path) {
					return provisioning.Conflict("parent_id", "tenant %d cannot move under its own subtree (tenant %d)", t.ID, *t.ParentID)
				}
			}
			path = provisioning.TenantPath(parentPath, t.ID)
			hi, _ := successor(cur.Path) // a path ends in "/": it always has one
			// substr counts characters on both engines; paths are ASCII.
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE tenants SET path = CAST(? AS TEXT) || substr(path, ?)
				WHERE path >= ? AND path < ?`), path, len(cur.Path)+1, cur.Path, hi); err != nil {
				return fmt.Errorf("sqlstore: move tenant %d: %w", t.ID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE tenants SET parent_id = ?, name = ?, updated_at = ? WHERE id = ?`),
			t.ParentID, t.Name, s.ts(now), t.ID); err != nil {
			return fmt.Errorf("sqlstore: update tenant %d: %w", t.ID, err)
		}
		t.Path, t.CreatedAt, t.UpdatedAt = path, cur.CreatedAt.UTC(), now
		return nil
	})
}

func sameParent(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// DeleteTenant deletes tenant id unless it still has sub-tenants, domains,
// users, gateways, DIDs or active tokens. Its revoked tokens go with it:
// they can authenticate nobody, there is no other way to remove them, and
// keeping them would make a tenant that ever had a token undeletable.
func (s *Store) DeleteTenant(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.lockTree(ctx, tx); err != nil {
			return err
		}
		if err := exists(ctx, tx, s.q, "tenants", "tenant", id); err != nil {
			return err
		}
		var c struct {
			Tenants  int `db:"tenants"`
			Domains  int `db:"domains"`
			Users    int `db:"users"`
			Gateways int `db:"gateways"`
			DIDs     int `db:"dids"`
			Tokens   int `db:"tokens"`
		}
		if err := tx.GetContext(ctx, &c, s.q(`SELECT
			(SELECT COUNT(*) FROM tenants WHERE parent_id = ?) AS tenants,
			(SELECT COUNT(*) FROM domains WHERE tenant_id = ?) AS domains,
			(SELECT COUNT(*) FROM users WHERE tenant_id = ?) AS users,
			(SELECT COUNT(*) FROM gateways WHERE tenant_id = ?) AS gateways,
			(SELECT COUNT(*) FROM dids WHERE tenant_id = ?) AS dids,
			(SELECT COUNT(*) FROM tokens WHERE tenant_id = ? AND revoked_at IS NULL) AS tokens`),
			id, id, id, id, id, id); err != nil {
			return fmt.Errorf("sqlstore: count children of tenant %d: %w", id, err)
		}
		if left := remains(
			child{c.Tenants, "sub-tenant", "sub-tenants"},
			child{c.Domains, "domain", "domains"},
			child{c.Users, "user", "users"},
			child{c.Gateways, "gateway", "gateways"},
			child{c.DIDs, "DID", "DIDs"},
			child{c.Tokens, "active token", "active tokens"},
		); len(left) > 0 {
			return provisioning.Conflict("", "tenant %d still has %s", id, strings.Join(left, ", "))
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM tokens WHERE tenant_id = ? AND revoked_at IS NOT NULL`), id); err != nil {
			return deleteErr("tenant", id, err)
		}
		// Its routing objects can only point at each other and at shared
		// gateways (its domains, accounts and sub-tenants are gone): they
		// go with it.
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM routing_objects WHERE tenant_id = ?`), id); err != nil {
			return deleteErr("tenant", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM tenants WHERE id = ?`), id); err != nil {
			return deleteErr("tenant", id, err)
		}
		return nil
	})
}

// Tenants lists tenants matching f in ID order.
func (s *Store) Tenants(ctx context.Context, f provisioning.TenantFilter) ([]provisioning.Tenant, error) {
	var w where
	w.prefix("t.path", f.Subtree)
	if f.ParentID != nil {
		w.and("t.parent_id = ?", *f.ParentID)
	}
	if f.Name != "" {
		w.and("t.name = ?", f.Name)
	}
	query, args := w.page(`SELECT `+tenantCols+` FROM tenants t`, "t.id", f.Page)
	return list(ctx, s, "tenants", query, args, fixTenant)
}
