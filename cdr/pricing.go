package cdr

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
)

// Tariffs tells which compiled tariff prices a tenant's outbound calls
// and an inbound DID's calls. The pipeline asks it as it stores CDRs and
// rerate asks it for a period; provisioning.Service implements it (plans
// per tenant, inherited down the tenant tree, and per DID).
//
// "No plan" is a nil tariff with a nil error, or an error wrapping
// ErrNoTariff (so an adapter can pass its store's not-found through).
// Any other error means the lookup failed (the store is down): the
// record is stored unpriced (UnpricedLookupFailed) and priced again if
// it is written later from the spool; rerate stops on it.
type Tariffs interface {
	// TenantTariff is the plan in force for the tenant's outbound calls.
	TenantTariff(ctx context.Context, tenantID int64) (*rating.Tariff, error)
	// DIDTariff is the plan of the inbound DID number and the tenant
	// owning the DID.
	DIDTariff(ctx context.Context, number string) (*rating.Tariff, int64, error)
}

// ErrNoTariff is what a Tariffs implementation may wrap to say there is
// no plan for the tenant or the DID; see Tariffs.
var ErrNoTariff = errors.New("cdr: no tariff plan")

// Unpriced is why a CDR has no price. Its values are few and fixed: they
// label switchboard_cdr_unpriced_total.
type Unpriced string

// The reasons a CDR is stored without a price.
const (
	// UnpricedNoTenant: a billable leg without an owner to charge.
	UnpricedNoTenant Unpriced = "no_tenant"
	// UnpricedNoPlan: the owner of an outbound leg has no tariff plan.
	UnpricedNoPlan Unpriced = "no_plan"
	// UnpricedNoRate: the plan has no rate in force for the number
	// dialled at the call's start (rating.ErrNoRate).
	UnpricedNoRate Unpriced = "no_rate"
	// UnpricedInvalidNumber: the number dialled is not digits (a feature
	// code, a SIP URI): no prefix can match it.
	UnpricedInvalidNumber Unpriced = "invalid_number"
	// UnpricedLookupFailed: the tariff (or the owner) could not be looked
	// up; the record was stored all the same. A record spooled this way is
	// priced again when it is replayed; rerate prices the others.
	UnpricedLookupFailed Unpriced = "lookup_failed"
	// UnpricedOtherTenant: an inbound leg to a DID of another tenant than
	// the leg's owner; never charged to one tenant at another's prices.
	UnpricedOtherTenant Unpriced = "did_other_tenant"
	// UnpricedNoDirection: a leg whose direction the switch adapter could
	// not tell: whether it is billable is unknown.
	UnpricedNoDirection Unpriced = "no_direction"
	// UnpricedRatingError: the rating engine refused the call (an amount
	// out of range).
	UnpricedRatingError Unpriced = "rating_error"
)

// UnpricedReasons lists every Unpriced value.
var UnpricedReasons = []Unpriced{
	UnpricedNoTenant, UnpricedNoPlan, UnpricedNoRate, UnpricedInvalidNumber,
	UnpricedLookupFailed, UnpricedOtherTenant, UnpricedNoDirection, UnpricedRatingError,
}

// NeedsPrice reports whether the pipeline still has to price r: it has
// no price, and none was found for a reason that a later try cannot
// change (only a failed lookup is tried again). A record that arrives
// priced (from the spool, or a trusted producer) keeps its price.
func (r *Record) NeedsPrice() bool {
	return r.Cost == nil && (r.Unpriced == "" || r.Unpriced == UnpricedLookupFailed)
}

// ClearPrice removes r's price and its reason.
func (r *Record) ClearPrice() {
	r.Cost, r.Currency, r.RatePrefix, r.RateDestination, r.RateGroup, r.Plan, r.Unpriced = nil, "", "", "", "", "", ""
}

// SamePrice reports whether a and b carry the same price, rate and plan.
func SamePrice(a, b *Record) bool {
	if (a.Cost == nil) != (b.Cost == nil) || a.Cost != nil && *a.Cost != *b.Cost {
		return false
	}
	return a.Currency == b.Currency && a.RatePrefix == b.RatePrefix && a.RateDestination == b.RateDestination &&
		a.RateGroup == b.RateGroup && a.Plan == b.Plan && a.Unpriced == b.Unpriced
}

// PriceRecords prices every record of recs that NeedsPrice, with t,
// asking t once per tenant and per DID. The rules:
//
//   - A call is priced once, on its originating leg (the leg whose
//     CallID is its LinkedID, as the call counters count calls: see
//     originating). Its other legs (the dialled legs, which on both
//     switches repeat the call's direction and number) cost 0, or the
//     call would be charged once per leg.
//   - An internal leg, and a leg that was not answered (or lasted no
//     billable second), costs 0, without a rate: nobody pays for it.
//   - An answered outbound leg is priced by its owner's (TenantID) plan,
//     on the number it was sent to its gateway as (sentNumber: after the
//     route's strip and prepend, the number the real-time authorizer
//     rated), else the number dialled (Dialed), for Billsec seconds, at
//     the rate in force at its Start (rating.Tariff.Rate: the rate at the start prices
//     the whole call, as the switch was told before the call).
//   - An answered inbound leg to a DID with a plan is priced by that plan
//     and charged to the DID's tenant: a leg without an owner gets the
//     DID's (its number, its call); a leg owned by another tenant is left
//     unpriced (UnpricedOtherTenant). An inbound leg to a number without a
//     plan costs 0.
//   - Otherwise the leg is left without a price and Unpriced says why.
//
// Pricing never fails a record: it returns the first lookup error (after
// which it asks t no more, as the store behind it is likely down, and
// marks the records left UnpricedLookupFailed), for the caller to log.
func PriceRecords(ctx context.Context, t Tariffs, recs []Record) error {
	return priceEach(ctx, t, len(recs), func(i int) *Record {
		if recs[i].NeedsPrice() {
			return &recs[i]
		}
		return nil
	})
}

