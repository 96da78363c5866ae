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

// readAllFrames reads frames until the reader fails.
func readAllFrames(r io.Reader) ([]eslFrame, error) {
	fr := newFrameReader(r)
	var out []eslFrame
	for {
		f, err := fr.next()
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

// frameString renders frames for comparison: type, reply and body.
func frameString(fs []eslFrame) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.contentType + "|" + f.replyText + "|" + string(f.body) + "\n")
	}
	return b.String()
}

func TestFrameReader(t *testing.T) {
	plain := esltest.Recorded("scenario-plain.txt")
	split, err := SplitFrames(plain)
	if err != nil {
		t.Fatal(err)
	}
	var plainFrames []eslFrame
	for _, f := range split {
		plainFrames = append(plainFrames, eslFrame{contentType: f.Headers["Content-Type"], replyText: f.Headers["Reply-Text"], body: f.Body})
	}
	long := "+OK " + strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		name    string
		in      string
		want    []eslFrame
		wantErr error
	}{
		{"recorded plain session", string(plain), plainFrames, io.EOF},
		{"header line longer than the buffer", "Content-Type: command/reply\nReply-Text: " + long + "\n\n",
			[]eslFrame{{contentType: ctCommandReply, replyText: long}}, io.EOF},
		{"disconnect notice", "Content-Type: auth/request\n\n" + liveShutdownNotice,
			[]eslFrame{{contentType: ctAuthRequest}, {contentType: ctDisconnect, body: []byte("The system is being shut down.\n")}}, io.EOF},
		{"refused login", string(esltest.Recorded("error-wrong-password.txt")), []eslFrame{{contentType: ctAuthRequest},
			{contentType: ctCommandReply, replyText: "-ERR invalid"},
			{contentType: ctDisconnect, body: []byte("Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")}}, io.EOF},
		{"CRLF and blank lines between frames", "\r\n\nContent-Type: command/reply\r\nReply-Text: +OK\r\n\r\n\n",
			[]eslFrame{{contentType: ctCommandReply, replyText: "+OK"}}, io.EOF},
		{"first of repeated headers", "Content-Type: api/response\nContent-Length: 2\nContent-Type: x\nContent-Length: 3\n\nokz",
			[]eslFrame{{contentType: ctAPIResponse, body: []byte("ok")}}, io.ErrUnexpectedEOF},
		{"truncated body", "Content-Type: api/response\nContent-Length: 10\n\nabc", nil, io.ErrUnexpectedEOF},
		{"truncated headers", "Content-Type: api/response\nContent-Len", nil, io.ErrUnexpectedEOF},
		{"headers without their blank line", "Content-Type: api/response\n", nil, io.ErrUnexpectedEOF},
		{"negative length", "Content-Type: api/response\nContent-Length: -1\n\n", nil, ErrMalformedEvent},
		{"length beyond the bound", "Content-Type: api/response\nContent-Length: 99999999999\n\n", nil, ErrMalformedEvent},
	} {
		for _, slow := range []bool{false, true} {
			var src io.Reader = strings.NewReader(tc.in)
			if slow {
				src = iotest.OneByteReader(src)
			}
			got, err := readAllFrames(src)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s (one byte at a time %v): err %v, want %v", tc.name, slow, err, tc.wantErr)
			}
			if g, w := frameString(got), frameString(tc.want); g != w {
				t.Errorf("%s (one byte at a time %v): frames\n%.300q\nwant\n%.300q", tc.name, slow, g, w)
			}
		}
	}
}

// FuzzFrameReader: never a panic; an error is a read error or wraps
// ErrMalformedEvent; the bodies read come from the input; wherever
// SplitFrames reads the input (no CR, no folded line), the reader reads
// the same frames.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte(liveShutdownNotice))
	f.Add(esltest.Recorded("error-wrong-password.txt"))
	f.Add(esltest.Recorded("bgapi-status-reply.txt"))
	f.Add([]byte("Content-Type: api/response\nContent-Length: 3\n\n+OK"))
	f.Add([]byte("Content-Length: 2\n\n{}Content-Length: 1\n\nx\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := readAllFrames(bytes.NewReader(in))
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformedEvent) {
			t.Fatalf("error %v", err)
		}
		total := 0
		for _, fr := range got {
			total += len(fr.body)
			if !bytes.Contains(in, fr.body) {
				t.Fatalf("body %q is not in the input", fr.body)
			}
		}
		if total > len(in) {
			t.Fatalf("bodies of %d bytes from %d", total, len(in))
		}
		if bytes.IndexByte(in, '\r') >= 0 || bytes.Contains(in, []byte("\n ")) || bytes.Contains(in, []byte("\n\t")) {
			// SplitFrames skips a lone CR between frames and unfolds
			// continuation lines as textproto does; the reader does
			// neither (FreeSWITCH writes no such envelope).
			return
		}
		split, serr := SplitFrames(in)
		if serr != nil {
			return
		}
		var want []eslFrame
		for _, s := range split {
			want = append(want, eslFrame{contentType: s.Headers["Content-Type"], replyText: s.Headers["Reply-Text"], body: s.Body})
		}
		if !errors.Is(err, io.EOF) {
			t.Fatalf("SplitFrames reads %d frames, the reader fails after %d: %v", len(split), len(got), err)
		}
		if g, w := frameString(got), frameString(want); g != w {
			t.Fatalf("reader %q\nSplitFrames %q", g, w)
		}
	})
}
