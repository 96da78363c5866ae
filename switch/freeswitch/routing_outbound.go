package freeswitch

// The per-call answer of an outside number: most lookups are answered
// from the tenant's cached rendering, but a number that an outbound
// route sends to gateways gets an answer of its own when the node
// authorizes calls (routing_authz.go) or the route orders its gateways
// by cost (routing_lcr.go), with or without the other.

import (
	"context"
	"net/url"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// outboundAnswer answers the lookup of dest in p's context, rendered as
// r, when dest is a number (as dialled, or its sb-o<number> label) that
// one of p's outbound routes sends to gateways and the answer depends on
// the call: a least-cost route's gateways are ordered first (a number
// nothing can carry is refused without reserving anything), then the
// call is authorized. ok is false when the cached answer applies.
func (h *xmlCurlHandler) outboundAnswer(ctx context.Context, p *provisioning.Plan, r *routingRender, dest string, f url.Values) (string, bool) {
	if h.authz == nil && h.lcr == nil {
		return "", false
	}
	if _, label := r.byKey[dest]; label {
		return "", false
	}
	num, viaLabel := strings.CutPrefix(dest, "sb-o")
	c := h.matchers.match(p, num)
	if c == nil || !c.gateway {
		return "", false
	}
	rt := c.route
	byCost := h.lcr != nil && costOrdered(rt)
	if !byCost && h.authz == nil {
		return "", false
	}
	out := rt.Prepend + num[min(rt.Strip, len(num)):]
	var order []int
	var outcome string
	if byCost {
		order, outcome = h.lcr.order(ctx, p, rt, out)
		if outcome == lcrUnrated {
			return r.wrap(extXML("sb-lcr", false, cond{field: "destination_number", expr: "^" + regexQuote(dest) + "$",
				acts: []act{lcrVar(p, rt, nil, outcome), {app: "hangup", data: "NO_ROUTE_DESTINATION"}}})), true
		}
	}
	var body string
	if h.authz != nil {
		acts, allowed := h.authorize(ctx, p, out, f)
		if !allowed {
			return r.wrap(authzExt(dest, false, acts)), true
		}
		body = authzExt(dest, true, acts)
	}
	if !byCost {
		return r.wrap(body + r.routes), true
	}
	expr, _ := routeExpr(rt) // it matched: it has one
	rr := &renderer{p: p, ctx: r.context}
	acts := append([]act{lcrVar(p, rt, order, outcome)}, rr.gatewayActs(rt, order)...)
	if !viaLabel {
		body += r.callerIDs
	}
	return r.wrap(body + routeExts(rt, expr, acts, viaLabel, !viaLabel)), true
}
