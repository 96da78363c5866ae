package freeswitch

// The routing renderer: a tenant's provisioning.Plan as a FreeSWITCH
// dialplan context, the same text served live over mod_xml_curl (one
// label at a time, routing_xmlcurl.go) and written to the fallback file
// (all of it, routing_fallback.go), so that both mean what Plan.Trace
// says.
//
// Shape (checked against FreeSWITCH 1.10.12's mod_dialplan_xml and
// switch_xml.c, and on the switch; README "Call routing"):
//
//   - one context per tenant, sb-t<tenant>; the tenant's phones get it as
//     their user_context, DIDs reach it by a transfer;
//   - every routing object is an extension reached by its label
//     (sb-x<id> extension, sb-h<id> hunt group, sb-c<id> condition,
//     sb-d<id> custom destination, sb-a<id> account, sb-o<number> an
//     external number through the outbound routes); a destination is run
//     with execute_extension, which hunts the label and comes back, so
//     that "and when nobody answered" (a follow-me list after an
//     extension, a hunt group's failover, an account's forwards) is the
//     next action, as in Trace;
//   - numbers of the plan (extensions, hunt groups) and the outbound
//     routes' patterns are the entry points: they set
//     continue_on_fail/hangup_after_bridge, run the destination and hang
//     up with the last bridge's cause;
//   - every extension is self-contained (one destination_number
//     condition), so answering only the extensions of one label is the
//     same as the whole context.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// RoutingContextPrefix starts the name of every tenant's context.
const RoutingContextPrefix = "sb-t"

// RoutingContext is the dialplan context of tenant id.
func RoutingContext(tenantID int64) string {
	return RoutingContextPrefix + strconv.FormatInt(tenantID, 10)
}

// routingContextTenant reads the tenant id out of a context name; false
// for any other context.
func routingContextTenant(ctx string) (int64, bool) {
	s, ok := strings.CutPrefix(ctx, RoutingContextPrefix)
	if !ok {
		return 0, false
	}
	return positiveID(s)
}

// Causes an originate ends with, grouped as the forwards and the
// outbound routes' failover read them (switch_types.h cause names; sofia
// maps SIP 486/600 to USER_BUSY, 480 and a ring timeout to NO_ANSWER or
// NO_USER_RESPONSE, 503 to NORMAL_TEMPORARY_FAILURE, an unregistered
// user/ to USER_NOT_REGISTERED).
const (
	causesBusy        = "USER_BUSY"
	causesNoAnswer    = "NO_ANSWER|NO_USER_RESPONSE|ALLOTTED_TIMEOUT|PROGRESS_TIMEOUT|ORIGINATOR_CANCEL"
	causesUnreachable = "USER_NOT_REGISTERED|SUBSCRIBER_ABSENT|UNALLOCATED_NUMBER|NO_ROUTE_DESTINATION|DESTINATION_OUT_OF_ORDER|NORMAL_TEMPORARY_FAILURE|RECOVERY_ON_TIMER_EXPIRE|NETWORK_OUT_OF_ORDER|INVALID_GATEWAY|GATEWAY_DOWN|MEDIA_TIMEOUT|INCOMPATIBLE_DESTINATION"
	// causesCongestion are the causes on which an outbound route tries
	// its next gateway: 503 and the like, the gateway down or silent.
	causesCongestion = "NORMAL_TEMPORARY_FAILURE|NORMAL_CIRCUIT_CONGESTION|SWITCH_CONGESTION|DESTINATION_OUT_OF_ORDER|NETWORK_OUT_OF_ORDER|RECOVERY_ON_TIMER_EXPIRE|GATEWAY_DOWN|INVALID_GATEWAY|SERVICE_UNAVAILABLE"
)

// routingRender is a plan rendered: the extensions of each label and
// number, and those of the outbound routes (matched by pattern).
type routingRender struct {
	context string
	// byKey holds the extensions hunted for a destination_number that is
	// a label or a plan number, in context order.
	byKey map[string]string
	keys  []string
	// routes are the outbound routes' extensions, then the no-route and
	// catch-all ones: hunted for any other number.
	routes string
	// callerIDs are the first extensions of routes: the caller IDs of
	// the phones' outside calls (a least-cost answer starts with them).
	callerIDs string
	// gatewayLabels are the labels whose extensions send a number to a
	// gateway without passing through an outbound route's extensions (a
	// hunt group's or a follow-me's external members, a custom
	// destination's gateway), with the object each renders: a node that
	// authorizes calls answers them per call (routing_extlegs.go).
	gatewayLabels map[string]provisioning.Destination
}

// document is the xml_curl answer for destination number dest.
func (r *routingRender) document(dest string) string {
	body, ok := r.byKey[dest]
	if !ok {
		body = r.routes
	}
	return r.wrap(body)
}

// wrap is the xml_curl document of extensions body in r's context.
func (r *routingRender) wrap(body string) string {
	var b xmlBuilder
	b.open(0, "document", "type", "freeswitch/xml")
	b.open(1, "section", "name", "dialplan", "description", "Switchboard routing")
	b.open(2, "context", "name", r.context)
	b.raw(body)
	b.close(2, "context")
	b.close(1, "section")
	b.close(0, "document")
	return b.String()
}

// writeContext writes the whole context (the fallback file).
func (r *routingRender) writeContext(b *xmlBuilder) {
	b.open(1, "context", "name", r.context)
	for _, k := range r.keys {
		b.raw(r.byKey[k])
	}
	b.raw(r.routes)
	b.close(1, "context")
}

