package rating

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

func rate(prefix, price string) Rate {
	return Rate{Prefix: prefix, Destination: prefix, PricePerMinute: money.MustParse(price), FirstIncrement: 1, NextIncrement: 1}
}

func TestFindPrecedence(t *testing.T) {
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jun := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	night := rate("44", "0.01")
	night.Destination, night.TimeFrom, night.TimeTo, night.EffectiveFrom = "night", 20*3600, 8*3600, jan
	weekend := rate("44", "0.02")
	weekend.Destination, weekend.Days, weekend.EffectiveFrom = "weekend", 1<<time.Saturday|1<<time.Sunday, jan
	undated := rate("44", "0.09")
	undated.Destination, undated.TimeFrom, undated.TimeTo = "undated night", 20*3600, 8*3600
	newer := rate("44", "0.03")
	newer.Destination, newer.EffectiveFrom = "newer", jun
	old := rate("44", "0.04")
	old.Destination, old.EffectiveFrom = "old", jan
	first := rate("45", "0.05")
	first.Destination, first.Days = "first", 1<<time.Monday
	second := rate("45", "0.06")
	second.Destination, second.Days = "second", 1<<time.Tuesday|1<<time.Monday
	third := rate("45", "0.07")
	third.Destination, third.Days = "third", 1<<time.Monday|1<<time.Wednesday
	fourth := rate("45", "0.075")
	fourth.Destination, fourth.Days = "fourth", 1<<time.Tuesday|1<<time.Wednesday
	later := rate("4512", "0.08")
	later.Destination, later.EffectiveFrom = "later", jun
	tariff, err := Compile(Plan{Currency: "GBP", Rates: []Rate{rate("4", "0.1"), undated, night, weekend, newer, old, second, first, third, fourth, later}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dest string
		at         time.Time
		want       string
	}{
		{"old rate before the newer one's date, in the day", "4420", time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), "old"},
		{"night variant over the older all-day rate", "4420", time.Date(2026, 3, 4, 21, 0, 0, 0, time.UTC), "night"},
		{"weekend narrower than night", "4420", time.Date(2026, 3, 7, 21, 0, 0, 0, time.UTC), "weekend"},
		{"newer effective_from beats the narrower window", "4420", time.Date(2026, 6, 6, 21, 0, 0, 0, time.UTC), "newer"},
		{"before every dated 44 rate, in the day: the shorter prefix", "4420", time.Date(2025, 6, 6, 12, 0, 0, 0, time.UTC), "4"},
		{"before every dated 44 rate, at night: the undated night rate", "4420", time.Date(2025, 6, 6, 21, 0, 0, 0, time.UTC), "undated night"},
		{"narrowest weekly window (one day)", "4520", time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), "first"},
		{"equal windows on Tuesday: the earlier deck row", "4520", time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC), "second"},
		{"equal windows on Wednesday: the earlier deck row", "4520", time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), "third"},
		{"no 45 rate on Thursday: the shorter prefix", "4520", time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC), "4"},
		{"a longer prefix not yet in force hides nothing", "45123", time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), "first"},
		{"the longer prefix once in force", "45123", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), "later"},
		{"destination shorter than the prefix", "45", time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), "first"},
	}
	for _, tt := range tests {
		got, err := tariff.Find(tt.dest, tt.at)
		if err != nil || got.Destination != tt.want {
			t.Errorf("%s: Find(%s, %s) = %q, %v; want %q", tt.name, tt.dest, tt.at, got.Destination, err, tt.want)
		}
	}
	if _, err := tariff.Find("5", time.Now()); !errors.Is(err, ErrNoRate) {
		t.Errorf("Find(5) = %v, want ErrNoRate", err)
	}
}

