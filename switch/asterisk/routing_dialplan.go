package asterisk

// The routing renderer: a tenant's provisioning.Plan as contexts of the
// generated dialplan file. Its meaning is provisioning.Plan.Trace's; the
// shape, per tenant T:
//
//	[sb-tT]      the context the tenant's phones dial in (their endpoint's
//	             context): plan numbers and the outbound routes' patterns
//	             Gosub into the objects; `include => phones` last, so that
//	             dialling a username still works.
//	[sb-tT-obj]  one extension per object: aA account (its forwards chosen
//	             by DIALSTATUS), xN extension (follow-me after its
//	             destination), gN hunt group, cN condition, uN custom
//	             destination; hangup and busy.
//	[sb-tT-out]  external numbers: the outbound routes tried in the order
//	             Plan.Routes has them (REGEX of DialPattern.Regexp, so that
//	             the order is the plan's, not Asterisk's pattern
//	             specificity), rN the route's gateways in failover order.
//	[sb-tT-cid]  the caller ID an extension gives its phone.
//	[sb-tT-ivrN] IVR menu N: s answers, plays and waits (WaitExten); its
//	             keys, and with direct dialling the plan's numbers, are
//	             extensions of the context; i and t replay the greeting
//	             until its plays run out, then take the invalid and
//	             timeout destinations (routing_ivr.go).
//	[sb-tT-vm]   the voicemail listening menu (VoiceMailMain), and in
//	             [sb-tT-obj] each box's vN / vbN (leave a message after the
//	             unavailable / busy greeting) (routing_voicemail.go);
//	             each fax box's fN and the handler fdone, and fax, where
//	             an extension's fax detection lands (routing_fax.go).
//	[sb-tT-rec]  call recording: MixMonitor started once per call on the
//	             caller's channel (routing_recording.go).
//
// Every object ends with Return(): entry points Gosub into it and hang up
// after, an extension with follow-me Gosubs its destination and then
// rings the list; from one object to the next is a Goto (a tail call).

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TenantContext is the context the phones of tenant id dial in.
func TenantContext(id int64) string { return "sb-t" + strconv.FormatInt(id, 10) }

// huntDBFamily is the AstDB family of round-robin groups' last answerers.
const huntDBFamily = "sbhunt"

// routingRenderer renders one plan.
type routingRenderer struct {
	o    PushOptions
	p    *provisioning.Plan
	base string // sb-tT
	obj  string
	out  string
	cid  string
}

// renderPlan returns the tenant's contexts, and the DID entries of
// switchboard-dids for its routed DIDs.
func renderPlan(o PushOptions, p *provisioning.Plan) (ctxs []dialplanContext, dids []dialplanExten) {
	base := TenantContext(p.Tenant.ID)
	r := &routingRenderer{o: o, p: p, base: base, obj: base + "-obj", out: base + "-out", cid: base + "-cid"}
	ctxs = append([]dialplanContext{r.phones(), r.objects(), r.outbound(), r.callerIDs(), r.roundRobin()}, r.menus()...)
	ctxs = append(ctxs, r.voicemailMain()...)
	return append(ctxs, r.recordings()...), r.dids()
}

// gosub is the entry point's body: Gosub into d, then hang up.
func (r *routingRenderer) entry(d provisioning.Destination, steps ...string) []string {
	return append(steps, "Gosub("+r.target(d)+")", "Hangup()")
}

