package provisioning

import (
	"context"
	"errors"
	"slices"
)

// domainEntry is a cached domain lookup by name: the domain and its
// tenant's path (so that a scope check needs no second lookup), or a nil
// domain when no domain has the name, so that lookups of unprovisioned
// names (a CDR of a foreign domain, a typo repeated by a client) do not
// reach the store either.
type domainEntry struct {
	domain *Domain
	path   string
}

// domainByName returns the cached lookup of the lower-case name. Domain
// and tenant invalidations drop it.
func (s *Service) domainByName(ctx context.Context, name string) (domainEntry, error) {
	return load(ctx, s, &s.domains, "domain", name, s.fetchDomain)
}

func (s *Service) fetchDomain(ctx context.Context, name string) (domainEntry, error) {
	d, err := s.store.DomainByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		s.matchOwnerLookup(ctx) // an absent name costs what a foreign one does
		return domainEntry{}, nil
	}
	if err != nil {
		return domainEntry{}, err
	}
	t, err := s.store.Tenant(ctx, d.TenantID)
	if err != nil {
		return domainEntry{}, err // not found: the domain went with a deleted tenant meanwhile
	}
	return domainEntry{domain: d, path: t.Path}, nil
}

// ScopeDomainNames returns the names of the domains sc may see, or nil for
// an admin (every domain). Presence and CDR queries are filtered by domain
// name, so this is how a tenant's scope reaches them; it is read on every
// such request and therefore cached by the scope's subtree, dropped by
// every domain and tenant invalidation.
func (s *Service) ScopeDomainNames(ctx context.Context, sc Scope) ([]string, error) {
	if sc.All() {
		return nil, nil
	}
	names, err := load(ctx, s, &s.scopeDomains, "scope domains", sc.subtree(), s.fetchScopeDomains)
	if err != nil {
		return nil, err
	}
	return slices.Clone(names), nil
}

func (s *Service) fetchScopeDomains(ctx context.Context, subtree string) ([]string, error) {
	names := []string{}
	f := DomainFilter{Subtree: subtree, Page: Page{Limit: MaxLimit}}
	for {
		ds, err := s.store.Domains(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			names = append(names, d.Name)
		}
		if len(ds) < MaxLimit {
			return names, nil
		}
		f.After = ds[len(ds)-1].ID
	}
}
