package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
)

var _ provisioning.RoutingStore = (*Store)(nil)

const routingCols = `r.id, r.tenant_id, r.kind, r.slot, r.name, r.body, r.created_at, r.updated_at`

func fixRouting(r *provisioning.RoutingRecord) { utc(&r.CreatedAt, &r.UpdatedAt) }

// refTables are the tables reference targets live in, by kind; kinds not
// listed are routing objects of that kind. Constants, never input.
var refTables = map[provisioning.DestKind]string{
	provisioning.DestAccount: "accounts",
	"user":                   "users",
	"gateway":                "gateways",
	"sound":                  "sounds",
}

func (s *Store) routingSlotErr(r *provisioning.RoutingRecord) error {
	slot := ""
	if r.Slot != nil {
		slot = *r.Slot
	}
	if number, ok := strings.CutPrefix(slot, "n:"); ok {
		return provisioning.Conflict("number", "%s is already in this tenant's numbering plan", number)
	}
	return provisioning.Conflict("on", "the owner already has a forward of this type")
}

// checkRefs verifies, inside tx, that every reference's target exists,
// and on PostgreSQL locks it (FOR SHARE) so that a concurrent delete
// waits for this write and then sees the reference.
func (s *Store) checkRefs(ctx context.Context, tx *sqlx.Tx, refs []provisioning.RoutingRef) error {
	lock := ""
	if s.db.Engine == sqldb.Postgres {
		lock = " FOR SHARE"
	}
	for _, ref := range refs {
		var n []int64
		var err error
		if table, ok := refTables[ref.Kind]; ok {
			err = tx.SelectContext(ctx, &n, s.q(`SELECT id FROM `+table+` WHERE id = ?`+lock), ref.ID)
		} else {
			err = tx.SelectContext(ctx, &n, s.q(`SELECT id FROM routing_objects WHERE id = ? AND kind = ?`+lock), ref.ID, string(ref.Kind))
		}
		if err != nil {
			return fmt.Errorf("sqlstore: check %s %d: %w", ref.Kind, ref.ID, err)
		}
		if len(n) == 0 {
			return &provisioning.RefError{Field: ref.Field, NotFoundError: &provisioning.NotFoundError{Kind: string(ref.Kind), Key: fmt.Sprint(ref.ID)}}
		}
	}
	return nil
}

func (s *Store) writeRefs(ctx context.Context, tx *sqlx.Tx, id int64, refs []provisioning.RoutingRef) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM routing_refs WHERE from_id = ?`), id); err != nil {
		return fmt.Errorf("sqlstore: clear references of routing object %d: %w", id, err)
	}
	for _, ref := range refs {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO routing_refs (from_id, field, to_kind, to_id, target) VALUES (?, ?, ?, ?, ?)`),
			id, ref.Field, string(ref.Kind), ref.ID, ref.Target); err != nil {
			return fmt.Errorf("sqlstore: reference %s of routing object %d: %w", ref.Field, id, err)
		}
	}
	return nil
}

// CreateRouting inserts r with its references and sets its ID and
// timestamps.
func (s *Store) CreateRouting(ctx context.Context, r *provisioning.RoutingRecord, refs []provisioning.RoutingRef) error {
	now := s.clock()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.checkRefs(ctx, tx, refs); err != nil {
			return err
		}
		var id int64
		if err := tx.GetContext(ctx, &id, s.q(`INSERT INTO routing_objects (tenant_id, kind, slot, name, body, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			r.TenantID, string(r.Kind), r.Slot, r.Name, string(r.Body), s.ts(now), s.ts(now)); err != nil {
			return err
		}
		r.ID = id
		return s.writeRefs(ctx, tx, id, refs)
	})
	if err != nil {
		r.ID = 0
		return s.routingWriteErr(ctx, "create routing object", err, r)
	}
	r.CreatedAt, r.UpdatedAt = now, now
	return nil
}

func (s *Store) routingWriteErr(ctx context.Context, op string, err error, r *provisioning.RoutingRecord) error {
	if sqldb.IsUniqueViolation(err) {
		return s.routingSlotErr(r)
	}
	return s.writeErr(ctx, op, err, "", "", ref{"tenant_id", "tenant", "tenants", r.TenantID})
}

// UpdateRouting saves r and replaces its references.
func (s *Store) UpdateRouting(ctx context.Context, r *provisioning.RoutingRecord, refs []provisioning.RoutingRef) error {
	now := s.clock()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.checkRefs(ctx, tx, refs); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE routing_objects SET slot = ?, name = ?, body = ?, updated_at = ?
			WHERE id = ? AND kind = ?`), r.Slot, r.Name, string(r.Body), s.ts(now), r.ID, string(r.Kind))
		if err != nil {
			return err
		}
		if err := oneRow(res, string(r.Kind), r.ID); err != nil {
			return err
		}
		return s.writeRefs(ctx, tx, r.ID, refs)
	})
	if err != nil {
		return s.routingWriteErr(ctx, fmt.Sprintf("update routing object %d", r.ID), err, r)
	}
	r.UpdatedAt = now
	return nil
}