// renderer turns one plan into a routingRender.
type renderer struct {
	p       *provisioning.Plan
	ctx     string
	profile string // the sofia profile of SIP URIs sent straight out
	else_   string // the context of numbers the plan does not route
	sounds  string // the node's sounds_dir
	faxDir  string // the node's fax_dir; "": fax boxes hang up
	recDir  string // the node's recordings_dir; "": nothing is recorded
	// gatewaysClosed: outbound routes hang up (renderOptions.GatewaysClosed)
	gatewaysClosed bool
	out            *routingRender
	// legAuth authorizes the external numbers rung as members or
	// follow-me steps, for one call (routing_extlegs.go); nil in the
	// cached rendering.
	legAuth func(provisioning.Outbound) legAuth
	// sawGateway: targets rendered an external number through a
	// non-emergency route's gateways since it was last reset.
	sawGateway bool
}

// renderOptions are a node's settings the rendering depends on.
type renderOptions struct {
	// Profile is the sofia profile custom SIP URIs leave through.
	Profile string
	// Else is the context numbers the plan does not know are sent to
	// ("" hangs them up).
	Else string
	// SoundsDir is the node's sounds_dir (SoundPath); "": menus wait for
	// keys in silence.
	SoundsDir string
	// FaxDir is the node's fax_dir, where rxfax writes received faxes;
	// "": calls to fax boxes are hung up.
	FaxDir string
	// RecordingsDir is the node's recordings_dir, where record_session
	// writes the recorded calls; "": calls are not recorded.
	RecordingsDir string
	// GatewaysClosed renders the outbound routes (not emergency ones) as
	// a hang-up: the fallback file of a node whose authorization policy
	// is fail-closed (routing_authz.go).
	GatewaysClosed bool
}

// renderPlan renders p for a node with options o.
func renderPlan(p *provisioning.Plan, o renderOptions) *routingRender {
	r := newRenderer(p, o)
	for _, x := range p.Extensions {
		r.number(x.Number, provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID})
	}
	for _, h := range p.HuntGroups {
		r.number(h.Number, provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID})
	}
	for _, m := range p.IVRs {
		if m.Number != "" {
			r.number(m.Number, provisioning.Destination{Kind: provisioning.DestIVR, ID: m.ID})
		}
	}
	for _, b := range p.Voicemails {
		r.number(b.Number, provisioning.Destination{Kind: provisioning.DestVoicemail, ID: b.ID})
	}
	for _, x := range p.Extensions {
		r.extension(x)
	}
	for _, h := range p.HuntGroups {
		r.huntGroup(h)
	}
	for _, c := range p.Conditions {
		r.condition(c)
	}
	for _, c := range p.Customs {
		r.custom(c)
	}
	for _, m := range p.IVRs {
		r.menu(m)
	}
	for _, b := range p.Voicemails {
		r.voicemailBox(b)
	}
	r.voicemailMain()
	for _, b := range p.Faxes {
		if b.Number != "" {
			r.number(b.Number, provisioning.Destination{Kind: provisioning.DestFax, ID: b.ID})
		}
		r.faxBox(b)
	}
	for _, id := range r.accountIDs() {
		r.account(p.Accounts[id])
	}
	r.routes()
	r.recording()
	return r.out
}

// newRenderer returns a renderer of p for a node with options o, its
// output empty.
func newRenderer(p *provisioning.Plan, o renderOptions) *renderer {
	r := &renderer{p: p, ctx: RoutingContext(p.Tenant.ID), profile: o.Profile, else_: o.Else, sounds: o.SoundsDir, faxDir: o.FaxDir, recDir: o.RecordingsDir,
		gatewaysClosed: o.GatewaysClosed, out: &routingRender{byKey: map[string]string{}, gatewayLabels: map[string]provisioning.Destination{}}}
	r.out.context = r.ctx
	return r
}

