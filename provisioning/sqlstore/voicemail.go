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

var _ provisioning.VoicemailStore = (*Store)(nil)

const voicemailCols = `m.id, m.tenant_id, m.box_id, m.switch, m.switch_ref, m.caller_id_number, m.caller_id_name,
	m.received_at, m.duration_ms, m.read, m.notified_at, m.created_at, m.updated_at`

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
	created := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, s.q(`INSERT INTO voicemail_messages (tenant_id, box_id, switch, switch_ref, caller_id_number, caller_id_name,
			received_at, duration_ms, read, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (switch, switch_ref) DO NOTHING RETURNING id`),
			m.TenantID, m.BoxID, m.Switch, m.SwitchRef, m.CallerIDNumber, m.CallerIDName, s.ts(m.ReceivedAt), m.DurationMS, m.Read, s.ts(now), s.ts(now)); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		m.ID, created = ids[0], true
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO voicemail_audio (message_id, wav) VALUES (?, ?)`), m.ID, wav)
		return err
	})
	if err != nil {
		m.ID = 0
		return false, s.writeErr(ctx, "deposit voicemail", err, "", "", ref{"box_id", "voicemail", "routing_objects", m.BoxID})
	}
	if created {
		m.CreatedAt, m.UpdatedAt = now, now
	}
	return created, nil
}

// VoicemailMessage returns message id (not a deleted one).
func (s *Store) VoicemailMessage(ctx context.Context, id int64) (*provisioning.VoicemailMessage, error) {
	var m provisioning.VoicemailMessage
	if err := s.db.GetContext(ctx, &m, s.q(`SELECT `+voicemailCols+` FROM voicemail_messages m WHERE m.id = ? AND m.deleted_at IS NULL`), id); err != nil {
		return nil, notFound(err, "voicemail message", id)
	}
	fixVoicemail(&m)
	return &m, nil
}

// VoicemailMessages lists the messages matching f in ID order.
func (s *Store) VoicemailMessages(ctx context.Context, f provisioning.VoicemailFilter) ([]provisioning.VoicemailMessage, error) {
	base := `SELECT ` + voicemailCols + ` FROM voicemail_messages m`
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
	var b []byte
	err := s.db.GetContext(ctx, &b, s.q(`SELECT a.wav FROM voicemail_audio a JOIN voicemail_messages m ON m.id = a.message_id
		WHERE a.message_id = ? AND m.deleted_at IS NULL`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, provisioning.NotFound("voicemail message", id)
	}
	return b, err
}

// SetVoicemailRead sets message id's read state.
func (s *Store) SetVoicemailRead(ctx context.Context, id int64, read bool) error {
	return s.updateVoicemail(ctx, id, `read = ?`, read)
}

// SetVoicemailNotified records when message id's e-mail went out.
func (s *Store) SetVoicemailNotified(ctx context.Context, id int64, at time.Time) error {
	return s.updateVoicemail(ctx, id, `notified_at = ?`, s.ts(at))
}

func (s *Store) updateVoicemail(ctx context.Context, id int64, set string, v any) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE voicemail_messages SET `+set+`, updated_at = ? WHERE id = ? AND deleted_at IS NULL`), v, s.ts(s.clock()), id)
	if err != nil {
		return fmt.Errorf("sqlstore: voicemail message %d: %w", id, err)
	}
	return oneRow(res, "voicemail message", id)
}

// DeleteVoicemail drops message id's audio and keeps its row as a
// tombstone.
func (s *Store) DeleteVoicemail(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		now := s.ts(s.clock())
		res, err := tx.ExecContext(ctx, s.q(`UPDATE voicemail_messages SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`), now, now, id)
		if err != nil {
			return fmt.Errorf("sqlstore: delete voicemail message %d: %w", id, err)
		}
		if err := oneRow(res, "voicemail message", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM voicemail_audio WHERE message_id = ?`), id); err != nil {
			return fmt.Errorf("sqlstore: delete voicemail audio %d: %w", id, err)
		}
		return nil
	})
}
