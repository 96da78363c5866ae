package sqlstore

import (
	"context"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

var _ provisioning.FaxStore = (*Store)(nil)

var faxes = artifact{kind: "fax", table: "faxes", alias: "x",
	cols: `x.id, x.tenant_id, x.box_id, x.switch, x.switch_ref, x.caller_id_number, x.remote_station, x.pages, x.status, x.error,
	x.received_at, x.notified_at, x.created_at, x.updated_at`,
	blobTable: "fax_pdf", blobKey: "fax_id", blobCol: "pdf"}

func fixFax(f *provisioning.Fax) {
	utc(&f.ReceivedAt, &f.CreatedAt, &f.UpdatedAt)
	if f.NotifiedAt != nil {
		utc(f.NotifiedAt)
	}
}

// CreateFax inserts f and its PDF (none for a failed fax) unless its
// switch and ref are known.
func (s *Store) CreateFax(ctx context.Context, f *provisioning.Fax, pdf []byte) (bool, error) {
	now := s.clock()
	id, err := faxes.insert(ctx, s, `INSERT INTO faxes (tenant_id, box_id, switch, switch_ref, caller_id_number, remote_station,
		pages, status, error, received_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (switch, switch_ref) DO NOTHING RETURNING id`,
		[]any{f.TenantID, f.BoxID, f.Switch, f.SwitchRef, f.CallerIDNumber, f.RemoteStation, f.Pages, f.Status, f.Error,
			s.ts(f.ReceivedAt), s.ts(now), s.ts(now)}, pdf)
	if err != nil {
		return false, s.writeErr(ctx, "deposit fax", err, "", "", ref{"box_id", "fax", "routing_objects", f.BoxID})
	}
	f.ID = id
	if id != 0 {
		f.CreatedAt, f.UpdatedAt = now, now
	}
	return id != 0, nil
}

// Fax returns fax id (not a deleted one).
func (s *Store) Fax(ctx context.Context, id int64) (*provisioning.Fax, error) {
	var f provisioning.Fax
	if err := faxes.get(ctx, s, &f, id); err != nil {
		return nil, err
	}
	fixFax(&f)
	return &f, nil
}

// Faxes lists the faxes matching f in ID order.
func (s *Store) Faxes(ctx context.Context, f provisioning.FaxFilter) ([]provisioning.Fax, error) {
	base := `SELECT ` + faxes.cols + ` FROM faxes x`
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
	return faxes.blob(ctx, s, id)
}

// SetFaxNotified records when fax id's e-mail went out.
func (s *Store) SetFaxNotified(ctx context.Context, id int64, at time.Time) error {
	return faxes.notified(ctx, s, id, at)
}

// DeleteFax drops fax id's PDF and keeps its row as a tombstone.
func (s *Store) DeleteFax(ctx context.Context, id int64) error {
	return faxes.delete(ctx, s, id)
}
