package provisioning

import (
	"context"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// Seeing a least-cost route's choice: the order of an outbound route's
// gateways for one number (RouteLCR, the native API's
// /outbound-routes/{id}/lcr) and the same order in the routing trace
// (PriceTrace). Both show what the switches will do, with the prices
// behind it; the supplier prices of a shared gateway, or of a parent
// tenant's gateway a route uses, are their operator's and shown only to
// those who see that gateway's tenant (admins for shared ones); the place
// of every gateway in the order is shown to all.

// RouteLCR is the gateway order of an outbound route for one number.
type RouteLCR struct {
	RouteID  int64       `json:"route_id"`
	TenantID int64       `json:"tenant_id"`
	Route    string      `json:"route"`
	Order    RouteOrder  `json:"order"`
	Action   RouteAction `json:"action"`
	// Number is the number as dialled; Matches says whether one of the
	// route's patterns takes it (the order is computed either way).
	Number  string `json:"number"`
	Matches bool   `json:"matches"`
	// Sent is the number as it leaves, after the route's strip and
	// prepend: the number the suppliers' plans price.
	Sent string    `json:"sent_number"`
	At   time.Time `json:"at"`
	// Gateways are the gateways in the order the switch tries them, each
	// with its supplier's price of the reference call (null: no supplier
	// plan, or a price the caller may not see). A listed-order route
	// shows its gateways in their order with their prices.
	Gateways []GatewayCost `json:"gateways"`
	// LeftOut are the gateways a cost-ordered route does not dial for the
	// number, and why.
	LeftOut []GatewayLeftOut `json:"left_out"`
}

// RouteLCR says in which order outbound route id tries its gateways for
// a call to number (as dialled) at at, and what each costs.
func (s *Service) RouteLCR(ctx context.Context, sc Scope, id int64, number string, at time.Time) (*RouteLCR, error) {
	if !dialNumberRe.MatchString(number) {
		return nil, Invalid("number", "must be a number to dial: digits, * and #, optionally a leading + (1 to 32)")
	}
	r, err := s.OutboundRoute(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if at.IsZero() {
		at = time.Now().UTC()
	}
	out := &RouteLCR{RouteID: r.ID, TenantID: r.TenantID, Route: r.Name, Order: r.Order, Action: r.Action,
		Number: number, Sent: r.Prepend + number[min(r.Strip, len(number)):], At: at,
		Gateways: []GatewayCost{}, LeftOut: []GatewayLeftOut{}}
	for _, p := range r.Patterns {
		if p.Match(number) {
			out.Matches = true
			break
		}
	}
	if r.Action == RouteBlock {
		out.Sent = ""
		return out, nil
	}
	kept, left, err := s.routeGateways(ctx, r, out.Sent, at)
	if err != nil {
		return nil, err
	}
	out.Gateways = append(out.Gateways, s.visibleCosts(ctx, sc, kept)...)
	for i := range left {
		left[i].GatewayCost = s.visibleCosts(ctx, sc, []GatewayCost{left[i].GatewayCost})[0]
	}
	out.LeftOut = append(out.LeftOut, left...)
	return out, nil
}

// routeGateways are route r's gateways for sent (the number as it
// leaves) as the switches dial them: by cost for a cost-ordered route,
// else in the listed order with their prices, none left out.
func (s *Service) routeGateways(ctx context.Context, r *OutboundRoute, sent string, at time.Time) ([]GatewayCost, []GatewayLeftOut, error) {
	if r.Order == RouteOrderCost {
		return s.costOrder(ctx, r.GatewayIDs, sent, at, true)
	}
	out := make([]GatewayCost, len(r.GatewayIDs))
	costs := make([]money.Amount, len(r.GatewayIDs))
	for i, id := range r.GatewayIDs {
		gc, reason, err := s.gatewayCost(ctx, id, sent, at, &costs[i])
		if err != nil && reason == "" {
			return nil, nil, err
		}
		out[i] = gc
	}
	return out, nil, nil
}

// visibleCosts blanks in gs the supplier prices the scope may not see:
// those of shared gateways, and of a parent tenant's gateways its routes
// use, unless the scope is an admin's.
func (s *Service) visibleCosts(ctx context.Context, sc Scope, gs []GatewayCost) []GatewayCost {
	if sc.All() {
		return gs
	}
	for i := range gs {
		if ref, err := s.gatewayRef(ctx, gs[i].GatewayID); err != nil || !ref.pricesSeenBy(sc) {
			gs[i] = GatewayCost{GatewayID: gs[i].GatewayID, Name: gs[i].Name}
		}
	}
	return gs
}

// PriceTrace puts the least-cost order into the dial_out steps of a trace
// (Plan.Trace and its variants, which read no tariffs) that leave through
// a cost-ordered route: their Gateways become the gateways in cost order
// for the number as it leaves at at, Costs the prices behind that order
// (as RouteLCR shows them), LeftOut the gateways not dialled.
func (s *Service) PriceTrace(ctx context.Context, sc Scope, steps []Step, at time.Time) error {
	for i := range steps {
		st := &steps[i]
		if st.route == nil || st.route.Order != RouteOrderCost || st.Blocked || len(st.Targets) == 0 {
			continue
		}
		kept, left, err := s.costOrder(ctx, st.route.GatewayIDs, st.Targets[0], at, true)
		if err != nil {
			return err
		}
		st.Gateways = st.Gateways[:0]
		for _, g := range kept {
			st.Gateways = append(st.Gateways, g.Name)
		}
		st.Costs = s.visibleCosts(ctx, sc, kept)
		for i := range left {
			left[i].GatewayCost = s.visibleCosts(ctx, sc, []GatewayCost{left[i].GatewayCost})[0]
		}
		st.LeftOut = left
	}
	return nil
}
