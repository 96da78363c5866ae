package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// SwitchObject names one object Switchboard created on a switch: its kind
// in the switch's vocabulary (for Asterisk the PJSIP object type) and id.
type SwitchObject struct {
	Kind string `db:"kind"`
	ID   string `db:"object_id"`
}

// SwitchObjects lists the objects recorded as created on switchName, so a
// reconcile deletes only what Switchboard owns. It survives restarts of
// both the daemon and the switch.
func (s *Store) SwitchObjects(ctx context.Context, switchName string) ([]SwitchObject, error) {
	var out []SwitchObject
	if err := s.db.SelectContext(ctx, &out, s.q(`SELECT kind, object_id FROM switch_objects WHERE switch = ? ORDER BY kind, object_id`), switchName); err != nil {
		return nil, fmt.Errorf("sqlstore: switch objects of %s: %w", switchName, err)
	}
	return out, nil
}

// OwnSwitchObject records that Switchboard created o on switchName.
// Recording it twice is harmless.
func (s *Store) OwnSwitchObject(ctx context.Context, switchName string, o SwitchObject) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO switch_objects (switch, kind, object_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (switch, kind, object_id) DO NOTHING`), switchName, o.Kind, o.ID, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("sqlstore: own %s %s on %s: %w", o.Kind, o.ID, switchName, err)
	}
	return nil
}

// DisownSwitchObject forgets o (deleted from the switch, or found to be
// someone else's). Forgetting an unknown object is harmless.
func (s *Store) DisownSwitchObject(ctx context.Context, switchName string, o SwitchObject) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM switch_objects WHERE switch = ? AND kind = ? AND object_id = ?`), switchName, o.Kind, o.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: disown %s %s on %s: %w", o.Kind, o.ID, switchName, err)
	}
	return nil
}
