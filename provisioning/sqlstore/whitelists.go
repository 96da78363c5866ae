package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

var _ provisioning.WhitelistStore = (*Store)(nil)

const whitelistCols = `w.id, w.tenant_id, w.user_id, w.name, w.entries, w.created_at, w.updated_at`

// whitelistRow is a whitelist as stored: its entries as a JSON array.
type whitelistRow struct {
	provisioning.Whitelist
	RawEntries string `db:"entries"`
}

// decode fills the entries from their JSON; the store wrote it, so a
// failure is a damaged row.
func (r *whitelistRow) decode() error {
	utc(&r.CreatedAt, &r.UpdatedAt)
	r.Entries = []provisioning.WhitelistEntry{}
	if err := json.Unmarshal([]byte(r.RawEntries), &r.Entries); err != nil {
		return fmt.Errorf("sqlstore: whitelist %d: entries: %w", r.ID, err)
	}
	return nil
}

func encodeEntries(w *provisioning.Whitelist) (string, error) {
	es := w.Entries
	if es == nil {
		es = []provisioning.WhitelistEntry{}
	}
	b, err := json.Marshal(es)
	if err != nil {
		return "", fmt.Errorf("sqlstore: whitelist entries: %w", err)
	}
	return string(b), nil
}

const whitelistNameTaken = "the tenant (or user) has a whitelist with this name already"

// CreateWhitelist inserts w; a second whitelist of the owner with the
// same name is a conflict.
func (s *Store) CreateWhitelist(ctx context.Context, w *provisioning.Whitelist) error {
	entries, err := encodeEntries(w)
	if err != nil {
		return err
	}
	now := s.clock()
	err = s.db.GetContext(ctx, &w.ID, s.q(`INSERT INTO whitelists (tenant_id, user_id, name, entries, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), w.TenantID, w.UserID, w.Name, entries, s.ts(now), s.ts(now))
	if err != nil {
		w.ID = 0
		return s.writeErr(ctx, "create whitelist", err, "name", whitelistNameTaken,
			ref{"tenant_id", "tenant", "tenants", w.TenantID}, optRef("user_id", "user", "users", w.UserID))
	}
	w.CreatedAt, w.UpdatedAt = now, now
	return nil
}

// Whitelist returns whitelist id.
func (s *Store) Whitelist(ctx context.Context, id int64) (*provisioning.Whitelist, error) {
	var r whitelistRow
	if err := s.db.GetContext(ctx, &r, s.q(`SELECT `+whitelistCols+` FROM whitelists w WHERE w.id = ?`), id); err != nil {
		return nil, notFound(err, "whitelist", id)
	}
	if err := r.decode(); err != nil {
		return nil, err
	}
	return &r.Whitelist, nil
}

// Whitelists lists whitelists matching f in ID order.
func (s *Store) Whitelists(ctx context.Context, f provisioning.WhitelistFilter) ([]provisioning.Whitelist, error) {
	base := `SELECT ` + whitelistCols + ` FROM whitelists w`
	var cond where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = w.tenant_id`
		cond.prefix("t.path", f.Subtree)
	}
	if f.TenantID != 0 {
		cond.and("w.tenant_id = ?", f.TenantID)
	}
	if len(f.TenantIDs) > 0 {
		args := make([]any, len(f.TenantIDs))
		for i, id := range f.TenantIDs {
			args[i] = id
		}
		cond.and("w.tenant_id IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+")", args...)
	}
	if f.UserID != 0 {
		cond.and("w.user_id = ?", f.UserID)
	}
	if f.TenantOnly {
		cond.and("w.user_id IS NULL")
	}
	query, args := cond.page(base, "w.id", f.Page)
	rows, err := list(ctx, s, "whitelists", query, args, func(*whitelistRow) {})
	if err != nil {
		return nil, err
	}
	out := make([]provisioning.Whitelist, len(rows))
	for i := range rows {
		if err := rows[i].decode(); err != nil {
			return nil, err
		}
		out[i] = rows[i].Whitelist
	}
	return out, nil
}

// UpdateWhitelist saves the whitelist's name and entries.
func (s *Store) UpdateWhitelist(ctx context.Context, w *provisioning.Whitelist) error {
	entries, err := encodeEntries(w)
	if err != nil {
		return err
	}
	now := s.clock()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE whitelists SET name = ?, entries = ?, updated_at = ? WHERE id = ?`),
		w.Name, entries, s.ts(now), w.ID)
	if err != nil {
		return s.writeErr(ctx, "update whitelist", err, "name", whitelistNameTaken)
	}
	if err := oneRow(res, "whitelist", w.ID); err != nil {
		return err
	}
	w.UpdatedAt = now
	return nil
}

// DeleteWhitelist deletes whitelist id.
func (s *Store) DeleteWhitelist(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM whitelists WHERE id = ?`), id)
	if err != nil {
		return deleteErr("whitelist", id, err)
	}
	return oneRow(res, "whitelist", id)
}
