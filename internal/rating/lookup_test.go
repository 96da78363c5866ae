package rating

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// referenceFind is the lookup rule of the package comment written the
// slow, obvious way: every rate whose prefix starts dest and that is in
// force at start, the longest prefix, then the latest effective_from, the
// narrowest window, the earliest row.
func referenceFind(rates []Rate, loc *time.Location, dest string, start time.Time) (int, bool) {
	l := start.In(loc)
	h, m, s := l.Clock()
	sec := TimeOfDay(h*3600 + m*60 + s)
	best := -1
	for i := range rates {
		r := &rates[i]
		if len(r.Prefix) > len(dest) || dest[:len(r.Prefix)] != r.Prefix {
			continue
		}
		if (!r.EffectiveFrom.IsZero() && start.Before(r.EffectiveFrom)) || (!r.EffectiveTo.IsZero() && !start.Before(r.EffectiveTo)) {
			continue
		}
		if !r.Days.Has(l.Weekday()) || !r.inWindow(sec) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := &rates[best]
		switch {
		case len(r.Prefix) != len(b.Prefix):
			if len(r.Prefix) > len(b.Prefix) {
				best = i
			}
		case !r.EffectiveFrom.Equal(b.EffectiveFrom):
			if r.EffectiveFrom.After(b.EffectiveFrom) {
				best = i
			}
		case r.windowSeconds() < b.windowSeconds():
			best = i
		}
	}
	return best, best >= 0
}

// TestFindAgainstReference compares the trie's lookup with referenceFind
// over random plans dense in shared prefixes, windows over midnight,
// weekday sets and effective dates, at random instants around the 2026
// DST changes in New York.
func TestFindAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 3))
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	dates := []time.Time{{}, base.AddDate(0, 0, 5), base.AddDate(0, 0, 7), base.AddDate(0, 8, 0)}
	found := 0
	for plan := 0; plan < 200; plan++ {
		var rates []Rate
		type key struct {
			prefix     string
			from       time.Time
			days       Weekdays
			start, end TimeOfDay
		}
		seen := map[key]bool{}
		for len(rates) < 40 {
			r := Rate{Prefix: strconv.Itoa(1 + rng.IntN(3)), Destination: strconv.Itoa(len(rates)),
				PricePerMinute: money.Amount(rng.Int64N(1e9)), FirstIncrement: 1, NextIncrement: 1}
			for n := rng.IntN(3); n > 0; n-- {
				r.Prefix += strconv.Itoa(rng.IntN(3))
			}
			if rng.IntN(3) == 0 {
				r.Days = Weekdays(1 + rng.IntN(126))
			}
			if rng.IntN(3) == 0 {
				r.TimeFrom = TimeOfDay(rng.IntN(24) * 3600)
				r.TimeTo = TimeOfDay(1+rng.IntN(24)) * 3600
				if r.TimeFrom == r.TimeTo || (r.TimeFrom == 0 && r.TimeTo == endOfDay) {
					r.TimeFrom, r.TimeTo = 0, 0
				}
			}
			r.EffectiveFrom = dates[rng.IntN(len(dates))]
			if rng.IntN(4) == 0 {
				r.EffectiveTo = r.EffectiveFrom.AddDate(0, 0, 1+rng.IntN(200))
				if r.EffectiveFrom.IsZero() {
					r.EffectiveTo = base.AddDate(0, 0, rng.IntN(300))
				}
			}
			k := key{r.Prefix, r.EffectiveFrom, r.Days, r.TimeFrom, r.TimeTo}
			if seen[k] {
				continue // a duplicate Compile refuses (TestCompileErrors)
			}
			seen[k] = true
			rates = append(rates, r)
		}
		tariff, err := Compile(Plan{Currency: "USD", TimeZone: "America/New_York", Rates: rates})
		if err != nil {
			t.Fatal(err)
		}
		for call := 0; call < 300; call++ {
			dest := strconv.Itoa(1+rng.IntN(3)) + strconv.Itoa(rng.IntN(3)) + strconv.Itoa(rng.IntN(3)) + "555"
			start := base.Add(time.Duration(rng.Int64N(300*86400)) * time.Second)
			want, ok := referenceFind(rates, ny, dest, start)
			got, err := tariff.Find(dest, start)
			if !ok {
				if !errors.Is(err, ErrNoRate) {
					t.Fatalf("plan %d: Find(%s, %s) = %+v, %v; want ErrNoRate", plan, dest, start, got, err)
				}
				continue
			}
			found++
			if err != nil || got.Destination != rates[want].Destination {
				t.Fatalf("plan %d: Find(%s, %s) = rate %s (%+v), %v; want rate %d (%+v)", plan, dest, start, got.Destination, got, err, want, rates[want])
			}
		}
	}
	if found < 200*300/2 {
		t.Errorf("only %d of %d calls found a rate: the plans test too little", found, 200*300)
	}
}
