package money

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Amount
		err  error
	}{
		{"0", 0, nil},
		{"-0", 0, nil},
		{"+7", 7 * Unit, nil},
		{"-5", -5 * Unit, nil},
		{"0.0123", 12_300_000, nil},
		{"100.50", 100*Unit + 500_000_000, nil},
		{".5", 500_000_000, nil},
		{"5.", 5 * Unit, nil},
		{"0.000000001", 1, nil},
		{"0.1000000000000", 100_000_000, nil},
		{"9223372036.854775807", Max, nil},
		{"-9223372036.854775808", Min, nil},
		{"9223372036.854775808", 0, ErrOverflow},
		{"-9223372036.854775809", 0, ErrOverflow},
		{"99999999999999999999999", 0, ErrOverflow},
		{"0.0000000001", 0, ErrPrecision},
		{"", 0, ErrSyntax},
		{"-", 0, ErrSyntax},
		{".", 0, ErrSyntax},
		{"1.2.3", 0, ErrSyntax},
		{"1e3", 0, ErrSyntax},
		{" 1", 0, ErrSyntax},
		{"1,000", 0, ErrSyntax},
		{"0x10", 0, ErrSyntax},
		{"--1", 0, ErrSyntax},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		in    Amount
		fixed int
		want  string
	}{
		{0, 0, "0"},
		{0, 2, "0.00"},
		{12_300_000, 0, "0.0123"},
		{-5 * Unit, 0, "-5"},
		{100*Unit + 500_000_000, 2, "100.50"},
		{100*Unit + 500_000_000, 0, "100.5"},
		{1, 2, "0.000000001"},
		{-1, 0, "-0.000000001"},
		{Max, 0, "9223372036.854775807"},
		{Min, 0, "-9223372036.854775808"},
		{Unit, 12, "1.000000000"},
	}
	for _, tt := range tests {
		if got := tt.in.StringFixed(tt.fixed); got != tt.want {
			t.Errorf("%d.StringFixed(%d) = %q, want %q", int64(tt.in), tt.fixed, got, tt.want)
		}
	}
}

func TestAddSubOverflow(t *testing.T) {
	tests := []struct {
		a, b     Amount
		sum, dif Amount
		sumErr   error
		difErr   error
	}{
		{Unit, 2 * Unit, 3 * Unit, -Unit, nil, nil},
		{Max, 1, 0, Max - 1, ErrOverflow, nil},
		{Min, -1, 0, Min + 1, ErrOverflow, nil},
		{Min, 1, Min + 1, 0, nil, ErrOverflow},
		{Max, -1, Max - 1, 0, nil, ErrOverflow},
		{0, Min, Min, 0, nil, ErrOverflow},
	}
	for _, tt := range tests {
		s, err := tt.a.Add(tt.b)
		if !errors.Is(err, tt.sumErr) || (err == nil && s != tt.sum) {
			t.Errorf("%d + %d = %d, %v", tt.a, tt.b, s, err)
		}
		d, err := tt.a.Sub(tt.b)
		if !errors.Is(err, tt.difErr) || (err == nil && d != tt.dif) {
			t.Errorf("%d - %d = %d, %v", tt.a, tt.b, d, err)
		}
	}
}

func TestMulDivRounding(t *testing.T) {
	// 7/2 = 3.5 nano, -7/2 = -3.5, 5/2 = 2.5, 7/3 = 2.33…, 8/3 = 2.66…
	tests := []struct {
		a        Amount
		num, den int64
		r        Rounding
		want     Amount
	}{
		{7, 1, 2, Ceil, 4}, {7, 1, 2, Floor, 3}, {7, 1, 2, HalfUp, 4}, {7, 1, 2, HalfEven, 4},
		{-7, 1, 2, Ceil, -3}, {-7, 1, 2, Floor, -4}, {-7, 1, 2, HalfUp, -4}, {-7, 1, 2, HalfEven, -4},
		{5, 1, 2, HalfEven, 2}, {-5, 1, 2, HalfEven, -2}, {5, 1, 2, HalfUp, 3},
		{7, 1, 3, HalfUp, 2}, {8, 1, 3, HalfUp, 3}, {8, 1, 3, Floor, 2}, {7, 1, 3, Ceil, 3},
		{7, -1, 2, Ceil, -3},
		{6, 1, 3, Ceil, 2},
		// 0.0123 per minute for 61 s = 0.012505 exactly.
		{MustParse("0.0123"), 61, 60, Ceil, MustParse("0.012505")},
		// A product past 64 bits that divides back into range.
		{Max, 60, 60, Floor, Max},
		{Min, 3, 3, Floor, Min},
	}
	for _, tt := range tests {
		got, err := tt.a.MulDiv(tt.num, tt.den, tt.r)
		if err != nil || got != tt.want {
			t.Errorf("%d×%d/%d %v = %d, %v; want %d", tt.a, tt.num, tt.den, tt.r, got, err, tt.want)
		}
	}
	if _, err := Max.MulDiv(2, 1, Floor); !errors.Is(err, ErrOverflow) {
		t.Errorf("Max×2: %v, want ErrOverflow", err)
	}
	if _, err := Min.MulDiv(-1, 1, Floor); !errors.Is(err, ErrOverflow) {
		t.Errorf("Min×-1: %v, want ErrOverflow", err)
	}
	if _, err := Max.MulDiv(1, 2, Floor); err != nil {
		t.Errorf("Max/2: %v", err)
	}
	if _, err := Unit.MulDiv(1, 0, Floor); !errors.Is(err, ErrDivision) {
		t.Errorf("/0: %v, want ErrDivision", err)
	}
	if _, err := Max.MulDiv(1, 1, Ceil); err != nil {
		t.Errorf("Max×1: %v", err)
	}
}

