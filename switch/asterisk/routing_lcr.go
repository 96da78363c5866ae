package asterisk

// Least-cost routing (provisioning.RouteOrderCost) in the routing
// dialplan. The order of an LCR route's gateways depends on the number
// and on the suppliers' rates of the day, so it is asked per call: the
// route's extension CURL()s the daemon's LCR endpoint (LCRHandler, next
// to the authorization endpoint on the node's authz_url) with the number
// as it leaves (after strip and prepend), and Dials the answered
// gateways in turn, the next one only when a Dial ends CONGESTION or
// CHANUNAVAIL (the listed order's failover rule):
//
//	lcr:gw-b&gw-a → Dial through gw-b, then gw-a;
//	lcr:          → no supplier rates the number: Hangup(3), which
//	                chan_pjsip answers 404 Not Found (hangup_cause2sip
//	                maps 1, 2 and 3 to 404; 3 is also what a number no
//	                route matches gets);
//	anything else (an empty result: connection refused or the CURLOPT
//	timeout; "error:…" or a 404 page: the daemon could not answer)
//	              → the route's listed order, with a WARNING in the log:
//	                least-cost routing never blocks a call.
//
// Why a request of its own rather than one answer with the authorization:
// the two fail differently (a fail-closed node refuses a call the
// authorizer did not answer, while a call LCR could not order still goes
// out in listed order), LCR works on a node without authorization, and
// the authorizer (provisioning/authz) stays free of routing. The cost is
// a second loopback request per call through an LCR route: the post-dial
// delay went from 4.4–4.8 ms (listed) to 8–10.8 ms (by cost), medians
// measured live (TestLiveLCR, a shared 2-core machine). Authorization is asked first: a refused call never costs
// the LCR lookup, and its refusal (403 or 503) says more than LCR's 404.
//
// Emergency routes dial their gateways in listed order whatever their
// order says: an emergency call neither waits for the daemon nor is
// refused because no supplier rates the number. A node without an LCR URL
// (no authz_url) renders an LCR route in listed order too; `switchboard
// doctor` warns about it.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// LCROptions turns on least-cost routing in the routing dialplan.
type LCROptions struct {
	// URL is the base the LCR endpoint is asked under as the switch
	// reaches it (LCRHandler mounted there, answering <URL>/lcr), the
	// node's authz_url, e.g. http://127.0.0.1:8080/asterisk/ast1/authz;
	// empty: LCR routes dial their gateways in listed order.
	URL string
	// TimeoutSecs bounds the request (connect and answer); default 2.
	TimeoutSecs int
}

// lcrNoRouteCause is the cause of a call no gateway of its LCR route
// carries: 3 (no route to destination), answered 404 by chan_pjsip.
const lcrNoRouteCause = "3"

// lcrSep separates the gateway names of the endpoint's answer: not a
// character of a name (dialplanTarget), nor one CUT() or the dialplan
// parser treats specially.
const lcrSep = "&"

// byCost reports whether route rt is dialled in the order the LCR
// endpoint answers.
func (r *routingRenderer) byCost(rt *provisioning.OutboundRoute) bool {
	return rt.Order == provisioning.RouteOrderCost && rt.Action == provisioning.RouteNormal && r.o.LCR.URL != ""
}

// lcrSteps are the steps of LCR route rt after its authorization: ask
// the endpoint, then Dial the gateways in the answered order (or in
// listed order, names, when it does not answer).
func (r *routingRenderer) lcrSteps(rt *provisioning.OutboundRoute, names []string) []string {
	var steps []string
	if r.o.Authz.URL == "" { // else the authorization steps set them
		timeout := strconv.Itoa(cmpPositive(r.o.LCR.TimeoutSecs, 2))
		steps = append(steps, "Set(CURLOPT(conntimeout)="+timeout+")", "Set(CURLOPT(httptimeout)="+timeout+")")
	}
	q := url.Values{"tenant": {id(r.p.Tenant.ID)}, "route": {id(rt.ID)}}
	u := r.o.LCR.URL + "/lcr?" + q.Encode() + "&dest=${URIENCODE(${SB_OUT})}"
	return append(steps,
		"Set(SB_LCR=${CURL("+u+")})",
		"Set(SB_GWS="+strings.Join(names, lcrSep)+")",
		`GotoIf($["${CUT(SB_LCR,:,1)}"!="lcr"]?lcr-listed)`,
		"Set(SB_GWS=${CUT(SB_LCR,:,2)})",
		`GotoIf($["${SB_GWS}"=""]?lcr-none)`,
		"Goto(lcr-dial)",
		"n(lcr-listed)|Log(WARNING,Switchboard LCR unanswered (${SB_LCR}): route "+id(rt.ID)+" dials its gateways in listed order)",
		"n(lcr-dial)|Set(SB_K=1)",
		"n(lcr-next)|Set(SB_GW=${CUT(SB_GWS,"+lcrSep+",${SB_K})})",
		`GotoIf($["${SB_GW}"=""]?done)`,
		"Dial(PJSIP/${SB_OUT}@${SB_GW}"+r.authzDialOpts(rt)+")",
		`GotoIf($["${DIALSTATUS}"!="CONGESTION" & "${DIALSTATUS}"!="CHANUNAVAIL"]?done)`,
		"Set(SB_K=$[${SB_K}+1])",
		"Goto(lcr-next)",
		"n(lcr-none)|Hangup("+lcrNoRouteCause+")",
	)
}

