package native

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// The routing objects of a tenant's numbering plan (provisioning/routing*.go):
// one resource per kind, the model's own JSON as the answer, an input
// struct per kind for what a caller may write, and a trace that says what
// a call does.

type extensionIn struct {
	TenantID       int64                    `json:"tenant_id"`
	Number         string                   `json:"number"`
	Name           string                   `json:"name"`
	Destination    provisioning.Destination `json:"destination"`
	CallerIDNumber string                   `json:"caller_id_number"`
	CallerIDName   string                   `json:"caller_id_name"`
	CallWaiting    *bool                    `json:"call_waiting"`
	FollowMe       *provisioning.FollowMe   `json:"follow_me"`
	Record         bool                     `json:"record"`
	FaxDetect      *provisioning.FaxDetect  `json:"fax_detect"`
}

func (in *extensionIn) load(x *provisioning.Extension) {
	*in = extensionIn{TenantID: x.TenantID, Number: x.Number, Name: x.Name, Destination: x.Destination,
		CallerIDNumber: x.CallerIDNumber, CallerIDName: x.CallerIDName, CallWaiting: clone(x.CallWaiting), FollowMe: cloneFollowMe(x.FollowMe),
		Record: x.Record, FaxDetect: clone(x.FaxDetect)}
}

func (in *extensionIn) store(_ *provisioning.Service, x *provisioning.Extension) error {
	x.TenantID, x.Number, x.Name, x.Destination = in.TenantID, in.Number, in.Name, in.Destination
	x.CallerIDNumber, x.CallerIDName, x.CallWaiting, x.FollowMe = in.CallerIDNumber, in.CallerIDName, in.CallWaiting, in.FollowMe
	x.Record, x.FaxDetect = in.Record, in.FaxDetect
	return nil
}

func cloneFollowMe(f *provisioning.FollowMe) *provisioning.FollowMe {
	if f == nil {
		return nil
	}
	c := *f
	c.Steps = slices.Clone(f.Steps)
	return &c
}

type huntGroupIn struct {
	TenantID int64                     `json:"tenant_id"`
	Number   string                    `json:"number"`
	Name     string                    `json:"name"`
	Strategy provisioning.HuntStrategy `json:"strategy"`
	RingSecs int                       `json:"ring_seconds"`
	SkipBusy bool                      `json:"skip_busy"`
	Members  []provisioning.HuntMember `json:"members"`
	Failover provisioning.Destination  `json:"failover"`
}

func (in *huntGroupIn) load(h *provisioning.HuntGroup) {
	*in = huntGroupIn{TenantID: h.TenantID, Number: h.Number, Name: h.Name, Strategy: h.Strategy, RingSecs: h.RingSecs,
		SkipBusy: h.SkipBusy, Members: slices.Clone(h.Members), Failover: h.Failover}
}

func (in *huntGroupIn) store(_ *provisioning.Service, h *provisioning.HuntGroup) error {
	h.TenantID, h.Number, h.Name, h.Strategy, h.RingSecs = in.TenantID, in.Number, in.Name, in.Strategy, in.RingSecs
	h.SkipBusy, h.Members, h.Failover = in.SkipBusy, in.Members, in.Failover
	return nil
}

type conditionIn struct {
	TenantID  int64                        `json:"tenant_id"`
	Name      string                       `json:"name"`
	TimeZone  string                       `json:"time_zone"`
	Times     []string                     `json:"times"`
	CallerIDs []string                     `json:"caller_ids"`
	Manual    provisioning.ConditionManual `json:"manual"`
	Match     provisioning.Destination     `json:"match"`
	Miss      provisioning.Destination     `json:"miss"`
}

func (in *conditionIn) load(c *provisioning.Condition) {
	*in = conditionIn{TenantID: c.TenantID, Name: c.Name, TimeZone: c.TimeZone, Times: slices.Clone(c.Times),
		CallerIDs: slices.Clone(c.CallerIDs), Manual: c.Manual, Match: c.Match, Miss: c.Miss}
}

