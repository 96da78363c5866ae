package freeswitch

// Calls that leave through a gateway without passing through an
// outbound route's extensions, authorized all the same (issue 15: a
// prepaid tenant, a whitelist or an abuse limit must hold on every leg
// to a gateway):
//
//   - a hunt group's external members and an extension's follow-me
//     steps to external numbers ring sofia/gateway/<g>/<number> legs in
//     the group's (or extension's) own bridge;
//   - a custom destination with a gateway bridges to it directly.
//
// With an Authorizer, the lookup of such a label (routingRender
// gatewayLabels) is answered per call: the object is rendered again for
// this call with every external number authorized as an outbound call
// of the tenant to the number as it leaves (after its route's strip and
// prepend), by the caller's user when a phone called:
//
//   - allowed: every gateway leg of the number gets
//     execute_on_answer_sb_limit=sched_hangup +<max> allotted_timeout and
//     sb_authz=allow:<max> as leg variables ([]), so it is hung up that
//     many seconds after that leg answers, and the group's other legs
//     and turns are untouched;
//   - refused: the member dials error/<cause> (authzCause) instead: it
//     fails at once with the refusal's cause and the group goes on
//     (the other members ring, the next turn comes, the failover runs),
//     as a member that is unreachable;
//   - the authorizer failed: fail-open rings it unlimited
//     (sb_authz=error), fail-closed dials error/NORMAL_TEMPORARY_FAILURE.
//
// Each member is its own reservation (its own slot of the concurrent
// limit, its own money), under its own call id: a fresh uuid given to
// the last gateway leg of the number as origination_uuid, so that leg's
// CDR releases it (ReleaseOnStore) when it ends (rang out, refused, or
// hung up after talking). Not the first leg: gateways failed over to
// after a congested one are other legs, and a uuid cannot be used twice;
// a number that answered on an earlier gateway, or whose turn never
// came, keeps its reservation until the caller's own CDR releases the
// call's legs (authz Call.Of = the caller's uuid). A call that rings
// several external members at once holds one reservation per member
// while they ring: a prepaid tenant's money is shared among them (the
// second gets what the first left), the conservative side.
//
// Why not loopback legs (loopback/sb-o<number>, whose own lookup the
// outbound answer would authorize and order by cost at the member's
// turn): every external member would add two channels, so two CDRs,
// and the loopback's own a-leg would start a call of its own (its
// LinkedID its own uuid, its dialled number sb-o<number>): counted as a
// second call, priced on a label, the caller's leg no longer the one
// that bridged to the gateway. skip_busy and ring_all's single bridge
// would ring through an extra hop (early media, the ring timeout on the
// loopback leg, not the gateway's). Authorizing in the group's lookup
// keeps the dial strings, the CDRs and the ringing as they were, at the
// price of authorizing a member before its turn (released as above).
// Least-cost ordering does not apply to members: they ring their
// route's gateways in the listed order (routing_lcr.go).
//
// A custom destination with a gateway and a number (or a SIP URI whose
// user part is a phone number: it reaches that number through the
// carrier) is authorized as the route answers are (authorize: the
// caller's call id, the limit exported to the gateway leg, a refusal
// hangs up). A URI with another user part is not a number no rate can
// price; it is not authorized, as a URI custom destination without a
// gateway (sent straight from the profile) is not: neither leaves
// through an outbound route's gateway, and the administrator who
// provisioned it chose where it goes. Emergency routes are never
// authorized. While Switchboard cannot be reached, the fallback file of
// a fail-closed node dials error/NORMAL_TEMPORARY_FAILURE for every such
// member and hangs up such custom destinations, as it does the outbound
// routes.

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
)

// legAuth is the authorization of one external number rung by a group
// or a follow-me step.
type legAuth struct {
	refuse         string   // a hangup cause: the member dials error/<cause>
	vars, lastVars []string // see target
}

// phoneNumber is what a custom URI's user part must be to be
// authorized: a number a rate deck can price.
var phoneNumber = regexp.MustCompile(`^\+?[0-9]+$`)

