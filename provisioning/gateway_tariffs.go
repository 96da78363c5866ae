package provisioning

import (
	"context"
	"errors"
	"strings"

	"github.com/switchboard-voip/switchboard/internal/rating"
)

// Supplier plans: a gateway's own tariff plan, what its supplier charges
// for the calls sent through it. Least-cost routes order their gateways by
// it (lcr.go) and the CDR pipeline prices a call's gateway leg with it
// (GatewayTariffByName). It is an ordinary tariff plan of a tenant, its
// deck imported like any other.
//
// Who may set it: a shared gateway (no tenant) is the operator's, so only
// an admin reads or sets its plan, and may pick any plan. (The plan still
// belongs to a tenant, whose administrators can change its rates: keep the
// supplier plans of shared gateways in a tenant only operators
// administer.) A tenant's gateway takes a plan of its tenant or of one of
// its ancestors that the caller sees, as tenants and DIDs do; unlike
// those, a tenant-admin sets it on its own tenant's gateways too: a
// supplier's price is the tenant's own cost, it changes no one's bill,
// only which of the tenant's own gateways a call tries first. A plan left
// behind when the gateway or its tenant moves to another tree is not
// applied.

// GatewayTariffStore is what supplier plans need of the Store: the
// gateway's assignment (0: none) with the path of the plan's owner, and
// its setter (nil removes it). DeleteTariffPlan is refused while a
// gateway carries the plan.
type GatewayTariffStore interface {
	GatewayTariffPlan(ctx context.Context, gatewayID int64) (planID int64, ownerPath string, err error)
	SetGatewayTariffPlan(ctx context.Context, gatewayID int64, planID *int64) error
}

func (s *Service) gatewayTariffStore() (GatewayTariffStore, error) {
	gs, ok := s.store.(GatewayTariffStore)
	if !ok {
		return nil, errNoTariffStore
	}
	return gs, nil
}

// GatewayTariffPlanInfo is a gateway's supplier plan (nil: its cost is
// unknown; a least-cost route tries it after the priced gateways).
type GatewayTariffPlanInfo struct {
	GatewayID int64       `json:"gateway_id"`
	Name      string      `json:"name"`
	TenantID  *int64      `json:"tenant_id"`
	PlanID    *int64      `json:"tariff_plan_id"`
	Plan      *TariffPlan `json:"plan"`
}

