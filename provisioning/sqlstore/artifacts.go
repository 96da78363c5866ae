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

// artifact is a table of things a switch hands over (voicemail messages,
// faxes): a row per thing, kept as a tombstone (deleted_at) after a
// delete so that the switch's id cannot be deposited twice, and its
// payload (audio, PDF) in a side table dropped with the delete.
type artifact struct {
	kind      string // for errors: "voicemail message"
	table     string // voicemail_messages
	alias     string // its alias in cols: m
	cols      string // the columns read, with the alias
	blobTable string // voicemail_audio
	blobKey   string // its key column: message_id
	blobCol   string // its payload column: wav
}

// get reads row id (not a tombstone) into dst.
func (a artifact) get(ctx context.Context, s *Store, dst any, id int64) error {
	if err := s.db.GetContext(ctx, dst, s.q(`SELECT `+a.cols+` FROM `+a.table+` `+a.alias+` WHERE `+a.alias+`.id = ? AND `+a.alias+`.deleted_at IS NULL`), id); err != nil {
		return notFound(err, a.kind, id)
	}
	return nil
}

// blob reads row id's payload.
func (a artifact) blob(ctx context.Context, s *Store, id int64) ([]byte, error) {
	var b []byte
	err := s.db.GetContext(ctx, &b, s.q(`SELECT p.`+a.blobCol+` FROM `+a.blobTable+` p JOIN `+a.table+` x ON x.id = p.`+a.blobKey+`
		WHERE p.`+a.blobKey+` = ? AND x.deleted_at IS NULL`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, provisioning.NotFound(a.kind, id)
	}
	return b, err
}

// set updates one column of row id (not a tombstone).
func (a artifact) set(ctx context.Context, s *Store, id int64, col string, v any) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE `+a.table+` SET `+col+` = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`), v, s.ts(s.clock()), id)
	if err != nil {
		return fmt.Errorf("sqlstore: %s %d: %w", a.kind, id, err)
	}
	return oneRow(res, a.kind, id)
}

// notified records when row id's e-mail went out.
func (a artifact) notified(ctx context.Context, s *Store, id int64, at time.Time) error {
	return a.set(ctx, s, id, "notified_at", s.ts(at))
}

// delete makes row id a tombstone and drops its payload.
func (a artifact) delete(ctx context.Context, s *Store, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		now := s.ts(s.clock())
		res, err := tx.ExecContext(ctx, s.q(`UPDATE `+a.table+` SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`), now, now, id)
		if err != nil {
			return fmt.Errorf("sqlstore: delete %s %d: %w", a.kind, id, err)
		}
		if err := oneRow(res, a.kind, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+a.blobTable+` WHERE `+a.blobKey+` = ?`), id); err != nil {
			return fmt.Errorf("sqlstore: delete the payload of %s %d: %w", a.kind, id, err)
		}
		return nil
	})
}

// insert adds a row with its payload (none when payload is nil) unless
// the switch and ref are known; it returns the new id, 0 when known.
// insertRow is the INSERT … ON CONFLICT (switch, switch_ref) DO NOTHING
// RETURNING id with its arguments.
func (a artifact) insert(ctx context.Context, s *Store, insertRow string, args []any, payload []byte) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, s.q(insertRow), args...); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		id = ids[0]
		if payload == nil {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO `+a.blobTable+` (`+a.blobKey+`, `+a.blobCol+`) VALUES (?, ?)`), id, payload)
		return err
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}
