package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/provisioning"
)

var _ provisioning.FaxStore = (*Store)(nil)

const faxCols = `x.id, x.tenant_id, x.box_id, x.switch, x.switch_ref, x.caller_id_number, x.remote_station, x.pages, x.status, x.error,
	x.received_at, x.notified_at, x.created_at, x.updated_at`

func fixFax(f *provisioning.Fax) {
	utc(&f.ReceivedAt, &f.CreatedAt, &f.UpdatedAt)
	if f.NotifiedAt != nil {
		utc(f.NotifiedAt)
	}
}

// CreateFax inserts f and its PDF unless its switch and ref are known.
func (s *Store) CreateFax(ctx context.Context, f *provisioning.Fax, pdf []byte) (bool, error) {
	now := s.clock()
	created := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, s.q(`INSERT INTO faxes (tenant_id, box_id, switch, switch_ref, caller_id_number, remote_station,
			pages, status, error, received_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (switch, switch_ref) DO NOTHING RETURNING id`),
			f.TenantID, f.BoxID, f.Switch, f.SwitchRef, f.CallerIDNumber, f.RemoteStation, f.Pages, f.Status, f.Error,
			s.ts(f.ReceivedAt), s.ts(now), s.ts(now)); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		f.ID, created = ids[0], true
		if pdf == nil {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO fax_pdf (fax_id, pdf) VALUES (?, ?)`), f.ID, pdf)
		return err
	})
	if err != nil {
		f.ID = 0
		return false, s.writeErr(ctx, "deposit fax", err, "", "", ref{"box_id", "fax", "routing_objects", f.BoxID})
	}
	if created {
		f.CreatedAt, f.UpdatedAt = now, now
	}
	return created, nil
}

// Fax returns fax id (not a deleted one).
func (s *Store) Fax(ctx context.Context, id int64) (*provisioning.Fax, error) {
	var f provisioning.Fax
	if err := s.db.GetContext(ctx, &f, s.q(`SELECT `+faxCols+` FROM faxes x WHERE x.id = ? AND x.deleted_at IS NULL`), id); err != nil {
		return nil, notFound(err, "fax", id)
	}
	fixFax(&f)
	return &f, nil
}

// Faxes lists the faxes matching f in ID order.
func (s *Store) Faxes(ctx context.Context, f provisioning.FaxFilter) ([]provisioning.Fax, error) {
	base := `SELECT ` + faxCols + ` FROM faxes x`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = x.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	w.and("x.deleted_at IS NULL")
	if f.TenantID != 0 {
		w.and("x.tenant_id = ?", f.TenantID)
	}
	if f.BoxID != 0 {
		w.and("x.box_id = ?", f.BoxID)
	}
	if f.Unnotified {
		w.and("x.notified_at IS NULL")
	}
	query, args := w.page(base, "x.id", f.Page)
	return list(ctx, s, "faxes", query, args, fixFax)
}

// FaxPDF returns fax id's PDF; not found when no page was received.
func (s *Store) FaxPDF(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	err := s.db.GetContext(ctx, &b, s.q(`SELECT p.pdf FROM fax_pdf p JOIN faxes x ON x.id = p.fax_id
		WHERE p.fax_id = ? AND x.deleted_at IS NULL`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, provisioning.NotFound("fax PDF", id)
	}
	return b, err
}

// SetFaxNotified records when fax id's e-mail went out.
func (s *Store) SetFaxNotified(ctx context.Context, id int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE faxes SET notified_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`), s.ts(at), s.ts(s.clock()), id)
	if err != nil {
		return fmt.Errorf("sqlstore: fax %d: %w", id, err)
	}
	return oneRow(res, "fax", id)
}

// DeleteFax drops fax id's PDF and keeps its row as a tombstone.
func (s *Store) DeleteFax(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		now := s.ts(s.clock())
		res, err := tx.ExecContext(ctx, s.q(`UPDATE faxes SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`), now, now, id)
		if err != nil {
			return fmt.Errorf("sqlstore: delete fax %d: %w", id, err)
		}
		if err := oneRow(res, "fax", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM fax_pdf WHERE fax_id = ?`), id); err != nil {
			return fmt.Errorf("sqlstore: delete fax PDF %d: %w", id, err)
		}
		return nil
	})
}
