package freeswitch

import (
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// eventJSON is the event as one JSON object of its headers (sorted), with
// the body, when there is one, under "_body" as in FreeSWITCH's json event
// format: the Raw of the CDRs made from events.
//
// It writes exactly what json.Marshal of the headers map writes (sorted
// keys, HTML-safe escapes, invalid UTF-8 as U+FFFD; FuzzEventJSON), at a
// fraction of the cost: json.Marshal went through reflection and sorted
// through an interface, about a tenth of the adapter's CPU per event
// (issue 12 item 14).
func eventJSON(e Event) json.RawMessage {
	keys := make([]string, 0, len(e.Headers)+1)
	size := 2
	for k, v := range e.Headers {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	_, shadowed := e.Headers["_body"]
	if e.Body != nil && !shadowed {
		keys = append(keys, "_body")
		size += len(e.Body) + 12
	}
	slices.Sort(keys)
	b := make([]byte, 0, size+size/16)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		if k == "_body" && e.Body != nil {
			b = appendJSONString(b, string(e.Body))
		} else {
			b = appendJSONString(b, e.Headers[k])
		}
	}
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes a string (with
// HTML escaping, its default).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonSafe are the ASCII bytes encoding/json writes as they are.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
