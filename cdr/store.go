package cdr

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/provisioning/sqldb"
)

// The page sizes Query uses when a Filter asks for none or for too many.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ErrInvalidRecord is returned (wrapped, naming the record) by Insert when a
// record cannot be stored: no Switch or CallID (the dedup key), no End
// (the sort key), or Raw that is not JSON. A batch holding one is refused
// whole, before anything is written, so a pipeline can tell a poison record
// (set it aside) from a database failure (retry or spool).
var ErrInvalidRecord = errors.New("cdr: invalid record")

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Migrate creates or updates the cdrs table. Re-running it is a no-op.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("cdr: migrations: %w", err)
	}
	if err := db.Migrate(ctx, "cdr", sub); err != nil {
		return fmt.Errorf("cdr: %w", err)
	}
	return nil
}

// Store keeps CDRs in the cdrs table of a SQLite or PostgreSQL database,
// one row per (switch, call_id). Times are stored with microsecond
// precision and come back in UTC.
type Store struct {
	db *sqldb.DB
}

var _ Sink = (*Store)(nil)

// NewStore returns a Store on db, which Migrate must have prepared.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

// Put stores recs, skipping legs already stored; it is Insert for sources
// that do not care how many were new.
func (s *Store) Put(ctx context.Context, recs ...Record) error {
	_, err := s.Insert(ctx, recs)
	return err
}

// insertColumns are the columns Insert writes, in argument order: every
// field of Record but the ID the database assigns.
var insertColumns = []string{
	"switch", "call_id", "linked_id", "direction", "domain", "account", "gateway",
	"caller_number", "caller_name", "dialed", "destination",
	"start_time", "answer_time", "end_time", "duration", "billsec",
	"disposition", "cause", "cause_text", "sip_status", "codec", "user_agent", "raw",
}

// selectColumns are the columns scanRecord reads, in order.
const selectColumns = `id, switch, call_id, linked_id, direction, domain, account, gateway,
	caller_number, caller_name, dialed, destination,
	start_time, answer_time, end_time, duration, billsec,
	disposition, cause, cause_text, sip_status, codec, user_agent, raw`

// sqliteMaxParams is SQLite's bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER
// since 3.32); an INSERT carries as many rows as fit under it.
const sqliteMaxParams = 32766

// Insert writes recs in one transaction and returns how many were new. A
// record whose (Switch, CallID) is already stored, or repeated earlier in
// recs, is skipped, so replaying a batch after a crash or a reconnect
// stores each leg exactly once. recs is neither reordered nor modified.
//
// Text that PostgreSQL would refuse, invalid UTF-8 (a caller name in
// Latin-1 off a SIP header) or NUL bytes, is stored with U+FFFD in its
// place on both engines, so one odd leg cannot fail a batch over and over.
//
// Records are written in (Switch, CallID) order: two concurrent batches
// that share legs then take their row locks in the same order and cannot
// deadlock on PostgreSQL.
func (s *Store) Insert(ctx context.Context, recs []Record) (inserted int, err error) {
	if len(recs) == 0 {
		return 0, nil
	}
	for i := range recs {
		if err := validate(&recs[i]); err != nil {
			return 0, fmt.Errorf("cdr: record %d (switch %q, call_id %q): %w", i, recs[i].Switch, recs[i].CallID, err)
		}
	}
	order := make([]*Record, len(recs))
	for i := range recs {
		order[i] = &recs[i]
	}
	slices.SortStableFunc(order, func(a, b *Record) int {
		return cmp.Or(strings.Compare(a.Switch, b.Switch), strings.Compare(a.CallID, b.CallID))
	})

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("cdr: insert: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var n int64
	switch s.db.Engine {
	case sqldb.Postgres:
		n, err = insertPostgres(ctx, tx, order)
	default:
		n, err = insertSQLite(ctx, tx, order)
	}
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("cdr: insert: commit: %w", err)
	}
	return int(n), nil
}

