package provisioning

import (
	"context"
)

func (s *Service) checkGatewayOwner(ctx context.Context, sc Scope, g *Gateway) error {
	if g.TenantID == nil {
		if !sc.All() {
			return Forbidden("tenant_id", "only an admin may manage shared gateways")
		}
		return nil
	}
	if _, err := s.tenantInScope(ctx, sc, *g.TenantID); err != nil {
		return fieldNotFound("tenant_id", err)
	}
	return nil
}

// CreateGateway creates a gateway; a nil TenantID makes it shared (admins
// only).
func (s *Service) CreateGateway(ctx context.Context, sc Scope, g *Gateway) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if err := g.Validate(); err != nil {
		return err
	}
	if err := s.checkGatewayOwner(ctx, sc, g); err != nil {
		return err
	}
	if err := s.store.CreateGateway(ctx, g); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpUpsert, Gateway: g})
	return nil
}

// Gateway returns gateway id if the scope sees it (shared gateways are
// visible to everyone).
func (s *Service) Gateway(ctx context.Context, sc Scope, id int64) (*Gateway, error) {
	g, err := s.store.Gateway(ctx, id)
	return inScope(ctx, s, sc, "gateway", g, err, id)
}

// GatewayByName returns the gateway called name if the scope sees it.
func (s *Service) GatewayByName(ctx context.Context, sc Scope, name string) (*Gateway, error) {
	g, err := s.store.GatewayByName(ctx, name)
	return inScope(ctx, s, sc, "gateway", g, err, name)
}

// UpdateGateway loads gateway id, lets fn change it and saves it.
func (s *Service) UpdateGateway(ctx context.Context, sc Scope, id int64, fn func(*Gateway) error) (*Gateway, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	g, err := s.Gateway(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if g.TenantID == nil && !sc.All() {
		return nil, Forbidden("", "only an admin may change a shared gateway")
	}
	if err := fn(g); err != nil {
		return nil, err
	}
	g.ID = id
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkGatewayOwner(ctx, sc, g); err != nil {
		return nil, err
	}
	if err := s.store.UpdateGateway(ctx, g); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateRouting}) // routes name it
	s.notify(ctx, Change{Op: OpUpsert, Gateway: g})
	return g, nil
}

// DeleteGateway deletes gateway id.
func (s *Service) DeleteGateway(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	g, err := s.Gateway(ctx, sc, id)
	if err != nil {
		return err
	}
	if g.TenantID == nil && !sc.All() {
		return Forbidden("", "only an admin may delete a shared gateway")
	}
	if err := s.store.DeleteGateway(ctx, id); err != nil {
		return err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateRouting})
	s.notify(ctx, Change{Op: OpDelete, Gateway: g})
	return nil
}

// Gateways lists the gateways in scope, shared ones included.
func (s *Service) Gateways(ctx context.Context, sc Scope, f GatewayFilter) ([]Gateway, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	f.IncludeShared = true
	return s.store.Gateways(ctx, f)
}
