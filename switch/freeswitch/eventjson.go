package freeswitch

import (
	"encoding/json"
	"unicode/utf8"
)

// eventJSON is the event as one JSON object of its headers, in the
// order the node sent them (each key once, canonical as
// textproto.CanonicalMIMEHeaderKey writes it, its first value), with the
// body, when there is one, under "_body" as in FreeSWITCH's json event
// format (last, or in the place of a header of that name): the Raw of the
// CDRs made from events.
//
// Strings are escaped as json.Marshal escapes them (HTML-safe escapes,
// invalid UTF-8 as U+FFFD; FuzzEventJSON). Until issue 12 item 14 the
// keys were sorted, as json.Marshal of a map sorts them: sorting ~250
// keys per CDR was a tenth of the adapter's CPU, and the switch's own
// order is the better record of what it sent. Readers never depended on
// the order (the store keeps Raw as JSON text; every consumer decodes
// it).
func eventJSON(e Event) json.RawMessage {
	size := 2
	for _, h := range e.hs {
		size += len(h.key) + len(h.value) + 6
	}
	body := e.Body != nil
	if body {
		size += len(e.Body) + 12
	}
	b := make([]byte, 0, size+size/16)
	b = append(b, '{')
	first := true
	for _, h := range e.hs {
		if h.dup {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONKey(b, h.key)
		b = append(b, ':')
		if body && sameKey(h.key, "_body") {
			b, body = appendJSONString(b, string(e.Body)), false
		} else {
			b = appendJSONString(b, h.value)
		}
	}
	if body {
		if !first {
			b = append(b, ',')
		}
		b = append(b, `"_body":`...)
		b = appendJSONString(b, string(e.Body))
	}
	return append(b, '}')
}

// appendJSONKey appends a header key, canonical, as a JSON string, in
// one pass: a key of token characters needs no escape but for '&'; any
// other key takes canonicalHeaderKey and appendJSONString.
func appendJSONKey(dst []byte, k string) []byte {
	start := len(dst)
	dst = append(append(dst, '"'), k...)
	key := dst[start+1:]
	upper := true
	for i, c := range key {
		if !tokenBytes[c] || c == '&' {
			return appendJSONString(dst[:start], canonicalHeaderKey(k))
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
			key[i] = c
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
			key[i] = c
		}
		upper = c == '-'
	}
	return append(dst, '"')
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
