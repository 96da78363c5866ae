package cdrstore

import (
	"context"
	"fmt"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// backfillOwners stamps the CDRs stored before migration 0002 with the
// tenant that owns their domain now: the best there is for rows that
// predate owners. It runs once: migration 0002 leaves a row in
// cdr_owner_backfill, and this removes it in the same transaction as the
// update, so a crash in between redoes it and a later start does not
// (redoing it later would hand the old rows of a deleted domain to
// whoever created the name since, the very leak owners close). Rows of a
// domain nobody owns stay NULL: admin-only. Without a domains table (a
// database of CDRs alone) there is nothing to stamp from.
//
// On PostgreSQL the row is locked first, so two daemons starting together
// stamp once; the UPDATE reaches every partition.
func backfillOwners(ctx context.Context, db *sqldb.DB) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cdr: owner backfill: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	lock, domains, update := `SELECT COUNT(*) FROM cdr_owner_backfill`,
		`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'domains'`,
		`UPDATE cdrs SET tenant_id = d.tenant_id FROM domains d WHERE d.name = lower(cdrs.domain) AND cdrs.tenant_id IS NULL`
	if db.Engine == sqldb.Postgres {
		lock = `SELECT COUNT(*) FROM (SELECT 1 FROM cdr_owner_backfill FOR UPDATE) AS pending`
		domains = `SELECT COUNT(*) FROM (SELECT to_regclass('domains') AS t) AS r WHERE t IS NOT NULL`
	}
	var pending, haveDomains int
	if err := tx.GetContext(ctx, &pending, lock); err != nil {
		return fmt.Errorf("cdr: owner backfill: %w", err)
	}
	if pending == 0 {
		return nil
	}
	if err := tx.GetContext(ctx, &haveDomains, domains); err != nil {
		return fmt.Errorf("cdr: owner backfill: %w", err)
	}
	if haveDomains > 0 {
		if _, err := tx.ExecContext(ctx, update); err != nil {
			return fmt.Errorf("cdr: owner backfill: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM cdr_owner_backfill`); err != nil {
		return fmt.Errorf("cdr: owner backfill: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cdr: owner backfill: %w", err)
	}
	return nil
}
