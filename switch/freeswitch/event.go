package freeswitch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// ErrMalformedEvent is wrapped by every error about the bytes of an ESL
// event or frame (a header line without a colon, a body shorter than its
// Content-Length…).
var ErrMalformedEvent = errors.New("freeswitch: malformed ESL event")

// Event is one ESL event: its headers in the order the node sent them,
// values already URL-decoded (the plain format encodes them, except
// commas), and its body.
//
// Header names are matched as textproto.CanonicalMIMEHeaderKey matches
// them, in any case ("Unique-ID", "unique-id" and "Unique-Id" are one
// header; a name with a space only as it is), and when a header is
// repeated (CHANNEL_HANGUP_COMPLETE carries Hangup-Cause twice) the first
// value counts, as textproto's Get returns it.
//
// An event parsed from the socket is lazy in its keys: they are slices
// of the frame, matched through a small hash index built while the lines
// are read, and put in canonical form only when written out (Headers, the
// CDR's Raw). A map of ~250 canonical keys per event cost a third of the
// adapter's CPU; the index costs a fraction of it (issue 12 item 14,
// BenchmarkParsePlainEvent).
type Event struct {
	hs []eventHeader // in the order sent
	// idx is an open-addressing index of hs by key (position+1, 0 for an
	// empty slot; a power of two at most half full), holding the first
	// header of each key.
	idx []uint32
	// Body is the event's own body (BACKGROUND_JOB's result, a log
	// line…), nil when it has none.
	Body []byte
}

// eventHeader is one header of an Event.
type eventHeader struct {
	key   string // as sent (NewEvent: canonical)
	value string // decoded
	// dup marks a later copy of an earlier header's key: never read.
	dup bool
	enc bool // value still holds a '%' to decode (while parsing)
}

// NewEvent builds an Event from headers (values already decoded), in
// the order of their canonical keys. Of two keys with the same
// canonical form, the one spelled canonically wins, else the smaller.
func NewEvent(headers map[string]string, body []byte) Event {
	canon := make(map[string]string, len(headers)) // canonical key → key taken
	for k := range headers {
		ck := canonicalHeaderKey(k)
		if prev, ok := canon[ck]; ok && (prev == ck || k != ck && prev < k) {
			continue
		}
		canon[ck] = k
	}
	keys := make([]string, 0, len(canon))
	for ck := range canon {
		keys = append(keys, ck)
	}
	slices.Sort(keys)
	hs := make([]eventHeader, len(keys))
	for i, ck := range keys {
		hs[i] = eventHeader{key: ck, value: headers[canon[ck]]}
	}
	ev := Event{hs: hs, Body: body}
	ev.index()
	return ev
}

// index builds idx over hs and marks the repeated keys.
func (e *Event) index() {
	if len(e.hs) == 0 {
		return
	}
	size := 8
	for size < 2*len(e.hs) {
		size <<= 1
	}
	e.idx = make([]uint32, size)
	for i := range e.hs {
		h := &e.hs[i]
		if e.insert(h.key, keyHash(h.key), i) {
			continue
		}
		h.dup = true
	}
}

// insert puts header i into idx unless a header of the same key is
// there; it reports whether it did.
func (e *Event) insert(key string, hash uint32, i int) bool {
	mask := uint32(len(e.idx) - 1)
	for p := hash & mask; ; p = (p + 1) & mask {
		at := e.idx[p]
		if at == 0 {
			e.idx[p] = uint32(i + 1)
			return true
		}
		if sameKey(e.hs[at-1].key, key) {
			return false
		}
	}
}

// lookup returns the first header named name, nil when there is none.
func (e Event) lookup(name string) *eventHeader {
	if len(e.idx) == 0 {
		return nil
	}
	mask := uint32(len(e.idx) - 1)
	for p := keyHash(name) & mask; ; p = (p + 1) & mask {
		at := e.idx[p]
		if at == 0 {
			return nil
		}
		if h := &e.hs[at-1]; sameKey(h.key, name) {
			return h
		}
	}
}

// keyHash hashes a key the same in any case: its length and its first
// and last eight bytes with the ASCII case bit set, mixed. The middle is
// left out (keys of one event rarely share length, start and end) so
// that a hash costs the same for every key: it is computed for each
// header and each lookup (issue 12 item 14).
func keyHash(k string) uint32 {
	const fold = 0x2020202020202020
	var a, b uint64
	if n := len(k); n >= 8 {
		a = binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(k), n))
		b = binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(k[n-8:]), 8))
	} else {
		for i := 0; i < n; i++ {
			a |= uint64(k[i]) << (8 * i)
		}
	}
	h := ((a|fold)*0x9e3779b97f4a7c15 ^ (b | fold)) * 0xc2b2ae3d27d4eb4f
	h ^= uint64(len(k))
	h *= 0x9e3779b97f4a7c15
	return uint32(h >> 32)
}

