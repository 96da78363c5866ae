package native

import (
	"net/http"
	"reflect"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Least-cost routing (provisioning/gateway_tariffs.go, provisioning/lcr*.go):
// a gateway's supplier plan, and the order a route's gateways are dialled
// in for a number, with the prices behind it.

func (s *server) lcrRoutes() []*route {
	svc := s.svc
	return []*route{
		{
			method: http.MethodGet, path: Prefix + "/gateways/{id}/tariff", op: "getGatewayTariff", tag: "tariff-plans",
			summary: "A gateway's supplier plan",
			doc:     "What the gateway's supplier charges (null: its cost is unknown). A shared gateway's is read by admins only (403).",
			resp:    response{status: http.StatusOK, typ: reflect.TypeFor[provisioning.GatewayTariffPlanInfo](), name: "GatewayTariff"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				info, err := svc.GatewayTariffPlan(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, info)
			},
		},
		{
			method: http.MethodPut, path: Prefix + "/gateways/{id}/tariff", op: "setGatewayTariff", tag: "tariff-plans",
			summary: "Give a gateway its supplier plan (null: its cost is unknown)",
			doc: "Least-cost routes (order cost) dial their gateways cheapest first by this plan's price of a one-minute call to the number, " +
				"and leave out a gateway whose plan has no rate for it; the CDR pipeline prices the gateway leg of a call with it. " +
				"A shared gateway's plan is set by admins only (403) and may be any plan; a tenant's gateway takes a plan of its tenant or of one of its parents, " +
				"set by the administrators of the tenant or above it. A plan in use cannot be deleted (409).",
			body: &body{typ: reflect.TypeFor[tariffAssignmentIn](), name: "TariffAssignment", required: []string{"tariff_plan_id"}},
			resp: response{status: http.StatusOK, typ: reflect.TypeFor[provisioning.GatewayTariffPlanInfo](), name: "GatewayTariff"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, in, err := s.assignmentIn(req)
				if err != nil {
					return err
				}
				info, err := svc.SetGatewayTariffPlan(req.Context(), c.scope, id, in.TariffPlanID)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, info)
			},
		},
		{
			method: http.MethodGet, path: Prefix + "/outbound-routes/{id}/lcr", op: "getOutboundRouteLCR", tag: "routing",
			summary: "The order an outbound route dials its gateways in for a number, with their costs",
			doc: "For a cost-ordered route: its gateways as the switches try them for a call to number at at (default now), " +
				"priced gateways cheapest first (a one-minute call, connection fee and increments included; one group per currency, " +
				"the first priced gateway's currency first), then those without a supplier plan in listed order; left_out lists the gateways " +
				"whose supplier has no rate for the number. A listed-order route shows its gateways in their order with their prices. " +
				"The number is priced as it leaves, after the route's strip and prepend. A gateway's prices are shown to those who see its tenant " +
				"(a shared gateway's to admins only, a parent tenant's gateway's not to the tenants below); its place in the order to all.",
			query: []param{
				{name: "number", typ: "string", doc: "the number as dialled (required): digits, * and #, optionally a leading +"},
				{name: "at", typ: "date-time", doc: "the time of the call (default now): rates by effective date, day and time window"},
			},
			resp: response{status: http.StatusOK, typ: reflect.TypeFor[provisioning.RouteLCR](), name: "OutboundRouteLCR"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				at, err := c.callTime(time.Now().UTC())
				if err != nil {
					return err
				}
				out, err := svc.RouteLCR(req.Context(), c.scope, id, c.str("number"), at)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, out)
			},
		},
	}
}

func init() {
	for k, v := range map[string]string{
		"GatewayTariff.gateway_id":     "the gateway",
		"GatewayTariff.name":           "the gateway's name",
		"GatewayTariff.tenant_id":      "the gateway's tenant; null for a shared gateway",
		"GatewayTariff.tariff_plan_id": "the gateway's supplier plan; null: its cost is unknown (a least-cost route tries it after the priced gateways)",
		"GatewayTariff.plan":           "the supplier plan; null when none",

		"OutboundRouteLCR.route_id":    "the outbound route",
		"OutboundRouteLCR.tenant_id":   "the route's tenant",
		"OutboundRouteLCR.route":       "the route's name",
		"OutboundRouteLCR.order":       "the route's gateway order: cost (least-cost routing) or listed",
		"OutboundRouteLCR.action":      "the route's action; a block route dials nothing",
		"OutboundRouteLCR.number":      "the number as dialled",
		"OutboundRouteLCR.matches":     "whether one of the route's patterns takes the number (the order is computed either way)",
		"OutboundRouteLCR.sent_number": "the number as it leaves, after strip and prepend: the number the supplier plans price",
		"OutboundRouteLCR.at":          "when the call starts",
		"OutboundRouteLCR.gateways":    "the gateways in the order the switches try them",
		"OutboundRouteLCR.left_out":    "the gateways a cost-ordered route does not dial for this number, and why",

		"GatewayCost.gateway_id":     "the gateway",
		"GatewayCost.name":           "the gateway's name",
		"GatewayCost.cost":           "the supplier's price of a one-minute call to the number (connection fee, increments, minimum and free seconds included), a decimal; null: no supplier plan, or a price the caller may not see (a shared gateway's, shown to admins only, or a parent tenant's gateway's)",
		"GatewayCost.currency":       "ISO 4217 code of cost",
		"GatewayCost.prefix":         "the supplier rate's prefix",
		"GatewayCost.destination":    "the supplier rate's destination",
		"GatewayCost.plan":           "the supplier plan's name",
		"GatewayLeftOut.gateway_id":  "the gateway",
		"GatewayLeftOut.name":        "the gateway's name",
		"GatewayLeftOut.cost":        "null: the gateway is not dialled",
		"GatewayLeftOut.currency":    "ISO 4217 code of the supplier plan",
		"GatewayLeftOut.prefix":      "empty",
		"GatewayLeftOut.destination": "empty",
		"GatewayLeftOut.plan":        "the supplier plan's name",
		"GatewayLeftOut.reason":      "no_rate (the supplier plan has no rate in force for the number: its supplier does not carry it), invalid_number (not digits with an optional +), no_price (the reference call cannot be priced), not_found (the gateway was deleted)",
		"GatewayLeftOut.detail":      "the lookup's message",

		"OutboundRoute.order":       "listed (default): the gateways are tried in the order of gateway_ids; cost: least-cost routing, cheapest supplier first for each number (see GET /outbound-routes/{id}/lcr), a gateway without a rate for the number left out",
		"OutboundRouteCreate.order": "listed (default): the gateways are tried in the order of gateway_ids; cost: least-cost routing, cheapest supplier first for each number (see GET /outbound-routes/{id}/lcr), a gateway without a rate for the number left out",
		"OutboundRoutePatch.order":  "listed: the gateways are tried in the order of gateway_ids; cost: least-cost routing, cheapest supplier first for each number",
		"RoutingTrace.steps":        "what the call does, in order",
		"TraceStep.order":           "a dial_out step: the route's gateway order (listed or cost)",
		"TraceStep.gateway_costs":   "a dial_out step through a cost-ordered route: the gateways in the order dialled, with their supplier prices",
		"TraceStep.left_out":        "a dial_out step through a cost-ordered route: the gateways not dialled for this number, and why",
	} {
		fieldDocs[k] = v
	}
}