func TestFindDestination(t *testing.T) {
	tariff, err := Compile(Plan{Name: "retail", Currency: "usd", Rates: []Rate{rate("1", "0.01")}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := tariff.Rate("+1800", time.Now(), 60); err != nil || c.Plan != "retail" || c.Currency != "USD" || c.Cost != money.MustParse("0.01") {
		t.Errorf("Rate(+1800) = %+v, %v", c, err)
	}
	for _, d := range []string{"", "+", "1-800", "1 800", "+1x", strings.Repeat("1", maxDigits+1), "12345678901234567890123456789012a"} {
		if _, err := tariff.Rate(d, time.Now(), 60); !errors.Is(err, ErrInvalidDestination) {
			t.Errorf("Rate(%q) = %v, want ErrInvalidDestination", d, err)
		}
	}
	if _, err := tariff.Rate("1800", time.Now(), -1); !errors.Is(err, ErrInvalidDuration) {
		t.Errorf("Rate(-1 s) = %v, want ErrInvalidDuration", err)
	}
	if _, err := tariff.Rate("+"+strings.Repeat("1", maxDigits), time.Now(), 60); err != nil {
		t.Errorf("Rate(%d digits) = %v", maxDigits, err)
	}
}

func TestCompileErrors(t *testing.T) {
	dup1, dup2 := rate("44", "0.1"), rate("44", "0.2")
	dup1.Days, dup2.Days = 1<<time.Monday, 1<<time.Monday
	other := rate("44", "0.3")
	other.TimeFrom, other.TimeTo = 3600, 7200
	bad := rate("44", "0.1")
	bad.NextIncrement = 0
	tests := []struct {
		name string
		plan Plan
		err  error
		msg  string
	}{
		{"no currency", Plan{}, ErrInvalidPlan, "currency"},
		{"bad zone", Plan{Currency: "USD", TimeZone: "Mars/Olympus"}, ErrInvalidPlan, "Mars/Olympus"},
		{"negative step", Plan{Currency: "USD", ChargeStep: -1}, ErrInvalidPlan, "charge step"},
		{"bad rate names its index and field", Plan{Currency: "USD", Rates: []Rate{rate("1", "0"), bad}}, ErrInvalidRate, "rate 2 (prefix \"44\"): rating: invalid rate: next_increment"},
		{"duplicate slot even with a rate between", Plan{Currency: "USD", Rates: []Rate{dup1, other, dup2}}, ErrDuplicateRate, "rates 1 and 3"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.plan)
		if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v; want %v containing %q", tt.name, err, tt.err, tt.msg)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := rate("49", "0.1")
	tests := []struct {
		field string
		mod   func(*Rate)
	}{
		{"prefix", func(r *Rate) { r.Prefix = "" }},
		{"prefix", func(r *Rate) { r.Prefix = "+49" }},
		{"prefix", func(r *Rate) { r.Prefix = strings.Repeat("4", maxDigits+1) }},
		{"price_per_minute", func(r *Rate) { r.PricePerMinute = -1 }},
		{"connect_fee", func(r *Rate) { r.ConnectFee = -1 }},
		{"first_increment", func(r *Rate) { r.FirstIncrement = 0 }},
		{"next_increment", func(r *Rate) { r.NextIncrement = maxRateSeconds + 1 }},
		{"minimum_seconds", func(r *Rate) { r.MinimumSeconds = -1 }},
		{"free_seconds", func(r *Rate) { r.FreeSeconds = maxRateSeconds + 1 }},
		{"days", func(r *Rate) { r.Days = 1 << 7 }},
		{"time_from", func(r *Rate) { r.TimeFrom = endOfDay }},
		{"time_to", func(r *Rate) { r.TimeTo = endOfDay + 1 }},
		{"time_to", func(r *Rate) { r.TimeFrom, r.TimeTo = 3600, 3600 }},
		{"time_to", func(r *Rate) { r.TimeTo = endOfDay }},
		{"effective_from", func(r *Rate) { r.EffectiveFrom = time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"effective_to", func(r *Rate) {
			r.EffectiveFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			r.EffectiveTo = r.EffectiveFrom
		}},
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		r := ok
		tt.mod(&r)
		var fe *FieldError
		if err := r.Validate(); !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, ErrInvalidRate) {
			t.Errorf("%+v: %v; want a FieldError for %s", r, err, tt.field)
		}
	}
}

func TestWeekdays(t *testing.T) {
	tests := []struct {
		in, canon string
		want      Weekdays
	}{
		{"", "", 0},
		{"mon-fri", "mon-fri", 0b0111110},
		{"Sat, SUN", "sat-sun", 0b1000001}, {"mon,wed", "mon,wed", 0b0001010},
		{"fri-mon", "mon,fri-sun", 0b1100011},
		{"mon-sun", "", 0},
		{"wed", "wed", 1 << time.Wednesday},
		{"mon,tue,wed,fri", "mon-wed,fri", 0b0101110},
	}
	for _, tt := range tests {
		got, err := ParseWeekdays(tt.in)
		if err != nil || got != tt.want || got.String() != tt.canon {
			t.Errorf("ParseWeekdays(%q) = %b (%q), %v; want %b (%q)", tt.in, got, got.String(), err, tt.want, tt.canon)
		}
	}
	for _, bad := range []string{"monday", "mon-", "-fri", "mon,,fri", "1"} {
		if _, err := ParseWeekdays(bad); !errors.Is(err, ErrInvalidRate) {
			t.Errorf("ParseWeekdays(%q) = %v, want ErrInvalidRate", bad, err)
		}
	}
}

func TestTimeOfDay(t *testing.T) {
	tests := []struct {
		in, out string
		want    TimeOfDay
	}{
		{"00:00", "00:00", 0}, {"22:00", "22:00", 79200}, {"06:30:15", "06:30:15", 23415},
		{"24:00", "24:00", endOfDay}, {"23:59:59", "23:59:59", endOfDay - 1}, {"08:00:00", "08:00", 28800},
	}
	for _, tt := range tests {
		got, err := ParseTimeOfDay(tt.in)
		if err != nil || got != tt.want || got.String() != tt.out {
			t.Errorf("ParseTimeOfDay(%q) = %d (%s), %v", tt.in, got, got, err)
		}
	}
	for _, bad := range []string{"24:01", "8:00", "08-00", "08:60", "08:00:60", "25:00", "0a:00", "", "08:00:0"} {
		if _, err := ParseTimeOfDay(bad); !errors.Is(err, ErrInvalidRate) {
			t.Errorf("ParseTimeOfDay(%q) = %v, want ErrInvalidRate", bad, err)
		}
	}
}

// TestTariffConcurrent prices from many goroutines at once: a Tariff is
// shared by the pipeline and the authorizer without a lock (run with -race).
func TestTariffConcurrent(t *testing.T) {
	tariff := goldenPlan(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				if _, err := tariff.Rate("12125550100", time.Date(2026, 3, 4, 15, 0, 0, i, time.UTC), i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