func (in *conditionIn) store(_ *provisioning.Service, c *provisioning.Condition) error {
	c.TenantID, c.Name, c.TimeZone, c.Times, c.CallerIDs = in.TenantID, in.Name, in.TimeZone, in.Times, in.CallerIDs
	c.Manual, c.Match, c.Miss = in.Manual, in.Match, in.Miss
	return nil
}

type customIn struct {
	TenantID  int64  `json:"tenant_id"`
	Name      string `json:"name"`
	Number    string `json:"number"`
	URI       string `json:"uri"`
	GatewayID *int64 `json:"gateway_id"`
}

func (in *customIn) load(c *provisioning.CustomDestination) {
	*in = customIn{TenantID: c.TenantID, Name: c.Name, Number: c.Number, URI: c.URI, GatewayID: clone(c.GatewayID)}
}

func (in *customIn) store(_ *provisioning.Service, c *provisioning.CustomDestination) error {
	c.TenantID, c.Name, c.Number, c.URI, c.GatewayID = in.TenantID, in.Name, in.Number, in.URI, in.GatewayID
	return nil
}

type forwardIn struct {
	AccountID   *int64                   `json:"account_id"`
	UserID      *int64                   `json:"user_id"`
	On          provisioning.ForwardOn   `json:"on"`
	AfterSecs   int                      `json:"after_seconds"`
	Destination provisioning.Destination `json:"destination"`
	Enabled     bool                     `json:"enabled"`
}

func (in *forwardIn) load(f *provisioning.Forward) {
	*in = forwardIn{AccountID: clone(f.AccountID), UserID: clone(f.UserID), On: f.On, AfterSecs: f.AfterSecs,
		Destination: f.Destination, Enabled: f.Enabled}
}

func (in *forwardIn) store(_ *provisioning.Service, f *provisioning.Forward) error {
	f.AccountID, f.UserID, f.On, f.AfterSecs, f.Destination, f.Enabled = in.AccountID, in.UserID, in.On, in.AfterSecs, in.Destination, in.Enabled
	return nil
}

type outboundRouteIn struct {
	TenantID   int64                      `json:"tenant_id"`
	Name       string                     `json:"name"`
	Priority   int                        `json:"priority"`
	Action     provisioning.RouteAction   `json:"action"`
	Patterns   []provisioning.DialPattern `json:"patterns"`
	Strip      int                        `json:"strip"`
	Prepend    string                     `json:"prepend"`
	GatewayIDs []int64                    `json:"gateway_ids"`
	Order      provisioning.RouteOrder    `json:"order"`
}

func (in *outboundRouteIn) load(r *provisioning.OutboundRoute) {
	*in = outboundRouteIn{TenantID: r.TenantID, Name: r.Name, Priority: r.Priority, Action: r.Action,
		Patterns: slices.Clone(r.Patterns), Strip: r.Strip, Prepend: r.Prepend, GatewayIDs: slices.Clone(r.GatewayIDs), Order: r.Order}
}

func (in *outboundRouteIn) store(_ *provisioning.Service, r *provisioning.OutboundRoute) error {
	r.TenantID, r.Name, r.Priority, r.Action, r.Patterns = in.TenantID, in.Name, in.Priority, in.Action, in.Patterns
	r.Strip, r.Prepend, r.GatewayIDs, r.Order = in.Strip, in.Prepend, in.GatewayIDs, in.Order
	return nil
}

type ivrMenuIn struct {
	TenantID        int64                    `json:"tenant_id"`
	Number          string                   `json:"number"`
	Name            string                   `json:"name"`
	GreetingSoundID int64                    `json:"greeting_sound_id"`
	InvalidSoundID  *int64                   `json:"invalid_sound_id"`
	TimeoutSecs     int                      `json:"timeout_seconds"`
	Repeats         *int                     `json:"repeats"`
	Options         []provisioning.IVROption `json:"options"`
	DirectDial      bool                     `json:"direct_dial"`
	Timeout         provisioning.Destination `json:"timeout"`
	Invalid         provisioning.Destination `json:"invalid"`
}

