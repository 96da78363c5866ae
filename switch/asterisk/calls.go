package asterisk

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// CallOptions tells Calls what ARI's channel events do not say.
type CallOptions struct {
	// Switch is the switch name of every Call and Record.
	Switch string
	// Domain is the SIP domain of this node's accounts.
	Domain string
	// IsGateway reports whether a PJSIP endpoint is a gateway rather than
	// a local account; it decides Direction, Account and Gateway exactly
	// as CSVOptions.IsGateway does for Asterisk's own CDR files. Nil means
	// no endpoint is one.
	IsGateway func(endpoint string) bool
	// Now is the clock Reset closes vanished legs with and the time of an
	// event that carries no timestamp. Nil means time.Now.
	Now func() time.Time
}

// The channel variables Calls reads the codec and the user agent of a leg
// from, when the dialplan sets them (ARI reports neither on its own), e.g.
//
//	same => n,Set(SB_USER_AGENT=${PJSIP_HEADER(read,User-Agent)})
//	same => n,Set(SB_CODEC=${CHANNEL(audionativeformat)})
const (
	VarCodec     = "SB_CODEC"
	VarUserAgent = "SB_USER_AGENT"
)

// CauseTextDisconnected is the CauseText of the CDR of a leg that ended
// while Switchboard was disconnected from ARI: Reset closes it at the
// reconnect with what was known, so End is late and Cause unknown (0).
const CauseTextDisconnected = "ended while disconnected"

// CauseTextEndFromCaller is the CauseText of such a guessed CDR whose end
// was taken from the switch's record of its calling leg (Master.csv has
// no row for a dialled leg): see legHold.
const CauseTextEndFromCaller = "ended while disconnected; end from the caller's CDR"

// endedMemory is how many recently ended channel ids Calls remembers, so
// that an event straggling in after ChannelDestroyed (or after Reset closed
// the leg) neither resurrects the leg nor yields a second CDR.
const endedMemory = 4096

// Calls folds ARI channel events, in order, into live call legs and one
// CDR per finished leg. It does no I/O: the adapter reads the WebSocket,
// parses with ParseEvent, and forwards what Apply returns to the presence
// feed and the CDR sink. It is not safe for concurrent use; the adapter
// feeds it from one goroutine.
//
// The CDR of a leg follows what Asterisk's own CDR engine writes for the
// same channel (see ParseCSV, which reads those files), with one record
// per channel where Asterisk writes one row for the calling channel — or
// two, for busy and unanswered dials:
//   - CallID is the channel id (Asterisk's uniqueid). LinkedID is the
//     channel's linkedid when ARI sends one; Asterisk 23 does not, so a
//     dialled leg takes its caller's and bridged legs the oldest of theirs,
//     as Asterisk links them.
//   - Start is the timestamp of the channel's ChannelCreated (the stasis
//     message Asterisk's CDR engine and CEL date the channel by; later
//     than creationtime under load), else its creationtime, or at a
//     resync CDR(start,u); Answer the first time it was
//     seen Up (ChannelStateChange, or the first snapshot already Up), End
//     the ChannelDestroyed timestamp. Duration and Billsec are whole
//     seconds, truncated from milliseconds as Asterisk's cdr.c does
//     (without initiatedseconds), so they agree with Master.csv.
//   - Disposition is ANSWERED for a leg that was answered; otherwise that
//     of the final Dial status (BUSY; NOANSWER and CANCEL give NO ANSWER;
//     CONGESTION; CHANUNAVAIL and the rest FAILED); otherwise, like
//     Asterisk for a channel that never dialled, from the cause (17 BUSY,
//     34 CONGESTION, 3 and 20 FAILED, another cause NO ANSWER, none
//     FAILED). Asterisk writes CONGESTION as FAILED unless cdr.conf has
//     congestion=yes; Switchboard keeps the distinction.
//   - Cause and CauseText come from ChannelDestroyed only: the cause of a
//     soft ChannelHangupRequest is a flag, not a Q.850 code. SIPStatus is
//     ChannelDestroyed's tech_cause, else that of a hard hangup request.
//   - The parties of the calling leg are those ParseCSV derives from the
//     equivalent row: caller from channel.caller, Dialed the last
//     dialplan extension, Destination the Dial target or the application
//     (Echo, the Stasis arguments), Direction, Account and Gateway from the
//     two channels' endpoints. A dialled leg shares its caller's parties
//     (caller number and name, Dialed, Destination, Direction, Gateway)
//     but its Account is its own endpoint when that is a local account.
//   - Codec is the leg's negotiated codec, CHANNEL(audionativeformat)
//     read over ARI once the leg is up (the adapter does it: TakeAnswered,
//     SetCodec); until then, and when the read fails, VarCodec's value
//     if it names one codec: the README's dialplan sets it before the
//     answer, when it is the set on offer, "(ulaw|alaw)". UserAgent comes
//     from VarUserAgent when the dialplan sets it.
type Calls struct {
	opt  CallOptions
	csv  CSVOptions
	legs map[string]*leg
	// published is the Call last returned for each live leg, so that Apply
	// returns only real changes (most events, ChannelVarset above all,
	// change nothing a presence reader sees).
	published map[string]presence.Call
	ended     map[string]struct{}
	// guessed are the legs the last Reset closed unseen: a ChannelDestroyed
	// still queued from before the resync (the channel ended between the
	// socket's connect and GET /channels) gives them their true CDR.
	guessed   map[string]*leg
	endedRing []string // the ids in ended, oldest first once full
	endedNext int
	// provisional are the ids of the CDRs returned since the last
	// TakeProvisional that rest on a guess (see TakeProvisional).
	provisional []string
	// answered are the legs seen up since the last TakeAnswered.
	answered []string
}