func validate(r *Record) error {
	switch {
	case r.Switch == "":
		return fmt.Errorf("%w: no switch", ErrInvalidRecord)
	case r.CallID == "":
		return fmt.Errorf("%w: no call_id", ErrInvalidRecord)
	case r.End.IsZero():
		return fmt.Errorf("%w: no end time", ErrInvalidRecord)
	case len(r.Raw) > 0 && !json.Valid(r.Raw):
		return fmt.Errorf("%w: raw is not JSON", ErrInvalidRecord)
	}
	for _, v := range [...]struct {
		name string
		n    int
	}{{"duration", r.Duration}, {"billsec", r.Billsec}, {"cause", r.Cause}, {"sip_status", r.SIPStatus}} {
		if v.n < math.MinInt32 || v.n > math.MaxInt32 {
			return fmt.Errorf("%w: %s %d out of range", ErrInvalidRecord, v.name, v.n)
		}
	}
	return nil
}

// text returns s as both engines can store it: valid UTF-8 without NUL.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// rawText returns raw as a string both engines can store, nil for none.
// JSON holds no NUL byte, so only UTF-8 needs mending.
func rawText(raw json.RawMessage) *string {
	if len(raw) == 0 {
		return nil
	}
	s := strings.ToValidUTF8(string(raw), "\uFFFD")
	return &s
}

// insertSQLite writes recs with multi-row INSERTs, as many rows per
// statement as the parameter limit allows. SQLite runs in process, so a
// statement per chunk costs no round trip and its text is not cached.
func insertSQLite(ctx context.Context, tx *sql.Tx, recs []*Record) (int64, error) {
	perRow := len(insertColumns)
	chunk := sqliteMaxParams / perRow
	head := "INSERT INTO cdrs (" + strings.Join(insertColumns, ", ") + ") VALUES "
	row := "(?" + strings.Repeat(", ?", perRow-1) + ")"
	const tail = " ON CONFLICT (switch, call_id) DO NOTHING"

	var total int64
	var b strings.Builder
	args := make([]any, 0, min(len(recs), chunk)*perRow)
	for start := 0; start < len(recs); start += chunk {
		part := recs[start:min(start+chunk, len(recs))]
		b.Reset()
		b.Grow(len(head) + len(part)*(len(row)+2) + len(tail))
		b.WriteString(head)
		args = args[:0]
		for i, r := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
			var answer, raw any
			if r.Answer != nil {
				answer = r.Answer.UnixMicro()
			}
			if s := rawText(r.Raw); s != nil {
				raw = *s
			}
			args = append(args,
				text(r.Switch), text(r.CallID), text(r.LinkedID), text(string(r.Direction)), text(r.Domain), text(r.Account), text(r.Gateway),
				text(r.CallerNumber), text(r.CallerName), text(r.Dialed), text(r.Destination),
				r.Start.UnixMicro(), answer, r.End.UnixMicro(), r.Duration, r.Billsec,
				text(string(r.Disposition)), r.Cause, text(r.CauseText), r.SIPStatus, text(r.Codec), text(r.UserAgent), raw)
		}
		b.WriteString(tail)
		res, err := tx.ExecContext(ctx, b.String(), args...)
		if err != nil {
			return 0, fmt.Errorf("cdr: insert: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("cdr: insert: rows affected: %w", err)
		}
		total += n
	}
	return total, nil
}

// insertPostgresSQL inserts a whole batch from one array per column. Unlike
// a multi-row VALUES list its text is the same for every batch size, so the
// driver's per-connection statement cache (and the server's prepared
// statements) hold one entry, not one per batch size; and 23 parameters are
// nowhere near PostgreSQL's 65535 limit, so there is nothing to chunk.
var insertPostgresSQL = `INSERT INTO cdrs (` + strings.Join(insertColumns, ", ") + `)
	SELECT * FROM unnest(
		$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::text[],
		$12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $15::int[], $16::int[],
		$17::text[], $18::int[], $19::text[], $20::int[], $21::text[], $22::text[], $23::json[])
	ON CONFLICT (switch, call_id) DO NOTHING`

