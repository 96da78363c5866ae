package provisioning

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// Billing settings: how a tenant (the seeds' customer) pays for its
// calls. The money itself (ledger, balances, invoices) is kept by the CDR
// store beside the priced CDRs it is charged from; these settings say how
// it may be spent.
//
// Settings are per tenant, not per user: a CDR carries its tenant and
// its SIP account, and the ledger and balances are keyed by tenant, so a
// user's calls are its tenant's money. A user that needs a balance of its
// own (a seed "customer user" with its own credit) is made a tenant of
// its own below its customer; per-user balances inside one tenant would
// need the account's user on every CDR and ledger entry and balances
// keyed by (tenant, user), which nothing reads yet.
//
// Settings are not inherited: each tenant's balance is its own, and a
// reseller's credit limit is not a customer's. A tenant without settings
// is postpaid without a credit limit in its plan's currency, which is
// what every tenant was before billing existed (nothing is refused).

// Billing modes.
const (
	BillingPrepaid  = "prepaid"
	BillingPostpaid = "postpaid"
)

// MaxVATPercent bounds a VAT percent: 100 % is already beyond any law.
var MaxVATPercent = 100 * money.Unit

// BillingSettings are a tenant's account settings.
type BillingSettings struct {
	TenantID int64 `json:"tenant_id" db:"tenant_id"`
	// Mode is prepaid (calls only while the balance is above zero) or
	// postpaid (the balance may go down to -CreditLimit).
	Mode string `json:"mode" db:"mode"`
	// CreditLimit is how far below zero a postpaid balance may go; null
	// is no limit ("No Limit" in the seeds). Prepaid: always 0.
	CreditLimit *money.Amount `json:"credit_limit" db:"credit_limit"`
	// Currency is the balance's currency: the tariff plan's, which it
	// must match (empty when written: the plan's).
	Currency money.Currency `json:"currency" db:"currency"`
	// VATPercent is added to invoices (19 for 19 %).
	VATPercent money.Amount `json:"vat_percent" db:"vat_percent"`
	UpdatedAt  time.Time    `json:"updated_at" db:"updated_at"`
}

func (b *BillingSettings) ownerTenant() (int64, bool) { return b.TenantID, true }

// validate checks the settings' own fields, naming the first bad one.
func (b *BillingSettings) validate() error {
	switch b.Mode {
	case BillingPrepaid:
		if b.CreditLimit != nil && *b.CreditLimit != 0 {
			return Invalid("credit_limit", "a prepaid account has no credit: leave it out or use mode postpaid")
		}
		zero := money.Amount(0)
		b.CreditLimit = &zero
	case BillingPostpaid:
		if b.CreditLimit != nil && *b.CreditLimit < 0 {
			return Invalid("credit_limit", "must be 0 or more (how far below zero the balance may go), or null for no limit")
		}
	default:
		return Invalid("mode", "must be prepaid or postpaid (got %q)", b.Mode)
	}
	if b.Currency != "" {
		c, err := money.ParseCurrency(string(b.Currency))
		if err != nil {
			return Invalid("currency", "must be an ISO 4217 code of three letters such as USD or EUR (got %q)", b.Currency)
		}
		b.Currency = c
	}
	if b.VATPercent < 0 || b.VATPercent > MaxVATPercent {
		return Invalid("vat_percent", "must be 0 to 100")
	}
	return nil
}

// BillingStore is what billing settings and subscriptions need of the
// Store. TenantBilling returns ErrNotFound for a tenant without settings.
type BillingStore interface {
	TenantBilling(ctx context.Context, tenantID int64) (*BillingSettings, error)
	SetTenantBilling(ctx context.Context, b *BillingSettings) error
	// BillingLimits lists the settings that limit spending: prepaid, or
	// postpaid with a credit limit.
	BillingLimits(ctx context.Context) ([]BillingSettings, error)

	CreateSubscription(ctx context.Context, sub *Subscription) error
	Subscription(ctx context.Context, id int64) (*Subscription, error)
	Subscriptions(ctx context.Context, f SubscriptionFilter) ([]Subscription, error)
	UpdateSubscription(ctx context.Context, sub *Subscription) error
	DeleteSubscription(ctx context.Context, id int64) error
}

var errNoBillingStore = errors.New("provisioning: the store keeps no billing settings")

