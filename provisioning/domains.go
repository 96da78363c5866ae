package provisioning

import (
	"context"
	"errors"
	"strings"
)

// CreateDomain creates a SIP domain owned by d.TenantID.
func (s *Service) CreateDomain(ctx context.Context, sc Scope, d *Domain) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	d.Name = strings.ToLower(d.Name)
	if err := d.Validate(); err != nil {
		return err
	}
	if _, err := s.tenantInScope(ctx, sc, d.TenantID); err != nil {
		return fieldNotFound("tenant_id", err)
	}
	if err := s.store.CreateDomain(ctx, d); err != nil {
		return err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateDomain})
	return nil
}

// Domain returns domain id if the scope sees it.
func (s *Service) Domain(ctx context.Context, sc Scope, id int64) (*Domain, error) {
	d, err := s.store.Domain(ctx, id)
	return inScope(ctx, s, sc, "domain", d, err, id)
}

// DomainByName returns the domain called name if the scope sees it. The
// answer comes from the domain cache (domaincache.go).
func (s *Service) DomainByName(ctx context.Context, sc Scope, name string) (*Domain, error) {
	name = strings.ToLower(name)
	e, err := s.domainByName(ctx, name)
	if errors.Is(err, ErrNotFound) || (err == nil && (e.domain == nil || !sc.Sees(e.path))) {
		return nil, NotFound("domain", name)
	}
	if err != nil {
		return nil, err
	}
	d := *e.domain
	return &d, nil
}

// UpdateDomain loads domain id, lets fn change it and saves it. A domain
// that has accounts cannot be renamed, because every registration and the
// switch configuration of those accounts is keyed by the name.
func (s *Service) UpdateDomain(ctx context.Context, sc Scope, id int64, fn func(*Domain) error) (*Domain, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	d, err := s.Domain(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	oldName, oldTenant := d.Name, d.TenantID
	if err := fn(d); err != nil {
		return nil, err
	}
	d.ID = id
	d.Name = strings.ToLower(d.Name)
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.TenantID != oldTenant {
		if _, err := s.tenantInScope(ctx, sc, d.TenantID); err != nil {
			return nil, fieldNotFound("tenant_id", err)
		}
	}
	if d.Name != oldName {
		accts, err := s.store.Accounts(ctx, AccountFilter{DomainID: id, Page: Page{Limit: 1}})
		if err != nil {
			return nil, err
		}
		if len(accts) > 0 {
			return nil, Conflict("name", "domain %s has SIP accounts and cannot be renamed", oldName)
		}
	}
	if err := s.store.UpdateDomain(ctx, d); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateDomain})
	return d, nil
}

// DeleteDomain deletes domain id; refused while it has SIP accounts.
func (s *Service) DeleteDomain(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if _, err := s.Domain(ctx, sc, id); err != nil {
		return err
	}
	if err := s.store.DeleteDomain(ctx, id); err != nil {
		return err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateDomain})
	return nil
}

// Domains lists the domains in scope.
func (s *Service) Domains(ctx context.Context, sc Scope, f DomainFilter) ([]Domain, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	f.Name = strings.ToLower(f.Name)
	return s.store.Domains(ctx, f)
}
