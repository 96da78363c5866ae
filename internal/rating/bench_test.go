package rating

import (
	"bytes"

	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// benchRates returns n rates on distinct prefixes of 3 to 9 digits, as a
// wholesale deck has them (country, then area or mobile network codes),
// one in ten with a night variant.
func benchRates(n int) []Rate {
	rng := rand.New(rand.NewPCG(100, 0))
	seen := make(map[string]bool, n)
	rates := make([]Rate, 0, n+n/10)
	for len(seen) < n {
		p := strconv.Itoa(1 + rng.IntN(999))
		for len(p) < 3+rng.IntN(7) {
			p += strconv.Itoa(rng.IntN(10))
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		r := Rate{Prefix: p, Destination: "Destination " + p[:3], Group: "Group " + p[:2],
			PricePerMinute: money.Amount(rng.Int64N(500_000_000)), FirstIncrement: 30, NextIncrement: 6}
		rates = append(rates, r)
		if rng.IntN(10) == 0 {
			r.PricePerMinute /= 2
			r.TimeFrom, r.TimeTo = 22*3600, 6*3600
			rates = append(rates, r)
		}
	}
	return rates
}

// benchCalls returns destinations that extend random prefixes of the deck
// to 12 digits, with start times spread over a week.
func benchCalls(rates []Rate, n int) ([]string, []time.Time) {
	rng := rand.New(rand.NewPCG(200, 0))
	dests, starts := make([]string, n), make([]time.Time, n)
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for i := range dests {
		d := rates[rng.IntN(len(rates))].Prefix
		for len(d) < 12 {
			d += strconv.Itoa(rng.IntN(10))
		}
		dests[i] = d
		starts[i] = base.Add(time.Duration(rng.IntN(7*86400)) * time.Second)
	}
	return dests, starts
}

func benchTariff(b *testing.B, n int) *Tariff {
	b.Helper()
	t, err := Compile(Plan{Currency: "USD", TimeZone: "Europe/Berlin", ChargeStep: money.MustParse("0.0001"), Rates: benchRates(n)})
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// benchCallsOn runs call against a 100,000-prefix plan b.N times, over
// 16,384 destinations and start times, and reports calls per second.
func benchCallsOn(b *testing.B, unit string, call func(t *Tariff, dest string, start time.Time, i int) error) {
	t := benchTariff(b, 100_000)
	dests, starts := benchCalls(t.planRates(), 1<<14)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i & (len(dests) - 1)
		if err := call(t, dests[j], starts[j], i); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

// BenchmarkRate prices CDRs against a 100,000-prefix plan on one core:
// the goal is at least 100,000 CDRs a second.
func BenchmarkRate(b *testing.B) {
	benchCallsOn(b, "rates/s", func(t *Tariff, dest string, start time.Time, i int) error {
		_, err := t.Rate(dest, start, 1+i%3600)
		return err
	})
}

// BenchmarkFind is the prefix lookup alone.
func BenchmarkFind(b *testing.B) {
	benchCallsOn(b, "lookups/s", func(t *Tariff, dest string, start time.Time, _ int) error {
		_, err := t.find(dest, start)
		return err
	})
}

// BenchmarkMaxDuration is what the authorizer asks before each call.
func BenchmarkMaxDuration(b *testing.B) {
	avail := money.MustParse("12.34")
	benchCallsOn(b, "answers/s", func(t *Tariff, dest string, start time.Time, _ int) error {
		_, _, err := t.MaxDuration(dest, start, avail)
		return err
	})
}

// BenchmarkCompile builds the trie of a 100,000-prefix plan.
func BenchmarkCompile(b *testing.B) {
	rates := benchRates(100_000)
	b.ReportAllocs()
	b.ResetTimer()
	var t *Tariff
	for i := 0; i < b.N; i++ {
		var err error
		if t, err = Compile(Plan{Currency: "USD", Rates: rates}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(t.nodes)), "trie-nodes")
	b.ReportMetric(float64(len(t.nodes)*48+len(t.rates)*int(unsafe.Sizeof(compiledRate{})))/1e6, "trie-MB")
}

// BenchmarkDeckImport reads a 100,000-row deck generated in memory.
func BenchmarkDeckImport(b *testing.B) {
	var deck bytes.Buffer
	if err := WriteDeck(&deck, benchRates(100_000), DeckOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(deck.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		d := NewDeckDecoder(bytes.NewReader(deck.Bytes()), DeckOptions{})
		for {
			_, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDeckExport writes the same deck back.
func BenchmarkDeckExport(b *testing.B) {
	rates := benchRates(100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := WriteDeck(io.Discard, rates, DeckOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rates)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// planRates returns the compiled rates back as Rates, for the benchmarks'
// destinations.
func (t *Tariff) planRates() []Rate {
	out := make([]Rate, len(t.rates))
	for i := range t.rates {
		out[i] = t.rates[i].Rate
	}
	return out
}