func (s *Service) billingStore() (BillingStore, error) {
	bs, ok := s.store.(BillingStore)
	if !ok {
		return nil, errNoBillingStore
	}
	return bs, nil
}

// TenantBilling returns tenant id's settings: its own, or the defaults
// (postpaid, no limit, its plan's currency, no VAT) with a zero UpdatedAt
// when it has none.
func (s *Service) TenantBilling(ctx context.Context, sc Scope, id int64) (*BillingSettings, error) {
	bs, err := s.billingStore()
	if err != nil {
		return nil, err
	}
	if _, err := s.tenantInScope(ctx, sc, id); err != nil {
		return nil, err
	}
	return s.tenantBilling(ctx, bs, id)
}

// tenantBilling is TenantBilling without the scope check.
func (s *Service) tenantBilling(ctx context.Context, bs BillingStore, id int64) (*BillingSettings, error) {
	b, err := bs.TenantBilling(ctx, id)
	if errors.Is(err, ErrNotFound) {
		cur, err := s.planCurrency(ctx, id)
		if err != nil {
			return nil, err
		}
		return &BillingSettings{TenantID: id, Mode: BillingPostpaid, Currency: cur}, nil
	}
	return b, err
}

// planCurrency is the currency of the plan that prices tenant id's calls
// ("" when none does).
func (s *Service) planCurrency(ctx context.Context, id int64) (money.Currency, error) {
	t, err := s.TenantTariff(ctx, id)
	if err != nil || t == nil {
		return "", err
	}
	return t.Currency(), nil
}

// SetTenantBilling replaces tenant id's settings with b. Like a tariff
// plan, they are set by the tenant's parents' administrators (or an
// admin), never by the tenant itself: a customer does not choose its own
// credit. The currency must be that of the tenant's tariff plan (empty:
// the plan's); a tenant without a plan must name one.
func (s *Service) SetTenantBilling(ctx context.Context, sc Scope, id int64, b *BillingSettings) (*BillingSettings, error) {
	bs, err := s.billingWriter(ctx, sc, id, "billing settings are set")
	if err != nil {
		return nil, err
	}
	b.TenantID = id
	if err := b.validate(); err != nil {
		return nil, err
	}
	plan, err := s.planCurrency(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case b.Currency == "" && plan == "":
		return nil, Invalid("currency", "is required: the tenant has no tariff plan to take it from")
	case b.Currency == "":
		b.Currency = plan
	case plan != "" && b.Currency != plan:
		return nil, Invalid("currency", "must be %s, the currency of the tenant's tariff plan (got %s): a balance is kept in the currency its calls are priced in", plan, b.Currency)
	}
	if err := bs.SetTenantBilling(ctx, b); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateTariff})
	return b, nil
}

// ErrBillingCurrency is a tenant whose settings' currency is no longer
// its tariff plan's (the plan was changed after): BillingPolicy refuses
// to answer rather than compare a balance with prices in another
// currency.
var ErrBillingCurrency = errors.New("provisioning: billing currency differs from the tariff plan's")

// billingPolicy is BillingPolicy's cached answer.
type billingPolicy struct {
	prepaid  bool
	limit    *money.Amount
	currency money.Currency
	mismatch error
}

// BillingPolicy is what the real-time authorizer asks before each call:
// whether tenant id is prepaid, how far below zero its balance may go
// (nil: no limit; prepaid: 0) and the balance's currency. Answered from
// memory after the first call, kept current like TenantTariff (a change
// of the settings or of any tariff assignment drops it). A tenant whose
// settings name another currency than its plan's gets
// ErrBillingCurrency (wrapped in a ConflictError); ErrNotFound means the
// tenant does not exist.
func (s *Service) BillingPolicy(ctx context.Context, tenantID int64) (prepaid bool, creditLimit *money.Amount, currency money.Currency, err error) {
	p, err := load(ctx, s, &s.billing, "billing policy", tenantID, func(ctx context.Context, id int64) (billingPolicy, error) {
		bs, err := s.billingStore()
		if err != nil {
			return billingPolicy{}, err
		}
		if _, err := s.store.Tenant(ctx, id); err != nil {
			return billingPolicy{}, err
		}
		b, err := s.tenantBilling(ctx, bs, id)
		if err != nil {
			return billingPolicy{}, err
		}
		p := billingPolicy{prepaid: b.Mode == BillingPrepaid, limit: b.CreditLimit, currency: b.Currency}
		plan, err := s.planCurrency(ctx, id)
		if err != nil {
			return billingPolicy{}, err
		}
		if plan != "" && plan != b.Currency {
			p.mismatch = Conflict("currency", "tenant %d is billed in %s but its tariff plan prices in %s", id, b.Currency, plan)
		}
		return p, nil
	})
	if err != nil {
		return false, nil, "", err
	}
	if p.mismatch != nil {
		return false, nil, "", errors.Join(p.mismatch, ErrBillingCurrency)
	}
	var limit *money.Amount
	if p.limit != nil {
		l := *p.limit
		limit = &l // the caller may not change the cached value
	}
	return p.prepaid, limit, p.currency, nil
}

