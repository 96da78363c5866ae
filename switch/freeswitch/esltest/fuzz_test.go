package esltest

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadCommand feeds the command reader what a client might send.
func FuzzReadCommand(f *testing.F) {
	for _, seed := range []string{"auth ClueCon\n\n", "\r\n\r\napi status\r\n\r\n", "bgapi status\nJob-UUID: x\n\n",
		"sendevent CUSTOM\nContent-Length: 3\n\nabc", "event plain ALL", "x\nContent-Length: -5\n\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		for range 100 {
			cmd, _, err := readCommand(br)
			if err != nil {
				return
			}
			if cmd == "" {
				t.Fatal("empty command")
			}
		}
	})
}

// FuzzParseEvent checks that what parses serialises to something that
// parses again, with the same headers.
func FuzzParseEvent(f *testing.F) {
	for _, b := range ScenarioEvents()[280:290] {
		f.Add(b)
	}
	f.Add([]byte("Event-Name: X\nContent-Length: 2\n\nab"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseEvent(b)
		if err != nil {
			return
		}
		e2, err := parseEvent(e.plain())
		if err != nil {
			t.Fatalf("%q serialised as %q: %v", b, e.plain(), err)
		}
		if len(e2.headers) != len(e.headers) || !bytes.Equal(e2.body, e.body) {
			t.Fatalf("%q: round trip %v → %v", b, e.headers, e2.headers)
		}
		_ = e.json()
	})
}
