package cdrstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// eachEngine runs fn as a sub-benchmark per available engine on a fresh,
// migrated database.
func eachEngine(b *testing.B, fn func(b *testing.B, db *sqldb.DB, s *cdrstore.Store)) {
	dsns := sqldbtest.DSNs(b)
	for _, engine := range []sqldb.Engine{sqldb.SQLite, sqldb.Postgres} {
		dsn, ok := dsns[engine]
		if !ok {
			continue
		}
		b.Run(string(engine), func(b *testing.B) {
			db, err := sqldb.Open(context.Background(), dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			fn(b, db, newStore(b, db))
		})
	}
}

// benchRecord is a realistic leg (cdrtest.Leg).
var benchRecord = cdrtest.Leg

func BenchmarkInsert(b *testing.B) {
	const batch = 500
	eachEngine(b, func(b *testing.B, db *sqldb.DB, s *cdrstore.Store) {
		ctx := context.Background()
		var next atomic.Int64
		recs := make([]cdr.Record, batch)
		b.ReportAllocs()
		for b.Loop() {
			for j := range recs {
				i := int(next.Add(1))
				recs[j] = benchRecord(i, fmt.Sprintf("d%d.example", i%100), base.Add(time.Duration(i)*time.Second))
			}
			if n, err := s.Insert(ctx, recs); err != nil || n != batch {
				b.Fatalf("inserted %d, %v", n, err)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
	})
}

// benchBatches are the batch sizes BenchmarkInsertNew and
// BenchmarkRawCeiling compare.
var benchBatches = []int{1000, 5000}

// eachBatch runs fn per batch size and engine, each on a fresh database,
// so that every measure starts from empty tables.
func eachBatch(b *testing.B, fn func(b *testing.B, size int, db *sqldb.DB, s *cdrstore.Store)) {
	for _, size := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			eachEngine(b, func(b *testing.B, db *sqldb.DB, s *cdrstore.Store) { fn(b, size, db, s) })
		})
	}
}

// synthRun numbers the synthetic streams, so that two runs into one
// database never share a key.
var synthRun atomic.Int64

// synth makes batches of realistic legs cheaply (a template with a fresh
// call id, domain, account and end time), so that making them costs well
// under 1% of storing them and the benchmarks time the database.
type synth struct {
	prefix  string
	n       int
	domains []string
	buf     []byte
}

func newSynth() *synth {
	g := &synth{prefix: fmt.Sprintf("%08x-4c1e-4b7a-9a0e-", synthRun.Add(1))}
	for i := range 100 {
		g.domains = append(g.domains, fmt.Sprintf("d%d.example", i))
	}
	return g
}

// fill overwrites recs with the next legs of the stream, which end 10 ms
// apart (8.6 million a day, so one or two day partitions).
func (g *synth) fill(recs []cdr.Record) {
	for j := range recs {
		g.n++
		g.buf = strconv.AppendInt(append(g.buf[:0], g.prefix...), int64(1_000_000_000_000+g.n), 10)
		end := base.Add(time.Duration(g.n) * 10 * time.Millisecond)
		r := benchTemplate
		r.CallID, r.LinkedID = string(g.buf), string(g.buf)
		r.Domain, r.Account = g.domains[g.n%len(g.domains)], benchAccounts[g.n%len(benchAccounts)]
		r.Start, r.End = end.Add(-time.Minute), end
		answer := end.Add(-40 * time.Second)
		r.Answer = &answer
		recs[j] = r
	}
}

var (
	benchTemplate = benchRecord(0, "", base)
	benchAccounts = func() []string {
		out := make([]string, 50)
		for i := range out {
			out[i] = fmt.Sprintf("u%d", i)
		}
		return out
	}()
)

