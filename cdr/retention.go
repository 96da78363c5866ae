package cdr

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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
func batchDays(recs []Record) []int64 {
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
	case from.Before(minEnd) || !to.Before(maxEnd):
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

// Batch sizes of retention's deletes: small enough that a writer waits at
// most a few tens of milliseconds behind one.
const (
	sqliteRetainBatch = 2000
	keysRetainBatch   = 5000 // rows of a dropped partition, with their keys
)

// Retain deletes the CDRs that ended more than keep before now and
// returns how many it deleted. It is meant to run periodically (daily)
// beside live ingestion, which it never blocks for long.
//
// On SQLite it deletes in transactions of 2,000 rows. On PostgreSQL it
// drops the day partitions that ended before the cutoff: each is detached
// concurrently (readers and writers go on), its rows are deleted with
// their dedup keys in batches of 5,000, and the empty table dropped. The
// rows of the cutoff's own day stay until that whole day is past, so
// PostgreSQL keeps up to one day more than keep.
//
// Keys go with their rows: once a leg is deleted, the same leg arriving
// again (an import of an old file, a switch replaying its whole history)
// is stored again as new, and deleted again by the next Retain if it is
// still older than the cutoff. Dead letters are not touched.
func (s *Store) Retain(ctx context.Context, keep time.Duration, now time.Time) (deleted int64, err error) {
	if keep <= 0 {
		return 0, fmt.Errorf("cdr: retain: keep %v is not positive", keep)
	}
	cutoff := now.Add(-keep)
	if s.db.Engine == sqldb.Postgres {
		deleted, err = s.retainPostgres(ctx, cutoff)
	} else {
		deleted, err = s.retainSQLite(ctx, cutoff)
	}
	if err != nil {
		return deleted, fmt.Errorf("cdr: retain: %w", err)
	}
	return deleted, nil
}

func (s *Store) retainSQLite(ctx context.Context, cutoff time.Time) (int64, error) {
	q := fmt.Sprintf(`DELETE FROM cdrs WHERE id IN (SELECT id FROM cdrs WHERE end_time < ? LIMIT %d)`, sqliteRetainBatch)
	bound := s.timeArg(cutoff, true)
	var total int64
	for {
		// Each batch is its own transaction, and wmu is released between
		// batches so that a waiting InsertNew goes first.
		s.wmu.Lock()
		res, err := s.db.ExecContext(ctx, q, bound)
		s.wmu.Unlock()
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < sqliteRetainBatch {
			return total, nil
		}
	}
}

// partition is a day partition table found in the catalog.
type partition struct {
	name     string
	day      int64
	attached bool // a partition of cdrs (maybe pending detach)
	pending  bool // detached CONCURRENTLY by a Retain that was interrupted
}

func (s *Store) retainPostgres(ctx context.Context, cutoff time.Time) (total int64, err error) {
	first := dayOf(cutoff) // the first day kept
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	// A session-level lock, since DETACH ... CONCURRENTLY cannot run in a
	// transaction. If it cannot be released, the connection is discarded
	// rather than returned to the pool still holding it.
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, partitionLock); err != nil {
		conn.Close()
		return 0, fmt.Errorf("lock partitions: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, partitionLock); uerr != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // discards the connection
		}
		conn.Close()
	}()

	parts, err := listPartitions(ctx, conn)
	if err != nil {
		return 0, err
	}
	s.pmu.Lock()
	for d := range s.days {
		if d < first {
			delete(s.days, d)
		}
	}
	s.pmu.Unlock()
	for _, p := range parts {
		if p.day >= first {
			continue
		}
		n, err := dropPartition(ctx, conn, p)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// listPartitions returns the day partition tables beside cdrs, attached or
// not, oldest first.
func listPartitions(ctx context.Context, conn *sql.Conn) ([]partition, error) {
	rows, err := conn.QueryContext(ctx, `
		SELECT c.relname, c.relispartition, COALESCE(i.inhdetachpending, false)
		FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
		WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'cdrs'::regclass)
		  AND c.relkind = 'r' AND c.relname LIKE 'cdrs\_p%'`)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	defer rows.Close()
	var parts []partition
	for rows.Next() {
		var p partition
		if err := rows.Scan(&p.name, &p.attached, &p.pending); err != nil {
			return nil, fmt.Errorf("list partitions: %w", err)
		}
		m := partitionPattern.FindStringSubmatch(p.name)
		if m == nil {
			continue
		}
		t, err := time.Parse("20060102", m[1])
		if err != nil {
			continue
		}
		p.day = dayOf(t)
		parts = append(parts, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	slices.SortFunc(parts, func(a, b partition) int { return cmp.Compare(a.day, b.day) })
	return parts, nil
}

// dropPartition detaches p from cdrs (if attached), deletes its rows with
// their keys, and drops it; it returns how many rows it deleted.
//
// DETACH ... CONCURRENTLY waits for the transactions using cdrs to end but
// blocks none; if it is interrupted, the partition is left pending
// detach, and the next call finalises it. The rows of the detached table
// go in batches of keysRetainBatch, each batch's keys in the same
// statement, so a Retain stopped anywhere leaves no row without its key:
// the next one resumes, and an insert of that day meanwhile attaches the
// table again, consistent.
func dropPartition(ctx context.Context, conn *sql.Conn, p partition) (int64, error) {
	var detach string
	switch {
	case p.pending:
		detach = `ALTER TABLE cdrs DETACH PARTITION ` + p.name + ` FINALIZE`
	case p.attached:
		detach = `ALTER TABLE cdrs DETACH PARTITION ` + p.name + ` CONCURRENTLY`
	}
	if detach != "" {
		if _, err := conn.ExecContext(ctx, detach); err != nil {
			return 0, fmt.Errorf("detach %s: %w", p.name, err)
		}
	}
	// The partition's copy of cdrs_end_idx orders the batches: index
	// entries of rows already deleted are marked dead as they are met, so
	// a batch does not scan its predecessors' rows again.
	q := fmt.Sprintf(`WITH gone AS (
		DELETE FROM %[1]s WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM %[1]s ORDER BY end_time DESC, id DESC LIMIT %[2]d))
		RETURNING switch, call_id
	), keys AS (
		DELETE FROM cdr_keys k USING gone WHERE k.switch = gone.switch AND k.call_id = gone.call_id
	)
	SELECT count(*) FROM gone`, p.name, keysRetainBatch)
	var total int64
	for {
		var n int64
		if err := conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return total, fmt.Errorf("delete rows and keys of %s: %w", p.name, err)
		}
		total += n
		if n < keysRetainBatch {
			break
		}
	}
	if _, err := conn.ExecContext(ctx, `DROP TABLE `+p.name); err != nil {
		return total, fmt.Errorf("drop %s: %w", p.name, err)
	}
	return total, nil
}