// accountIDs are the ids of the plan's accounts, in order.
func (r *renderer) accountIDs() []int64 {
	ids := make([]int64, 0, len(r.p.Accounts))
	for id := range r.p.Accounts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// label is the destination_number that runs d.
func label(d provisioning.Destination) string {
	switch d.Kind {
	case provisioning.DestAccount:
		return "sb-a" + strconv.FormatInt(d.ID, 10)
	case provisioning.DestExtension:
		return "sb-x" + strconv.FormatInt(d.ID, 10)
	case provisioning.DestHuntGroup:
		return "sb-h" + strconv.FormatInt(d.ID, 10)
	case provisioning.DestCondition:
		return "sb-c" + strconv.FormatInt(d.ID, 10)
	case provisioning.DestCustom:
		return "sb-d" + strconv.FormatInt(d.ID, 10)
	case provisioning.DestIVR:
		return "sb-v" + strconv.FormatInt(d.ID, 10)
	case provisioning.DestVoicemail:
		return voicemailBoxLabel(d.ID, false)
	case provisioning.DestVoicemailMain:
		return voicemailMainLabel
	case provisioning.DestFax:
		return faxBoxLabel(d.ID)
	case provisioning.DestExternal:
		return "sb-o" + d.Number
	}
	return ""
}

// act is one action of an extension.
type act struct {
	app, data string
	anti      bool
	inline    bool
}

// cond is one condition of an extension: a field and a regular
// expression, or time attributes (name, value pairs), with the actions
// run when it holds (and the anti-actions when it does not).
type cond struct {
	field, expr string
	attrs       []string
	breakOn     string
	acts        []act
}

// ext adds one extension to the extensions hunted for key.
func (r *renderer) ext(key, name string, cont bool, conds ...cond) {
	if _, ok := r.out.byKey[key]; !ok {
		r.out.keys = append(r.out.keys, key)
	}
	r.out.byKey[key] += extXML(name, cont, conds...)
}

// extXML writes one extension.
func extXML(name string, cont bool, conds ...cond) string {
	var b xmlBuilder
	if cont {
		b.open(2, "extension", "name", name, "continue", "true")
	} else {
		b.open(2, "extension", "name", name)
	}
	for _, c := range conds {
		attrs := []string{}
		if c.field != "" {
			attrs = append(attrs, "field", c.field, "expression", c.expr)
		}
		attrs = append(attrs, c.attrs...)
		if c.breakOn != "" {
			attrs = append(attrs, "break", c.breakOn)
		}
		if len(c.acts) == 0 {
			b.empty(3, "condition", attrs...)
			continue
		}
		b.open(3, "condition", attrs...)
		for _, a := range c.acts {
			tag := "action"
			if a.anti {
				tag = "anti-action"
			}
			if a.inline {
				b.empty(4, tag, "application", a.app, "data", a.data, "inline", "true")
			} else {
				b.empty(4, tag, "application", a.app, "data", a.data)
			}
		}
		b.close(3, "condition")
	}
	b.close(2, "extension")
	return b.String()
}

// dest matches destination_number key exactly.
func dest(key string) cond {
	return cond{field: "destination_number", expr: "^" + regexQuote(key) + "$"}
}

// regexQuote escapes the PCRE metacharacters a number or label can hold.
func regexQuote(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`\^$.|?*+()[]{}`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// run is the action that runs destination d and comes back when it did
// not connect the call.
func (r *renderer) run(d provisioning.Destination) act {
	switch d.Kind {
	case provisioning.DestHangup:
		return act{app: "hangup", data: "CALL_REJECTED"}
	case provisioning.DestBusy:
		return act{app: "hangup", data: "USER_BUSY"}
	case provisioning.DestFax:
		if r.p != nil && r.p.Fax(d.ID) == nil { // a DID's transfer has no plan
			return act{app: "hangup", data: "CALL_REJECTED"}
		}
	}
	if l := label(d); l != "" {
		return act{app: "execute_extension", data: l + " XML " + r.ctx}
	}
	return act{app: "hangup", data: "CALL_REJECTED"}
}

// noop is an action that does nothing of consequence: it gives a
// condition an action (or anti-action), so that mod_dialplan_xml stops
// hunting at that extension (parse_exten proceeds only when a condition
// added something).
var noop = act{app: "set", data: "sb_routed=true"}

// entry is the actions of an entry point (a number of the plan, an
// outbound pattern, a DID): bridges go on after a failed leg and end the
// call after an answered one; when the destination gave up, the call ends
// with the last leg's cause (a busy phone gives the caller busy).
func entry(body ...act) []act {
	out := []act{{app: "set", data: "continue_on_fail=true"}, {app: "set", data: "hangup_after_bridge=true"}}
	out = append(out, body...)
	return append(out, act{app: "hangup", data: "${originate_disposition}"})
}

func (r *renderer) number(n string, d provisioning.Destination) {
	c := dest(n)
	c.acts = entry(r.run(d))
	r.ext(n, "sb-n"+n, false, c)
}

// extension runs its destination, then its follow-me steps in turn.
func (r *renderer) extension(x *provisioning.Extension) {
	key := label(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID})
	c := dest(key)
	run := r.run(x.Destination)
	if r.noWaiting(x) {
		run.data = label(x.Destination) + "w XML " + r.ctx
	}
	c.acts = append(r.faxDetectActs(x), run)
	r.sawGateway = false
	if f := x.FollowMe; f != nil {
		for _, s := range f.Steps {
			var vars []string
			if f.CallerIDNumber != "" {
				vars = append(vars, "origination_caller_id_number="+f.CallerIDNumber)
			}
			if f.CallerIDName != "" {
				vars = append(vars, "origination_caller_id_name="+dialVar(xmlNoExpansion(f.CallerIDName)))
			}
			var rings []string
			for _, t := range r.targets(s.Destination, 0) {
				if len(t.failover) > 0 {
					rings = append(rings, ring(t, s.RingSecs, nil, vars))
				} else {
					rings = append(rings, ring(t, s.RingSecs, vars, nil))
				}
			}
			if len(rings) == 0 {
				continue
			}
			c.acts = append(c.acts, act{app: "bridge", data: strings.Join(rings, ",")})
		}
	}
	if r.sawGateway {
		r.out.gatewayLabels[key] = provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}
	}
	r.ext(key, key, false, c)
}

// noWaiting: x rings an account (with no always forward) whose phone is
// busy while it is on a call: call waiting off. It runs the account's
// sb-a<id>w label instead of sb-a<id>.
func (r *renderer) noWaiting(x *provisioning.Extension) bool {
	if x.Destination.Kind != provisioning.DestAccount || x.Waiting() {
		return false
	}
	a := r.p.Accounts[x.Destination.ID]
	return a != nil && a.Forwards[provisioning.ForwardAlways] == nil
}

// onCallCheck is the condition that sets variable v to dial when the
// phone aor has no channel and to error/USER_BUSY when it has one. show
// channels like matches substrings of a channel's name, caller ID,
// presence data...: the expression asks for the whole address, so that
// 101@d is not found in 2101@d's channel.
func onCallCheck(aor, v, dial string) cond {
	return cond{field: "${show(channels like " + aor + ")}", expr: `(?:^|[^\w.+%-])` + regexQuote(aor) + `(?:[^\w.-]|$)`, acts: []act{
		{app: "set", data: v + "=error/USER_BUSY", inline: true},
		{app: "set", data: v + "=" + dial, inline: true, anti: true},
	}}
}

// target is one leg a ring step dials.
type target struct {
	dial   string // user/u@d, sofia/gateway/g/n, error/...
	aor    string // the account's AOR, for skip_busy
	member int    // the hunt group member index, -1 elsewhere
	// failover are the dial strings of the external number through the
	// route's other gateways, tried in order after dial fails with a
	// congestion cause (see chain).
	failover []string
	// vars go on every gateway leg of an external number, lastVars on
	// its last gateway only (its authorization, routing_extlegs.go).
	vars, lastVars []string
}

