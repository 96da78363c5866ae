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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// The page sizes Query uses when a Filter asks for none or for too many.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ErrInvalidRecord is returned (wrapped, naming the record and the field)
// by Validate, and by Insert and InsertNew when a record cannot be stored.
// A batch holding one is refused whole, before anything is written, so a
// pipeline can tell a poison record (set it aside) from a database failure
// (retry or spool).
var ErrInvalidRecord = errors.New("cdr: invalid record")

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Migrate creates or updates the cdrs, cdr_keys (PostgreSQL) and
// cdr_dead_letters tables. Re-running it is a no-op.
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

// Store keeps CDRs in a SQLite or PostgreSQL database, one row per
// (switch, call_id). Times are stored with microsecond precision and come
// back in UTC.
//
// On SQLite cdrs is a plain table whose UNIQUE (switch, call_id) refuses
// a second copy. On PostgreSQL it is partitioned by UTC day of end_time
// (retention.go) and the dedup key lives in cdr_keys, written in the same
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

	// replaying is set while batches meet stored keys: the write paths
	// then skip their fast plain insert, which a stored key would fail.
	replaying atomic.Bool

	// pmu guards days, the UTC days (days since the epoch) whose
	// PostgreSQL partition this Store has seen exist.
	pmu  sync.Mutex
	days map[int64]bool
}

var _ Sink = (*Store)(nil)

// NewStore returns a Store on db, which Migrate must have prepared.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db, days: map[int64]bool{}} }

// Put stores recs, skipping legs already stored; it is Insert for sources
// that do not care how many were new.
func (s *Store) Put(ctx context.Context, recs ...Record) error {
	_, err := s.Insert(ctx, recs)
	return err
}

// insertColumns are the columns an insert writes, in argument order: every
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