func (in *ivrMenuIn) load(m *provisioning.IVRMenu) {
	*in = ivrMenuIn{TenantID: m.TenantID, Number: m.Number, Name: m.Name, GreetingSoundID: m.GreetingSoundID,
		InvalidSoundID: clone(m.InvalidSoundID), TimeoutSecs: m.TimeoutSecs, Repeats: clone(m.Repeats),
		Options: slices.Clone(m.Options), DirectDial: m.DirectDial, Timeout: m.Timeout, Invalid: m.Invalid}
}

func (in *ivrMenuIn) store(_ *provisioning.Service, m *provisioning.IVRMenu) error {
	m.TenantID, m.Number, m.Name, m.GreetingSoundID, m.InvalidSoundID = in.TenantID, in.Number, in.Name, in.GreetingSoundID, in.InvalidSoundID
	m.TimeoutSecs, m.Repeats, m.Options, m.DirectDial, m.Timeout, m.Invalid = in.TimeoutSecs, in.Repeats, in.Options, in.DirectDial, in.Timeout, in.Invalid
	return nil
}

type voicemailBoxIn struct {
	TenantID                int64  `json:"tenant_id"`
	Number                  string `json:"number"`
	Name                    string `json:"name"`
	ExtensionID             *int64 `json:"extension_id"`
	PIN                     string `json:"pin"`
	Email                   string `json:"email"`
	UnavailableGreetingID   *int64 `json:"unavailable_greeting_sound_id"`
	BusyGreetingID          *int64 `json:"busy_greeting_sound_id"`
	MaxMessageSecs          int    `json:"max_message_seconds"`
	DeleteAfterEmail        bool   `json:"delete_after_email"`
	WithoutAudioAttachments bool   `json:"without_audio_attachments"`
}

func (in *voicemailBoxIn) load(b *provisioning.VoicemailBox) {
	*in = voicemailBoxIn{TenantID: b.TenantID, Number: b.Number, Name: b.Name, ExtensionID: clone(b.ExtensionID), PIN: b.PIN, Email: b.Email,
		UnavailableGreetingID: clone(b.UnavailableGreetingID), BusyGreetingID: clone(b.BusyGreetingID), MaxMessageSecs: b.MaxMessageSecs,
		DeleteAfterEmail: b.DeleteAfterEmail, WithoutAudioAttachments: b.WithoutAudioAttachments}
}

func (in *voicemailBoxIn) store(_ *provisioning.Service, b *provisioning.VoicemailBox) error {
	b.TenantID, b.Number, b.Name, b.ExtensionID, b.PIN, b.Email = in.TenantID, in.Number, in.Name, in.ExtensionID, in.PIN, in.Email
	b.UnavailableGreetingID, b.BusyGreetingID, b.MaxMessageSecs = in.UnavailableGreetingID, in.BusyGreetingID, in.MaxMessageSecs
	b.DeleteAfterEmail, b.WithoutAudioAttachments = in.DeleteAfterEmail, in.WithoutAudioAttachments
	return nil
}

// voicemailBoxView is a box as the API shows it: never its PIN (a
// secret, like an account's), only whether it has one.
type voicemailBoxView struct {
	*provisioning.VoicemailBox
	PIN    *struct{} `json:"pin,omitempty" openapi:"-"` // hides the box's PIN, in answers and in the document
	HasPIN bool      `json:"has_pin"`
}

// routingResource is the resource of one routing kind: every kind lists
// by tenant and is created from its input alone.
func routingResource[M any, In any, PIn interface {
	*In
	input[M]
}](s *server, plural, schema string, required []string, idOf func(*M) int64,
	create func(context.Context, provisioning.Scope, *M) error,
	get func(context.Context, provisioning.Scope, int64) (*M, error),
	update func(context.Context, provisioning.Scope, int64, func(*M) error) (*M, error),
	del func(context.Context, provisioning.Scope, int64) error,
	list func(context.Context, provisioning.Scope, provisioning.RoutingFilter) ([]*M, error),
) []*route {
	return routingResourceView[M, In, PIn](s, plural, schema, required, idOf, nil, nil, create, get, update, del, list)
}

