// Package money is Switchboard's exact decimal arithmetic for prices,
// charges and balances: never a float, so that a balance debited by a
// million priced calls is the sum of their charges to the last digit, and
// a rate read from a deck and written back is the same text.
//
// An Amount is a fixed-point int64 counting nano-units (1e-9 of the
// currency unit). Nine decimals hold every rate seen in wholesale decks
// (they rarely go past six: 0.000125 per minute) with room for exact
// per-second slices of them, and the int64 range (±9,223,372,036 units)
// covers any account balance or invoice; what would leave that range is
// reported as ErrOverflow, never wrapped around. One int64 adds in one
// instruction and allocates nothing, which matters on the rating path
// (100,000 charges a second on one core); math/big would allocate on
// every call.
//
// The currency is kept beside the amounts, not in them: a tariff plan and
// an account each have one Currency, so the check that two amounts may be
// added happens once per plan or account, not on every addition.
package money

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
)

// Amount is an exact decimal amount in nano-units of its currency.
type Amount int64

// Scale is the number of decimals an Amount holds.
const Scale = 9

// Unit is one whole currency unit (1.000000000).
const Unit Amount = 1_000_000_000

// Max and Min are the largest and smallest Amounts.
const (
	Max Amount = math.MaxInt64
	Min Amount = math.MinInt64
)

// Errors callers test with errors.Is.
var (
	// ErrSyntax is a decimal string that is not [+-]digits[.digits].
	ErrSyntax = errors.New("money: invalid decimal")
	// ErrPrecision is a decimal with a non-zero digit past the ninth
	// decimal: it is refused rather than rounded, so that what was
	// accepted is exactly what is stored.
	ErrPrecision = errors.New("money: more than 9 decimals")
	// ErrOverflow is a result outside the range of an Amount.
	ErrOverflow = errors.New("money: overflow")
	// ErrDivision is a division by zero or a negative divisor.
	ErrDivision = errors.New("money: invalid divisor")
)

// Add returns a+b, or ErrOverflow.
func (a Amount) Add(b Amount) (Amount, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, fmt.Errorf("%w: %s + %s", ErrOverflow, a, b)
	}
	return s, nil
}

// Sub returns a-b, or ErrOverflow.
func (a Amount) Sub(b Amount) (Amount, error) {
	s := a - b
	if (b > 0 && s > a) || (b < 0 && s < a) {
		return 0, fmt.Errorf("%w: %s - %s", ErrOverflow, a, b)
	}
	return s, nil
}

// MulInt returns a×n (a monthly fee times months, a unit price times a
// quantity), or ErrOverflow.
func (a Amount) MulInt(n int64) (Amount, error) {
	return a.MulDiv(n, 1, Floor)
}

// Mul returns a×f where f is itself a decimal factor (a VAT rate of 0.19,
// an exchange rate), rounded to nano-units by r.
func (a Amount) Mul(f Amount, r Rounding) (Amount, error) {
	return a.MulDiv(int64(f), int64(Unit), r)
}

// MulDiv returns a×num/den rounded to nano-units by r, computed with a
// 128-bit intermediate so that a price per minute times a duration in
// seconds divided by 60 is exact before its one rounding. den must be
// positive.
func (a Amount) MulDiv(num, den int64, r Rounding) (Amount, error) {
	if den <= 0 {
		return 0, fmt.Errorf("%w: %d", ErrDivision, den)
	}
	neg := (a < 0) != (num < 0)
	hi, lo := bits.Mul64(abs(int64(a)), abs(num))
	d := uint64(den)
	if hi >= d {
		return 0, fmt.Errorf("%w: %s × %d / %d", ErrOverflow, a, num, den)
	}
	q, rem := bits.Div64(hi, lo, d)
	if rem != 0 && roundsAway(r, neg, rem, d, q) {
		q++
		if q == 0 {
			return 0, fmt.Errorf("%w: %s × %d / %d", ErrOverflow, a, num, den)
		}
	}
	return signed(q, neg, func() error {
		return fmt.Errorf("%w: %s × %d / %d", ErrOverflow, a, num, den)
	})
}