// targets are the legs ringing d dials: an account's phone, what an
// extension points at, an external number through the gateways of its
// outbound route (Trace's targets).
func (r *renderer) targets(d provisioning.Destination, depth int) []target {
	switch d.Kind {
	case provisioning.DestAccount:
		if a := r.p.Accounts[d.ID]; a != nil {
			return []target{{dial: "user/" + a.AOR(), aor: a.AOR(), member: -1}}
		}
	case provisioning.DestExtension:
		if x := r.p.Extension(d.ID); x != nil && depth < provisioning.MaxRoutingDepth*4 {
			return r.targets(x.Destination, depth+1)
		}
	case provisioning.DestExternal:
		out := r.p.RouteFor(d.Number)
		var dials []string
		for _, g := range out.Gateways {
			if g != nil {
				dials = append(dials, "sofia/gateway/"+g.Name+"/"+out.Number)
			}
		}
		if len(dials) == 0 {
			return []target{{dial: "error/NO_ROUTE_DESTINATION", member: -1}}
		}
		t := target{dial: dials[0], failover: dials[1:], member: -1}
		if out.Route.Action != provisioning.RouteEmergency { // never refused nor limited
			r.sawGateway = true
			switch {
			case r.gatewaysClosed: // the fallback of a fail-closed node
				return []target{{dial: "error/NORMAL_TEMPORARY_FAILURE", member: -1}}
			case r.legAuth != nil:
				a := r.legAuth(out)
				if a.refuse != "" {
					return []target{{dial: "error/" + a.refuse, member: -1}}
				}
				t.vars, t.lastVars = a.vars, a.lastVars
			}
		}
		return []target{t}
	}
	return nil
}

// legs writes a bridge string: each leg with its variables in [], joined
// by sep ("," rings together, "|" one after the other).
func legs(ts []target, vars []string, sep string) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.dial
		if v := slices.Concat(vars, t.vars, t.lastVars); len(v) > 0 {
			parts[i] = "[" + strings.Join(v, ",") + "]" + t.dial
		}
	}
	return strings.Join(parts, sep)
}

// failoverReject is fail_on_single_reject for a failover chain: '!' and
// the congestion causes (':' between them: ',' and '|' split dial
// strings). switch_ivr_originate looks the cause of a failed leg up in
// it as a substring: a cause listed lets the originate go on to the next
// '|' element (the next gateway), any other (busy, no answer, rejected)
// ends the whole originate.
var failoverReject = "!" + strings.ReplaceAll(causesCongestion, "|", ":")

// ring writes the dial string that rings t for secs: one leg with
// leg_timeout, or, when t has gateways to fail over to, the gateways in
// order joined by '|', each leg with leg_timeout, under
// fail_on_single_reject=failoverReject. In switch_ivr_originate, '|'
// moves on whenever an element fails, unless fail_on_single_reject names
// the element's cause: so the next gateway is tried after a 503 or an
// unreachable gateway, never after the number rang out (leg_timeout
// hangs the leg up with ALLOTTED_TIMEOUT), was busy or refused. The
// time is per leg, not originate_timeout: with a cause list in
// fail_on_single_reject, the originate's own timeout is not acted on
// while a leg is up (the check at the timeout lets the originate go on
// unless a leg is down with a listed cause), so a ringing gateway would
// ring for ever (seen on FreeSWITCH 1.10.12). A gateway tried after
// another failed gets the whole ring time again (the first's time before
// it failed is not taken off: for a 503, a few milliseconds). legVars go
// on every leg ([]), chainVars only on a chain ({}: they apply to its
// every leg).
func ring(t target, secs int, legVars, chainVars []string) string {
	lv := append([]string{"leg_timeout=" + strconv.Itoa(secs)}, legVars...)
	if len(t.failover) == 0 {
		return legs([]target{t}, lv, ",")
	}
	vars := append([]string{"fail_on_single_reject=" + failoverReject}, chainVars...)
	dials := append([]string{t.dial}, t.failover...)
	gws := make([]target, len(dials))
	for i, d := range dials {
		gws[i] = target{dial: d, vars: t.vars}
	}
	gws[len(gws)-1].lastVars = t.lastVars
	return "{" + strings.Join(vars, ",") + "}" + legs(gws, lv, "|")
}

// dialVar makes a free-text value safe inside a dial string's [] or {}:
// no separators.
func dialVar(s string) string {
	return strings.Map(func(c rune) rune {
		if strings.ContainsRune(",|[]{}'^:=", c) {
			return ' '
		}
		return c
	}, s)
}

