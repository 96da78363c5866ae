package esltest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// frame is one ESL frame as it travels on the socket: a header block
// ("Name: value" lines, then a blank line) and, when the headers carry
// Content-Length, that many bytes of body.
type frame struct {
	headers []header
	body    []byte
}

func (f frame) get(name string) string {
	for _, h := range f.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// splitFrames cuts a recorded ESL byte stream into its frames.
func splitFrames(b []byte) ([]frame, error) {
	var out []frame
	for len(b) > 0 {
		head, rest, ok := bytes.Cut(b, []byte("\n\n"))
		if !ok {
			return nil, errors.New("esltest: frame without end of headers")
		}
		f := frame{}
		for _, l := range strings.Split(string(head), "\n") {
			name, value, ok := strings.Cut(l, ": ")
			if !ok {
				return nil, fmt.Errorf("esltest: bad header line %q", l)
			}
			f.headers = append(f.headers, header{name, value})
		}
		b = rest
		if cl := f.get("Content-Length"); cl != "" {
			n, err := strconv.Atoi(cl)
			if err != nil || n < 0 || n > len(b) {
				return nil, fmt.Errorf("esltest: bad Content-Length %q", cl)
			}
			f.body, b = b[:n], b[n:]
		}
		out = append(out, f)
	}
	return out, nil
}

// header is one event header; value is decoded (not URL-encoded).
type header struct{ name, value string }

// event is a FreeSWITCH event: its headers in order, duplicates kept (a
// CHANNEL_HANGUP_COMPLETE carries Hangup-Cause twice), and an optional
// body (BACKGROUND_JOB's result).
type event struct {
	headers []header
	body    []byte
	hasBody bool
}

// parseEvent reads the body of a text/event-plain frame: URL-encoded
// header lines, a blank line, and when the headers end with
// Content-Length, the event's own body.
func parseEvent(b []byte) (*event, error) {
	e := &event{}
	rest := b
	for {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			line, after = rest, nil
		}
		rest = after
		if len(line) == 0 {
			break
		}
		name, value, ok := strings.Cut(string(line), ": ")
		if !ok {
			return nil, fmt.Errorf("esltest: bad event header %q", line)
		}
		if name == "Content-Length" {
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("esltest: bad event Content-Length %q", value)
			}
			// The blank line before the body is still to come.
			_, after, _ := bytes.Cut(rest, []byte("\n"))
			if n > len(after) {
				return nil, errors.New("esltest: event body shorter than its Content-Length")
			}
			e.body, e.hasBody = append([]byte(nil), after[:n]...), true
			return e, nil
		}
		e.headers = append(e.headers, header{name, urlDecode(value)})
		if !ok {
			break
		}
	}
	if len(e.headers) == 0 {
		return nil, errors.New("esltest: empty event")
	}
	return e, nil
}

func mustEvent(b []byte) *event {
	e, err := parseEvent(b)
	if err != nil {
		panic(err)
	}
	return e
}