func insertPostgres(ctx context.Context, tx *sql.Tx, recs []*Record) (int64, error) {
	n := len(recs)
	var (
		sw, callID, linkedID, direction, domain, account, gateway = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		callerNumber, callerName, dialed, destination             = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		start, end                                                = make([]time.Time, n), make([]time.Time, n)
		answer                                                    = make([]*time.Time, n)
		duration, billsec, cause, sipStatus                       = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
		disposition, causeText, codec, userAgent                  = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		raw                                                       = make([]*string, n)
	)
	for i, r := range recs {
		sw[i], callID[i], linkedID[i], direction[i] = text(r.Switch), text(r.CallID), text(r.LinkedID), text(string(r.Direction))
		domain[i], account[i], gateway[i] = text(r.Domain), text(r.Account), text(r.Gateway)
		callerNumber[i], callerName[i], dialed[i], destination[i] = text(r.CallerNumber), text(r.CallerName), text(r.Dialed), text(r.Destination)
		start[i], end[i] = pgTime(r.Start), pgTime(r.End)
		if r.Answer != nil {
			a := pgTime(*r.Answer)
			answer[i] = &a
		}
		// validate checked that these fit.
		duration[i], billsec[i], cause[i], sipStatus[i] = int32(r.Duration), int32(r.Billsec), int32(r.Cause), int32(r.SIPStatus)
		disposition[i], causeText[i], codec[i], userAgent[i] = text(string(r.Disposition)), text(r.CauseText), text(r.Codec), text(r.UserAgent)
		raw[i] = rawText(r.Raw)
	}
	res, err := tx.ExecContext(ctx, insertPostgresSQL,
		sw, callID, linkedID, direction, domain, account, gateway,
		callerNumber, callerName, dialed, destination,
		start, answer, end, duration, billsec,
		disposition, cause, causeText, sipStatus, codec, userAgent, raw)
	if err != nil {
		return 0, fmt.Errorf("cdr: insert: %w", err)
	}
	inserted, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("cdr: insert: rows affected: %w", err)
	}
	return inserted, nil
}

