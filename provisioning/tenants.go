package provisioning

import (
	"context"
)

// CreateTenant creates t under t.ParentID. Only an admin may create a root
// tenant; a tenant-admin creates tenants below its own.
func (s *Service) CreateTenant(ctx context.Context, sc Scope, t *Tenant) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	if t.ParentID == nil {
		if !sc.All() {
			return Forbidden("parent_id", "only an admin may create a root tenant")
		}
	} else if _, err := s.tenantInScope(ctx, sc, *t.ParentID); err != nil {
		return fieldNotFound("parent_id", err)
	}
	return s.store.CreateTenant(ctx, t)
}

// Tenant returns tenant id if the scope sees it.
func (s *Service) Tenant(ctx context.Context, sc Scope, id int64) (*Tenant, error) {
	return s.tenantInScope(ctx, sc, id)
}

// UpdateTenant loads tenant id, lets fn change it and saves it. A
// tenant-admin may rename its own tenant but not move it.
func (s *Service) UpdateTenant(ctx context.Context, sc Scope, id int64, fn func(*Tenant) error) (*Tenant, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	t, err := s.tenantInScope(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	// Copy the parent ID: fn may write through the pointer (encoding/json
	// does when decoding into t), which would hide a move from the checks.
	var oldParent *int64
	if t.ParentID != nil {
		v := *t.ParentID
		oldParent = &v
	}
	if err := fn(t); err != nil {
		return nil, err
	}
	t.ID = id
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if !sameID(oldParent, t.ParentID) {
		if !sc.All() && id == sc.TenantID {
			return nil, Forbidden("parent_id", "a tenant-admin cannot move its own tenant")
		}
		if t.ParentID == nil {
			if !sc.All() {
				return nil, Forbidden("parent_id", "only an admin may make a root tenant")
			}
		} else {
			if *t.ParentID == id {
				return nil, Invalid("parent_id", "cannot be the tenant itself")
			}
			if _, err := s.tenantInScope(ctx, sc, *t.ParentID); err != nil {
				return nil, fieldNotFound("parent_id", err)
			}
		}
	}
	if err := s.store.UpdateTenant(ctx, t); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateTenant})
	return t, nil
}

// DeleteTenant deletes tenant id. It is refused with a ConflictError while
// the tenant has sub-tenants, domains, users, gateways, DIDs or active tokens:
// deleting customers is rare and must never take switch configuration with
// it silently.
func (s *Service) DeleteTenant(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if _, err := s.tenantInScope(ctx, sc, id); err != nil {
		return err
	}
	if !sc.All() && id == sc.TenantID {
		return Forbidden("", "a tenant-admin cannot delete its own tenant")
	}
	if err := s.store.DeleteTenant(ctx, id); err != nil {
		return err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateTenant})
	return nil
}

// Tenants lists the tenants in scope.
func (s *Service) Tenants(ctx context.Context, sc Scope, f TenantFilter) ([]Tenant, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return s.store.Tenants(ctx, f)
}
