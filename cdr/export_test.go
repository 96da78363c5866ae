package cdr

import (
	"context"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// QuerySQL exposes the statement Query runs for f, for EXPLAIN in tests.
func (s *Store) QuerySQL(f Filter) (string, []any) {
	return s.buildQuery(f, pageSize(f.Limit)+1)
}

// CreateScratch and RawInsert expose RawCeiling's steps, so that
// BenchmarkRawCeiling times the same inserts batch by batch.
func CreateScratch(ctx context.Context, db *sqldb.DB) (string, func(), error) {
	return createScratch(ctx, db)
}

func RawInsert(ctx context.Context, db *sqldb.DB, table string, recs []Record) error {
	return rawInsert(ctx, db, table, recs)
}