// pgTime truncates t to the microsecond, as SQLite's integers do, so both
// engines store the same instant.
func pgTime(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

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
// f.Domains (a tenant without domains) selects nothing.
func (s *Store) Query(ctx context.Context, f Filter) ([]Record, *Cursor, error) {
	if f.Domains != nil && len(f.Domains) == 0 {
		return []Record{}, nil, nil
	}
	limit := pageSize(f.Limit)
	query, args := s.buildQuery(f, limit+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("cdr: query: %w", err)
	}
	defer rows.Close()
	out := make([]Record, 0, min(limit+1, 128))
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("cdr: query: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("cdr: query: %w", err)
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &Cursor{End: last.End, ID: last.ID}, nil
}

// pageSize clamps a Filter's Limit into [1, MaxLimit], DefaultLimit for
// none.
func pageSize(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return min(limit, MaxLimit)
}

// perDomainMax is the most domains Query reads one by one. Reading each
// domain's newest rows from cdrs_domain_end_idx and merging them costs
// (domains × page) rows whatever the table's size; a plain IN list makes
// both engines collect every row of those domains and sort them (or scan
// the global index and filter), which grows with the table. On a small
// table SQLite sorts so fast that the IN list wins (five domains among
// 300,000 rows: about 1.2 ms against 2.5 ms), but it is the large table
// that must not slow down. Past this many domains (a reseller's scope)
// the IN list reads fewer rows.
const perDomainMax = 32

// buildQuery returns the SELECT for f with fetch rows at most. Every
// value is a bound parameter.
//
// The keyset condition is the row value (end_time, id) < (?, ?): both
// engines read it as a range bound on the (domain, end_time, id) and
// (end_time, id) indexes, so a page deep in the history starts where the
// cursor points instead of skipping rows (plan_test.go checks this).
func (s *Store) buildQuery(f Filter, fetch int) (string, []any) {
	where, args := s.conditions(f)
	order := fmt.Sprintf(" ORDER BY end_time DESC, id DESC LIMIT %d", fetch)
	domains := distinct(f.Domains)

	if len(domains) >= 2 && len(domains) <= perDomainMax {
		// One branch per domain, each an ordered range scan of
		// cdrs_domain_end_idx cut at fetch rows, then the newest fetch of
		// the union.
		var b strings.Builder
		all := make([]any, 0, len(domains)*(len(args)+1))
		branch := selectWhere(append([]string{"domain = ?"}, where...)) + order
		for i, d := range domains {
			if i > 0 {
				b.WriteString(" UNION ALL ")
			}
			fmt.Fprintf(&b, "SELECT * FROM (%s) AS d%d", branch, i)
			all = append(all, d)
			all = append(all, args...)
		}
		b.WriteString(order)
		return s.db.Rebind(b.String()), all
	}

	switch {
	case len(domains) == 1:
		where = append([]string{"domain = ?"}, where...)
		args = append([]any{domains[0]}, args...)
	case len(domains) > perDomainMax && s.db.Engine == sqldb.Postgres:
		// One array parameter keeps the statement text, and so the
		// driver's statement cache entry, the same for any list length.
		where = append([]string{"domain = ANY(?::text[])"}, where...)
		args = append([]any{domains}, args...)
	case len(domains) > perDomainMax:
		// One JSON parameter stays clear of SQLite's parameter limit.
		where = append([]string{"domain IN (SELECT value FROM json_each(?))"}, where...)
		args = append([]any{jsonStrings(domains)}, args...)
	}
	return s.db.Rebind(selectWhere(where) + order), args
}

func selectWhere(where []string) string {
	if len(where) == 0 {
		return "SELECT " + selectColumns + " FROM cdrs"
	}
	return "SELECT " + selectColumns + " FROM cdrs WHERE " + strings.Join(where, " AND ")
}

// conditions returns the WHERE terms of f but its domains, with ?
// placeholders, and their arguments.
func (s *Store) conditions(f Filter) ([]string, []any) {
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

// distinct returns ss without repeats, in first-seen order: a domain
// listed twice must not be read twice.
func distinct(ss []string) []string {
	if len(ss) < 2 {
		return ss
	}
	seen := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
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

func jsonStrings(ss []string) string {
	b, _ := json.Marshal(ss) //nolint:errcheck // a []string always marshals
	return string(b)
}

// scanRecord reads one row of selectColumns.
func scanRecord(rows *sql.Rows) (Record, error) {
	var (
		r                  Record
		start, answer, end dbTime
		direction, disp    string
		raw                []byte
	)
	err := rows.Scan(&r.ID, &r.Switch, &r.CallID, &r.LinkedID, &direction, &r.Domain, &r.Account, &r.Gateway,
		&r.CallerNumber, &r.CallerName, &r.Dialed, &r.Destination,
		&start, &answer, &end, &r.Duration, &r.Billsec,
		&disp, &r.Cause, &r.CauseText, &r.SIPStatus, &r.Codec, &r.UserAgent, &raw)
	if err != nil {
		return Record{}, err
	}
	r.Direction, r.Disposition = Direction(direction), Disposition(disp)
	r.Start, r.End = start.t, end.t
	if answer.valid {
		a := answer.t
		r.Answer = &a
	}
	if len(raw) > 0 {
		r.Raw = json.RawMessage(raw)
	}
	return r, nil
}

// dbTime scans a time column of either engine: unix microseconds from
// SQLite, timestamptz from PostgreSQL, NULL as not valid. Times come back
// in UTC.
type dbTime struct {
	t     time.Time
	valid bool
}

func (d *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = dbTime{}
	case int64:
		*d = dbTime{time.UnixMicro(v).UTC(), true}
	case time.Time:
		*d = dbTime{v.UTC(), true}
	default:
		return fmt.Errorf("cdr: cannot scan %T into a time", src)
	}
	return nil
}

var _ sql.Scanner = (*dbTime)(nil)