// Insert is InsertNew for callers that only need to know how many legs
// were new.
func (s *Store) Insert(ctx context.Context, recs []Record) (int, error) {
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
// wrapping ErrInvalidRecord, before anything is written.
func (s *Store) InsertNew(ctx context.Context, recs []Record) ([]Record, error) {
	batch, err := prepare(recs)
	if err != nil {
		return nil, err
	}
	if len(batch) == 0 {
		return []Record{}, nil
	}
	var ids []int64
	if s.db.Engine == sqldb.Postgres {
		ids, err = s.insertPostgres(ctx, batch)
	} else {
		ids, err = s.insertSQLite(ctx, batch)
	}
	if err != nil {
		return nil, err
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
func prepare(recs []Record) ([]Record, error) {
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return nil, fmt.Errorf("cdr: record %d (switch %.64q, call_id %.64q): %w", i, recs[i].Switch, recs[i].CallID, err)
		}
	}
	out := make([]Record, 0, len(recs))
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
// (see text), times in UTC truncated to the microsecond, ID zero.
func storedForm(r *Record) Record {
	c := *r
	c.ID = 0
	c.Switch, c.CallID, c.LinkedID = text(r.Switch), text(r.CallID), text(r.LinkedID)
	c.Direction, c.Domain, c.Account, c.Gateway = Direction(text(string(r.Direction))), text(r.Domain), text(r.Account), text(r.Gateway)
	c.CallerNumber, c.CallerName, c.Dialed, c.Destination = text(r.CallerNumber), text(r.CallerName), text(r.Dialed), text(r.Destination)
	c.Disposition, c.CauseText, c.Codec, c.UserAgent = Disposition(text(string(r.Disposition))), text(r.CauseText), text(r.Codec), text(r.UserAgent)
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

// text returns s as both engines can store it: valid UTF-8 without NUL.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// microUTC truncates t to the microsecond in UTC, as SQLite's integers
// and PostgreSQL's timestamptz store it. The zero time stays zero.
func microUTC(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// sqliteColumns and sqliteRow build insertSQLite's statements.
var (
	sqliteColumns = " (" + strings.Join(insertColumns, ", ") + ") VALUES "
	sqliteRow     = "(?" + strings.Repeat(", ?", len(insertColumns)-1) + ")"
)

// sqliteChunk is how many rows one INSERT carries on SQLite.
var sqliteChunk = sqliteMaxParams / len(insertColumns)

// insertSQLite writes batch (valid, in stored form, without repeated
// keys) with multi-row INSERTs in one transaction and returns the ID of
// each record, 0 for those already stored. SQLite runs in process, so a
// statement per chunk costs no round trip.
//
// As on PostgreSQL, a chunk goes in first as a plain INSERT, whose rows,
// under the write lock, take consecutive ids ending at last_insert_rowid;
// only when a key is already stored (the statement is then undone, the
// transaction goes on) is the chunk redone with ON CONFLICT DO NOTHING
// RETURNING, which costs the returned rows' scanning, and the store stays
// on that path until a batch holds only new legs.
func (s *Store) insertSQLite(ctx context.Context, batch []Record) ([]int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("cdr: insert: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	ids := make([]int64, len(batch))
	fresh := 0
	var b strings.Builder
	args := make([]any, 0, min(len(batch), sqliteChunk)*len(insertColumns))
	for start := 0; start < len(batch); start += sqliteChunk {
		part := batch[start:min(start+sqliteChunk, len(batch))]
		b.Reset()
		args = appendSQLiteRows(&b, "cdrs", args[:0], part)
		if !s.replaying.Load() {
			ok, err := insertSQLiteNew(ctx, tx, b.String(), args, part, ids[start:])
			if err != nil {
				return nil, fmt.Errorf("cdr: insert: %w", err)
			}
			if ok {
				fresh += len(part)
				continue
			}
			s.replaying.Store(true)
		}
		b.WriteString(" ON CONFLICT (switch, call_id) DO NOTHING RETURNING id, switch, call_id")
		n, err := insertSQLiteReturning(ctx, tx, b.String(), args, part, ids[start:])
		if err != nil {
			return nil, fmt.Errorf("cdr: insert: %w", err)
		}
		fresh += n
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("cdr: insert: commit: %w", err)
	}
	if fresh == len(batch) {
		s.replaying.Store(false)
	}
	return ids, nil
}

// insertSQLiteNew runs query, a plain INSERT of part, and sets ids. It
// returns false, having written nothing, if a key of part is stored.
func insertSQLiteNew(ctx context.Context, tx *sql.Tx, query string, args []any, part []Record, ids []int64) (bool, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if sqldb.IsUniqueViolation(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	last, err := res.LastInsertId()
	if err != nil {
		return false, err
	}
	if n != int64(len(part)) {
		return false, fmt.Errorf("inserted %d rows of %d", n, len(part))
	}
	// The ids are consecutive because this transaction holds SQLite's
	// write lock; check the first one's key all the same, since a wrong
	// id would be published to every live subscriber.
	first := last - n + 1
	var k recordKey
	if err := tx.QueryRowContext(ctx, `SELECT switch, call_id FROM cdrs WHERE id = ?`, first).Scan(&k.sw, &k.callID); err != nil {
		return false, fmt.Errorf("check id %d: %w", first, err)
	}
	if k != (recordKey{part[0].Switch, part[0].CallID}) {
		return false, fmt.Errorf("ids %d to %d are not those of the rows just inserted", first, last)
	}
	for i := range part {
		ids[i] = first + int64(i)
	}
	return true, nil
}

// insertSQLiteReturning runs query, an INSERT of part that skips stored
// keys and returns the new rows' ids and keys, sets ids for those and
// returns how many there were.
func insertSQLiteReturning(ctx context.Context, tx *sql.Tx, query string, args []any, part []Record, ids []int64) (int, error) {
	index := make(map[recordKey]int, len(part))
	for i := range part {
		index[recordKey{part[i].Switch, part[i].CallID}] = i
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var k recordKey
		if err := rows.Scan(&id, &k.sw, &k.callID); err != nil {
			return 0, err
		}
		i, ok := index[k]
		if !ok {
			return 0, fmt.Errorf("the database returned a key not in the batch: %q %q", k.sw, k.callID)
		}
		ids[i] = id
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return n, rows.Close()
}

// appendSQLiteRows writes "INSERT INTO table (...) VALUES (?, ...), ..." for
// recs to b and appends their arguments to args.
func appendSQLiteRows(b *strings.Builder, table string, args []any, recs []Record) []any {
	b.Grow(len(table) + len(sqliteColumns) + len(recs)*(len(sqliteRow)+2) + 100)
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(sqliteColumns)
	for i := range recs {
		r := &recs[i]
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sqliteRow)
		var answer, raw any
		if r.Answer != nil {
			answer = r.Answer.UnixMicro()
		}
		if len(r.Raw) > 0 {
			raw = string(r.Raw)
		}
		args = append(args,
			r.Switch, r.CallID, r.LinkedID, string(r.Direction), r.Domain, r.Account, r.Gateway,
			r.CallerNumber, r.CallerName, r.Dialed, r.Destination,
			r.Start.UnixMicro(), answer, r.End.UnixMicro(), r.Duration, r.Billsec,
			string(r.Disposition), r.Cause, r.CauseText, r.SIPStatus, r.Codec, r.UserAgent, raw)
	}
	return args
}

// The PostgreSQL write path.
//
// A batch goes in one transaction: its keys into cdr_keys, ids drawn from
// the sequence of cdrs.id, and the rows whose key went in COPYed into cdrs
// with those ids (COPY returns nothing, so the ids are drawn first). Rows
// go in by COPY, the engine's fastest bulk path, rather than INSERT ...
// SELECT FROM unnest(...), which writes a partitioned table row by row:
// measured on a 2-core machine, COPY took InsertNew from under 50% of the
// raw ceiling (BenchmarkRawCeiling) to about 80% (the rest is mostly the
// keys, which the ceiling's unique index gets cheaper).
//
// Keys go in by COPY as well while no batch has met a stored key: COPY has
// no ON CONFLICT, so a stored key makes it fail, and the batch is then
// redone with INSERT ... ON CONFLICT DO NOTHING, which costs about twice
// as much per key. After a failure the store stays on that path (a
// reconnect resync or a replay usually sends several batches of old legs)
// until a batch turns out to hold only new legs.
//
// Keys are written in (switch, call_id) byte order on both paths, so two
// concurrent batches that share legs take their key locks in the same
// order and cannot deadlock; the rows in input order with ascending ids.

// upsertKeysSQL inserts the keys that are not stored yet, in array order,
// and returns them with one id each.
const upsertKeysSQL = `WITH k AS (
	INSERT INTO cdr_keys (switch, call_id)
	SELECT * FROM unnest($1::text[], $2::text[])
	ON CONFLICT DO NOTHING
	RETURNING switch, call_id
)
SELECT switch, call_id, nextval('cdrs_id_seq') FROM k`

// drawIDsSQL draws $1 ids from the sequence of cdrs.id.
const drawIDsSQL = `SELECT nextval('cdrs_id_seq') FROM generate_series(1, $1::int)`

// insertPostgres stores batch (valid, in stored form, without repeated
// keys) and returns the ID of each record, 0 for those already stored. It
// makes sure first that the partitions of the batch's days exist; if one
// vanished meanwhile (Retain in another process dropped it), the insert
// fails whole, and is retried once after creating the partition again.
func (s *Store) insertPostgres(ctx context.Context, batch []Record) ([]int64, error) {
	days := batchDays(batch)
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		return cmp.Or(strings.Compare(batch[i].Switch, batch[j].Switch), strings.Compare(batch[i].CallID, batch[j].CallID))
	})
	for attempt := 0; ; attempt++ {
		if err := s.ensureDays(ctx, days); err != nil {
			return nil, fmt.Errorf("cdr: insert: %w", err)
		}
		ids, err := s.writePostgres(ctx, batch, order)
		if err == nil {
			return ids, nil
		}
		switch {
		case !isNoPartition(err):
			return nil, fmt.Errorf("cdr: insert: %w", err)
		case attempt > 0:
			// Not wrapped: this is no refusal of the data (a caller
			// telling poison records by SQLSTATE would see 23514) but a
			// partition being dropped right now; a later try succeeds.
			return nil, fmt.Errorf("cdr: insert: a day partition of the batch is missing again after creating it (Retain dropping it?): %v", err)
		}
		s.forgetDays(days)
	}
}

// writePostgres runs one attempt of insertPostgres on a pgx connection of
// the pool. order lists batch's indexes in key order.
func (s *Store) writePostgres(ctx context.Context, batch []Record, order []int) (ids []int64, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		if !s.replaying.Load() {
			ids, err = copyBatch(ctx, c, batch, order)
			if !sqldb.IsUniqueViolation(err) {
				return err
			}
			s.replaying.Store(true)
		}
		var fresh int
		ids, fresh, err = upsertBatch(ctx, c, batch, order)
		if err == nil && fresh == len(batch) {
			s.replaying.Store(false)
		}
		return err
	})
	return ids, err
}

// copyBatch stores batch, every leg of which must be new: a stored key
// fails it with a unique violation, and nothing is written.
func copyBatch(ctx context.Context, c *pgx.Conn, batch []Record, order []int) (ids []int64, err error) {
	ids = make([]int64, 0, len(batch))
	err = begin(ctx, c, func(rows pgx.Rows) error {
		var id int64
		err := rows.Scan(&id)
		ids = append(ids, id)
		return err
	}, drawIDsSQL, len(batch))
	if err != nil {
		return nil, err
	}
	defer rollback(ctx, c)
	if len(ids) != len(batch) {
		return nil, fmt.Errorf("drew %d ids, want %d", len(ids), len(batch))
	}
	slices.Sort(ids)
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"cdr_keys"}, []string{"switch", "call_id"}, &keySource{batch: batch, order: order, i: -1}); err != nil {
		return nil, err
	}
	if err := copyRows(ctx, c, "cdrs", batch, ids); err != nil {
		return nil, err
	}
	return ids, commit(ctx, c)
}

