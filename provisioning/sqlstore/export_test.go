package sqlstore

import "time"

// SetClock replaces the store's clock, so tests can write timestamps that
// exercise rounding and time zones.
func SetClock(s *Store, now func() time.Time) { s.now = now }

// Successor exposes successor to the external tests.
var Successor = successor

// The account statements, for the query-plan tests.
var (
	AccountsQuery     = accountsQuery
	AccountByID       = accountByID
	AccountByUsername = accountByUsername
)
