package money

import (
	"errors"
	"fmt"
)

// ErrCurrency is a currency code that is not three letters A–Z.
var ErrCurrency = errors.New("money: invalid currency code")

// Currency is an ISO 4217 alphabetic code ("USD", "EUR"). It travels
// beside Amounts (on a plan, an account, a charge) rather than inside
// each one; see the package comment.
type Currency string

// ParseCurrency accepts three ASCII letters in either case and returns
// them upper-cased, so "usd" from a form and "USD" from a deck are one
// currency.
func ParseCurrency(s string) (Currency, error) {
	if len(s) != 3 {
		return "", fmt.Errorf("%w: %q", ErrCurrency, s)
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		default:
			return "", fmt.Errorf("%w: %q", ErrCurrency, s)
		}
	}
	return Currency(b), nil
}
