package sqlstore

import (
	"context"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

var _ provisioning.RecordingStore = (*Store)(nil)

var recordings = artifact{kind: "recording", table: "recordings", alias: "r",
	cols:      `r.id, r.tenant_id, r.switch, r.switch_ref, r.started_at, r.duration_ms, r.bytes, r.expires_at, r.created_at, r.updated_at`,
	blobTable: "recording_audio", blobKey: "recording_id", blobCol: "wav"}

func fixRecording(r *provisioning.Recording) {
	utc(&r.StartedAt, &r.ExpiresAt, &r.CreatedAt, &r.UpdatedAt)
}

// CreateRecording inserts r and its audio unless its switch and ref are
// known.
func (s *Store) CreateRecording(ctx context.Context, r *provisioning.Recording, wav []byte) (bool, error) {
	now := s.clock()
	id, err := recordings.insert(ctx, s, `INSERT INTO recordings (tenant_id, switch, switch_ref, started_at, duration_ms, bytes,
		expires_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (switch, switch_ref) DO NOTHING RETURNING id`,
		[]any{r.TenantID, r.Switch, r.SwitchRef, s.ts(r.StartedAt), r.DurationMS, r.Bytes, s.ts(r.ExpiresAt), s.ts(now), s.ts(now)}, wav)
	if err != nil {
		return false, s.writeErr(ctx, "deposit recording", err, "", "", ref{"tenant_id", "tenant", "tenants", r.TenantID})
	}
	r.ID = id
	if id != 0 {
		r.CreatedAt, r.UpdatedAt = now, now
	}
	return id != 0, nil
}

// Recording returns recording id (not a deleted one).
func (s *Store) Recording(ctx context.Context, id int64) (*provisioning.Recording, error) {
	var r provisioning.Recording
	if err := recordings.get(ctx, s, &r, id); err != nil {
		return nil, err
	}
	fixRecording(&r)
	return &r, nil
}

// Recordings lists the recordings matching f in ID order.
func (s *Store) Recordings(ctx context.Context, f provisioning.RecordingFilter) ([]provisioning.Recording, error) {
	base := `SELECT ` + recordings.cols + ` FROM recordings r`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = r.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	w.and("r.deleted_at IS NULL")
	if f.TenantID != 0 {
		w.and("r.tenant_id = ?", f.TenantID)
	}
	if f.Switch != "" {
		w.and("r.switch = ?", f.Switch)
	}
	if f.Refs != nil {
		if len(f.Refs) == 0 {
			return nil, nil
		}
		args := make([]any, len(f.Refs))
		for i, r := range f.Refs {
			args[i] = r
		}
		w.and("r.switch_ref IN (?"+strings.Repeat(", ?", len(f.Refs)-1)+")", args...)
	}
	if !f.ExpiredBy.IsZero() {
		w.and("r.expires_at <= ?", s.ts(f.ExpiredBy))
	}
	query, args := w.page(base, "r.id", f.Page)
	return list(ctx, s, "recordings", query, args, fixRecording)
}

// RecordingAudio returns recording id's WAV.
func (s *Store) RecordingAudio(ctx context.Context, id int64) ([]byte, error) {
	return recordings.blob(ctx, s, id)
}

// DeleteRecording drops recording id's audio and keeps its row as a
// tombstone.
func (s *Store) DeleteRecording(ctx context.Context, id int64) error {
	return recordings.delete(ctx, s, id)
}
