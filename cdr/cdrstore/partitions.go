package cdrstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// Day partitions (PostgreSQL).
//
// cdrs is partitioned by range of end_time, one partition per UTC day:
// cdrs_p20261125 holds [2026-11-25 00:00, 2026-11-26 00:00) UTC. A
// partition is created as a plain table and then attached, because
// ATTACH PARTITION takes only a SHARE UPDATE EXCLUSIVE lock on cdrs, which
// neither readers nor writers conflict with, where CREATE TABLE ...
// PARTITION OF takes an ACCESS EXCLUSIVE lock: it would queue behind a
// long CSV export and stall every insert and query behind itself.
// Likewise retention detaches a partition CONCURRENTLY before dropping it.
//
// Creating, detaching and dropping partitions hold the advisory lock
// partitionLock, so that two daemons (or a daemon and the import CLI)
// never attach the same day twice, and a day Retain is removing is not
// created again until its rows and keys are both gone.

// partitionLock is the PostgreSQL advisory lock key of partition changes
// (sqldb's migrations use 724061).
const partitionLock = 724062

const dayMicros = 24 * 60 * 60 * 1_000_000

// dayOf returns the UTC day of t, in days since the Unix epoch.
func dayOf(t time.Time) int64 {
	us := t.UnixMicro()
	d := us / dayMicros
	if us%dayMicros < 0 {
		d--
	}
	return d
}

// dayStart returns the first instant of day d.
func dayStart(d int64) time.Time { return time.UnixMicro(d * dayMicros).UTC() }

// partitionName returns the name of day d's partition.
func partitionName(d int64) string { return "cdrs_p" + dayStart(d).Format("20060102") }

// partitionPattern matches partitionName's results.
var partitionPattern = regexp.MustCompile(`^cdrs_p(\d{8})$`)

// batchDays returns the distinct days of recs' end times.
func batchDays(recs []cdr.Record) []int64 {
	var days []int64
	for i := range recs {
		if d := dayOf(recs[i].End); !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	return days
}

// ensureDays makes sure the partitions of days exist, asking the database
// only about days this Store has not seen exist yet.
func (s *Store) ensureDays(ctx context.Context, days []int64) error {
	s.pmu.Lock()
	var missing []int64
	for _, d := range days {
		if !s.days[d] {
			missing = append(missing, d)
		}
	}
	s.pmu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	return s.createPartitions(ctx, missing)
}

// forgetDays drops days from the cache of existing partitions, after an
// insert found one of them gone.
func (s *Store) forgetDays(days []int64) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	for _, d := range days {
		delete(s.days, d)
	}
}

// createPartitions creates and attaches the partitions of days that do not
// exist, in one transaction under partitionLock, and records them all as
// existing. A table of the right name that is not attached (left by a
// Retain interrupted after detaching it) is attached again: the rows left
// in it still have their keys in cdr_keys (Retain deletes both together),
// so they must stay visible.
func (s *Store) createPartitions(ctx context.Context, days []int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("partitions: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
		return fmt.Errorf("partitions: lock: %w", err)
	}
	for _, d := range days {
		name := partitionName(d)
		var attached bool
		err := tx.QueryRowContext(ctx, `SELECT relispartition FROM pg_class WHERE oid = to_regclass($1)`, name).Scan(&attached)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// LIKE copies the columns and NOT NULLs; ATTACH adds the
			// parent's indexes, which is instant on an empty table.
			if _, err := tx.ExecContext(ctx, `CREATE TABLE `+name+` (LIKE cdrs)`); err != nil {
				return fmt.Errorf("partitions: create %s: %w", name, err)
			}
		case err != nil:
			return fmt.Errorf("partitions: look up %s: %w", name, err)
		case attached:
			continue
		}
		attach := fmt.Sprintf(`ALTER TABLE cdrs ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')`,
			name, dayStart(d).Format("2006-01-02 15:04:05Z07:00"), dayStart(d+1).Format("2006-01-02 15:04:05Z07:00"))
		if _, err := tx.ExecContext(ctx, attach); err != nil {
			return fmt.Errorf("partitions: attach %s: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("partitions: commit: %w", err)
	}
	s.pmu.Lock()
	for _, d := range days {
		s.days[d] = true
	}
	s.pmu.Unlock()
	return nil
}

// isNoPartition reports whether err is PostgreSQL refusing a row that no
// partition of cdrs takes.
func isNoPartition(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514"
}

// maxEnsureDays bounds EnsurePartitions' span: ten years of partitions.
const maxEnsureDays = 3660

// EnsurePartitions creates the PostgreSQL day partitions covering [from,
// to] that do not exist yet. The daemon calls it ahead (say each hour for
// the next few days) so that no live insert waits for a partition: at
// midnight, or behind a Retain, which holds the partition lock while
// DETACH ... CONCURRENTLY waits for long readers such as a CSV export.
// InsertNew creates any other day it needs on demand, so it is an
// optimisation, not a requirement. On SQLite it does nothing.
func (s *Store) EnsurePartitions(ctx context.Context, from, to time.Time) error {
	if s.db.Engine != sqldb.Postgres {
		return nil
	}
	switch {
	case to.Before(from):
		return fmt.Errorf("cdr: partitions: %s is before %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	case !cdr.EndInRange(from) || !cdr.EndInRange(to):
		return fmt.Errorf("cdr: partitions: %s to %s is outside 1970-9999", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	first, last := dayOf(from), dayOf(to)
	if last-first >= maxEnsureDays {
		return fmt.Errorf("cdr: partitions: %d days requested, at most %d at once", last-first+1, maxEnsureDays)
	}
	days := make([]int64, 0, last-first+1)
	for d := first; d <= last; d++ {
		days = append(days, d)
	}
	// Ask the database even about days this Store has seen: another
	// process's Retain may have dropped them.
	if err := s.createPartitions(ctx, days); err != nil {
		return fmt.Errorf("cdr: %w", err)
	}
	return nil
}
