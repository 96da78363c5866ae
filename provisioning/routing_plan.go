package provisioning

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Plan is one tenant's call routing resolved from the store: every object
// of its numbering plan, its DIDs, the accounts they ring with the
// forwards that apply to each, its outbound routes in the order they are
// tried and the gateways they name. It needs no store lookups, so a switch
// renderer turns it into dialplan, and Trace says what a call does, from
// it alone.
type Plan struct {
	Tenant     *Tenant
	Extensions []*Extension // by number
	HuntGroups []*HuntGroup // by number
	Conditions []*Condition // by id
	Customs    []*CustomDestination
	IVRs       []*IVRMenu // by id
	Voicemails []*VoicemailBox
	Faxes      []*FaxBox
	Recording  *RecordingPolicy // nil: none (record what DIDs and extensions say)
	Routes     []*OutboundRoute // in the order they are tried: emergency first, then priority, id
	DIDs       []DID
	Accounts   map[int64]*PlanAccount
	Gateways   map[int64]*Gateway

	byNumber map[string]Destination
	byID     map[routingNode]routingObject
}

// PlanAccount is an account a plan rings, with the forwards that apply
// to it: its own, else its user's (enabled ones only).
type PlanAccount struct {
	*Account
	Forwards map[ForwardOn]*Forward
}

// TenantPlan returns tenant id's routing plan from a cache kept correct by
// invalidation (every write that changes a tenant's routing, and every
// change of an account, gateway or user any plan may name, drops what it
// affects). The switches' renderers ask for it on every call they route,
// so it must not cost a store round trip. The plan is shared: read it,
// never change it.
func (s *Service) TenantPlan(ctx context.Context, id int64) (*Plan, error) {
	return load(ctx, s, &s.plans, "routing plan", id, func(ctx context.Context, id int64) (*Plan, error) {
		return s.RoutingPlan(ctx, AdminScope(), id)
	})
}

