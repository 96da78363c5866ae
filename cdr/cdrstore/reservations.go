package cdrstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// The real-time authorizer's reservations (migration 0007): the live
// calls it allowed and the calls that ended in the last minutes, which
// provisioning/authz journals here in batches so that a restarted daemon
// still counts the calls running on its switches. The store only keeps
// rows; what they mean (a concurrent slot, money held back) is the
// authorizer's.

// Reservation is one call's row: its key and owner, what it reserved and
// until when, and, once it ended, when and what it cost.
type Reservation struct {
	Switch, CallID string
	TenantID       int64
	UserID         int64 // 0: not placed by a user
	Direction      string
	Destination    string
	Reserved       money.Amount // what the whole authorized duration may cost
	Currency       money.Currency
	MaxSeconds     int
	Start, Expires time.Time
	// Released is when the call ended (zero: live); Settled its cost
	// then, kept deducted until its CDR is booked.
	Released time.Time
	Settled  money.Amount
	// Of is the call id of the call this one is a leg of (authz
	// Call.Of), "" for a call of its own.
	Of string
}

// ReservationKey is a reservation's (switch, call id).
type ReservationKey struct{ Switch, CallID string }

// reservationColumns are the columns of authz_reservations in Reservation's order.
const reservationColumns = `switch, call_id, tenant_id, user_id, direction, destination, reserved, currency,
	max_seconds, started_at, expires_at, released_at, settled, of_call`

