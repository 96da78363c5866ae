// Package cdrstore keeps Switchboard's CDRs in SQL: SQLite for a single
// switch or a small platform, PostgreSQL (partitioned by day) at scale,
// through the one sqlx layer of internal/sqldb. It implements cdr.Writer
// for the pipeline and the reads the APIs need (Query, DeadLetters), so
// that package cdr, the model and the pipeline, imports no database.
//
// The files follow the store's seams: store.go the shared write path,
// sqlite.go and postgres.go each engine's bulk insert, partitions.go
// PostgreSQL's day partitions, retention.go the deletion of old rows,
// query.go and scan.go the reads, deadletters.go the dead letters,
// refusal.go the classification of errors for the pipeline, ceiling.go the
// load tool's raw-insert yardstick, ledger.go the charge of each priced CDR
// in its insert's transaction, balance.go the balances and the payments
// posted beside them, rerate.go the re-pricing of a period, reservations.go
// the real-time authorizer's journal of live calls.
package cdrstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Migrate creates or updates the cdrs, cdr_keys (PostgreSQL),
// cdr_dead_letters, ledger, balances, rerate_runs and authz_reservations tables, and stamps CDRs stored before owners existed
// with their domain's owner now (backfill.go). Re-running it is a no-op.
// The daemon migrates provisioning first, so the domains are there.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("cdr: migrations: %w", err)
	}
	if err := db.Migrate(ctx, "cdr", sub); err != nil {
		return fmt.Errorf("cdr: %w", err)
	}
	return backfillOwners(ctx, db)
}

// Store keeps CDRs in a SQLite or PostgreSQL database, one row per
// (switch, call_id). Times are stored with microsecond precision and come
// back in UTC.
//
// On SQLite cdrs is a plain table whose UNIQUE (switch, call_id) refuses
// a second copy. On PostgreSQL it is partitioned by UTC day of end_time
// (partitions.go) and the dedup key lives in cdr_keys, written in the same
// transaction as the row.
//
// Scale. SQLite is meant for a single switch or a small platform, up to
// about a million CDRs a day with a retention of weeks (tens of millions
// of rows: its inserts keep up far beyond that, but retention deletes row
// by row and the file grows with the history). PostgreSQL is meant for
// the rest: ten million CDRs a day and more, one partition per day, which
// retention drops whole and a time-range query reads alone.
type Store struct {
	db *sqldb.DB

	// wmu serialises this process's writes on SQLite, which admits one
	// writer at a time anyway. Waiting on a Go mutex is fair and wakes at
	// once, where SQLite's busy handler polls with growing sleeps: a
	// writer would otherwise lose the lock again and again to Retain's
	// back-to-back batches.
	wmu sync.Mutex
	// ledgerStmts are SQLite's prepared ledger INSERTs by row count
	// (negative: skipping booked keys); guarded by wmu.
	ledgerStmts map[int]*sql.Stmt
	// reservationStmts are SQLite's prepared journal upserts (by row
	// count) and deletions (negative); guarded by wmu (reservations.go).
	reservationStmts map[int]*sql.Stmt

	// replaying is set while batches meet stored keys: the write paths
	// then skip their fast plain insert, which a stored key would fail.
	replaying atomic.Bool

	// pmu guards days, the UTC days (days since the epoch) whose
	// PostgreSQL partition this Store has seen exist.
	pmu  sync.Mutex
	days map[int64]bool
}

var (
	_ cdr.Sink   = (*Store)(nil)
	_ cdr.Writer = (*Store)(nil)
)

// NewStore returns a Store on db, which Migrate must have prepared.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db, days: map[int64]bool{}} }

// Put stores recs, skipping legs already stored; it is Insert for sources
// that do not care how many were new.
func (s *Store) Put(ctx context.Context, recs ...cdr.Record) error {
	_, err := s.Insert(ctx, recs)
	return err
}

// insertColumns are the columns an insert writes, in argument order: every
// field of Record but the ID the database assigns.
var insertColumns = []string{
	"switch", "call_id", "linked_id", "direction", "domain", "account", "gateway",
	"caller_number", "caller_name", "dialed", "destination",
	"start_time", "answer_time", "end_time", "duration", "billsec",
	"disposition", "cause", "cause_text", "sip_status", "codec", "user_agent", "raw", "tenant_id",
	"cost", "currency", "rate_prefix", "rate_destination", "rate_group", "plan", "unpriced",
	"supplier_cost", "supplier_currency", "supplier_prefix", "supplier_plan", "supplier_unpriced",
}

// selectColumns are the columns Query reads (into recordRow).
const selectColumns = `id, switch, call_id, linked_id, direction, domain, account, gateway,
	caller_number, caller_name, dialed, destination,
	start_time, answer_time, end_time, duration, billsec,
	disposition, cause, cause_text, sip_status, codec, user_agent, raw, tenant_id,
	cost, currency, rate_prefix, rate_destination, rate_group, plan, unpriced,
	supplier_cost, supplier_currency, supplier_prefix, supplier_plan, supplier_unpriced`

// sqliteMaxParams is SQLite's bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER
// since 3.32); an INSERT carries as many rows as fit under it.
const sqliteMaxParams = 32766

