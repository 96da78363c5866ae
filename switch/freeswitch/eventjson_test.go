package freeswitch

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"
)

// wantEventJSON is eventJSON written with encoding/json: each key
// (canonical) and value json.Marshal'ed, in the order of All, the body
// under "_body" (in the place of a header of that name, else last).
func wantEventJSON(e Event) []byte {
	b := []byte{'{'}
	add := func(k, v string) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(v)
		b = append(append(append(b, kb...), ':'), vb...)
	}
	body := e.Body != nil
	for k, v := range e.All() {
		ck := canonicalHeaderKey(k)
		if body && ck == "_body" {
			v, body = string(e.Body), false
		}
		add(ck, v)
	}
	if body {
		add("_body", string(e.Body))
	}
	return append(b, '}')
}

// TestEventJSONRecorded: every recorded event, its keys in the order the
// node sent them, each key and value as json.Marshal writes it; the
// object is the headers and the body.
func TestEventJSONRecorded(t *testing.T) {
	for i, ev := range eslScenario(t) {
		got := eventJSON(ev)
		if want := wantEventJSON(ev); !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n%s\nwant\n%s", i, got, want)
		}
		var obj map[string]string
		if err := json.Unmarshal(got, &obj); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		want := ev.Headers()
		if ev.Body != nil {
			want["_body"] = string(ev.Body)
		}
		if !maps.Equal(obj, want) {
			t.Fatalf("event %d: the object is not the event:\n%s", i, got)
		}
		// No key twice, and the node's order: Event-Name first (after
		// Event-Subclass in CUSTOM events), not the sorted one.
		if keys := jsonKeys(t, got); len(keys) != len(want) || keys[0] != "Event-Name" && keys[0] != "Event-Subclass" {
			t.Fatalf("event %d: keys %q", i, keys)
		}
	}
}

// jsonKeys lists the keys of a flat JSON object in their order.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestEventJSONOrder: the node's order, each key once with its first
// value, canonical, and the body last.
func TestEventJSONOrder(t *testing.T) {
	ev, err := ParsePlainEvent([]byte("Event-Name: BACKGROUND_JOB\nhangup-cause: A\nvariable_x: %3C1%3E\nHangup-Cause: B\nb: 2\nContent-Length: 3\n\n+OK"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Event-Name":"BACKGROUND_JOB","Hangup-Cause":"A","Variable_x":"\u003c1\u003e","B":"2","Content-Length":"3","_body":"+OK"}`
	if got := eventJSON(ev); string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestEventJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   Event
	}{
		{"empty", NewEvent(map[string]string{}, nil)},
		{"escapes", NewEvent(map[string]string{"A": "\"\\\b\f\n\r\t\x00\x1f\x7f<>&", "B": "\u2028\u2029é€😀"}, nil)},
		{"invalid UTF-8", NewEvent(map[string]string{"A": "a\xffb\xc3", "\xfe": "x"}, nil)},
		{"body", NewEvent(map[string]string{"Event-Name": "BACKGROUND_JOB"}, []byte("+OK <done>\n"))},
		{"body over a _body header", NewEvent(map[string]string{"_body": "header"}, []byte("body"))},
		{"_body header without a body", NewEvent(map[string]string{"_body": "header"}, nil)},
		{"empty body", NewEvent(map[string]string{"A": "1"}, []byte{})},
	} {
		if got, want := eventJSON(tc.ev), wantEventJSON(tc.ev); !bytes.Equal(got, want) {
			t.Errorf("%s:\n%s\nwant\n%s", tc.name, got, want)
		}
	}
}

// FuzzEventJSON: eventJSON writes each key and value as json.Marshal
// writes them.
func FuzzEventJSON(f *testing.F) {
	f.Add("Event-Name", "CHANNEL_CREATE", "x", []byte(nil))
	f.Add("A", "\"<\u2028\xff>", "_body", []byte("+OK\n"))
	f.Fuzz(func(t *testing.T, k1, v1, k2 string, body []byte) {
		ev := NewEvent(map[string]string{k1: v1, k2: v1 + k1}, body)
		if got, want := eventJSON(ev), wantEventJSON(ev); !bytes.Equal(got, want) {
			t.Fatalf("%q\n%s\nwant\n%s", ev.Headers(), got, want)
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
