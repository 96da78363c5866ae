package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/provisioning"
)

var _ provisioning.SoundStore = (*Store)(nil)

const soundCols = `s.id, s.tenant_id, s.name, s.source_format, s.source_bytes, s.duration_ms, s.sha256, s.created_at, s.updated_at`

func fixSound(s *provisioning.Sound) { utc(&s.CreatedAt, &s.UpdatedAt) }

// CreateSound inserts the sound and its audio in one transaction.
func (s *Store) CreateSound(ctx context.Context, snd *provisioning.Sound, wav map[int][]byte) error {
	now := s.clock()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var id int64
		if err := tx.GetContext(ctx, &id, s.q(`INSERT INTO sounds (tenant_id, name, source_format, source_bytes, duration_ms, sha256, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			snd.TenantID, snd.Name, snd.SourceFormat, snd.SourceBytes, snd.DurationMS, snd.SHA256, s.ts(now), s.ts(now)); err != nil {
			return err
		}
		snd.ID = id
		return s.writeSoundAudio(ctx, tx, id, wav)
	})
	if err != nil {
		snd.ID = 0
		return s.writeErr(ctx, "create sound", err, "name", "the tenant already has a sound of that name",
			ref{"tenant_id", "tenant", "tenants", snd.TenantID})
	}
	snd.CreatedAt, snd.UpdatedAt = now, now
	return nil
}

// ReplaceSoundAudio puts new audio under an existing sound.
func (s *Store) ReplaceSoundAudio(ctx context.Context, snd *provisioning.Sound, wav map[int][]byte) error {
	now := s.clock()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE sounds SET source_format = ?, source_bytes = ?, duration_ms = ?, sha256 = ?, updated_at = ? WHERE id = ?`),
			snd.SourceFormat, snd.SourceBytes, snd.DurationMS, snd.SHA256, s.ts(now), snd.ID)
		if err != nil {
			return err
		}
		if err := oneRow(res, "sound", snd.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sound_audio WHERE sound_id = ?`), snd.ID); err != nil {
			return err
		}
		return s.writeSoundAudio(ctx, tx, snd.ID, wav)
	})
	if err != nil {
		return s.writeErr(ctx, fmt.Sprintf("replace sound %d", snd.ID), err, "", "")
	}
	snd.UpdatedAt = now
	return nil
}

func (s *Store) writeSoundAudio(ctx context.Context, tx *sqlx.Tx, id int64, wav map[int][]byte) error {
	for _, rate := range slices.Sorted(maps.Keys(wav)) {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO sound_audio (sound_id, rate, wav) VALUES (?, ?, ?)`), id, rate, wav[rate]); err != nil {
			return fmt.Errorf("sqlstore: audio of sound %d at %d Hz: %w", id, rate, err)
		}
	}
	return nil
}

// Sound returns sound id (without its audio).
func (s *Store) Sound(ctx context.Context, id int64) (*provisioning.Sound, error) {
	var snd provisioning.Sound
	if err := s.db.GetContext(ctx, &snd, s.q(`SELECT `+soundCols+` FROM sounds s WHERE s.id = ?`), id); err != nil {
		return nil, notFound(err, "sound", id)
	}
	fixSound(&snd)
	return &snd, nil
}

// Sounds lists sounds matching f in ID order.
func (s *Store) Sounds(ctx context.Context, f provisioning.SoundFilter) ([]provisioning.Sound, error) {
	base := `SELECT ` + soundCols + ` FROM sounds s`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = s.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	if f.TenantID != 0 {
		w.and("s.tenant_id = ?", f.TenantID)
	}
	query, args := w.page(base, "s.id", f.Page)
	return list(ctx, s, "sounds", query, args, fixSound)
}

// SoundAudio returns sound id's WAV at rate.
func (s *Store) SoundAudio(ctx context.Context, id int64, rate int) ([]byte, error) {
	var b []byte
	if err := s.db.GetContext(ctx, &b, s.q(`SELECT wav FROM sound_audio WHERE sound_id = ? AND rate = ?`), id, rate); err != nil {
		return nil, notFound(err, "sound audio", fmt.Sprintf("%d at %d Hz", id, rate))
	}
	return b, nil
}

// DeleteSound deletes sound id and its audio unless a routing object
// plays it (a reference of kind sound).
func (s *Store) DeleteSound(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.refusePointedAt(ctx, tx, provisioning.DestKind("sound"), id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM sounds WHERE id = ?`), id)
		if err != nil {
			return deleteErr("sound", id, err)
		}
		return oneRow(res, "sound", id)
	})
}
