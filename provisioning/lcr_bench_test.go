package provisioning_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// BenchmarkGatewaysByCost is what a least-cost route costs on every call:
// GatewaysByCost over 8 gateways, each with its own supplier deck of
// 100,000 prefixes (the same prefixes at different prices, about 110,000
// rates each with the night variants), for 1,024 random numbers that all
// have a rate, from a warm cache; one-number repeats one number (the
// tries' paths stay in the CPU cache, leaving the Service's own work);
// rate-only is the floor, the same 8 lookups on the compiled tariffs
// without the Service. The store is a
// SQLite file: the lookups read no database once warm, so the engine does
// not matter.
func BenchmarkGatewaysByCost(b *testing.B) {
	ctx := context.Background()
	st, svc, tn := benchService(b, "sqlite:"+filepath.Join(b.TempDir(), "lcr.db"))
	admin := provisioning.AdminScope()
	rates, _ := benchDeck(b, 100_000)
	rng := rand.New(rand.NewPCG(8, 0))
	var ids []int64
	for i := range 8 {
		name := "supplier-" + strconv.Itoa(i)
		g := &provisioning.Gateway{Name: name, TenantID: &tn.ID, Host: "sip" + strconv.Itoa(i) + ".carrier.example"}
		if err := svc.CreateGateway(ctx, admin, g); err != nil {
			b.Fatal(err)
		}
		p := &provisioning.TariffPlan{TenantID: tn.ID, Name: name, Currency: "USD", TimeZone: "Europe/Berlin", ChargeStep: money.MustParse("0.0001")}
		if err := svc.CreateTariffPlan(ctx, admin, p); err != nil {
			b.Fatal(err)
		}
		for j := range rates {
			rates[j].PricePerMinute = money.Amount(rng.Int64N(500_000_000))
		}
		if _, err := st.ReplaceTariffRates(ctx, p.ID, rates, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.SetGatewayTariffPlan(ctx, admin, g.ID, &p.ID); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, g.ID)
	}
	numbers := make([]string, 1024)
	for i := range numbers {
		numbers[i] = rates[rng.IntN(len(rates))].Prefix + "4567"
	}
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, n := range numbers { // warm: every tariff compiled, every gateway cached
		if gs, err := svc.GatewaysByCost(ctx, ids, n, at); err != nil || len(gs) != len(ids) {
			b.Fatal(len(gs), err)
		}
	}
	// service: what a switch pays per LCR call.
	b.Run("service", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			gs, err := svc.GatewaysByCost(ctx, ids, numbers[i%len(numbers)], at)
			if err != nil || len(gs) != len(ids) {
				b.Fatal(len(gs), err)
			}
			i++
		}
	})
	// one-number: the same number every call, every trie walk in the CPU
	// cache: what is left is the Service's own work (cache lookups, sort).
	b.Run("one-number", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if gs, err := svc.GatewaysByCost(ctx, ids, numbers[0], at); err != nil || len(gs) != len(ids) {
				b.Fatal(len(gs), err)
			}
		}
	})
	// rate-only: the floor, the 8 supplier lookups on the compiled
	// tariffs alone (no cache, no ordering).
	tariffs := make([]*rating.Tariff, len(ids))
	for i, id := range ids {
		var err error
		if tariffs[i], err = svc.GatewayTariff(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("rate-only", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			for _, t := range tariffs {
				if _, err := t.Rate(numbers[i%len(numbers)], at, 60); err != nil {
					b.Fatal(err)
				}
			}
			i++
		}
	})
}
