package asterisk

// Real-time authorization of calls leaving through a gateway
// (provisioning/authz), asked by the dialplan at call time with CURL()
// to the daemon's authorization endpoint (authz.Handler):
//
//	allow:<secs>  → Dial(…,,S(<secs>)): Asterisk hangs the call up that
//	                many seconds after the answer (where a prepaid call's
//	                reserved money runs out);
//	deny:<reason> → Hangup with the reason's cause (authzCauseExpr);
//	anything else (an empty result: connection refused or the
//	CURLOPT timeout; "error:…": the daemon could not decide)
//	              → the node's policy: fail-open dials without a limit,
//	                fail-closed hangs up with cause 42 (503).
//
// Why CURL() and not AGI or Stasis: it is one dialplan function of a
// module every build has (func_curl), it needs no second protocol server
// in the daemon (FastAGI) nor hands the call to ARI (Stasis would make
// every outbound call depend on the ARI connection), and its failure is
// plain data the dialplan can branch on: with CURLOPT conntimeout and
// httptimeout set, a dead daemon costs the call at most that long and
// the fail policy decides, which a Stasis() call cannot offer (the
// channel would hang up when no application is registered).
// Emergency routes are never asked, and block routes refuse on their own.

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// AuthzOptions turns on call authorization in the routing dialplan.
type AuthzOptions struct {
	// URL is the daemon's authorization endpoint as the switch reaches
	// it (authz.Handler mounted there), e.g.
	// http://127.0.0.1:8080/authz; empty: calls are not authorized.
	URL string
	// Switch names this node in the reservations (call ids are
	// Asterisk's ${UNIQUEID}).
	Switch string
	// FailClosed hangs up outbound calls when the daemon does not answer
	// allow or deny; else they are dialled without a limit.
	FailClosed bool
	// TimeoutSecs bounds the request (connect and answer); default 2.
	TimeoutSecs int
}

// authzCauseExpr is the cause of a refusal, from ${SB_AUTHZ}, chosen
// for the SIP answer chan_pjsip makes of it (hangup_cause2sip, Asterisk
// 23) so that a phone hears what a FreeSWITCH node would tell it: 21 →
// 403 for a destination the tenant may not call, 34 → 503 for a
// concurrency or rate limit, and for money and cost limits 52, which
// chan_pjsip does not map and answers 603 Decline (FreeSWITCH's
// CALL_REJECTED).
const authzCauseExpr = `${IF($["${SB_AUTHZ}"="deny:not_whitelisted" | "${SB_AUTHZ}"="deny:no_rate" | "${SB_AUTHZ}"="deny:no_plan"]?21:${IF($["${SB_AUTHZ}"="deny:concurrent_limit" | "${SB_AUTHZ}"="deny:calls_per_minute"]?34:52)})}`

// authzFailCause is a fail-closed node's cause: 42 (switch congestion),
// which chan_pjsip answers 503. Not 41 (temporary failure): chan_pjsip
// does not map it and answers 603 Decline (seen live on Asterisk
// 23.4.1), which tells a phone not to try again.
const authzFailCause = "42"

// authzSteps are the steps of route rt before its first Dial; they set
// SB_AUTHZ_OPT to the Dial options ("S(<secs>)" or empty).
func (r *routingRenderer) authzSteps(rt *provisioning.OutboundRoute) []string {
	if rt.Action == provisioning.RouteEmergency {
		return nil
	}
	return r.authzCheck()
}

// authzCheck are the steps that authorize ${SB_OUT} as an outbound call
// of the tenant and set SB_AUTHZ_OPT (none when the node does not
// authorize calls).
func (r *routingRenderer) authzCheck() []string {
	a := r.o.Authz
	if a.URL == "" {
		return nil
	}
	timeout := a.TimeoutSecs
	if timeout <= 0 {
		timeout = 2
	}
	q := url.Values{"tenant": {id(r.p.Tenant.ID)}, "switch": {a.Switch}}
	u := a.URL + "/authorize?" + q.Encode() + "&dest=${URIENCODE(${SB_OUT})}&call=${URIENCODE(${UNIQUEID})}&account=${URIENCODE(${CHANNEL(endpoint)})}"
	fail := "Goto(authz-dial)"
	if a.FailClosed {
		fail = "Hangup(" + authzFailCause + ")"
	}
	return []string{
		"Set(SB_AUTHZ_OPT=)",
		"Set(CURLOPT(conntimeout)=" + strconv.Itoa(timeout) + ")",
		"Set(CURLOPT(httptimeout)=" + strconv.Itoa(timeout) + ")",
		"Set(SB_AUTHZ=${CURL(" + u + ")})",
		`GotoIf($["${CUT(SB_AUTHZ,:,1)}"="allow"]?authz-allow)`,
		`GotoIf($["${CUT(SB_AUTHZ,:,1)}"="deny"]?authz-deny)`,
		"Log(WARNING,Switchboard authorization unanswered (${SB_AUTHZ}): " + map[bool]string{false: "fail-open: dialling unlimited", true: "fail-closed: hanging up"}[a.FailClosed] + ")",
		fail,
		"n(authz-deny)|Hangup(" + authzCauseExpr + ")",
		"n(authz-allow)|Set(SB_AUTHZ_OPT=S(${CUT(SB_AUTHZ,:,2)}))",
		"n(authz-dial)|NoOp(authorized: ${SB_AUTHZ})",
	}
}

// customAuthz are the steps and Dial options of a custom destination
// that dials gateway gw itself (not through an outbound route): a number,
// or a SIP URI whose user part is a phone number (it reaches that number
// through the carrier), is authorized as an outbound call of the tenant
// to it, as a route's number is. A URI of another user part is a name no
// rate can price: not authorized, like a URI sent without a gateway; the
// administrator who provisioned it chose where it goes.
func (r *routingRenderer) customAuthz(u *provisioning.CustomDestination) (steps []string, opts string) {
	num := u.Number
	if u.URI != "" {
		user, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(u.URI, "sip:"), "sips:"), "@")
		user, _, _ = strings.Cut(user, ";")
		if !customPhoneNumber.MatchString(user) {
			return nil, ""
		}
		num = user
	}
	if r.o.Authz.URL == "" || !dialplanDialled.MatchString(num) {
		return nil, ""
	}
	return append([]string{"Set(SB_OUT=" + num + ")"}, r.authzCheck()...), ",,${SB_AUTHZ_OPT}"
}

// customPhoneNumber is a custom URI's user part that is a phone number.
var customPhoneNumber = regexp.MustCompile(`^\+?[0-9]+$`)

// authzDialOpts is what a route's Dial gets as its options argument.
func (r *routingRenderer) authzDialOpts(rt *provisioning.OutboundRoute) string {
	if r.o.Authz.URL == "" || rt.Action == provisioning.RouteEmergency {
		return ""
	}
	return ",,${SB_AUTHZ_OPT}"
}
