package cdr

import (
	"context"
	"errors"
	"strings"
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

// SupplierTariffs tells which compiled tariff prices what a gateway's
// supplier (the carrier behind it) charges for the calls sent to it: the
// buy price, next to the sell price Tariffs gives. It is optional: the
// pipeline and rerate price supplier costs when their Tariffs also
// implements it (as provisioning's supplier plans per gateway do through
// the daemon's tariff adapter), so that one source answers for "the
// tariffs of now", sell and buy side alike, and every place that prices
// (the pipeline, rerate, an import) gets supplier costs with no option
// of its own to forget. A Tariffs without it prices no supplier cost and
// leaves the supplier fields of the records as they are.
//
// "No plan" is as for Tariffs: a nil tariff with a nil error, or an
// error wrapping ErrNoTariff (an adapter passes a gateway unknown to the
// store, one deleted since the call, through as that). Any other error is
// a failed lookup: the leg is stored with SupplierUnpriced lookup_failed
// and priced again when replayed from the spool, or by rerate.
type SupplierTariffs interface {
	// GatewayTariff is the supplier plan in force for the gateway, by
	// its name (Record.Gateway).
	GatewayTariff(ctx context.Context, gateway string) (*rating.Tariff, error)
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

// SupplierUnpricedReasons lists the Unpriced values SupplierUnpriced may
// take: why a leg that went to a gateway has no supplier cost.
var SupplierUnpricedReasons = []Unpriced{
	UnpricedNoPlan, UnpricedNoRate, UnpricedInvalidNumber, UnpricedLookupFailed, UnpricedRatingError,
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

// NeedsSupplierPrice reports whether the pipeline still has to find r's
// supplier cost: r went to a gateway (see SupplierLeg), has no supplier
// cost, and none was found for a reason a later try cannot change (only a
// failed lookup is tried again). A record that arrives with its supplier
// cost keeps it, as it keeps its price.
func (r *Record) NeedsSupplierPrice() bool {
	return r.SupplierCost == nil && (r.SupplierUnpriced == "" || r.SupplierUnpriced == UnpricedLookupFailed) && SupplierLeg(r)
}

// ClearSupplierPrice removes r's supplier price and its reason.
func (r *Record) ClearSupplierPrice() {
	r.SupplierCost, r.SupplierCurrency, r.SupplierPrefix, r.SupplierPlan, r.SupplierUnpriced = nil, "", "", "", ""
}

// SamePrice reports whether a and b carry the same price, rate and plan,
// and the same supplier price: what rerate compares to find the CDRs a
// run changed.
func SamePrice(a, b *Record) bool {
	if !sameAmount(a.Cost, b.Cost) || !sameAmount(a.SupplierCost, b.SupplierCost) {
		return false
	}
	return a.Currency == b.Currency && a.RatePrefix == b.RatePrefix && a.RateDestination == b.RateDestination &&
		a.RateGroup == b.RateGroup && a.Plan == b.Plan && a.Unpriced == b.Unpriced &&
		a.SupplierCurrency == b.SupplierCurrency && a.SupplierPrefix == b.SupplierPrefix &&
		a.SupplierPlan == b.SupplierPlan && a.SupplierUnpriced == b.SupplierUnpriced
}

func sameAmount(a, b *money.Amount) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// SupplierLeg reports whether r is the leg that left the switch through
// its gateway, the one the gateway's supplier charges for: an outbound
// leg naming a gateway that is not the originating leg of its call.
//
// Both switches make one CDR per channel, and on both the caller's leg
// names the gateway too (FreeSWITCH's a-leg the gateway of its bridge
// target, Asterisk's caller channel the gateway endpoint it dialled), so
// the gateway cannot tell the legs apart; what can is which leg is the
// channel to the gateway: FreeSWITCH's b-leg (sofia/gateway/<gw>/…, its
// originator the a-leg) and Asterisk's dialled channel (PJSIP/<gw>-…,
// linked to the caller), neither of which started the call. That leg's
// times are the gateway's: it is answered when the carrier answers (the
// caller's leg may have been answered earlier, by an IVR), and a call
// that failed over from one gateway to the next has one caller leg but
// one leg per gateway tried, each owed to its own supplier.
//
// Asterisk's Master.csv has one row per call (the caller's channel,
// dstchannel the gateway) and no row for the dialled channel: a call
// that reaches the store only from that file (imported, or ended while
// Switchboard was down with cdr_file Master.csv) has no supplier cost.
// cel_custom's file has every leg (switch/asterisk's README).
func SupplierLeg(r *Record) bool {
	return r.Direction == DirectionOutbound && r.Gateway != "" && !originating(r)
}

// SentNumber is the number r was sent to its gateway as: the number
// part of Destination when Destination is "<number>@<Gateway>" (both
// switch adapters write a gateway leg's destination so, from the Dial or
// bridge target, after the route's number translation), else Dialed.
// Both prices use it: the supplier's, and the tenant's of an outbound
// call, since a phone dials 0033… and the route sends +33…, and the
// real-time authorizer rates the number as sent: a call authorized and
// cut at the second its money allowed would otherwise be stored
// unpriced (no_rate, seen live on FreeSWITCH) or at another rate.
func SentNumber(r *Record) string {
	if r.Gateway == "" {
		return r.Dialed
	}
	if n, ok := strings.CutSuffix(r.Destination, "@"+r.Gateway); ok && n != "" {
		return n
	}
	return r.Dialed
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
//     on the number it was sent to its gateway as (SentNumber: after
//     the route's strip and prepend, the number the real-time authorizer
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
// When t also implements SupplierTariffs, the supplier price of every
// record that NeedsSupplierPrice is set too, by these rules:
//
//   - Only the leg that went to the gateway has one (see SupplierLeg):
//     the dialled leg of an outbound call, not the caller's leg, though
//     both name the gateway. Every other leg has none (nil, no reason).
//   - An unanswered gateway leg (or one of no billable second) costs 0,
//     without a rate.
//   - An answered gateway leg is priced by its gateway's supplier plan, on
//     the number as sent to the gateway (SentNumber), for its own
//     Billsec, at the rate in force at its own Start.
//   - A gateway without a supplier plan, a number without a rate, a number
//     that is not digits, a failed lookup: no supplier cost, and
//     SupplierUnpriced says why (no_plan, no_rate, invalid_number,
//     lookup_failed, rating_error).
//
// The supplier cost is never charged to a balance: the tenant's price is
// Cost, on the originating leg.
//
// Pricing never fails a record: it returns the first lookup error (after
// which it asks t no more, as the store behind it is likely down, and
// marks the records left UnpricedLookupFailed), for the caller to log.
func PriceRecords(ctx context.Context, t Tariffs, recs []Record) error {
	pr := newPricer(t)
	for i := range recs {
		r := &recs[i]
		if r.NeedsPrice() {
			pr.price(ctx, r)
		}
		if r.NeedsSupplierPrice() {
			pr.priceSupplier(ctx, r)
		}
	}
	return pr.err
}

// Reprice prices every record of recs again, whatever price and supplier
// price it has, by PriceRecords' rules: what rerate does with the tariffs
// of now. Without SupplierTariffs, supplier prices are left as they are.
func Reprice(ctx context.Context, t Tariffs, recs []Record) error {
	pr := newPricer(t)
	for i := range recs {
		pr.price(ctx, &recs[i])
		pr.priceSupplier(ctx, &recs[i])
	}
	return pr.err
}

// pricer prices the records of one batch, remembering the answers of
// Tariffs (and SupplierTariffs) for the batch.
type pricer struct {
	t        Tariffs
	s        SupplierTariffs // nil: t prices no supplier cost
	tenants  map[int64]tariffAnswer
	dids     map[string]tariffAnswer
	gateways map[string]tariffAnswer
	err      error // the first lookup error: no more lookups after it
}

type tariffAnswer struct {
	tariff *rating.Tariff
	tenant int64
	failed bool
}

func newPricer(t Tariffs) *pricer {
	s, _ := t.(SupplierTariffs)
	return &pricer{t: t, s: s, tenants: map[int64]tariffAnswer{}, dids: map[string]tariffAnswer{}, gateways: map[string]tariffAnswer{}}
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
	return cachedLookup(pr, pr.tenants, tenant, func() (*rating.Tariff, int64, error) {
		t, err := pr.t.TenantTariff(ctx, tenant)
		return t, tenant, err
	})
}

func (pr *pricer) didTariff(ctx context.Context, number string) tariffAnswer {
	return cachedLookup(pr, pr.dids, number, func() (*rating.Tariff, int64, error) {
		return pr.t.DIDTariff(ctx, number)
	})
}

func (pr *pricer) gatewayTariff(ctx context.Context, gateway string) tariffAnswer {
	return cachedLookup(pr, pr.gateways, gateway, func() (*rating.Tariff, int64, error) {
		t, err := pr.s.GatewayTariff(ctx, gateway)
		return t, 0, err
	})
}

// cachedLookup answers key from cache, else by lookup (unless a lookup
// of the batch failed already), remembering the answer: one lookup per
// tenant, DID or gateway and batch.
func cachedLookup[K comparable](pr *pricer, cache map[K]tariffAnswer, key K, lookup func() (*rating.Tariff, int64, error)) tariffAnswer {
	if a, ok := cache[key]; ok {
		return a
	}
	if pr.err != nil {
		return tariffAnswer{failed: true}
	}
	t, tenant, err := lookup()
	a := tariffAnswer{tariff: t, tenant: tenant, failed: pr.lookupErr(err)}
	if a.failed || err != nil {
		a.tariff = nil
	}
	cache[key] = a
	return a
}

// priceSupplier sets r's supplier price (see PriceRecords), whatever it
// had; without SupplierTariffs it leaves r alone.
func (pr *pricer) priceSupplier(ctx context.Context, r *Record) {
	if pr.s == nil {
		return
	}
	r.ClearSupplierPrice()
	if !SupplierLeg(r) {
		return
	}
	if r.Disposition != Answered || r.Billsec <= 0 {
		var zero money.Amount
		r.SupplierCost = &zero
		return
	}
	a := pr.gatewayTariff(ctx, r.Gateway)
	switch {
	case a.failed:
		r.SupplierUnpriced = UnpricedLookupFailed
		return
	case a.tariff == nil:
		r.SupplierUnpriced = UnpricedNoPlan
		return
	}
	c, reason := rate(a.tariff, SentNumber(r), r)
	if reason != "" {
		r.SupplierUnpriced = reason
		return
	}
	cost := c.Cost
	r.SupplierCost, r.SupplierCurrency, r.SupplierPlan, r.SupplierPrefix = &cost, c.Currency, c.Plan, c.Rate.Prefix
}

// rate prices r's Billsec to number by t at r's start (or, without one,
// its end less its duration), or says why it cannot.
func rate(t *rating.Tariff, number string, r *Record) (rating.Charge, Unpriced) {
	start := r.Start
	if start.IsZero() {
		start = r.End.Add(-time.Duration(r.Duration) * time.Second)
	}
	c, err := t.Rate(number, start, r.Billsec)
	switch {
	case errors.Is(err, rating.ErrNoRate):
		return c, UnpricedNoRate
	case errors.Is(err, rating.ErrInvalidDestination):
		return c, UnpricedInvalidNumber
	case err != nil:
		return c, UnpricedRatingError
	}
	return c, ""
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
	number := r.Dialed
	if r.Direction == DirectionOutbound {
		number = SentNumber(r) // the number the authorizer rated
	}
	c, reason := rate(a.tariff, number, r)
	if reason != "" {
		r.Unpriced = reason
		return
	}
	cost := c.Cost
	r.Cost, r.Currency, r.Plan = &cost, c.Currency, c.Plan
	r.RatePrefix, r.RateDestination, r.RateGroup = c.Rate.Prefix, c.Rate.Destination, c.Rate.Group
}

// free prices r at nothing, by rule.
func free(r *Record) {
	var zero money.Amount
	r.Cost = &zero
}
