package provisioning

import (
	"context"
	"strings"
)

// prepareDID checks the DID's tenant and the account it routes to, which
// must belong to the DID's tenant or one of its descendants.
func (s *Service) prepareDID(ctx context.Context, sc Scope, d *DID) error {
	if err := d.Validate(); err != nil {
		return err
	}
	t, err := s.tenantInScope(ctx, sc, d.TenantID)
	if err != nil {
		return fieldNotFound("tenant_id", err)
	}
	if d.AccountID != nil {
		a, err := s.Account(ctx, sc, *d.AccountID)
		if err != nil {
			return fieldNotFound("account_id", err)
		}
		at, err := s.store.Tenant(ctx, a.TenantID)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(at.Path, t.Path) {
			return Invalid("account_id", "must belong to the DID's tenant or one of its sub-tenants")
		}
	}
	return nil
}

// CreateDID creates a DID, optionally routed to an account.
func (s *Service) CreateDID(ctx context.Context, sc Scope, d *DID) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if err := s.prepareDID(ctx, sc, d); err != nil {
		return err
	}
	if err := s.store.CreateDID(ctx, d); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpUpsert, DID: d})
	return nil
}

// DID returns DID id if the scope sees it.
func (s *Service) DID(ctx context.Context, sc Scope, id int64) (*DID, error) {
	d, err := s.store.DID(ctx, id)
	return inScope(ctx, s, sc, "did", d, err, id)
}

// DIDByNumber returns the DID with the E.164 number if the scope sees it.
func (s *Service) DIDByNumber(ctx context.Context, sc Scope, number string) (*DID, error) {
	d, err := s.store.DIDByNumber(ctx, number)
	return inScope(ctx, s, sc, "did", d, err, number)
}

// UpdateDID loads DID id, lets fn change it and saves it.
func (s *Service) UpdateDID(ctx context.Context, sc Scope, id int64, fn func(*DID) error) (*DID, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	d, err := s.DID(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if err := fn(d); err != nil {
		return nil, err
	}
	d.ID = id
	if err := s.prepareDID(ctx, sc, d); err != nil {
		return nil, err
	}
	if err := s.store.UpdateDID(ctx, d); err != nil {
		return nil, err
	}
	s.notify(ctx, Change{Op: OpUpsert, DID: d})
	return d, nil
}

// DeleteDID deletes DID id.
func (s *Service) DeleteDID(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	d, err := s.DID(ctx, sc, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteDID(ctx, id); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpDelete, DID: d})
	return nil
}

// DIDs lists the DIDs in scope.
func (s *Service) DIDs(ctx context.Context, sc Scope, f DIDFilter) ([]DID, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return s.store.DIDs(ctx, f)
}
