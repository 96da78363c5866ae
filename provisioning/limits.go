package provisioning

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// Limit is a set of abuse limits (seed `customers`: abuse limits per
// customer and per user), enforced at call time by provisioning/authz:
// the tenant's own (UserID nil) or one of its users' (the calls of the
// user's accounts). A zero field is no limit. A tenant and each of its
// users have at most one Limit.
type Limit struct {
	ID       int64  `json:"id" db:"id"`
	TenantID int64  `json:"tenant_id" db:"tenant_id"`
	UserID   *int64 `json:"user_id" db:"user_id"`
	// ConcurrentCalls is how many calls may be up at once.
	ConcurrentCalls int `json:"concurrent_calls" db:"concurrent_calls"`
	// CallsPerMinute is how many calls may start within any minute.
	CallsPerMinute int `json:"calls_per_minute" db:"calls_per_minute"`
	// CostPerHour, CostPerDay and CostPerMonth bound what calls may cost
	// within the calendar hour, day and month (UTC), in the currency of
	// the tenant's tariff plan.
	CostPerHour  money.Amount `json:"cost_per_hour" db:"cost_per_hour"`
	CostPerDay   money.Amount `json:"cost_per_day" db:"cost_per_day"`
	CostPerMonth money.Amount `json:"cost_per_month" db:"cost_per_month"`
	// MaxCallSeconds is the longest a call may last once answered.
	MaxCallSeconds int       `json:"max_call_seconds" db:"max_call_seconds"`
	CreatedAt      time.Time `json:"created_at" db:"created_at"`
	UpdatedAt      time.Time `json:"updated_at" db:"updated_at"`
}

func (l *Limit) ownerTenant() (int64, bool) { return l.TenantID, true }

// Bounds of a Limit's fields: beyond them a value is a typing error.
const (
	MaxLimitCalls       = 100_000
	MaxLimitCallSeconds = 7 * 24 * 3600
)

// MaxLimitCost bounds a cost limit (a billion units of the currency).
const MaxLimitCost = 1_000_000_000 * money.Unit

func (l *Limit) validate() error {
	for _, f := range []struct {
		name string
		v    int
		max  int
	}{{"concurrent_calls", l.ConcurrentCalls, MaxLimitCalls}, {"calls_per_minute", l.CallsPerMinute, MaxLimitCalls}, {"max_call_seconds", l.MaxCallSeconds, MaxLimitCallSeconds}} {
		if f.v < 0 || f.v > f.max {
			return Invalid(f.name, "must be 0 (no limit) to %d", f.max)
		}
	}
	for _, f := range []struct {
		name string
		v    money.Amount
	}{{"cost_per_hour", l.CostPerHour}, {"cost_per_day", l.CostPerDay}, {"cost_per_month", l.CostPerMonth}} {
		if f.v < 0 || f.v > MaxLimitCost {
			return Invalid(f.name, "must be 0 (no limit) to %s", MaxLimitCost)
		}
	}
	return nil
}

// LimitFilter selects limits: of one tenant, of one user (UserID), the
// tenants' own only (TenantOnly).
type LimitFilter struct {
	Subtree    string
	TenantID   int64
	UserID     int64
	TenantOnly bool
	Page
}

// LimitStore is what abuse limits need of the Store. CreateLimit is a
// ConflictError when the tenant (or user) has one already.
type LimitStore interface {
	CreateLimit(ctx context.Context, l *Limit) error
	Limit(ctx context.Context, id int64) (*Limit, error)
	Limits(ctx context.Context, f LimitFilter) ([]Limit, error)
	UpdateLimit(ctx context.Context, l *Limit) error
	DeleteLimit(ctx context.Context, id int64) error
}

var errNoLimitStore = errors.New("provisioning: the store does not keep abuse limits")

func (s *Service) limitStore() (LimitStore, error) {
	ls, ok := s.store.(LimitStore)
	if !ok {
		return nil, errNoLimitStore
	}
	return ls, nil
}