// target is where a jump to d goes: context,exten,1.
func (r *routingRenderer) target(d provisioning.Destination) string {
	switch d.Kind {
	case provisioning.DestAccount:
		return r.obj + ",a" + id(d.ID) + ",1"
	case provisioning.DestExtension:
		return r.obj + ",x" + id(d.ID) + ",1"
	case provisioning.DestHuntGroup:
		return r.obj + ",g" + id(d.ID) + ",1"
	case provisioning.DestCondition:
		return r.obj + ",c" + id(d.ID) + ",1"
	case provisioning.DestCustom:
		return r.obj + ",u" + id(d.ID) + ",1"
	case provisioning.DestExternal:
		if dialplanDialled.MatchString(d.Number) {
			return r.out + "," + d.Number + ",1"
		}
	case provisioning.DestIVR:
		if r.p.IVR(d.ID) != nil {
			return r.menuContext(d.ID) + ",s,1"
		}
	case provisioning.DestVoicemail:
		return r.voicemailTarget(d, false)
	case provisioning.DestFax:
		return r.faxTarget(d)
	case provisioning.DestVoicemailMain:
		if len(r.p.Voicemails) > 0 {
			return r.base + "-vm,s,1"
		}
	case provisioning.DestBusy:
		return r.obj + ",busy,1"
	}
	return r.obj + ",hangup,1"
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// dialplanDialled is an external number as the plan allows it.
var dialplanDialled = regexp.MustCompile(`^\+?[0-9*#]{1,32}$`)

// phones is [sb-tT].
func (r *routingRenderer) phones() dialplanContext {
	c := dialplanContext{Name: r.base, Comment: []string{fmt.Sprintf("Tenant %d (%s): what its phones dial.", r.p.Tenant.ID, r.p.Tenant.Name)}}
	cid := []string{"Gosub(" + r.cid + ",s,1)"}
	if rec := r.recordPhone(); rec != "" {
		cid = append(cid, rec)
	}
	for _, x := range r.p.Extensions {
		c.Exts = append(c.Exts, dialplanExten{Name: x.Number, Steps: r.entry(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}, cid...)})
	}
	for _, h := range r.p.HuntGroups {
		c.Exts = append(c.Exts, dialplanExten{Name: h.Number, Steps: r.entry(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}, cid...)})
	}
	for _, m := range r.p.IVRs {
		if m.Number != "" {
			c.Exts = append(c.Exts, dialplanExten{Name: m.Number, Steps: r.entry(provisioning.Destination{Kind: provisioning.DestIVR, ID: m.ID}, cid...)})
		}
	}
	for _, b := range r.p.Voicemails {
		c.Exts = append(c.Exts, dialplanExten{Name: b.Number, Steps: r.entry(provisioning.Destination{Kind: provisioning.DestVoicemail, ID: b.ID}, cid...)})
	}
	for _, b := range r.p.Faxes {
		if b.Number != "" {
			c.Exts = append(c.Exts, dialplanExten{Name: b.Number, Steps: r.entry(provisioning.Destination{Kind: provisioning.DestFax, ID: b.ID}, cid...)})
		}
	}
	seen := map[string]bool{}
	for _, rt := range r.p.Routes {
		for _, pat := range rt.Patterns {
			name := "_" + string(pat)
			if seen[name] {
				continue
			}
			seen[name] = true
			c.Exts = append(c.Exts, dialplanExten{Name: name, Steps: append(slices.Clone(cid), "Gosub("+r.out+",${EXTEN},1)", "Hangup()")})
		}
	}
	if r.o.PhoneContext != "" {
		c.Includes = append(c.Includes, r.o.PhoneContext)
	}
	return c
}

// dids are the tenant's routed DIDs, with and without their +.
func (r *routingRenderer) dids() []dialplanExten {
	var out []dialplanExten
	dids := slices.Clone(r.p.DIDs)
	slices.SortFunc(dids, func(a, b provisioning.DID) int { return strings.Compare(a.Number, b.Number) })
	for _, d := range dids {
		if d.Destination == nil {
			continue
		}
		if !dialplanNumber.MatchString(d.Number) {
			out = append(out, dialplanExten{Comment: "left out: a DID whose number is not E.164"})
			continue
		}
		digits := strings.TrimPrefix(d.Number, "+")
		first := []string{"Gosub(" + fromContext + ",s,1)"}
		if rec := r.recordDID(d); rec != "" {
			first = append(first, rec)
		}
		for _, name := range []string{"+" + digits, digits} {
			out = append(out, dialplanExten{Name: name, Steps: r.entry(*d.Destination, first...)})
		}
	}
	return out
}

// dialTarget is the Dial string that rings d as a member (Plan.Trace's
// targets: an account's phone without its forwards, an extension's
// account or external number, an external number through the routes),
// or "" when d rings nothing.
func (r *routingRenderer) dialTarget(d provisioning.Destination, depth int) string {
	switch d.Kind {
	case provisioning.DestAccount:
		if a := r.p.Accounts[d.ID]; a != nil {
			if ep := r.o.AccountID(a.Account); dialplanTarget.MatchString(ep) {
				return "PJSIP/" + ep
			}
		}
	case provisioning.DestExtension:
		if x := r.p.Extension(d.ID); x != nil && depth < provisioning.MaxRoutingDepth*4 {
			return r.dialTarget(x.Destination, depth+1)
		}
	case provisioning.DestExternal:
		if dialplanDialled.MatchString(d.Number) {
			return "Local/L" + d.Number + "@" + r.out
		}
	}
	return ""
}