// RoundTo returns a rounded by r to a multiple of step (0.0001 for a
// charge in hundredths of a cent, 0.05 for a cash rounding). step must be
// positive.
func (a Amount) RoundTo(step Amount, r Rounding) (Amount, error) {
	if step <= 0 {
		return 0, fmt.Errorf("%w: step %s", ErrDivision, step)
	}
	n, err := a.MulDiv(1, int64(step), r)
	if err != nil {
		return 0, err
	}
	return n.MulDiv(int64(step), 1, Floor)
}

// abs is |v| as a uint64, exact also for math.MinInt64.
func abs(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// signed turns a magnitude and a sign back into an Amount, or the error
// from overflow when it does not fit.
func signed(q uint64, neg bool, overflow func() error) (Amount, error) {
	if neg {
		if q > 1<<63 {
			return 0, overflow()
		}
		return Amount(-int64(q-1) - 1), nil
	}
	if q > math.MaxInt64 {
		return 0, overflow()
	}
	return Amount(q), nil
}

// Parse reads a decimal string: an optional sign, digits, and an optional
// point with up to nine decimals ("0.0123", "-5", "100.50", ".5"). No
// exponent, no grouping, no spaces: a rate deck's cell is either exactly a
// number or refused. Trailing zeros past the ninth decimal are accepted.
func Parse(s string) (Amount, error) {
	in := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var whole, frac uint64
	digits, fracDigits := 0, 0
	point := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !point:
			point = true
		case c >= '0' && c <= '9':
			digits++
			d := uint64(c - '0')
			if !point {
				if whole > (math.MaxUint64-d)/10 {
					return 0, fmt.Errorf("%w: %q", ErrOverflow, in)
				}
				whole = whole*10 + d
				continue
			}
			if fracDigits == Scale {
				if d != 0 {
					return 0, fmt.Errorf("%w: %q", ErrPrecision, in)
				}
				continue
			}
			frac = frac*10 + d
			fracDigits++
		default:
			return 0, fmt.Errorf("%w: %q", ErrSyntax, in)
		}
	}
	if digits == 0 {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, in)
	}
	for ; fracDigits < Scale; fracDigits++ {
		frac *= 10
	}
	hi, lo := bits.Mul64(whole, uint64(Unit))
	lo, carry := bits.Add64(lo, frac, 0)
	if hi != 0 || carry != 0 {
		return 0, fmt.Errorf("%w: %q", ErrOverflow, in)
	}
	return signed(lo, neg, func() error { return fmt.Errorf("%w: %q", ErrOverflow, in) })
}

// MustParse is Parse for constants in code and tests; it panics on error.
func MustParse(s string) Amount {
	a, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return a
}

// String is the shortest exact decimal: "0.0123", "-5", "100.5".
// Parse(a.String()) == a for every Amount.
func (a Amount) String() string {
	return a.StringFixed(0)
}

// StringFixed is the exact decimal with at least minDecimals decimals
// ("100.50" for minDecimals 2): for display and invoices. It never drops
// a digit: an amount with more decimals shows them all.
func (a Amount) StringFixed(minDecimals int) string {
	minDecimals = min(max(minDecimals, 0), Scale)
	m := abs(int64(a))
	whole, frac := m/uint64(Unit), m%uint64(Unit)
	buf := make([]byte, 0, 32)
	if a < 0 {
		buf = append(buf, '-')
	}
	buf = strconv.AppendUint(buf, whole, 10)
	n := Scale
	for n > minDecimals && frac%10 == 0 {
		frac /= 10
		n--
	}
	if n == 0 {
		return string(buf)
	}
	buf = append(buf, '.')
	start := len(buf)
	buf = append(buf, "000000000"[:n]...)
	for i := len(buf) - 1; i >= start; i-- {
		buf[i] = byte('0' + frac%10)
		frac /= 10
	}
	return string(buf)
}

// MarshalText writes the shortest exact decimal, so JSON and XML carry
// "0.0123" and never a float.
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads what Parse reads.
func (a *Amount) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
