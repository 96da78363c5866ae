package provisioning

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
)

// DIDRoute is one routed DID with the account it rings: what a switch
// needs to route the number without asking Switchboard (a dialplan file it
// reads at start and on reload, kept by the daemon as a fallback for when
// Switchboard is down).
type DIDRoute struct {
	Number  string // E.164 with its leading +, as stored
	Account Account
}

// DIDRoutes returns every DID that routes to an account, sorted by number,
// with the account it routes to. With domain set only routes to accounts
// of that domain are returned (a switch that serves one SIP domain has
// only those accounts); an unknown domain has none. DIDs that route
// nowhere are left out. It reads the whole store in pages of MaxLimit: two
// scans, whatever the number of DIDs.
func (s *Service) DIDRoutes(ctx context.Context, domain string) ([]DIDRoute, error) {
	admin := AdminScope()
	af := AccountFilter{Page: Page{Limit: MaxLimit}}
	if domain != "" {
		d, err := s.DomainByName(ctx, admin, domain)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		af.DomainID = d.ID
	}
	accounts := map[int64]Account{}
	for {
		page, err := s.Accounts(ctx, admin, af)
		if err != nil {
			return nil, err
		}
		for _, a := range page {
			accounts[a.ID] = a
		}
		if len(page) < af.Limit {
			break
		}
		af.After = page[len(page)-1].ID
	}
	var routes []DIDRoute
	df := DIDFilter{Page: Page{Limit: MaxLimit}}
	for {
		page, err := s.DIDs(ctx, admin, df)
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			if d.AccountID == nil {
				continue
			}
			if a, ok := accounts[*d.AccountID]; ok {
				routes = append(routes, DIDRoute{Number: d.Number, Account: a})
			}
		}
		if len(page) < df.Limit {
			break
		}
		df.After = page[len(page)-1].ID
	}
	slices.SortFunc(routes, func(a, b DIDRoute) int { return strings.Compare(a.Number, b.Number) })
	return routes, nil
}

// DIDRouteWatch tells a sink that keeps a copy of the DID routes (a
// switch's dialplan file) which changes can move a route, so that it
// re-reads them only for those: a DID change, or a change to an account
// some DID routes to (its username or domain is in the route). A bulk
// import of accounts, none of which a DID names yet, moves nothing. Call
// Begin before each read of the routes and Set with what it returned;
// from Begin until Set (and before the first Set, or after a failed read)
// every account change counts, so that a change committed while the
// routes were being read is not missed. Safe for concurrent use.
type DIDRouteWatch struct {
	mu       sync.Mutex
	reading  bool
	accounts map[int64]bool // nil until the first Set
}

// Begin marks a read of the routes in progress.
func (w *DIDRouteWatch) Begin() {
	w.mu.Lock()
	w.reading = true
	w.mu.Unlock()
}

// Set records the accounts routes name and ends the read.
func (w *DIDRouteWatch) Set(routes []DIDRoute) {
	m := make(map[int64]bool, len(routes))
	for _, r := range routes {
		m[r.Account.ID] = true
	}
	w.mu.Lock()
	w.accounts = m
	w.reading = false
	w.mu.Unlock()
}

// Moves reports whether c can change the routes.
func (w *DIDRouteWatch) Moves(c Change) bool {
	switch {
	case c.DID != nil:
		return true
	case c.Account == nil:
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reading || w.accounts == nil || w.accounts[c.Account.ID]
}
