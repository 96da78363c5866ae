package provisioning

import (
	"context"
	"errors"
)

// prepareDID checks the DID's tenant and where it routes: an account of
// the DID's tenant or one of its sub-tenants (account_id, or a
// destination of type account), or any other destination of the tenant's
// numbering plan. AccountID and Destination are set together.
func (s *Service) prepareDID(ctx context.Context, sc Scope, d *DID) error {
	if err := d.Validate(); err != nil {
		return err
	}
	field := "destination"
	switch {
	case d.Destination != nil && d.AccountID != nil && (d.Destination.Kind != DestAccount || d.Destination.ID != *d.AccountID):
		return Invalid("account_id", "give account_id or destination, not both")
	case d.Destination == nil && d.AccountID != nil:
		d.Destination, field = &Destination{Kind: DestAccount, ID: *d.AccountID}, "account_id"
	}
	if d.Destination != nil {
		if err := d.Destination.validate("destination"); err != nil {
			return err
		}
		d.AccountID = nil
		if d.Destination.Kind == DestAccount {
			id := d.Destination.ID
			d.AccountID = &id
		}
	}
	t, err := s.tenantInScope(ctx, sc, d.TenantID)
	if err != nil {
		return fieldNotFound("tenant_id", err)
	}
	if d.Destination != nil && d.Destination.ID != 0 {
		if field == "destination" {
			field = "destination.id"
		}
		if err := s.checkRoutingRef(ctx, sc, t, RoutingRef{Field: field, Kind: d.Destination.Kind, ID: d.Destination.ID, Target: true}); err != nil {
			if errors.Is(err, ErrInvalid) && field == "account_id" {
				return Invalid("account_id", "must belong to the DID's tenant or one of its sub-tenants")
			}
			return err
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
	s.changed(ctx, Invalidation{Kind: InvalidateRouting, ID: d.TenantID})
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
	beforeDest, beforeAccount, beforeTenant := d.Destination, d.AccountID, d.TenantID
	if d.Destination != nil {
		dest := *d.Destination
		beforeDest = &dest
	}
	if err := fn(d); err != nil {
		return nil, err
	}
	// A dialect changes one of the two: the one that changed wins.
	switch {
	case !equalDest(d.Destination, beforeDest):
		d.AccountID = nil
		if d.Destination != nil && d.Destination.Kind == DestAccount {
			id := d.Destination.ID
			d.AccountID = &id
		}
	case !equalID(d.AccountID, beforeAccount):
		d.Destination = nil
	}
	d.ID = id
	if err := s.prepareDID(ctx, sc, d); err != nil {
		return nil, err
	}
	if err := s.store.UpdateDID(ctx, d); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateRouting, ID: d.TenantID})
	if beforeTenant != d.TenantID {
		s.changed(ctx, Invalidation{Kind: InvalidateRouting, ID: beforeTenant})
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
	s.changed(ctx, Invalidation{Kind: InvalidateRouting, ID: d.TenantID})
	s.notify(ctx, Change{Op: OpDelete, DID: d})
	return nil
}

// DIDs lists the DIDs in scope.
func (s *Service) DIDs(ctx context.Context, sc Scope, f DIDFilter) ([]DID, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return s.store.DIDs(ctx, f)
}

func equalDest(a, b *Destination) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