// objects is [sb-tT-obj].
func (r *routingRenderer) objects() dialplanContext {
	c := dialplanContext{Name: r.obj, Comment: []string{fmt.Sprintf("Tenant %d: its routing objects.", r.p.Tenant.ID)}}
	for _, aid := range sortedIDs(r.p.Accounts) {
		c.Exts = append(c.Exts, r.account(r.p.Accounts[aid]))
	}
	for _, x := range r.p.Extensions {
		c.Exts = append(c.Exts, r.extension(x))
	}
	for _, h := range r.p.HuntGroups {
		c.Exts = append(c.Exts, r.huntGroup(h))
	}
	for _, cd := range r.p.Conditions {
		c.Exts = append(c.Exts, r.condition(cd))
	}
	for _, u := range r.p.Customs {
		c.Exts = append(c.Exts, r.custom(u))
	}
	c.Exts = append(c.Exts, r.voicemails()...)
	c.Exts = append(c.Exts, r.faxes()...)
	c.Exts = append(c.Exts, r.faxDetected()...)
	c.Exts = append(c.Exts,
		dialplanExten{Name: "hangup", Steps: []string{"Hangup(21)"}},
		dialplanExten{Name: "busy", Steps: []string{"Hangup(17)"}},
	)
	return c
}

func sortedIDs(m map[int64]*provisioning.PlanAccount) []int64 {
	return slices.Sorted(maps.Keys(m))
}

// account rings the phone; its forwards by DIALSTATUS.
func (r *routingRenderer) account(a *provisioning.PlanAccount) dialplanExten {
	e := dialplanExten{Name: "a" + id(a.ID), Comment: "account " + a.AOR()}
	if f := a.Forwards[provisioning.ForwardAlways]; f != nil {
		e.Steps = []string{"Goto(" + r.target(f.Destination) + ")"}
		return e
	}
	ep := r.o.AccountID(a.Account)
	if !dialplanTarget.MatchString(ep) {
		e.Comment += " (its endpoint id cannot be dialled)"
		e.Steps = []string{"Return()"}
		return e
	}
	dial := "Dial(PJSIP/" + ep + ")"
	if f := a.Forwards[provisioning.ForwardNoAnswer]; f != nil {
		dial = fmt.Sprintf("Dial(PJSIP/%s,%d)", ep, f.AfterSecs)
	}
	e.Steps = append(e.Steps, dial)
	for _, fw := range []struct {
		on     provisioning.ForwardOn
		status string
	}{{provisioning.ForwardBusy, "BUSY"}, {provisioning.ForwardUnreachable, "CHANUNAVAIL"}, {provisioning.ForwardNoAnswer, "NOANSWER"}} {
		if f := a.Forwards[fw.on]; f != nil {
			e.Steps = append(e.Steps, `GotoIf($["${DIALSTATUS}"="`+fw.status+`"]?`+r.forwardTarget(fw.on, f.Destination)+")")
		}
	}
	return e.ret()
}

func (e dialplanExten) ret() dialplanExten {
	e.Steps = append(e.Steps, "Return()")
	return e
}