// TestMulDivAgainstBig checks MulDiv against math/big on random operands,
// including ones whose product needs more than 64 bits.
func TestMulDivAgainstBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	modes := []Rounding{Ceil, Floor, HalfUp, HalfEven}
	for i := 0; i < 20000; i++ {
		a := Amount(rng.Int64() >> rng.IntN(64))
		if rng.IntN(2) == 0 {
			a = -a
		}
		num := rng.Int64() >> rng.IntN(64)
		if rng.IntN(2) == 0 {
			num = -num
		}
		den := max(rng.Int64()>>rng.IntN(64), 1)
		r := modes[rng.IntN(len(modes))]
		got, err := a.MulDiv(num, den, r)
		want, ok := bigMulDiv(int64(a), num, den, r)
		if !ok {
			if !errors.Is(err, ErrOverflow) {
				t.Fatalf("%d×%d/%d %v = %d, %v; want ErrOverflow", a, num, den, r, got, err)
			}
			continue
		}
		if err != nil || int64(got) != want {
			t.Fatalf("%d×%d/%d %v = %d, %v; want %d", a, num, den, r, got, err, want)
		}
	}
}

func bigMulDiv(a, num, den int64, r Rounding) (int64, bool) {
	p := new(big.Int).Mul(big.NewInt(a), big.NewInt(num))
	d := big.NewInt(den)
	q, m := new(big.Int).DivMod(p, d, new(big.Int)) // Euclidean: m ≥ 0, q = floor
	if m.Sign() != 0 {
		twice := new(big.Int).Lsh(m, 1)
		c := twice.Cmp(d)
		up := false
		switch r {
		case Ceil:
			up = true
		case Floor:
		case HalfUp:
			up = c > 0 || (c == 0 && p.Sign() > 0)
		case HalfEven:
			up = c > 0 || (c == 0 && q.Bit(0) == 1)
		}
		if up {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

func TestRoundTo(t *testing.T) {
	tests := []struct {
		in, step string
		r        Rounding
		want     string
	}{
		{"0.012505", "0.0001", Ceil, "0.0126"},
		{"0.0125", "0.0001", Ceil, "0.0125"},
		{"-0.012505", "0.0001", Ceil, "-0.0125"},
		{"0.012505", "0.0001", Floor, "0.0125"},
		{"1.025", "0.01", HalfUp, "1.03"},
		{"1.025", "0.01", HalfEven, "1.02"},
		{"1.035", "0.01", HalfEven, "1.04"},
		{"1.02", "0.05", HalfUp, "1"},
		{"1.03", "0.05", HalfUp, "1.05"},
		{"0.000000001", "1", Ceil, "1"},
	}
	for _, tt := range tests {
		got, err := MustParse(tt.in).RoundTo(MustParse(tt.step), tt.r)
		if err != nil || got != MustParse(tt.want) {
			t.Errorf("%s.RoundTo(%s, %v) = %s, %v; want %s", tt.in, tt.step, tt.r, got, err, tt.want)
		}
	}
	if _, err := Max.RoundTo(Unit, Ceil); !errors.Is(err, ErrOverflow) {
		t.Errorf("Max rounded up to a unit: %v, want ErrOverflow", err)
	}
	if _, err := Unit.RoundTo(0, Ceil); !errors.Is(err, ErrDivision) {
		t.Errorf("step 0: %v, want ErrDivision", err)
	}
}

func TestMulFactor(t *testing.T) {
	// 19 % VAT on 10.05 is 1.9095.
	got, err := MustParse("10.05").Mul(MustParse("0.19"), HalfUp)
	if err != nil || got != MustParse("1.9095") {
		t.Errorf("10.05 × 0.19 = %s, %v", got, err)
	}
	got, err = MustParse("3").MulInt(-4)
	if err != nil || got != MustParse("-12") {
		t.Errorf("3 × -4 = %s, %v", got, err)
	}
	if _, err := Max.MulInt(2); !errors.Is(err, ErrOverflow) {
		t.Errorf("Max × 2: %v", err)
	}
}

func TestText(t *testing.T) {
	var a Amount
	if err := a.UnmarshalText([]byte("12.340")); err != nil || a != MustParse("12.34") {
		t.Fatalf("UnmarshalText: %s, %v", a, err)
	}
	b, _ := a.MarshalText()
	if string(b) != "12.34" {
		t.Errorf("MarshalText = %q", b)
	}
	if err := a.UnmarshalText([]byte("x")); !errors.Is(err, ErrSyntax) {
		t.Errorf("UnmarshalText(x) = %v", err)
	}
}

func TestParseCurrency(t *testing.T) {
	tests := []struct {
		in   string
		want Currency
		err  error
	}{
		{"USD", "USD", nil}, {"eur", "EUR", nil}, {"Chf", "CHF", nil},
		{"US", "", ErrCurrency}, {"USDX", "", ErrCurrency}, {"U$D", "", ErrCurrency}, {"", "", ErrCurrency},
	}
	for _, tt := range tests {
		got, err := ParseCurrency(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ParseCurrency(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestMinAbs(t *testing.T) {
	if abs(math.MinInt64) != 1<<63 {
		t.Fatal("abs(MinInt64)")
	}
}
