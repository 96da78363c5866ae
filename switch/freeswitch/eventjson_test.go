package freeswitch

import (
	"bytes"
	"encoding/json"
	"testing"
)

// marshalEvent is what eventJSON replaced: json.Marshal of the headers,
// the body under "_body".
func marshalEvent(e Event) []byte {
	m := map[string]string{}
	for k, v := range e.Headers {
		m[k] = v
	}
	if e.Body != nil {
		m["_body"] = string(e.Body)
	}
	b, _ := json.Marshal(m)
	return b
}

// TestEventJSONRecorded: every recorded event, as json.Marshal writes it.
func TestEventJSONRecorded(t *testing.T) {
	for i, ev := range eslScenario(t) {
		if got, want := eventJSON(ev), marshalEvent(ev); !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n%s\nwant\n%s", i, got, want)
		}
	}
}

func TestEventJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   Event
	}{
		{"empty", Event{Headers: map[string]string{}}},
		{"escapes", Event{Headers: map[string]string{"A": "\"\\\b\f\n\r\t\x00\x1f\x7f<>&", "B": "\u2028\u2029é€😀"}}},
		{"invalid UTF-8", Event{Headers: map[string]string{"A": "a\xffb\xc3", "\xfe": "x"}}},
		{"body", Event{Headers: map[string]string{"Event-Name": "BACKGROUND_JOB"}, Body: []byte("+OK <done>\n")}},
		{"body over a _body header", Event{Headers: map[string]string{"_body": "header"}, Body: []byte("body")}},
		{"_body header without a body", Event{Headers: map[string]string{"_body": "header"}}},
		{"empty body", Event{Headers: map[string]string{"A": "1"}, Body: []byte{}}},
	} {
		if got, want := eventJSON(tc.ev), marshalEvent(tc.ev); !bytes.Equal(got, want) {
			t.Errorf("%s:\n%s\nwant\n%s", tc.name, got, want)
		}
	}
}

// FuzzEventJSON: eventJSON writes what json.Marshal writes.
func FuzzEventJSON(f *testing.F) {
	f.Add("Event-Name", "CHANNEL_CREATE", "x", []byte(nil))
	f.Add("A", "\"<\u2028\xff>", "_body", []byte("+OK\n"))
	f.Fuzz(func(t *testing.T, k1, v1, k2 string, body []byte) {
		ev := Event{Headers: map[string]string{k1: v1, k2: v1 + k1}, Body: body}
		if got, want := eventJSON(ev), marshalEvent(ev); !bytes.Equal(got, want) {
			t.Fatalf("%q\n%s\nwant\n%s", ev, got, want)
		}
	})
}

func BenchmarkEventJSON(b *testing.B) {
	evs := eslScenario(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		eventJSON(evs[n%len(evs)])
		n++
	}
}