// customNumber is the number a custom destination with a gateway sends
// out: its number, or its URI's user part when that is a phone number;
// false when it is authorized by nothing (a URI of another kind).
func customNumber(c *provisioning.CustomDestination) (string, bool) {
	if c.URI == "" {
		return c.Number, c.Number != ""
	}
	u := strings.TrimPrefix(strings.TrimPrefix(c.URI, "sip:"), "sips:")
	user, _, _ := strings.Cut(u, "@")
	user, _, _ = strings.Cut(user, ";")
	return user, phoneNumber.MatchString(user)
}

// gatewayLegsAnswer answers the lookup of dest when it is a label whose
// extensions dial a gateway directly (gatewayLabels) and the node
// authorizes calls; ok is false when the cached answer applies.
func (h *xmlCurlHandler) gatewayLegsAnswer(ctx context.Context, p *provisioning.Plan, r *routingRender, dest string, f url.Values) (string, bool) {
	if h.authz == nil {
		return "", false
	}
	d, ok := r.gatewayLabels[dest]
	if !ok {
		return "", false
	}
	if d.Kind == provisioning.DestCustom {
		c := p.Custom(d.ID)
		num, ok := customNumber(c)
		if c == nil || !ok {
			return "", false
		}
		acts, allowed := h.authorize(ctx, p, num, f)
		if !allowed {
			return r.wrap(authzExt(dest, false, acts)), true
		}
		return r.wrap(authzExt(dest, true, acts) + r.byKey[dest]), true
	}
	rr := newRenderer(p, h.renders.o)
	rr.legAuth = h.legAuthorizer(ctx, p, f)
	switch d.Kind {
	case provisioning.DestHuntGroup:
		g := p.HuntGroup(d.ID)
		if g == nil {
			return "", false
		}
		rr.huntGroup(g)
	case provisioning.DestExtension:
		x := p.Extension(d.ID)
		if x == nil {
			return "", false
		}
		rr.extension(x)
	default:
		return "", false
	}
	return r.wrap(rr.out.byKey[dest]), true
}

// legAuthorizer authorizes each external number of one call's lookup:
// a reservation of its own (the uuid of its last gateway leg), a leg of
// the caller's call.
func (h *xmlCurlHandler) legAuthorizer(ctx context.Context, p *provisioning.Plan, f url.Values) func(provisioning.Outbound) legAuth {
	caller := first(f.Get("Unique-ID"), f.Get("Caller-Unique-ID"))
	var user int64
	if a := h.callerAccount(ctx, f); a != nil && a.UserID != nil {
		user = *a.UserID
	}
	return func(out provisioning.Outbound) legAuth {
		c := authz.Call{TenantID: p.Tenant.ID, UserID: user, Destination: out.Number, Direction: authz.Outbound,
			Switch: h.node, CallID: newUUID(), Of: caller}
		d, err := h.authz.Authorize(ctx, c)
		switch {
		case err != nil && !h.authzFailClosed:
			h.log.WarnContext(ctx, "freeswitch: authorization of an external member failed, ringing it unlimited (fail-open)", "tenant", c.TenantID, "call", caller, "err", err)
			return legAuth{vars: []string{"sb_authz=error"}}
		case err != nil:
			h.log.WarnContext(ctx, "freeswitch: authorization of an external member failed, not ringing it (fail-closed)", "tenant", c.TenantID, "call", caller, "err", err)
			return legAuth{refuse: authzCause(authz.ReasonError)}
		case !d.Allowed:
			h.log.DebugContext(ctx, "freeswitch: external member refused", "tenant", c.TenantID, "call", caller, "number", out.Number, "reason", d.Reason)
			return legAuth{refuse: authzCause(d.Reason)}
		}
		secs := strconv.Itoa(d.MaxSeconds)
		return legAuth{
			vars:     []string{"sb_authz=allow:" + secs, "execute_on_answer_sb_limit=sched_hangup +" + secs + " allotted_timeout"},
			lastVars: []string{"origination_uuid=" + c.CallID},
		}
	}
}
