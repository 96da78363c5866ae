package native

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// registrationView is a registered contact with its qualify round trip in
// milliseconds (presence keeps a Duration, which has no JSON shape).
type registrationView struct {
	presence.Registration
	RTTMillis float64 `json:"rtt_ms"`
}

// gatewayStatus is a provisioned gateway joined with what each switch
// reports of it.
type gatewayStatus struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	TenantID *int64 `json:"tenant_id"`
	// State sums up Switches: up when any switch has it up, down when
	// some switch reports it and none has it up, unknown when no switch
	// reports it.
	State    presence.GatewayState `json:"state"`
	Switches []gatewaySwitchStatus `json:"switches"`
}

// gatewaySwitchStatus is a gateway's status on one switch.
type gatewaySwitchStatus struct {
	Switch       string                     `json:"switch"`
	State        presence.GatewayState      `json:"state"`
	Registration presence.RegistrationState `json:"registration"`
	Detail       string                     `json:"detail"`
	RTTMillis    float64                    `json:"rtt_ms"`
	UpdatedAt    time.Time                  `json:"updated_at"`
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (s *server) liveRoutes() []*route {
	return []*route{
		{
			method: http.MethodGet, path: Prefix + "/registrations", op: "listRegistrations", tag: "live",
			summary: "List the registered contacts (online phones) of the domains in the caller's scope",
			doc:     "Read from the in-memory presence view of every switch. A phone registered from two devices, or on two switches, has one item per contact.",
			query: []param{
				{name: "domain", typ: "string", doc: "only contacts of this SIP domain"},
				{name: "user", typ: "string", doc: "only contacts of this SIP username"},
				{name: "switch", typ: "string", doc: "only contacts on this switch"},
				pageParams[0],
				{name: "cursor", typ: "string", doc: "the next_cursor of the previous page"},
			},
			resp:    response{status: http.StatusOK, list: true, typ: reflect.TypeFor[registrationView](), name: "Registration"},
			handler: s.registrations,
		},
		{
			method: http.MethodGet, path: Prefix + "/gateways/status", op: "listGatewayStatus", tag: "live",
			summary: "List the gateways in the caller's scope with their live status on each switch",
			doc:     "A gateway that no switch reports has state unknown and no switches.",
			query: append([]param{pTenantID, pName,
				{name: "switch", typ: "string", doc: "only the status reported by this switch"}}, pageParams...),
			resp:    response{status: http.StatusOK, list: true, typ: reflect.TypeFor[gatewayStatus](), name: "GatewayStatus"},
			handler: s.gatewayStatus,
		},
		{
			method: http.MethodGet, path: Prefix + "/switches", op: "listSwitches", tag: "live",
			summary: "List the configured switches with the state of their connection (admin tokens only)",
			doc: "connected is false while Switchboard is reconnecting to the switch; last_error says why, last_sync is the last full resync. The live view keeps a disconnected switch's last known state until it is resynced. " +
				"Switches are the operator's infrastructure, shared by every tenant, and last_error names their internal addresses: other tokens are refused with 403.",
			resp:    response{status: http.StatusOK, list: true, typ: reflect.TypeFor[presence.SwitchState](), name: "SwitchState"},
			errs:    []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusInternalServerError},
			handler: s.switches,
		},
	}
}

// switches lists the connection state of every switch feeding presence,
// to admins only: the switches serve every tenant and their errors carry
// internal addresses ("dial tcp 10.0.0.5:8088: connection refused").
func (s *server) switches(w http.ResponseWriter, _ *http.Request, c *call) error {
	if !c.scope.All() {
		return &apiError{Status: http.StatusForbidden, Code: codeForbidden, Message: "forbidden: only admin tokens may list switches"}
	}
	out := list[presence.SwitchState]{Items: []presence.SwitchState{}}
	if s.d.Presence != nil {
		out.Items = append(out.Items, s.d.Presence.Switches()...)
	}
	return writeJSON(w, http.StatusOK, out)
}

// registrations lists online phones. A tenant's token sees only the
// domains of its subtree: api.ScopeDomains turns its scope into the
// domain names presence filters by.
func (s *server) registrations(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, err := c.limit()
	if err != nil {
		return err
	}
	cursor := c.str("cursor")
	if !presence.ValidCursor(cursor) {
		return badParam("cursor", "malformed cursor: pass back a next_cursor unchanged")
	}
	// Provisioned domain names are lower-case; presence compares exactly.
	q := presence.RegistrationQuery{
		Domain: strings.ToLower(c.str("domain")),
		User:   c.str("user"),
		Switch: c.str("switch"),
		After:  cursor,
		Limit:  limit,
	}
	// nil for an admin (no restriction); for a tenant the names of its
	// subtree's domains, possibly none, which presence answers with
	// nothing.
	if q.Domains, err = api.ScopeDomains(r.Context(), s.svc, c.scope); err != nil {
		return err
	}
	if s.d.Presence == nil {
		return writeJSON(w, http.StatusOK, list[registrationView]{Items: []registrationView{}})
	}
	regs, next := s.d.Presence.Registrations(q)
	out := list[registrationView]{Items: make([]registrationView, 0, len(regs)), NextCursor: next}
	for _, reg := range regs {
		out.Items = append(out.Items, registrationView{Registration: reg, RTTMillis: millis(reg.RTT)})
	}
	return writeJSON(w, http.StatusOK, out)
}

// gatewayStatus pages through the provisioned gateways in scope (so a
// tenant sees its own and the shared ones, never another tenant's) and
// joins each page with the presence view.
func (s *server) gatewayStatus(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := c.page()
	if err != nil {
		return err
	}
	f := provisioning.GatewayFilter{Name: c.str("name"), Page: p}
	if f.TenantID, err = c.id("tenant_id"); err != nil {
		return err
	}
	gws, err := s.svc.Gateways(r.Context(), c.scope, f)
	if err != nil {
		return err
	}
	out := list[gatewayStatus]{Items: make([]gatewayStatus, 0, len(gws))}
	if len(gws) == 0 {
		return writeJSON(w, http.StatusOK, out)
	}
	names := make([]string, len(gws))
	for i, g := range gws {
		names[i] = g.Name
	}
	byName := map[string][]presence.Gateway{}
	if s.d.Presence != nil {
		for _, pg := range s.d.Presence.Gateways(presence.GatewayQuery{Names: names, Switch: c.str("switch")}) {
			byName[pg.Name] = append(byName[pg.Name], pg)
		}
	}
	for _, g := range gws {
		st := gatewayStatus{ID: g.ID, Name: g.Name, TenantID: g.TenantID, State: presence.GatewayUnknown, Switches: []gatewaySwitchStatus{}}
		live := byName[g.Name]
		slices.SortFunc(live, func(a, b presence.Gateway) int { return strings.Compare(a.Switch, b.Switch) })
		for _, pg := range live {
			st.Switches = append(st.Switches, gatewaySwitchStatus{Switch: pg.Switch, State: pg.State, Registration: pg.Registration,
				Detail: pg.Detail, RTTMillis: millis(pg.RTT), UpdatedAt: pg.UpdatedAt})
			switch {
			case pg.State == presence.GatewayUp:
				st.State = presence.GatewayUp
			case pg.State == presence.GatewayDown && st.State != presence.GatewayUp:
				st.State = presence.GatewayDown
			}
		}
		out.Items = append(out.Items, st)
	}
	if len(gws) == p.Limit {
		out.NextCursor = api.EncodeCursor(gws[len(gws)-1].ID)
	}
	return writeJSON(w, http.StatusOK, out)
}
