package cdrstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// Count returns how many CDRs are stored.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cdrs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("cdr: count: %w", err)
	}
	return n, nil
}

// Query returns the CDRs f selects, newest first by (End, ID), and the
// cursor of the next page, nil on the last one. An empty, non-nil
// f.Tenants (a scope without tenants) selects nothing.
func (s *Store) Query(ctx context.Context, f cdr.Filter) ([]cdr.Record, *cdr.Cursor, error) {
	if f.Tenants != nil && len(f.Tenants) == 0 {
		return []cdr.Record{}, nil, nil
	}
	limit := f.PageSize()
	query, args := s.buildQuery(f, limit+1)
	rows, err := s.db.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("cdr: query: %w", err)
	}
	defer rows.Close()
	out := make([]cdr.Record, 0, min(limit+1, 128))
	var row recordRow
	for rows.Next() {
		if err := rows.StructScan(&row); err != nil {
			return nil, nil, fmt.Errorf("cdr: query: %w", err)
		}
		out = append(out, row.record())
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("cdr: query: %w", err)
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &cdr.Cursor{End: last.End, ID: last.ID}, nil
}

// perTenantMax is the most tenants Query reads one by one. Reading each
// tenant's newest rows from cdrs_tenant_end_idx and merging them costs
// (tenants × page) rows whatever the table's size; a plain IN list makes
// both engines collect every row of those tenants and sort them (or scan
// the global index and filter), which grows with the table. On a small
// table SQLite sorts so fast that the IN list wins (five domains among
// 300,000 rows: about 1.2 ms against 2.5 ms, measured when the scope was
// a list of domains, which this replaced), but it is the large table that
// must not slow down. Past this many tenants (a reseller's scope) the IN
// list reads fewer rows.
const perTenantMax = 32

// buildQuery returns the SELECT for f with fetch rows at most. Every
// value is a bound parameter.
//
// The scope (f.Tenants) is a condition on tenant_id, the owner stamped at
// ingest, never on the domain name; f.Domain is one more filter inside it,
// read from cdrs_domain_end_idx when set.
//
// The keyset condition is the row value (end_time, id) < (?, ?): both
// engines read it as a range bound on the (tenant_id, end_time, id),
// (domain, end_time, id) and (end_time, id) indexes, so a page deep in
// the history starts where the cursor points instead of skipping rows
// (plan_test.go checks this).
func (s *Store) buildQuery(f cdr.Filter, fetch int) (string, []any) {
	where, args := s.conditions(f)
	order := fmt.Sprintf(" ORDER BY end_time DESC, id DESC LIMIT %d", fetch)
	tenants := distinct(f.Tenants)

	if f.Domain == "" && len(tenants) >= 2 && len(tenants) <= perTenantMax {
		// One branch per tenant, each an ordered range scan of
		// cdrs_tenant_end_idx cut at fetch rows, then the newest fetch of
		// the union.
		var b strings.Builder
		all := make([]any, 0, len(tenants)*(len(args)+1))
		branch := selectWhere(append([]string{"tenant_id = ?"}, where...)) + order
		for i, t := range tenants {
			if i > 0 {
				b.WriteString(" UNION ALL ")
			}
			fmt.Fprintf(&b, "SELECT * FROM (%s) AS t%d", branch, i)
			all = append(all, t)
			all = append(all, args...)
		}
		b.WriteString(order)
		return s.db.Rebind(b.String()), all
	}

	switch {
	case len(tenants) == 1:
		where = append([]string{"tenant_id = ?"}, where...)
		args = append([]any{tenants[0]}, args...)
	case len(tenants) > 1 && s.db.Engine == sqldb.Postgres:
		// One array parameter keeps the statement text, and so the
		// driver's statement cache entry, the same for any list length.
		where = append([]string{"tenant_id = ANY(?::bigint[])"}, where...)
		args = append([]any{tenants}, args...)
	case len(tenants) > 1:
		// One JSON parameter stays clear of SQLite's parameter limit.
		where = append([]string{"tenant_id IN (SELECT value FROM json_each(?))"}, where...)
		args = append([]any{jsonArray(tenants)}, args...)
	}
	return s.db.Rebind(selectWhere(where) + order), args
}

func selectWhere(where []string) string {
	if len(where) == 0 {
		return "SELECT " + selectColumns + " FROM cdrs"
	}
	return "SELECT " + selectColumns + " FROM cdrs WHERE " + strings.Join(where, " AND ")
}

// conditions returns the WHERE terms of f but its tenants, with ?
// placeholders, and their arguments.
func (s *Store) conditions(f cdr.Filter) ([]string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if !f.From.IsZero() {
		add("end_time >= ?", s.timeArg(f.From, true))
	}
	if !f.To.IsZero() {
		add("end_time < ?", s.timeArg(f.To, true))
	}
	if f.Before != nil {
		add("(end_time, id) < (?, ?)", s.timeArg(f.Before.End, false), f.Before.ID)
	}
	if f.ID != 0 {
		add("id = ?", f.ID)
	}
	if f.Domain != "" {
		add("domain = ?", f.Domain)
	}
	if f.Switch != "" {
		if s.db.Engine == sqldb.SQLite {
			// Unary + keeps SQLite, which has no statistics unless
			// someone runs ANALYZE, from taking the dedup index
			// (switch, call_id) for a selective one: a deployment has a
			// handful of switches, so that plan reads and sorts nearly
			// the whole table.
			add("+switch = ?", f.Switch)
		} else {
			add("switch = ?", f.Switch)
		}
	}
	if f.Account != "" {
		add("account = ?", f.Account)
	}
	if f.Caller != "" {
		add("caller_number = ?", f.Caller)
	}
	if f.CalleePrefix != "" {
		// substr rather than LIKE: SQLite's LIKE ignores ASCII case and
		// both treat % and _ as wildcards. Both engines count characters.
		add(fmt.Sprintf("substr(dialed, 1, %d) = ?", utf8.RuneCountInString(f.CalleePrefix)), f.CalleePrefix)
	}
	if f.Disposition != "" {
		add("disposition = ?", string(f.Disposition))
	}
	if f.Gateway != "" {
		add("gateway = ?", f.Gateway)
	}
	if f.Direction != "" {
		add("direction = ?", string(f.Direction))
	}
	if f.MinBillsec > 0 {
		add("billsec >= ?", f.MinBillsec)
	}
	return where, args
}

// distinct returns ss without repeats, in first-seen order: a tenant
// listed twice must not be read twice.
func distinct(ss []int64) []int64 {
	if len(ss) < 2 {
		return ss
	}
	seen := make(map[int64]bool, len(ss))
	out := make([]int64, 0, len(ss))
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// timeArg converts t to the stored representation. With ceil, a time
// between two microseconds rounds up, which keeps end_time >= t and
// end_time < t exact for stored (whole-microsecond) times.
func (s *Store) timeArg(t time.Time, ceil bool) any {
	us := t.UnixMicro()
	if ceil && t.Nanosecond()%1000 != 0 {
		us++
	}
	if s.db.Engine == sqldb.Postgres {
		return time.UnixMicro(us).UTC()
	}
	return us
}

func jsonArray(ids []int64) string {
	b, _ := json.Marshal(ids) //nolint:errcheck // an []int64 always marshals
	return string(b)
}
