package freeswitch

import (
	"slices"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// CallOptions tells Calls what the channel events do not say.
type CallOptions struct {
	// Switch is the switch name of every Call and Record.
	Switch string
	// Domain is the SIP domain of a leg whose variables name none.
	Domain string
	// IsGateway restricts the gateway names FreeSWITCH reports to the
	// provisioned ones, as JSONCDROptions.IsGateway does for mod_json_cdr's
	// records. Nil accepts all.
	IsGateway func(name string) bool
	// OutsideProfiles is JSONCDROptions.OutsideProfiles.
	OutsideProfiles []string
	// Now is the clock of Reset and the time of an event without
	// Event-Date-Timestamp. Nil means time.Now.
	Now func() time.Time
}

// The canonical keys (textproto.CanonicalMIMEHeaderKey) of the channel
// event headers Calls reads.
const (
	hdrUniqueID       = "Unique-Id"
	hdrOldUniqueID    = "Old-Unique-Id"
	hdrCallDirection  = "Call-Direction"
	hdrChannelName    = "Channel-Name"
	hdrChannelState   = "Channel-State"
	hdrCallState      = "Channel-Call-State"
	hdrAnswerState    = "Answer-State"
	hdrCallerUsername = "Caller-Username"
	hdrCallerIDName   = "Caller-Caller-Id-Name"
	hdrCallerIDNumber = "Caller-Caller-Id-Number"
	hdrCallerDest     = "Caller-Destination-Number"
	hdrCallerUniqueID = "Caller-Unique-Id"
	hdrCallerChannel  = "Caller-Channel-Name"
	hdrCallerContext  = "Caller-Context"
	hdrCallerCreated  = "Caller-Channel-Created-Time"
	hdrCallerAnswered = "Caller-Channel-Answered-Time"
	hdrOtherType      = "Other-Type"
	hdrOtherUniqueID  = "Other-Leg-Unique-Id"
	hdrOtherChannel   = "Other-Leg-Channel-Name"
	hdrVariablePrefix = "Variable_" // variable_<name>
)

// The channel events Calls treats apart.
const (
	callEventPrefix   = "CHANNEL_"
	callEventUpdate   = "CALL_UPDATE"
	callEventHangup   = "CHANNEL_HANGUP"
	callEventComplete = "CHANNEL_HANGUP_COMPLETE"
	callEventDestroy  = "CHANNEL_DESTROY"
	callEventAnswer   = "CHANNEL_ANSWER"
	callEventUUID     = "CHANNEL_UUID"
)

// callEndedMemory is how many ended leg ids Calls remembers.
const callEndedMemory = 4096

// liveTimePlaceholder stands for the start and end times LegRecord
// requires of the live legs, which have none yet.
const liveTimePlaceholder = "1"

// Calls folds FreeSWITCH channel events into live call legs and one CDR
// per leg. It does no I/O and is not safe for concurrent use: the adapter
// feeds it from one goroutine, in Event-Sequence order as far as it can.
//
// A leg is born with its first channel event (CHANNEL_CREATE, or any
// later one when that was missed) unless that event is about its end, and
// lives until CHANNEL_HANGUP_COMPLETE, which yields its CDR: LegRecord of
// the event's variables (variable_* headers, names in lower case) and
// caller profile (Caller-*, with Other-Leg-* for the leg's originator or
// originatee), so that it agrees field by field with ParseJSONCDR of the
// json_cdr record of the same leg. Raw is the event as JSON. CHANNEL_DESTROY,
// which FreeSWITCH fires just after with the same variables, does the same
// for a leg whose HANGUP_COMPLETE has not come.
//
// An ended leg is remembered (its last 4096 ids), so that an event
// straggling in afterwards neither resurrects it nor yields a second CDR;
// an event older (by Event-Sequence) than one already applied to its leg
// changes nothing.
//
// The live Call of a leg has the parties its CDR will have (LegRecord of
// the variables known so far: caller, callee, direction, account,
// gateway, LinkedID the a-leg's uuid), Start the channel's creation time
// (Caller-Channel-Created-Time), Answer its answer time, State "ringing",
// "up" once answered, "held" on hold.
type Calls struct {
	opt       CallOptions
	cdrOpt    JSONCDROptions
	legs      map[string]*fsLeg
	published map[string]presence.Call
	ended     map[string]struct{}
	endedRing []string // the ids in ended, oldest first once full
	endedNext int
	born      uint64 // legs made so far, to order legs created together
}

// fsLeg is what Calls knows of one live channel.
type fsLeg struct {
	id   string
	born uint64
	seq  uint64 // the highest Event-Sequence applied
	// ev is the last event that carried variables (evVars), read through
	// its index: copying its ~150 variables into a map for each live event
	// cost more than LegRecord's few dozen lookups (issue 12 item 14).
	ev     Event
	evVars bool
	// vars comes first: the start and end placeholders, what observe
	// filled in (direction, channel_name, uuid) and, for a leg made from
	// a resync row, all its variables.
	vars      map[string]string
	prof      CallerProfile
	callState string // Channel-Call-State, HANGUP excepted
	start     time.Time
	answer    time.Time
	// parties is LegRecord's view of the leg, recomputed when vars or
	// prof change (dirty).
	parties cdr.Record
	dirty   bool
}

// NewCalls returns an empty Calls.
func NewCalls(opt CallOptions) *Calls {
	return &Calls{
		opt:       opt,
		cdrOpt:    JSONCDROptions{Switch: opt.Switch, IsGateway: opt.IsGateway, OutsideProfiles: opt.OutsideProfiles},
		legs:      map[string]*fsLeg{},
		published: map[string]presence.Call{},
		ended:     map[string]struct{}{},
	}
}

func (c *Calls) now() time.Time {
	if c.opt.Now != nil {
		return c.opt.Now().UTC()
	}
	return time.Now().UTC()
}

// isCallEvent reports whether Calls reads events named name.
func isCallEvent(name string) bool {
	return strings.HasPrefix(name, callEventPrefix) || name == callEventUpdate
}

// Apply folds one event and returns what changed: the live legs to upsert
// into presence, the ids of live legs that ended, and the CDRs of legs
// that ended. Events of other types change nothing. A leg that already
// produced its CDR is forgotten and later events about it are ignored (no
// second CDR). The CDR of a leg Calls never saw live (it began before the
// connection, or Reset dropped it) is returned, but not its id in ended.
func (c *Calls) Apply(ev Event) (upserts []presence.Call, ended []string, cdrs []cdr.Record) {
	name := ev.Name()
	if !isCallEvent(name) {
		return nil, nil, nil
	}
	id := ev.Get(hdrUniqueID)
	if id == "" {
		return nil, nil, nil
	}
	if name == callEventUUID {
		return c.renamed(ev, id)
	}
	if _, gone := c.ended[id]; gone {
		return nil, nil, nil
	}
	l := c.legs[id]
	if name == callEventComplete || name == callEventDestroy {
		rec, err := legRecord(ev.variable, eventProfile(ev), c.cdrOpt)
		if err != nil && l == nil && name == callEventDestroy {
			return nil, nil, nil // a channel destroyed before it ever ran
		}
		c.forget(id)
		if l != nil {
			ended = []string{id}
		}
		if err == nil {
			rec.Raw = eventJSON(ev)
			cdrs = []cdr.Record{rec}
		}
		// A malformed record (no times) is left to mod_json_cdr, which
		// the store deduplicates against anyway.
		return nil, ended, cdrs
	}
	if l == nil {
		if endingEvent(name, ev) {
			return nil, nil, nil
		}
		c.born++
		l = &fsLeg{id: id, born: c.born, dirty: true}
		c.legs[id] = l
	} else if seq := ev.Seq(); seq != 0 && seq < l.seq {
		return nil, nil, nil // overtaken by a newer event about the leg
	}
	c.observe(l, name, ev)
	return c.publish(l), nil, nil
}

// endingEvent reports whether ev is about a channel hanging up: such an
// event does not make a leg (it would live until the next Reset).
func endingEvent(name string, ev Event) bool {
	if name == callEventHangup {
		return true
	}
	if ev.Get(hdrCallState) == "HANGUP" || ev.Get(hdrAnswerState) == "hangup" {
		return true
	}
	switch ev.Get(hdrChannelState) {
	case "CS_HANGUP", "CS_REPORTING", "CS_DESTROY":
		return true
	}
	return false
}

// observe records what an event says of its leg.
func (c *Calls) observe(l *fsLeg, name string, ev Event) {
	if seq := ev.Seq(); seq > l.seq {
		l.seq = seq
	}
	at := ev.Time()
	if at.IsZero() {
		at = c.now()
	}
	if cs := ev.Get(hdrCallState); cs != "" && cs != "HANGUP" {
		l.callState = cs
	}
	if hasLiveVars(ev) {
		l.ev, l.evVars, l.vars, l.dirty = ev, true, nil, true
	}
	if l.vars == nil {
		l.vars = map[string]string{"start_uepoch": liveTimePlaceholder, "end_uepoch": liveTimePlaceholder}
	}
	// A variable-less event still says the direction and channel name.
	if v := ev.Get(hdrCallDirection); v != "" && l.variable("direction") == "" {
		l.vars["direction"], l.dirty = v, true
	}
	if v := ev.Get(hdrChannelName); v != "" && l.variable("channel_name") == "" {
		l.vars["channel_name"], l.dirty = v, true
	}
	if l.variable("uuid") == "" {
		l.vars["uuid"] = l.id
	}
	if mergeProfile(&l.prof, eventProfile(ev)) {
		l.dirty = true
	}
	if t := microTime(ev.Get(hdrCallerCreated)); !t.IsZero() {
		l.start = t
	} else if l.start.IsZero() {
		l.start = at
	}
	if t := microTime(ev.Get(hdrCallerAnswered)); !t.IsZero() {
		l.answer = t
	} else if l.answer.IsZero() && (name == callEventAnswer || ev.Get(hdrAnswerState) == "answered" || isUpState(l.callState)) {
		l.answer = at
	}
}

// renamed handles CHANNEL_UUID: the leg known by Old-Unique-ID now goes by
// Unique-ID.
func (c *Calls) renamed(ev Event, id string) (upserts []presence.Call, ended []string, cdrs []cdr.Record) {
	old := ev.Get(hdrOldUniqueID)
	l := c.legs[old]
	if old == "" || l == nil || c.legs[id] != nil {
		return nil, nil, nil
	}
	delete(c.legs, old)
	delete(c.published, old)
	l.id, l.dirty = id, true
	if l.vars != nil {
		l.vars["uuid"] = id
	}
	c.legs[id] = l
	c.observe(l, callEventUUID, ev)
	return c.publish(l), []string{old}, nil
}

func isUpState(cs string) bool {
	switch cs {
	case "ACTIVE", "HELD", "UNHELD":
		return true
	}
	return false
}

// state maps the leg's Channel-Call-State to presence's vocabulary.
func (l *fsLeg) state() string {
	switch l.callState {
	case "ACTIVE", "UNHELD":
		return "up"
	case "HELD":
		return "held"
	}
	if !l.answer.IsZero() {
		return "up"
	}
	return "ringing" // DOWN, DIALING, RINGING, EARLY, RING_WAIT
}

// variable is the leg's variable name (lower case) as LegRecord reads
// it: vars first, then, without the times (a live leg has none yet, and
// its CDR comes from the final event's own variables), those of the last
// event that had any.
func (l *fsLeg) variable(name string) string {
	if v, ok := l.vars[name]; ok || !l.evVars || isTimeVar(name) {
		return v
	}
	return l.ev.variable(name)
}

// hasLiveVars reports whether ev carries a channel variable other than
// the times a live leg ignores.
func hasLiveVars(ev Event) bool {
	for _, h := range ev.hs {
		if !h.dup && isVariableKey(h.key) && !isTimeVar(strings.ToLower(h.key[len(hdrVariablePrefix):])) {
			return true
		}
	}
	return false
}

// isVariableKey reports whether a header key is variable_<name>.
func isVariableKey(k string) bool {
	return len(k) > len(hdrVariablePrefix) && strings.EqualFold(k[:len(hdrVariablePrefix)], hdrVariablePrefix)
}

// isTimeVar reports whether LegRecord reads a variable for times and
// durations.
func isTimeVar(name string) bool {
	switch name {
	case "start_uepoch", "start_epoch", "answer_uepoch", "answer_epoch",
		"end_uepoch", "end_epoch", "duration", "billsec":
		return true
	}
	return false
}

// eventProfile reads the caller profile of a channel event.
func eventProfile(ev Event) CallerProfile {
	p := CallerProfile{
		Username:          ev.Get(hdrCallerUsername),
		CallerIDName:      ev.Get(hdrCallerIDName),
		CallerIDNumber:    ev.Get(hdrCallerIDNumber),
		DestinationNumber: ev.Get(hdrCallerDest),
		UUID:              ev.Get(hdrCallerUniqueID),
		ChannelName:       ev.Get(hdrCallerChannel),
		Context:           ev.Get(hdrCallerContext),
	}
	switch strings.ToLower(ev.Get(hdrOtherType)) {
	case "originator":
		p.OriginatorUUID, p.OriginatorChannel = ev.Get(hdrOtherUniqueID), ev.Get(hdrOtherChannel)
	case "originatee":
		if ch := ev.Get(hdrOtherChannel); ch != "" {
			p.OriginateeChannels = []string{ch}
		}
	}
	return p
}

// mergeProfile copies the fields of src that are set into dst and reports
// whether dst changed.
func mergeProfile(dst *CallerProfile, src CallerProfile) bool {
	changed := false
	set := func(d *string, s string) {
		if s != "" && *d != s {
			*d, changed = s, true
		}
	}
	set(&dst.Username, src.Username)
	set(&dst.CallerIDName, src.CallerIDName)
	set(&dst.CallerIDNumber, src.CallerIDNumber)
	set(&dst.DestinationNumber, src.DestinationNumber)
	set(&dst.UUID, src.UUID)
	set(&dst.ChannelName, src.ChannelName)
	set(&dst.OriginatorUUID, src.OriginatorUUID)
	set(&dst.OriginatorChannel, src.OriginatorChannel)
	set(&dst.Context, src.Context)
	if len(src.OriginateeChannels) > 0 && !slices.Equal(dst.OriginateeChannels, src.OriginateeChannels) {
		dst.OriginateeChannels, changed = src.OriginateeChannels, true
	}
	return changed
}

// forget drops an ended leg and remembers its id.
func (c *Calls) forget(id string) {
	delete(c.legs, id)
	delete(c.published, id)
	if _, ok := c.ended[id]; ok {
		return
	}
	if len(c.endedRing) < callEndedMemory {
		c.endedRing = append(c.endedRing, id)
	} else {
		delete(c.ended, c.endedRing[c.endedNext])
		c.endedRing[c.endedNext] = id
		c.endedNext = (c.endedNext + 1) % callEndedMemory
	}
	c.ended[id] = struct{}{}
}

// publish returns the leg's Call if it differs from what was last
// returned for it.
func (c *Calls) publish(l *fsLeg) []presence.Call {
	call := c.call(l)
	if prev, ok := c.published[l.id]; ok && sameCall(prev, call) {
		return nil
	}
	c.published[l.id] = call
	return []presence.Call{call}
}

// legParties is LegRecord's view of a live leg.
func (c *Calls) legParties(l *fsLeg) cdr.Record {
	if !l.dirty {
		return l.parties
	}
	rec, err := legRecord(l.variable, l.prof, c.cdrOpt)
	if err != nil { // cannot happen with the placeholders; keep what is known
		rec = cdr.Record{
			CallID: l.id, LinkedID: first(l.prof.OriginatorUUID, l.id),
			CallerNumber: l.prof.CallerIDNumber, CallerName: l.prof.CallerIDName,
			Dialed: l.prof.DestinationNumber,
		}
	}
	l.parties, l.dirty = rec, false
	return rec
}

// call is a live leg as presence shows it.
func (c *Calls) call(l *fsLeg) presence.Call {
	p := c.legParties(l)
	call := presence.Call{
		Switch: c.opt.Switch, ID: l.id, LinkedID: first(p.LinkedID, l.id),
		Direction: string(p.Direction), Domain: first(p.Domain, c.opt.Domain),
		Account: p.Account, Gateway: p.Gateway,
		CallerNumber: p.CallerNumber, CallerName: p.CallerName,
		Callee: first(p.Dialed, p.Destination), State: l.state(), Start: l.start,
	}
	if !l.answer.IsZero() {
		a := l.answer
		call.Answer = &a
	}
	return call
}

func sameCall(a, b presence.Call) bool {
	ea, eb := a.Answer, b.Answer
	a.Answer, b.Answer = nil, nil
	if a != b {
		return false
	}
	if ea == nil || eb == nil {
		return ea == eb
	}
	return ea.Equal(*eb)
}

func (c *Calls) sortedLegs() []*fsLeg {
	legs := make([]*fsLeg, 0, len(c.legs))
	for _, l := range c.legs {
		legs = append(legs, l)
	}
	slices.SortFunc(legs, func(a, b *fsLeg) int {
		if n := a.start.Compare(b.start); n != 0 {
			return n
		}
		if a.born != b.born {
			if a.born < b.born {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	return legs
}

// Live returns the live legs, oldest first: what presence holds for this
// switch's calls after a resync.
func (c *Calls) Live() []presence.Call {
	legs := c.sortedLegs()
	calls := make([]presence.Call, 0, len(legs))
	for _, l := range legs {
		calls = append(calls, c.call(l))
	}
	return calls
}

// Reset replaces the live legs with those of a resync (`show channels as
// json`, see ParseShowChannels); the caller then replaces presence with
// Live. Legs missing from the list ended while disconnected: they are
// removed and their ids returned, oldest first. No CDR is invented for
// them: mod_json_cdr delivers theirs durably, and a partial record from
// here would win the store's first-write deduplication by uuid and shadow
// the accurate one. Should a late CHANNEL_HANGUP_COMPLETE of one still
// come, its CDR is returned then.
//
// Legs in the list not yet known are added from what the row says (caller
// ID, destination, direction, the user of presence_id as the account, the
// a-leg's uuid in call_uuid for a b-leg; the creation time to the second)
// until their next event tells more. Known legs keep what their events
// said; rows of legs that already ended are ignored (the core database
// lags behind the events).
func (c *Calls) Reset(rows []ShowChannel) (ended []string) {
	now := c.now()
	present := make(map[string]bool, len(rows))
	for i := range rows {
		r := &rows[i]
		if _, gone := c.ended[r.UUID]; gone || r.UUID == "" {
			continue
		}
		present[r.UUID] = true
		if c.legs[r.UUID] == nil {
			c.born++
			c.legs[r.UUID] = c.legFromRow(r, now)
		}
	}
	for _, l := range c.sortedLegs() {
		if !present[l.id] {
			delete(c.legs, l.id)
			ended = append(ended, l.id)
		}
	}
	clear(c.published)
	for _, l := range c.legs {
		c.published[l.id] = c.call(l)
	}
	return ended
}

// legFromRow makes a leg from a `show channels` row.
func (c *Calls) legFromRow(r *ShowChannel, now time.Time) *fsLeg {
	l := &fsLeg{id: r.UUID, born: c.born, callState: strings.ToUpper(strings.TrimSpace(r.CallState)), dirty: true}
	l.prof = CallerProfile{
		CallerIDName: r.CIDName, CallerIDNumber: r.CIDNum, DestinationNumber: r.Dest,
		UUID: r.UUID, ChannelName: r.Name, Context: r.Context,
	}
	vars := map[string]string{
		"uuid": r.UUID, "direction": strings.ToLower(strings.TrimSpace(r.Direction)), "channel_name": r.Name,
		"current_application": r.Application, "current_application_data": r.AppData,
		"start_uepoch": liveTimePlaceholder, "end_uepoch": liveTimePlaceholder,
	}
	user, domain, _ := strings.Cut(r.PresenceID, "@")
	vars["domain_name"] = domain
	if vars["direction"] == "outbound" {
		vars["dialed_user"] = user
		if r.CallUUID != "" && r.CallUUID != r.UUID {
			vars["originator"] = r.CallUUID
			l.prof.OriginatorUUID = r.CallUUID
		}
	} else {
		vars["user_name"] = user
	}
	l.vars, l.evVars = vars, false
	l.start = now
	if r.CreatedEpoch > 0 {
		l.start = time.Unix(r.CreatedEpoch, 0).UTC()
	}
	if isUpState(l.callState) {
		// The answer time is not listed: now until an event says.
		l.answer = now
	}
	return l
}
