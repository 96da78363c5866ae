//go:build cdrexp

package cdr

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/switchboard-voip/switchboard/provisioning/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning/sqldb/sqldbtest"
)

var expN int
var phase = map[string]time.Duration{}

func expBatch(n int) []Record {
	base := time.Date(2025, 3, 14, 1, 0, 0, 0, time.UTC)
	out := make([]Record, n)
	for i := range out {
		expN++
		end := base.Add(time.Duration(expN) * 10 * time.Millisecond)
		a := end.Add(-40 * time.Second)
		id := "4c1e-4b7a-9a0e-" + strconv.Itoa(1_000_000_000_000+expN)
		out[i] = Record{Switch: "pbx1", CallID: id, LinkedID: id, Direction: DirectionOutbound, Domain: fmt.Sprintf("d%d.example", expN%100),
			Account: fmt.Sprintf("u%d", expN%50), Gateway: "carrier-a", CallerNumber: "+33123456789", CallerName: "Alice", Dialed: "0049301234567", Destination: "+49301234567",
			Start: end.Add(-time.Minute), Answer: &a, End: end, Duration: 60, Billsec: 40, Disposition: Answered, Cause: 16, CauseText: "NORMAL_CLEARING", SIPStatus: 200, Codec: "PCMA", UserAgent: "Yealink SIP-T54W",
			Raw: []byte(`{"variables":{"uuid":"` + id + `","sip_hangup_disposition":"send_bye","billsec":"40","read_codec":"PCMA","sip_user_agent":"Yealink SIP-T54W"}}`)}
	}
	return out
}

const stageSQL = `WITH k AS (
	INSERT INTO cdr_keys (switch, call_id, end_time)
	SELECT switch, call_id, end_time FROM cdr_stage ORDER BY switch COLLATE "C", call_id COLLATE "C"
	ON CONFLICT DO NOTHING
	RETURNING switch, call_id
)
INSERT INTO cdrs (` + "%s" + `)
SELECT %s FROM cdr_stage s JOIN k USING (switch, call_id) ORDER BY s.ord
RETURNING id, switch, call_id`