// sameKey reports whether two header keys have the same canonical form
// (textproto.CanonicalMIMEHeaderKey): equal in any ASCII case, or
// exactly equal for a key with a space (textproto leaves it as it is).
// Neither is ever an invalid key of the other's valid one: an invalid
// byte only matches itself.
func sameKey(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	if a == b {
		return true
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			if x == ' ' {
				return false // spaced keys match only exactly
			}
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// Get returns the value of a header, looked up in any case; "" when the
// event lacks it.
func (e Event) Get(name string) string {
	if h := e.lookup(name); h != nil {
		return h.value
	}
	return ""
}

// variable returns the channel variable name (lower case), the header
// variable_<name> in any case; "" when the event lacks it. It is what
// eventVars(e, false)[name] is, without the map.
func (e Event) variable(name string) string {
	var buf [80]byte
	k := append(append(buf[:0], "variable_"...), name...)
	return e.Get(unsafe.String(&k[0], len(k)))
}

// Has reports whether the event has a header of that name.
func (e Event) Has(name string) bool { return e.lookup(name) != nil }

// All yields the headers in the order sent, each key once (its first
// value), keys as sent.
func (e Event) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, h := range e.hs {
			if !h.dup && !yield(h.key, h.value) {
				return
			}
		}
	}
}

// Len is the number of distinct headers.
func (e Event) Len() int {
	n := 0
	for _, h := range e.hs {
		if !h.dup {
			n++
		}
	}
	return n
}

// Headers returns the headers as a map of canonical keys
// (textproto.CanonicalMIMEHeaderKey: "variable_sip_user_agent" as
// "Variable_sip_user_agent"), a fresh copy.
func (e Event) Headers() map[string]string {
	m := make(map[string]string, len(e.hs))
	for k, v := range e.All() {
		m[canonicalHeaderKey(k)] = v
	}
	return m
}

// Name returns the Event-Name (CUSTOM for sofia's events).
func (e Event) Name() string { return e.Get("Event-Name") }

// Subclass returns the Event-Subclass of a CUSTOM event, decoded
// ("sofia::register").
func (e Event) Subclass() string { return e.Get("Event-Subclass") }

// Seq returns the Event-Sequence, FreeSWITCH's counter of fired events; 0
// when absent or not a number.
func (e Event) Seq() uint64 {
	n, _ := strconv.ParseUint(e.Get("Event-Sequence"), 10, 64)
	return n
}

// Time returns when FreeSWITCH fired the event (Event-Date-Timestamp,
// microseconds since the epoch), in UTC; the zero time when absent.
func (e Event) Time() time.Time {
	return microTime(e.Get("Event-Date-Timestamp"))
}

