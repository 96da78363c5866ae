package provisioning

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/internal/rating"
)

// The lookups the CDR pipeline and the switches' authorizer make on every
// call: TenantTariff, DIDTariff, and the supplier tariffs of gateways
// (GatewayTariff, GatewayTariffByName, GatewaysByCost). All answer from
// memory after the first call:
//
//   - which plan applies (a tenant's after inheritance, a DID's own, a
//     gateway's supplier plan) is cached by tenant, by number and by
//     gateway, dropped on any assignment change (InvalidateTariff without
//     an ID), a tenant move and a DID or gateway change (InvalidateRouting);
//   - each plan's compiled rating.Tariff is cached by plan with the
//     plan's Version. A rate import puts the tariff it compiled in the
//     cache itself, so the next call does not compile it; past CacheTTL
//     one row read (the plan's Version) confirms it, so an unchanged
//     plan is never compiled twice. Only another process's import, or a
//     plan settings change, makes the next lookup compile (~100 ms for
//     100,000 rates), once: concurrent lookups wait for the one compile.

// tariffCaches are the Service's tariff caches.
type tariffCaches struct {
	// plans: compiled tariffs by plan ID.
	plans versioned[int64, *compiledPlan]
	// tenants: the effective plan ID by tenant ID (0: none).
	tenants versioned[int64, int64]
	// dids: a DID's tenant and inbound plan by number.
	dids versioned[string, didTariff]
	// gateways, gatewayNames: a gateway's supplier plan, by ID (least-cost
	// routing) and by name (the CDR pipeline).
	gateways     versioned[int64, gatewayTariff]
	gatewayNames versioned[string, gatewayTariff]

	mu      sync.Mutex
	compile map[int64]*compileFlight
	// kept is the newest version keep cached, by plan.
	kept map[int64]int64
}

// compiledPlan is a plan's tariff and the Version it was compiled from.
type compiledPlan struct {
	version int64
	tariff  *rating.Tariff
}

type didTariff struct {
	tenantID, planID int64
}

// compileFlight is one compile under way that other lookups wait for.
type compileFlight struct {
	done chan struct{}
	v    *compiledPlan
	err  error
}

// invalidate applies inv to the tariff caches.
func (c *tariffCaches) invalidate(inv Invalidation) {
	switch inv.Kind {
	case InvalidateTariff:
		if inv.ID != 0 {
			c.plans.drop(inv.ID)
			return
		}
		c.tenants.clear()
		c.dids.clear()
		c.clearGateways()
	case InvalidateRouting: // a DID or a gateway created, changed, moved or deleted
		c.dids.clear()
		c.clearGateways()
	case InvalidateToken, InvalidateDomain, InvalidateWhitelist:
	default: // a tenant moved or deleted, all
		c.plans.clear()
		c.tenants.clear()
		c.dids.clear()
		c.clearGateways()
	}
}

func (c *tariffCaches) clearGateways() {
	c.gateways.clear()
	c.gatewayNames.clear()
}

// keep caches a tariff just compiled from plan p's rates as written,
// unless a newer version of the plan was kept already: of two imports of
// one plan racing to here, the older must not replace the newer.
func (c *tariffCaches) keep(p *TariffPlan, t *rating.Tariff) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kept == nil {
		c.kept = map[int64]int64{}
	}
	if c.kept[p.ID] > p.Version {
		return
	}
	c.kept[p.ID] = p.Version
	c.plans.put(c.plans.generation(), p.ID, &compiledPlan{version: p.Version, tariff: t}, time.Now())
}

// TenantTariff returns the compiled tariff that prices tenant id's calls:
// its own plan, or else the nearest ancestor's (see SetTenantTariffPlan).
// A tenant without any plan gets a nil tariff and a nil error: its calls
// are not rated (a CDR is stored unpriced, an authorizer applies its
// no-plan policy). ErrNotFound means the tenant does not exist. The
// tariff is shared and immutable; a rate or assignment change made
// through this Service is seen by the very next call.
func (s *Service) TenantTariff(ctx context.Context, id int64) (*rating.Tariff, error) {
	planID, err := load(ctx, s, &s.tariffs.tenants, "tenant tariff", id, func(ctx context.Context, id int64) (int64, error) {
		t, err := s.store.Tenant(ctx, id)
		if err != nil {
			return 0, err
		}
		_, eff, err := s.resolveTenantTariff(ctx, t)
		if err != nil || eff == nil {
			return 0, err
		}
		return eff.PlanID, nil
	})
	if err != nil || planID == 0 {
		return nil, err
	}
	return s.compiledTariff(ctx, planID)
}

