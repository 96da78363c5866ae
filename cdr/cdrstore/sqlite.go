package cdrstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// sqliteColumns and sqliteRow build insertSQLite's statements.
var (
	sqliteColumns = " (" + strings.Join(insertColumns, ", ") + ") VALUES "
	sqliteRow     = "(?" + strings.Repeat(", ?", len(insertColumns)-1) + ")"
)

// sqliteChunk is how many rows one INSERT carries on SQLite.
var sqliteChunk = sqliteMaxParams / len(insertColumns)

// insertSQLite writes batch (valid, in stored form, without repeated
// keys) with multi-row INSERTs in one transaction and returns the ID of
// each record, 0 for those already stored. SQLite runs in process, so a
// statement per chunk costs no round trip.
//
// As on PostgreSQL, a chunk goes in first as a plain INSERT, whose rows,
// under the write lock, take consecutive ids ending at last_insert_rowid;
// only when a key is already stored (the statement is then undone, the
// transaction goes on) is the chunk redone with ON CONFLICT DO NOTHING
// RETURNING, which costs the returned rows' scanning, and the store stays
// on that path until a batch holds only new legs.
func (s *Store) insertSQLite(ctx context.Context, batch []cdr.Record) ([]int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.prepareLedger(ctx); err != nil {
		return nil, fmt.Errorf("cdr: insert: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("cdr: insert: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	ids := make([]int64, len(batch))
	fresh := 0
	var b strings.Builder
	args := make([]any, 0, min(len(batch), sqliteChunk)*len(insertColumns))
	for start := 0; start < len(batch); start += sqliteChunk {
		part := batch[start:min(start+sqliteChunk, len(batch))]
		b.Reset()
		args = appendSQLiteRows(&b, "cdrs", args[:0], part)
		if !s.replaying.Load() {
			ok, err := insertSQLiteNew(ctx, tx, b.String(), args, part, ids[start:])
			if err != nil {
				return nil, fmt.Errorf("cdr: insert: %w", err)
			}
			if ok {
				fresh += len(part)
				continue
			}
			s.replaying.Store(true)
		}
		b.WriteString(" ON CONFLICT (switch, call_id) DO NOTHING RETURNING id, switch, call_id")
		n, err := insertSQLiteReturning(ctx, tx, b.String(), args, part, ids[start:])
		if err != nil {
			return nil, fmt.Errorf("cdr: insert: %w", err)
		}
		fresh += n
	}
	if err := s.postSQLite(ctx, tx, KindCharge, 0, chargesOf(batch, ids), time.Now()); err != nil {
		return nil, fmt.Errorf("cdr: insert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("cdr: insert: commit: %w", err)
	}
	if fresh == len(batch) {
		s.replaying.Store(false)
	}
	return ids, nil
}

// insertSQLiteNew runs query, a plain INSERT of part, and sets ids. It
// returns false, having written nothing, if a key of part is stored.
func insertSQLiteNew(ctx context.Context, tx *sql.Tx, query string, args []any, part []cdr.Record, ids []int64) (bool, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if sqldb.IsUniqueViolation(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	last, err := res.LastInsertId()
	if err != nil {
		return false, err
	}
	if n != int64(len(part)) {
		return false, fmt.Errorf("inserted %d rows of %d", n, len(part))
	}
	// The ids are consecutive because this transaction holds SQLite's
	// write lock; check the first one's key all the same, since a wrong
	// id would be published to every live subscriber.
	first := last - n + 1
	var k recordKey
	if err := tx.QueryRowContext(ctx, `SELECT switch, call_id FROM cdrs WHERE id = ?`, first).Scan(&k.sw, &k.callID); err != nil {
		return false, fmt.Errorf("check id %d: %w", first, err)
	}
	if k != (recordKey{part[0].Switch, part[0].CallID}) {
		return false, fmt.Errorf("ids %d to %d are not those of the rows just inserted", first, last)
	}
	for i := range part {
		ids[i] = first + int64(i)
	}
	return true, nil
}

// insertSQLiteReturning runs query, an INSERT of part that skips stored
// keys and returns the new rows' ids and keys, sets ids for those and
// returns how many there were.
func insertSQLiteReturning(ctx context.Context, tx *sql.Tx, query string, args []any, part []cdr.Record, ids []int64) (int, error) {
	index := make(map[recordKey]int, len(part))
	for i := range part {
		index[recordKey{part[i].Switch, part[i].CallID}] = i
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var k recordKey
		if err := rows.Scan(&id, &k.sw, &k.callID); err != nil {
			return 0, err
		}
		i, ok := index[k]
		if !ok {
			return 0, fmt.Errorf("the database returned a key not in the batch: %q %q", k.sw, k.callID)
		}
		ids[i] = id
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return n, rows.Close()
}

// appendSQLiteRows writes "INSERT INTO table (...) VALUES (?, ...), ..." for
// recs to b and appends their arguments to args.
func appendSQLiteRows(b *strings.Builder, table string, args []any, recs []cdr.Record) []any {
	b.Grow(len(table) + len(sqliteColumns) + len(recs)*(len(sqliteRow)+2) + 100)
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(sqliteColumns)
	for i := range recs {
		r := &recs[i]
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sqliteRow)
		var answer, raw, tenant, cost, supplierCost any
		if r.Answer != nil {
			answer = r.Answer.UnixMicro()
		}
		if r.Cost != nil {
			cost = int64(*r.Cost)
		}
		if r.SupplierCost != nil {
			supplierCost = int64(*r.SupplierCost)
		}
		if len(r.Raw) > 0 {
			raw = string(r.Raw)
		}
		if r.TenantID != nil {
			tenant = *r.TenantID
		}
		args = append(args,
			r.Switch, r.CallID, r.LinkedID, string(r.Direction), r.Domain, r.Account, r.Gateway,
			r.CallerNumber, r.CallerName, r.Dialed, r.Destination,
			r.Start.UnixMicro(), answer, r.End.UnixMicro(), r.Duration, r.Billsec,
			string(r.Disposition), r.Cause, r.CauseText, r.SIPStatus, r.Codec, r.UserAgent, raw, tenant,
			cost, string(r.Currency), r.RatePrefix, r.RateDestination, r.RateGroup, r.Plan, string(r.Unpriced),
			supplierCost, string(r.SupplierCurrency), r.SupplierPrefix, r.SupplierPlan, string(r.SupplierUnpriced))
	}
	return args
}
