package freeswitch

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// eslFuzzSeeds are event bodies from the recording: a small one, a
// register event, a hangup with 218 variables and the BACKGROUND_JOB.
func eslFuzzSeeds(f *testing.F) [][]byte {
	bodies, err := eslScenarioBodies()
	if err != nil {
		f.Fatal(err)
	}
	var seeds [][]byte
	for _, b := range bodies {
		switch {
		case len(seeds) == 0,
			bytes.Contains(b, []byte("sofia%3A%3Aregister\n")) && len(seeds) < 3,
			bytes.Contains(b, []byte("Event-Name: BACKGROUND_JOB")),
			bytes.Contains(b, []byte("Event-Sequence: 529\n")):
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzParsePlainEvent: never a panic; an error wraps ErrMalformedEvent;
// parseOwnedPlainEvent (the connection's, without a copy) reads the same;
// whatever eslgo's textproto reader accepts, ParsePlainEvent accepts and
// reads the same.
func FuzzParsePlainEvent(f *testing.F) {
	for _, s := range eslFuzzSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte("A: %2B1\nA: 2\n b\nContent-Length: 3\n\nxyz"))
	f.Add([]byte("odd key: %zz\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParsePlainEvent(b)
		if err != nil && !errors.Is(err, ErrMalformedEvent) {
			t.Fatalf("error does not wrap ErrMalformedEvent: %v", err)
		}
		owned, oerr := parseOwnedPlainEvent(bytes.Clone(b))
		if (oerr == nil) != (err == nil) || err == nil && !sameEvent(owned, ev) {
			t.Fatalf("parseOwnedPlainEvent %q %v\nParsePlainEvent     %q %v", owned.Headers(), oerr, ev.Headers(), err)
		}
		want, terr := textprotoEvent(b)
		if terr != nil {
			return
		}
		if err != nil {
			t.Fatalf("textproto accepts what ParsePlainEvent refuses: %v", err)
		}
		if !sameEvent(ev, want) {
			t.Fatalf("ParsePlainEvent %q %q\ntextproto       %q %q", ev.Headers(), ev.Body, want.Headers(), want.Body)
		}
		// Every header textproto read is found by its canonical key and
		// in another case, and the CDR's Raw is that event.
		for k, v := range want.Headers() {
			if got := ev.Get(k); got != v || !ev.Has(k) {
				t.Fatalf("Get(%q) = %q, want %q", k, got, v)
			}
			if !strings.Contains(k, " ") {
				if got := ev.Get(strings.ToLower(k)); got != v {
					t.Fatalf("Get(%q) = %q, want %q", strings.ToLower(k), got, v)
				}
			}
		}
		if ev.Len() != len(want.Headers()) {
			t.Fatalf("%d headers, textproto %d", ev.Len(), len(want.Headers()))
		}
		if got, wantJSON := eventJSON(ev), wantEventJSON(ev); !bytes.Equal(got, wantJSON) {
			t.Fatalf("eventJSON %s\nwant      %s", got, wantJSON)
		}
	})
}

// FuzzSplitFrames: never a panic; the frames returned cover no more than
// the input; an error wraps ErrMalformedEvent.
func FuzzSplitFrames(f *testing.F) {
	f.Add(eslFile(f, "error-wrong-password.txt"))
	f.Add(eslFile(f, "bgapi-status-reply.txt"))
	f.Add(eslFile(f, "api-sofia-xmlstatus-gateway.txt"))
	f.Add([]byte("Content-Length: 2\n\n{}Content-Length: 1\n\nx\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, err := SplitFrames(b)
		if err != nil && !errors.Is(err, ErrMalformedEvent) {
			t.Fatalf("error does not wrap ErrMalformedEvent: %v", err)
		}
		total := 0
		for _, fr := range frames {
			if fr.Headers == nil {
				t.Fatal("frame without headers")
			}
			total += len(fr.Body)
		}
		if total > len(b) {
			t.Fatalf("bodies of %d bytes from %d", total, len(b))
		}
	})
}
