package cdr_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning/sqldb/sqldbtest"
)

// explain returns the plan of the statement Query runs for f, one line per
// plan node.
func explain(t testing.TB, db *sqldb.DB, s *cdr.Store, f cdr.Filter, pgSettings ...string) string {
	t.Helper()
	ctx := context.Background()
	query, args := s.QuerySQL(f)
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	var lines []string
	if db.Engine == sqldb.Postgres {
		for _, set := range pgSettings {
			if _, err := tx.ExecContext(ctx, "SET LOCAL "+set); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.SelectContext(ctx, &lines, "EXPLAIN "+query, args...); err != nil {
			t.Fatal(err)
		}
	} else {
		rows, err := tx.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%d<-%d %s", id, parent, detail))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(lines, "\n")
}

// TestQueryPlan checks that the statements Query runs can be answered in
// order from the time indexes, so a page costs the same at any depth and
// any table size. SQLite's planner is checked as it stands (no statistics);
// PostgreSQL's, on a table too small for it to bother with an index, with
// sequential scans and sorts priced out, which shows an ordered index path
// exists. BenchmarkQueryDomainNewest100 checks both planners' choice on
// 100,000 analysed rows.
func TestQueryPlan(t *testing.T) {
	cursor := &cdr.Cursor{End: base, ID: 42}
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("d%d.example", i)
	}
	tests := []struct {
		name  string
		f     cdr.Filter
		index string
		scans int // index scans expected
	}{
		{"one domain", cdr.Filter{Domains: []string{"a.example"}}, "cdrs_domain_end_idx", 1},
		{"one domain, next page", cdr.Filter{Domains: []string{"a.example"}, Before: cursor}, "cdrs_domain_end_idx", 1},
		{"one domain, filtered", cdr.Filter{Domains: []string{"a.example"}, Before: cursor, From: base.Add(-time.Hour), Account: "alice", MinBillsec: 1}, "cdrs_domain_end_idx", 1},
		{"three domains, next page", cdr.Filter{Domains: []string{"a.example", "b.example", "c.example"}, Before: cursor}, "cdrs_domain_end_idx", 3},
		{"every domain", cdr.Filter{}, "cdrs_end_idx", 1},
		{"every domain, next page", cdr.Filter{Before: cursor}, "cdrs_end_idx", 1},
		{"every domain, one switch", cdr.Filter{Before: cursor, Switch: "pbx1"}, "cdrs_end_idx", 1},
		{"one domain, one switch", cdr.Filter{Domains: []string{"a.example"}, Switch: "pbx1"}, "cdrs_domain_end_idx", 1},
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				plan := explain(t, db, s, tt.f, "enable_seqscan = off", "enable_bitmapscan = off", "enable_sort = off")
				if n := strings.Count(plan, tt.index); n != tt.scans {
					t.Errorf("%d scans of %s, want %d:\n%s", n, tt.index, tt.scans, plan)
				}
				if unordered(db, plan) {
					t.Errorf("the rows are sorted, not read in order from the index:\n%s", plan)
				}
				if tt.f.Before != nil && cursorBounds(db, plan) != tt.scans {
					t.Errorf("the cursor does not bound every index scan:\n%s", plan)
				}
			})
		}
		// Past perDomainMax domains the IN list is used; it must at least
		// use an index.
		plan := explain(t, db, s, cdr.Filter{Domains: many, Before: cursor}, "enable_seqscan = off", "enable_bitmapscan = off")
		if !strings.Contains(plan, "cdrs_domain_end_idx") && !strings.Contains(plan, "cdrs_end_idx") {
			t.Errorf("40 domains: no time index used:\n%s", plan)
		}
	})
}

// unordered reports whether plan sorts the rows it reads from an index
// (a per-branch re-sort of SQLite's bounded UNION ALL branches aside).
func unordered(db *sqldb.DB, plan string) bool {
	if db.Engine == sqldb.Postgres {
		for _, line := range strings.Split(plan, "\n") {
			line = strings.TrimLeft(line, " ->")
			if strings.HasPrefix(line, "Sort  (") || strings.HasPrefix(line, "Incremental Sort  (") {
				return true
			}
		}
		return false
	}
	if strings.Contains(plan, "UNION ALL") {
		return !strings.Contains(plan, "MERGE (UNION ALL)")
	}
	return strings.Contains(plan, "TEMP B-TREE")
}

// cursorBounds counts the index scans of plan that start at the cursor.
func cursorBounds(db *sqldb.DB, plan string) int {
	n := 0
	for _, line := range strings.Split(plan, "\n") {
		if db.Engine == sqldb.Postgres && strings.Contains(line, "Index Cond:") && strings.Contains(line, "ROW(end_time, id) < ROW(") ||
			db.Engine == sqldb.SQLite && strings.Contains(line, "SEARCH cdrs USING") && strings.Contains(line, "end_time<?") {
			n++
		}
	}
	return n
}