// gatewayForTariff returns gateway id if the scope may read or set its
// supplier plan: it sees the gateway, and a shared gateway's plan is an
// admin's.
func (s *Service) gatewayForTariff(ctx context.Context, sc Scope, id int64) (*Gateway, error) {
	g, err := s.Gateway(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if g.TenantID == nil && !sc.All() {
		return nil, Forbidden("", "only an admin may read or set the supplier plan of a shared gateway")
	}
	return g, nil
}

// GatewayTariffPlan returns gateway id's supplier plan.
func (s *Service) GatewayTariffPlan(ctx context.Context, sc Scope, id int64) (*GatewayTariffPlanInfo, error) {
	g, err := s.gatewayForTariff(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	ts, err := s.tariffStore()
	if err != nil {
		return nil, err
	}
	ref, err := s.resolveGatewayTariff(ctx, g)
	if err != nil {
		return nil, err
	}
	info := &GatewayTariffPlanInfo{GatewayID: g.ID, Name: g.Name, TenantID: g.TenantID}
	if ref.planID == 0 {
		return info, nil
	}
	info.PlanID = &ref.planID
	info.Plan, err = ts.TariffPlan(ctx, ref.planID)
	return info, err
}

// SetGatewayTariffPlan gives gateway id its supplier plan, or with nil
// removes it (see the rules above). Least-cost routes and the CDR
// pipeline use it from their next call, on every daemon (the tariff
// invalidation).
func (s *Service) SetGatewayTariffPlan(ctx context.Context, sc Scope, id int64, planID *int64) (*GatewayTariffPlanInfo, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	gs, err := s.gatewayTariffStore()
	if err != nil {
		return nil, err
	}
	g, err := s.gatewayForTariff(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if planID != nil {
		if g.TenantID != nil {
			err = s.checkPlanOwner(ctx, sc, *g.TenantID, *planID)
		} else {
			_, err = s.TariffPlan(ctx, sc, *planID)
			err = fieldNotFound("tariff_plan_id", err)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := gs.SetGatewayTariffPlan(ctx, id, planID); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateTariff})
	return s.GatewayTariffPlan(ctx, sc, id)
}

// gatewayTariff is what the caches keep of a gateway for least-cost
// routing: its name, its tenant's path (empty: shared), and its supplier
// plan in force (0: none) with the path of the plan's owner.
type gatewayTariff struct {
	id         int64
	name       string
	tenantPath string
	planID     int64
	ownerPath  string
}

// pricesSeenBy reports whether the scope may see the gateway's supplier
// prices: those of the gateways of its own tenants. A shared gateway's,
// or a parent tenant's gateway a route of the scope's may use, are their
// operator's business.
func (g *gatewayTariff) pricesSeenBy(sc Scope) bool {
	return sc.All() || (g.tenantPath != "" && sc.Sees(g.tenantPath))
}

// resolveGatewayTariff reads gateway g's supplier plan, ignoring one left
// behind by a move to another tree.
func (s *Service) resolveGatewayTariff(ctx context.Context, g *Gateway) (gatewayTariff, error) {
	out := gatewayTariff{id: g.ID, name: g.Name}
	gs, err := s.gatewayTariffStore()
	if err != nil {
		return out, err
	}
	if g.TenantID != nil {
		t, err := s.store.Tenant(ctx, *g.TenantID)
		if err != nil {
			return out, err
		}
		out.tenantPath = t.Path
	}
	planID, owner, err := gs.GatewayTariffPlan(ctx, g.ID)
	if err != nil || planID == 0 {
		return out, err
	}
	if g.TenantID != nil && !strings.HasPrefix(out.tenantPath, owner) {
		return out, nil
	}
	out.planID, out.ownerPath = planID, owner
	return out, nil
}

// gatewayRef returns gateway id's cached least-cost routing facts.
func (s *Service) gatewayRef(ctx context.Context, id int64) (gatewayTariff, error) {
	return load(ctx, s, &s.tariffs.gateways, "gateway tariff", id, func(ctx context.Context, id int64) (gatewayTariff, error) {
		g, err := s.store.Gateway(ctx, id)
		if err != nil {
			return gatewayTariff{}, err
		}
		return s.resolveGatewayTariff(ctx, g)
	})
}

// GatewayTariff returns the compiled supplier tariff of gateway id: what
// its supplier charges for the calls sent through it. A gateway without a
// supplier plan gets nil, nil (its cost is unknown); an unknown gateway
// an error wrapping ErrNotFound. It answers from memory like TenantTariff
// (the gateway's assignment cached by gateway, the tariff by plan and
// version), and sees an assignment, deck or gateway change made on any
// daemon from the next call.
func (s *Service) GatewayTariff(ctx context.Context, gatewayID int64) (*rating.Tariff, error) {
	ref, err := s.gatewayRef(ctx, gatewayID)
	if err != nil {
		return nil, err
	}
	return s.supplierTariff(ctx, ref)
}

// GatewayTariffByName is GatewayTariff for the gateway called name, as a
// CDR names it: the CDR pipeline prices a call's gateway leg with it.
func (s *Service) GatewayTariffByName(ctx context.Context, name string) (*rating.Tariff, error) {
	ref, err := load(ctx, s, &s.tariffs.gatewayNames, "gateway tariff", name, func(ctx context.Context, name string) (gatewayTariff, error) {
		g, err := s.store.GatewayByName(ctx, name)
		if err != nil {
			return gatewayTariff{}, err
		}
		return s.resolveGatewayTariff(ctx, g)
	})
	if err != nil {
		return nil, err
	}
	return s.supplierTariff(ctx, ref)
}

// supplierTariff is ref's compiled plan, nil without one. A plan deleted
// under a stale entry (the store refuses to delete one in use, so only a
// race gets here) counts as none.
func (s *Service) supplierTariff(ctx context.Context, ref gatewayTariff) (*rating.Tariff, error) {
	if ref.planID == 0 {
		return nil, nil
	}
	t, err := s.compiledTariff(ctx, ref.planID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return t, err
}
