package freeswitch

// Real-time authorization of calls leaving through a gateway
// (provisioning/authz). With an Authorizer in XMLCurlConfig, the lookup
// of a number that one of the tenant's outbound routes sends to its
// gateways asks the authorizer first, in the same xml_curl request (no
// second round trip), and answers:
//
//   - allowed: the route's extensions after one more, continue="true",
//     that sets api_on_answer=sched_hangup +<max seconds> <uuid>
//     allotted_timeout: the call is hung up (cause ALLOTTED_TIMEOUT) that
//     many seconds after it is answered, which is where a prepaid call's
//     money runs out (the authorizer reserved that amount), to the
//     second, with Switchboard not involved any more;
//   - refused: one extension that hangs up with a cause for the reason
//     (authzCause), having set sb_authz to deny:<reason> for the CDR;
//   - the authorizer failed (its database): the node's policy,
//     AuthzFailClosed hangs up NORMAL_TEMPORARY_FAILURE, fail-open routes
//     the call without a limit (sb_authz=error).
//
// When Switchboard cannot be reached at all, mod_xml_curl's lookup fails
// and FreeSWITCH routes from the fallback file (routing_fallback.go):
// there the same policy is rendered into the routes (RoutingFallbackConfig
// AuthzFailClosed): fail-open bridges as usual, fail-closed hangs up
// outbound routes with NORMAL_TEMPORARY_FAILURE.

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
)

// CallAuthorizer is what the dialplan answers ask before a call leaves
// through a gateway (*authz.Authorizer implements it).
type CallAuthorizer interface {
	Authorize(ctx context.Context, c authz.Call) (authz.Decision, error)
}

// authzCause is the hangup cause of a refused call: barred for a
// destination the tenant may not call, rejected for money, congestion
// for a rate or concurrency limit (a phone tries again later).
func authzCause(r authz.Reason) string {
	switch r {
	case authz.ReasonNoRate, authz.ReasonNoPlan:
		return "OUTGOING_CALL_BARRED"
	case authz.ReasonConcurrent, authz.ReasonCallsPerMinute:
		return "NORMAL_CIRCUIT_CONGESTION"
	case authz.ReasonError:
		return "NORMAL_TEMPORARY_FAILURE"
	default:
		return "CALL_REJECTED"
	}
}

// routeMatchers keeps each tenant's outbound routes compiled, as long
// as its plan is the same.
type routeMatchers struct {
	mu sync.Mutex
	m  map[int64]compiledRoutes
}

type compiledRoutes struct {
	plan   *provisioning.Plan
	routes []compiledRoute
}

type compiledRoute struct {
	re    *regexp.Regexp
	route *provisioning.OutboundRoute
	// gateway: a normal route with a gateway. Block routes refuse by
	// themselves, and emergency calls are never refused nor limited.
	gateway bool
}

// match returns the route p sends dest through (the first whose pattern
// matches, as the rendered dialplan hunts), or nil.
func (m *routeMatchers) match(p *provisioning.Plan, dest string) *compiledRoute {
	m.mu.Lock()
	c, ok := m.m[p.Tenant.ID]
	m.mu.Unlock()
	if !ok || c.plan != p {
		c = compiledRoutes{plan: p}
		for _, rt := range p.Routes {
			var alts []string
			for _, pat := range rt.Patterns {
				if re, err := pat.Regexp(); err == nil {
					alts = append(alts, strings.TrimSuffix(strings.TrimPrefix(re, "^"), "$"))
				}
			}
			re, err := regexp.Compile("^(?:" + strings.Join(alts, "|") + ")$")
			if len(alts) == 0 || err != nil {
				continue
			}
			c.routes = append(c.routes, compiledRoute{re: re, route: rt, gateway: rt.Action == provisioning.RouteNormal && len(rt.GatewayIDs) > 0})
		}
		m.mu.Lock()
		if m.m == nil {
			m.m = map[int64]compiledRoutes{}
		}
		m.m[p.Tenant.ID] = c
		m.mu.Unlock()
	}
	for i := range c.routes {
		if c.routes[i].re.MatchString(dest) {
			return &c.routes[i]
		}
	}
	return nil
}

// authorizeRoute asks the authorizer about a call to dest in p's
// context. It returns the document to answer with (ok true) or, for a
// number no gateway route takes, ok false: the plain answer applies.
func (h *xmlCurlHandler) authorizeRoute(ctx context.Context, p *provisioning.Plan, r *routingRender, dest string, f url.Values) (string, bool) {
	if h.authz == nil {
		return "", false
	}
	if _, label := r.byKey[dest]; label {
		return "", false
	}
	rt := h.matchers.match(p, dest)
	if rt == nil || !rt.gateway {
		return "", false
	}
	num := dest
	if s := rt.route.Strip; s > 0 {
		num = num[min(s, len(num)):]
	}
	c := authz.Call{TenantID: p.Tenant.ID, Destination: rt.route.Prepend + num, Direction: authz.Outbound,
		Switch: h.node, CallID: first(f.Get("Unique-ID"), f.Get("Caller-Unique-ID"))}
	if a := h.callerAccount(ctx, f); a != nil && a.UserID != nil {
		c.UserID = *a.UserID
	}
	d, err := h.authz.Authorize(ctx, c)
	var acts []act
	switch {
	case err != nil && !h.authzFailClosed:
		h.log.WarnContext(ctx, "freeswitch: authorization failed, routing the call unlimited (fail-open)", "tenant", c.TenantID, "call", c.CallID, "err", err)
		acts = []act{{app: "set", data: "sb_authz=error"}}
	case err != nil:
		h.log.WarnContext(ctx, "freeswitch: authorization failed, refusing the call (fail-closed)", "tenant", c.TenantID, "call", c.CallID, "err", err)
		return authzDocument(r, dest, false, act{app: "set", data: "sb_authz=error"}, act{app: "hangup", data: authzCause(authz.ReasonError)}), true
	case !d.Allowed:
		return authzDocument(r, dest, false, act{app: "set", data: "sb_authz=deny:" + string(d.Reason)}, act{app: "hangup", data: authzCause(d.Reason)}), true
	default:
		secs := strconv.Itoa(d.MaxSeconds)
		// api_on_answer, not execute_on_answer: an application run on
		// answer would be the caller's leg's last_app instead of bridge,
		// and its CDR would lose the gateway (jsoncdr.go bridgeGateway),
		// leaving the call internal and never charged (seen live).
		acts = []act{{app: "set", data: "sb_authz=allow:" + secs}, {app: "set", data: "api_on_answer=sched_hangup +" + secs + " ${uuid} allotted_timeout"}}
	}
	return authzDocument(r, dest, true, acts...), true
}

// callerAccount is the calling phone's account (nil when not a phone:
// a DID's call running a destination that dials out).
func (h *xmlCurlHandler) callerAccount(ctx context.Context, f url.Values) *provisioning.Account {
	user, domain := f.Get("variable_user_name"), f.Get("variable_domain_name")
	if user == "" || domain == "" {
		return nil
	}
	a, err := h.dir.AccountByUsername(ctx, domain, user)
	if err != nil {
		return nil
	}
	return a
}

// authzDocument is the answer for dest: the authorization extension
// (continue: then the route's own extensions; else only it).
func authzDocument(r *routingRender, dest string, cont bool, acts ...act) string {
	body := extXML("sb-authz", cont, cond{field: "destination_number", expr: "^" + regexQuote(dest) + "$", acts: acts})
	if cont {
		body += r.routes
	}
	return r.wrap(body)
}
