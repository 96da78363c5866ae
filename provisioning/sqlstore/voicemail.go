package sqlstore

import (
	"context"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

var _ provisioning.VoicemailStore = (*Store)(nil)

var voicemails = artifact{kind: "voicemail message", table: "voicemail_messages", alias: "m",
	cols: `m.id, m.tenant_id, m.box_id, m.switch, m.switch_ref, m.caller_id_number, m.caller_id_name,
	m.received_at, m.duration_ms, m.read, m.notified_at, m.created_at, m.updated_at`,
	blobTable: "voicemail_audio", blobKey: "message_id", blobCol: "wav"}

func fixVoicemail(m *provisioning.VoicemailMessage) {
	utc(&m.ReceivedAt, &m.CreatedAt, &m.UpdatedAt)
	if m.NotifiedAt != nil {
		utc(m.NotifiedAt)
	}
}

// CreateVoicemail inserts m and its audio unless its switch and ref are
// known (live or a tombstone).
func (s *Store) CreateVoicemail(ctx context.Context, m *provisioning.VoicemailMessage, wav []byte) (bool, error) {
	now := s.clock()
	id, err := voicemails.insert(ctx, s, `INSERT INTO voicemail_messages (tenant_id, box_id, switch, switch_ref, caller_id_number, caller_id_name,
		received_at, duration_ms, read, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (switch, switch_ref) DO NOTHING RETURNING id`,
		[]any{m.TenantID, m.BoxID, m.Switch, m.SwitchRef, m.CallerIDNumber, m.CallerIDName, s.ts(m.ReceivedAt), m.DurationMS, m.Read, s.ts(now), s.ts(now)}, wav)
	if err != nil {
		return false, s.writeErr(ctx, "deposit voicemail", err, "", "", ref{"box_id", "voicemail", "routing_objects", m.BoxID})
	}
	m.ID = id
	if id != 0 {
		m.CreatedAt, m.UpdatedAt = now, now
	}
	return id != 0, nil
}

// VoicemailMessage returns message id (not a deleted one).
func (s *Store) VoicemailMessage(ctx context.Context, id int64) (*provisioning.VoicemailMessage, error) {
	var m provisioning.VoicemailMessage
	if err := voicemails.get(ctx, s, &m, id); err != nil {
		return nil, err
	}
	fixVoicemail(&m)
	return &m, nil
}

// VoicemailMessages lists the messages matching f in ID order.
func (s *Store) VoicemailMessages(ctx context.Context, f provisioning.VoicemailFilter) ([]provisioning.VoicemailMessage, error) {
	base := `SELECT ` + voicemails.cols + ` FROM voicemail_messages m`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = m.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	w.and("m.deleted_at IS NULL")
	if f.TenantID != 0 {
		w.and("m.tenant_id = ?", f.TenantID)
	}
	if f.BoxID != 0 {
		w.and("m.box_id = ?", f.BoxID)
	}
	if f.Switch != "" {
		w.and("m.switch = ?", f.Switch)
	}
	if f.Unread {
		w.and("NOT m.read")
	}
	if f.Unnotified {
		w.and("m.notified_at IS NULL")
	}
	query, args := w.page(base, "m.id", f.Page)
	return list(ctx, s, "voicemail messages", query, args, fixVoicemail)
}

// VoicemailAudio returns message id's WAV.
func (s *Store) VoicemailAudio(ctx context.Context, id int64) ([]byte, error) {
	return voicemails.blob(ctx, s, id)
}

// SetVoicemailRead sets message id's read state.
func (s *Store) SetVoicemailRead(ctx context.Context, id int64, read bool) error {
	return voicemails.set(ctx, s, id, "read", read)
}

// SetVoicemailNotified records when message id's e-mail went out.
func (s *Store) SetVoicemailNotified(ctx context.Context, id int64, at time.Time) error {
	return voicemails.notified(ctx, s, id, at)
}

// DeleteVoicemail drops message id's audio and keeps its row as a
// tombstone.
func (s *Store) DeleteVoicemail(ctx context.Context, id int64) error {
	return voicemails.delete(ctx, s, id)
}