// account rings a phone with its forwards: always goes elsewhere at
// once; no_answer bounds the ring time; busy, no_answer and unreachable
// are chosen after the bridge by ${originate_disposition}.
func (r *renderer) account(a *provisioning.PlanAccount) {
	d := provisioning.Destination{Kind: provisioning.DestAccount, ID: a.ID}
	key := label(d)
	c := dest(key)
	if f := a.Forwards[provisioning.ForwardAlways]; f != nil {
		c.acts = []act{r.run(f.Destination)}
		r.ext(key, key, false, c)
		return
	}
	var vars []string
	if f := a.Forwards[provisioning.ForwardNoAnswer]; f != nil {
		vars = append(vars, "leg_timeout="+strconv.Itoa(f.AfterSecs))
	}
	c.acts = []act{{app: "bridge", data: legs([]target{{dial: "user/" + a.AOR()}}, vars, ",")}}
	// sb-a<id>w: the same ring when the phone is free, busy (with the
	// busy forward) when it is on a call, for extensions with call
	// waiting off.
	wkey := key + "w"
	wv := "sb_a" + strconv.FormatInt(a.ID, 10) + "_dial"
	waitless := false
	for _, x := range r.p.Extensions {
		waitless = waitless || x.Destination == d && !x.Waiting()
	}
	w := dest(wkey)
	if waitless {
		r.ext(wkey, wkey+"-busy", true, dest(wkey), onCallCheck(a.AOR(), wv, "user/"+a.AOR()))
		w.acts = []act{{app: "bridge", data: legs([]target{{dial: "${" + wv + "}"}}, vars, ",")}}
	}
	type fwd struct {
		on     provisioning.ForwardOn
		causes string
	}
	var after []cond
	for _, f := range []fwd{{provisioning.ForwardBusy, causesBusy}, {provisioning.ForwardNoAnswer, causesNoAnswer}, {provisioning.ForwardUnreachable, causesUnreachable}} {
		if fw := a.Forwards[f.on]; fw != nil {
			run := r.run(fw.Destination)
			if b := r.p.Voicemail(fw.Destination.ID); f.on == provisioning.ForwardBusy && fw.Destination.Kind == provisioning.DestVoicemail && b != nil && b.BusyGreetingID != nil {
				run.data = voicemailBoxLabel(b.ID, true) + " XML " + r.ctx // the busy greeting
			}
			after = append(after, cond{field: "${originate_disposition}", expr: "^(?:" + f.causes + ")$", breakOn: "on-true", acts: []act{run}})
		}
	}
	if len(after) > 0 {
		// A last condition that always holds ends the hunt here when no
		// cause matched (mod_dialplan_xml would otherwise go on to the
		// next extension that matches the label: sb-noroute).
		fkey := key + "f"
		after = append(after, cond{field: "destination_number", expr: "^" + fkey + "$", acts: []act{noop}})
		c.acts = append(c.acts, act{app: "execute_extension", data: fkey + " XML " + r.ctx})
		w.acts = append(w.acts, act{app: "execute_extension", data: fkey + " XML " + r.ctx})
		r.ext(fkey, fkey, false, append([]cond{dest(fkey)}, after...)...)
	}
	r.ext(key, key, false, c)
	if waitless {
		r.ext(wkey, wkey, false, w)
	}
}

// huntGroup renders a group's bridges. ring_all is one bridge of every
// member for the group's time: a plain ',' bridge, or, when an external
// member has gateways to fail over to, an enterprise originate (see
// ringAll). The other strategies are one bridge per member turn, each
// for the member's ring time bounded by what is left of the group's (as
// Trace counts), so that an external member's gateways can fail over
// within its turn (ring) and the turns still follow one another
// (continue_on_fail, set by the entry point). round_robin and random
// render the turns once per starting member: round_robin starts after
// the member who answered last (remembered in mod_db by
// execute_on_answer on that member's legs: the node's database on disk,
// so it survives a restart of FreeSWITCH), random at a member drawn by
// mod_expr when the call arrives. A member left out while its phone is
// on a call (Plan.SkipsBusy: the group's skip_busy, or an extension
// member with call waiting off) dials error/USER_BUSY instead of its
// phone when it has a channel (show channels like <aor>), chosen when
// the call arrives.
func (r *renderer) huntGroup(h *provisioning.HuntGroup) {
	key := label(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID})
	var members []target
	r.sawGateway = false
	defer func() {
		if r.sawGateway {
			r.out.gatewayLabels[key] = provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}
		}
	}()
	for i, m := range h.Members {
		for _, t := range r.targets(m.Destination, 0) {
			t.member = i
			members = append(members, t)
		}
	}
	rrKey := fmt.Sprintf("t%dh%d", r.p.Tenant.ID, h.ID)
	for i := range members {
		t := &members[i]
		if t.aor == "" || !r.p.SkipsBusy(h, t.member) {
			continue
		}
		v := fmt.Sprintf("sb_%s_m%d", rrKey, i)
		r.ext(key, fmt.Sprintf("%s-busy%d", key, i), true, dest(key), onCallCheck(t.aor, v, t.dial))
		t.dial = "${" + v + "}"
	}
	failover := r.run(h.Failover)
	if h.Failover.IsZero() {
		failover = act{app: "hangup", data: "${originate_disposition}"}
	}
	if h.Strategy == provisioning.HuntRingAll {
		c := dest(key)
		c.acts = append(ringAll(members, h.GroupRing()), failover)
		r.ext(key, key, false, c)
		return
	}
	rotations := 1
	if h.Strategy == provisioning.HuntRoundRobin || h.Strategy == provisioning.HuntRandom {
		rotations = len(h.Members)
	}
	selector := "${db(select/sb_rr/" + rrKey + ")}"
	if h.Strategy == provisioning.HuntRandom {
		v := "sb_" + rrKey + "_start"
		selector = "${" + v + "}"
		draw := dest(key)
		draw.acts = []act{{app: "set", data: fmt.Sprintf("%s=${expr(floor(random(0,%d)))}", v, rotations), inline: true}}
		r.ext(key, key+"-draw", true, draw)
	}
	// The rotations starting at 1..n-1 are chosen by the selector; the
	// one starting at member 0 is the default (nothing remembered yet).
	for k := 1; k <= rotations; k++ {
		start := k % rotations
		c := []cond{dest(key)}
		if start != 0 {
			c = append(c, cond{field: selector, expr: "^" + strconv.Itoa(start) + "$"})
		}
		last := &c[len(c)-1]
		for _, b := range r.sequence(h, members, start, rrKey) {
			last.acts = append(last.acts, act{app: "bridge", data: b})
		}
		last.acts = append(last.acts, failover)
		r.ext(key, fmt.Sprintf("%s-from%d", key, start), false, c...)
	}
}

