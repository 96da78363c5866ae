package rating

import "errors"

// Errors callers test with errors.Is; each is wrapped with the details
// (destination, field, line) that explain it.
var (
	// ErrNoRate means no rate in force matches the destination: the call
	// is not allowed, and a CDR for it cannot be priced.
	ErrNoRate = errors.New("rating: no rate for destination")
	// ErrInvalidDestination is a destination that is not digits (an
	// optional leading '+' is ignored).
	ErrInvalidDestination = errors.New("rating: invalid destination")
	// ErrInvalidRate is a rate field no tariff can mean.
	ErrInvalidRate = errors.New("rating: invalid rate")
	// ErrInvalidPlan is a plan-wide setting no tariff can mean.
	ErrInvalidPlan = errors.New("rating: invalid plan")
	// ErrDuplicateRate is two rates a lookup could not tell apart: the same
	// prefix, effective_from, days and time window.
	ErrDuplicateRate = errors.New("rating: duplicate rate")
	// ErrInsufficientFunds means the money available does not pay for
	// the first billed increment (or the connection fee).
	ErrInsufficientFunds = errors.New("rating: insufficient funds")
	// ErrInvalidDuration is a negative duration.
	ErrInvalidDuration = errors.New("rating: invalid duration")
	// ErrDeck is a rate deck that cannot be read: a bad header or a row
	// that is not CSV. A bad value in a row is a DeckError wrapping
	// ErrInvalidRate.
	ErrDeck = errors.New("rating: invalid rate deck")
)
