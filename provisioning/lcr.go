package provisioning

import "github.com/switchboard-voip/switchboard/internal/money"

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