// upsertBatch stores the legs of batch whose key is not stored yet and
// returns the ids (0 for the others) and how many were new.
func upsertBatch(ctx context.Context, c *pgx.Conn, batch []Record, order []int) ([]int64, int, error) {
	sw, callID := make([]string, len(order)), make([]string, len(order))
	index := make(map[recordKey]int, len(batch))
	for k, i := range order {
		sw[k], callID[k] = batch[i].Switch, batch[i].CallID
		index[recordKey{batch[i].Switch, batch[i].CallID}] = i
	}
	fresh := make([]int, 0, len(batch))
	var drawn []int64
	err := begin(ctx, c, func(rows pgx.Rows) error {
		var k recordKey
		var id int64
		if err := rows.Scan(&k.sw, &k.callID, &id); err != nil {
			return err
		}
		i, ok := index[k]
		if !ok {
			return fmt.Errorf("the database returned a key not in the batch: %q %q", k.sw, k.callID)
		}
		fresh = append(fresh, i)
		drawn = append(drawn, id)
		return nil
	}, upsertKeysSQL, sw, callID)
	if err != nil {
		return nil, 0, err
	}
	defer rollback(ctx, c)
	// Ascending ids in input order.
	slices.Sort(fresh)
	slices.Sort(drawn)
	ids := make([]int64, len(batch))
	for k, i := range fresh {
		ids[i] = drawn[k]
	}
	if len(fresh) > 0 {
		if err := copyRows(ctx, c, "cdrs", batch, ids); err != nil {
			return nil, 0, err
		}
	}
	return ids, len(fresh), commit(ctx, c)
}

