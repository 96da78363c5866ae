// Package sqlstore keeps the provisioning model in SQL: SQLite embedded, or
// PostgreSQL at scale, through the one sqlx layer of internal/sqldb. It
// implements provisioning.Store.
//
// Both engines run the same parameterised statements (written with ? and
// rebound for PostgreSQL); only the schema files differ. Tenant subtrees and
// name prefixes are half-open ranges [prefix, successor(prefix)) on
// byte-ordered columns, so the same statement is an index range scan on
// both engines and no value is ever spliced into SQL or a LIKE pattern.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// Migrations holds the schema, one directory per engine ("sqlite/",
// "postgres/"), in the layout sqldb.DB.Migrate expects.
//
//go:embed migrations
var migrationsFS embed.FS

// Migrations is migrationsFS rooted at migrations/.
var Migrations fs.FS = mustSub(migrationsFS, "migrations")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Component is the name under which the migrations are recorded.
const Component = "provisioning"

// Migrate brings the provisioning schema of db up to date. It is idempotent.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := db.Migrate(ctx, Component, Migrations); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

// Store is a provisioning.Store over a migrated database. It is safe for
// concurrent use.
type Store struct {
	db *sqldb.DB
	// now is the clock; tests may replace it.
	now func() time.Time
}

var _ provisioning.Store = (*Store)(nil)

// New returns a Store over db, which must have been migrated (Migrate).
func New(db *sqldb.DB) *Store {
	return &Store{db: db, now: time.Now}
}

// clock returns the current time as stored: UTC, truncated to the
// microsecond PostgreSQL keeps, so that an object written and read back is
// equal to the one the caller holds.
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// sqliteTime is how timestamps are written to SQLite: fixed-width UTC text
// that sorts in time order, that SQLite's date functions understand and
// that the driver parses back into time.Time for TIMESTAMP columns.
const sqliteTime = "2006-01-02 15:04:05.000000"

// ts converts a timestamp into a statement argument for the engine.
func (s *Store) ts(t time.Time) any {
	if s.db.Engine == sqldb.SQLite {
		return t.UTC().Format(sqliteTime)
	}
	return t.UTC()
}

// tsPtr is ts for a nullable timestamp.
func (s *Store) tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.ts(*t)
}

// utc normalises timestamps read back: pgx returns them in the local zone.
func utc(ts ...*time.Time) {
	for _, t := range ts {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
}

// q rebinds a statement written with ? placeholders for the engine.
func (s *Store) q(query string) string { return s.db.Rebind(query) }

// inTx runs fn in a transaction, committing when it returns nil. On SQLite
// the transaction takes the write lock at BEGIN (sqldb opens it with
// _txlock=immediate), so read-check-write sequences inside it are atomic.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// treeLockKey serialises changes to tenant paths on PostgreSQL (SQLite's
// immediate transactions already serialise all writers). Without it a
// tenant created under a parent that is being moved could keep the
// parent's old path, and two crossing moves could build a cycle.
const treeLockKey = 724062

func (s *Store) lockTree(ctx context.Context, tx *sqlx.Tx) error {
	if s.db.Engine != sqldb.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, treeLockKey); err != nil {
		return fmt.Errorf("sqlstore: lock tenant tree: %w", err)
	}
	return nil
}

// notFound turns sql.ErrNoRows into a *provisioning.NotFoundError and wraps
// anything else.
func notFound(err error, kind string, key any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return provisioning.NotFound(kind, key)
	}
	return fmt.Errorf("sqlstore: read %s %v: %w", kind, key, err)
}

// ref is a foreign key a write sets: field names it in errors, table is a
// constant of this package (never input), id is the value written (0 or nil
// when unset).
type ref struct {
	field, kind, table string
	id                 int64
}

func optRef(field, kind, table string, id *int64) ref {
	r := ref{field: field, kind: kind, table: table}
	if id != nil {
		r.id = *id
	}
	return r
}

