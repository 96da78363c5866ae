package sqldb_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn     string
		engine  sqldb.Engine
		src     string
		wantErr bool
	}{
		{"sqlite:./data/switchboard.db", sqldb.SQLite, "./data/switchboard.db", false},
		{"sqlite:///var/lib/sb.db", sqldb.SQLite, "/var/lib/sb.db", false},
		{"/var/lib/sb.db", sqldb.SQLite, "/var/lib/sb.db", false},
		{"file:sb.db?cache=shared", sqldb.SQLite, "file:sb.db?cache=shared", false},
		{"postgres://u:p@h/db", sqldb.Postgres, "postgres://u:p@h/db", false},
		{"postgresql://u@h:5433/db?sslmode=disable", sqldb.Postgres, "postgresql://u@h:5433/db?sslmode=disable", false},
		{"", "", "", true},
		{"mysql://u:p@h/db", "", "", true},
	}
	for _, tc := range tests {
		engine, src, err := sqldb.ParseDSN(tc.dsn)
		if (err != nil) != tc.wantErr || engine != tc.engine || src != tc.src {
			t.Errorf("ParseDSN(%q) = %q, %q, %v; want %q, %q, err %v", tc.dsn, engine, src, err, tc.engine, tc.src, tc.wantErr)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://sb:hunter2@db:5432/sb": "postgres://sb:xxxxx@db:5432/sb",
		"postgres://sb@db/sb":              "postgres://sb@db/sb",
		"sqlite:./data/switchboard.db":     "sqlite:./data/switchboard.db",
	} {
		if got := sqldb.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// Migrations apply in version order, once per component, and a failing one
// leaves nothing half-applied.
func TestMigrate(t *testing.T) {
	migs := fstest.MapFS{
		"sqlite/0002_more.sql":   {Data: []byte(`ALTER TABLE widgets ADD COLUMN size INTEGER NOT NULL DEFAULT 0`)},
		"sqlite/0001_init.sql":   {Data: []byte(`CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`)},
		"postgres/0001_init.sql": {Data: []byte(`CREATE TABLE widgets (id BIGINT PRIMARY KEY, name TEXT NOT NULL)`)},
		"postgres/0002_more.sql": {Data: []byte(`ALTER TABLE widgets ADD COLUMN size INTEGER NOT NULL DEFAULT 0`)},
	}
	broken := fstest.MapFS{
		"sqlite/0001_bad.sql":   {Data: []byte(`CREATE TABLE gadgets (id INTEGER PRIMARY KEY); CREATE TABLE nonsense (`)},
		"postgres/0001_bad.sql": {Data: []byte(`CREATE TABLE gadgets (id BIGINT PRIMARY KEY); CREATE TABLE nonsense (`)},
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		for i := 0; i < 2; i++ { // the second run is a no-op
			if err := db.Migrate(ctx, "widgets", migs); err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO widgets (id, name, size) VALUES (1, 'a', 2)`); err != nil {
			t.Fatalf("schema after migrations: %v", err)
		}
		var n int
		if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM schema_migrations WHERE component = 'widgets'`); err != nil || n != 2 {
			t.Fatalf("schema_migrations rows = %d, %v; want 2", n, err)
		}
		if err := db.Migrate(ctx, "gadgets", broken); err == nil {
			t.Fatal("a broken migration was accepted")
		}
		var tables int
		db.GetContext(ctx, &tables, `SELECT COUNT(*) FROM schema_migrations WHERE component = 'gadgets'`) //nolint:errcheck
		if tables != 0 {
			t.Error("a failed migration was recorded")
		}
		if _, err := db.ExecContext(ctx, `SELECT * FROM gadgets`); err == nil {
			t.Error("a failed migration left its first statement applied")
		}
	})
}

func TestUniqueAndForeignKeyViolations(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		for _, q := range []string{
			`CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL, CONSTRAINT parents_name_key UNIQUE (name))`,
			`CREATE TABLE kids (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents(id))`,
			`INSERT INTO parents (id, name) VALUES (1, 'a')`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		_, err := db.ExecContext(ctx, `INSERT INTO parents (id, name) VALUES (2, 'a')`)
		if !sqldb.IsUniqueViolation(err) || sqldb.IsForeignKeyViolation(err) {
			t.Errorf("duplicate name: %v not classified as a unique violation", err)
		}
		if c := sqldb.ConstraintName(err); c != "parents_name_key" && c != "parents.name" {
			t.Errorf("ConstraintName = %q", c)
		}
		_, err = db.ExecContext(ctx, `INSERT INTO kids (id, parent_id) VALUES (1, 99)`)
		if !sqldb.IsForeignKeyViolation(err) || sqldb.IsUniqueViolation(err) {
			t.Errorf("dangling parent: %v not classified as a foreign-key violation (foreign keys must be on)", err)
		}
		// ON DELETE RESTRICT: SQLite reports it as a trigger constraint.
		for _, q := range []string{
			`CREATE TABLE pets (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents(id) ON DELETE RESTRICT)`,
			`INSERT INTO pets (id, parent_id) VALUES (1, 1)`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		_, err = db.ExecContext(ctx, `DELETE FROM parents WHERE id = 1`)
		if !sqldb.IsForeignKeyViolation(err) || sqldb.IsUniqueViolation(err) {
			t.Errorf("restricted delete: %v not classified as a foreign-key violation", err)
		}
	})
}