// leg is what Calls knows of one channel.
type leg struct {
	id, name         string
	linkedID         string
	linkedByAsterisk bool // linkedID came from the channel JSON
	state            string
	caller           CallerID
	exten            string // the last dialplan extension (not "h")
	app, appData     string // the last application; fixed once Dial ran
	dialled          bool   // the leg ran Dial()
	start, answer    time.Time
	// answerGuessed: answer is the time a resync first saw the leg Up,
	// not an event's; an event's earlier time replaces it.
	answerGuessed bool
	// linkUnknown: first seen at a resync whose read of its linkedid
	// failed (it ended meanwhile): its parties may be its own, not its
	// caller's.
	linkUnknown bool
	// partyA is the leg that dialled this one (Dial caller), nil for a
	// calling leg. It is kept after partyA's own end.
	partyA   *leg
	peerName string          // the dialled channel's name (dstchannel)
	dialDisp cdr.Disposition // from final Dial statuses, "" when none
	sip      int             // tech_cause of a hard hangup request
	codec    string
	// codecRead: codec is the negotiated one, read from the channel after
	// its answer (SetCodec); the dialplan's VarCodec no longer replaces it.
	codecRead bool
	ua        string
}

// NewCalls returns an empty Calls.
func NewCalls(opt CallOptions) *Calls {
	return &Calls{
		opt:       opt,
		csv:       CSVOptions{Switch: opt.Switch, Domain: opt.Domain, IsGateway: opt.IsGateway},
		legs:      map[string]*leg{},
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

// Apply folds one event and returns what changed: the live legs to upsert
// into presence, the ids of legs that ended, and the CDRs of legs that
// ended. Events of other types, events about channels that already ended,
// and channel-less events change nothing.
func (c *Calls) Apply(ev Event) (upserts []presence.Call, ended []string, cdrs []cdr.Record) {
	at := ev.Timestamp
	if at.IsZero() {
		at = c.now()
	}
	var touched []*leg
	switch ev.Type {
	case "ChannelDestroyed":
		if ev.Channel != nil {
			if l, ok := c.guessed[ev.Channel.ID]; ok {
				delete(c.guessed, l.id)
				sip := ev.TechCause
				if sip == 0 {
					sip = l.sip
				}
				return nil, nil, []cdr.Record{c.record(l, at, ev.Cause, ev.CauseText, sip, compactRaw(ev.Raw))}
			}
		}
		l := c.seen(ev, ev.Channel, at)
		if l == nil {
			return nil, nil, nil
		}
		sip := ev.TechCause
		if sip == 0 {
			sip = l.sip
		}
		rec := c.record(l, at, ev.Cause, ev.CauseText, sip, compactRaw(ev.Raw))
		if l.answerGuessed || l.linkUnknown {
			c.provisional = append(c.provisional, l.id)
		}
		c.forget(l.id)
		return nil, []string{l.id}, []cdr.Record{rec}
	case "Dial":
		caller := c.seen(ev, ev.Caller, at)
		peer := c.seen(ev, ev.Peer, at)
		disp, final := dialDisposition(ev.DialStatus)
		if peer != nil {
			touched = append(touched, peer)
			if final {
				peer.dialDisp = disp
			}
		}
		if caller != nil {
			touched = append(touched, caller)
			if final {
				caller.dialDisp = strongerDisposition(caller.dialDisp, disp)
			}
		}
		if caller != nil && peer != nil {
			if peer.partyA == nil && peer != caller {
				peer.partyA = caller
				if !peer.linkedByAsterisk {
					peer.linkedID = caller.linkedID
				}
			}
			// The first peer names the destination; with parallel
			// targets the one that answers does, as Asterisk's dstchannel.
			if caller.peerName == "" || disp == cdr.Answered {
				caller.peerName = peer.name
			}
		}
	case "ChannelVarset":
		if l := c.seen(ev, ev.Channel, at); l != nil {
			l.setVar(ev.Variable, ev.Value)
			touched = append(touched, l)
		}
	case "ChannelHangupRequest":
		if l := c.seen(ev, ev.Channel, at); l != nil {
			if !ev.Soft && ev.TechCause != 0 {
				l.sip = ev.TechCause
			}
			touched = append(touched, l)
		}
	case "ChannelDialplan":
		if l := c.seen(ev, ev.Channel, at); l != nil {
			l.setApp(ev.DialplanApp, ev.DialplanAppData)
			touched = append(touched, l)
		}
	case "ChannelEnteredBridge":
		if l := c.seen(ev, ev.Channel, at); l != nil {
			touched = append(touched, l)
			if ev.Bridge != nil {
				touched = append(touched, c.linkBridged(ev.Bridge.Channels)...)
			}
		}
	default:
		if l := c.seen(ev, ev.Channel, at); l != nil {
			touched = append(touched, l)
		}
	}
	return c.publish(touched), nil, nil
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

// Unseen returns the indexes of the channels of chs Calls has no leg for: those a resync
// sees first, whose answer time and linkage the adapter reads from
// Asterisk before Reset (Channel.AnswerTime, Channel.LinkedID).
func (c *Calls) Unseen(chs []Channel) []int {
	var idx []int
	for i := range chs {
		id := chs[i].ID
		if _, known := c.legs[id]; known || id == "" {
			continue
		}
		if _, gone := c.ended[id]; gone {
			continue
		}
		idx = append(idx, i)
	}
	return idx
}

// Reset replaces the state with the channels a reconnect read from
// GET /channels. Channels in the list are kept or added: a leg first seen
// Up is answered at its AnswerTime (Asterisk's CDR(answer,u)), or, when
// that could not be read, now (a guess an earlier event replaces); a leg
// whose LinkedID names another leg is that leg's dialled leg (its caller
// number, dialled number and destination are the other's, as for a
// Dial seen live). Legs missing from it ended while the
// connection was down: Reset returns their CDRs, closed at now with what
// was known and CauseText CauseTextDisconnected, and forgets them, so a
// late ChannelDestroyed for one of them yields no second CDR. The caller
// replaces presence with Live afterwards.
func (c *Calls) Reset(channels []Channel) []cdr.Record {
	now := c.now()
	present := make(map[string]bool, len(channels))
	for i := range channels {
		_, known := c.legs[channels[i].ID]
		if l := c.observe(&channels[i], now); l != nil {
			present[l.id] = true
			if l.answer.Equal(now) {
				l.answerGuessed = true
			}
			if !known && channels[i].LinkedID == "" {
				l.linkUnknown = true
			}
		}
	}
	for id := range present {
		l := c.legs[id]
		if l.partyA != nil || !l.linkedByAsterisk || l.linkedID == l.id {
			continue
		}
		if a := c.legs[l.linkedID]; a != nil && present[a.id] {
			l.partyA = a
			if a.peerName == "" {
				a.peerName = l.name
			}
		}
	}
	var cdrs []cdr.Record
	c.guessed = map[string]*leg{}
	for _, l := range c.sortedLegs() {
		if present[l.id] {
			continue
		}
		c.guessed[l.id] = l
		raw, _ := json.Marshal(struct {
			Channel string    `json:"channel"`
			State   string    `json:"state"`
			Reason  string    `json:"reason"`
			At      time.Time `json:"closed_at"`
		}{l.name, l.state, CauseTextDisconnected, now})
		cdrs = append(cdrs, c.record(l, now, 0, CauseTextDisconnected, l.sip, raw))
		c.forget(l.id)
	}
	clear(c.published)
	for _, l := range c.legs {
		c.published[l.id] = c.call(l)
	}
	return cdrs
}

// seen is observe for a channel an event carries. A leg first seen in its
// ChannelCreated starts at that event's timestamp: Asterisk's CDR engine
// and CEL date a channel's start by the same stasis message ARI raises it
// from, which under load comes tens of ms (once 1.2 s, seen live) after
// the channel's creationtime. A leg first seen in any other event existed
// before this connection's socket yet was not in its resync (it ended in
// between): its answer time (if it is up) and its linkage are not known,
// so its CDR is provisional (TakeProvisional).
func (c *Calls) seen(ev Event, ch *Channel, at time.Time) *leg {
	known := ch == nil || c.legs[ch.ID] != nil
	l := c.observe(ch, at)
	if l == nil || known {
		return l
	}
	if ev.Type == "ChannelCreated" {
		if !ev.Timestamp.IsZero() && !ev.Timestamp.Before(l.start) {
			l.start = ev.Timestamp
		}
		return l
	}
	l.linkUnknown = true
	if !l.answer.IsZero() {
		l.answerGuessed = true
	}
	return l
}

// observe records what a channel snapshot says and returns its leg, made
// on first sight; nil for no channel or a channel that already ended.
func (c *Calls) observe(ch *Channel, at time.Time) *leg {
	if ch == nil || ch.ID == "" {
		return nil
	}
	if _, gone := c.ended[ch.ID]; gone {
		return nil
	}
	l := c.legs[ch.ID]
	if l == nil {
		l = &leg{id: ch.ID, linkedID: ch.ID, start: ch.CreationTime}
		if l.start.IsZero() || l.start.After(at) {
			l.start = at
		}
		c.legs[ch.ID] = l
	}
	if ch.Name != "" {
		l.name = ch.Name
	}
	if ch.LinkedID != "" {
		l.linkedID, l.linkedByAsterisk = ch.LinkedID, true
	}
	if ch.State != "" {
		l.state = ch.State
	}
	if strings.EqualFold(ch.State, "Up") {
		switch {
		case l.answer.IsZero() && !ch.AnswerTime.IsZero():
			l.answer = ch.AnswerTime
			c.answered = append(c.answered, l.id)
		case l.answer.IsZero():
			l.answer = at
			c.answered = append(c.answered, l.id)
		case l.answerGuessed && at.Before(l.answer):
			// An event of the answer that a resync overtook (read from the
			// socket after GET /channels already showed the leg Up).
			l.answer, l.answerGuessed = at, false
		}
	}
	l.caller = ch.Caller
	if e := ch.Dialplan.Exten; e != "" && e != "h" {
		l.exten = e
	}
	l.setApp(ch.Dialplan.AppName, ch.Dialplan.AppData)
	for k, v := range ch.Vars {
		l.setVar(k, v)
	}
	return l
}

// extras returns, by live leg, what a CDR from Asterisk's files lacks.
func (c *Calls) extras() map[string]legExtras {
	m := make(map[string]legExtras, len(c.legs))
	for id, l := range c.legs {
		m[id] = legExtras{codec: l.codec, userAgent: l.ua, sipStatus: l.sip}
	}
	return m
}

// TakeProvisional returns, and forgets, the ids of the CDRs Apply returned
// that rest on a guess: legs first seen at a resync (Switchboard started
// mid-call) whose answer time or linkedid could not be read from
// Asterisk (Channel.AnswerTime, Channel.LinkedID), typically because they
// ended while the resync read them. The adapter holds them like the CDRs
// of legs that ended while disconnected, for Asterisk's own record to
// replace.
func (c *Calls) TakeProvisional() []string {
	ids := c.provisional
	c.provisional = nil
	return ids
}

// TakeAnswered returns, and forgets, the legs seen up for the first time
// since the last call: the adapter reads their negotiated codec.
func (c *Calls) TakeAnswered() []string {
	ids := c.answered
	c.answered = nil
	return ids
}

// SetCodec records the negotiated codec of leg id, the value of
// CHANNEL(audionativeformat) read once it was up. A leg already ended, or
// a value naming no single codec, changes nothing.
func (c *Calls) SetCodec(id, format string) {
	l := c.legs[id]
	if l == nil {
		return
	}
	if name := codecName(format); name != "" {
		l.codec, l.codecRead = name, true
	}
}

// codecName is the codec an audionativeformat value names: Asterisk
// writes the format capabilities in parentheses, "(ulaw)", and the set on
// offer before the answer as "(ulaw|alaw)", which names no one codec: "".
func codecName(format string) string {
	f := strings.TrimSpace(format)
	f = strings.TrimSuffix(strings.TrimPrefix(f, "("), ")")
	if f == "" || strings.ContainsAny(f, "|()") {
		return ""
	}
	return f
}

// forget drops an ended leg and remembers its id.
func (c *Calls) forget(id string) {
	delete(c.legs, id)
	delete(c.published, id)
	if _, ok := c.ended[id]; ok {
		return
	}
	if len(c.endedRing) < endedMemory {
		c.endedRing = append(c.endedRing, id)
	} else {
		delete(c.ended, c.endedRing[c.endedNext])
		c.endedRing[c.endedNext] = id
		c.endedNext = (c.endedNext + 1) % endedMemory
	}
	c.ended[id] = struct{}{}
}

// linkBridged gives the known legs among ids the oldest of their
// linkedids, as Asterisk does when it bridges channels; it returns the
// legs it changed.
func (c *Calls) linkBridged(ids []string) []*leg {
	var legs []*leg
	oldest := ""
	for _, id := range ids {
		l := c.legs[id]
		if l == nil {
			continue
		}
		legs = append(legs, l)
		if oldest == "" || uniqueidLess(l.linkedID, oldest) {
			oldest = l.linkedID
		}
	}
	changed := legs[:0]
	for _, l := range legs {
		if !l.linkedByAsterisk && l.linkedID != oldest {
			l.linkedID = oldest
			changed = append(changed, l)
		}
	}
	return changed
}

// publish returns the Calls of the touched legs that differ from what was
// last returned for them.
func (c *Calls) publish(touched []*leg) []presence.Call {
	var out []presence.Call
	for i, l := range touched {
		if slices.Contains(touched[:i], l) {
			continue
		}
		if _, live := c.legs[l.id]; !live {
			continue
		}
		// An outgoing channel is created Down and only then dialled: wait
		// for its Dial (or its ringing) rather than show it for a moment
		// with its own caller ID and no caller.
		if l.partyA == nil && strings.EqualFold(l.state, "Down") {
			continue
		}
		call := c.call(l)
		if prev, ok := c.published[l.id]; ok && sameCall(prev, call) {
			continue
		}
		c.published[l.id] = call
		out = append(out, call)
	}
	return out
}

func (c *Calls) sortedLegs() []*leg {
	legs := make([]*leg, 0, len(c.legs))
	for _, l := range c.legs {
		legs = append(legs, l)
	}
	slices.SortFunc(legs, func(a, b *leg) int {
		if n := a.start.Compare(b.start); n != 0 {
			return n
		}
		if uniqueidLess(a.id, b.id) {
			return -1
		}
		if uniqueidLess(b.id, a.id) {
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	return legs
}

// parties derives a leg's parties the way ParseCSV derives them from the
// equivalent CDR row of the calling channel, so that the two agree.
func (c *Calls) parties(l *leg) cdr.Record {
	a := l
	dst := l.peerName
	if l.partyA != nil {
		a, dst = l.partyA, l.name
	}
	rec := c.csv.record(&mergedRow{first: cdrRow{
		src: a.caller.Number, channel: a.name, dstchannel: dst,
		lastapp: a.app, lastdata: a.appData, dst: a.exten, uniqueid: l.id,
	}})
	rec.CallerName = a.caller.Name
	if rec.CallerName == rec.CallerNumber {
		rec.CallerName = ""
	}
	rec.LinkedID = l.linkedID
	if l.partyA != nil {
		if tech, ep := channelEndpoint(l.name); isAccountTech(tech) && !c.csv.isGateway(tech, ep) {
			rec.Account = ep
		}
	}
	rec.Raw = nil
	return rec
}

// call is a live leg as presence shows it.
func (c *Calls) call(l *leg) presence.Call {
	p := c.parties(l)
	call := presence.Call{
		Switch: c.opt.Switch, ID: l.id, LinkedID: l.linkedID,
		Direction: string(p.Direction), Domain: c.opt.Domain,
		Account: p.Account, Gateway: p.Gateway,
		CallerNumber: p.CallerNumber, CallerName: p.CallerName,
		Callee: p.Dialed, State: callState(l.state), Start: l.start,
	}
	if call.Callee == "" {
		call.Callee = p.Destination
	}
	if !l.answer.IsZero() {
		a := l.answer
		call.Answer = &a
	}
	return call
}

// record is the CDR of a leg that ended at end.
func (c *Calls) record(l *leg, end time.Time, cause int, causeText string, sip int, raw json.RawMessage) cdr.Record {
	rec := c.parties(l)
	if end.Before(l.start) {
		end = l.start
	}
	rec.Start, rec.End = l.start, end
	rec.Duration = wholeSeconds(l.start, end)
	if !l.answer.IsZero() {
		a := l.answer
		if a.Before(l.start) {
			a = l.start
		}
		if a.After(end) {
			a = end
		}
		rec.Answer = &a
		rec.Billsec = wholeSeconds(a, end)
	}
	rec.Disposition = l.disposition(cause)
	rec.Cause, rec.CauseText, rec.SIPStatus = cause, causeText, sip
	rec.Codec, rec.UserAgent = l.codec, l.ua
	rec.Raw = raw
	return rec
}

// wholeSeconds is Asterisk's CDR duration: milliseconds divided by 1000,
// truncated (cdr.c cdr_object_get_duration / _get_billsec).
func wholeSeconds(from, to time.Time) int {
	ms := to.Sub(from).Milliseconds()
	if ms < 0 {
		return 0
	}
	return int(ms / 1000)
}

func (l *leg) disposition(cause int) cdr.Disposition {
	switch {
	case !l.answer.IsZero():
		return cdr.Answered
	case l.dialDisp != "":
		return l.dialDisp
	}
	return causeDisposition(cause)
}

// setApp records the application the leg runs. Once Dial ran it stays the
// leg's application, as in Asterisk's CDR lastapp; bookkeeping
// applications never replace one.
func (l *leg) setApp(name, data string) {
	if name == "" || l.dialled {
		return
	}
	switch strings.ToLower(name) {
	case "noop", "hangup", "appdial", "appdial2", "verbose", "log":
		return
	case "dial":
		l.dialled = true
	}
	l.app, l.appData = name, data
}

func (l *leg) setVar(name, value string) {
	switch {
	case strings.EqualFold(name, VarCodec):
		if !l.codecRead {
			l.codec = codecName(value)
		}
	case strings.EqualFold(name, VarUserAgent):
		l.ua = value
	}
}

// dialDisposition maps a Dial status; final is false for the statuses of
// a dial in progress ("", RINGING, PROGRESS, PROCEEDING).
func dialDisposition(status string) (d cdr.Disposition, final bool) {
	switch strings.ToUpper(status) {
	case "", "RINGING", "PROGRESS", "PROCEEDING":
		return "", false
	case "ANSWER":
		return cdr.Answered, true
	case "BUSY":
		return cdr.Busy, true
	case "NOANSWER", "CANCEL":
		return cdr.NoAnswer, true
	case "CONGESTION":
		return cdr.Congestion, true
	default: // CHANUNAVAIL, DONTCALL, TORTURE, INVALIDARGS…
		return cdr.Failed, true
	}
}

// dispositionRank orders dispositions as Asterisk's enum does, where the
// larger wins when one call has several outcomes (parallel dial targets).
var dispositionRank = map[cdr.Disposition]int{
	cdr.NoAnswer: 1, cdr.Failed: 2, cdr.Busy: 4, cdr.Answered: 8, cdr.Congestion: 16,
}

func strongerDisposition(a, b cdr.Disposition) cdr.Disposition {
	if dispositionRank[b] > dispositionRank[a] {
		return b
	}
	return a
}

// causeDisposition is Asterisk's hangup_cause_to_disposition for a leg
// that neither answered nor dialled, with its fallback to FAILED when
// there is no cause.
func causeDisposition(cause int) cdr.Disposition {
	switch cause {
	case 0:
		return cdr.Failed
	case 17: // user busy
		return cdr.Busy
	case 34: // circuit/channel congestion
		return cdr.Congestion
	case 3, 20: // no route to destination, subscriber absent (unregistered)
		return cdr.Failed
	default: // 16 normal clearing, 19 no answer, and Asterisk's "NULL"
		return cdr.NoAnswer
	}
}

// callState maps an Asterisk channel state to presence's vocabulary.
func callState(s string) string {
	switch strings.ToLower(s) {
	case "up":
		return "up"
	case "busy":
		return "busy"
	default: // Down, Rsrvd, OffHook, Dialing, Ring, Ringing, Pre-ring…
		return "ringing"
	}
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

// uniqueidLess orders Asterisk uniqueids ([system-]epoch.sequence) by
// creation: epoch, then sequence, numerically.
func uniqueidLess(a, b string) bool {
	ea, sa, oka := splitUniqueid(a)
	eb, sb, okb := splitUniqueid(b)
	if !oka || !okb {
		return a < b
	}
	if ea != eb {
		return ea < eb
	}
	return sa < sb
}

func splitUniqueid(s string) (epoch, seq uint64, ok bool) {
	if !looksLikeUniqueid(s) {
		return 0, 0, false
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		s = s[i+1:]
	}
	a, b, _ := strings.Cut(s, ".")
	e, err1 := strconv.ParseUint(a, 10, 64)
	q, err2 := strconv.ParseUint(b, 10, 64)
	return e, q, err1 == nil && err2 == nil
}

// compactRaw returns raw without insignificant space (json.Marshal
// compacts a RawMessage), or nil when it is not JSON.
func compactRaw(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	out, err := json.Marshal(raw)
	if err != nil {
		return nil
	}
	return out
}