// DIDTariff returns the inbound tariff of the DID with the E.164 number
// and the DID's tenant (who pays for or earns from its inbound calls). A
// DID without its own inbound plan gets a nil tariff and its tenant: its
// inbound calls are not rated; the tenant's own plan is not applied to
// them, since it prices the calls the tenant places by their
// destination. ErrNotFound means no DID has the number.
func (s *Service) DIDTariff(ctx context.Context, number string) (*rating.Tariff, int64, error) {
	ref, err := load(ctx, s, &s.tariffs.dids, "DID tariff", number, func(ctx context.Context, number string) (didTariff, error) {
		ts, err := s.tariffStore()
		if err != nil {
			return didTariff{}, err
		}
		d, err := s.store.DIDByNumber(ctx, number)
		if err != nil {
			return didTariff{}, err
		}
		out := didTariff{tenantID: d.TenantID}
		planID, owner, err := ts.DIDTariffPlan(ctx, d.ID)
		if err != nil || planID == 0 {
			return out, err
		}
		t, err := s.store.Tenant(ctx, d.TenantID)
		if err != nil {
			return out, err
		}
		if strings.HasPrefix(t.Path, owner) {
			out.planID = planID
		}
		return out, nil
	})
	if err != nil {
		return nil, 0, err
	}
	if ref.planID == 0 {
		return nil, ref.tenantID, nil
	}
	t, err := s.compiledTariff(ctx, ref.planID)
	return t, ref.tenantID, err
}

// compiledTariff returns plan id's compiled tariff: from the cache while
// fresh, after checking the plan's Version once stale, compiling it only
// when the version moved (or it was never compiled here).
func (s *Service) compiledTariff(ctx context.Context, id int64) (*rating.Tariff, error) {
	c := &s.tariffs
	cp, err := load(ctx, s, &c.plans, "tariff plan", id, func(ctx context.Context, id int64) (*compiledPlan, error) {
		ts, err := s.tariffStore()
		if err != nil {
			return nil, err
		}
		p, err := ts.TariffPlan(ctx, id)
		if err != nil {
			return nil, err
		}
		if e, ok := c.plans.get(id); ok && e.v.version == p.Version {
			return e.v, nil // unchanged: the TTL only asked to confirm
		}
		return s.compileOnce(ctx, ts, p)
	})
	if err != nil {
		return nil, err
	}
	return cp.tariff, nil
}

// compileOnce compiles plan p, or waits for the compile of the same plan
// another lookup has started.
func (s *Service) compileOnce(ctx context.Context, ts TariffStore, p *TariffPlan) (*compiledPlan, error) {
	c := &s.tariffs
	c.mu.Lock()
	if f, ok := c.compile[p.ID]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			if f.err == nil && f.v.version < p.Version {
				return s.compileOnce(ctx, ts, p) // it compiled an older version
			}
			return f.v, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &compileFlight{done: make(chan struct{})}
	if c.compile == nil {
		c.compile = map[int64]*compileFlight{}
	}
	c.compile[p.ID] = f
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.compile, p.ID)
		c.mu.Unlock()
		close(f.done)
	}()
	// The rates are read after the plan: they are never older than the
	// version they are labelled with (at worst newer, and recompiled once
	// more when the newer version is seen).
	rates := make([]rating.Rate, 0, p.Rates)
	// The compile is shared: one caller giving up must not fail the others.
	rctx := context.WithoutCancel(ctx)
	if f.err = ts.TariffRates(rctx, p.ID, TariffRateFilter{}, func(_ int64, r *rating.Rate) error {
		rates = append(rates, *r)
		return nil
	}); f.err != nil {
		return nil, f.err
	}
	t, err := rating.Compile(p.ratingPlan(rates))
	if err != nil {
		// Stored rates were checked when written: only a time zone gone
		// from the system's database can fail here.
		f.err = errors.Join(errors.New("provisioning: compile stored tariff plan"), err)
		return nil, f.err
	}
	f.v = &compiledPlan{version: p.Version, tariff: t}
	return f.v, nil
}
