package freeswitch

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
)

// liveShutdownNotice is what FreeSWITCH 1.10.12 sent a connected client
// on `reload mod_event_socket` (captured live), before closing.
const liveShutdownNotice = "Content-Type: text/disconnect-notice\nContent-Length: 31\n\nThe system is being shut down.\n"

func TestForwardFrames(t *testing.T) {
	plain := esltest.Recorded("scenario-plain.txt")
	long := "Content-Type: command/reply\nReply-Text: +OK " + strings.Repeat("x", 100<<10) + "\n\n"
	for _, tc := range []struct {
		name    string
		in      string
		want    string // what eslgo gets
		wantErr error
	}{
		{"recorded plain session", string(plain), string(plain), io.EOF},
		{"header line longer than the buffer", long, long, io.EOF},
		{"notice ends it, unforwarded", "Content-Type: auth/request\n\n" + liveShutdownNotice + "Content-Type: auth/request\n\n",
			"Content-Type: auth/request\n\n", ErrNodeDisconnected},
		{"notice after exit", "Content-Type: command/reply\nReply-Text: +OK bye\n\n" + string(esltest.Recorded("error-wrong-password.txt")),
			"Content-Type: command/reply\nReply-Text: +OK bye\n\nContent-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: -ERR invalid\n\n", ErrNodeDisconnected},
		{"truncated body", "Content-Type: api/response\nContent-Length: 10\n\nabc", "", io.ErrUnexpectedEOF},
		{"bad length", "Content-Type: api/response\nContent-Length: -1\n\n", "", nil},
	} {
		for _, slow := range []bool{false, true} {
			var src io.Reader = strings.NewReader(tc.in)
			if slow {
				src = iotest.OneByteReader(src)
			}
			var got bytes.Buffer
			err := forwardFrames(&got, src)
			switch {
			case tc.wantErr == nil && err == nil, tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("%s (one byte at a time %v): err %v, want %v", tc.name, slow, err, tc.wantErr)
			case got.String() != tc.want:
				t.Errorf("%s (one byte at a time %v): forwarded %.200q, want %.200q", tc.name, slow, got.String(), tc.want)
			}
		}
	}
}

// FuzzForwardFrames: whatever the node sends, eslgo gets a prefix of it.
func FuzzForwardFrames(f *testing.F) {
	f.Add([]byte(liveShutdownNotice))
	f.Add(esltest.Recorded("error-wrong-password.txt"))
	f.Add([]byte("Content-Type: api/response\nContent-Length: 3\n\n+OK"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var got bytes.Buffer
		_ = forwardFrames(&got, bytes.NewReader(in))
		if !bytes.HasPrefix(in, got.Bytes()) {
			t.Fatalf("forwarded %q, not a prefix of %q", got.Bytes(), in)
		}
	})
}