// ringAll is the actions that ring every member together for secs. With
// no gateway failover it is one ',' bridge, each leg with leg_timeout.
// With one it is an enterprise originate: one thread per member (':_:'),
// each its own originate, a phone's with originate_timeout=secs (a
// thread's default is 60 s), the external member's its gateways in
// order (ring); the first thread to
// answer wins and the others are cancelled (LOSE_RACE), with no extra
// channel (a loopback leg would add CDRs). An enterprise originate
// forces ignore_early_media on its threads and relays nothing to the
// caller (switch_ivr_enterprise_originate: it only pre-answers for a
// ringback variable), so ring_ready first sends the caller its 180; and
// it leaves originate_disposition at "failure" (a plain originate sets
// the cause), so the cause (originate_failed_cause, set by the bridge)
// is copied there for what follows (the failover's hangup).
func ringAll(members []target, secs int) []act {
	if len(members) == 0 {
		return nil
	}
	enterprise := false
	for _, t := range members {
		enterprise = enterprise || len(t.failover) > 0
	}
	if !enterprise {
		return []act{{app: "bridge", data: legs(members, []string{"leg_timeout=" + strconv.Itoa(secs)}, ",")}}
	}
	threads := make([]string, len(members))
	for i, t := range members {
		if len(t.failover) > 0 {
			threads[i] = ring(t, secs, nil, nil)
		} else {
			threads[i] = "{originate_timeout=" + strconv.Itoa(secs) + "}" + legs([]target{t}, nil, ",")
		}
	}
	return []act{
		{app: "ring_ready", data: ""},
		{app: "bridge", data: strings.Join(threads, ":_:")},
		{app: "set", data: "originate_disposition=${originate_failed_cause}"},
	}
}

// sequence is the bridges of a group's member turns from member start
// on, each for min(its time, what is left of the group's).
func (r *renderer) sequence(h *provisioning.HuntGroup, members []target, start int, rrKey string) []string {
	n := len(h.Members)
	left := h.GroupRing()
	var out []string
	for k := range n {
		i := (start + k) % n
		if left <= 0 {
			break
		}
		secs := min(h.MemberRing(i), left)
		left -= secs
		var vars []string
		if h.Strategy == provisioning.HuntRoundRobin {
			vars = append(vars, fmt.Sprintf("execute_on_answer=db insert/sb_rr/%s/%d", rrKey, (i+1)%n))
		}
		var rings []string
		for _, t := range members {
			if t.member == i {
				rings = append(rings, ring(t, secs, vars, nil))
			}
		}
		if len(rings) > 0 {
			out = append(out, strings.Join(rings, ","))
		}
	}
	return out
}

// condition sets sb_c<id> to match when one of its windows (in its time
// zone, the channel's timezone variable that the dialplan's wday,
// time-of-day, year, mon and mday attributes are evaluated in) and its
// caller IDs hold, then runs match or miss.
func (r *renderer) condition(c *provisioning.Condition) {
	key := label(provisioning.Destination{Kind: provisioning.DestCondition, ID: c.ID})
	top := dest(key)
	rules, callers := c.Rules(), c.CallerIDs
	switch {
	case c.Manual == provisioning.ManualMatch:
		top.acts = []act{r.run(c.Match)}
	case c.Manual == provisioning.ManualMiss || len(rules) == 0 && len(callers) == 0:
		top.acts = []act{r.run(c.Miss)}
	default:
		v := "sb_c" + strconv.FormatInt(c.ID, 10)
		evalKey := key + "e"
		top.acts = []act{{app: "set", data: v + "=miss"}, {app: "set", data: "timezone=" + c.TimeZone},
			{app: "execute_extension", data: evalKey + " XML " + r.ctx}}
		var callerCond []cond
		if len(callers) > 0 {
			callerCond = []cond{{field: "caller_id_number", expr: callerRegex(callers)}}
		}
		set := act{app: "set", data: v + "=match", inline: true}
		windows := [][]string{nil}
		if len(rules) > 0 {
			windows = nil
			for _, tr := range rules {
				windows = append(windows, timeAttrs(tr)...)
			}
		}
		for i, w := range windows {
			conds := []cond{dest(evalKey)}
			if w != nil {
				conds = append(conds, cond{attrs: w})
			}
			conds = append(conds, callerCond...)
			last := &conds[len(conds)-1]
			last.acts = []act{set}
			r.ext(evalKey, fmt.Sprintf("%s-w%d", evalKey, i), true, conds...)
		}
		m, miss := r.run(c.Match), r.run(c.Miss)
		miss.anti = true
		r.ext(evalKey, evalKey+"-then", false, dest(evalKey), cond{field: "${" + v + "}", expr: "^match$", acts: []act{m, miss}})
	}
	r.ext(key, key, false, top)
}

// callerRegex matches any of the caller IDs: numbers exactly, prefixes
// ending in '*' as prefixes.
func callerRegex(ids []string) string {
	alts := make([]string, len(ids))
	for i, id := range ids {
		if p, ok := strings.CutSuffix(id, "*"); ok {
			alts[i] = regexQuote(p) + ".*"
		} else {
			alts[i] = regexQuote(id)
		}
	}
	return "^(?:" + strings.Join(alts, "|") + ")$"
}

