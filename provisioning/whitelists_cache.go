package provisioning

import (
	"context"
	"fmt"
)

// The whitelist check the authorizer makes on every outbound call
// (Whitelisted) answers from memory: each tenant's chain (its own and its
// ancestors' whitelists) and each user's whitelists are compiled into
// prefix sets on first use and kept until a whitelist changes
// (InvalidateWhitelist), a tenant moves or is deleted, or CacheTTL passes
// without the invalidation stream (invalidation.go).

// PrefixSet is the union of the prefixes of one owner's whitelists,
// compiled for matching: a map of the prefixes and a bit per prefix
// length present, so a lookup tries only the lengths some prefix has,
// longest first, with no allocation.
type PrefixSet struct {
	m    map[string]struct{}
	lens uint64 // bit l: some prefix has l digits (l ≤ MaxWhitelistPrefix < 64)
}

// NewPrefixSet compiles the entries of ws (validated prefixes).
func NewPrefixSet(ws []Whitelist) *PrefixSet {
	p := &PrefixSet{m: map[string]struct{}{}}
	for i := range ws {
		for _, e := range ws[i].Entries {
			p.m[e.Prefix] = struct{}{}
			p.lens |= 1 << uint(len(e.Prefix))
		}
	}
	return p
}

// Longest returns the longest prefix of the set that dest (digits, with
// or without a leading "+") starts with.
func (p *PrefixSet) Longest(dest string) (string, bool) {
	if len(dest) > 0 && dest[0] == '+' {
		dest = dest[1:]
	}
	for l := min(len(dest), MaxWhitelistPrefix); l > 0; l-- {
		if p.lens&(1<<uint(l)) == 0 {
			continue
		}
		if _, ok := p.m[dest[:l]]; ok {
			return dest[:l], true
		}
	}
	return "", false
}

// Len is how many distinct prefixes the set has.
func (p *PrefixSet) Len() int { return len(p.m) }

// tenantLevel is one tenant of a chain that has whitelists of its own.
type tenantLevel struct {
	tenantID int64
	set      *PrefixSet
}

// whitelistCaches are the Service's compiled whitelists.
type whitelistCaches struct {
	// tenants: by tenant, the levels of its path (root first) that have
	// whitelists; empty when none does.
	tenants versioned[int64, []tenantLevel]
	// users: by user, its whitelists' set; nil when it has none.
	users versioned[int64, *PrefixSet]
}

// invalidateWhitelists drops compiled whitelists when they, or the tenant
// tree their chains follow, may have changed.
func (s *Service) invalidateWhitelists(inv Invalidation) {
	switch inv.Kind {
	case InvalidateToken, InvalidateDomain, InvalidateRouting, InvalidateTariff:
	default: // whitelist, tenant (moved, deleted), all
		s.whitelists.tenants.clear()
		s.whitelists.users.clear()
	}
}

// CallWhitelist is what the destination of a call of one tenant (and
// user) must match: every level of the tenant's path that has whitelists
// of its own, and the user's whitelists when it has any. The zero value
// allows everything.
type CallWhitelist struct {
	levels []tenantLevel
	userID int64
	user   *PrefixSet
}

// Restricted reports whether any whitelist applies.
func (c CallWhitelist) Restricted() bool { return len(c.levels) > 0 || c.user != nil }

// Allows reports whether dest matches every whitelist that applies, and
// when it does not, which owner's whitelists refused it ("tenant 3",
// "user 7"). It does not allocate when dest is allowed.
func (c CallWhitelist) Allows(dest string) (ok bool, refusedBy string) {
	if c.user != nil {
		if _, ok := c.user.Longest(dest); !ok {
			return false, fmt.Sprintf("user %d", c.userID)
		}
	}
	// The nearest tenant first: the one most likely to be narrow.
	for i := len(c.levels) - 1; i >= 0; i-- {
		if _, ok := c.levels[i].set.Longest(dest); !ok {
			return false, fmt.Sprintf("tenant %d", c.levels[i].tenantID)
		}
	}
	return true, ""
}

// CallWhitelists returns the whitelists a call of tenant tenantID (and,
// when userID is not 0, of that user) must match. The rules:
//
//   - a user with whitelists may call only what they list;
//   - a tenant with whitelists of its own restricts every call of the
//     tenant, its users' and its sub-tenants': a tenant-admin cannot set
//     its own tenant's (ownWhitelist), and it must not escape them by
//     creating a sub-tenant, so every ancestor's apply too;
//   - all of these apply together (a destination must be in one
//     whitelist of each owner that has any); an owner without any
//     whitelist restricts nothing; an owner whose whitelists list no
//     prefix allows nothing.
//
// ErrNotFound means the tenant does not exist.
func (s *Service) CallWhitelists(ctx context.Context, tenantID, userID int64) (CallWhitelist, error) {
	ws, err := s.whitelistStore()
	if err != nil {
		return CallWhitelist{}, err
	}
	c := &s.whitelists
	levels, err := load(ctx, s, &c.tenants, "tenant whitelists", tenantID, func(ctx context.Context, id int64) ([]tenantLevel, error) {
		t, err := s.store.Tenant(ctx, id)
		if err != nil {
			return nil, err
		}
		ids := pathIDs(t.Path)
		byTenant := map[int64][]Whitelist{}
		if err := eachWhitelist(ctx, ws, WhitelistFilter{TenantIDs: ids, TenantOnly: true}, func(w *Whitelist) {
			byTenant[w.TenantID] = append(byTenant[w.TenantID], *w)
		}); err != nil {
			return nil, err
		}
		var out []tenantLevel
		for _, id := range ids {
			if lists, ok := byTenant[id]; ok {
				out = append(out, tenantLevel{tenantID: id, set: NewPrefixSet(lists)})
			}
		}
		return out, nil
	})
	if err != nil {
		return CallWhitelist{}, err
	}
	out := CallWhitelist{levels: levels}
	if userID == 0 {
		return out, nil
	}
	out.userID = userID
	out.user, err = load(ctx, s, &c.users, "user whitelists", userID, func(ctx context.Context, id int64) (*PrefixSet, error) {
		var lists []Whitelist
		if err := eachWhitelist(ctx, ws, WhitelistFilter{UserID: id}, func(w *Whitelist) { lists = append(lists, *w) }); err != nil {
			return nil, err
		}
		if len(lists) == 0 {
			return nil, nil
		}
		return NewPrefixSet(lists), nil
	})
	return out, err
}

// eachWhitelist calls fn for every whitelist matching f, page by page.
func eachWhitelist(ctx context.Context, ws WhitelistStore, f WhitelistFilter, fn func(*Whitelist)) error {
	f.Page = Page{Limit: MaxLimit}
	for {
		page, err := ws.Whitelists(ctx, f)
		if err != nil {
			return err
		}
		for i := range page {
			fn(&page[i])
		}
		if len(page) < MaxLimit {
			return nil
		}
		f.After = page[len(page)-1].ID
	}
}

// Whitelisted reports whether the whitelists of tenant tenantID (and of
// user userID, when not 0) allow a call to dest, and when not, a detail
// naming the owner whose whitelists refused it. It is the authorizer's
// WhitelistSource (provisioning/authz).
func (s *Service) Whitelisted(ctx context.Context, tenantID, userID int64, dest string) (bool, string, error) {
	c, err := s.CallWhitelists(ctx, tenantID, userID)
	if err != nil {
		return false, "", err
	}
	ok, by := c.Allows(dest)
	if !ok {
		return false, fmt.Sprintf("%q is in none of %s's whitelists", dest, by), nil
	}
	return true, "", nil
}