// microTime reads a positive count of microseconds since the epoch.
func microTime(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > maxEpoch*1e6 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

// ParsePlainEvent parses the body of a `Content-Type: text/event-plain`
// frame: header lines, a blank line, then as many bytes of the event's
// own body as its Content-Length says.
//
// It accepts what eslgo's reader (net/textproto's ReadMIMEHeader)
// accepts and gives the same headers (Headers: canonical keys, the first
// of repeated headers, values trimmed and URL-decoded) and body as
// EventFromHeaders of that reader's result, in the order they came. It is
// more lenient in one way: the blank line may be missing at the end of b.
func ParsePlainEvent(b []byte) (Event, error) {
	end, bodyStart, _ := headerBlockEnd(b)
	return parsePlainEvent(b, string(b[:end]), bodyStart)
}

// parseOwnedPlainEvent is ParsePlainEvent of a body the caller hands
// over: b must never change again (the frame reader allocates each
// frame's body and drops it). The event's strings then point into b
// instead of into a copy of its header block: one allocation and one
// copy of a few kB less per event, on the adapter's hottest path (issue
// 12 item 14).
func parseOwnedPlainEvent(b []byte) (Event, error) {
	end, bodyStart, _ := headerBlockEnd(b)
	if end == 0 {
		return parsePlainEvent(b, "", bodyStart)
	}
	return parsePlainEvent(b, unsafe.String(&b[0], end), bodyStart)
}

// parsePlainEvent parses b, whose header lines are block and whose body
// starts at bodyStart.
func parsePlainEvent(b []byte, block string, bodyStart int) (Event, error) {
	ev, err := parseEventHeaders(block)
	if err != nil {
		return Event{}, err
	}
	if h := ev.lookup("Content-Length"); h != nil {
		cl := h.value
		n, err := strconv.Atoi(strings.TrimSpace(cl))
		if err != nil || n < 0 {
			return Event{}, fmt.Errorf("%w: Content-Length %q", ErrMalformedEvent, cl)
		}
		rest := b[bodyStart:]
		if n > len(rest) {
			return Event{}, fmt.Errorf("%w: body of %d bytes, Content-Length %d: %w", ErrMalformedEvent, len(rest), n, io.ErrUnexpectedEOF)
		}
		if n > 0 {
			ev.Body = bytes.Clone(rest[:n])
		}
	}
	return ev, nil
}

// parseEventHeaders parses an event's header lines as parseHeaderBlock
// does (the same lines accepted and refused, the same values), into an
// Event: keys stay slices of block, values too unless they had escapes,
// which are decoded into one arena.
func parseEventHeaders(block string) (Event, error) {
	ev := Event{hs: make([]eventHeader, 0, strings.Count(block, "\n")+1)}
	for pos := 0; pos < len(block); {
		var line string
		if nl := strings.IndexByte(block[pos:], '\n'); nl >= 0 {
			line, pos = block[pos:pos+nl], pos+nl+1
		} else {
			line, pos = block[pos:], len(block)
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(ev.hs) == 0 {
				return Event{}, fmt.Errorf("%w: header block starts with a continuation line %q", ErrMalformedEvent, eslClip(line))
			}
			if ok, _ := scanHeaderValue(line); !ok {
				return Event{}, fmt.Errorf("%w: header line %q", ErrMalformedEvent, eslClip(line))
			}
			h := &ev.hs[len(ev.hs)-1]
			h.value = strings.TrimLeft(h.value+" "+trimSpaceTab(line), " \t")
			h.enc = strings.IndexByte(h.value, '%') >= 0
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon < 0 {
			return Event{}, fmt.Errorf("%w: header line without a colon %q", ErrMalformedEvent, eslClip(line))
		}
		key, value := line[:colon], line[colon+1:]
		ok, enc := scanHeaderValue(value)
		if !ok || !validHeaderKey(key) {
			return Event{}, fmt.Errorf("%w: header line %q", ErrMalformedEvent, eslClip(line))
		}
		ev.hs = append(ev.hs, eventHeader{key: key, value: trimSpaceTab(value), enc: enc})
	}
	ev.index()
	arenaSize := 0
	for i := range ev.hs {
		if h := &ev.hs[i]; h.enc && !h.dup {
			arenaSize += len(h.value)
		}
	}
	if arenaSize == 0 {
		return ev, nil
	}
	// Decoding never lengthens a value, so the arena is never moved and
	// each value can point into it as soon as it is written.
	arena := make([]byte, 0, arenaSize)
	for i := range ev.hs {
		h := &ev.hs[i]
		if !h.enc || h.dup {
			continue
		}
		at := len(arena)
		var ok bool
		if arena, ok = appendUnescaped(arena, h.value); ok && len(arena) > at {
			h.value = unsafe.String(&arena[at], len(arena)-at)
		}
		h.enc = false
	}
	return ev, nil
}

// scanHeaderValue reports whether every byte of s may appear in a header
// value (validHeaderValue) and whether s holds a '%'. It tests eight
// bytes at a time for a control byte or DEL (a tab, allowed, sends it to
// the byte-wise test).
func scanHeaderValue(s string) (valid, pct bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		below := (x - 0x20*ones) &^ x & highs // a byte under 0x20
		del := x ^ 0x7f*ones
		del = (del - ones) &^ del & highs // a 0x7f byte
		if below|del != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false, false
		}
	}
	return true, strings.IndexByte(s, '%') >= 0
}

// validHeaderKey is keyNeedsCanon's valid: a key of token characters and
// spaces, not empty.
func validHeaderKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !tokenBytes[c] && c != ' ' {
			return false
		}
	}
	return true
}