// invalidateBilling drops cached billing policies when what they were
// read from may have changed: settings and tariff assignments
// (InvalidateTariff), tenants (moved, deleted) and everything.
func (s *Service) invalidateBilling(inv Invalidation) {
	switch inv.Kind {
	case InvalidateToken, InvalidateDomain, InvalidateRouting, InvalidateWhitelist:
	default:
		s.billing.clear()
	}
}

// BillingWrite checks that sc may move tenant id's money (book a
// payment, issue an invoice) and returns the tenant's settings (its
// currency and VAT). The rule is the settings' own: an admin, or the
// administrators of a tenant above it; never the tenant itself, which
// reads its balance, payments and invoices but does not credit itself.
func (s *Service) BillingWrite(ctx context.Context, sc Scope, id int64) (*BillingSettings, error) {
	bs, err := s.billingWriter(ctx, sc, id, "payments and invoices are booked")
	if err != nil {
		return nil, err
	}
	return s.tenantBilling(ctx, bs, id)
}

// billingWriter checks that sc may write tenant id's billing (what it
// does, for the refusal) and returns the store.
func (s *Service) billingWriter(ctx context.Context, sc Scope, id int64, what string) (BillingStore, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	bs, err := s.billingStore()
	if err != nil {
		return nil, err
	}
	if _, err := s.tenantInScope(ctx, sc, id); err != nil {
		return nil, err
	}
	if !sc.All() && id == sc.TenantID {
		return nil, Forbidden("", "a tenant's %s by its parent's administrators", what)
	}
	return bs, nil
}

// CurrencyFor returns the currency of an amount booked to the tenant:
// given, which must be its billing currency, or that one when given is
// empty. Another currency is refused, naming the field currency: a
// balance is kept in the one currency its calls are priced in.
func (b *BillingSettings) CurrencyFor(given money.Currency) (money.Currency, error) {
	if given != "" {
		c, err := money.ParseCurrency(string(given))
		if err != nil {
			return "", Invalid("currency", "must be an ISO 4217 code of three letters such as USD or EUR (got %q)", given)
		}
		given = c
	}
	switch {
	case given == "" && b.Currency == "":
		return "", Invalid("currency", "is required: the tenant has no billing currency")
	case given == "":
		return b.Currency, nil
	case b.Currency != "" && given != b.Currency:
		return "", Invalid("currency", "must be %s, the tenant's billing currency (got %s)", b.Currency, given)
	}
	return given, nil
}

// CountLowBalances counts, by mode, the tenants whose spending is limited
// (prepaid, or postpaid with a credit limit) and whose available money,
// balance + credit limit in their billing currency, is below threshold:
// with 0, those the authorizer refuses. balance returns a tenant's
// balance in a currency (0 when it has none). For the
// switchboard_billing_low_balances gauge.
func (s *Service) CountLowBalances(ctx context.Context, threshold money.Amount,
	balance func(ctx context.Context, tenantID int64, c money.Currency) (money.Amount, error)) (map[string]int, error) {
	bs, err := s.billingStore()
	if err != nil {
		return nil, err
	}
	limits, err := bs.BillingLimits(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{BillingPrepaid: 0, BillingPostpaid: 0}
	for _, b := range limits {
		bal, err := balance(ctx, b.TenantID, b.Currency)
		if err != nil {
			return nil, err
		}
		avail, err := bal.Add(*b.CreditLimit)
		if err != nil {
			continue // beyond any threshold
		}
		if avail < threshold {
			out[b.Mode]++
		}
	}
	return out, nil
}