// BenchmarkInsertNew is the pipeline's write path: batches of new legs
// through InsertNew (dedup, partitions, IDs returned). Compare its rows/s
// with BenchmarkRawCeiling's in the same run.
func BenchmarkInsertNew(b *testing.B) {
	eachBatch(b, func(b *testing.B, size int, db *sqldb.DB, s *cdrstore.Store) {
		ctx := context.Background()
		g := newSynth()
		recs := make([]cdr.Record, size)
		for b.Loop() {
			g.fill(recs)
			if fresh, err := s.InsertNew(ctx, recs); err != nil || len(fresh) != size {
				b.Fatalf("inserted %d, %v", len(fresh), err)
			}
		}
		b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkRawCeiling is the engine's raw speed on the same rows: plain
// bulk inserts (pgx COPY on PostgreSQL, multi-row INSERTs on SQLite) into
// a scratch table like cdrs, with its unique and time indexes, committed
// per batch, as RawCeiling does for the load tool.
func BenchmarkRawCeiling(b *testing.B) {
	eachBatch(b, func(b *testing.B, size int, db *sqldb.DB, s *cdrstore.Store) {
		ctx := context.Background()
		table, drop, err := cdrstore.CreateScratch(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		defer drop()
		g := newSynth()
		recs := make([]cdr.Record, size)
		for b.Loop() {
			g.fill(recs)
			if err := cdrstore.RawInsert(ctx, db, table, recs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkInsertNewVsCeiling alternates a batch through InsertNew and a
// batch into RawCeiling's scratch table, so that both see the same load
// from whatever else runs on the machine, and reports their ratio: the
// share of the raw ceiling the write path keeps.
func BenchmarkInsertNewVsCeiling(b *testing.B) {
	eachBatch(b, func(b *testing.B, size int, db *sqldb.DB, s *cdrstore.Store) {
		ctx := context.Background()
		table, drop, err := cdrstore.CreateScratch(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		defer drop()
		g := newSynth()
		recs := make([]cdr.Record, size)
		var insertNew, ceiling time.Duration
		for b.Loop() {
			g.fill(recs)
			start := time.Now()
			if fresh, err := s.InsertNew(ctx, recs); err != nil || len(fresh) != size {
				b.Fatalf("inserted %d, %v", len(fresh), err)
			}
			insertNew += time.Since(start)
			g.fill(recs)
			start = time.Now()
			if err := cdrstore.RawInsert(ctx, db, table, recs); err != nil {
				b.Fatal(err)
			}
			ceiling += time.Since(start)
		}
		b.ReportMetric(float64(b.N*size)/insertNew.Seconds(), "new-rows/s")
		b.ReportMetric(float64(b.N*size)/ceiling.Seconds(), "ceiling-rows/s")
		b.ReportMetric(100*ceiling.Seconds()/insertNew.Seconds(), "%ceiling")
	})
}

// BenchmarkQueryDomainNewest100 is a tenant's CDR screen: one domain's
// newest 100 among 100,000 rows in 100 domains, then the next page.
func BenchmarkQueryDomainNewest100(b *testing.B) {
	const rows, domains = 100_000, 100
	eachEngine(b, func(b *testing.B, db *sqldb.DB, s *cdrstore.Store) {
		ctx := context.Background()
		recs := make([]cdr.Record, 0, 1000)
		for i := range rows {
			r := benchRecord(i, fmt.Sprintf("d%d.example", i%domains), base.Add(time.Duration(i)*time.Second))
			r.TenantID = owner(int64(i%domains + 1))
			recs = append(recs, r)
			if len(recs) == cap(recs) {
				mustInsert(b, s, recs)
				recs = recs[:0]
			}
		}
		if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
		first := cdr.Filter{Domain: "d42.example"}
		page, next, err := s.Query(ctx, first)
		if err != nil || len(page) != 100 || next == nil {
			b.Fatalf("first page: %d records, next %v, %v", len(page), next, err)
		}
		cases := []struct {
			name  string
			f     cdr.Filter
			index string
		}{
			{"first page", first, "cdrs_domain_end_idx"},
			{"next page", cdr.Filter{Domain: first.Domain, Before: next}, "cdrs_domain_end_idx"},
			{"one tenant", cdr.Filter{Tenants: []int64{43}}, "cdrs_tenant_end_idx"},
			{"five tenants", cdr.Filter{Tenants: []int64{2, 3, 4, 5, 6}}, "cdrs_tenant_end_idx"},
			{"every domain", cdr.Filter{}, "cdrs_end_idx"},
		}
		for _, c := range cases {
			b.Run(c.name, func(b *testing.B) {
				plan := explain(b, db, s, c.f)
				b.Logf("plan:\n%s", plan)
				if indexScans(db, plan, c.index) == 0 || unordered(db, plan) {
					b.Errorf("the query does not read %s in order:\n%s", c.index, plan)
				}
				for b.Loop() {
					page, _, err := s.Query(ctx, c.f)
					if err != nil || len(page) != 100 {
						b.Fatalf("%d records, %v", len(page), err)
					}
				}
			})
		}
	})
}

// BenchmarkRerate re-rates a day of 20,000 priced CDRs of ten tenants,
// every one of which changes price (the plan alternates between two
// prices), on each engine: an op is one whole run.
func BenchmarkRerate(b *testing.B) {
	const n = 20_000
	eachEngine(b, func(b *testing.B, db *sqldb.DB, s *cdrstore.Store) {
		ctx := context.Background()
		tf := cdrtest.NewTariffs()
		plans := []*rating.Tariff{cdrtest.Tariff("a", "EUR", "0049=0.6"), cdrtest.Tariff("b", "EUR", "0049=0.9")}
		for tenant := range int64(10) {
			tf.SetTenant(tenant+1, plans[0])
		}
		day := base.Truncate(24 * time.Hour)
		recs := make([]cdr.Record, 0, 5000)
		for i := range n {
			recs = append(recs, cdrtest.Call(i, "d.example", day.Add(time.Duration(i)*4*time.Second), int64(1+i%10)))
			if len(recs) == cap(recs) || i == n-1 {
				if err := cdr.PriceRecords(ctx, tf, recs); err != nil {
					b.Fatal(err)
				}
				if _, err := s.InsertNew(ctx, recs); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		i := 0
		for b.Loop() {
			i++
			for tenant := range int64(10) {
				tf.SetTenant(tenant+1, plans[i%2])
			}
			pr, err := s.Rerate(ctx, cdrstore.RerateOptions{From: day, To: day.Add(24 * time.Hour), Tariffs: tf})
			if err != nil || pr.Changed != n {
				b.Fatalf("%+v, %v", pr, err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "CDRs/s")
	})
}

// BenchmarkInsertCharged compares InsertNew of batches of 5,000 legs of
// ten tenants without a price and priced (each then charged to its
// owner's balance in the same transaction), each on a fresh database:
// what the ledger costs the write path.
func BenchmarkInsertCharged(b *testing.B) {
	const batch = 5000
	cost := money.MustParse("0.0123")
	for _, priced := range []bool{false, true} {
		name := map[bool]string{false: "unpriced", true: "charged"}[priced]
		b.Run(name, func(b *testing.B) {
			eachEngine(b, func(b *testing.B, db *sqldb.DB, s *cdrstore.Store) {
				ctx := context.Background()
				recs := make([]cdr.Record, batch)
				n := 0
				for b.Loop() {
					for j := range recs {
						n++
						recs[j] = cdrtest.Call(n, "d.example", base.Add(time.Duration(n)*time.Millisecond), int64(1+n%10))
						if priced {
							recs[j].Cost, recs[j].Currency, recs[j].Plan, recs[j].RatePrefix = &cost, "EUR", "wholesale", "0049"
						}
					}
					if fresh, err := s.InsertNew(ctx, recs); err != nil || len(fresh) != batch {
						b.Fatalf("inserted %d, %v", len(fresh), err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
			})
		})
	}
}

// BenchmarkSaveReservations is one journal write of n new rows and the
// deletion of n written before: with n = 50, what the authorizer writes
// every 50 ms at 1,000 calls a second; with n = 1,000, a second's worth
// at once.
func BenchmarkSaveReservations(b *testing.B) {
	for _, n := range []int{50, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchSaveReservations(b, n) })
	}
}

func benchSaveReservations(b *testing.B, size int) {
	eachEngine(b, func(b *testing.B, db *sqldb.DB, s *cdrstore.Store) {
		ctx := context.Background()
		at := time.Now()
		rows := func(gen int) []cdrstore.Reservation {
			out := make([]cdrstore.Reservation, size)
			for i := range out {
				out[i] = cdrstore.Reservation{Switch: "fs1", CallID: fmt.Sprintf("%d-%d", gen, i), TenantID: 1, UserID: int64(i % 100),
					Direction: "outbound", Destination: "4930123", Reserved: money.MustParse("0.6"), Currency: "EUR", MaxSeconds: 60,
					Start: at, Expires: at.Add(3 * time.Minute)}
			}
			return out
		}
		prev := rows(-1)
		if err := s.SaveReservations(ctx, prev, nil); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for n := range b.N {
			next := rows(n)
			drop := make([]cdrstore.ReservationKey, len(prev))
			for i, r := range prev {
				drop[i] = cdrstore.ReservationKey{Switch: r.Switch, CallID: r.CallID}
			}
			if err := s.SaveReservations(ctx, next, drop); err != nil {
				b.Fatal(err)
			}
			prev = next
		}
		b.ReportMetric(float64(2*size*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