// ownLimit refuses a tenant-admin its own tenant's limit: abuse limits
// are set from above (the parent's admin, a reseller), or a stolen
// tenant-admin token would lift them. It may set its users' and its
// descendants'.
func ownLimit(sc Scope, l *Limit) error {
	return ownCallSetting(sc, l.TenantID, l.UserID, "abuse limits")
}

// CreateLimit validates l and stores it.
func (s *Service) CreateLimit(ctx context.Context, sc Scope, l *Limit) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	ls, err := s.limitStore()
	if err != nil {
		return err
	}
	if err := l.validate(); err != nil {
		return err
	}
	if err := s.checkCallSettingOwner(ctx, sc, l.TenantID, l.UserID, "abuse limits"); err != nil {
		return err
	}
	l.ID = 0
	return ls.CreateLimit(ctx, l)
}

// Limit returns limit id if the scope sees it.
func (s *Service) Limit(ctx context.Context, sc Scope, id int64) (*Limit, error) {
	ls, err := s.limitStore()
	if err != nil {
		return nil, err
	}
	l, err := ls.Limit(ctx, id)
	return inScope(ctx, s, sc, "limit", l, err, id)
}

// Limits lists the limits in scope.
func (s *Service) Limits(ctx context.Context, sc Scope, f LimitFilter) ([]Limit, error) {
	ls, err := s.limitStore()
	if err != nil {
		return nil, err
	}
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return ls.Limits(ctx, f)
}

// UpdateLimit loads limit id, lets fn change it and saves it; its tenant
// and user cannot change.
func (s *Service) UpdateLimit(ctx context.Context, sc Scope, id int64, fn func(*Limit) error) (*Limit, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	ls, err := s.limitStore()
	if err != nil {
		return nil, err
	}
	l, err := s.Limit(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	before := *l
	if err := fn(l); err != nil {
		return nil, err
	}
	if l.TenantID != before.TenantID || (l.UserID == nil) != (before.UserID == nil) || l.UserID != nil && *l.UserID != *before.UserID {
		return nil, Invalid("user_id", "the tenant and user of a limit cannot change: create another limit instead")
	}
	l.ID, l.CreatedAt = before.ID, before.CreatedAt
	if err := ownLimit(sc, l); err != nil {
		return nil, err
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	if err := ls.UpdateLimit(ctx, l); err != nil {
		return nil, err
	}
	return l, nil
}

// DeleteLimit deletes limit id.
func (s *Service) DeleteLimit(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	ls, err := s.limitStore()
	if err != nil {
		return err
	}
	l, err := s.Limit(ctx, sc, id)
	if err != nil {
		return err
	}
	if err := ownLimit(sc, l); err != nil {
		return err
	}
	return ls.DeleteLimit(ctx, id)
}

// CallLimits returns the limits that apply to a call of the tenant's
// (and, when userID is not 0, of that user's): each nil when none is set.
// The authorizer asks it on every call (provisioning/authz LimitSource,
// through an adapter in the daemon's wiring).
func (s *Service) CallLimits(ctx context.Context, tenantID, userID int64) (tenant, user *Limit, err error) {
	ls, err := s.limitStore()
	if err != nil {
		return nil, nil, err
	}
	ts, err := ls.Limits(ctx, LimitFilter{TenantID: tenantID, TenantOnly: true, Page: Page{Limit: 1}})
	if err != nil {
		return nil, nil, err
	}
	if len(ts) > 0 {
		tenant = &ts[0]
	}
	if userID != 0 {
		us, err := ls.Limits(ctx, LimitFilter{TenantID: tenantID, UserID: userID, Page: Page{Limit: 1}})
		if err != nil {
			return nil, nil, err
		}
		if len(us) > 0 {
			user = &us[0]
		}
	}
	return tenant, user, nil
}
