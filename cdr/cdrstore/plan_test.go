package cdrstore_test

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// explain returns the plan of the statement Query runs for f, one line per
// plan node.
func explain(t testing.TB, db *sqldb.DB, s *cdrstore.Store, f cdr.Filter, pgSettings ...string) string {
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
// exists. On PostgreSQL every index scan is one per day partition, and a
// time range reads only the partitions it covers.
// BenchmarkQueryDomainNewest100 checks both planners' choice on 100,000
// analysed rows.
func TestQueryPlan(t *testing.T) {
	cursor := &cdr.Cursor{End: base, ID: 42}
	many := make([]int64, 40)
	for i := range many {
		many[i] = int64(i + 1)
	}
	// Within base's day, so within one partition.
	from, to := base.Add(-time.Hour), base.Add(time.Hour)
	const partitions = 3
	tests := []struct {
		name  string
		f     cdr.Filter
		index string // "" for either time index
		scans int    // index scans expected, per partition read on PostgreSQL
		parts int    // partitions read on PostgreSQL
	}{
		{"one tenant", cdr.Filter{Tenants: []int64{1}}, "cdrs_tenant_end_idx", 1, partitions},
		{"one tenant, next page", cdr.Filter{Tenants: []int64{1}, Before: cursor}, "cdrs_tenant_end_idx", 1, partitions},
		{"one tenant, filtered", cdr.Filter{Tenants: []int64{1}, Before: cursor, From: base.Add(-time.Hour), Account: "alice", MinBillsec: 1}, "cdrs_tenant_end_idx", 1, 2},
		{"three tenants, next page", cdr.Filter{Tenants: []int64{1, 2, 3}, Before: cursor}, "cdrs_tenant_end_idx", 3, partitions},
		{"one domain", cdr.Filter{Domain: "a.example"}, "cdrs_domain_end_idx", 1, partitions},
		{"one domain, next page", cdr.Filter{Domain: "a.example", Before: cursor}, "cdrs_domain_end_idx", 1, partitions},
		{"one domain of one tenant", cdr.Filter{Tenants: []int64{1}, Domain: "a.example", Before: cursor}, "", 1, partitions},
		{"one domain of three tenants", cdr.Filter{Tenants: []int64{1, 2, 3}, Domain: "a.example", Before: cursor}, "", 1, partitions},
		{"every domain", cdr.Filter{}, "cdrs_end_idx", 1, partitions},
		{"every domain, next page", cdr.Filter{Before: cursor}, "cdrs_end_idx", 1, partitions},
		{"every domain, one switch", cdr.Filter{Before: cursor, Switch: "pbx1"}, "cdrs_end_idx", 1, partitions},
		{"one tenant, one switch", cdr.Filter{Tenants: []int64{1}, Switch: "pbx1"}, "cdrs_tenant_end_idx", 1, partitions},
		// Partition pruning. On an empty table any of the indexes is as
		// cheap to PostgreSQL for a time range.
		{"one tenant, one day", cdr.Filter{Tenants: []int64{1}, From: from, To: to}, "", 1, 1},
		{"three tenants, one day", cdr.Filter{Tenants: []int64{1, 2, 3}, From: from, To: to}, "", 3, 1},
		{"every domain, one day", cdr.Filter{From: from, To: to}, "cdrs_end_idx", 1, 1},
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		// Three days: the day before base's, base's, the day after.
		if err := s.EnsurePartitions(context.Background(), base.Add(-24*time.Hour), base.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := tt.scans
				if db.Engine == sqldb.Postgres {
					want *= tt.parts
					if read := partitionsRead(planOf(t, db, s, tt.f)); len(read) != tt.parts {
						t.Errorf("partitions read %v, want %d", read, tt.parts)
					}
				}
				plan := planOf(t, db, s, tt.f)
				n := 0
				if tt.index == "" {
					n = indexScans(db, plan, "cdrs_tenant_end_idx") + indexScans(db, plan, "cdrs_domain_end_idx") + indexScans(db, plan, "cdrs_end_idx")
				} else {
					n = indexScans(db, plan, tt.index)
				}
				if n != want {
					t.Errorf("%d scans of %s, want %d:\n%s", n, cmp.Or(tt.index, "the time indexes"), want, plan)
				}
				if unordered(db, plan) {
					t.Errorf("the rows are sorted, not read in order from the index:\n%s", plan)
				}
				if tt.f.Before != nil && cursorBounds(db, plan) != want {
					t.Errorf("the cursor does not bound every index scan:\n%s", plan)
				}
			})
		}
		// Past perTenantMax tenants the IN list is used; it must at least
		// use an index.
		plan := explain(t, db, s, cdr.Filter{Tenants: many, Before: cursor}, "enable_seqscan = off", "enable_bitmapscan = off")
		if indexScans(db, plan, "cdrs_tenant_end_idx") == 0 && indexScans(db, plan, "cdrs_end_idx") == 0 {
			t.Errorf("40 tenants: no time index used:\n%s", plan)
		}
	})
}

// planOf is explain with sequential scans, bitmap scans and sorts priced
// out.
func planOf(t testing.TB, db *sqldb.DB, s *cdrstore.Store, f cdr.Filter) string {
	t.Helper()
	return explain(t, db, s, f, "enable_seqscan = off", "enable_bitmapscan = off", "enable_sort = off")
}

var partitionScan = regexp.MustCompile(`\bon (cdrs_p\d{8})\b`)

// partitionsRead returns the day partitions a PostgreSQL plan reads.
func partitionsRead(plan string) []string {
	var out []string
	for _, m := range partitionScan.FindAllStringSubmatch(plan, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// partitionIndex maps the indexes of cdrs to the names PostgreSQL gives
// their copies on a day partition, cdrs_p20250314_domain_end_time_id_idx.
var partitionIndex = map[string]*regexp.Regexp{
	"cdrs_tenant_end_idx": regexp.MustCompile(`\bcdrs_p\d{8}_tenant_id_end_time_id_idx\b`),
	"cdrs_domain_end_idx": regexp.MustCompile(`\bcdrs_p\d{8}_domain_end_time_id_idx\b`),
	"cdrs_end_idx":        regexp.MustCompile(`\bcdrs_p\d{8}_end_time_id_idx\b`),
}

// indexScans counts the scans of index (as named on cdrs) in plan; on
// PostgreSQL, of its copies on the partitions.
func indexScans(db *sqldb.DB, plan, index string) int {
	if db.Engine == sqldb.Postgres {
		return len(partitionIndex[index].FindAllString(plan, -1))
	}
	return strings.Count(plan, index)
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