// Reprice prices every record of recs again, whatever price it has, by
// PriceRecords' rules: what rerate does with the tariffs of now.
func Reprice(ctx context.Context, t Tariffs, recs []Record) error {
	return priceEach(ctx, t, len(recs), func(i int) *Record { return &recs[i] })
}

// priceEach prices the records rec(i) returns for i in [0, n) (nil: skip
// i) and returns the first lookup error.
func priceEach(ctx context.Context, t Tariffs, n int, rec func(int) *Record) error {
	pr := newPricer(t)
	for i := range n {
		if r := rec(i); r != nil {
			pr.price(ctx, r)
		}
	}
	return pr.err
}

// pricer prices the records of one batch, remembering the answers of
// Tariffs for the batch.
type pricer struct {
	t       Tariffs
	tenants map[int64]tariffAnswer
	dids    map[string]tariffAnswer
	err     error // the first lookup error: no more lookups after it
}

type tariffAnswer struct {
	tariff *rating.Tariff
	tenant int64
	failed bool
}

func newPricer(t Tariffs) *pricer {
	return &pricer{t: t, tenants: map[int64]tariffAnswer{}, dids: map[string]tariffAnswer{}}
}

// lookupErr sorts a lookup's error: nil or ErrNoTariff is an answer (no
// plan), anything else a failure that stops further lookups.
func (pr *pricer) lookupErr(err error) (failed bool) {
	if err == nil || errors.Is(err, ErrNoTariff) {
		return false
	}
	if pr.err == nil {
		pr.err = err
	}
	return true
}

func (pr *pricer) tenantTariff(ctx context.Context, tenant int64) tariffAnswer {
	if a, ok := pr.tenants[tenant]; ok {
		return a
	}
	if pr.err != nil {
		return tariffAnswer{failed: true}
	}
	t, err := pr.t.TenantTariff(ctx, tenant)
	a := tariffAnswer{tariff: t, tenant: tenant, failed: pr.lookupErr(err)}
	if a.failed || err != nil {
		a.tariff = nil
	}
	pr.tenants[tenant] = a
	return a
}

func (pr *pricer) didTariff(ctx context.Context, number string) tariffAnswer {
	if a, ok := pr.dids[number]; ok {
		return a
	}
	if pr.err != nil {
		return tariffAnswer{failed: true}
	}
	t, tenant, err := pr.t.DIDTariff(ctx, number)
	a := tariffAnswer{tariff: t, tenant: tenant, failed: pr.lookupErr(err)}
	if a.failed || err != nil {
		a.tariff = nil
	}
	pr.dids[number] = a
	return a
}

// price sets r's price (see PriceRecords), whatever it had.
func (pr *pricer) price(ctx context.Context, r *Record) {
	r.ClearPrice()
	if r.Direction == DirectionInternal || r.Disposition != Answered || r.Billsec <= 0 || !originating(r) {
		free(r)
		return
	}
	var a tariffAnswer
	switch r.Direction {
	case DirectionOutbound:
		if r.TenantID == nil {
			r.Unpriced = UnpricedNoTenant
			return
		}
		if a = pr.tenantTariff(ctx, *r.TenantID); a.tariff == nil && !a.failed {
			r.Unpriced = UnpricedNoPlan
			return
		}
	case DirectionInbound:
		if a = pr.didTariff(ctx, r.Dialed); a.tariff == nil && !a.failed {
			free(r) // a DID without a plan: inbound calls cost nothing
			return
		}
		if !a.failed {
			switch {
			case a.tenant <= 0:
				r.Unpriced = UnpricedNoTenant
				return
			case r.TenantID == nil:
				id := a.tenant
				r.TenantID = &id
			case *r.TenantID != a.tenant:
				r.Unpriced = UnpricedOtherTenant
				return
			}
		}
	default:
		r.Unpriced = UnpricedNoDirection
		return
	}
	if a.failed {
		r.Unpriced = UnpricedLookupFailed
		return
	}
	start := r.Start
	if start.IsZero() {
		start = r.End.Add(-time.Duration(r.Duration) * time.Second)
	}
	number := r.Dialed
	if r.Direction == DirectionOutbound {
		number = sentNumber(r)
	}
	c, err := a.tariff.Rate(number, start, r.Billsec)
	switch {
	case errors.Is(err, rating.ErrNoRate):
		r.Unpriced = UnpricedNoRate
	case errors.Is(err, rating.ErrInvalidDestination):
		r.Unpriced = UnpricedInvalidNumber
	case err != nil:
		r.Unpriced = UnpricedRatingError
	default:
		cost := c.Cost
		r.Cost, r.Currency, r.Plan = &cost, c.Currency, c.Plan
		r.RatePrefix, r.RateDestination, r.RateGroup = c.Rate.Prefix, c.Rate.Destination, c.Rate.Group
	}
}

// free prices r at nothing, by rule.
func free(r *Record) {
	var zero money.Amount
	r.Cost = &zero
}
