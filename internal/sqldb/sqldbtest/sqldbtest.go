// Package sqldbtest gives tests real databases: a fresh SQLite file always,
// and a fresh PostgreSQL schema whenever a server answers. The database is
// never mocked.
//
// PostgreSQL is found at $SWITCHBOARD_TEST_POSTGRES, else at the local
// cluster .ci/run prepares (DefaultPostgresDSN). When neither answers the
// PostgreSQL half is skipped, except under CI=true where that is a failure.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// DefaultPostgresDSN is the test database .ci/run creates.
const DefaultPostgresDSN = "postgres://switchboard:switchboard@127.0.0.1:5432/switchboard_test?sslmode=disable"

var (
	pgOnce sync.Once
	pgDSN  string
	pgErr  error
)

// PostgresDSN returns the DSN of a reachable test server, or "" and why not.
func PostgresDSN() (string, error) {
	pgOnce.Do(func() {
		dsn := os.Getenv("SWITCHBOARD_TEST_POSTGRES")
		if dsn == "" {
			dsn = DefaultPostgresDSN
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", dsn)
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
		}
		pgDSN, pgErr = dsn, err
	})
	if pgErr != nil {
		return "", pgErr
	}
	return pgDSN, nil
}

// DSNs returns a fresh DSN per available engine, keyed by engine: a new
// SQLite file in t.TempDir(), and a new PostgreSQL schema dropped when the
// test ends. Use it for tests that open the database themselves (a daemon
// restart, the CLI).
func DSNs(t testing.TB) map[sqldb.Engine]string {
	t.Helper()
	out := map[sqldb.Engine]string{
		sqldb.SQLite: "sqlite:" + filepath.Join(t.TempDir(), "test.db"),
	}
	base, err := PostgresDSN()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI and does not answer: %v", err)
		}
		t.Logf("PostgreSQL half skipped: no server answers (%v); set SWITCHBOARD_TEST_POSTGRES", err)
		return out
	}
	out[sqldb.Postgres] = freshSchema(t, base)
	return out
}

// freshSchema creates a uniquely named schema and returns a DSN whose
// search_path points at it.
func freshSchema(t testing.TB, base string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) //nolint:errcheck // best effort
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Each runs fn as a subtest once per available engine with a freshly
// opened, unmigrated database.
func Each(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	dsns := DSNs(t)
	for _, engine := range []sqldb.Engine{sqldb.SQLite, sqldb.Postgres} {
		dsn, ok := dsns[engine]
		if !ok {
			continue
		}
		t.Run(string(engine), func(t *testing.T) {
			db, err := sqldb.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			fn(t, db)
		})
	}
}