// SaveReservations writes, in one transaction, put (a new reservation, or
// the release of one: every column is set, a row already there is
// overwritten) and deletes the rows of drop (a key without a row is no
// error). Text is mended as CDRs' is (cdr.MendText), so that a call id
// in invalid UTF-8 still matches its CDR's key.
func (s *Store) SaveReservations(ctx context.Context, put []Reservation, drop []ReservationKey) error {
	if len(put) == 0 && len(drop) == 0 {
		return nil
	}
	if s.db.Engine == sqldb.SQLite {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if err := s.prepareReservations(ctx); err != nil {
			return fmt.Errorf("cdr: reservations: %w", err)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cdr: reservations: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if s.db.Engine == sqldb.Postgres {
		err = savePostgres(ctx, tx, put, drop)
	} else {
		err = s.saveSQLite(ctx, tx, put, drop)
	}
	if err != nil {
		return fmt.Errorf("cdr: reservations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cdr: reservations: commit: %w", err)
	}
	return nil
}

// upsertReservationsSQLite is the head of an upsert of rows, and
// reservationRowSQLite the placeholders of one.
const (
	upsertReservationsSQLite = `INSERT INTO authz_reservations (` + reservationColumns + `) VALUES `
	upsertReservationsTail   = ` ON CONFLICT (switch, call_id) DO UPDATE SET tenant_id = excluded.tenant_id, user_id = excluded.user_id,
	direction = excluded.direction, destination = excluded.destination, reserved = excluded.reserved,
	currency = excluded.currency, max_seconds = excluded.max_seconds, started_at = excluded.started_at,
	expires_at = excluded.expires_at, released_at = excluded.released_at, settled = excluded.settled, of_call = excluded.of_call`
	reservationRowSQLite = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

// sqliteReservationSizes are the row counts of the statements a write
// is cut into, largest first, each prepared once (Store.reservationStmts):
// a journal write every 50 ms of a few dozen rows spent as long parsing a
// statement made for its size as running it.
var sqliteReservationSizes = []int{64, 8, 1}

// prepareReservations prepares the upserts and deletions of every size
// of sqliteReservationSizes once, on the pool (see prepareLedger). The
// caller holds wmu and no transaction yet.
func (s *Store) prepareReservations(ctx context.Context) error {
	if s.reservationStmts != nil {
		return nil
	}
	stmts := map[int]*sql.Stmt{}
	for _, n := range sqliteReservationSizes {
		for _, q := range []struct {
			key int
			sql string
		}{
			{n, upsertReservationsSQLite + reservationRowSQLite + strings.Repeat(", "+reservationRowSQLite, n-1) + upsertReservationsTail},
			{-n, `DELETE FROM authz_reservations WHERE (switch, call_id) IN (VALUES (?, ?)` + strings.Repeat(", (?, ?)", n-1) + `)`},
		} {
			st, err := s.db.PrepareContext(ctx, q.sql)
			if err != nil {
				for _, st := range stmts {
					st.Close()
				}
				return fmt.Errorf("prepare: %w", err)
			}
			stmts[q.key] = st
		}
	}
	s.reservationStmts = stmts
	return nil
}

// saveSQLite runs SaveReservations' statements, the largest prepared size
// that fits at a time. The caller holds wmu and called
// prepareReservations before opening tx.
func (s *Store) saveSQLite(ctx context.Context, tx *sql.Tx, put []Reservation, drop []ReservationKey) error {
	args := make([]any, 0, sqliteReservationSizes[0]*14)
	for rest := put; len(rest) > 0; {
		n := chunkSize(len(rest))
		args = args[:0]
		for i := range rest[:n] {
			r := &rest[i]
			var released any
			if !r.Released.IsZero() {
				released = r.Released.UnixMicro()
			}
			args = append(args, cdr.MendText(r.Switch), cdr.MendText(r.CallID), r.TenantID, r.UserID, r.Direction,
				cdr.MendText(r.Destination), int64(r.Reserved), string(r.Currency), r.MaxSeconds,
				r.Start.UnixMicro(), r.Expires.UnixMicro(), released, int64(r.Settled), cdr.MendText(r.Of))
		}
		if _, err := tx.StmtContext(ctx, s.reservationStmts[n]).ExecContext(ctx, args...); err != nil {
			return err
		}
		rest = rest[n:]
	}
	for rest := drop; len(rest) > 0; {
		n := chunkSize(len(rest))
		args = args[:0]
		for _, k := range rest[:n] {
			args = append(args, cdr.MendText(k.Switch), cdr.MendText(k.CallID))
		}
		if _, err := tx.StmtContext(ctx, s.reservationStmts[-n]).ExecContext(ctx, args...); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

// chunkSize is the largest of sqliteReservationSizes not above n (> 0).
func chunkSize(n int) int {
	for _, size := range sqliteReservationSizes {
		if n >= size {
			return size
		}
	}
	return 1
}

// upsertReservationsPostgres writes the rows given as arrays, replacing
// those of their keys, in one statement.
const upsertReservationsPostgres = `INSERT INTO authz_reservations (` + reservationColumns + `)
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[],
		$9::int[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::bigint[], $14::text[])
	ON CONFLICT (switch, call_id) DO UPDATE SET tenant_id = excluded.tenant_id, user_id = excluded.user_id,
	direction = excluded.direction, destination = excluded.destination, reserved = excluded.reserved,
	currency = excluded.currency, max_seconds = excluded.max_seconds, started_at = excluded.started_at,
	expires_at = excluded.expires_at, released_at = excluded.released_at, settled = excluded.settled, of_call = excluded.of_call`

// savePostgres runs SaveReservations' statements with arrays: one round
// trip for the rows, one for the deletions, whatever their number.
func savePostgres(ctx context.Context, tx *sql.Tx, put []Reservation, drop []ReservationKey) error {
	if n := len(put); n > 0 {
		sw, call, dir, dest, cur, of := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		tenant, user, reserved, settled := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		secs := make([]int32, n)
		start, expires, released := make([]time.Time, n), make([]time.Time, n), make([]*time.Time, n)
		for i := range put {
			r := &put[i]
			sw[i], call[i], dir[i], dest[i], cur[i] = cdr.MendText(r.Switch), cdr.MendText(r.CallID), r.Direction, cdr.MendText(r.Destination), string(r.Currency)
			tenant[i], user[i], reserved[i], settled[i] = r.TenantID, r.UserID, int64(r.Reserved), int64(r.Settled)
			secs[i] = int32(min(r.MaxSeconds, 1<<31-1))
			start[i], expires[i], of[i] = microUTC(r.Start), microUTC(r.Expires), cdr.MendText(r.Of)
			if !r.Released.IsZero() {
				t := microUTC(r.Released)
				released[i] = &t
			}
		}
		if _, err := tx.ExecContext(ctx, upsertReservationsPostgres, sw, call, tenant, user, dir, dest, reserved, cur,
			secs, start, expires, released, settled, of); err != nil {
			return err
		}
	}
	if n := len(drop); n > 0 {
		sw, call := make([]string, n), make([]string, n)
		for i, k := range drop {
			sw[i], call[i] = cdr.MendText(k.Switch), cdr.MendText(k.CallID)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM authz_reservations r USING unnest($1::text[], $2::text[]) AS k(s, c)
			WHERE r.switch = k.s AND r.call_id = k.c`, sw, call); err != nil {
			return err
		}
	}
	return nil
}

// storedCDR is the condition "the row's CDR is stored": cdrs' unique key
// on SQLite, cdr_keys (the dedup key of the partitioned cdrs) on
// PostgreSQL.
func (s *Store) storedCDR() string {
	table := "cdrs"
	if s.db.Engine == sqldb.Postgres {
		table = "cdr_keys"
	}
	return `EXISTS (SELECT 1 FROM ` + table + ` c WHERE c.switch = authz_reservations.switch AND c.call_id = authz_reservations.call_id)`
}

// Reservations returns the rows of the switches named (all with none)
// whose CDR is not stored, by start: a row whose release was not written
// before a crash but whose CDR was is not a live call. The authorizer
// reads them when the daemon starts, before the switches connect.
func (s *Store) Reservations(ctx context.Context, switches []string) ([]Reservation, error) {
	q := `SELECT ` + reservationColumns + ` FROM authz_reservations WHERE NOT ` + s.storedCDR()
	var args []any
	if len(switches) > 0 {
		q += ` AND switch IN (?` + strings.Repeat(", ?", len(switches)-1) + `)`
		for _, sw := range switches {
			args = append(args, cdr.MendText(sw))
		}
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q+` ORDER BY started_at, switch, call_id`), args...)
	if err != nil {
		return nil, fmt.Errorf("cdr: reservations: %w", err)
	}
	defer rows.Close()
	var out []Reservation
	for rows.Next() {
		var r Reservation
		var start, expires, released dbTime
		var cur string
		if err := rows.Scan(&r.Switch, &r.CallID, &r.TenantID, &r.UserID, &r.Direction, &r.Destination, &r.Reserved, &cur,
			&r.MaxSeconds, &start, &expires, &released, &r.Settled, &r.Of); err != nil {
			return nil, fmt.Errorf("cdr: reservations: %w", err)
		}
		r.Currency, r.Start, r.Expires, r.Released = money.Currency(cur), start.t, expires.t, released.t
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cdr: reservations: %w", err)
	}
	return out, nil
}

// PruneReservations deletes the rows no authorizer needs any more: those
// whose CDR is stored, and those that ended (released, or else expired)
// before before. The authorizer runs it now and then, and before it
// loads the rows at start; it is the clean-up of the releases a crash
// lost and of the calls released before their CDR arrived. It returns
// how many rows it deleted.
func (s *Store) PruneReservations(ctx context.Context, before time.Time) (int64, error) {
	if s.db.Engine == sqldb.SQLite {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM authz_reservations WHERE COALESCE(released_at, expires_at) < ? OR `+s.storedCDR()),
		s.timeArg(before, false))
	if err != nil {
		return 0, fmt.Errorf("cdr: prune reservations: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("cdr: prune reservations: %w", err)
	}
	return n, nil
}
