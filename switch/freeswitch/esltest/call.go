package esltest

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// callTemplate is a recorded call the fake replays with fresh uuids,
// users and times.
type callTemplate struct {
	aUUID, bUUID string   // bUUID is "" for a one-leg call
	users        []string // the recorded caller and destination
	setup        []int    // Event-Sequence of the events up to the answer
	teardown     []int    // and of the hang-up
	answerUS     int64    // the a-leg's Caller-Channel-Answered-Time
	hangupUS     int64    // Caller-Channel-Hangup-Time
	cdrs         []string // recorded json_cdr bodies, a-leg first
}

func seqRange(from, to int, skip ...int) []int {
	var out []int
	for n := from; n <= to; n++ {
		skipped := false
		for _, k := range skip {
			skipped = skipped || k == n
		}
		if _, ok := scenario().bySeq[n]; ok && !skipped {
			out = append(out, n)
		}
	}
	return out
}

// bridgedCall is call A of the recording: 1001 calls 1002, who rings
// 1.5 s and answers; bridged; the caller hangs up (recv_bye on the a-leg,
// send_bye on the b-leg). Its set-up also has the sofia::pre_register and
// sofia::register_attempt the challenged INVITE fires (with from-user
// 1002, the dialled number) and the API event of the bridge's
// sofia_contact. The driver's own api commands during the call (Event-
// Sequence 513-516) are left out.
var bridgedCall = callTemplate{
	aUUID: "c0ac0e89-8277-4837-b5d4-83444258b662", bUUID: "286be19b-08b4-462d-819f-c79f3d404246",
	users: []string{"1001", "1002"}, answerUS: 1795610407188032, hangupUS: 1795610413208049,
	cdrs: []string{"call-a-1001-to-1002-a-leg.json", "call-a-1001-to-1002-b-leg.json"},
}

// singleCall is call C of the recording: one leg, 1001 calling 9196,
// answered by FreeSWITCH, hung up by FreeSWITCH (send_bye). The tone and
// echo in between (Event-Sequence 592-599) and the scheduler's events are
// left out.
var singleCall = callTemplate{
	aUUID: "2402dfa9-6bfc-41b3-873e-27dfa86f388e",
	users: []string{"1001", "9196"}, answerUS: 1795610418248021, hangupUS: 1795610423268047,
	cdrs: []string{"call-c-1001-to-9196-a-leg.json"},
}

func init() {
	bridgedCall.setup, bridgedCall.teardown = seqRange(462, 512), seqRange(517, 534)
	singleCall.setup, singleCall.teardown = seqRange(570, 591), seqRange(600, 609, 601)
}

// The window of the recording's clock: numbers in it are times.
const (
	recFirstSec = 1795610388 - 3600
	recLastSec  = 1795610530 + 3600
)

// rewriter rewrites the values of a recorded call.
type rewriter struct {
	uuids  *strings.Replacer
	users  map[string]string // recorded user → new, replaced as whole words
	domain string            // "" or "127.0.0.1": unchanged
	loc    *time.Location
	// Times up to the recorded answer keep their distance to the new
	// answer, those from the recorded hang-up to the new end; those in
	// between are spread over the new talk time.
	oldAnswer, oldHangup int64 // µs
	newAnswer, newHangup int64
}

func (r *rewriter) mapUS(t int64) int64 {
	switch {
	case t <= r.oldAnswer:
		return t + r.newAnswer - r.oldAnswer
	case t >= r.oldHangup:
		return t + r.newHangup - r.oldHangup
	}
	return r.newAnswer + (t-r.oldAnswer)*(r.newHangup-r.newAnswer)/(r.oldHangup-r.oldAnswer)
}

