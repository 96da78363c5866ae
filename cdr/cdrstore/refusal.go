package cdrstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchboard-voip/switchboard/cdr"
)

// refused returns err wrapping cdr.ErrRefused as well when it is the
// database refusing a batch for what is in it rather than failing to take
// it, and err unchanged otherwise (nil stays nil). The pipeline reads only
// the sentinel: it dead-letters a refused record and retries the rest.
func refused(err error) error {
	if err == nil || errors.Is(err, cdr.ErrRefused) || !isRefusal(err) {
		return err
	}
	return fmt.Errorf("%w: %w", cdr.ErrRefused, err)
}

// isRefusal reports whether err is a refusal of the data: a PostgreSQL
// data exception (SQLSTATE class 22), integrity violation (23) or program
// limit (54, e.g. an index row too large), or SQLite's constraint,
// datatype mismatch, too big and range errors. Anything else, known or
// not, is taken for an outage: retrying a good record costs time, while
// dead-lettering it because the database was down would lose it from the
// CDR table. A context's end is never a refusal, whatever it interrupted.
func isRefusal(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if len(pe.Code) < 2 {
			return false
		}
		switch pe.Code[:2] {
		case "22", "23", "54":
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
			return true
		}
	}
	return false
}
