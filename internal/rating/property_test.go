package rating

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// randomRate draws a rate over the ranges decks use, with prices of up to
// six decimals and every increment, minimum and free-seconds combination
// in play.
func randomRate(rng *rand.Rand, prefix string) Rate {
	incs := []int{1, 6, 30, 60}
	r := Rate{
		Prefix:         prefix,
		PricePerMinute: money.Amount(rng.Int64N(2_000_000_000)) / 1000 * 1000, // up to 2.000000 a minute
		FirstIncrement: incs[rng.IntN(len(incs))],
		NextIncrement:  incs[rng.IntN(len(incs))],
	}
	if rng.IntN(3) == 0 {
		r.PricePerMinute = 0
	}
	if rng.IntN(2) == 0 {
		r.ConnectFee = money.Amount(rng.Int64N(200_000_000))
	}
	if rng.IntN(3) == 0 {
		r.MinimumSeconds = rng.IntN(120)
	}
	if rng.IntN(3) == 0 {
		r.FreeSeconds = rng.IntN(60)
	}
	return r
}

func randomTariff(t *testing.T, rng *rand.Rand) *Tariff {
	t.Helper()
	steps := []money.Amount{0, 1, money.MustParse("0.0001"), money.MustParse("0.01"), money.MustParse("0.05")}
	tariff, err := Compile(Plan{Currency: "EUR", ChargeStep: steps[rng.IntN(len(steps))],
		Rates: []Rate{randomRate(rng, "1")}})
	if err != nil {
		t.Fatal(err)
	}
	return tariff
}

// TestCostMonotonic checks over random plans that a longer call never
// costs less than a shorter one.
func TestCostMonotonic(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 1))
	start := time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)
	for plan := 0; plan < 300; plan++ {
		tariff := randomTariff(t, rng)
		prev := money.Amount(0)
		for s := 0; s <= 400; s++ {
			c, err := tariff.Rate("1555", start, s)
			if err != nil {
				t.Fatal(err)
			}
			if c.Cost < prev {
				t.Fatalf("plan %+v step %s: %d s costs %s, %d s cost %s", tariff.rates[0].Rate, tariff.step, s, c.Cost, s-1, prev)
			}
			if s > 0 && c.BilledSeconds < s-c.FreeSeconds {
				t.Fatalf("%d s billed as %d after %d free", s, c.BilledSeconds, c.FreeSeconds)
			}
			prev = c.Cost
		}
	}
}

// TestMaxDurationConsistent checks over random plans and balances that
// MaxDuration is Rate's inverse: its duration costs at most the money and
// one second more (the next increment) costs more, or the money does not
// pay for the first increment at all.
func TestMaxDurationConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 2))
	start := time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)
	for i := 0; i < 20000; i++ {
		tariff := randomTariff(t, rng)
		avail := money.Amount(rng.Int64N(3_000_000_000)) // up to 3.00
		if rng.IntN(10) == 0 {
			avail = -avail
		}
		if rng.IntN(20) == 0 {
			avail = money.Amount(rng.Int64()) // a very large balance
		}
		secs, _, err := tariff.MaxDuration("1555", start, avail)
		if errors.Is(err, ErrInsufficientFunds) {
			// Not even the connection fee, or the fee but no increment and
			// no free seconds: one second costs more than the money.
			c, err := tariff.Rate("1555", start, 1)
			if err != nil {
				t.Fatal(err)
			}
			if c.Cost <= avail {
				t.Fatalf("rate %+v step %s: insufficient for %s but 1 s costs %s", tariff.rates[0].Rate, tariff.step, avail, c.Cost)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		c, err := tariff.Rate("1555", start, secs)
		if err != nil {
			t.Fatal(err)
		}
		if c.Cost > avail {
			t.Fatalf("rate %+v step %s: %s allows %d s which cost %s", tariff.rates[0].Rate, tariff.step, avail, secs, c.Cost)
		}
		if secs == Unlimited {
			continue
		}
		next, err := tariff.Rate("1555", start, secs+1)
		if err != nil {
			t.Fatal(err)
		}
		if next.Cost <= avail {
			t.Fatalf("rate %+v step %s: %s allows %d s but %d s cost only %s", tariff.rates[0].Rate, tariff.step, avail, secs, secs+1, next.Cost)
		}
	}
}

// TestMaxDuration pins the cases a switch meets before a call.
func TestMaxDuration(t *testing.T) {
	start := time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)
	base := Rate{Prefix: "1", PricePerMinute: money.MustParse("0.60"), FirstIncrement: 30, NextIncrement: 6}
	tests := []struct {
		name  string
		mod   func(*Rate)
		avail string
		want  int
		err   error
	}{
		{"exact first increment", nil, "0.30", 30, nil},
		{"a cent short of the first increment", nil, "0.29", 0, ErrInsufficientFunds},
		{"one more 6 s increment", nil, "0.36", 36, nil},
		{"money between increments rounds down", nil, "0.41", 36, nil},
		{"connection fee first", func(r *Rate) { r.ConnectFee = money.MustParse("0.10") }, "0.46", 36, nil},
		{"fee only gives free seconds", func(r *Rate) { r.ConnectFee = money.MustParse("0.10"); r.FreeSeconds = 20 }, "0.10", 20, nil},
		{"fee not paid", func(r *Rate) { r.ConnectFee = money.MustParse("0.10"); r.FreeSeconds = 20 }, "0.09", 0, ErrInsufficientFunds},
		{"free seconds then increments", func(r *Rate) { r.FreeSeconds = 20 }, "0.36", 56, nil},
		{"minimum not paid", func(r *Rate) { r.MinimumSeconds = 60 }, "0.59", 0, ErrInsufficientFunds},
		{"minimum paid", func(r *Rate) { r.MinimumSeconds = 60 }, "0.60", 60, nil},
		{"negative balance", nil, "-1", 0, ErrInsufficientFunds},
		{"free destination", func(r *Rate) { r.PricePerMinute = 0 }, "0", Unlimited, nil},
		{"huge balance", nil, "9000000000", Unlimited, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			if tt.mod != nil {
				tt.mod(&r)
			}
			tariff, err := Compile(Plan{Currency: "USD", Rates: []Rate{r}})
			if err != nil {
				t.Fatal(err)
			}
			got, rate, err := tariff.MaxDuration("1555", start, money.MustParse(tt.avail))
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("MaxDuration(%s) = %d, %v; want %d, %v", tt.avail, got, err, tt.want, tt.err)
			}
			if rate.Prefix != "1" {
				t.Errorf("rate %+v", rate)
			}
		})
	}
}
