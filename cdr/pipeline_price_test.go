package cdr_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// pricedRec is pipeRec(i) as an answered outbound call of tenant 1 to a
// number its plan prices at 0.6 a minute, lasting i+1 seconds: it costs
// (i+1) cents.
func pricedRec(i int) cdr.Record {
	r := pipeRec(i)
	r.Direction, r.TenantID, r.Dialed, r.Duration, r.Billsec = cdr.DirectionOutbound, ptr[int64](1), "12125550100", i+1, i+1
	return r
}

// TestPipelinePricesAndCharges: the pipeline prices each CDR as it is
// stored and the store charges it to its owner, exactly once, through a
// store outage (the CDRs go to the spool, while the tariffs cannot be
// looked up either, and are priced when replayed), a restart that
// replays everything, and a leg without a rate (stored, unpriced,
// counted). On both engines.
func TestPipelinePricesAndCharges(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		store := migrated(t, db)
		tf := cdrtest.NewTariffs()
		tf.SetTenant(1, cdrtest.Tariff("retail", "USD", "1=0.6"))
		var down atomic.Bool
		reg := prometheus.NewRegistry()
		spool := t.TempDir()
		p := startPipeline(t, flaky(store, &down, errRefused), cdr.PipelineConfig{SpoolDir: spool, Tariffs: tf, Registerer: reg})

		var all []cdr.Record
		var want money.Amount
		for i := range 100 {
			all = append(all, pricedRec(i))
			want -= money.Amount(i+1) * money.Unit / 100
		}
		noRate := pricedRec(500)
		noRate.Dialed = "4930123"
		put(t, p, append(all[:50:50], noRate))

		down.Store(true)
		tf.Fail(errors.New("connection refused"))
		put(t, p, all[50:])
		if st := p.Stats(); st.SpoolRecords != 50 {
			t.Fatalf("%d records spooled, want 50", st.SpoolRecords)
		}
		tf.Fail(nil)
		down.Store(false)
		waitFor(t, "the spool is replayed", drained(p))

		balance := func() money.Amount {
			t.Helper()
			bs, err := store.Balances(context.Background(), 1)
			if err != nil || len(bs) != 1 || bs[0].Currency != "USD" {
				t.Fatalf("balances %+v, %v", bs, err)
			}
			return bs[0].Balance
		}
		if got := balance(); got != want {
			t.Fatalf("balance %s, want %s", got, want)
		}
		got := gathered(t, reg)
		if r := got["switchboard_cdr_revenue_total{currency=USD}"]; r != float64(-want)/float64(money.Unit) {
			t.Errorf("revenue %v, want %s", r, -want)
		}
		if got["switchboard_cdr_unpriced_total{reason=no_rate}"] != 1 || got["switchboard_cdr_unpriced_total{reason=lookup_failed}"] != 0 {
			t.Errorf("unpriced: %v", got)
		}

		// A restart replays everything (the recent keys are gone): the
		// store skips every leg, the balance does not move.
		if err := p.stop(); err != nil {
			t.Fatal(err)
		}
		p = startPipeline(t, store, cdr.PipelineConfig{SpoolDir: spool, Tariffs: tf})
		put(t, p, all)
		if got := balance(); got != want {
			t.Fatalf("after the replay, balance %s, want %s", got, want)
		}
		recs, _, err := store.Query(context.Background(), cdr.Filter{Limit: cdr.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.CallID == noRate.CallID {
				if r.Cost != nil || r.Unpriced != cdr.UnpricedNoRate {
					t.Errorf("%s: cost %v, unpriced %q", r.CallID, r.Cost, r.Unpriced)
				}
				continue
			}
			if r.Cost == nil || r.Currency != "USD" || r.Plan != "retail" || r.RatePrefix != "1" {
				t.Errorf("%s: cost %v %q plan %q prefix %q unpriced %q", r.CallID, r.Cost, r.Currency, r.Plan, r.RatePrefix, r.Unpriced)
			}
		}
	})
}

// TestPipelinePricingNeverBlocks: a tariff source that hangs delays a
// batch by PriceTimeout at most, and its records are stored unpriced
// (lookup_failed), not refused.
func TestPipelinePricingNeverBlocks(t *testing.T) {
	mem := newMemStore()
	p := startPipeline(t, mem, cdr.PipelineConfig{Tariffs: hangingTariffs{}, PriceTimeout: 20e6})
	put(t, p, []cdr.Record{pricedRec(1), pricedRec(2)})
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if len(mem.rows) != 2 {
		t.Fatalf("%d rows stored", len(mem.rows))
	}
	for _, r := range mem.rows {
		if r.Cost != nil || r.Unpriced != cdr.UnpricedLookupFailed {
			t.Errorf("%s: cost %v unpriced %q", r.CallID, r.Cost, r.Unpriced)
		}
	}
}

// hangingTariffs answers no lookup until its context ends.
type hangingTariffs struct{ cdr.Tariffs }

func (hangingTariffs) TenantTariff(ctx context.Context, _ int64) (*rating.Tariff, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestPipelineChargesConcurrentPuts: 100 sources put overlapping CDRs at
// once (as reconnect resyncs and re-posts do) through the pipeline into
// the real store: each tenant's balance is then exactly the sum of the
// prices of the distinct CDRs. On both engines.
func TestPipelineChargesConcurrentPuts(t *testing.T) {
	const sources, calls, perPut = 100, 1000, 50
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		store := migrated(t, db)
		tf := cdrtest.NewTariffs()
		tf.SetTenant(1, cdrtest.Tariff("retail", "USD", "1=0.6", "1212=0.7"))
		tf.SetTenant(2, cdrtest.Tariff("wholesale", "EUR", "1=0.01"))
		p := startPipeline(t, store, cdr.PipelineConfig{Tariffs: tf})
		all := make([]cdr.Record, calls)
		for i := range all {
			all[i] = pricedRec(i)
			all[i].TenantID = ptr(int64(1 + i%2))
		}
		want := slices.Clone(all)
		if err := cdr.PriceRecords(context.Background(), tf, want); err != nil {
			t.Fatal(err)
		}
		sums := map[int64]money.Amount{}
		for _, r := range want {
			sums[*r.TenantID] -= *r.Cost
		}
		var wg sync.WaitGroup
		errs := make([]error, sources)
		for s := range sources {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(s), 3))
				batch := make([]cdr.Record, perPut)
				for i := range batch {
					batch[i] = all[rng.IntN(calls)]
				}
				errs[s] = p.Put(context.Background(), batch...)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		put(t, p, all)
		for tenant, currency := range map[int64]money.Currency{1: "USD", 2: "EUR"} {
			bs, err := store.Balances(context.Background(), tenant)
			if err != nil || len(bs) != 1 || bs[0].Currency != currency || bs[0].Balance != sums[tenant] {
				t.Errorf("tenant %d: balances %+v, %v; want %s %s", tenant, bs, err, sums[tenant], currency)
			}
		}
	})
}
