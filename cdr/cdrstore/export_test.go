package cdrstore

import (
	"context"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// QuerySQL exposes the statement Query runs for f, for EXPLAIN in tests.
func (s *Store) QuerySQL(f cdr.Filter) (string, []any) {
	return s.buildQuery(f, f.PageSize()+1)
}

// CreateScratch and RawInsert expose RawCeiling's steps, so that
// BenchmarkRawCeiling times the same inserts batch by batch.
func CreateScratch(ctx context.Context, db *sqldb.DB) (string, func(), error) {
	return createScratch(ctx, db)
}

func RawInsert(ctx context.Context, db *sqldb.DB, table string, recs []cdr.Record) error {
	return rawInsert(ctx, db, table, recs)
}

// Refused exposes the store's classification of its errors.
var Refused = refused