// Insert is InsertNew for callers that only need to know how many legs
// were new.
func (s *Store) Insert(ctx context.Context, recs []cdr.Record) (int, error) {
	fresh, err := s.InsertNew(ctx, recs)
	return len(fresh), err
}

// InsertNew writes recs in one transaction and returns the records that
// were new, with ID set, in input order. A record whose (Switch, CallID)
// is already stored, or repeated earlier in recs (the first copy wins), is
// skipped, so replaying a batch after a crash or a reconnect stores each
// leg exactly once; the pipeline publishes only what InsertNew returns.
// recs is neither reordered nor modified.
//
// The records returned are as stored, as Query would return them: times in
// UTC truncated to the microsecond, and text PostgreSQL would refuse
// (invalid UTF-8, such as a caller name in Latin-1 off a SIP header, or NUL
// bytes) with U+FFFD in its place, on both engines, so that one odd leg
// cannot fail a batch over and over. Their IDs ascend in input order.
//
// A batch holding a record Validate refuses is refused whole with an error
// wrapping cdr.ErrInvalidRecord, before anything is written; a batch the
// database refuses for its contents fails with an error wrapping
// cdr.ErrRefused (see refusal.go). Any other error is the database
// failing: the batch may be retried as it is.
func (s *Store) InsertNew(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error) {
	batch, err := prepare(recs)
	if err != nil {
		return nil, err
	}
	if len(batch) == 0 {
		return []cdr.Record{}, nil
	}
	var ids []int64
	if s.db.Engine == sqldb.Postgres {
		ids, err = s.insertPostgres(ctx, batch)
	} else {
		ids, err = s.insertSQLite(ctx, batch)
	}
	if err != nil {
		return nil, refused(err)
	}
	fresh := batch[:0]
	for i, r := range batch {
		if ids[i] != 0 {
			r.ID = ids[i]
			fresh = append(fresh, r)
		}
	}
	return fresh, nil
}

// recordKey is the dedup key of a stored record.
type recordKey struct{ sw, callID string }

// prepare validates recs and returns them as they will be stored (see
// storedForm), without the records whose key repeats an earlier one's.
func prepare(recs []cdr.Record) ([]cdr.Record, error) {
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return nil, fmt.Errorf("cdr: record %d (switch %.64q, call_id %.64q): %w", i, recs[i].Switch, recs[i].CallID, err)
		}
	}
	out := make([]cdr.Record, 0, len(recs))
	seen := make(map[recordKey]struct{}, len(recs))
	for i := range recs {
		r := storedForm(&recs[i])
		// The key after mending: two call ids that differ only in
		// invalid bytes are one stored key.
		k := recordKey{r.Switch, r.CallID}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, r)
	}
	return out, nil
}

// storedForm returns a copy of r as both engines store it: text mended
// (see cdr.MendText), times in UTC truncated to the microsecond, ID zero.
func storedForm(r *cdr.Record) cdr.Record {
	c := *r
	c.ID = 0
	c.Switch, c.CallID, c.LinkedID = cdr.MendText(r.Switch), cdr.MendText(r.CallID), cdr.MendText(r.LinkedID)
	c.Direction, c.Domain, c.Account, c.Gateway = cdr.Direction(cdr.MendText(string(r.Direction))), cdr.MendText(r.Domain), cdr.MendText(r.Account), cdr.MendText(r.Gateway)
	c.CallerNumber, c.CallerName, c.Dialed, c.Destination = cdr.MendText(r.CallerNumber), cdr.MendText(r.CallerName), cdr.MendText(r.Dialed), cdr.MendText(r.Destination)
	c.Disposition, c.CauseText, c.Codec, c.UserAgent = cdr.Disposition(cdr.MendText(string(r.Disposition))), cdr.MendText(r.CauseText), cdr.MendText(r.Codec), cdr.MendText(r.UserAgent)
	c.RatePrefix, c.RateDestination, c.RateGroup, c.Plan = cdr.MendText(r.RatePrefix), cdr.MendText(r.RateDestination), cdr.MendText(r.RateGroup), cdr.MendText(r.Plan)
	c.SupplierPrefix, c.SupplierPlan = cdr.MendText(r.SupplierPrefix), cdr.MendText(r.SupplierPlan)
	if r.Cost != nil {
		cost := *r.Cost
		c.Cost = &cost
	}
	if r.SupplierCost != nil {
		cost := *r.SupplierCost
		c.SupplierCost = &cost
	}
	c.Start, c.End = microUTC(r.Start), microUTC(r.End)
	if r.Answer != nil {
		a := microUTC(*r.Answer)
		c.Answer = &a
	}
	if len(r.Raw) > 0 && !utf8.Valid(r.Raw) {
		// JSON holds no NUL byte, so only UTF-8 needs mending.
		c.Raw = json.RawMessage(strings.ToValidUTF8(string(r.Raw), "\uFFFD"))
	}
	return c
}

// microUTC truncates t to the microsecond in UTC, as SQLite's integers
// and PostgreSQL's timestamptz store it. The zero time stays zero.
func microUTC(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}