// replaceWords replaces whole words (not touching a letter or digit) of s
// found in m, all in one pass so that swapping two users works.
func replaceWords(s string, m map[string]string) string {
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); {
		if i == 0 || !isAlnum(s[i-1]) {
			hit := false
			for old, repl := range m {
				if strings.HasPrefix(s[i:], old) && (i+len(old) == len(s) || !isAlnum(s[i+len(old)])) {
					b.WriteString(repl)
					i += len(old)
					hit, changed = true, true
					break
				}
			}
			if hit {
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	if !changed {
		return s
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// domainKeys are the headers and variables whose value is the caller's
// domain (127.0.0.1 in the recording, which is also every address).
var domainKeys = map[string]bool{"domain_name": true, "dialed_domain": true, "requested_domain_name": true,
	"sip_auth_realm": true, "sip_from_host": true, "sip_to_host": true, "from-host": true, "to-host": true,
	"realm": true, "presence-hosts": true, "host": true}

// withDomain rewrites user@127.0.0.1 (not followed by a port) to
// user@domain.
func withDomain(v, domain string) string {
	const old = "@127.0.0.1"
	if !strings.Contains(v, old) {
		return v
	}
	var b strings.Builder
	for {
		i := strings.Index(v, old)
		if i < 0 {
			b.WriteString(v)
			return b.String()
		}
		end := i + len(old)
		b.WriteString(v[:i])
		if end < len(v) && (v[end] == ':' || v[end] == '.' || '0' <= v[end] && v[end] <= '9') {
			b.WriteString(old)
		} else {
			b.WriteString("@" + domain)
		}
		v = v[end:]
	}
}

// derivation is a duration variable FreeSWITCH computes at hang-up
// (switch_channel_set_timestamps): the difference of two of the leg's
// times (<to>_uepoch - <from>_uepoch), each first truncated to unit µs,
// or 0 when <to> never happened.
type derivation struct {
	to, from string
	unit     int64
}

var derived = map[string]derivation{}

func init() {
	pairs := map[string][2]string{
		"duration": {"end", "start"}, "bill": {"end", "answer"}, "progress": {"progress", "start"},
		"answer": {"answer", "start"}, "wait": {"bridge", "start"},
		"progress_media": {"progress_media", "start"}, "flow_bill": {"end", "start"},
	}
	for name, p := range pairs {
		sec, msec, usec := name+"sec", name+"msec", name+"usec"
		if name == "duration" {
			sec, msec, usec = "duration", "mduration", "uduration"
		}
		derived[sec] = derivation{p[0], p[1], 1e6}
		derived[msec] = derivation{p[0], p[1], 1e3}
		derived[usec] = derivation{p[0], p[1], 1}
	}
}

var (
	localRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)
	gmtRE   = regexp.MustCompile(`^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$`)
)

// rewrite rewrites a recorded leg's key/value pairs (an event's headers,
// or a json_cdr body's string members) in place: uuids, users, domain,
// then times, then the values derived from times.
func (r *rewriter) rewrite(kvs []header) {
	index := map[string]int{}
	for i := range kvs {
		if _, ok := index[kvs[i].name]; !ok {
			index[kvs[i].name] = i
		}
	}
	sibling := func(key string) (int64, bool) {
		i, ok := index[key]
		if !ok || !allDigits(kvs[i].value) {
			return 0, false
		}
		n, err := strconv.ParseInt(kvs[i].value, 10, 64)
		return n, err == nil
	}
	inWindow := func(sec int64) bool { return sec >= recFirstSec && sec <= recLastSec }
	for i := range kvs {
		k, v := kvs[i].name, kvs[i].value
		v = r.uuids.Replace(v)
		v = replaceWords(v, r.users)
		if r.domain != "" && r.domain != "127.0.0.1" {
			if domainKeys[strings.TrimPrefix(k, "variable_")] && v == "127.0.0.1" {
				v = r.domain
			} else {
				v = withDomain(v, r.domain)
			}
		}
		if allDigits(v) {
			n, _ := strconv.ParseInt(v, 10, 64)
			switch {
			case len(v) == 16 && inWindow(n/1e6):
				v = strconv.FormatInt(r.mapUS(n), 10)
			case len(v) == 10 && inWindow(n) && !strings.HasSuffix(k, "_epoch"):
				v = strconv.FormatInt(r.mapUS(n*1e6)/1e6, 10)
			}
		}
		kvs[i].value = v
	}
	for i := range kvs {
		k, v := kvs[i].name, kvs[i].value
		switch {
		case localRE.MatchString(v):
			src := ""
			switch {
			case strings.HasSuffix(k, "_stamp"):
				src = strings.TrimSuffix(k, "_stamp") + "_uepoch"
			case strings.HasSuffix(k, "Event-Date-Local"):
				src = strings.TrimSuffix(k, "Local") + "Timestamp"
			}
			if us, ok := sibling(src); ok && us != 0 {
				v = time.UnixMicro(us).In(r.loc).Format(localStamp)
			} else if t, err := time.ParseInLocation(localStamp, v, time.UTC); err == nil {
				v = time.UnixMicro(r.mapUS(t.UnixMicro())).In(r.loc).Format(localStamp)
			}
		case gmtRE.MatchString(v) && strings.HasSuffix(k, "Event-Date-GMT"):
			if us, ok := sibling(strings.TrimSuffix(k, "GMT") + "Timestamp"); ok {
				v = time.UnixMicro(us).UTC().Format(gmtStamp)
			}
		case strings.HasSuffix(k, "_epoch") && allDigits(v):
			if us, ok := sibling(strings.TrimSuffix(k, "_epoch") + "_uepoch"); ok {
				v = strconv.FormatInt(us/1e6, 10)
			} else if n, _ := strconv.ParseInt(v, 10, 64); len(v) == 10 && inWindow(n) {
				v = strconv.FormatInt(r.mapUS(n*1e6)/1e6, 10)
			}
		}
		prefix, name := "", k
		if strings.HasPrefix(k, "variable_") {
			prefix, name = "variable_", k[len("variable_"):]
		}
		if d, ok := derived[name]; ok && allDigits(v) {
			to, ok1 := sibling(prefix + d.to + "_uepoch")
			from, ok2 := sibling(prefix + d.from + "_uepoch")
			if ok1 && ok2 {
				n := int64(0)
				if to != 0 {
					n = to/d.unit - from/d.unit
				}
				v = strconv.FormatInt(n, 10)
			}
		}
		kvs[i].value = v
	}
}

// event rewrites a recorded event.
func (r *rewriter) event(e *event) *event {
	e = e.clone()
	r.rewrite(e.headers)
	return e
}

// jsonStringMember matches a "key":"value" member of a json_cdr body.
var jsonStringMember = regexp.MustCompile(`"((?:[^"\\]|\\.)*)":"((?:[^"\\]|\\.)*)"`)

// jsonCDR rewrites a recorded json_cdr body.
func (r *rewriter) jsonCDR(body []byte) []byte {
	locs := jsonStringMember.FindAllSubmatchIndex(body, -1)
	kvs := make([]header, len(locs))
	for i, l := range locs {
		var k, v string
		_ = json.Unmarshal(body[l[2]-1:l[3]+1], &k)
		_ = json.Unmarshal(body[l[4]-1:l[5]+1], &v)
		kvs[i] = header{k, v}
	}
	r.rewrite(kvs)
	var out []byte
	last := 0
	for i, l := range locs {
		out = append(out, body[last:l[4]-1]...)
		out = append(out, jsonString(kvs[i].value)...)
		last = l[5] + 1
	}
	return append(out, body[last:]...)
}

// liveCall is a call the fake placed and has not hung up yet.
type liveCall struct {
	tpl            *callTemplate
	caller, callee string // uuids; callee "" for a one-leg call
	fromUser, to   string
	domain         string
	answer         time.Time
	// The UDP ports of the users' phones (Server.portFor), replacing the
	// recorded 25001 and 25002; "" keeps them.
	fromPort, toPort string
}

func (lc *liveCall) rewriter(end time.Time, loc *time.Location) *rewriter {
	oldnew := []string{lc.tpl.aUUID, lc.caller}
	if lc.tpl.bUUID != "" {
		oldnew = append(oldnew, lc.tpl.bUUID, lc.callee)
	}
	r := &rewriter{
		uuids:     strings.NewReplacer(oldnew...),
		users:     map[string]string{lc.tpl.users[0]: lc.fromUser, lc.tpl.users[1]: lc.to},
		domain:    lc.domain,
		loc:       loc,
		oldAnswer: lc.tpl.answerUS, oldHangup: lc.tpl.hangupUS,
		newAnswer: lc.answer.UnixMicro(),
	}
	if lc.fromPort != "" {
		r.users["25001"] = lc.fromPort
	}
	if lc.toPort != "" && lc.tpl.bUUID != "" {
		r.users["25002"] = lc.toPort
	}
	r.newHangup = r.newAnswer + lc.tpl.hangupUS - lc.tpl.answerUS
	if !end.IsZero() {
		r.newHangup = end.UnixMicro()
	}
	return r
}

func (lc *liveCall) events(seqs []int, r *rewriter) []*event {
	out := make([]*event, 0, len(seqs))
	for _, n := range seqs {
		out = append(out, r.event(recordedEvent(n)))
	}
	return out
}

// cdrRecord is one json_cdr POST.
type cdrRecord struct {
	uuid string
	body []byte
}

// teardown returns the hang-up events of the call ending at end, and its
// legs' json_cdr records.
func (lc *liveCall) teardown(end time.Time, loc *time.Location) ([]*event, []cdrRecord) {
	r := lc.rewriter(end, loc)
	evs := lc.events(lc.tpl.teardown, r)
	uuids := []string{lc.caller, lc.callee}
	var cdrs []cdrRecord
	for i, name := range lc.tpl.cdrs {
		cdrs = append(cdrs, cdrRecord{uuid: uuids[i], body: r.jsonCDR(Recorded(name))})
	}
	return evs, cdrs
}

// splitUser splits "user[@domain]".
func splitUser(s string) (user, domain string) {
	user, domain, _ = strings.Cut(s, "@")
	return user, domain
}

func (s *Server) newCall(tpl *callTemplate, from, to, callerUUID string, answer time.Time) *liveCall {
	fromUser, domain := splitUser(from)
	toUser, _ := splitUser(to)
	if callerUUID == "" {
		callerUUID = newUUID()
	}
	lc := &liveCall{tpl: tpl, caller: callerUUID, fromUser: fromUser, to: toUser, domain: domain, answer: answer,
		fromPort: s.portFor(fromUser)}
	if tpl.bUUID != "" {
		lc.callee, lc.toPort = newUUID(), s.portFor(toUser)
	}
	return lc
}

// CompleteCall plays a whole answered call from user from to user to
// (each "user" or "user@domain"; a domain replaces 127.0.0.1 where the
// recording has the domain): the recorded call A (CHANNEL_CREATE …
// CHANNEL_HANGUP_COMPLETE of both legs, with every CHANNEL_STATE,
// CHANNEL_CALLSTATE, CODEC… in between) rewritten with fresh uuids,
// those users, and times such that the a-leg is answered talk before now
// and both legs hang up now: the epochs and stamps, billsec, duration and
// the other derived variables, and Event-Date-* are consistent, as
// FreeSWITCH computes them. The events are sent at once, and with
// WithJSONCDR both legs' json_cdr records (rewritten the same way from
// testdata/call-a-*.json) are posted. It returns the legs' uuids.
func (s *Server) CompleteCall(from, to string, talk time.Duration) (callerUUID, calleeUUID string) {
	end := time.Now()
	lc := s.newCall(&bridgedCall, from, to, "", end.Add(-talk))
	setup := lc.events(lc.tpl.setup, lc.rewriter(end, s.opts.loc))
	teardown, cdrs := lc.teardown(end, s.opts.loc)
	s.emit(setup...)
	s.emit(teardown...)
	s.postCDRs(cdrs)
	return lc.caller, lc.callee
}

// StartCall plays the set-up of call A from from to to, answered now, and
// leaves it up: it shows in show channels|calls as json until EndCall or
// a uuid_kill of either leg.
func (s *Server) StartCall(from, to string) (callerUUID, calleeUUID string) {
	lc := s.newCall(&bridgedCall, from, to, "", time.Now())
	s.emit(s.goLive(lc)...)
	return lc.caller, lc.callee
}

// goLive records lc as up and returns its set-up events.
func (s *Server) goLive(lc *liveCall) []*event {
	evs := lc.events(lc.tpl.setup, lc.rewriter(time.Time{}, s.opts.loc))
	s.mu.Lock()
	s.live[lc.caller] = lc
	if lc.callee != "" {
		s.live[lc.callee] = lc
	}
	s.mu.Unlock()
	return evs
}

// takeCall removes the live call with that leg uuid.
func (s *Server) takeCall(uuid string) *liveCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	lc := s.live[uuid]
	if lc != nil {
		delete(s.live, lc.caller)
		delete(s.live, lc.callee)
	}
	return lc
}

// EndCall hangs up a call StartCall (or an originate) placed, by either
// leg's uuid, now: the recorded hang-up (the caller's BYE) with the talk
// time since the answer, and the json_cdr records. Unknown uuids are
// ignored.
func (s *Server) EndCall(callerUUID string) {
	lc := s.takeCall(callerUUID)
	if lc == nil {
		return
	}
	evs, cdrs := lc.teardown(time.Now(), s.opts.loc)
	s.emit(evs...)
	s.postCDRs(cdrs)
}

// uuidKill answers "uuid_kill <uuid> [<cause>]".
func (s *Server) uuidKill(arg string) apiResult {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return apiResult{reply: "-USAGE: <uuid> [cause]\n"}
	}
	if lc := s.takeCall(f[0]); lc != nil {
		evs, cdrs := lc.teardown(time.Now(), s.opts.loc)
		return apiResult{reply: "+OK\n", after: evs, cdrs: cdrs}
	}
	s.mu.Lock()
	known := s.st.channel(f[0]) != nil
	s.mu.Unlock()
	if known {
		// A pushed channel: the fake cannot make up its hang-up.
		return apiResult{reply: "+OK\n"}
	}
	return apiResult{reply: "-ERR No such channel!\n"}
}

const originateUsage = "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"

// originate answers "originate [{vars}]<dial string> <exten>|&<app>(…)
// [<dialplan>] [<context>]…". The dial string is user/<user>@<domain> or
// sofia/<profile>/<user>@<host>; the user must be registered, else
// -ERR USER_NOT_REGISTERED. An extension or &bridge(user/<to>@…) plays
// the bridged call A from the user to that destination; any other
// application (&park()…) plays the one-leg call C with the application's
// name as destination. The call is answered at once and left up; the
// answer is +OK <uuid> of the originated leg (origination_uuid when set).
// The originated leg keeps the recorded a-leg's shape (direction
// inbound).
func (s *Server) originate(arg string) apiResult {
	vars, rest := originateVars(strings.TrimSpace(arg))
	f := strings.Fields(rest)
	if len(f) < 2 {
		return apiResult{reply: originateUsage}
	}
	dial, dest := f[0], f[1]
	var user, domain string
	switch {
	case strings.HasPrefix(dial, "user/"):
		user, domain = splitUser(dial[len("user/"):])
	case strings.HasPrefix(dial, "sofia/gateway/"):
		return notModelled("originate", arg)
	case strings.HasPrefix(dial, "sofia/"):
		parts := strings.SplitN(dial, "/", 3)
		if len(parts) < 3 {
			return apiResult{reply: "-ERR INVALID_GATEWAY\n"}
		}
		user, _ = splitUser(parts[2]) // the host is an address: any domain will do
	default:
		return apiResult{reply: "-ERR CHAN_NOT_IMPLEMENTED\n"}
	}
	s.mu.Lock()
	ok := s.st.registered(domain, user)
	s.mu.Unlock()
	if !ok {
		return apiResult{reply: "-ERR USER_NOT_REGISTERED\n"}
	}
	tpl, to := &bridgedCall, dest
	if app, ok := strings.CutPrefix(dest, "&"); ok {
		name, args, _ := strings.Cut(app, "(")
		args = strings.TrimSuffix(args, ")")
		if target, ok := strings.CutPrefix(args, "user/"); name == "bridge" && ok {
			to, _ = splitUser(target)
		} else {
			tpl, to = &singleCall, name
		}
	}
	from := user
	if domain != "" {
		from += "@" + domain
	}
	lc := s.newCall(tpl, from, to, vars["origination_uuid"], time.Now())
	return apiResult{before: s.goLive(lc), reply: "+OK " + lc.caller + "\n"}
}

// originateVars takes the leading {…}, <…> and […] variable blocks off
// an originate's arguments.
func originateVars(arg string) (map[string]string, string) {
	vars := map[string]string{}
	for len(arg) > 0 && strings.ContainsRune("{<[", rune(arg[0])) {
		closer := map[byte]byte{'{': '}', '<': '>', '[': ']'}[arg[0]]
		end := strings.IndexByte(arg, closer)
		if end < 0 {
			break
		}
		for _, kv := range splitVars(arg[1:end]) {
			k, v, _ := strings.Cut(kv, "=")
			vars[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), "'")
		}
		arg = arg[end+1:]
	}
	return vars, arg
}

// splitVars splits a variable block at commas outside single quotes.
func splitVars(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