func stageInsert(ctx context.Context, db *sqldb.DB, recs []Record) (int, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	n := 0
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS cdr_stage (switch text, call_id text, linked_id text, direction text, domain text, account text, gateway text, caller_number text, caller_name text, dialed text, destination text, start_time timestamptz, answer_time timestamptz, end_time timestamptz, duration int, billsec int, disposition text, cause int, cause_text text, sip_status int, codec text, user_agent text, raw json, ord int) ON COMMIT DELETE ROWS`); err != nil {
			return err
		}
		rows := make([][]any, len(recs))
		for i := range recs {
			r := &recs[i]
			rows[i] = []any{r.Switch, r.CallID, r.LinkedID, string(r.Direction), r.Domain, r.Account, r.Gateway,
				r.CallerNumber, r.CallerName, r.Dialed, r.Destination, r.Start, *r.Answer, r.End, int32(r.Duration), int32(r.Billsec),
				string(r.Disposition), int32(r.Cause), r.CauseText, int32(r.SIPStatus), r.Codec, r.UserAgent, string(r.Raw), int32(i)}
		}
		cols := append(append([]string{}, insertColumns...), "ord")
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cdr_stage"}, cols, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		c2 := strings.Join(insertColumns, ", ")
		res, err := tx.Query(ctx, fmt.Sprintf(stageSQL, c2, c2))
		if err != nil {
			return err
		}
		for res.Next() {
			n++
		}
		res.Close()
		if res.Err() != nil {
			return res.Err()
		}
		return tx.Commit(ctx)
	})
	return n, err
}

func TestExp(t *testing.T) {
	ctx := context.Background()
	dsns := sqldbtest.DSNs(t)
	eng := sqldb.Engine(os.Getenv("ENG"))
	db, err := sqldb.Open(ctx, dsns[eng])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := NewStore(db)
	if err := s.EnsurePartitions(ctx, time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 20, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	table, drop, err := createScratch(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	size, _ := strconv.Atoi(os.Getenv("SIZE"))
	rounds, _ := strconv.Atoi(os.Getenv("ROUNDS"))
	variants := strings.Split(os.Getenv("VARIANTS"), ",")
	dur := map[string]time.Duration{}
	for range rounds {
		for _, v := range variants {
			recs := expBatch(size)
			st := time.Now()
			var err error
			switch v {
			case "new":
				var f []Record
				f, err = s.InsertNew(ctx, recs)
				if len(f) != size {
					t.Fatal(len(f))
				}
			case "stage":
				var n int
				n, err = stageInsert(ctx, db, recs)
				if err == nil && n != size {
					t.Fatal(n)
				}
			case "kc":
				var n int
				n, err = keysCopyInsert(ctx, db, recs)
				if err == nil && n != size {
					t.Fatal(n)
				}
			case "ceiling":
				err = rawInsert(ctx, db, table, recs)
			}
			if err != nil {
				t.Fatal(err)
			}
			dur[v] += time.Since(st)
		}
	}
	t.Logf("phases: %v", phase)
	for _, v := range variants {
		t.Logf("%-8s %8.0f rows/s  (%.0f%% of ceiling)", v, float64(rounds*size)/dur[v].Seconds(), 100*dur["ceiling"].Seconds()/dur[v].Seconds())
	}
}

const keysSQL = `WITH k AS (
	INSERT INTO cdr_keys (switch, call_id, end_time)
	SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS s (switch, call_id, end_time)
	ORDER BY switch COLLATE "C", call_id COLLATE "C"
	ON CONFLICT DO NOTHING
	RETURNING switch, call_id
)
SELECT switch, call_id, nextval('cdrs_id_seq') FROM k`

func keysCopyInsert(ctx context.Context, db *sqldb.DB, recs []Record) (int, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	n := 0
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		sw, cid, end := make([]string, len(recs)), make([]string, len(recs)), make([]time.Time, len(recs))
		for i := range recs {
			sw[i], cid[i], end[i] = recs[i].Switch, recs[i].CallID, recs[i].End
		}
		t0 := time.Now()
		res, err := tx.Query(ctx, keysSQL, sw, cid, end)
		if err != nil {
			return err
		}
		ids := map[recordKey]int64{}
		for res.Next() {
			var k recordKey
			var id int64
			if err := res.Scan(&k.sw, &k.callID, &id); err != nil {
				return err
			}
			ids[k] = id
		}
		res.Close()
		if res.Err() != nil {
			return res.Err()
		}
		rows := make([][]any, 0, len(ids))
		for i := range recs {
			r := &recs[i]
			id, ok := ids[recordKey{r.Switch, r.CallID}]
			if !ok {
				continue
			}
			rows = append(rows, []any{id, r.Switch, r.CallID, r.LinkedID, string(r.Direction), r.Domain, r.Account, r.Gateway,
				r.CallerNumber, r.CallerName, r.Dialed, r.Destination, r.Start, *r.Answer, r.End, int32(r.Duration), int32(r.Billsec),
				string(r.Disposition), int32(r.Cause), r.CauseText, int32(r.SIPStatus), r.Codec, r.UserAgent, string(r.Raw)})
		}
		phase["keys"] += time.Since(t0)
		t0 = time.Now()
		cols := append([]string{"id"}, insertColumns...)
		defer func() { phase["copy"] += time.Since(t0) }()
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cdrs"}, cols, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		n = len(rows)
		return tx.Commit(ctx)
	})
	return n, err
}

func BenchmarkPrepare(b *testing.B) {
	recs := expBatch(5000)
	for b.Loop() {
		prepare(recs)
	}
}

func BenchmarkValidate(b *testing.B) {
	recs := expBatch(5000)
	for b.Loop() {
		for i := range recs {
			recs[i].Validate()
		}
	}
}

func BenchmarkPostgresRows(b *testing.B) {
	recs := expBatch(5000)
	for b.Loop() {
		rs := &rowSource{recs: recs, i: -1}
		for rs.Next() {
			rs.Values()
		}
	}
}
