package provisioning

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// RoutingKind names a kind of routing object.
type RoutingKind string

// The routing object kinds.
const (
	KindExtension     RoutingKind = "extension"
	KindHuntGroup     RoutingKind = "hunt_group"
	KindCondition     RoutingKind = "condition"
	KindCustom        RoutingKind = "custom"
	KindForward       RoutingKind = "forward"
	KindOutboundRoute RoutingKind = "outbound_route"
)

// RoutingMeta is what every routing object has: its id, its tenant and
// its timestamps.
type RoutingMeta struct {
	ID        int64     `json:"id"`
	TenantID  int64     `json:"tenant_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (m *RoutingMeta) meta() *RoutingMeta { return m }

// RoutingRef is one reference a routing object holds: the object it
// points at and the field that holds it. Owner references (a forward's
// account or user) go with their owner; the others keep their target from
// being deleted.
type RoutingRef struct {
	Field  string
	Kind   DestKind // account, extension, hunt_group, condition, custom, or "user", "gateway"
	ID     int64
	Target bool // false: the owner (cascade); true: a target (restrict)
	// Interactive: a call follows it only on the caller's key press (an
	// IVR option), so it is kept from deletion but cannot make a loop.
	Interactive bool
}

// The reference kinds that are not destinations.
const (
	refUser    DestKind = "user"
	refGateway DestKind = "gateway"
)

// routingObject is what the Service needs of each kind: the Store keeps
// them all alike (kind, key, name and a JSON body), and each kind says
// what is unique about it and what it points at.
type routingObject interface {
	meta() *RoutingMeta
	ownerTenant() (int64, bool)
	kind() RoutingKind
	// key is unique per tenant among all routing objects, or "" for none:
	// a numbering-plan number ("n:100") or a forward's slot.
	key() string
	// label is the name shown in lists and loop paths.
	label() string
	validate() error
	refs() []RoutingRef
}

var (
	planNumberRe = regexp.MustCompile(`^[0-9]{1,15}$`)
	callerIDRe   = regexp.MustCompile(`^\+?[0-9*#]{1,32}\*?$`)
)

// Limits of routing objects. Part of the API contract (README).
const (
	MaxHuntMembers   = 64
	MaxFollowMeSteps = 16
	MaxTimeRules     = 32
	MaxCallerIDs     = 256
	MaxRoutePatterns = 64
	MaxRouteGateways = 8
	MinRingSecs      = 5
	MaxRingSecs      = 600
	// MaxRoutingDepth bounds a chain of destinations: the objects a call
	// can pass from one object to the phone that rings (accounts count,
	// the DID does not); every step is a dialplan jump on the switch.
	MaxRoutingDepth = 16
)

func planKey(number string) string { return "n:" + number }

func checkPlanNumber(field, v string) error {
	if !planNumberRe.MatchString(v) {
		return Invalid(field, "must be 1 to 15 digits")
	}
	return nil
}

func checkRing(field string, v int, optional bool) error {
	if optional && v == 0 {
		return nil
	}
	if v < MinRingSecs || v > MaxRingSecs {
		return Invalid(field, "must be from %d to %d seconds", MinRingSecs, MaxRingSecs)
	}
	return nil
}

func checkCallerID(num, name string) error {
	if num != "" && !callerNum.MatchString(num) {
		return Invalid("caller_id_number", "must be digits, * or #, optionally a leading + (at most 32)")
	}
	return checkText("caller_id_name", name, MaxNameLen, false)
}

// destRef is the reference a destination holds, if it names an object.
func destRef(field string, d Destination) []RoutingRef {
	if d.ID == 0 {
		return nil
	}
	return []RoutingRef{{Field: field, Kind: d.Kind, ID: d.ID, Target: true}}
}

// Extension is a number in a tenant's numbering plan: dialled by the
// tenant's phones or reached from a DID, it sends the call to its
// Destination (usually the account of a phone). Its caller ID is used on
// the calls its phones place; FollowMe rings further destinations in turn
// when the destination does not answer.
type Extension struct {
	RoutingMeta
	Number         string      `json:"number"`
	Name           string      `json:"name"`
	Destination    Destination `json:"destination"`
	CallerIDNumber string      `json:"caller_id_number"`
	CallerIDName   string      `json:"caller_id_name"`
	// CallWaiting: a call to the extension while its phone is on a call
	// rings it (true, the default when absent), or is busy (false: the
	// caller hears busy, or the account's busy forward takes it).
	CallWaiting *bool     `json:"call_waiting"`
	FollowMe    *FollowMe `json:"follow_me"`
	// Record records the answered calls to the extension and the calls
	// its phones place (recording.go).
	Record bool `json:"record"`
	// FaxDetect, when set, answers calls to the extension at once and
	// listens for fax tones while the destination rings: a fax goes to
	// the fax box, a voice call rings on (the seed's "Faxdetect" call
	// flow action).
	FaxDetect *FaxDetect `json:"fax_detect"`
}

// FaxDetect sends calls that carry fax tones (CNG) to fax box BoxID.
// The switch answers the call (so that it hears the caller; the caller
// hears ringing from it) and listens for Seconds while the destination
// rings; a fax machine calls with CNG every 3 seconds, so a few seconds
// catch it.
type FaxDetect struct {
	BoxID   int64 `json:"box_id"`
	Seconds int   `json:"seconds"`
}

// Fax detection time limits; 0 means DefaultFaxDetectSecs.
const (
	MinFaxDetectSecs     = 3
	MaxFaxDetectSecs     = 60
	DefaultFaxDetectSecs = 10
)

// DetectSecs is how long the call listens for fax tones.
func (f *FaxDetect) DetectSecs() int {
	if f.Seconds == 0 {
		return DefaultFaxDetectSecs
	}
	return f.Seconds
}

// FollowMe is a find-me/follow-me list: after the extension's own
// destination, each step rings in order for its time, presenting the
// list's caller ID on calls that leave through a gateway.
type FollowMe struct {
	CallerIDNumber string         `json:"caller_id_number"`
	CallerIDName   string         `json:"caller_id_name"`
	Steps          []FollowMeStep `json:"steps"`
}

// FollowMeStep is one destination of a follow-me list and how long it
// rings.
type FollowMeStep struct {
	Destination Destination `json:"destination"`
	RingSecs    int         `json:"ring_seconds"`
}

func (e *Extension) kind() RoutingKind { return KindExtension }
func (e *Extension) key() string       { return planKey(e.Number) }
func (e *Extension) label() string     { return "extension " + e.Number }

// Waiting reports whether the extension's phone takes a second call.
func (e *Extension) Waiting() bool { return e.CallWaiting == nil || *e.CallWaiting }

func (e *Extension) validate() error {
	if e.CallWaiting == nil {
		on := true
		e.CallWaiting = &on
	}
	if err := checkPlanNumber("number", e.Number); err != nil {
		return err
	}
	if err := checkText("name", e.Name, MaxNameLen, false); err != nil {
		return err
	}
	if err := e.Destination.validate("destination"); err != nil {
		return err
	}
	if err := checkCallerID(e.CallerIDNumber, e.CallerIDName); err != nil {
		return err
	}
	if f := e.FollowMe; f != nil {
		if len(f.Steps) == 0 || len(f.Steps) > MaxFollowMeSteps {
			return Invalid("follow_me.steps", "must have 1 to %d steps (or leave follow_me null)", MaxFollowMeSteps)
		}
		if f.CallerIDNumber != "" && !callerNum.MatchString(f.CallerIDNumber) {
			return Invalid("follow_me.caller_id_number", "must be digits, * or #, optionally a leading + (at most 32)")
		}
		if err := checkText("follow_me.caller_id_name", f.CallerIDName, MaxNameLen, false); err != nil {
			return err
		}
		for i, s := range f.Steps {
			field := fmt.Sprintf("follow_me.steps[%d]", i)
			if err := s.Destination.validate(field+".destination", DestAccount, DestExtension, DestExternal); err != nil {
				return err
			}
			if err := checkRing(field+".ring_seconds", s.RingSecs, false); err != nil {
				return err
			}
		}
	}
	if f := e.FaxDetect; f != nil {
		if f.BoxID <= 0 {
			return Invalid("fax_detect.box_id", "is required: the fax box that receives detected faxes")
		}
		if f.Seconds != 0 && (f.Seconds < MinFaxDetectSecs || f.Seconds > MaxFaxDetectSecs) {
			return Invalid("fax_detect.seconds", "must be from %d to %d seconds (0: %d)", MinFaxDetectSecs, MaxFaxDetectSecs, DefaultFaxDetectSecs)
		}
	}
	return nil
}

func (e *Extension) refs() []RoutingRef {
	out := destRef("destination", e.Destination)
	if e.FollowMe != nil {
		for i, s := range e.FollowMe.Steps {
			out = append(out, destRef(fmt.Sprintf("follow_me.steps[%d].destination", i), s.Destination)...)
		}
	}
	if e.FaxDetect != nil {
		out = append(out, RoutingRef{Field: "fax_detect.box_id", Kind: DestFax, ID: e.FaxDetect.BoxID, Target: true})
	}
	return out
}

// HuntStrategy is how a hunt group rings its members.
type HuntStrategy string

// The hunt strategies.
const (
	HuntRingAll    HuntStrategy = "ring_all"    // every member at once; the first to answer wins
	HuntSequential HuntStrategy = "sequential"  // in order, each for its ring time (linear)
	HuntRoundRobin HuntStrategy = "round_robin" // in order, starting after the member who answered last
	HuntRandom     HuntStrategy = "random"      // in a random order, each for its ring time
)

// HuntGroup rings its members by Strategy: each member for its ring time
// (sequential strategies), all of them for the group's (ring_all), the
// whole group at most RingSecs; when nobody answered, the call goes to
// Failover (hang-up when unset). SkipBusy leaves out members already on a
// call (the seed's checkinuse).
type HuntGroup struct {
	RoutingMeta
	Number   string       `json:"number"`
	Name     string       `json:"name"`
	Strategy HuntStrategy `json:"strategy"`
	RingSecs int          `json:"ring_seconds"`
	SkipBusy bool         `json:"skip_busy"`
	Members  []HuntMember `json:"members"`
	Failover Destination  `json:"failover"`
}

// HuntMember is one member of a hunt group: an account, an extension or
// an external number, and how long it rings (sequential strategies).
type HuntMember struct {
	Destination Destination `json:"destination"`
	RingSecs    int         `json:"ring_seconds"`
}

// DefaultMemberRingSecs is a member's ring time when none is given.
const DefaultMemberRingSecs = 20

func (h *HuntGroup) kind() RoutingKind { return KindHuntGroup }
func (h *HuntGroup) key() string       { return planKey(h.Number) }
func (h *HuntGroup) label() string     { return "hunt_group " + h.Number }

func (h *HuntGroup) validate() error {
	if err := checkPlanNumber("number", h.Number); err != nil {
		return err
	}
	if err := checkText("name", h.Name, MaxNameLen, true); err != nil {
		return err
	}
	switch h.Strategy {
	case HuntRingAll, HuntSequential, HuntRoundRobin, HuntRandom:
	default:
		return Invalid("strategy", "must be ring_all, sequential, round_robin or random (got %q)", h.Strategy)
	}
	if err := checkRing("ring_seconds", h.RingSecs, true); err != nil {
		return err
	}
	if len(h.Members) == 0 || len(h.Members) > MaxHuntMembers {
		return Invalid("members", "must have 1 to %d members", MaxHuntMembers)
	}
	seen := map[Destination]int{}
	for i, m := range h.Members {
		field := fmt.Sprintf("members[%d]", i)
		if err := m.Destination.validate(field+".destination", DestAccount, DestExtension, DestExternal); err != nil {
			return err
		}
		if j, dup := seen[m.Destination]; dup {
			return Invalid(field+".destination", "is already members[%d]", j)
		}
		seen[m.Destination] = i
		if err := checkRing(field+".ring_seconds", m.RingSecs, true); err != nil {
			return err
		}
	}
	if !h.Failover.IsZero() {
		return h.Failover.validate("failover")
	}
	return nil
}

// GroupRing is how long the group rings before its failover: its own
// RingSecs, or by default the longest member's time for ring_all and the
// sum of the members' times for the other strategies (every member gets
// its turn).
func (h *HuntGroup) GroupRing() int {
	if h.RingSecs > 0 {
		return h.RingSecs
	}
	total, longest := 0, 0
	for i := range h.Members {
		total += h.MemberRing(i)
		longest = max(longest, h.MemberRing(i))
	}
	if h.Strategy == HuntRingAll {
		return longest
	}
	return total
}

// MemberRing is member i's ring time, its own or the default.
func (h *HuntGroup) MemberRing(i int) int {
	if r := h.Members[i].RingSecs; r > 0 {
		return r
	}
	return DefaultMemberRingSecs
}

func (h *HuntGroup) refs() []RoutingRef {
	var out []RoutingRef
	for i, m := range h.Members {
		out = append(out, destRef(fmt.Sprintf("members[%d].destination", i), m.Destination)...)
	}
	return append(out, destRef("failover", h.Failover)...)
}

// ConditionManual is a condition's manual switch.
type ConditionManual string

// The manual settings: auto evaluates the rules; match and miss force the
// outcome (night mode on and off).
const (
	ManualAuto  ConditionManual = "auto"
	ManualMatch ConditionManual = "match"
	ManualMiss  ConditionManual = "miss"
)

// Condition sends a call to Match when it holds and to Miss otherwise. It
// holds when the local time (in TimeZone) falls in any of Times (or Times
// is empty) and the caller's number matches any of CallerIDs (or
// CallerIDs is empty): an exact number, or a prefix ending in '*'. Manual
// forces the outcome (night mode). A condition with neither times nor
// caller IDs holds only when forced (Manual match): a pure night switch.
type Condition struct {
	RoutingMeta
	Name      string          `json:"name"`
	TimeZone  string          `json:"time_zone"`
	Times     []string        `json:"times"`
	CallerIDs []string        `json:"caller_ids"`
	Manual    ConditionManual `json:"manual"`
	Match     Destination     `json:"match"`
	Miss      Destination     `json:"miss"`

	rules []TimeRule // Times parsed by validate
	loc   *time.Location
}

func (c *Condition) kind() RoutingKind { return KindCondition }
func (c *Condition) key() string       { return "" }
func (c *Condition) label() string {
	return "condition " + strconv.FormatInt(c.ID, 10) + " (" + c.Name + ")"
}

func (c *Condition) validate() error {
	if err := checkText("name", c.Name, MaxNameLen, true); err != nil {
		return err
	}
	if c.TimeZone == "" {
		c.TimeZone = "UTC"
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil || c.TimeZone == "Local" {
		return Invalid("time_zone", "must be an IANA time zone such as Europe/Paris or America/Montreal (got %q)", c.TimeZone)
	}
	c.loc = loc
	if len(c.Times) > MaxTimeRules {
		return Invalid("times", "must have at most %d rules", MaxTimeRules)
	}
	c.rules = c.rules[:0]
	for i, t := range c.Times {
		r, err := ParseTimeRule(t)
		if err != nil {
			return Invalid(fmt.Sprintf("times[%d]", i), "%v", err)
		}
		c.Times[i] = r.String()
		c.rules = append(c.rules, r)
	}
	if len(c.CallerIDs) > MaxCallerIDs {
		return Invalid("caller_ids", "must have at most %d entries", MaxCallerIDs)
	}
	for i, id := range c.CallerIDs {
		if !callerIDRe.MatchString(id) {
			return Invalid(fmt.Sprintf("caller_ids[%d]", i), "must be a number, or a prefix ending in * (got %q)", id)
		}
	}
	switch c.Manual {
	case "":
		c.Manual = ManualAuto
	case ManualAuto, ManualMatch, ManualMiss:
	default:
		return Invalid("manual", "must be auto, match or miss (got %q)", c.Manual)
	}
	if err := c.Match.validate("match"); err != nil {
		return err
	}
	return c.Miss.validate("miss")
}

func (c *Condition) refs() []RoutingRef {
	return append(destRef("match", c.Match), destRef("miss", c.Miss)...)
}

// Holds reports whether the condition sends a call from callerID at t to
// Match. The condition must have been validated (the Service's objects
// are).
func (c *Condition) Holds(t time.Time, callerID string) bool {
	switch c.Manual {
	case ManualMatch:
		return true
	case ManualMiss:
		return false
	}
	if len(c.rules) == 0 && len(c.CallerIDs) == 0 {
		return false
	}
	if len(c.rules) > 0 {
		local, in := t.In(c.loc), false
		for _, r := range c.rules {
			if r.Matches(local) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	if len(c.CallerIDs) > 0 {
		for _, id := range c.CallerIDs {
			if prefix, ok := strings.CutSuffix(id, "*"); ok && strings.HasPrefix(callerID, prefix) || id == callerID {
				return true
			}
		}
		return false
	}
	return true
}

// Rules are the parsed time rules; Location the condition's zone.
func (c *Condition) Rules() []TimeRule        { return c.rules }
func (c *Condition) Location() *time.Location { return c.loc }

// CustomDestination is a named outside target: a number, sent through
// GatewayID or, when unset, the tenant's outbound routes; or a SIP URI,
// sent through GatewayID or, when unset, straight to its host.
type CustomDestination struct {
	RoutingMeta
	Name      string `json:"name"`
	Number    string `json:"number"`
	URI       string `json:"uri"`
	GatewayID *int64 `json:"gateway_id"`
}

var sipURIRe = regexp.MustCompile(`^sips?:[A-Za-z0-9._~!$&'()*+,;=%-]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)

func (c *CustomDestination) kind() RoutingKind { return KindCustom }
func (c *CustomDestination) key() string       { return "" }
func (c *CustomDestination) label() string     { return "custom " + c.Name }

func (c *CustomDestination) validate() error {
	if err := checkText("name", c.Name, MaxNameLen, true); err != nil {
		return err
	}
	switch {
	case (c.Number == "") == (c.URI == ""):
		return Invalid("number", "give either number or uri")
	case c.Number != "" && !dialNumberRe.MatchString(c.Number):
		return Invalid("number", "must be a number to dial: digits, optionally a leading + (1 to 32)")
	case c.URI != "" && !sipURIRe.MatchString(c.URI):
		return Invalid("uri", "must be a SIP URI like sip:user@host or sip:user@host:5060")
	}
	return nil
}

func (c *CustomDestination) refs() []RoutingRef {
	if c.GatewayID == nil {
		return nil
	}
	return []RoutingRef{{Field: "gateway_id", Kind: refGateway, ID: *c.GatewayID, Target: true}}
}

// ForwardOn is when a forward applies.
type ForwardOn string

// The forward types, the seed selfcare call flow's before call / busy /
// no answer / failed.
const (
	ForwardAlways      ForwardOn = "always"      // unconditional: the phone does not ring
	ForwardBusy        ForwardOn = "busy"        // the phone is on a call or answers busy
	ForwardNoAnswer    ForwardOn = "no_answer"   // after AfterSecs of ringing
	ForwardUnreachable ForwardOn = "unreachable" // not registered, or the call to it failed
)

// Forward sends the calls of an account, or of every account of a user
// that has no forward of its own of the same type, elsewhere.
type Forward struct {
	RoutingMeta
	AccountID   *int64      `json:"account_id"`
	UserID      *int64      `json:"user_id"`
	On          ForwardOn   `json:"on"`
	AfterSecs   int         `json:"after_seconds"`
	Destination Destination `json:"destination"`
	Enabled     bool        `json:"enabled"`
}

// DefaultNoAnswerSecs is how long a phone rings before a no_answer
// forward when AfterSecs is not given.
const DefaultNoAnswerSecs = 20

func (f *Forward) kind() RoutingKind { return KindForward }

func (f *Forward) key() string {
	if f.AccountID != nil {
		return fmt.Sprintf("fwd:account:%d:%s", *f.AccountID, f.On)
	}
	if f.UserID != nil {
		return fmt.Sprintf("fwd:user:%d:%s", *f.UserID, f.On)
	}
	return ""
}

func (f *Forward) label() string {
	if f.AccountID != nil {
		return fmt.Sprintf("forward %s of account %d", f.On, *f.AccountID)
	}
	if f.UserID != nil {
		return fmt.Sprintf("forward %s of user %d", f.On, *f.UserID)
	}
	return "forward"
}

func (f *Forward) validate() error {
	if (f.AccountID == nil) == (f.UserID == nil) {
		return Invalid("account_id", "give either account_id or user_id")
	}
	switch f.On {
	case ForwardAlways, ForwardBusy, ForwardUnreachable:
		if f.AfterSecs != 0 {
			return Invalid("after_seconds", "applies to no_answer forwards only")
		}
	case ForwardNoAnswer:
		if f.AfterSecs == 0 {
			f.AfterSecs = DefaultNoAnswerSecs
		}
		if err := checkRing("after_seconds", f.AfterSecs, false); err != nil {
			return err
		}
	default:
		return Invalid("on", "must be always, busy, no_answer or unreachable (got %q)", f.On)
	}
	return f.Destination.validate("destination", DestAccount, DestExtension, DestExternal, DestHuntGroup, DestHangup, DestVoicemail)
}

func (f *Forward) refs() []RoutingRef {
	var out []RoutingRef
	if f.AccountID != nil {
		out = append(out, RoutingRef{Field: "account_id", Kind: DestAccount, ID: *f.AccountID})
	}
	if f.UserID != nil {
		out = append(out, RoutingRef{Field: "user_id", Kind: refUser, ID: *f.UserID})
	}
	return append(out, destRef("destination", f.Destination)...)
}

// RouteAction is what an outbound route does with the numbers it matches.
type RouteAction string

// The outbound route actions. Emergency routes are tried before every
// other route whatever their priority, and are never blocked.
const (
	RouteNormal    RouteAction = "route"
	RouteEmergency RouteAction = "emergency"
	RouteBlock     RouteAction = "block"
)

// RouteOrder is the order in which an outbound route tries its gateways.
type RouteOrder string

// The gateway orders. Least-cost routing (RouteOrderCost) orders the
// gateways for each number dialled by what their suppliers charge for it
// (the gateways' supplier tariff plans), the listed order breaking ties;
// the failover between them is the listed order's.
const (
	RouteOrderListed RouteOrder = "listed"
	RouteOrderCost   RouteOrder = "cost"
)

// OutboundRoute sends the external numbers the tenant's calls dial that
// match one of Patterns through Gateways, in order (or by cost, see
// RouteOrder): the next is tried when one is congested or unavailable.
// Strip removes leading digits and Prepend adds some before the number
// leaves. Routes are tried by Priority (lowest first), then id; a block
// route refuses the call.
type OutboundRoute struct {
	RoutingMeta
	Name       string        `json:"name"`
	Priority   int           `json:"priority"`
	Action     RouteAction   `json:"action"`
	Patterns   []DialPattern `json:"patterns"`
	Strip      int           `json:"strip"`
	Prepend    string        `json:"prepend"`
	GatewayIDs []int64       `json:"gateway_ids"`
	Order      RouteOrder    `json:"order"`
}

var prependRe = regexp.MustCompile(`^\+?[0-9*#]{0,16}$`)

func (r *OutboundRoute) kind() RoutingKind { return KindOutboundRoute }
func (r *OutboundRoute) key() string       { return "" }
func (r *OutboundRoute) label() string     { return "outbound_route " + r.Name }

func (r *OutboundRoute) validate() error {
	if err := checkText("name", r.Name, MaxNameLen, true); err != nil {
		return err
	}
	if r.Priority < 0 || r.Priority > 10000 {
		return Invalid("priority", "must be from 0 to 10000")
	}
	switch r.Action {
	case "":
		r.Action = RouteNormal
	case RouteNormal, RouteEmergency, RouteBlock:
	default:
		return Invalid("action", "must be route, emergency or block (got %q)", r.Action)
	}
	if len(r.Patterns) == 0 || len(r.Patterns) > MaxRoutePatterns {
		return Invalid("patterns", "must have 1 to %d patterns", MaxRoutePatterns)
	}
	for i, p := range r.Patterns {
		if _, err := p.Regexp(); err != nil {
			return Invalid(fmt.Sprintf("patterns[%d]", i), "%v", err)
		}
	}
	if r.Strip < 0 || r.Strip > 16 {
		return Invalid("strip", "must be from 0 to 16 digits")
	}
	if !prependRe.MatchString(r.Prepend) {
		return Invalid("prepend", "must be at most 16 digits, * or #, optionally a leading +")
	}
	switch {
	case r.Action == RouteBlock && len(r.GatewayIDs) > 0:
		return Invalid("gateway_ids", "must be empty for a block route")
	case r.Action != RouteBlock && (len(r.GatewayIDs) == 0 || len(r.GatewayIDs) > MaxRouteGateways):
		return Invalid("gateway_ids", "must list 1 to %d gateways, in failover order", MaxRouteGateways)
	}
	switch r.Order {
	case "":
		r.Order = RouteOrderListed
	case RouteOrderListed:
	case RouteOrderCost:
		switch r.Action {
		case RouteBlock:
			return Invalid("order", "must be listed for a block route: it has no gateways")
		case RouteEmergency:
			// an emergency call must never be refused because no
			// supplier rates the number, nor wait for a price lookup
			return Invalid("order", "must be listed for an emergency route: emergency calls never depend on supplier prices")
		}
	default:
		return Invalid("order", "must be listed or cost (got %q)", r.Order)
	}
	seen := map[int64]bool{}
	for i, id := range r.GatewayIDs {
		if seen[id] {
			return Invalid(fmt.Sprintf("gateway_ids[%d]", i), "gateway %d is listed twice", id)
		}
		seen[id] = true
	}
	return nil
}

func (r *OutboundRoute) refs() []RoutingRef {
	var out []RoutingRef
	for i, id := range r.GatewayIDs {
		out = append(out, RoutingRef{Field: fmt.Sprintf("gateway_ids[%d]", i), Kind: refGateway, ID: id, Target: true})
	}
	return out
}
