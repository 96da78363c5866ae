package cdrstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// ceilingBatch is how many rows RawCeiling commits at a time: the largest
// batch the pipeline writes, so that the ceiling pays for as many commits
// as the pipeline at full speed.
const ceilingBatch = 5000

// RawCeiling measures the engine's raw bulk-insert speed for recs, the
// figure the load tool prints beside the pipeline's: it creates a scratch
// table like cdrs (not partitioned, with the same columns, the unique
// (switch, call_id) key and the two time indexes), inserts recs into it in
// transactions of 5,000 rows by the engine's fastest plain path (pgx COPY
// on PostgreSQL, multi-row INSERTs on SQLite) with no dedup and no
// returned IDs, drops it, and returns the time the inserts took. recs must
// be valid and have distinct keys.
func RawCeiling(ctx context.Context, db *sqldb.DB, recs []cdr.Record) (time.Duration, error) {
	table, drop, err := createScratch(ctx, db)
	if err != nil {
		return 0, err
	}
	defer drop()
	start := time.Now()
	for i := 0; i < len(recs); i += ceilingBatch {
		if err := rawInsert(ctx, db, table, recs[i:min(i+ceilingBatch, len(recs))]); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// createScratch creates an empty table shaped like cdrs for raw inserts and
// returns its name and a function that drops it.
func createScratch(ctx context.Context, db *sqldb.DB) (string, func(), error) {
	b := make([]byte, 6)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	table := "cdrs_ceiling_" + hex.EncodeToString(b)

	var ddl []string
	if db.Engine == sqldb.Postgres {
		// LIKE a partitioned table makes a plain one with its columns
		// (collations included) and time indexes. cdrs has no unique key
		// (it is in cdr_keys): the scratch table gets one on its rows.
		ddl = []string{
			`CREATE TABLE ` + table + ` (LIKE cdrs INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES)`,
			`ALTER TABLE ` + table + ` ADD UNIQUE (switch, call_id)`,
		}
	} else {
		// SQLite has no LIKE: copy the DDL of cdrs and its indexes.
		rows, err := db.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'cdrs' AND sql IS NOT NULL ORDER BY type DESC`)
		if err != nil {
			return "", nil, fmt.Errorf("cdr: ceiling: %w", err)
		}
		for rows.Next() {
			var typ, name, stmt string
			if err := rows.Scan(&typ, &name, &stmt); err != nil {
				rows.Close()
				return "", nil, fmt.Errorf("cdr: ceiling: %w", err)
			}
			if typ == "table" {
				stmt = strings.Replace(stmt, "CREATE TABLE cdrs", "CREATE TABLE "+table, 1)
			} else {
				stmt = strings.Replace(stmt, "CREATE INDEX "+name+" ON cdrs", "CREATE INDEX "+table+strings.TrimPrefix(name, "cdrs")+" ON "+table, 1)
			}
			ddl = append(ddl, stmt)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", nil, fmt.Errorf("cdr: ceiling: %w", err)
		}
		if len(ddl) == 0 || !strings.Contains(ddl[0], table) {
			return "", nil, fmt.Errorf("cdr: ceiling: cannot copy the DDL of cdrs: %q", ddl)
		}
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		db.ExecContext(ctx, `DROP TABLE IF EXISTS `+table) //nolint:errcheck // best effort; the name is unique
	}
	for _, stmt := range ddl {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			drop()
			return "", nil, fmt.Errorf("cdr: ceiling: %s: %w", stmt, err)
		}
	}
	return table, drop, nil
}

// rawInsert writes recs into table in one transaction by the fastest
// plain path.
func rawInsert(ctx context.Context, db *sqldb.DB, table string, recs []cdr.Record) error {
	if db.Engine == sqldb.Postgres {
		return copyCeiling(ctx, db, table, recs)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cdr: ceiling: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var b strings.Builder
	var args []any
	for start := 0; start < len(recs); start += sqliteChunk {
		b.Reset()
		args = appendSQLiteRows(&b, table, args[:0], recs[start:min(start+sqliteChunk, len(recs))])
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("cdr: ceiling: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cdr: ceiling: %w", err)
	}
	return nil
}

// copyCeiling COPYs recs into table, letting the table assign the ids,
// through the pgx connection under a pooled database/sql one: the same
// COPY as InsertNew's, in a transaction of its own.
func copyCeiling(ctx context.Context, db *sqldb.DB, table string, recs []cdr.Record) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("cdr: ceiling: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			return copyRows(ctx, tx, table, recs, nil)
		})
	})
	if err != nil {
		return fmt.Errorf("cdr: ceiling: copy: %w", err)
	}
	return nil
}
