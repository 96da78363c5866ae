package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The store's query latency. DB shadows the sqlx methods the stores call
// outside transactions (GetContext, SelectContext, ExecContext,
// QueryContext, QueryRowContext) to time them; transactions and raw
// connections (the CDR COPY path) are timed by their callers' own
// metrics (switchboard_cdr_batch_write_seconds). Wrapping the driver
// instead would time everything but hide pgx's connection type, which
// the COPY path needs.

// queryDuration is switchboard_store_query_duration_seconds{store,op}:
// store is the engine, op the statement's verb (select, insert, update,
// delete, with, other): a bounded label set.
var queryDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Namespace: "switchboard", Subsystem: "store", Name: "query_duration_seconds",
	Help:    "Time of one store statement outside transactions, by engine and statement verb.",
	Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
}, []string{"store", "op"})

// RegisterMetrics registers the store's query latency with reg. The
// histogram is shared by every DB of the process (labelled by engine), so
// registering it twice on one registry is not an error.
func RegisterMetrics(reg prometheus.Registerer) error {
	if err := reg.Register(queryDuration); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return err
		}
	}
	return nil
}

// statementVerb is the first word of a statement, lower-cased, if it is
// one of the verbs the stores use.
func statementVerb(query string) string {
	q := strings.TrimLeft(query, " \t\r\n(")
	end := strings.IndexAny(q, " \t\r\n(")
	if end < 0 {
		end = len(q)
	}
	switch v := strings.ToLower(q[:end]); v {
	case "select", "insert", "update", "delete", "with":
		return v
	}
	return "other"
}

func (db *DB) observe(query string, start time.Time) {
	queryDuration.WithLabelValues(string(db.Engine), statementVerb(query)).Observe(time.Since(start).Seconds())
}

// GetContext is sqlx's, timed.
func (db *DB) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	defer db.observe(query, time.Now())
	return db.DB.GetContext(ctx, dest, query, args...)
}

// SelectContext is sqlx's, timed.
func (db *DB) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	defer db.observe(query, time.Now())
	return db.DB.SelectContext(ctx, dest, query, args...)
}

// ExecContext is database/sql's, timed.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	defer db.observe(query, time.Now())
	return db.DB.ExecContext(ctx, query, args...)
}

// QueryContext is database/sql's, timed until the rows are returned (not
// until they are read).
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	defer db.observe(query, time.Now())
	return db.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext is database/sql's, timed until the row is returned.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	defer db.observe(query, time.Now())
	return db.DB.QueryRowContext(ctx, query, args...)
}