// RoutingPlan resolves the routing of tenant id as the scope sees it.
func (s *Service) RoutingPlan(ctx context.Context, sc Scope, tenantID int64) (*Plan, error) {
	t, err := s.tenantInScope(ctx, sc, tenantID)
	if err != nil {
		return nil, err
	}
	rs, err := s.routingStore()
	if err != nil {
		return nil, err
	}
	p := &Plan{Tenant: t, Accounts: map[int64]*PlanAccount{}, Gateways: map[int64]*Gateway{},
		byNumber: map[string]Destination{}, byID: map[routingNode]routingObject{}}
	var forwards []*Forward
	for f := (RoutingFilter{TenantID: t.ID, Page: Page{Limit: MaxLimit}}); ; {
		recs, err := rs.Routings(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range recs {
			o, err := decodeAny(&recs[i])
			if err != nil {
				return nil, err
			}
			p.byID[routingNode{DestKind(o.kind()), o.meta().ID}] = o
			switch o := o.(type) {
			case *Extension:
				p.Extensions = append(p.Extensions, o)
				p.byNumber[o.Number] = Destination{Kind: DestExtension, ID: o.ID}
			case *HuntGroup:
				p.HuntGroups = append(p.HuntGroups, o)
				p.byNumber[o.Number] = Destination{Kind: DestHuntGroup, ID: o.ID}
			case *Condition:
				p.Conditions = append(p.Conditions, o)
			case *CustomDestination:
				p.Customs = append(p.Customs, o)
			case *FaxBox:
				p.Faxes = append(p.Faxes, o)
				if o.Number != "" {
					p.byNumber[o.Number] = Destination{Kind: DestFax, ID: o.ID}
				}
			case *VoicemailBox:
				p.Voicemails = append(p.Voicemails, o)
				p.byNumber[o.Number] = Destination{Kind: DestVoicemail, ID: o.ID}
			case *IVRMenu:
				p.IVRs = append(p.IVRs, o)
				if o.Number != "" {
					p.byNumber[o.Number] = Destination{Kind: DestIVR, ID: o.ID}
				}
			case *RecordingPolicy:
				p.Recording = o
			case *OutboundRoute:
				p.Routes = append(p.Routes, o)
			case *Forward:
				forwards = append(forwards, o)
			}
		}
		if len(recs) < MaxLimit {
			break
		}
		f.After = recs[len(recs)-1].ID
	}
	slices.SortFunc(p.Extensions, func(a, b *Extension) int { return cmp.Compare(a.Number, b.Number) })
	slices.SortFunc(p.HuntGroups, func(a, b *HuntGroup) int { return cmp.Compare(a.Number, b.Number) })
	slices.SortFunc(p.Routes, func(a, b *OutboundRoute) int {
		return cmp.Or(cmp.Compare(routeRank(a), routeRank(b)), cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	for after := int64(0); ; {
		dids, err := s.store.DIDs(ctx, DIDFilter{TenantID: t.ID, Page: Page{After: after, Limit: MaxLimit}})
		if err != nil {
			return nil, err
		}
		p.DIDs = append(p.DIDs, dids...)
		if len(dids) < MaxLimit {
			break
		}
		after = dids[len(dids)-1].ID
	}
	if err := p.loadAccounts(ctx, s, forwards); err != nil {
		return nil, err
	}
	for _, r := range p.Routes {
		for _, id := range r.GatewayIDs {
			if err := p.loadGateway(ctx, s, id); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range p.Customs {
		if c.GatewayID != nil {
			if err := p.loadGateway(ctx, s, *c.GatewayID); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

func routeRank(r *OutboundRoute) int {
	if r.Action == RouteEmergency {
		return 0
	}
	return 1
}

func (p *Plan) loadGateway(ctx context.Context, s *Service, id int64) error {
	if p.Gateways[id] != nil {
		return nil
	}
	g, err := s.store.Gateway(ctx, id)
	if err != nil {
		return fmt.Errorf("provisioning: plan of tenant %d: gateway %d: %w", p.Tenant.ID, id, err)
	}
	p.Gateways[id] = g
	return nil
}

// loadAccounts reads every account a destination of the plan names, and
// gives each the forwards that apply to it.
func (p *Plan) loadAccounts(ctx context.Context, s *Service, forwards []*Forward) error {
	want := map[int64]bool{}
	note := func(d Destination) {
		if d.Kind == DestAccount {
			want[d.ID] = true
		}
	}
	for _, o := range p.byID {
		for _, r := range o.refs() {
			if r.Kind == DestAccount {
				want[r.ID] = true
			}
		}
	}
	for _, d := range p.DIDs {
		if d.Destination != nil {
			note(*d.Destination)
		}
	}
	byUser := map[int64]map[ForwardOn]*Forward{}
	byAccount := map[int64]map[ForwardOn]*Forward{}
	for _, f := range forwards {
		if !f.Enabled {
			continue
		}
		m, id := byAccount, int64(0)
		if f.AccountID != nil {
			id = *f.AccountID
		} else {
			m, id = byUser, *f.UserID
		}
		if m[id] == nil {
			m[id] = map[ForwardOn]*Forward{}
		}
		m[id][f.On] = f
		note(f.Destination)
	}
	ids := make([]int64, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		a, err := s.store.Account(ctx, id)
		if err != nil {
			return fmt.Errorf("provisioning: plan of tenant %d: account %d: %w", p.Tenant.ID, id, err)
		}
		pa := &PlanAccount{Account: a, Forwards: map[ForwardOn]*Forward{}}
		if a.UserID != nil {
			for on, f := range byUser[*a.UserID] {
				pa.Forwards[on] = f
			}
		}
		for on, f := range byAccount[id] {
			pa.Forwards[on] = f
		}
		p.Accounts[id] = pa
	}
	return nil
}

// Number returns what a number of the tenant's numbering plan is.
func (p *Plan) Number(n string) (Destination, bool) {
	d, ok := p.byNumber[n]
	return d, ok
}

// Extension, HuntGroup, Condition and Custom return an object of the plan.
func (p *Plan) Extension(id int64) *Extension {
	o, _ := p.byID[routingNode{DestExtension, id}].(*Extension)
	return o
}

func (p *Plan) HuntGroup(id int64) *HuntGroup {
	o, _ := p.byID[routingNode{DestHuntGroup, id}].(*HuntGroup)
	return o
}

func (p *Plan) Condition(id int64) *Condition {
	o, _ := p.byID[routingNode{DestCondition, id}].(*Condition)
	return o
}

func (p *Plan) Custom(id int64) *CustomDestination {
	o, _ := p.byID[routingNode{DestCustom, id}].(*CustomDestination)
	return o
}

// Numbers are the numbers of the plan, sorted: what a phone of the
// tenant, or an IVR menu's direct dialling, can reach.
func (p *Plan) Numbers() []string {
	return slices.Sorted(maps.Keys(p.byNumber))
}

// Fax returns fax box id of the plan, nil when it has none.
func (p *Plan) Fax(id int64) *FaxBox {
	o, _ := p.byID[routingNode{DestFax, id}].(*FaxBox)
	return o
}

// Voicemail returns voicemail box id of the plan, nil when it has none.
func (p *Plan) Voicemail(id int64) *VoicemailBox {
	o, _ := p.byID[routingNode{DestVoicemail, id}].(*VoicemailBox)
	return o
}

// IVR returns IVR menu id of the plan, nil when it has none.
func (p *Plan) IVR(id int64) *IVRMenu {
	o, _ := p.byID[routingNode{DestIVR, id}].(*IVRMenu)
	return o
}

// Outbound is how an external number leaves: the route that matched, the
// number as sent (after strip and prepend) and the gateways in failover
// order. A nil Route means no route matches: the call cannot leave.
type Outbound struct {
	Route    *OutboundRoute
	Number   string
	Gateways []*Gateway
}

// RouteFor finds the route an external number takes.
func (p *Plan) RouteFor(number string) Outbound {
	for _, r := range p.Routes {
		for _, pat := range r.Patterns {
			if !pat.Match(number) {
				continue
			}
			out := Outbound{Route: r, Number: number}
			if r.Action == RouteBlock {
				return out
			}
			out.Number = r.Prepend + number[min(r.Strip, len(number)):]
			for _, id := range r.GatewayIDs {
				out.Gateways = append(out.Gateways, p.Gateways[id])
			}
			return out
		}
	}
	return Outbound{Number: number}
}

// Step is one thing a call does on its way (see Trace).
type Step struct {
	// Do is ring, dial_out, menu, voicemail (a message is left in box
	// Targets[0], at most Secs long, after greeting Sound, 0 for the
	// switch's own), voicemail_main (the listening menu), fax (received
	// into box Targets[0]), fax_detect (the call is answered and listened
	// to for Secs while what follows rings: fax tones send it to box
	// Targets[0]), record (recording starts, because of Targets[0]),
	// hangup or busy.
	Do string
	// Ring: the phones (user@domain) or external numbers rung together,
	// and for how long (0: until the caller gives up).
	Targets []string
	Secs    int
	// Via names the routing objects that led here, outermost first.
	Via []string
	// OnBusy and OnUnreachable are where the call would go instead when
	// the one phone rung is busy or unreachable (forwards).
	OnBusy, OnUnreachable string
	// NoCallWaiting: the one phone rung is treated as busy while it is
	// on a call (its extension has call waiting off).
	NoCallWaiting bool
	// SkipBusy are the phones of a hunt group's ring step left out while
	// they are on a call: every phone of a skip_busy group, and the phone
	// of an extension member with call waiting off.
	SkipBusy []string
	// DialOut: the gateways tried in order (names), or empty when no
	// route lets the number out; Blocked when a block route matched.
	// Order is the route's gateway order. For a cost-ordered route the
	// plan alone gives the listed order: (*Service).PriceTrace puts them
	// in cost order, with Costs the prices behind it and LeftOut the
	// gateways not dialled for the number.
	Gateways []string
	Blocked  bool
	Order    RouteOrder
	Costs    []GatewayCost
	LeftOut  []GatewayLeftOut
	// route is the outbound route of a dial_out step (nil: none matched).
	route *OutboundRoute
	// Menu (an IVR answers, plays and waits): the greeting's sound id,
	// how many times it plays (Plays, each followed by Secs of waiting),
	// and the keys it offers ("1": "extension 4").
	Sound   int64
	Plays   int
	Options map[string]string
}

// Trace says what a call to d does at time at from callerID while nobody
// answers: the steps in order (a ring step is followed by where the call
// goes when it is not answered), conditions evaluated at that moment.
// Round-robin groups are traced from their first member, random ones in
// their listed order. IVR menus hear no key: they go to their timeout.
func (p *Plan) Trace(d Destination, at time.Time, callerID string) []Step {
	return p.TraceInput(d, at, callerID, nil)
}

// TraceInput is Trace with the caller's entries at the IVR menus met, in
// order: a key of the menu ("2"), or a number of the plan where the menu
// takes direct dialling ("101"). A menu with no entry left times out; an
// entry it does not take goes to its invalid destination (as if the
// caller kept entering it).
func (p *Plan) TraceInput(d Destination, at time.Time, callerID string, input []string) []Step {
	t := tracer{p: p, at: at, caller: callerID, input: input}
	t.walk(d, nil, 0)
	return t.steps
}

// TraceDID is TraceInput for a call in on did: it starts with a record
// step when the DID (or the tenant's policy) records its calls, and an
// unrouted DID hangs up.
func (p *Plan) TraceDID(did DID, at time.Time, callerID string, input []string) []Step {
	t := tracer{p: p, at: at, caller: callerID, input: input}
	if p.RecordsDID(did) {
		t.recording = true
		t.add(Step{Do: "record", Targets: []string{"did " + did.Number}}, nil)
	}
	d := Destination{Kind: DestHangup}
	if did.Destination != nil {
		d = *did.Destination
	}
	t.walk(d, nil, 0)
	return t.steps
}

type tracer struct {
	p      *Plan
	at     time.Time
	caller string
	input  []string
	steps  []Step
	// recording: the call is already recorded (once per call, as the
	// switches do).
	recording bool
}

func (t *tracer) add(s Step, via []string) { s.Via = slices.Clone(via); t.steps = append(t.steps, s) }

// walk follows d; depth guards against a plan changed under the checks.
func (t *tracer) walk(d Destination, via []string, depth int) {
	if depth > MaxRoutingDepth*4 {
		t.add(Step{Do: "hangup"}, via)
		return
	}
	switch d.Kind {
	case DestAccount:
		t.account(d.ID, via, depth)
	case DestExtension:
		x := t.p.Extension(d.ID)
		if x == nil {
			t.add(Step{Do: "hangup"}, via)
			return
		}
		via = append(via, x.label())
		if !t.recording && t.p.RecordsExtension(x) {
			t.recording = true
			t.add(Step{Do: "record", Targets: []string{x.label()}}, via)
		}
		if f := x.FaxDetect; f != nil {
			box := "fax box"
			if b := t.p.Fax(f.BoxID); b != nil {
				box = b.label()
			}
			t.add(Step{Do: "fax_detect", Targets: []string{box}, Secs: f.DetectSecs()}, via)
		}
		if x.Destination.Kind == DestAccount && !x.Waiting() {
			t.accountRing(x.Destination.ID, via, depth+1, true)
		} else {
			t.walk(x.Destination, via, depth+1)
		}
		if x.FollowMe != nil {
			for _, s := range x.FollowMe.Steps {
				t.ring([]Destination{s.Destination}, s.RingSecs, append(via, "follow_me"), depth)
			}
		}
	case DestHuntGroup:
		h := t.p.HuntGroup(d.ID)
		if h == nil {
			t.add(Step{Do: "hangup"}, via)
			return
		}
		via = append(via, h.label())
		if h.Strategy == HuntRingAll {
			s := Step{Do: "ring", Secs: h.GroupRing()}
			for i := range h.Members {
				t.member(&s, h, i, depth)
			}
			t.add(s, via)
		} else {
			left := h.GroupRing()
			for i := range h.Members {
				if left <= 0 {
					break
				}
				secs := min(h.MemberRing(i), left)
				s := Step{Do: "ring", Secs: secs}
				t.member(&s, h, i, depth)
				t.add(s, via)
				left -= secs
			}
		}
		if !h.Failover.IsZero() {
			t.walk(h.Failover, append(via, "failover"), depth+1)
		} else {
			t.add(Step{Do: "hangup"}, append(via, "failover"))
		}
	case DestCondition:
		c := t.p.Condition(d.ID)
		if c == nil {
			t.add(Step{Do: "hangup"}, via)
			return
		}
		if c.Holds(t.at, t.caller) {
			t.walk(c.Match, append(via, c.label()+" match"), depth+1)
		} else {
			t.walk(c.Miss, append(via, c.label()+" miss"), depth+1)
		}
	case DestCustom:
		c := t.p.Custom(d.ID)
		if c == nil {
			t.add(Step{Do: "hangup"}, via)
			return
		}
		via = append(via, c.label())
		switch {
		case c.GatewayID != nil:
			t.add(Step{Do: "dial_out", Targets: []string{cmp.Or(c.Number, c.URI)}, Gateways: []string{t.p.Gateways[*c.GatewayID].Name}}, via)
		case c.URI != "":
			t.add(Step{Do: "dial_out", Targets: []string{c.URI}}, via)
		default:
			t.external(c.Number, via)
		}
	case DestIVR:
		t.menu(d.ID, via, depth)
	case DestVoicemail:
		b := t.p.Voicemail(d.ID)
		if b == nil {
			t.add(Step{Do: "hangup"}, via)
			return
		}
		s := Step{Do: "voicemail", Targets: []string{b.Number}, Secs: b.MaxSecs()}
		if b.UnavailableGreetingID != nil {
			s.Sound = *b.UnavailableGreetingID
		}
		t.add(s, append(via, b.label()))
	case DestVoicemailMain:
		t.add(Step{Do: "voicemail_main"}, via)
	case DestFax:
		b := t.p.Fax(d.ID)
		if b == nil {
			t.add(Step{Do: "hangup"}, via)
			return
		}
		t.add(Step{Do: "fax", Targets: []string{cmp.Or(b.Number, b.Name)}}, append(via, b.label()))
	case DestExternal:
		t.external(d.Number, via)
	case DestBusy:
		t.add(Step{Do: "busy"}, via)
	default:
		t.add(Step{Do: "hangup"}, via)
	}
}

// menu plays IVR menu id and follows the caller's next entry, or the
// timeout when there is none.
func (t *tracer) menu(id int64, via []string, depth int) {
	m := t.p.IVR(id)
	if m == nil {
		t.add(Step{Do: "hangup"}, via)
		return
	}
	via = append(via, m.label())
	s := Step{Do: "menu", Sound: m.GreetingSoundID, Plays: m.Plays(), Secs: m.Wait(), Options: map[string]string{}}
	for _, o := range m.Options {
		s.Options[o.Digit] = o.Destination.String()
	}
	t.add(s, via)
	next, branch := m.Timeout, "timeout"
	if len(t.input) > 0 {
		entry := t.input[0]
		t.input = t.input[1:]
		next, branch = m.Invalid, "invalid"
		if d, ok := m.Option(entry); ok {
			next, branch = d, "key "+entry
		} else if d, ok := t.p.Number(entry); ok && m.DirectDial {
			next, branch = d, "dialled "+entry
		}
	}
	if next.IsZero() {
		t.add(Step{Do: "hangup"}, append(via, branch))
		return
	}
	t.walk(next, append(via, branch), depth+1)
}

func (t *tracer) external(number string, via []string) {
	out := t.p.RouteFor(number)
	s := Step{Do: "dial_out", Targets: []string{out.Number}, Blocked: out.Route != nil && out.Route.Action == RouteBlock}
	for _, g := range out.Gateways {
		s.Gateways = append(s.Gateways, g.Name)
	}
	if out.Route != nil {
		s.route, s.Order = out.Route, out.Route.Order
		via = append(via, out.Route.label())
	}
	t.add(s, via)
}

// account rings one account, its forwards applied.
func (t *tracer) account(id int64, via []string, depth int) { t.accountRing(id, via, depth, false) }

// accountRing rings one account, its forwards applied; noWaiting when it
// is reached through an extension without call waiting.
func (t *tracer) accountRing(id int64, via []string, depth int, noWaiting bool) {
	a := t.p.Accounts[id]
	if a == nil {
		t.add(Step{Do: "hangup"}, via)
		return
	}
	if f := a.Forwards[ForwardAlways]; f != nil {
		t.walk(f.Destination, append(via, f.label()), depth+1)
		return
	}
	s := Step{Do: "ring", Targets: []string{a.AOR()}, NoCallWaiting: noWaiting}
	if f := a.Forwards[ForwardBusy]; f != nil {
		s.OnBusy = f.Destination.String()
	}
	if f := a.Forwards[ForwardUnreachable]; f != nil {
		s.OnUnreachable = f.Destination.String()
	}
	f := a.Forwards[ForwardNoAnswer]
	if f != nil {
		s.Secs = f.AfterSecs
	}
	t.add(s, via)
	if f != nil {
		t.walk(f.Destination, append(via, f.label()), depth+1)
	}
}

// ring rings destinations together for secs: phones and external
// numbers; an extension member rings what it points at.
func (t *tracer) ring(ds []Destination, secs int, via []string, depth int) {
	s := Step{Do: "ring", Secs: secs}
	for _, d := range ds {
		s.Targets = append(s.Targets, t.targets(d, depth)...)
	}
	t.add(s, via)
}

// member adds hunt group h's member i to ring step s: its targets, and
// the phones among them left out while on a call.
func (t *tracer) member(s *Step, h *HuntGroup, i, depth int) {
	ts := t.targets(h.Members[i].Destination, depth)
	s.Targets = append(s.Targets, ts...)
	if t.p.SkipsBusy(h, i) {
		for _, x := range ts {
			if strings.Contains(x, "@") {
				s.SkipBusy = append(s.SkipBusy, x)
			}
		}
	}
}

// SkipsBusy says whether member i of hunt group h is left out while its
// phone is on a call: the group skips busy members, or the member is an
// extension with call waiting off that rings an account (as a call to
// that extension would be refused busy, so is its turn in a group).
func (p *Plan) SkipsBusy(h *HuntGroup, i int) bool {
	if h.SkipBusy {
		return true
	}
	m := h.Members[i].Destination
	if m.Kind != DestExtension {
		return false
	}
	x := p.Extension(m.ID)
	return x != nil && !x.Waiting() && x.Destination.Kind == DestAccount
}

func (t *tracer) targets(d Destination, depth int) []string {
	switch d.Kind {
	case DestAccount:
		if a := t.p.Accounts[d.ID]; a != nil {
			return []string{a.AOR()}
		}
	case DestExtension:
		if x := t.p.Extension(d.ID); x != nil && depth < MaxRoutingDepth*4 {
			return t.targets(x.Destination, depth+1)
		}
	case DestExternal:
		return []string{d.Number}
	}
	return nil
}