// routingResourceView is routingResource with a view of its own (nil:
// the model as it is), for kinds with write-only fields.
func routingResourceView[M any, In any, PIn interface {
	*In
	input[M]
}](s *server, plural, schema string, required []string, idOf func(*M) int64,
	view func(provisioning.Scope, *M) any, viewType reflect.Type,
	create func(context.Context, provisioning.Scope, *M) error,
	get func(context.Context, provisioning.Scope, int64) (*M, error),
	update func(context.Context, provisioning.Scope, int64, func(*M) error) (*M, error),
	del func(context.Context, provisioning.Scope, int64) error,
	list func(context.Context, provisioning.Scope, provisioning.RoutingFilter) ([]*M, error),
) []*route {
	return routesOf[M, In, PIn](s, resource[M, In]{
		plural: plural, schema: schema, required: required, filters: []param{pTenantID}, id: idOf, view: view, viewType: viewType,
		create: func(ctx context.Context, sc provisioning.Scope, in *In) (*M, error) {
			m := new(M)
			if err := PIn(in).store(s.svc, m); err != nil {
				return nil, err
			}
			return m, create(ctx, sc, m)
		},
		get: get, update: update, del: del,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]M, error) {
			f := provisioning.RoutingFilter{Page: p}
			var err error
			if f.TenantID, err = c.id("tenant_id"); err != nil {
				return nil, err
			}
			ps, err := list(ctx, sc, f)
			if err != nil {
				return nil, err
			}
			out := make([]M, len(ps))
			for i, p := range ps {
				out[i] = *p
			}
			return out, nil
		},
	})
}

