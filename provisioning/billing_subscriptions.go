package provisioning

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// Subscription is a recurring monthly charge of a tenant: a service (its
// Name) or a DID's rent. It is charged once per calendar month (UTC) it
// is active in, prorated by days for a partial month: Amount × active
// days / days of the month.
type Subscription struct {
	ID       int64  `json:"id" db:"id"`
	TenantID int64  `json:"tenant_id" db:"tenant_id"`
	Name     string `json:"name" db:"name"`
	// DIDID names the DID rented, if any (it must be the tenant's).
	DIDID  *int64       `json:"did_id" db:"did_id"`
	Amount money.Amount `json:"amount" db:"amount"`
	// Currency is the tenant's billing currency (empty when written:
	// that one; another is refused).
	Currency money.Currency `json:"currency" db:"currency"`
	// Start is the first day charged, End the last (inclusive; "" none),
	// as YYYY-MM-DD in UTC.
	Start     string    `json:"start" db:"start_date"`
	End       string    `json:"end" db:"end_date"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

func (sub *Subscription) ownerTenant() (int64, bool) { return sub.TenantID, true }

// SubscriptionFilter selects subscriptions.
type SubscriptionFilter struct {
	Subtree  string
	TenantID int64
	Page
}

const dayLayout = time.DateOnly

// validate checks the subscription's own fields, naming the first bad one.
func (sub *Subscription) validate() error {
	if err := checkText("name", sub.Name, MaxNameLen, true); err != nil {
		return err
	}
	if sub.Amount <= 0 {
		return Invalid("amount", "must be more than 0 (the monthly charge)")
	}
	start, err := time.Parse(dayLayout, sub.Start)
	if err != nil {
		return Invalid("start", "must be a day as YYYY-MM-DD (got %q)", sub.Start)
	}
	if sub.End != "" {
		end, err := time.Parse(dayLayout, sub.End)
		if err != nil {
			return Invalid("end", "must be a day as YYYY-MM-DD, or empty for none (got %q)", sub.End)
		}
		if end.Before(start) {
			return Invalid("end", "must not be before start (%s)", sub.Start)
		}
	}
	return nil
}

// MonthStart is the first day of t's month, UTC.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ChargeFor returns what the subscription costs for the month starting
// at month (a MonthStart): Amount prorated by the days of that month it
// is active on (rounded half up to the nano-unit), and false when it is
// active on none.
func (sub *Subscription) ChargeFor(month time.Time) (money.Amount, bool, error) {
	first := MonthStart(month)
	next := first.AddDate(0, 1, 0)
	days := int64(next.Sub(first) / (24 * time.Hour))
	from, err := time.Parse(dayLayout, sub.Start)
	if err != nil {
		return 0, false, err
	}
	to := next // exclusive
	if sub.End != "" {
		end, err := time.Parse(dayLayout, sub.End)
		if err != nil {
			return 0, false, err
		}
		to = end.AddDate(0, 0, 1)
	}
	if from.Before(first) {
		from = first
	}
	if to.After(next) {
		to = next
	}
	active := int64(to.Sub(from) / (24 * time.Hour))
	if active <= 0 {
		return 0, false, nil
	}
	a, err := sub.Amount.MulDiv(active, days, money.HalfUp)
	return a, err == nil, err
}

// SubscriptionReference is the ledger reference of subscription id's
// charge for the month starting at month: the key that makes it once
// only.
func SubscriptionReference(id int64, month time.Time) string {
	return fmt.Sprintf("subscription:%d:%s", id, MonthStart(month).Format("2006-01"))
}

// CreateSubscription validates sub and stores it for sub.TenantID. Like
// billing settings, a tenant's subscriptions are set by its parents'
// administrators, not by the tenant itself.
func (s *Service) CreateSubscription(ctx context.Context, sc Scope, sub *Subscription) error {
	if err := s.checkSubscription(ctx, sc, sub); err != nil {
		return err
	}
	bs, err := s.billingStore()
	if err != nil {
		return err
	}
	sub.ID = 0
	return bs.CreateSubscription(ctx, sub)
}

// checkSubscription checks that sc may write sub and that sub is valid.
func (s *Service) checkSubscription(ctx context.Context, sc Scope, sub *Subscription) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if err := sub.validate(); err != nil {
		return err
	}
	if _, err := s.tenantInScope(ctx, sc, sub.TenantID); err != nil {
		return fieldNotFound("tenant_id", err)
	}
	if !sc.All() && sub.TenantID == sc.TenantID {
		return Forbidden("tenant_id", "a tenant's subscriptions are set by its parent's administrators")
	}
	bs, err := s.billingStore()
	if err != nil {
		return err
	}
	b, err := s.tenantBilling(ctx, bs, sub.TenantID)
	if err != nil {
		return err
	}
	if sub.Currency, err = b.CurrencyFor(sub.Currency); err != nil {
		return err
	}
	if sub.DIDID != nil {
		d, err := s.DID(ctx, sc, *sub.DIDID)
		if err != nil {
			return fieldNotFound("did_id", err)
		}
		if d.TenantID != sub.TenantID {
			return Invalid("did_id", "DID %d belongs to another tenant", *sub.DIDID)
		}
	}
	return nil
}

// Subscription returns subscription id if the scope sees it.
func (s *Service) Subscription(ctx context.Context, sc Scope, id int64) (*Subscription, error) {
	bs, err := s.billingStore()
	if err != nil {
		return nil, err
	}
	sub, err := bs.Subscription(ctx, id)
	return inScope(ctx, s, sc, "subscription", sub, err, id)
}

// Subscriptions lists the subscriptions in scope.
func (s *Service) Subscriptions(ctx context.Context, sc Scope, f SubscriptionFilter) ([]Subscription, error) {
	bs, err := s.billingStore()
	if err != nil {
		return nil, err
	}
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return bs.Subscriptions(ctx, f)
}

// UpdateSubscription loads subscription id, lets fn change it and saves
// it (ending one: set End). Months already charged stay charged.
func (s *Service) UpdateSubscription(ctx context.Context, sc Scope, id int64, fn func(*Subscription) error) (*Subscription, error) {
	bs, err := s.billingStore()
	if err != nil {
		return nil, err
	}
	sub, err := s.Subscription(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	before := *sub
	if err := fn(sub); err != nil {
		return nil, err
	}
	if sub.TenantID != before.TenantID {
		return nil, Invalid("tenant_id", "cannot change: create the subscription in the other tenant instead")
	}
	sub.ID, sub.CreatedAt = before.ID, before.CreatedAt
	if err := s.checkSubscription(ctx, sc, sub); err != nil {
		return nil, err
	}
	return sub, bs.UpdateSubscription(ctx, sub)
}

// DeleteSubscription deletes subscription id; its past charges stay in
// the ledger.
func (s *Service) DeleteSubscription(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	bs, err := s.billingStore()
	if err != nil {
		return err
	}
	sub, err := s.Subscription(ctx, sc, id)
	if err != nil {
		return err
	}
	if !sc.All() && sub.TenantID == sc.TenantID {
		return Forbidden("", "a tenant's subscriptions are set by its parent's administrators")
	}
	return bs.DeleteSubscription(ctx, id)
}

// SubscriptionLedger books one subscription charge (a negative amount)
// once per reference: it returns false when the reference was booked
// already. cdrstore.Store's PostSubscription is one.
type SubscriptionLedger interface {
	PostSubscription(ctx context.Context, tenantID int64, currency money.Currency, amount money.Amount, reference string) (bool, error)
}

// ChargeSubscriptions books every month due by now of every
// subscription: each month from the subscription's start month to now's
// that it is active in, charged on the month's first day (in advance),
// once (SubscriptionReference is the ledger's key). A run interrupted
// anywhere (a crash, a restart) is completed by the next, and charges
// nothing twice. It returns how many charges it booked.
func (s *Service) ChargeSubscriptions(ctx context.Context, ledger SubscriptionLedger, now time.Time) (int, error) {
	bs, err := s.billingStore()
	if err != nil {
		return 0, err
	}
	current := MonthStart(now)
	booked := 0
	f := SubscriptionFilter{Page: Page{Limit: MaxLimit}}
	for {
		subs, err := bs.Subscriptions(ctx, f)
		if err != nil {
			return booked, err
		}
		for i := range subs {
			sub := &subs[i]
			start, err := time.Parse(dayLayout, sub.Start)
			if err != nil {
				return booked, fmt.Errorf("provisioning: subscription %d: start: %w", sub.ID, err)
			}
			for m := MonthStart(start); !m.After(current); m = m.AddDate(0, 1, 0) {
				amount, ok, err := sub.ChargeFor(m)
				if err != nil {
					return booked, fmt.Errorf("provisioning: subscription %d: %w", sub.ID, err)
				}
				if !ok {
					continue
				}
				n, err := ledger.PostSubscription(ctx, sub.TenantID, sub.Currency, -amount, SubscriptionReference(sub.ID, m))
				if err != nil {
					return booked, fmt.Errorf("provisioning: subscription %d: %w", sub.ID, err)
				}
				if n {
					booked++
				}
			}
		}
		if len(subs) < f.Limit {
			return booked, nil
		}
		f.After = subs[len(subs)-1].ID
	}
}