// extension goes to its destination; with follow-me it comes back and
// rings each step in turn, presenting the list's caller ID.
func (r *routingRenderer) extension(x *provisioning.Extension) dialplanExten {
	e := dialplanExten{Name: "x" + id(x.ID), Comment: "extension " + x.Number}
	if rec := r.recordExtension(x); rec != "" {
		e.Steps = append(e.Steps, rec)
	}
	e.Steps = append(e.Steps, r.faxDetect(x)...)
	busy, fwd := r.noWaiting(x)
	if x.FollowMe == nil {
		if busy != "" {
			e.Steps = append(e.Steps, "GotoIf($["+busy+"]?"+cmp.Or(fwd, r.target(provisioning.Destination{Kind: provisioning.DestBusy}))+")")
		}
		e.Steps = append(e.Steps, "Goto("+r.target(x.Destination)+")")
		return e
	}
	// Busy without call waiting is a Dial that came back BUSY: the busy
	// forward (a Gosub, so that the list still follows), then the list.
	ring := "Gosub(" + r.target(x.Destination) + ")"
	switch {
	case busy != "" && fwd == "":
		e.Steps = append(e.Steps, "GotoIf($["+busy+"]?fm)")
	case busy != "":
		e.Steps = append(e.Steps, "GotoIf($[!("+busy+")]?ring)", "Gosub("+fwd+")", "Goto(fm)")
		ring = "n(ring)|" + ring
	}
	e.Steps = append(e.Steps, ring)
	fm := len(e.Steps)
	if n := x.FollowMe.CallerIDNumber; n != "" {
		e.Steps = append(e.Steps, "Set(CALLERID(num)="+n+")")
	}
	if n := dialplanText(x.FollowMe.CallerIDName); n != "" {
		e.Steps = append(e.Steps, "Set(CALLERID(name)="+n+")")
	}
	for _, s := range x.FollowMe.Steps {
		if t := r.dialTarget(s.Destination, 0); t != "" {
			e.Steps = append(e.Steps, fmt.Sprintf("Dial(%s,%d)", t, s.RingSecs))
		}
	}
	e = e.ret()
	if busy != "" {
		e.Steps[fm] = "n(fm)|" + e.Steps[fm]
	}
	return e
}

// noWaiting is, for an extension with call waiting off that rings its
// account (Plan.Trace's NoCallWaiting ring), the expression true while
// the phone is on a call, and the account's busy forward's target ("" when
// it has none); busy is "" when there is nothing to check (call waiting
// on, another destination, an unconditional forward, an endpoint that
// cannot be dialled).
func (r *routingRenderer) noWaiting(x *provisioning.Extension) (busy, fwd string) {
	if x.Waiting() || x.Destination.Kind != provisioning.DestAccount {
		return "", ""
	}
	a := r.p.Accounts[x.Destination.ID]
	if a == nil || a.Forwards[provisioning.ForwardAlways] != nil {
		return "", ""
	}
	ep := r.o.AccountID(a.Account)
	if !dialplanTarget.MatchString(ep) {
		return "", ""
	}
	if f := a.Forwards[provisioning.ForwardBusy]; f != nil {
		fwd = r.forwardTarget(provisioning.ForwardBusy, f.Destination)
	}
	return deviceBusy("PJSIP/" + ep), fwd
}

// dialplanText keeps a caller ID name to characters extensions.conf and
// an application's argument parser take as they are.
func dialplanText(s string) string {
	return strings.Map(func(c rune) rune {
		if c < ' ' || strings.ContainsRune(`,;()[]{}$"\|&^`, c) {
			return -1
		}
		return c
	}, s)
}