// timeAttrs writes one rule as the attributes of one or more time
// conditions (any of which holds): wday (1 is Sunday), time-of-day
// (inclusive at both ends in seconds, so the rule's excluded end minute
// becomes HH:MM-1:59) and the date range as year/mon/mday ranges. The
// date-time attribute is not used: switch_fulldate_cmp reads it in the
// server's local time, not the channel's timezone.
func timeAttrs(tr provisioning.TimeRule) [][]string {
	var base []string
	if tr.Weekdays != 0 {
		var days []string
		for d := range 7 {
			if tr.Weekdays&(1<<d) != 0 {
				days = append(days, strconv.Itoa(d+1))
			}
		}
		base = append(base, "wday", strings.Join(days, ","))
	}
	if !tr.AllDay() {
		end := (tr.To*60 - 1 + 86400) % 86400
		base = append(base, "time-of-day", fmt.Sprintf("%02d:%02d:00-%02d:%02d:%02d", tr.From/60, tr.From%60, end/3600, end/60%60, end%60))
	}
	if tr.DateFrom == 0 {
		return [][]string{base}
	}
	var out [][]string
	for _, seg := range dateSegments(tr.DateFrom, tr.DateTo) {
		out = append(out, append(slices.Clone(base), seg...))
	}
	return out
}

// dateSegments splits an inclusive date range (YYYYMMDD) into at most
// seven year/mon/mday attribute sets: the partial first year (its first
// month's days, its whole months), the whole years, the partial last
// year.
func dateSegments(from, to int) [][]string {
	type ymd struct{ y, m, d int }
	a := ymd{from / 10000, from / 100 % 100, from % 100}
	z := ymd{to / 10000, to / 100 % 100, to % 100}
	rng := func(lo, hi int) string {
		if lo == hi {
			return strconv.Itoa(lo)
		}
		return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
	}
	lastDay := func(y, m int) int { return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() }
	// year y from month/day (m1,d1) to (m2,d2), inclusive.
	var out [][]string
	year := func(y, m1, d1, m2, d2 int) {
		ys := strconv.Itoa(y)
		if m1 == m2 {
			out = append(out, []string{"year", ys, "mon", strconv.Itoa(m1), "mday", rng(d1, d2)})
			return
		}
		if d1 != 1 {
			out = append(out, []string{"year", ys, "mon", strconv.Itoa(m1), "mday", rng(d1, lastDay(y, m1))})
			m1++
		}
		endFull := m2
		if d2 != lastDay(y, m2) {
			endFull = m2 - 1
		}
		if m1 <= endFull {
			out = append(out, []string{"year", ys, "mon", rng(m1, endFull)})
		}
		if endFull != m2 {
			out = append(out, []string{"year", ys, "mon", strconv.Itoa(m2), "mday", rng(1, d2)})
		}
	}
	if a.y == z.y {
		year(a.y, a.m, a.d, z.m, z.d)
		return out
	}
	year(a.y, a.m, a.d, 12, 31)
	if a.y+1 <= z.y-1 {
		out = append(out, []string{"year", rng(a.y+1, z.y-1)})
	}
	year(z.y, 1, 1, z.m, z.d)
	return out
}

// custom sends the call out: a number or URI through its gateway, a URI
// straight from the profile, a number through the outbound routes.
func (r *renderer) custom(c *provisioning.CustomDestination) {
	key := label(provisioning.Destination{Kind: provisioning.DestCustom, ID: c.ID})
	top := dest(key)
	target := c.Number
	if c.URI != "" {
		target = strings.TrimPrefix(strings.TrimPrefix(c.URI, "sip:"), "sips:")
	}
	switch {
	case c.GatewayID != nil && r.p.Gateways[*c.GatewayID] != nil:
		top.acts = []act{{app: "bridge", data: "sofia/gateway/" + r.p.Gateways[*c.GatewayID].Name + "/" + target}}
		if _, ok := customNumber(c); ok { // authorized per call (routing_extlegs.go)
			r.out.gatewayLabels[key] = provisioning.Destination{Kind: provisioning.DestCustom, ID: c.ID}
			if r.gatewaysClosed {
				top.acts = []act{{app: "set", data: "sb_authz=unreachable"}, {app: "hangup", data: "NORMAL_TEMPORARY_FAILURE"}}
			}
		}
	case c.URI != "":
		top.acts = []act{{app: "bridge", data: "sofia/" + r.profile + "/" + target}}
	default:
		top.acts = []act{r.run(provisioning.Destination{Kind: provisioning.DestExternal, Number: c.Number})}
	}
	r.ext(key, key, false, top)
}

// callerIDs gives the calls a phone dials to an outside number (not an
// sb- label: a forward to a number keeps its caller's ID) the caller ID
// of the phone's extension: the first extension pointing at its account
// that has one. The phone is known by the user_name and domain_name
// sofia sets on an authenticated INVITE; these extensions continue, so
// the outbound routes below still match.
func (r *renderer) callerIDs(b *strings.Builder) {
	done := map[int64]bool{}
	for _, x := range r.p.Extensions {
		if x.Destination.Kind != provisioning.DestAccount || x.CallerIDNumber == "" && x.CallerIDName == "" || done[x.Destination.ID] {
			continue
		}
		a := r.p.Accounts[x.Destination.ID]
		if a == nil {
			continue
		}
		done[a.ID] = true
		var acts []act
		if x.CallerIDNumber != "" {
			acts = append(acts, act{app: "set", data: "effective_caller_id_number=" + x.CallerIDNumber})
		}
		if x.CallerIDName != "" {
			acts = append(acts, act{app: "set", data: "effective_caller_id_name=" + xmlNoExpansion(x.CallerIDName)})
		}
		b.WriteString(extXML("sb-cid-a"+strconv.FormatInt(a.ID, 10), true,
			cond{field: "destination_number", expr: "^[0-9+*#]"},
			cond{field: "${user_name}@${domain_name}", expr: "^" + regexQuote(a.AOR()) + "$", acts: acts}))
	}
}

