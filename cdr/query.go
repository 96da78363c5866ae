package cdr

import "time"

// Filter selects CDRs. Zero-valued fields do not filter. Results are newest
// first (by End, then ID) and paged by keyset: pass the Cursor returned with
// one page as Before to get the next.
type Filter struct {
	From, To     time.Time // End >= From, End < To
	Domains      []string  // any of these domains; nil = every domain. A tenant's scope is its domains.
	Switch       string
	Account      string
	Caller       string // exact caller number
	CalleePrefix string // prefix of the dialled number
	Disposition  Disposition
	Gateway      string
	Direction    Direction
	MinBillsec   int
	Before       *Cursor
	Limit        int // default 100, at most 1000
}

// Cursor is a position in the newest-first order.
type Cursor struct {
	End time.Time
	ID  int64
}

// The page sizes a store uses when a Filter asks for none or for too many.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// PageSize is f.Limit clamped into [1, MaxLimit], DefaultLimit for none.
func (f *Filter) PageSize() int {
	if f.Limit <= 0 {
		return DefaultLimit
	}
	return min(f.Limit, MaxLimit)
}