func cmpPositive(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// LCRSource is what the LCR endpoint reads of provisioning: the route
// ((*provisioning.Service).OutboundRoute) and its gateways for a number
// cheapest first ((*provisioning.Service).GatewaysByCost: the gateways
// without a supplier plan after the others in listed order, the ones
// whose supplier does not rate the number left out).
type LCRSource interface {
	OutboundRoute(ctx context.Context, sc provisioning.Scope, id int64) (*provisioning.OutboundRoute, error)
	GatewaysByCost(ctx context.Context, gatewayIDs []int64, number string, at time.Time) ([]provisioning.GatewayCost, error)
}

// LCRHandler answers the LCR requests of the routing dialplan (lcrSteps):
//
//	GET /lcr?tenant=5&route=12&dest=%2B33155501234
//	→ 200 "lcr:gw-b&gw-a"  the route's gateways to try, in order
//	→ 200 "lcr:"           none carries the number
//	→ 400 "error:<field> …", 404 "error:route … not found" (a route that
//	  is not the tenant's), 503 "error:<message>" (the source failed)
//
// The body is one line without a newline (CURL() keeps it). Only names
// of the route's own gateways that a Dial can carry (dialplanTarget)
// are answered, so the dialplan may Dial what it reads. Other paths go
// to Next (the authorization endpoint on the same prefix), or 404.
type LCRHandler struct {
	Source LCRSource
	// Now is the time rates are chosen at (time.Now when nil).
	Now  func() time.Time
	Next http.Handler
}

func (h LCRHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/lcr" {
		if h.Next != nil {
			h.Next.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	tenant, err := strconv.ParseInt(q.Get("tenant"), 10, 64)
	if err != nil || tenant <= 0 {
		lcrAnswer(w, http.StatusBadRequest, "error:tenant must be a tenant id")
		return
	}
	route, err := strconv.ParseInt(q.Get("route"), 10, 64)
	if err != nil || route <= 0 {
		lcrAnswer(w, http.StatusBadRequest, "error:route must be an outbound route id")
		return
	}
	dest := q.Get("dest")
	if !dialplanDialled.MatchString(dest) {
		lcrAnswer(w, http.StatusBadRequest, "error:dest must be the dialled number, up to 32 digits, * or #, optionally a leading +")
		return
	}
	names, err := h.order(r.Context(), tenant, route, dest)
	switch {
	case errors.Is(err, provisioning.ErrNotFound):
		lcrAnswer(w, http.StatusNotFound, "error:route "+strconv.FormatInt(route, 10)+" of tenant "+strconv.FormatInt(tenant, 10)+" not found")
	case err != nil:
		lcrAnswer(w, http.StatusServiceUnavailable, "error:"+oneLine(err.Error()))
	default:
		lcrAnswer(w, http.StatusOK, "lcr:"+strings.Join(names, lcrSep))
	}
}

// order is the names of route's gateways to try for dest, in order.
func (h LCRHandler) order(ctx context.Context, tenant, route int64, dest string) ([]string, error) {
	rt, err := h.Source.OutboundRoute(ctx, provisioning.AdminScope(), route)
	if err != nil {
		return nil, err
	}
	if rt.TenantID != tenant {
		return nil, provisioning.ErrNotFound // another tenant's: as if it did not exist
	}
	if len(rt.GatewayIDs) == 0 {
		return nil, nil
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	gws, err := h.Source.GatewaysByCost(ctx, rt.GatewayIDs, dest, now())
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(gws))
	for _, g := range gws {
		if slices.Contains(rt.GatewayIDs, g.GatewayID) && dialplanTarget.MatchString(g.Name) && !slices.Contains(names, g.Name) {
			names = append(names, g.Name)
		}
	}
	return names, nil
}

// oneLine keeps an error message to one line of a dialplan variable.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

func lcrAnswer(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	io.WriteString(w, body) //nolint:errcheck // the switch went away
}