// EventFromHeaders builds an Event from what eslgo's *eslgo.Event holds:
// its textproto.MIMEHeader, whose values are still URL-encoded, and its
// Body (kept, not copied; an empty body is nil). Values are decoded as
// ParsePlainEvent decodes them (url.PathUnescape: '+' stays '+', a value
// with a broken escape is kept as it came). The headers are in the order
// of their canonical keys (a map has none); the adapter no longer reads
// through eslgo, only BenchmarkESLStream's comparison and the fuzz tests'
// textproto reference do.
func EventFromHeaders(h map[string][]string, body []byte) Event {
	headers := make(map[string]string, len(h))
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		headers[k] = unescapeValue(vs[0])
	}
	if len(body) == 0 {
		body = nil
	}
	return NewEvent(headers, body)
}

// Frame is one ESL frame: its outer headers (Content-Type, Reply-Text,
// Content-Length…, with canonical keys and values as sent, not decoded)
// and its Content-Length body.
type Frame struct {
	Headers map[string]string
	Body    []byte
}

// SplitFrames splits a raw ESL byte stream, as recorded in
// esltest/testdata/scenario-plain.txt, into frames. Frames follow each other
// directly (the json format's bodies have no trailing newline); blank
// lines between frames are skipped. Bodies share b's memory. A truncated
// last frame gives the frames before it and an error wrapping
// io.ErrUnexpectedEOF.
func SplitFrames(b []byte) ([]Frame, error) {
	var frames []Frame
	pos := 0
	for {
		for pos < len(b) && (b[pos] == '\n' || b[pos] == '\r') {
			pos++
		}
		if pos >= len(b) {
			return frames, nil
		}
		rest := b[pos:]
		end, bodyStart, found := headerBlockEnd(rest)
		if !found {
			return frames, fmt.Errorf("%w: frame headers at byte %d are not terminated: %w", ErrMalformedEvent, pos, io.ErrUnexpectedEOF)
		}
		headers, err := parseHeaderBlock(string(rest[:end]), false)
		if err != nil {
			return frames, fmt.Errorf("frame at byte %d: %w", pos, err)
		}
		f := Frame{Headers: headers}
		pos += bodyStart
		if cl, ok := headers["Content-Length"]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(cl))
			if err != nil || n < 0 {
				return frames, fmt.Errorf("%w: frame at byte %d: Content-Length %q", ErrMalformedEvent, pos, cl)
			}
			if n > len(b)-pos {
				return frames, fmt.Errorf("%w: frame at byte %d: body of %d bytes, Content-Length %d: %w",
					ErrMalformedEvent, pos, len(b)-pos, n, io.ErrUnexpectedEOF)
			}
			f.Body = b[pos : pos+n : pos+n]
			pos += n
		}
		frames = append(frames, f)
	}
}

// headerBlockEnd finds the blank line that ends the header lines at the
// start of b: end is where the header lines stop and bodyStart where the
// body begins. Without a blank line (found false) both are len(b).
func headerBlockEnd(b []byte) (end, bodyStart int, found bool) {
	pos := 0
	for pos < len(b) {
		nl := bytes.IndexByte(b[pos:], '\n')
		if nl < 0 {
			break
		}
		line := b[pos : pos+nl]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return pos, pos + nl + 1, true
		}
		pos += nl + 1
	}
	return len(b), len(b), false
}

// rawHeader is one header line while a block is parsed: key and value
// are slices of the block, or of the arena once canonicalised or decoded.
type rawHeader struct {
	key, value string
	canon      bool // key must be canonicalised
	decode     bool // value holds a '%' to decode
}