// huntGroup rings its members. ring_all is one Dial of them all for the
// group's time; the others walk the members in a loop from a start index
// (0; after the last answerer kept in AstDB; RAND), each for its ring
// time cut to what is left of the group's, as Trace counts it. A member
// Plan.SkipsBusy names (the group's skip_busy, or an extension with call
// waiting off) is left out while its phone's device is in use.
func (r *routingRenderer) huntGroup(h *provisioning.HuntGroup) dialplanExten {
	e := dialplanExten{Name: "g" + id(h.ID), Comment: fmt.Sprintf("hunt_group %s (%s)", h.Number, h.Strategy)}
	failover := "Return()"
	if !h.Failover.IsZero() {
		failover = "Goto(" + r.target(h.Failover) + ")"
	}
	var targets []string
	var secs []int
	var skip []bool // left out while on a call (Plan.SkipsBusy), phones only
	for i, m := range h.Members {
		if t := r.dialTarget(m.Destination, 0); t != "" {
			targets = append(targets, t)
			secs = append(secs, h.MemberRing(i))
			skip = append(skip, r.p.SkipsBusy(h, i) && strings.HasPrefix(t, "PJSIP/"))
		}
	}
	if len(targets) == 0 {
		e.Steps = []string{failover}
		return e
	}
	if h.Strategy == provisioning.HuntRingAll {
		if !slices.Contains(skip, true) {
			e.Steps = []string{fmt.Sprintf("Dial(%s,%d)", strings.Join(targets, "&"), h.GroupRing()), failover}
			return e
		}
		e.Steps = append(e.Steps, "Set(SB_D=)")
		for i, t := range targets {
			add := "Set(SB_D=${SB_D}&" + t + ")"
			if skip[i] {
				add = "ExecIf($[!(" + deviceBusy(t) + ")]?" + add + ")"
			}
			e.Steps = append(e.Steps, add)
		}
		e.Steps = append(e.Steps,
			`GotoIf($["${SB_D}"=""]?fail)`,
			fmt.Sprintf("Dial(${SB_D:1},%d)", h.GroupRing()),
			"n(fail)|"+failover)
		return e
	}
	n := len(targets)
	some := !slices.Equal(skip, slices.Repeat([]bool{skip[0]}, n)) // some members checked, not all
	for i, t := range targets {
		e.Steps = append(e.Steps, fmt.Sprintf("Set(SB_M%d=%s)", i, t), fmt.Sprintf("Set(SB_R%d=%d)", i, secs[i]))
		if some {
			e.Steps = append(e.Steps, fmt.Sprintf("Set(SB_B%d=%d)", i, boolInt(skip[i])))
		}
	}
	key := fmt.Sprintf("t%dg%d", r.p.Tenant.ID, h.ID)
	dialOpts := ""
	switch h.Strategy {
	case provisioning.HuntRoundRobin:
		e.Steps = append(e.Steps,
			"Set(SB_I=${DB("+huntDBFamily+"/"+key+")})",
			`ExecIf($["${SB_I}"=""]?Set(SB_I=-1))`,
			fmt.Sprintf("Set(SB_I=$[(${SB_I}+1)%%%d])", n))
		dialOpts = ",U(" + r.base + "-rr^" + key + "^${SB_I})"
	case provisioning.HuntRandom:
		e.Steps = append(e.Steps, fmt.Sprintf("Set(SB_I=${RAND(0,%d)})", n-1))
	default:
		e.Steps = append(e.Steps, "Set(SB_I=0)")
	}
	e.Steps = append(e.Steps,
		"Set(SB_K=0)",
		fmt.Sprintf("Set(SB_LEFT=%d)", h.GroupRing()),
		fmt.Sprintf("n(loop)|GotoIf($[${SB_K} >= %d | ${SB_LEFT} <= 0]?fail)", n),
		"Set(SB_T=${IF($[${SB_R${SB_I}} > ${SB_LEFT}]?${SB_LEFT}:${SB_R${SB_I}})})")
	switch {
	case some:
		e.Steps = append(e.Steps, "GotoIf($[${SB_B${SB_I}} & ("+deviceBusy("${SB_M${SB_I}}")+")]?next)")
	case skip[0]:
		e.Steps = append(e.Steps, "GotoIf($["+deviceBusy("${SB_M${SB_I}}")+"]?next)")
	}
	e.Steps = append(e.Steps,
		"Dial(${SB_M${SB_I}},${SB_T}"+dialOpts+")",
		"Set(SB_LEFT=$[${SB_LEFT} - ${SB_T}])",
		fmt.Sprintf("n(next)|Set(SB_I=$[(${SB_I}+1)%%%d])", n),
		"Set(SB_K=$[${SB_K}+1])",
		"Goto(loop)",
		"n(fail)|"+failover)
	return e
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// deviceBusy is an expression true when device t is on a call (a Local
// channel's state is never one of these).
func deviceBusy(t string) string {
	var parts []string
	for _, st := range []string{"INUSE", "BUSY", "RINGINUSE", "ONHOLD"} {
		parts = append(parts, `"${DEVICE_STATE(`+t+`)}"="`+st+`"`)
	}
	return strings.Join(parts, " | ")
}

// condition: manual first, then each time rule (GotoIfTime in the zone,
// with end minutes made inclusive as Asterisk counts them, and the dates
// with their years compared on STRFTIME), then the caller IDs (REGEX).
func (r *routingRenderer) condition(c *provisioning.Condition) dialplanExten {
	e := dialplanExten{Name: "c" + id(c.ID), Comment: "condition " + id(c.ID) + " (" + dialplanText(c.Name) + ")"}
	match, miss := "Goto("+r.target(c.Match)+")", "Goto("+r.target(c.Miss)+")"
	rules := c.Rules()
	switch {
	case c.Manual == provisioning.ManualMatch:
		e.Steps = []string{match}
		return e
	case c.Manual == provisioning.ManualMiss, len(rules) == 0 && len(c.CallerIDs) == 0:
		e.Steps = []string{miss}
		return e
	}
	zone := c.TimeZone
	if len(rules) > 0 {
		for i, tr := range rules {
			next := fmt.Sprintf("t%d", i+1)
			if i == len(rules)-1 {
				next = "miss"
			}
			label := fmt.Sprintf("n(t%d)|", i)
			if tr.DateFrom != 0 {
				e.Steps = append(e.Steps, fmt.Sprintf("%sSet(SB_DATE=${STRFTIME(${EPOCH},%s,%%Y%%m%%d)})", label, zone),
					fmt.Sprintf("GotoIf($[${SB_DATE} < %d | ${SB_DATE} > %d]?%s)", tr.DateFrom, tr.DateTo, next))
				label = ""
			}
			e.Steps = append(e.Steps, fmt.Sprintf("%sGotoIfTime(%s,%s,*,*,%s?in)", label, asteriskTimes(tr), asteriskWeekdays(tr.Weekdays), zone))
		}
		e.Steps = append(e.Steps, "Goto(miss)")
		if len(c.CallerIDs) > 0 {
			e.Steps = append(e.Steps, "n(in)|NoOp(in time)")
		} else {
			e.Steps = append(e.Steps, "n(in)|"+match)
		}
	}
	if len(c.CallerIDs) > 0 {
		e.Steps = append(e.Steps, "GotoIf(${REGEX(\""+callerIDRegex(c.CallerIDs)+"\" ${CALLERID(num)})}?match)", "Goto(miss)", "n(match)|"+match)
	}
	e.Steps = append(e.Steps, "n(miss)|"+miss)
	return e
}

// asteriskTimes is a rule's time of day for GotoIfTime: Asterisk counts
// the end minute in, the rule does not.
func asteriskTimes(t provisioning.TimeRule) string {
	if t.AllDay() {
		return "*"
	}
	end := (t.To + 1439) % 1440
	return fmt.Sprintf("%02d:%02d-%02d:%02d", t.From/60, t.From%60, end/60, end%60)
}

var asteriskDays = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// asteriskWeekdays lists the days of mask joined by & (GotoIfTime's list).
func asteriskWeekdays(mask uint8) string {
	if mask == 0 || mask == 0x7f {
		return "*"
	}
	var out []string
	for d := range 7 {
		if mask&(1<<d) != 0 {
			out = append(out, asteriskDays[d])
		}
	}
	return strings.Join(out, "&")
}

// callerIDRegex matches any of the caller IDs: exact numbers, prefixes
// ending in *. + and * are written as sets, since backslashes do not
// survive extensions.conf.
func callerIDRegex(ids []string) string {
	esc := strings.NewReplacer("+", "[+]", "*", "[*]")
	parts := make([]string, len(ids))
	for i, v := range ids {
		if p, ok := strings.CutSuffix(v, "*"); ok {
			parts[i] = "^" + esc.Replace(p)
		} else {
			parts[i] = "^" + esc.Replace(v) + "$"
		}
	}
	return strings.Join(parts, "|")
}

// custom dials its number or URI through its gateway, a URI straight
// (PJSIP's default_outbound_endpoint), a number through the routes.
func (r *routingRenderer) custom(u *provisioning.CustomDestination) dialplanExten {
	e := dialplanExten{Name: "u" + id(u.ID), Comment: "custom " + dialplanText(u.Name)}
	var gw string
	if u.GatewayID != nil {
		if g := r.p.Gateways[*u.GatewayID]; g != nil && dialplanTarget.MatchString(g.Name) {
			gw = g.Name
		}
	}
	switch {
	case gw != "" && u.URI != "":
		steps, opts := r.customAuthz(u) // routing_authz.go
		e.Steps = append(steps, "Dial(PJSIP/"+gw+"/"+u.URI+opts+")")
	case gw != "":
		steps, opts := r.customAuthz(u)
		e.Steps = append(steps, "Dial(PJSIP/"+u.Number+"@"+gw+opts+")")
	case u.URI != "":
		e.Steps = []string{"Dial(PJSIP/" + u.URI + ")"}
	default:
		e.Steps = []string{"Goto(" + r.target(provisioning.Destination{Kind: provisioning.DestExternal, Number: u.Number}) + ")"}
		return e
	}
	return e.ret()
}

// outbound is [sb-tT-out]: the routes in Plan order.
func (r *routingRenderer) outbound() dialplanContext {
	c := dialplanContext{Name: r.out, Comment: []string{fmt.Sprintf("Tenant %d: external numbers, through its outbound routes in order.", r.p.Tenant.ID)}}
	e := dialplanExten{Name: "_[+0-9*#]!", Steps: []string{"Set(SB_NUM=${EXTEN})"}}
	for _, rt := range r.p.Routes {
		var res []string
		for _, pat := range rt.Patterns {
			re, err := pat.Regexp()
			if err != nil {
				continue
			}
			res = append(res, "("+strings.NewReplacer(`\+`, "[+]", `\*`, "[*]").Replace(re)+")")
		}
		if len(res) > 0 {
			e.Steps = append(e.Steps, "GotoIf(${REGEX(\""+strings.Join(res, "|")+"\" ${SB_NUM})}?r"+id(rt.ID)+",1)")
		}
	}
	e.Steps = append(e.Steps, "Hangup(3)")
	c.Exts = append(c.Exts, e,
		dialplanExten{Name: "_L[+0-9*#]!", Comment: "Local channels of Dial (members, follow-me)", Steps: []string{"Gosub(" + r.out + ",${EXTEN:1},1)", "Hangup()"}})
	c.Exts = append(c.Exts, r.faxDetected()...)
	for _, rt := range r.p.Routes {
		re := dialplanExten{Name: "r" + id(rt.ID), Comment: "outbound_route " + dialplanText(rt.Name) + " (" + string(rt.Action) + ")"}
		if rt.Action == provisioning.RouteBlock {
			re.Steps = []string{"Hangup(21)"}
			c.Exts = append(c.Exts, re)
			continue
		}
		num := "${SB_NUM}"
		if rt.Strip > 0 {
			num = fmt.Sprintf("${SB_NUM:%d}", rt.Strip)
		}
		re.Steps = append(re.Steps, "Set(SB_OUT="+rt.Prepend+num+")")
		re.Steps = append(re.Steps, r.authzSteps(rt)...) // routing_authz.go
		var names []string
		for _, gid := range rt.GatewayIDs {
			if g := r.p.Gateways[gid]; g != nil && dialplanTarget.MatchString(g.Name) {
				names = append(names, g.Name)
			}
		}
		if r.byCost(rt) {
			re.Comment += ", gateways by cost"
			re.Steps = append(re.Steps, r.lcrSteps(rt, names)...) // routing_lcr.go
		} else {
			for i, name := range names {
				if i > 0 {
					re.Steps = append(re.Steps, `GotoIf($["${DIALSTATUS}"!="CONGESTION" & "${DIALSTATUS}"!="CHANUNAVAIL"]?done)`)
				}
				re.Steps = append(re.Steps, "Dial(PJSIP/${SB_OUT}@"+name+r.authzDialOpts(rt)+")")
			}
		}
		re.Steps = append(re.Steps, "n(done)|Return()")
		c.Exts = append(c.Exts, re)
	}
	return c
}

// roundRobin is [sb-tT-rr]: Dial's U() runs its s on the member who
// answered a round-robin group (U names a context only), keeping the
// member's index in AstDB for the group's next call.
func (r *routingRenderer) roundRobin() dialplanContext {
	return dialplanContext{Name: r.base + "-rr", Comment: []string{fmt.Sprintf("Tenant %d: the last answerer of a round-robin group.", r.p.Tenant.ID)},
		Exts: []dialplanExten{{Name: "s", Steps: []string{"Set(DB(" + huntDBFamily + "/${ARG1})=${ARG2})", "Return()"}}}}
}

// callerIDs is [sb-tT-cid]: s sets the caller ID of the calling phone's
// extension (the first extension, by number, whose destination is its
// account) when it has one. An endpoint id user@domain (IDWithDomain) is
// an extension name as it is: pbx_config keeps the @ and GotoIf's label
// splits on commas only (checked on Asterisk 23.4.1).
func (r *routingRenderer) callerIDs() dialplanContext {
	c := dialplanContext{Name: r.cid, Comment: []string{fmt.Sprintf("Tenant %d: the caller ID each phone presents (its extension's).", r.p.Tenant.ID)}}
	c.Exts = append(c.Exts, dialplanExten{Name: "s", Steps: []string{
		"GotoIf(${DIALPLAN_EXISTS(" + r.cid + ",e-${CHANNEL(endpoint)},1)}?e-${CHANNEL(endpoint)},1)",
		"Return()",
	}})
	seen := map[int64]bool{}
	for _, x := range r.p.Extensions {
		if x.Destination.Kind != provisioning.DestAccount || seen[x.Destination.ID] || x.CallerIDNumber == "" && x.CallerIDName == "" {
			continue
		}
		a := r.p.Accounts[x.Destination.ID]
		if a == nil {
			continue
		}
		ep := r.o.AccountID(a.Account)
		if !dialplanTarget.MatchString(ep) {
			continue
		}
		seen[a.ID] = true
		e := dialplanExten{Name: "e-" + ep, Comment: "extension " + x.Number}
		if x.CallerIDNumber != "" {
			e.Steps = append(e.Steps, "Set(CALLERID(num)="+x.CallerIDNumber+")")
		}
		if n := dialplanText(x.CallerIDName); n != "" {
			e.Steps = append(e.Steps, "Set(CALLERID(name)="+n+")")
		}
		c.Exts = append(c.Exts, e.ret())
	}
	return c
}

// fromContext restores a DID call's caller ID from its From header. Every
// DID of the generated file goes through it, routing or not: with the
// astdb wizards a pushed gateway's endpoint reads back its unset callerid
// as the number "unknown", which replaces the From of its calls, and the
// CDRs (ARI's, CEL's, Master.csv's) would carry "unknown" as the caller.
// Asterisk's astdb sorcery wizard stores a pushed gateway endpoint's
// unset callerid as "<unknown>" and reads it back as the number
// "unknown", which then replaces the From of every call from the
// gateway (seen on Asterisk 23.4.1); conditions on the caller ID need
// the real one.
const fromContext = "switchboard-from"

func fromCallerID() dialplanContext {
	return dialplanContext{Name: fromContext, Comment: []string{
		"The caller ID of a call from a gateway, from its From header when the",
		"endpoint's stored callerid (\"unknown\") replaced it.",
	}, Exts: []dialplanExten{{Name: "s", Steps: []string{
		`GotoIf($["${CALLERID(num)}"!="unknown"]?done)`,
		"Set(SB_FROM=${PJSIP_HEADER(read,From)})",
		"Set(SB_FROM=${CUT(SB_FROM,@,1)})",
		"Set(CALLERID(num)=${CUT(SB_FROM,:,2)})",
		"n(done)|Return()",
	}}}}
}

// renderRouting writes the whole file: switchboard-dids with every
// plan's routed DIDs (and the DID routes of o no plan has), then each
// plan's contexts.
func renderRouting(node, file string, o PushOptions, routes []provisioning.DIDRoute, plans []*provisioning.Plan) []byte {
	dids := dialplanContext{Name: DIDContext, Comment: []string{
		"DIDs routed to their destinations. Reach it from the context of your",
		"gateways: include => " + DIDContext,
	}}
	var tenants []dialplanContext
	have := map[string]bool{}
	for _, p := range plans {
		ctxs, exts := renderPlan(o, p)
		tenants = append(tenants, ctxs...)
		for _, e := range exts {
			if e.Name != "" && have[e.Name] {
				continue
			}
			have[e.Name] = true
			dids.Exts = append(dids.Exts, e)
		}
	}
	var rest []provisioning.DIDRoute
	for _, r := range routes {
		if !have[r.Number] {
			rest = append(rest, r)
		}
	}
	dids.Exts = append(dids.Exts, didContext(o, rest).Exts...)
	var all []dialplanContext
	for _, c := range append([]dialplanContext{dids, fromCallerID()}, tenants...) {
		all = append(all, splitLarge(c)...)
	}
	return renderDialplan(node, file, all...)
}
