package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
)

// TariffPlan is a tenant's tariff plan: the settings of internal/rating's
// Plan, its rates kept apart (TariffStore) because a plan holds 100,000
// and more of them. A plan prices the calls of the tenants it is assigned
// to (SetTenantTariffPlan, inherited down the tree) and the inbound calls
// of the DIDs that carry it (SetDIDTariffPlan).
type TariffPlan struct {
	ID       int64  `json:"id" db:"id"`
	TenantID int64  `json:"tenant_id" db:"tenant_id"`
	Name     string `json:"name" db:"name"`
	// Currency is the ISO 4217 code of every price of the plan.
	Currency money.Currency `json:"currency" db:"currency"`
	// TimeZone is the IANA zone the rates' days and time windows, and
	// the deck's bare dates, are read in.
	TimeZone string `json:"time_zone" db:"time_zone"`
	// ChargeStep is what each call's cost is rounded up to (0.0001); 0
	// keeps the nano-unit.
	ChargeStep  money.Amount `json:"charge_step" db:"charge_step"`
	Description string       `json:"description" db:"description"`
	// Rates counts the plan's rates.
	Rates int `json:"rates" db:"rates"`
	// Version grows with every change of the plan or its rates, so that a
	// compiled tariff is known stale with one row read.
	Version   int64     `json:"-" db:"version"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

func (p *TariffPlan) ownerTenant() (int64, bool) { return p.TenantID, true }

// ratingPlan is the plan's settings as internal/rating takes them.
func (p *TariffPlan) ratingPlan(rates []rating.Rate) rating.Plan {
	return rating.Plan{Name: p.Name, Currency: p.Currency, TimeZone: p.TimeZone, ChargeStep: p.ChargeStep, Rates: rates}
}

// location is the plan's zone (validated when the plan was written).
func (p *TariffPlan) location() *time.Location {
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// MaxChargeStep bounds a plan's charge step: rounding every call up to
// more than one currency unit is a typing error.
const MaxChargeStep = money.Unit

// validate checks the plan's own fields, naming the first bad one.
func (p *TariffPlan) validate() error {
	if err := checkText("name", p.Name, MaxNameLen, true); err != nil {
		return err
	}
	if err := checkText("description", p.Description, MaxDescriptionLen, false); err != nil {
		return err
	}
	cur, err := money.ParseCurrency(string(p.Currency))
	if err != nil {
		return Invalid("currency", "must be an ISO 4217 code of three letters such as USD or EUR (got %q)", p.Currency)
	}
	p.Currency = cur
	if p.TimeZone == "" {
		p.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(p.TimeZone); err != nil || strings.EqualFold(p.TimeZone, "local") {
		return Invalid("time_zone", "must be an IANA time zone such as Europe/Paris or America/New_York (got %q)", p.TimeZone)
	}
	if p.ChargeStep < 0 || p.ChargeStep > MaxChargeStep {
		return Invalid("charge_step", "must be 0 to 1 (0.0001 rounds each call up to a hundredth of a cent; 0 keeps 9 decimals)")
	}
	return nil
}

// TariffPlanFilter selects tariff plans.
type TariffPlanFilter struct {
	Subtree  string
	TenantID int64
	Name     string // exact match
	Page
}

// TariffAssignment is a tenant's own plan, with the path of the plan's
// owner, so that an assignment left behind by a tenant's move under
// another parent (whose plans it may not use) is told apart.
type TariffAssignment struct {
	TenantID  int64  `db:"tenant_id"`
	PlanID    int64  `db:"plan_id"`
	OwnerPath string `db:"owner_path"`
}

// TariffRateFilter selects a plan's rates in deck order: after the row
// After (0: from the first), with a prefix starting with Prefix, at most
// Limit of them (0: all).
type TariffRateFilter struct {
	After  int64
	Prefix string
	Limit  int
}

// TariffStore is what tariff plans need of the Store.
//
// ReplaceTariffRates replaces every rate of plan id with rates, in deck
// order, in one transaction (all or nothing), bumps the plan's Version
// and Rates and returns the plan as it now is; progress, when set, is
// called with the rows written so far after each batch. TariffRates calls
// fn for each rate f selects, in deck order, with its row number, from
// one statement (a consistent snapshot of the plan's rates).
// DeleteTariffPlan is refused (ConflictError) while a tenant or a DID
// carries the plan. The assignment setters take nil to remove one.
type TariffStore interface {
	CreateTariffPlan(ctx context.Context, p *TariffPlan) error
	TariffPlan(ctx context.Context, id int64) (*TariffPlan, error)
	TariffPlans(ctx context.Context, f TariffPlanFilter) ([]TariffPlan, error)
	UpdateTariffPlan(ctx context.Context, p *TariffPlan) error
	DeleteTariffPlan(ctx context.Context, id int64) error

	ReplaceTariffRates(ctx context.Context, id int64, rates []rating.Rate, progress func(written int)) (*TariffPlan, error)
	TariffRates(ctx context.Context, id int64, f TariffRateFilter, fn func(row int64, r *rating.Rate) error) error

	TariffAssignments(ctx context.Context, tenantIDs []int64) ([]TariffAssignment, error)
	SetTenantTariffPlan(ctx context.Context, tenantID int64, planID *int64) error
	DIDTariffPlan(ctx context.Context, didID int64) (planID int64, ownerPath string, err error)
	SetDIDTariffPlan(ctx context.Context, didID int64, planID *int64) error
}

var errNoTariffStore = errors.New("provisioning: the store keeps no tariff plans")

func (s *Service) tariffStore() (TariffStore, error) {
	ts, ok := s.store.(TariffStore)
	if !ok {
		return nil, errNoTariffStore
	}
	return ts, nil
}

// CreateTariffPlan validates p and stores it for p.TenantID, without
// rates (ReplaceTariffRates loads them).
func (s *Service) CreateTariffPlan(ctx context.Context, sc Scope, p *TariffPlan) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	ts, err := s.tariffStore()
	if err != nil {
		return err
	}
	if err := p.validate(); err != nil {
		return err
	}
	if _, err := s.tenantInScope(ctx, sc, p.TenantID); err != nil {
		return fieldNotFound("tenant_id", err)
	}
	p.ID, p.Rates = 0, 0
	return ts.CreateTariffPlan(ctx, p)
}

// TariffPlan returns plan id if the scope sees it.
func (s *Service) TariffPlan(ctx context.Context, sc Scope, id int64) (*TariffPlan, error) {
	ts, err := s.tariffStore()
	if err != nil {
		return nil, err
	}
	p, err := ts.TariffPlan(ctx, id)
	return inScope(ctx, s, sc, "tariff plan", p, err, id)
}

// TariffPlans lists the plans in scope.
func (s *Service) TariffPlans(ctx context.Context, sc Scope, f TariffPlanFilter) ([]TariffPlan, error) {
	ts, err := s.tariffStore()
	if err != nil {
		return nil, err
	}
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return ts.TariffPlans(ctx, f)
}

// UpdateTariffPlan loads plan id, lets fn change it and saves it; the
// tenant cannot change. A new currency, zone or charge step reprices every
// call from now on: the compiled tariff is dropped with the old version.
func (s *Service) UpdateTariffPlan(ctx context.Context, sc Scope, id int64, fn func(*TariffPlan) error) (*TariffPlan, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	ts, err := s.tariffStore()
	if err != nil {
		return nil, err
	}
	p, err := s.TariffPlan(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	before := *p
	if err := fn(p); err != nil {
		return nil, err
	}
	if p.TenantID != before.TenantID {
		return nil, Invalid("tenant_id", "cannot change: create the plan in the other tenant instead")
	}
	p.ID, p.Rates, p.Version, p.CreatedAt = before.ID, before.Rates, before.Version, before.CreatedAt
	if err := p.validate(); err != nil {
		return nil, err
	}
	if err := ts.UpdateTariffPlan(ctx, p); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateTariff, ID: id})
	return p, nil
}

// DeleteTariffPlan deletes plan id and its rates, refused while a tenant,
// a DID or a gateway carries it.
func (s *Service) DeleteTariffPlan(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	ts, err := s.tariffStore()
	if err != nil {
		return err
	}
	if _, err := s.TariffPlan(ctx, sc, id); err != nil {
		return err
	}
	if err := ts.DeleteTariffPlan(ctx, id); err != nil {
		return err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateTariff, ID: id})
	return nil
}

// TenantTariffPlanInfo is a tenant's tariff assignment: its own plan (nil
// when it inherits) and the plan that prices its calls after inheritance
// (nil when none), with the tenant it is inherited from.
type TenantTariffPlanInfo struct {
	TenantID int64 `json:"tenant_id"`
	// PlanID is the tenant's own assignment; null: inherited.
	PlanID *int64 `json:"tariff_plan_id"`
	// EffectivePlanID prices the tenant's calls; null: its calls are not
	// rated.
	EffectivePlanID *int64 `json:"effective_tariff_plan_id"`
	// InheritedFrom is the tenant whose assignment applies (the tenant
	// itself when it has its own); null when no plan applies.
	InheritedFrom *int64 `json:"inherited_from"`
	// Plan is the effective plan's name and settings.
	Plan *TariffPlan `json:"plan"`
}

// TenantTariffPlan says which plan prices tenant id's calls and why.
func (s *Service) TenantTariffPlan(ctx context.Context, sc Scope, id int64) (*TenantTariffPlanInfo, error) {
	t, err := s.tenantInScope(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	own, eff, err := s.resolveTenantTariff(ctx, t)
	if err != nil {
		return nil, err
	}
	info := &TenantTariffPlanInfo{TenantID: id}
	if own != nil {
		info.PlanID = &own.PlanID
	}
	if eff != nil {
		info.EffectivePlanID, info.InheritedFrom = &eff.PlanID, &eff.TenantID
		ts, err := s.tariffStore()
		if err != nil {
			return nil, err
		}
		if info.Plan, err = ts.TariffPlan(ctx, eff.PlanID); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// resolveTenantTariff returns t's own assignment (nil: none) and the
// effective one: the deepest assignment on t's path whose plan belongs to
// that tenant or one of its ancestors. An assignment whose plan is not
// t's or an ancestor's (left behind when a tenant moved under another
// parent) is ignored, so that no tenant is priced with a plan of a tree
// it left.
func (s *Service) resolveTenantTariff(ctx context.Context, t *Tenant) (own, eff *TariffAssignment, err error) {
	ts, err := s.tariffStore()
	if err != nil {
		return nil, nil, err
	}
	ids := pathIDs(t.Path)
	as, err := ts.TariffAssignments(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	byTenant := make(map[int64]*TariffAssignment, len(as))
	for i := range as {
		byTenant[as[i].TenantID] = &as[i]
	}
	own = byTenant[t.ID]
	for i := len(ids) - 1; i >= 0; i-- {
		if a := byTenant[ids[i]]; a != nil && strings.HasPrefix(t.Path, a.OwnerPath) {
			return own, a, nil
		}
	}
	return own, nil, nil
}

// pathIDs returns the tenant IDs of a Path, root first ("/1/7/" → 1, 7).
func pathIDs(path string) []int64 {
	var ids []int64
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		var id int64
		if _, err := fmt.Sscan(part, &id); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// SetTenantTariffPlan assigns plan planID to tenant id, or with nil
// removes the tenant's own assignment (it then inherits its parent's).
// The plan must belong to the tenant or one of its ancestors. A
// tenant-admin assigns plans to the tenants below its own, never to its
// own tenant: a customer does not choose its price.
func (s *Service) SetTenantTariffPlan(ctx context.Context, sc Scope, id int64, planID *int64) (*TenantTariffPlanInfo, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	ts, err := s.tariffStore()
	if err != nil {
		return nil, err
	}
	if _, err := s.tenantInScope(ctx, sc, id); err != nil {
		return nil, err
	}
	if err := s.checkAssignment(ctx, sc, id, planID, "a tenant's own tariff plan"); err != nil {
		return nil, err
	}
	if err := ts.SetTenantTariffPlan(ctx, id, planID); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateTariff})
	return s.TenantTariffPlan(ctx, sc, id)
}

// checkAssignment checks that the scope may give planID (nil: none) to
// an object of tenant tenantID: not to its own tenant's objects unless an
// admin (what names them), and only a plan it sees of that tenant or one
// of its ancestors.
func (s *Service) checkAssignment(ctx context.Context, sc Scope, tenantID int64, planID *int64, what string) error {
	const field = "tariff_plan_id"
	if !sc.All() && tenantID == sc.TenantID {
		return Forbidden(field, "%s is set by its parent's administrators", what)
	}
	if planID == nil {
		return nil
	}
	return s.checkPlanOwner(ctx, sc, tenantID, *planID)
}

// checkPlanOwner checks that the scope sees plan planID and that it
// belongs to tenant tenantID or one of its ancestors.
func (s *Service) checkPlanOwner(ctx context.Context, sc Scope, tenantID, planID int64) error {
	const field = "tariff_plan_id"
	t, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	p, err := s.TariffPlan(ctx, sc, planID)
	if err != nil {
		return fieldNotFound(field, err)
	}
	path := t.Path
	owner, err := s.store.Tenant(ctx, p.TenantID)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(path, owner.Path) {
		return Invalid(field, "tariff plan %d belongs to another tenant: use a plan of this tenant or of one of its parents", planID)
	}
	return nil
}

// DIDTariffPlanInfo is a DID's inbound plan (nil: its inbound calls are
// not rated).
type DIDTariffPlanInfo struct {
	DIDID    int64       `json:"did_id"`
	Number   string      `json:"number"`
	TenantID int64       `json:"tenant_id"`
	PlanID   *int64      `json:"tariff_plan_id"`
	Plan     *TariffPlan `json:"plan"`
}

// DIDTariffPlan returns DID id's inbound plan.
func (s *Service) DIDTariffPlan(ctx context.Context, sc Scope, id int64) (*DIDTariffPlanInfo, error) {
	ts, err := s.tariffStore()
	if err != nil {
		return nil, err
	}
	d, err := s.DID(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	info := &DIDTariffPlanInfo{DIDID: d.ID, Number: d.Number, TenantID: d.TenantID}
	planID, owner, err := ts.DIDTariffPlan(ctx, d.ID)
	if err != nil || planID == 0 {
		return info, err
	}
	t, err := s.store.Tenant(ctx, d.TenantID)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(t.Path, owner) {
		return info, nil // left behind by a move to another tree: not applied
	}
	info.PlanID = &planID
	info.Plan, err = ts.TariffPlan(ctx, planID)
	return info, err
}

// SetDIDTariffPlan gives DID id its own inbound plan, or with nil removes
// it. The plan must belong to the DID's tenant or an ancestor; as for
// tenants, a tenant-admin sets it on the DIDs of the tenants below its
// own only.
func (s *Service) SetDIDTariffPlan(ctx context.Context, sc Scope, id int64, planID *int64) (*DIDTariffPlanInfo, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	ts, err := s.tariffStore()
	if err != nil {
		return nil, err
	}
	d, err := s.DID(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkAssignment(ctx, sc, d.TenantID, planID, "the inbound tariff plan of a tenant's own DIDs"); err != nil {
		return nil, err
	}
	if err := ts.SetDIDTariffPlan(ctx, id, planID); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateTariff})
	return s.DIDTariffPlan(ctx, sc, id)
}