// parseHeaderBlock parses header lines (no blank line among them) as
// textproto.ReadMIMEHeader does: "Key: value" with the value trimmed,
// continuation lines (starting with a space or tab) appended after a
// space, keys of token characters (a key with a space is accepted and
// kept as it is), values of visible characters, spaces and tabs. It
// canonicalises keys, keeps the first of repeated headers and, when
// decode is set, URL-decodes values.
//
// Canonical keys and decoded values are written into one arena, so that
// an event of 300 headers costs a handful of allocations, not 600.
func parseHeaderBlock(block string, decode bool) (map[string]string, error) {
	hs := make([]rawHeader, 0, strings.Count(block, "\n")+1)
	arenaSize := 0
	for line := range strings.Lines(block) {
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(hs) == 0 {
				return nil, fmt.Errorf("%w: header block starts with a continuation line %q", ErrMalformedEvent, eslClip(line))
			}
			if !validHeaderValue(line) {
				return nil, fmt.Errorf("%w: header line %q", ErrMalformedEvent, eslClip(line))
			}
			h := &hs[len(hs)-1]
			h.value = strings.TrimLeft(h.value+" "+trimSpaceTab(line), " \t")
			h.decode = decode && strings.IndexByte(h.value, '%') >= 0
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: header line without a colon %q", ErrMalformedEvent, eslClip(line))
		}
		canon, valid := keyNeedsCanon(key)
		if !valid || !validHeaderValue(value) {
			return nil, fmt.Errorf("%w: header line %q", ErrMalformedEvent, eslClip(line))
		}
		h := rawHeader{key: key, value: trimSpaceTab(value), canon: canon}
		h.decode = decode && strings.IndexByte(h.value, '%') >= 0
		hs = append(hs, h)
	}
	for i := range hs {
		if hs[i].canon {
			arenaSize += len(hs[i].key)
		}
		if hs[i].decode {
			arenaSize += len(hs[i].value)
		}
	}
	if arenaSize > 0 {
		// Pass 1 writes into the arena and records offsets; pass 2 slices
		// the arena's one string.
		type span struct{ keyAt, keyEnd, valAt, valEnd int }
		spans := make([]span, len(hs))
		arena := make([]byte, 0, arenaSize)
		for i := range hs {
			h := &hs[i]
			if h.canon {
				spans[i].keyAt = len(arena)
				arena = appendCanonicalKey(arena, h.key)
				spans[i].keyEnd = len(arena)
			}
			if h.decode {
				at := len(arena)
				var ok bool
				if arena, ok = appendUnescaped(arena, h.value); ok {
					spans[i].valAt, spans[i].valEnd = at, len(arena)
				} else {
					h.decode = false // a broken escape: the value is kept raw
				}
			}
		}
		s := string(arena)
		for i := range hs {
			if hs[i].canon {
				hs[i].key = s[spans[i].keyAt:spans[i].keyEnd]
			}
			if hs[i].decode {
				hs[i].value = s[spans[i].valAt:spans[i].valEnd]
			}
		}
	}
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		if _, dup := m[h.key]; !dup {
			m[h.key] = h.value
		}
	}
	return m, nil
}

// trimSpaceTab trims spaces and tabs at both ends.
func trimSpaceTab(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

// eslClip shortens a line quoted in an error.
func eslClip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// isTokenByte reports whether c may appear in a header key (RFC 7230
// tchar), as textproto's validHeaderFieldByte.
func isTokenByte(c byte) bool { return tokenBytes[c] }

var tokenBytes = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
	}
	return t
}()

// validHeaderValue reports whether every byte of s may appear in a header
// value: visible characters, space, tab and bytes of 0x80 and above (as
// textproto's validHeaderValueByte).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// keyNeedsCanon checks a header key as textproto does: valid is false for
// an empty key or one with a byte that is neither a token character nor a
// space; canon is whether the key must be rewritten into canonical form
// (never for a key with a space, which textproto keeps as it is).
func keyNeedsCanon(k string) (canon, valid bool) {
	if k == "" {
		return false, false
	}
	space := false
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == ' ':
			space = true
		case !isTokenByte(c):
			return false, false
		case upper && 'a' <= c && c <= 'z', !upper && 'A' <= c && c <= 'Z':
			canon = true
		}
		upper = c == '-'
	}
	if space {
		return false, true
	}
	return canon, true
}

// appendCanonicalKey appends k in canonical form: upper case first and
// after each '-', lower case elsewhere. k must be a valid key without a
// space.
func appendCanonicalKey(dst []byte, k string) []byte {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
		upper = c == '-'
	}
	return dst
}

// canonicalHeaderKey is textproto.CanonicalMIMEHeaderKey: k itself when it
// is already canonical or is not a valid key.
func canonicalHeaderKey(k string) string {
	canon, valid := keyNeedsCanon(k)
	if !valid || !canon {
		return k
	}
	return string(appendCanonicalKey(make([]byte, 0, len(k)), k))
}

// unescapeValue decodes %XX escapes as url.PathUnescape does ('+' stays
// '+'); a value with a broken escape is returned unchanged.
func unescapeValue(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b, ok := appendUnescaped(make([]byte, 0, len(s)), s)
	if !ok {
		return s
	}
	return string(b)
}

// appendUnescaped appends s with its %XX escapes decoded. On a broken
// escape ('%' not followed by two hex digits) it returns dst unchanged
// and false, as url.PathUnescape fails on it.
func appendUnescaped(dst []byte, s string) ([]byte, bool) {
	n := len(dst)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2]) {
			return dst[:n], false
		}
		dst = append(dst, unhexDigit(s[i+1])<<4|unhexDigit(s[i+2]))
		i += 2
	}
	return dst, true
}

func unhexDigit(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