// DeleteRouting deletes routing object id unless a routing object or a
// DID points at it.
func (s *Store) DeleteRouting(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var kind []string
		if err := tx.SelectContext(ctx, &kind, s.q(`SELECT kind FROM routing_objects WHERE id = ?`), id); err != nil {
			return fmt.Errorf("sqlstore: read routing object %d: %w", id, err)
		}
		if len(kind) == 0 {
			return provisioning.NotFound("routing object", id)
		}
		if err := s.refusePointedAt(ctx, tx, provisioning.DestKind(kind[0]), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM routing_objects WHERE id = ?`), id); err != nil {
			return deleteErr(kind[0], id, err)
		}
		return nil
	})
}

// refusePointedAt returns a ConflictError naming (up to five of) the
// routing objects and DIDs that point at kind id.
func (s *Store) refusePointedAt(ctx context.Context, tx *sqlx.Tx, kind provisioning.DestKind, id int64) error {
	var froms []struct {
		Kind  string `db:"kind"`
		ID    int64  `db:"id"`
		Field string `db:"field"`
	}
	if err := tx.SelectContext(ctx, &froms, s.q(`SELECT o.kind, o.id, f.field FROM routing_refs f
		JOIN routing_objects o ON o.id = f.from_id
		WHERE f.to_kind = ? AND f.to_id = ? AND f.target ORDER BY o.id, f.field LIMIT 6`), string(kind), id); err != nil {
		return fmt.Errorf("sqlstore: references to %s %d: %w", kind, id, err)
	}
	var dids []string
	if err := tx.SelectContext(ctx, &dids, s.q(`SELECT number FROM dids WHERE dest_kind = ? AND dest_id = ? ORDER BY number LIMIT 6`), string(kind), id); err != nil {
		return fmt.Errorf("sqlstore: DIDs routed to %s %d: %w", kind, id, err)
	}
	if len(froms)+len(dids) == 0 {
		return nil
	}
	var names []string
	for _, f := range froms {
		names = append(names, fmt.Sprintf("%s %d (%s)", f.Kind, f.ID, f.Field))
	}
	for _, d := range dids {
		names = append(names, "DID "+d)
	}
	more := ""
	if len(names) > 5 {
		names, more = names[:5], " and more"
	}
	return provisioning.Conflict("", "%s %d is still the destination of %s%s", kind, id, strings.Join(names, ", "), more)
}

// deleteOwnedRouting deletes the routing objects owned by kind id (the
// forwards of an account or a user) inside the owner's delete.
func (s *Store) deleteOwnedRouting(ctx context.Context, tx *sqlx.Tx, kind provisioning.DestKind, id int64) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM routing_objects WHERE id IN
		(SELECT from_id FROM routing_refs WHERE to_kind = ? AND to_id = ? AND NOT target)`), string(kind), id); err != nil {
		return fmt.Errorf("sqlstore: delete routing objects of %s %d: %w", kind, id, err)
	}
	return nil
}

// Routing returns routing object id.
func (s *Store) Routing(ctx context.Context, id int64) (*provisioning.RoutingRecord, error) {
	var r provisioning.RoutingRecord
	if err := s.db.GetContext(ctx, &r, s.q(`SELECT `+routingCols+` FROM routing_objects r WHERE r.id = ?`), id); err != nil {
		return nil, notFound(err, "routing object", id)
	}
	fixRouting(&r)
	return &r, nil
}

// Routings lists routing objects matching f in ID order.
func (s *Store) Routings(ctx context.Context, f provisioning.RoutingFilter) ([]provisioning.RoutingRecord, error) {
	base := `SELECT ` + routingCols + ` FROM routing_objects r`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = r.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	if f.TenantID != 0 {
		w.and("r.tenant_id = ?", f.TenantID)
	}
	if f.Kind != "" {
		w.and("r.kind = ?", string(f.Kind))
	}
	query, args := w.page(base, "r.id", f.Page)
	return list(ctx, s, "routing objects", query, args, fixRouting)
}
