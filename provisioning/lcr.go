package provisioning

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
)

// GatewayCost is one gateway of a least-cost route (RouteOrderCost) for
// one number: what its supplier charges for a reference call to it. The
// switches dial an LCR route's gateways in the order
// (*Service).GatewaysByCost returns, which is the failover order of the
// call: the cheapest first, the next one when it is congested or
// unavailable.
type GatewayCost struct {
	GatewayID int64  `json:"gateway_id"`
	Name      string `json:"name"`
	// Cost is the supplier's price of the reference call; nil when the
	// gateway has no supplier plan (its cost is unknown).
	Cost     *money.Amount  `json:"cost"`
	Currency money.Currency `json:"currency,omitempty"`
	// Prefix, Destination are the supplier rate used (empty without one).
	Prefix      string `json:"prefix,omitempty"`
	Destination string `json:"destination,omitempty"`
	// Plan names the gateway's supplier plan (empty without one).
	Plan string `json:"plan,omitempty"`
}

// ReferenceCallSeconds is the length of the call a least-cost route
// prices each gateway's supplier at: one minute, its connection fee,
// increments, minimum and free seconds included, so that a supplier with
// a cheaper minute but a connection fee is compared as a real call.
const ReferenceCallSeconds = 60

// Why a least-cost route leaves a gateway out (GatewayLeftOut.Reason).
const (
	// LeftOutNoRate: the gateway's supplier plan has no rate in force
	// for the number at the call's time: its supplier does not carry
	// the destination.
	LeftOutNoRate = "no_rate"
	// LeftOutInvalidNumber: the number as it leaves is no number a plan
	// prices (not digits with an optional leading +).
	LeftOutInvalidNumber = "invalid_number"
	// LeftOutNoPrice: the plan has a rate but the reference call cannot
	// be priced with it (an amount out of range).
	LeftOutNoPrice = "no_price"
	// LeftOutNotFound: the gateway no longer exists (deleted while the
	// route was read).
	LeftOutNotFound = "not_found"
)

// GatewayLeftOut is a gateway a least-cost route does not dial for a
// number, and why (a LeftOut constant, and the lookup's message).
type GatewayLeftOut struct {
	GatewayCost
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// GatewaysByCost orders gateways (a least-cost route's GatewayIDs, in
// their listed order) for a call to number starting at at (zero: now).
// number is the number as it leaves to the gateway, after the route's
// strip and prepend. The rules:
//
//   - each gateway's supplier cost is its supplier plan's price of a
//     reference call of ReferenceCallSeconds to number at at (connection
//     fee, increments, minimum and free seconds included), with the rate
//     in force at at (effective dates, days, time windows);
//   - the gateways with a supplier price come first, cheapest first,
//     ties keeping the listed order;
//   - prices in different currencies are not compared (no exchange
//     rates): the priced gateways form one group per currency, the groups
//     in the order their currency first appears in the listed order, each
//     group cheapest first;
//   - the gateways without a supplier plan follow, in the listed order
//     (their cost is unknown, so they are the fallback, not left out);
//   - a gateway whose plan has no rate for the number (or for which the
//     number is no valid number) is left out: its supplier does not carry
//     that destination. So is a gateway that no longer exists;
//   - when that leaves nothing, the answer is empty, not an error: the
//     switch refuses the call as having no route.
//
// It answers from memory (the gateways' supplier plans and their compiled
// tariffs are cached, see tariffs_cache.go): on the hot path of every LCR
// call it reads no database. An error means the store failed with nothing
// cached.
func (s *Service) GatewaysByCost(ctx context.Context, gatewayIDs []int64, number string, at time.Time) ([]GatewayCost, error) {
	out, _, err := s.costOrder(ctx, gatewayIDs, number, at, false)
	return out, err
}

// costOrder is GatewaysByCost, also returning the gateways left out when
// why is set.
func (s *Service) costOrder(ctx context.Context, ids []int64, number string, at time.Time, why bool) ([]GatewayCost, []GatewayLeftOut, error) {
	if at.IsZero() {
		at = time.Now()
	}
	out := make([]GatewayCost, 0, len(ids))
	costs := make([]money.Amount, len(ids)) // one allocation for every Cost
	var left []GatewayLeftOut
	for i, id := range ids {
		gc, reason, err := s.gatewayCost(ctx, id, number, at, &costs[i])
		switch {
		case err != nil && reason == "":
			return nil, nil, err
		case reason != "":
			if why {
				left = append(left, GatewayLeftOut{GatewayCost: gc, Reason: reason, Detail: err.Error()})
			}
		default:
			out = append(out, gc)
		}
	}
	sortByCost(out)
	return out, left, nil
}

// gatewayCost prices the reference call to number through gateway id,
// writing its cost to *cost. A gateway the route must leave out comes with
// a reason and the error saying why; an error without a reason is the
// store's.
func (s *Service) gatewayCost(ctx context.Context, id int64, number string, at time.Time, cost *money.Amount) (GatewayCost, string, error) {
	gc := GatewayCost{GatewayID: id}
	ref, err := s.gatewayRef(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return gc, LeftOutNotFound, err
	}
	if err != nil {
		return gc, "", err
	}
	gc.Name = ref.name
	t, err := s.supplierTariff(ctx, ref)
	if err != nil || t == nil {
		return gc, "", err
	}
	gc.Plan, gc.Currency = t.Name(), t.Currency()
	c, err := t.Rate(number, at, ReferenceCallSeconds)
	switch {
	case errors.Is(err, rating.ErrNoRate):
		return gc, LeftOutNoRate, err
	case errors.Is(err, rating.ErrInvalidDestination):
		return gc, LeftOutInvalidNumber, err
	case err != nil:
		return gc, LeftOutNoPrice, err
	}
	*cost = c.Cost
	gc.Cost, gc.Prefix, gc.Destination = cost, c.Rate.Prefix, c.Rate.Destination
	return gc, "", nil
}

// sortByCost puts gs (in listed order) in GatewaysByCost's order. It is
// stable, so equal costs, and the unpriced gateways, keep the listed
// order.
func sortByCost(gs []GatewayCost) {
	// The currencies in the order they first appear: a route has at most
	// MaxRouteGateways gateways, so a linear search beats a map.
	var currencies []money.Currency
	for i := range gs {
		if gs[i].Cost != nil && !slices.Contains(currencies, gs[i].Currency) {
			currencies = append(currencies, gs[i].Currency)
		}
	}
	group := func(g *GatewayCost) int {
		if g.Cost == nil {
			return len(currencies)
		}
		return slices.Index(currencies, g.Currency)
	}
	slices.SortStableFunc(gs, func(a, b GatewayCost) int {
		ga, gb := group(&a), group(&b)
		switch {
		case ga != gb:
			return ga - gb
		case a.Cost == nil: // both unpriced
			return 0
		case *a.Cost < *b.Cost:
			return -1
		case *a.Cost > *b.Cost:
			return 1
		}
		return 0
	})
}
