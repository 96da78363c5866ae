package cdrstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

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
