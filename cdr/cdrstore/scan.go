package cdrstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/money"
)

// recordRow is a row of cdrs as sqlx scans it by the db tags of
// cdr.Record. Only what the engines store differently from the Go type is
// overridden: times (unix microseconds on SQLite, timestamptz on
// PostgreSQL) and raw, which may be NULL. sqlx maps a column to the
// shallowest field of its name, so these win over the embedded ones.
type recordRow struct {
	cdr.Record
	Start  dbTime        `db:"start_time"`
	Answer dbTime        `db:"answer_time"`
	End    dbTime        `db:"end_time"`
	Raw    []byte        `db:"raw"`
	Cost   sql.NullInt64 `db:"cost"`
	// SupplierCost is named for its column: sqlx maps a column to the
	// shallowest field of its name, so this wins over the embedded one.
	SupplierCost sql.NullInt64 `db:"supplier_cost"`
}

// record returns the scanned row as a cdr.Record. StructScan assigns every
// column, so a recordRow can be reused from row to row.
func (r *recordRow) record() cdr.Record {
	rec := r.Record
	rec.Start, rec.End, rec.Answer, rec.Raw = r.Start.t, r.End.t, nil, nil
	rec.Cost, rec.SupplierCost = amount(r.Cost), amount(r.SupplierCost)
	if r.Answer.valid {
		a := r.Answer.t
		rec.Answer = &a
	}
	if len(r.Raw) > 0 {
		rec.Raw = json.RawMessage(r.Raw)
	}
	return rec
}

// amount is a nullable amount column as a *money.Amount (nil for NULL).
func amount(n sql.NullInt64) *money.Amount {
	if !n.Valid {
		return nil
	}
	a := money.Amount(n.Int64)
	return &a
}

// deadLetterRow is a row of cdr_dead_letters as sqlx scans it by the db
// tags of cdr.DeadLetter, its time overridden as in recordRow.
type deadLetterRow struct {
	cdr.DeadLetter
	ReceivedAt dbTime `db:"received_at"`
}

func (r *deadLetterRow) deadLetter() cdr.DeadLetter {
	d := r.DeadLetter
	d.ReceivedAt = r.ReceivedAt.t
	return d
}

// dbTime scans a time column of either engine: unix microseconds from
// SQLite, timestamptz from PostgreSQL, NULL as not valid. Times come back
// in UTC.
type dbTime struct {
	t     time.Time
	valid bool
}

func (d *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = dbTime{}
	case int64:
		*d = dbTime{time.UnixMicro(v).UTC(), true}
	case time.Time:
		*d = dbTime{v.UTC(), true}
	default:
		return fmt.Errorf("cdr: cannot scan %T into a time", src)
	}
	return nil
}

var _ sql.Scanner = (*dbTime)(nil)
