package freeswitch

// Real-time authorization of calls leaving through a gateway
// (provisioning/authz). With an Authorizer in XMLCurlConfig, the lookup
// of a number that one of the tenant's outbound routes sends to its
// gateways, as dialled by a phone or as the sb-o<number> label a
// destination runs (a forward, an IVR option, a custom destination),
// asks the authorizer first, in the same xml_curl request (no second
// round trip; routing_outbound.go), and answers:
//
//   - allowed: the route's extensions after one more, continue="true",
//     that exports execute_on_answer_sb_limit=sched_hangup +<max seconds>
//     allotted_timeout to the gateway legs (limitAct): the call is hung
//     up (cause ALLOTTED_TIMEOUT) that many seconds after the gateway
//     answered, which is where a prepaid call's money runs out (the
//     authorizer reserved that amount), to the second, with Switchboard
//     not involved any more; also when the caller's channel was answered
//     before it dialled out;
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
	case authz.ReasonNoRate, authz.ReasonNoPlan, authz.ReasonNotWhitelisted:
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

// authorize asks the authorizer about a call leaving for number (after
// its route's strip and prepend). It returns the actions to run before
// the route's (allowed true: the call's limit, or fail-open's mark) or
// those that refuse the call (allowed false).
func (h *xmlCurlHandler) authorize(ctx context.Context, p *provisioning.Plan, number string, f url.Values) (acts []act, allowed bool) {
	c := authz.Call{TenantID: p.Tenant.ID, Destination: number, Direction: authz.Outbound,
		Switch: h.node, CallID: first(f.Get("Unique-ID"), f.Get("Caller-Unique-ID"))}
	if a := h.callerAccount(ctx, f); a != nil && a.UserID != nil {
		c.UserID = *a.UserID
	}
	d, err := h.authz.Authorize(ctx, c)
	switch {
	case err != nil && !h.authzFailClosed:
		h.log.WarnContext(ctx, "freeswitch: authorization failed, routing the call unlimited (fail-open)", "tenant", c.TenantID, "call", c.CallID, "err", err)
		return []act{{app: "set", data: "sb_authz=error"}}, true
	case err != nil:
		h.log.WarnContext(ctx, "freeswitch: authorization failed, refusing the call (fail-closed)", "tenant", c.TenantID, "call", c.CallID, "err", err)
		return []act{{app: "set", data: "sb_authz=error"}, {app: "hangup", data: authzCause(authz.ReasonError)}}, false
	case !d.Allowed:
		return []act{{app: "set", data: "sb_authz=deny:" + string(d.Reason)}, {app: "hangup", data: authzCause(d.Reason)}}, false
	}
	secs := strconv.Itoa(d.MaxSeconds)
	return []act{{app: "set", data: "sb_authz=allow:" + secs}, limitAct(secs)}, true
}

// limitAct bounds the call to secs from the moment a gateway leg
// answers. The schedule goes on the gateway's leg, not on the caller's:
// execute_on_answer runs when its channel is answered
// (switch_channel_perform_mark_answered), and a caller's channel already
// answered before it dials out (by an IVR menu, fax detection) is never
// answered again, so a limit there never started. Exported with
// nolocal: (switch_channel_export_variable_var_check), the variable is
// not set on the caller's channel and is copied, without the prefix,
// onto every leg it originates from then on: each gateway tried,
// whichever answers. Its own name keeps it from replacing an
// execute_on_answer of the leg (a round-robin group's). When the gateway
// leg is hung up (ALLOTTED_TIMEOUT), hangup_after_bridge (set by every
// entry point) hangs the caller up with the same cause
// (switch_ivr_bridge.c: the originator takes its peer's cause).
func limitAct(secs string) act {
	return act{app: "export", data: "nolocal:execute_on_answer_sb_limit=sched_hangup +" + secs + " allotted_timeout"}
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

// authzExt is the extension of the authorization's actions for dest
// (continue: the route's extensions follow it).
func authzExt(dest string, cont bool, acts []act) string {
	return extXML("sb-authz", cont, cond{field: "destination_number", expr: "^" + regexQuote(dest) + "$", acts: acts})
}
