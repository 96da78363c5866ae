package provisioning_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// benchDeck is a wholesale deck of n distinct prefixes of 3 to 9 digits,
// one in ten with a night variant, as internal/rating's benchmarks use.
func benchDeck(b *testing.B, n int) ([]rating.Rate, []byte) {
	rng := rand.New(rand.NewPCG(100, 0))
	seen := make(map[string]bool, n)
	rates := make([]rating.Rate, 0, n+n/10)
	for len(seen) < n {
		p := strconv.Itoa(1 + rng.IntN(999))
		for len(p) < 3+rng.IntN(7) {
			p += strconv.Itoa(rng.IntN(10))
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		r := rating.Rate{Prefix: p, Destination: "Destination " + p[:3], Group: "Group " + p[:2],
			PricePerMinute: money.Amount(rng.Int64N(500_000_000)), FirstIncrement: 30, NextIncrement: 6}
		rates = append(rates, r)
		if rng.IntN(10) == 0 {
			r.PricePerMinute /= 2
			r.TimeFrom, r.TimeTo = 22*3600, 6*3600
			rates = append(rates, r)
		}
	}
	var deck bytes.Buffer
	if err := rating.WriteDeck(&deck, rates, rating.DeckOptions{}); err != nil {
		b.Fatal(err)
	}
	return rates, deck.Bytes()
}

// BenchmarkRateDeckImport replaces a plan's rates with a deck of 100,000
// prefixes (about 110,000 rates with the night variants) on a SQLite file
// and, when one answers (SWITCHBOARD_TEST_POSTGRES), on PostgreSQL:
//
//   - service: the CSV through Service.ReplaceTariffRates: read and
//     checked row by row, compiled as a whole, then written;
//   - raw-insert: the same rates, already parsed, written by the store
//     alone (the batched INSERTs in one transaction), the floor of any
//     import on this database and machine;
//   - first-lookup: TenantTariff after another process changed the plan:
//     every rate read back and compiled;
//   - lookup: TenantTariff from the cache, what every call pays.
func BenchmarkRateDeckImport(b *testing.B) {
	rates, deck := benchDeck(b, 100_000)
	dsns := sqldbtest.DSNs(b)
	for _, engine := range []sqldb.Engine{sqldb.SQLite, sqldb.Postgres} {
		if dsn, ok := dsns[engine]; ok {
			b.Run(string(engine), func(b *testing.B) { benchRateDeckImport(b, dsn, rates, deck) })
		}
	}
}

func benchRateDeckImport(b *testing.B, dsn string, rates []rating.Rate, deck []byte) {
	ctx := context.Background()
	st, svc, tn := benchService(b, dsn)
	admin := provisioning.AdminScope()
	p := &provisioning.TariffPlan{TenantID: tn.ID, Name: "wholesale", Currency: "USD", TimeZone: "Europe/Berlin", ChargeStep: money.MustParse("0.0001")}
	if err := svc.CreateTariffPlan(ctx, admin, p); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.SetTenantTariffPlan(ctx, admin, tn.ID, &p.ID); err != nil {
		b.Fatal(err)
	}
	// Each sub-benchmark runs alone too (-bench RateDeckImport/lookup).
	if _, err := svc.ReplaceTariffRates(ctx, admin, p.ID, bytes.NewReader(deck), provisioning.RateImportOptions{}); err != nil {
		b.Fatal(err)
	}
	rowsPerSec := func(b *testing.B) {
		b.ReportMetric(float64(len(rates))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("service", func(b *testing.B) {
		b.SetBytes(int64(len(deck)))
		for b.Loop() {
			if _, err := svc.ReplaceTariffRates(ctx, admin, p.ID, bytes.NewReader(deck), provisioning.RateImportOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		rowsPerSec(b)
	})
	b.Run("raw-insert", func(b *testing.B) {
		b.SetBytes(int64(len(deck)))
		for b.Loop() {
			if _, err := st.ReplaceTariffRates(ctx, p.ID, rates, nil); err != nil {
				b.Fatal(err)
			}
		}
		rowsPerSec(b)
	})
	b.Run("first-lookup", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			// What another daemon's import looks like here: a new version
			// and an invalidation.
			if err := st.UpdateTariffPlan(ctx, p); err != nil {
				b.Fatal(err)
			}
			svc.ApplyInvalidation(provisioning.Invalidation{Kind: provisioning.InvalidateTariff, ID: p.ID})
			b.StartTimer()
			if t, err := svc.TenantTariff(ctx, tn.ID); err != nil || t == nil {
				b.Fatal(t, err)
			}
		}
		rowsPerSec(b)
	})
	b.Run("lookup", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			t, err := svc.TenantTariff(ctx, tn.ID)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := t.Rate(rates[0].Prefix+"123456", start, 60); err != nil {
				b.Fatal(err)
			}
		}
	})
}
