package cdr_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// BenchmarkPipeline pushes realistic CDRs through the pipeline from 16
// concurrent producers, 100 records a Put, into the real store on each
// engine, and into the spool alone (the store down). An op is one Put.
func BenchmarkPipeline(b *testing.B) {
	// The benchmark function runs several times on one database: call
	// ids go on from one run to the next, so every record is new.
	var next atomic.Int64
	run := func(b *testing.B, w cdr.Writer) {
		p := startPipeline(b, w, cdr.PipelineConfig{})
		sent := produce(b, p, &next, false)
		st := p.Stats()
		if st.StoreBatches > 0 {
			if st.Written != sent {
				b.Errorf("%d records written of %d sent", st.Written, sent)
			}
			b.ReportMetric(float64(st.Written)/float64(st.StoreBatches), "records/batch")
		}
	}
	for engine, dsn := range sqldbtest.DSNs(b) {
		b.Run(string(engine), func(b *testing.B) {
			db, err := sqldb.Open(context.Background(), dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			run(b, migrated(b, db))
		})
	}
	b.Run("spool", func(b *testing.B) {
		var down atomic.Bool
		down.Store(true)
		run(b, flaky(newMemStore(), &down, errRefused))
	})
}

// produce puts realistic legs (cdrtest.Leg) into p from 16 concurrent
// producers, 100 records a Put, b.N Puts, numbering them from next. When
// owned is set, each leg is owned by one of ten tenants, and every other
// leg is the originating leg of its call (cdrtest.Call, what a tenant's
// plan prices), the others legs to the gateway (cdrtest.GatewayLeg, what
// the gateway's supplier plan prices): a call's two legs. It reports and
// returns how many it sent.
func produce(b *testing.B, p *running, next *atomic.Int64, owned bool) int64 {
	const perPut = 100
	first := next.Load()
	end := time.Now().UTC()
	cpu0 := cpuTime()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		recs := make([]cdr.Record, perPut)
		for pb.Next() {
			for j := range recs {
				i := int(next.Add(1))
				switch {
				case owned && i%2 == 0:
					recs[j] = cdrtest.Call(i, fmt.Sprintf("d%d.example", i%100), end, int64(1+i%10))
				case owned:
					recs[j] = cdrtest.GatewayLeg(i, fmt.Sprintf("d%d.example", i%100), end, int64(1+i%10))
				default:
					recs[j] = cdrtest.Leg(i, fmt.Sprintf("d%d.example", i%100), end)
				}
			}
			if err := p.Put(context.Background(), recs...); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	sent := next.Load() - first
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "records/s")
	// The process's CPU time per record (producers, pipeline, SQLite in
	// process; PostgreSQL's server not included): steadier than the rate
	// on a machine shared with other work.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(sent), "cpu-µs/record")
	return sent
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPipelinePricing compares, in one run, the pipeline without
// tariffs with the pipeline pricing every CDR by 100,000-prefix plans:
// the caller's legs by their tenant's plan (and the store charging each
// to its owner's balance in the same transaction), the legs to the
// gateway by its supplier plan: the issue allows pricing to cost at most
// 20 % of the rate. priced-sell-only is priced without the supplier plans
// (its Tariffs hides cdr.SupplierTariffs), to tell the two apart. On
// SQLite, and on PostgreSQL when it answers. Calls
// of two legs of ten tenants, 16 producers, 100 records a Put; each
// sub-benchmark on a fresh database.
func BenchmarkPipelinePricing(b *testing.B) {
	tf := bigTariffs()
	var next atomic.Int64
	for _, engine := range []sqldb.Engine{sqldb.SQLite, sqldb.Postgres} {
		for _, tc := range []struct {
			name    string
			tariffs cdr.Tariffs
		}{{"unpriced", nil}, {"priced-sell-only", struct{ cdr.Tariffs }{tf}}, {"priced", tf}} {
			dsn, ok := sqldbtest.DSNs(b)[engine]
			if !ok {
				continue
			}
			b.Run(string(engine)+"/"+tc.name, func(b *testing.B) {
				db, err := sqldb.Open(context.Background(), dsn)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				p := startPipeline(b, migrated(b, db), cdr.PipelineConfig{Tariffs: tc.tariffs})
				sent := produce(b, p, &next, true)
				if st := p.Stats(); st.Written != sent {
					b.Errorf("%d records written of %d sent", st.Written, sent)
				}
			})
		}
	}
}

// bigTariffs is ten tenants' plans and gateway carrier-a's supplier
// plan, each of 100,000 prefixes (a wholesale deck's shape).
func bigTariffs() *cdrtest.Tariffs {
	tf := cdrtest.NewTariffs()
	plan := cdrtest.BigTariff(100_000)
	for tenant := range int64(10) {
		tf.SetTenant(tenant+1, plan)
	}
	tf.SetGateway("carrier-a", cdrtest.BigTariff(100_000))
	return tf
}

// BenchmarkPriceRecords prices batches of 5,000 legs of ten tenants by
// 100,000-prefix plans, as the pipeline's writer does before each
// transaction: the cost pricing adds per CDR, lookups of the source
// included (one per tenant and gateway and batch). Half the legs are the
// callers' (priced by their tenant's plan), half the legs to the gateway
// (priced by its supplier plan; their tenant price is 0 by rule).
func BenchmarkPriceRecords(b *testing.B) {
	tf := bigTariffs()
	end := time.Now().UTC()
	recs := make([]cdr.Record, 5000)
	for i := range recs {
		if i%2 == 0 {
			recs[i] = cdrtest.Call(i, "d.example", end, int64(1+i%10))
		} else {
			recs[i] = cdrtest.GatewayLeg(i, "d.example", end, int64(1+i%10))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			recs[i].ClearPrice()
			recs[i].ClearSupplierPrice()
		}
		if err := cdr.PriceRecords(context.Background(), tf, recs); err != nil {
			b.Fatal(err)
		}
	}
	if recs[0].Cost == nil || *recs[0].Cost == 0 || recs[1].SupplierCost == nil || *recs[1].SupplierCost == 0 {
		b.Fatalf("not priced: cost %v (%q), supplier cost %v (%q)", recs[0].Cost, recs[0].Unpriced, recs[1].SupplierCost, recs[1].SupplierUnpriced)
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}
