// Package sqldb opens Switchboard's SQL database and applies its migrations.
// One sqlx layer serves two engines chosen by the DSN: SQLite (embedded,
// the default) and PostgreSQL (at scale). Each component that keeps tables
// (provisioning, cdr) embeds its own migrations, one directory per engine,
// and applies them with Migrate at start.
package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names the SQL engine behind a DB.
type Engine string

// The engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open database and the engine it runs on.
type DB struct {
	*sqlx.DB
	Engine Engine
}

// ParseDSN tells the engine from a DSN and returns what the driver needs.
// PostgreSQL DSNs start with postgres:// or postgresql://. SQLite DSNs are
// "sqlite:PATH", "file:PATH" or a plain path; ":memory:" is accepted for
// tests.
func ParseDSN(dsn string) (Engine, string, error) {
	switch {
	case dsn == "":
		return "", "", errors.New("sqldb: empty DSN")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		return SQLite, strings.TrimPrefix(dsn, "sqlite://"), nil
	case strings.HasPrefix(dsn, "sqlite:"):
		return SQLite, strings.TrimPrefix(dsn, "sqlite:"), nil
	case strings.Contains(dsn, "://"):
		return "", "", fmt.Errorf("sqldb: unsupported DSN scheme in %q (want postgres://, sqlite: or a file path)", redact(dsn))
	default:
		return SQLite, dsn, nil
	}
}

// redact hides the password of a URL-shaped DSN for error messages and logs.
func redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	creds := dsn[scheme+3 : at]
	if i := strings.Index(creds, ":"); i >= 0 {
		creds = creds[:i] + ":xxxxx"
	}
	return dsn[:scheme+3] + creds + dsn[at:]
}

// Redact returns dsn with any password replaced, for logs.
func Redact(dsn string) string { return redact(dsn) }

// Open opens the database named by dsn and checks that it answers. SQLite
// runs in WAL mode with a busy timeout and foreign keys on; its parent
// directory is created if missing. Open does not migrate: call Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	engine, src, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	var db *sqlx.DB
	switch engine {
	case Postgres:
		db, err = sqlx.Open("pgx", src)
		if err != nil {
			return nil, fmt.Errorf("sqldb: open %s: %w", redact(dsn), err)
		}
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(16)
		db.SetConnMaxIdleTime(5 * time.Minute)
	case SQLite:
		db, err = openSQLite(src)
		if err != nil {
			return nil, err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqldb: connect %s: %w", redact(dsn), err)
	}
	return &DB{DB: db, Engine: engine}, nil
}

func openSQLite(path string) (*sqlx.DB, error) {
	file, query, _ := strings.Cut(path, "?")
	memory := file == ":memory:" || strings.Contains(query, "mode=memory")
	if !memory {
		if dir := filepath.Dir(strings.TrimPrefix(file, "file:")); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("sqldb: create directory for %s: %w", file, err)
			}
		}
	}
	// Pragmas go in the DSN so that every pooled connection gets them.
	params := []string{
		"_pragma=foreign_keys(1)",
		"_pragma=busy_timeout(10000)",
		// FULL: a commit survives a power loss, not just a crash. A CDR is
		// acknowledged to its switch once committed, so NORMAL (which may
		// lose the last commits on power loss in WAL mode) is not enough.
		// Batching keeps the fsync per commit cheap.
		"_pragma=synchronous(FULL)",
		"_txlock=immediate",
	}
	if !memory {
		params = append(params, "_pragma=journal_mode(WAL)")
	}
	if query != "" {
		params = append([]string{query}, params...)
	}
	dsn := file + "?" + strings.Join(params, "&")
	if !strings.HasPrefix(dsn, "file:") {
		dsn = "file:" + dsn
	}
	db, err := sqlx.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqldb: open sqlite %s: %w", file, err)
	}
	if memory {
		// Each connection to :memory: is a separate database.
		db.SetMaxOpenConns(1)
	} else {
		// WAL allows many readers and one writer; _txlock=immediate makes
		// writers queue on the busy timeout instead of failing to upgrade.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	}
	return db, nil
}

// Migrate applies, in order, the migrations of component found in
// migrations under the directory named after the engine ("sqlite/",
// "postgres/"), files named NNNN_description.sql. Applied versions are
// recorded per component in schema_migrations; re-running is a no-op.
func (db *DB) Migrate(ctx context.Context, component string, migrations fs.FS) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component TEXT NOT NULL,
		version   INTEGER NOT NULL,
		name      TEXT NOT NULL,
		applied_at TEXT NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("sqldb: create schema_migrations: %w", err)
	}
	dir := string(db.Engine)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("sqldb: %s migrations for %s: %w", component, dir, err)
	}
	type mig struct {
		version int
		name    string
	}
	var migs []mig
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("sqldb: migration %s/%s: name must be NNNN_description.sql", dir, e.Name())
		}
		migs = append(migs, mig{v, e.Name()})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })

	for _, m := range migs {
		if err := db.applyOne(ctx, component, dir, m.version, m.name, migrations); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) applyOne(ctx context.Context, component, dir string, version int, name string, migrations fs.FS) error {
	body, err := fs.ReadFile(migrations, dir+"/"+name)
	if err != nil {
		return fmt.Errorf("sqldb: read migration %s: %w", name, err)
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqldb: begin migration %s: %w", name, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if db.Engine == Postgres {
		// Two daemons starting at once must not both apply a migration.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(724061)`); err != nil {
			return fmt.Errorf("sqldb: lock migrations: %w", err)
		}
	}
	var n int
	if err := tx.GetContext(ctx, &n, db.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE component = ? AND version = ?`), component, version); err != nil {
		return fmt.Errorf("sqldb: read schema_migrations: %w", err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("sqldb: apply %s migration %s: %w", component, name, err)
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)`),
		component, version, name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("sqldb: record migration %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqldb: commit migration %s: %w", name, err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either engine.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsForeignKeyViolation reports whether err is a foreign-key violation on
// either engine.
func IsForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// SQLite reports a delete refused by ON DELETE RESTRICT as a
		// trigger constraint (the action is a built-in trigger), with the
		// foreign key's message.
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY ||
			se.Code() == sqlite3.SQLITE_CONSTRAINT_TRIGGER && strings.Contains(se.Error(), "FOREIGN KEY constraint failed")
	}
	return false
}

// ConstraintName returns the name of the violated constraint when the engine
// reports one (PostgreSQL), or the "table.column" list SQLite puts in its
// message, so a store can tell which field was duplicated.
func ConstraintName(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		msg := se.Error()
		if i := strings.LastIndex(msg, "failed: "); i >= 0 {
			rest := msg[i+len("failed: "):]
			if j := strings.Index(rest, " ("); j >= 0 {
				rest = rest[:j]
			}
			return rest
		}
	}
	return ""
}