func (s *server) routingRoutes() []*route {
	svc := s.svc
	var out []*route
	out = append(out, routingResource[provisioning.Extension, extensionIn](s, "extensions", "Extension",
		[]string{"tenant_id", "number", "destination"}, func(x *provisioning.Extension) int64 { return x.ID },
		svc.CreateExtension, svc.Extension, svc.UpdateExtension, svc.DeleteExtension, svc.Extensions)...)
	out = append(out, routingResource[provisioning.HuntGroup, huntGroupIn](s, "hunt-groups", "HuntGroup",
		[]string{"tenant_id", "number", "name", "strategy", "members"}, func(x *provisioning.HuntGroup) int64 { return x.ID },
		svc.CreateHuntGroup, svc.HuntGroup, svc.UpdateHuntGroup, svc.DeleteHuntGroup, svc.HuntGroups)...)
	out = append(out, routingResource[provisioning.Condition, conditionIn](s, "conditions", "Condition",
		[]string{"tenant_id", "name", "match", "miss"}, func(x *provisioning.Condition) int64 { return x.ID },
		svc.CreateCondition, svc.Condition, svc.UpdateCondition, svc.DeleteCondition, svc.Conditions)...)
	out = append(out, routingResource[provisioning.CustomDestination, customIn](s, "custom-destinations", "CustomDestination",
		[]string{"tenant_id", "name"}, func(x *provisioning.CustomDestination) int64 { return x.ID },
		svc.CreateCustomDestination, svc.CustomDestination, svc.UpdateCustomDestination, svc.DeleteCustomDestination, svc.CustomDestinations)...)
	out = append(out, routingResource[provisioning.Forward, forwardIn](s, "forwards", "Forward",
		[]string{"on", "destination"}, func(x *provisioning.Forward) int64 { return x.ID },
		svc.CreateForward, svc.Forward, svc.UpdateForward, svc.DeleteForward, svc.Forwards)...)
	out = append(out, routingResource[provisioning.OutboundRoute, outboundRouteIn](s, "outbound-routes", "OutboundRoute",
		[]string{"tenant_id", "name", "patterns"}, func(x *provisioning.OutboundRoute) int64 { return x.ID },
		svc.CreateOutboundRoute, svc.OutboundRoute, svc.UpdateOutboundRoute, svc.DeleteOutboundRoute, svc.OutboundRoutes)...)
	out = append(out, routingResource[provisioning.IVRMenu, ivrMenuIn](s, "ivr-menus", "IVRMenu",
		[]string{"tenant_id", "name", "greeting_sound_id"}, func(x *provisioning.IVRMenu) int64 { return x.ID },
		svc.CreateIVRMenu, svc.IVRMenu, svc.UpdateIVRMenu, svc.DeleteIVRMenu, svc.IVRMenus)...)
	out = append(out, routingResourceView[provisioning.VoicemailBox, voicemailBoxIn](s, "voicemail-boxes", "VoicemailBox",
		[]string{"tenant_id", "number", "pin"}, func(x *provisioning.VoicemailBox) int64 { return x.ID },
		func(_ provisioning.Scope, b *provisioning.VoicemailBox) any {
			return voicemailBoxView{VoicemailBox: b, HasPIN: b.PIN != ""}
		},
		reflect.TypeFor[voicemailBoxView](),
		svc.CreateVoicemailBox, svc.VoicemailBox, svc.UpdateVoicemailBox, svc.DeleteVoicemailBox, svc.VoicemailBoxes)...)
	out = append(out, routingResource[provisioning.FaxBox, faxBoxIn](s, "fax-boxes", "FaxBox",
		[]string{"tenant_id", "name"}, func(x *provisioning.FaxBox) int64 { return x.ID },
		svc.CreateFaxBox, svc.FaxBox, svc.UpdateFaxBox, svc.DeleteFaxBox, svc.FaxBoxes)...)
	out = append(out, routingResource[provisioning.RecordingPolicy, recordingPolicyIn](s, "recording-policies", "RecordingPolicy",
		[]string{"tenant_id"}, func(x *provisioning.RecordingPolicy) int64 { return x.ID },
		svc.CreateRecordingPolicy, svc.RecordingPolicy, svc.UpdateRecordingPolicy, svc.DeleteRecordingPolicy, svc.RecordingPolicies)...)
	out = append(out, s.traceRoute())
	return out
}

// traceStep is one step of a trace as the API shows it.
type traceStep struct {
	Do            string   `json:"do"`
	Targets       []string `json:"targets"`
	Seconds       int      `json:"seconds"`
	Via           []string `json:"via"`
	OnBusy        string   `json:"on_busy"`
	OnUnreachable string   `json:"on_unreachable"`
	Gateways      []string `json:"gateways"`
	Blocked       bool     `json:"blocked"`
	// BusyWhenOnCall: the one phone rung gives busy while it is on a
	// call (its extension has call waiting off).
	BusyWhenOnCall bool `json:"busy_when_on_call"`
	// SkipWhenBusy: the phones of a hunt group's step left out while on a call.
	SkipWhenBusy []string `json:"skip_when_busy"`
	// A menu step: the greeting's sound, how often it plays (each
	// followed by seconds of waiting), the keys it offers.
	SoundID int64             `json:"sound_id,omitempty"`
	Plays   int               `json:"plays,omitempty"`
	Options map[string]string `json:"options,omitempty"`
	// A dial_out step: the route's gateway order; through a cost-ordered
	// route, gateways are in cost order, with their prices and the
	// gateways left out.
	Order        provisioning.RouteOrder       `json:"order,omitempty"`
	GatewayCosts []provisioning.GatewayCost    `json:"gateway_costs,omitempty"`
	LeftOut      []provisioning.GatewayLeftOut `json:"left_out,omitempty"`
}

// traceOut is a trace: what a call to number does.
type traceOut struct {
	TenantID int64       `json:"tenant_id"`
	Number   string      `json:"number"`
	At       time.Time   `json:"at"`
	CallerID string      `json:"caller_id"`
	Entry    string      `json:"entry"`
	Steps    []traceStep `json:"steps"`
}