// writeErr translates the error of an insert or update: a unique violation
// becomes a ConflictError on uniqueField, a foreign-key violation a
// RefError naming the missing reference; the model's own errors pass
// through unchanged. Call it after the failed statement's transaction has
// ended: PostgreSQL has aborted it, and a SQLite :memory: database has only
// the one connection the transaction held.
func (s *Store) writeErr(ctx context.Context, op string, err error, uniqueField, uniqueReason string, refs ...ref) error {
	switch {
	case sqldb.IsUniqueViolation(err):
		return provisioning.Conflict(uniqueField, "%s", uniqueReason)
	case sqldb.IsForeignKeyViolation(err):
		for _, r := range refs {
			if r.id == 0 {
				continue
			}
			var n int
			if e := s.db.GetContext(ctx, &n, s.q(`SELECT COUNT(*) FROM `+r.table+` WHERE id = ?`), r.id); e == nil && n == 0 {
				return &provisioning.RefError{Field: r.field, NotFoundError: &provisioning.NotFoundError{Kind: r.kind, Key: fmt.Sprint(r.id)}}
			}
		}
	case errors.Is(err, provisioning.ErrNotFound), errors.Is(err, provisioning.ErrConflict), errors.Is(err, provisioning.ErrInvalid):
		return err
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// deleteErr translates the error of a delete: a foreign-key violation means
// a child appeared between the check and the delete.
func deleteErr(kind string, id int64, err error) error {
	if sqldb.IsForeignKeyViolation(err) {
		return provisioning.Conflict("", "%s %d still has dependent objects", kind, id)
	}
	return fmt.Errorf("sqlstore: delete %s %d: %w", kind, id, err)
}

// oneRow reports NotFound when an UPDATE by ID changed no row.
func oneRow(res sql.Result, kind string, id int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: %s %d: rows affected: %w", kind, id, err)
	}
	if n == 0 {
		return provisioning.NotFound(kind, id)
	}
	return nil
}

// exists reports NotFound unless table has a row with id. Inside the
// transaction of a delete it is the first step of check-then-delete.
func exists(ctx context.Context, q sqlx.QueryerContext, rebind func(string) string, table, kind string, id int64) error {
	var n int
	if err := sqlx.GetContext(ctx, q, &n, rebind(`SELECT COUNT(*) FROM `+table+` WHERE id = ?`), id); err != nil {
		return fmt.Errorf("sqlstore: read %s %d: %w", kind, id, err)
	}
	if n == 0 {
		return provisioning.NotFound(kind, id)
	}
	return nil
}

// where accumulates the conditions and arguments of a list query.
type where struct {
	conds []string
	args  []any
}

func (w *where) and(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// prefix restricts col to values starting with p, as the range
// [p, successor(p)): an index range scan on both engines, and no LIKE
// pattern to escape. A prefix that no stored value can have (invalid UTF-8
// or a NUL, which validation refuses) matches nothing.
func (w *where) prefix(col, p string) {
	if p == "" {
		return
	}
	if !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		w.and("1 = 0")
		return
	}
	if hi, ok := successor(p); ok {
		w.and(col+" >= ? AND "+col+" < ?", p, hi)
	} else {
		w.and(col+" >= ?", p)
	}
}

// sql returns the WHERE clause, or "" when there is no condition.
func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// page appends keyset paging on idCol and returns the finished statement
// and its arguments.
func (w *where) page(base, idCol string, p provisioning.Page) (string, []any) {
	p = p.Normalize()
	w.and(idCol+" > ?", p.After)
	return base + w.sql() + " ORDER BY " + idCol + " LIMIT ?", append(w.args, p.Limit)
}

// successor returns the smallest string greater than every string that
// starts with p, under byte-wise (= code point) order: p with its last
// rune incremented, after dropping trailing U+10FFFF. ok is false when there
// is none (p is all U+10FFFF).
func successor(p string) (string, bool) {
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r < utf8.MaxRune {
			r++
			if r >= 0xD800 && r <= 0xDFFF { // surrogates are not encodable
				r = 0xE000
			}
			return p + string(r), true
		}
	}
	return "", false
}

// plural formats "1 domain" / "2 domains" for refusal reasons.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// remains lists the non-zero counts of children, in the order given.
type child struct {
	n         int
	one, many string
}

func remains(children ...child) []string {
	var out []string
	for _, c := range children {
		if c.n > 0 {
			out = append(out, plural(c.n, c.one, c.many))
		}
	}
	return out
}

// list runs a list query and normalises every row with fix. It returns an
// empty, non-nil slice when nothing matches, which encodes as [] in JSON.
func list[T any](ctx context.Context, s *Store, what, query string, args []any, fix func(*T)) ([]T, error) {
	out := []T{}
	if err := s.db.SelectContext(ctx, &out, s.q(query), args...); err != nil {
		return nil, fmt.Errorf("sqlstore: list %s: %w", what, err)
	}
	for i := range out {
		fix(&out[i])
	}
	return out, nil
}
