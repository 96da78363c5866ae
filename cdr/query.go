package cdr

import "time"

// Filter selects CDRs. Zero-valued fields do not filter. Results are newest
// first (by End, then ID) and paged by keyset: pass the Cursor returned with
// one page as Before to get the next.
type Filter struct {
	From, To time.Time // End >= From, End < To
	// Tenants is the caller's scope: the owners (Record.TenantID) whose
	// CDRs may be selected. nil selects every CDR, those of no known
	// owner included (an admin); an empty, non-nil slice selects nothing
	// (a tenant without sub-tenants is still a slice of one). The scope is
	// never a domain name: a name changes hands, an owner does not.
	Tenants      []int64
	Domain       string // one domain, a plain filter inside the scope
	Switch       string
	Account      string
	Caller       string // exact caller number
	CalleePrefix string // prefix of the dialled number
	Disposition  Disposition
	Gateway      string
	Direction    Direction
	MinBillsec   int
	ID           int64 // one CDR by its id (0: any)
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
