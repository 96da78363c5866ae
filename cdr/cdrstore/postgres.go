package cdrstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

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
func (s *Store) insertPostgres(ctx context.Context, batch []cdr.Record) ([]int64, error) {
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
func (s *Store) writePostgres(ctx context.Context, batch []cdr.Record, order []int) (ids []int64, err error) {
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
func copyBatch(ctx context.Context, c *pgx.Conn, batch []cdr.Record, order []int) (ids []int64, err error) {
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
	if err := copyCharges(ctx, c, chargesOf(batch, ids)); err != nil {
		return nil, err
	}
	return ids, commit(ctx, c)
}

// upsertBatch stores the legs of batch whose key is not stored yet and
// returns the ids (0 for the others) and how many were new.
func upsertBatch(ctx context.Context, c *pgx.Conn, batch []cdr.Record, order []int) ([]int64, int, error) {
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
		if err := postPostgres(ctx, c, KindCharge, 0, chargesOf(batch, ids)); err != nil {
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
func copyRows(ctx context.Context, tx copier, table string, recs []cdr.Record, ids []int64) error {
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
	batch []cdr.Record
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
	recs []cdr.Record
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
	var answer, raw, tenant, cost, supplierCost any
	if r.Answer != nil {
		answer = *r.Answer
	}
	if r.Cost != nil {
		cost = int64(*r.Cost)
	}
	if r.SupplierCost != nil {
		supplierCost = int64(*r.SupplierCost)
	}
	if len(r.Raw) > 0 {
		raw = string(r.Raw)
	}
	if r.TenantID != nil {
		tenant = *r.TenantID
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
		string(r.Disposition), int32(r.Cause), r.CauseText, int32(r.SIPStatus), r.Codec, r.UserAgent, raw, tenant,
		cost, string(r.Currency), r.RatePrefix, r.RateDestination, r.RateGroup, r.Plan, string(r.Unpriced),
		supplierCost, string(r.SupplierCurrency), r.SupplierPrefix, r.SupplierPlan, string(r.SupplierUnpriced))
	return s.row, nil
}