// get returns the first header named name, compared without case as
// FreeSWITCH's switch_event_get_header does.
func (e *event) get(name string) string {
	for _, h := range e.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

func (e *event) has(name string) bool {
	for _, h := range e.headers {
		if strings.EqualFold(h.name, name) {
			return true
		}
	}
	return false
}

// set replaces the first header named name, or appends one.
func (e *event) set(name, value string) {
	for i := range e.headers {
		if strings.EqualFold(e.headers[i].name, name) {
			e.headers[i].value = value
			return
		}
	}
	e.headers = append(e.headers, header{name, value})
}

// del removes every header named name.
func (e *event) del(name string) {
	out := e.headers[:0]
	for _, h := range e.headers {
		if !strings.EqualFold(h.name, name) {
			out = append(out, h)
		}
	}
	e.headers = out
}

func (e *event) setBody(b []byte) {
	e.body, e.hasBody = append([]byte(nil), b...), true
}

func (e *event) clone() *event {
	c := &event{headers: append([]header(nil), e.headers...), hasBody: e.hasBody}
	if e.hasBody {
		c.body = append([]byte(nil), e.body...)
	}
	return c
}

func (e *event) name() string     { return e.get("Event-Name") }
func (e *event) subclass() string { return e.get("Event-Subclass") }

// plain serialises the event as switch_event_serialize does for the plain
// format: "Name: url-encoded value" lines, then "Content-Length: n", a
// blank line and the body when there is one, else a blank line.
func (e *event) plain() []byte {
	var b bytes.Buffer
	for _, h := range e.headers {
		b.WriteString(h.name)
		b.WriteString(": ")
		b.WriteString(urlEncode(h.value))
		b.WriteByte('\n')
	}
	if e.hasBody {
		fmt.Fprintf(&b, "Content-Length: %d\n\n", len(e.body))
		b.Write(e.body)
	} else {
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// json serialises the event as the json format does: one flat object,
// values not encoded, duplicate headers kept, array values
// ("ARRAY::a|:b") as JSON arrays, the body as "_body" after a
// "Content-Length" member.
func (e *event) json() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, h := range e.headers {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, h.name)
		b.WriteByte(':')
		if items, ok := strings.CutPrefix(h.value, "ARRAY::"); ok {
			b.WriteByte('[')
			for j, item := range strings.Split(items, "|:") {
				if j > 0 {
					b.WriteByte(',')
				}
				writeJSONString(&b, item)
			}
			b.WriteByte(']')
			continue
		}
		writeJSONString(&b, h.value)
	}
	if e.hasBody {
		fmt.Fprintf(&b, `,"Content-Length":"%d","_body":`, len(e.body))
		writeJSONString(&b, string(e.body))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// urlUnsafe are the characters switch_url_encode escapes besides control
// characters and bytes above '~'. The comma is not one of them, hence
// "Wed,%2025%20Nov" in the recordings.
const urlUnsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"

// urlEncode encodes v as switch_url_encode does. An existing %XX escape is
// kept as it is (FreeSWITCH does not double-encode).
func urlEncode(v string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			b.WriteByte(c)
			continue
		}
		if c < ' ' || c > '~' || strings.IndexByte(urlUnsafe, c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// urlDecode decodes %XX escapes; anything else, '+' included, is kept.
func urlDecode(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			b.WriteByte(unhex(v[i+1])<<4 | unhex(v[i+2]))
			i += 2
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// writeJSONString writes s as cJSON prints strings: quotes, backslashes
// and control characters escaped, everything else (slashes, non-ASCII)
// as is.
func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < ' ' {
				fmt.Fprintf(b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

func jsonString(s string) string {
	var b bytes.Buffer
	writeJSONString(&b, s)
	return b.String()
}

// eventNames are FreeSWITCH 1.10's event type names (switch_event.c
// EVENT_NAMES), which the event command accepts.
var eventNames = []string{"CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE",
	"CHANNEL_CALLSTATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
	"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
	"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK",
	"CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN",
	"STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD",
	"MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE",
	"MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH",
	"DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE",
	"RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE",
	"RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND", "SESSION_HEARTBEAT",
	"CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO", "RECV_RTCP_MESSAGE",
	"SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START", "RECORD_STOP", "PLAYBACK_START",
	"PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP",
	"CONFERENCE_DATA_QUERY", "CONFERENCE_DATA", "CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL",
	"DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED", "ALL"}

// eventType names an event type as switch_name_event does: without case,
// with or without the SWITCH_EVENT_ prefix. It returns "" for an unknown
// name.
func eventType(s string) string {
	if len(s) > 13 && strings.EqualFold(s[:13], "SWITCH_EVENT_") {
		s = s[13:]
	}
	for _, n := range eventNames {
		if strings.EqualFold(n, s) {
			return n
		}
	}
	return ""
}