// begin opens a transaction on c and runs query in it, calling scan for
// each row, in one round trip. The transaction is open when it returns
// nil; the caller ends it with commit or rollback.
func begin(ctx context.Context, c *pgx.Conn, scan func(pgx.Rows) error, query string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(query, args...)
	br := c.SendBatch(ctx, b)
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		rollback(ctx, c)
	}
	return err
}

// commit commits the transaction begin opened.
func commit(ctx context.Context, c *pgx.Conn) error {
	tag, err := c.Exec(ctx, "COMMIT")
	if err != nil {
		return err
	}
	if tag.String() != "COMMIT" {
		return errors.New("the transaction was rolled back")
	}
	return nil
}

// rollback ends the transaction begin opened, if it is still open. A
// connection it cannot bring back out of the transaction is discarded by
// the pool (pgx's stdlib checks before reuse).
func rollback(ctx context.Context, c *pgx.Conn) {
	if c.IsClosed() || c.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	c.Exec(ctx, "ROLLBACK") //nolint:errcheck // see above
}

// copyRows COPYs into table the records of recs whose id is not 0, with
// that id; with ids nil, all of them, without id (the table assigns it).
func copyRows(ctx context.Context, tx copier, table string, recs []Record, ids []int64) error {
	cols := insertColumns
	if ids != nil {
		cols = append([]string{"id"}, insertColumns...)
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, &rowSource{recs: recs, ids: ids, i: -1})
	return err
}

// copier is a pgx.Conn or a pgx.Tx.
type copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// keySource feeds COPY the keys of batch in order.
type keySource struct {
	batch []Record
	order []int
	i     int
	row   [2]any
}

func (k *keySource) Next() bool { k.i++; return k.i < len(k.order) }
func (k *keySource) Err() error { return nil }
func (k *keySource) Values() ([]any, error) {
	r := &k.batch[k.order[k.i]]
	k.row[0], k.row[1] = r.Switch, r.CallID
	return k.row[:], nil
}

// rowSource feeds COPY the rows of recs: those with a non-zero id, with
// it, or with ids nil every row without id. COPY encodes each row before
// asking for the next, so one slice serves them all.
type rowSource struct {
	recs []Record
	ids  []int64
	i    int
	row  []any
}

func (s *rowSource) Next() bool {
	for s.i++; s.i < len(s.recs); s.i++ {
		if s.ids == nil || s.ids[s.i] != 0 {
			return true
		}
	}
	return false
}

func (s *rowSource) Err() error { return nil }

func (s *rowSource) Values() ([]any, error) {
	r := &s.recs[s.i]
	var answer, raw any
	if r.Answer != nil {
		answer = *r.Answer
	}
	if len(r.Raw) > 0 {
		raw = string(r.Raw)
	}
	s.row = s.row[:0]
	if s.ids != nil {
		s.row = append(s.row, s.ids[s.i])
	}
	// Integers as int32 for the integer columns: Validate checked they fit.
	s.row = append(s.row,
		r.Switch, r.CallID, r.LinkedID, string(r.Direction), r.Domain, r.Account, r.Gateway,
		r.CallerNumber, r.CallerName, r.Dialed, r.Destination,
		r.Start, answer, r.End, int32(r.Duration), int32(r.Billsec),
		string(r.Disposition), int32(r.Cause), r.CauseText, int32(r.SIPStatus), r.Codec, r.UserAgent, raw)
	return s.row, nil
}

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