func (s *server) traceRoute() *route {
	return &route{
		method: http.MethodGet, path: Prefix + "/tenants/{id}/routing/trace", op: "traceRouting", tag: "routing",
		summary: "What a call to a number does",
		doc: "Follows the tenant's routing for a call to number (one of its DIDs, a number of its numbering plan, " +
			"or any other number, which leaves through its outbound routes) from caller_id at the time at (default now): " +
			"the phones rung in turn while nobody answers, conditions evaluated, forwards applied, and how the call ends.",
		query: []param{
			{name: "number", typ: "string", doc: "the number called: a DID (E.164), a number of the tenant's plan, or an external number"},
			{name: "caller_id", typ: "string", doc: "the caller's number (conditions on caller ID)"},
			{name: "at", typ: "date-time", doc: "the time of the call (default now)"},
			{name: "input", typ: "string", doc: "the caller's entries at the IVR menus met, comma-separated: a key (2) or, where direct dialling is on, a number of the plan (101); a menu with no entry left times out"},
		},
		resp: response{status: http.StatusOK, typ: reflect.TypeFor[traceOut](), name: "RoutingTrace"},
		handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
			id, err := pathID(req)
			if err != nil {
				return err
			}
			number := c.str("number")
			if number == "" {
				return provisioning.Invalid("number", "is required")
			}
			at, err := c.callTime(time.Now().UTC())
			if err != nil {
				return err
			}
			p, err := s.svc.RoutingPlan(req.Context(), c.scope, id)
			if err != nil {
				return err
			}
			d, did, entry := routingEntry(p, number)
			out := traceOut{TenantID: id, Number: number, At: at, CallerID: c.str("caller_id"), Entry: entry, Steps: []traceStep{}}
			var input []string
			if v := c.str("input"); v != "" {
				input = strings.Split(v, ",")
			}
			var steps []provisioning.Step
			if did != nil {
				steps = p.TraceDID(*did, at, out.CallerID, input)
			} else {
				steps = p.TraceInput(d, at, out.CallerID, input)
			}
			if err := s.svc.PriceTrace(req.Context(), c.scope, steps, at); err != nil {
				return err
			}
			for _, st := range steps {
				out.Steps = append(out.Steps, traceStep{Do: st.Do, Targets: nonNil(st.Targets), Seconds: st.Secs, Via: nonNil(st.Via),
					OnBusy: st.OnBusy, OnUnreachable: st.OnUnreachable, Gateways: nonNil(st.Gateways), Blocked: st.Blocked,
					BusyWhenOnCall: st.NoCallWaiting, SkipWhenBusy: nonNil(st.SkipBusy), SoundID: st.Sound, Plays: st.Plays, Options: st.Options,
					Order: st.Order, GatewayCosts: st.Costs, LeftOut: st.LeftOut})
			}
			return writeJSON(w, http.StatusOK, out)
		},
	}
}

// routingEntry is where a call to number enters the plan: a DID, a
// number of the plan, or an external number.
func routingEntry(p *provisioning.Plan, number string) (provisioning.Destination, *provisioning.DID, string) {
	for i, d := range p.DIDs {
		if d.Number == number {
			if d.Destination == nil {
				return provisioning.Destination{Kind: provisioning.DestHangup}, &p.DIDs[i], "did (unrouted)"
			}
			return *d.Destination, &p.DIDs[i], "did"
		}
	}
	if d, ok := p.Number(number); ok {
		return d, nil, "plan"
	}
	return provisioning.Destination{Kind: provisioning.DestExternal, Number: number}, nil, "external"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// callTime is the at parameter of the routing trace and the rating quote:
// when the call happens, def when absent.
func (c *call) callTime(def time.Time) (time.Time, error) {
	v := c.str("at")
	if v == "" {
		return def, nil
	}
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, provisioning.Invalid("at", "must be an RFC 3339 date-time like 2026-12-07T10:00:00-05:00")
	}
	return at, nil
}