// routes renders the outbound routes in the order they are tried, each
// matching its patterns as dialled by a phone (an entry point) or as an
// sb-o<number> label (run by a destination). Gateways are tried in
// order, the next one only when the last leg failed with a congestion
// cause. A block route refuses; a number no route matches is refused as
// NO_ROUTE_DESTINATION when it came from a destination, and sent to the
// else context when a phone dialled it. A least-cost route
// (RouteOrderCost) is rendered in its listed order, which is what the
// fallback file dials; the live answers order its gateways per call
// (routing_lcr.go), through the same failover labels.
func (r *renderer) routes() {
	var b strings.Builder
	r.callerIDs(&b)
	r.out.callerIDs = b.String()
	for _, rt := range r.p.Routes {
		expr, ok := routeExpr(rt)
		if !ok {
			continue
		}
		var body []act
		if rt.Action == provisioning.RouteBlock {
			body = []act{{app: "hangup", data: "CALL_REJECTED"}}
		} else if r.gatewaysClosed && rt.Action != provisioning.RouteEmergency {
			// the fallback of a fail-closed node (routing_authz.go)
			body = []act{{app: "set", data: "sb_authz=unreachable"}, {app: "hangup", data: "NORMAL_TEMPORARY_FAILURE"}}
		} else {
			body = r.gatewayActs(rt, listedOrder(rt))
			for i := range rt.GatewayIDs {
				// the failover labels: every gateway but the first, or
				// every one of a least-cost route (any can come second)
				if (i > 0 || costOrdered(rt)) && r.p.Gateways[rt.GatewayIDs[i]] != nil {
					b.WriteString(r.failoverExt(rt, i))
				}
			}
		}
		b.WriteString(routeExts(rt, expr, body, true, true))
	}
	b.WriteString(extXML("sb-noroute", false, cond{field: "destination_number", expr: "^sb-", acts: []act{{app: "hangup", data: "NO_ROUTE_DESTINATION"}}}))
	if r.else_ != "" {
		b.WriteString(extXML("sb-else", false, cond{field: "destination_number", expr: "^(.+)$", acts: []act{{app: "transfer", data: "$1 XML " + r.else_}}}))
	}
	r.out.routes = b.String()
}

// routeExpr is the alternation of rt's patterns' regular expressions,
// in a group (captured as $1); false when none is valid.
func routeExpr(rt *provisioning.OutboundRoute) (string, bool) {
	var alts []string
	for _, pat := range rt.Patterns {
		re, err := pat.Regexp()
		if err != nil {
			continue
		}
		alts = append(alts, strings.TrimSuffix(strings.TrimPrefix(re, "^"), "$"))
	}
	if len(alts) == 0 {
		return "", false
	}
	return "(" + strings.Join(alts, "|") + ")", true
}

// routeExts writes a route's extensions with body: sb-route-<id> for
// its sb-o<number> label (run inside a destination: no entry wrapping)
// and sb-dial-<id> for the number as dialled (an entry point).
func routeExts(rt *provisioning.OutboundRoute, expr string, body []act, label, dial bool) string {
	var s string
	if label {
		s += extXML("sb-route-"+strconv.FormatInt(rt.ID, 10), false, cond{field: "destination_number", expr: "^sb-o" + expr + "$", acts: body})
	}
	if dial {
		s += extXML("sb-dial-"+strconv.FormatInt(rt.ID, 10), false, cond{field: "destination_number", expr: "^" + expr + "$", acts: entry(body...)})
	}
	return s
}

// costOrdered: rt is a least-cost route whose gateways the live answers
// order per call.
func costOrdered(rt *provisioning.OutboundRoute) bool {
	return rt.Order == provisioning.RouteOrderCost && rt.Action == provisioning.RouteNormal && len(rt.GatewayIDs) > 0
}

// listedOrder is 0..n-1: rt's gateways as listed.
func listedOrder(rt *provisioning.OutboundRoute) []int {
	order := make([]int, len(rt.GatewayIDs))
	for i := range order {
		order[i] = i
	}
	return order
}

// gatewayActs sends the number matched (captured as $1) out through
// rt's gateways in order (indexes into rt.GatewayIDs): the first bridged
// at once, each next one through its failover label, which bridges only
// when the last leg failed with a congestion cause.
func (r *renderer) gatewayActs(rt *provisioning.OutboundRoute, order []int) []act {
	body := []act{{app: "set", data: "sb_out=$1"}}
	for k, i := range order {
		g := r.p.Gateways[rt.GatewayIDs[i]]
		if g == nil {
			continue
		}
		if k == 0 {
			body = append(body, act{app: "bridge", data: gatewayDial(rt, g)})
			continue
		}
		body = append(body, act{app: "execute_extension", data: failoverLabel(rt, i) + " XML " + r.ctx})
	}
	return body
}

// gatewayDial is the dial string of the number through g: the route's
// prepend and the number after its strip.
func gatewayDial(rt *provisioning.OutboundRoute, g *provisioning.Gateway) string {
	return "sofia/gateway/" + g.Name + "/" + rt.Prepend + "${sb_out:" + strconv.Itoa(rt.Strip) + "}"
}

// failoverLabel is the label that tries rt's i-th listed gateway after
// a congested one.
func failoverLabel(rt *provisioning.OutboundRoute, i int) string {
	return fmt.Sprintf("sb-r%dg%d", rt.ID, i)
}

// failoverExt is the extension of failoverLabel(rt, i): the next gateway
// only on congestion, a hunt of its own label, conditioned on the last
// leg's cause.
func (r *renderer) failoverExt(rt *provisioning.OutboundRoute, i int) string {
	fkey := failoverLabel(rt, i)
	br := act{app: "bridge", data: gatewayDial(rt, r.p.Gateways[rt.GatewayIDs[i]])}
	noopAnti := noop
	noopAnti.anti = true
	return extXML(fkey, false, dest(fkey), cond{field: "${originate_disposition}", expr: "^(?:" + causesCongestion + ")$", acts: []act{br, noopAnti}})
}
