package cdrstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// The store tells a refusal of the data (wrapped in cdr.ErrRefused, which
// the pipeline dead-letters) from an outage (left alone, which the
// pipeline retries), on real errors of both engines where they can be
// provoked.
func TestRefused(t *testing.T) {
	errConn := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"data exception", fmt.Errorf("cdr: insert: %w", &pgconn.PgError{Code: "22021"}), true},
		{"check violation", &pgconn.PgError{Code: "23514"}, true},
		{"program limit", &pgconn.PgError{Code: "54000"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, false},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, false},
		{"undefined table", &pgconn.PgError{Code: "42P01"}, false},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, false},
		{"serialization", &pgconn.PgError{Code: "40001"}, false},
		{"no code", &pgconn.PgError{}, false},
		{"timeout", fmt.Errorf("cdr: insert: %w", context.DeadlineExceeded), false},
		{"cancelled", context.Canceled, false},
		{"refused connection", errConn, false},
	}
	check := func(name string, err error, want bool) {
		t.Helper()
		got := cdrstore.Refused(err)
		if errors.Is(got, cdr.ErrRefused) != want {
			t.Errorf("%s: Refused(%v) = %v, want a refusal: %v", name, err, got, want)
		}
		if !errors.Is(got, err) {
			t.Errorf("%s: Refused(%v) = %v lost the cause", name, err, got)
		}
	}
	for _, c := range cases {
		check(c.name, c.err, c.want)
	}
	if cdrstore.Refused(nil) != nil {
		t.Error("Refused(nil) is not nil")
	}

	db, err := sqldb.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (n INTEGER NOT NULL CHECK (n > 0))`); err != nil {
		t.Fatal(err)
	}
	_, checkErr := db.ExecContext(ctx, `INSERT INTO t VALUES (0)`)
	_, nullErr := db.ExecContext(ctx, `INSERT INTO t VALUES (NULL)`)
	_, missingErr := db.ExecContext(ctx, `INSERT INTO nosuch VALUES (1)`)
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{{"sqlite check", checkErr, true}, {"sqlite not null", nullErr, true}, {"sqlite no table", missingErr, false}} {
		if c.err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		check(c.name, c.err, c.want)
	}
}
