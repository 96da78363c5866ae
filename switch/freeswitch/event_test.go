package freeswitch

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
)

// eslFile returns a recording of FreeSWITCH's event socket (esltest's
// testdata, where the fake serves it from).
func eslFile(_ testing.TB, name string) []byte { return esltest.Recorded(name) }

// eslReplyBody returns the body of a recorded reply frame (api-*.txt).
func eslReplyBody(t testing.TB, name string) []byte {
	t.Helper()
	frames, err := SplitFrames(eslFile(t, name))
	if err != nil || len(frames) == 0 {
		t.Fatalf("%s: %d frames, %v", name, len(frames), err)
	}
	return frames[0].Body
}

// eslScenarioBodies are the bodies of the text/event-plain frames of the
// recorded scenario, read once.
var eslScenarioBodies = sync.OnceValues(func() ([][]byte, error) {
	frames, err := SplitFrames(esltest.Recorded("scenario-plain.txt"))
	if err != nil {
		return nil, err
	}
	var bodies [][]byte
	for _, f := range frames {
		if f.Headers["Content-Type"] == "text/event-plain" {
			bodies = append(bodies, f.Body)
		}
	}
	return bodies, nil
})

// eslScenario returns the recorded events, parsed.
func eslScenario(t testing.TB) []Event {
	t.Helper()
	bodies, err := eslScenarioBodies()
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]Event, 0, len(bodies))
	for i, b := range bodies {
		ev, err := ParsePlainEvent(b)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// textprotoEvent parses an event body as eslgo does (textproto's
// ReadMIMEHeader, then the Content-Length body) and maps it with
// EventFromHeaders, as the adapter does with eslgo's events.
func textprotoEvent(b []byte) (Event, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	h, err := textproto.NewReader(r).ReadMIMEHeader()
	if err != nil {
		return Event{}, err
	}
	var body []byte
	if cl := h.Get("Content-Length"); cl != "" {
		n := 0
		for _, c := range []byte(cl) {
			if c < '0' || c > '9' || n > 1<<20 {
				return Event{}, errors.New("bad Content-Length")
			}
			n = n*10 + int(c-'0')
		}
		body = make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return Event{}, err
		}
	}
	return EventFromHeaders(h, body), nil
}

func sameEvent(a, b Event) bool {
	return maps.Equal(a.Headers(), b.Headers()) && bytes.Equal(a.Body, b.Body) && (a.Body == nil) == (b.Body == nil)
}

// TestSplitFramesScenario: the recording is the auth request, two command
// replies and 326 events, and splitting loses no byte.
func TestSplitFramesScenario(t *testing.T) {
	raw := eslFile(t, "scenario-plain.txt")
	frames, err := SplitFrames(raw)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	size := 0
	for _, f := range frames {
		counts[f.Headers["Content-Type"]]++
		size += len(f.Body)
	}
	want := map[string]int{"auth/request": 1, "command/reply": 2, "text/event-plain": 326}
	if !maps.Equal(counts, want) {
		t.Errorf("frames by type %v, want %v", counts, want)
	}
	if frames[2].Headers["Reply-Text"] != "+OK event listener enabled plain" {
		t.Errorf("third frame %v", frames[2].Headers)
	}
	if size >= len(raw) || size < len(raw)*9/10 {
		t.Errorf("bodies hold %d of %d bytes", size, len(raw))
	}
}

func TestSplitFrames(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		types   []string
		bodies  []string
		wantErr error
	}{
		{
			name:   "wrong password session",
			in:     string(eslFile(t, "error-wrong-password.txt")),
			types:  []string{"auth/request", "command/reply", "text/disconnect-notice"},
			bodies: []string{"", "", "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"},
		},
		{
			name:   "json bodies without trailing newline, frames back to back",
			in:     "Content-Length: 2\nContent-Type: text/event-json\n\n{}Content-Length: 3\nContent-Type: text/event-json\n\n[1]",
			types:  []string{"text/event-json", "text/event-json"},
			bodies: []string{"{}", "[1]"},
		},
		{
			name:   "CRLF and blank lines between frames",
			in:     "\r\nContent-Type: command/reply\r\nReply-Text: +OK\r\n\r\n\n\nContent-Type: api/response\nContent-Length: 4\n\n+OK\n",
			types:  []string{"command/reply", "api/response"},
			bodies: []string{"", "+OK\n"},
		},
		{name: "empty", in: ""},
		{
			name:    "truncated body",
			in:      "Content-Type: command/reply\n\nContent-Type: api/response\nContent-Length: 10\n\n+OK",
			types:   []string{"command/reply"},
			bodies:  []string{""},
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "unterminated headers",
			in:      "Content-Type: api/response\nContent-Length: 1",
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "bad Content-Length",
			in:      "Content-Type: api/response\nContent-Length: -1\n\n",
			wantErr: ErrMalformedEvent,
		},
		{
			name:    "line without colon",
			in:      "Content-Type api/response\n\n",
			wantErr: ErrMalformedEvent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames, err := SplitFrames([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(frames) != len(tt.types) {
				t.Fatalf("%d frames, want %d", len(frames), len(tt.types))
			}
			for i, f := range frames {
				if f.Headers["Content-Type"] != tt.types[i] || string(f.Body) != tt.bodies[i] {
					t.Errorf("frame %d: %v %q, want %s %q", i, f.Headers, f.Body, tt.types[i], tt.bodies[i])
				}
			}
		})
	}
}

// TestParsePlainEventRecorded: every recorded event parses as eslgo's
// textproto reader plus EventFromHeaders parses it.
func TestParsePlainEventRecorded(t *testing.T) {
	bodies, err := eslScenarioBodies()
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bodies {
		got, err := ParsePlainEvent(b)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		want, err := textprotoEvent(b)
		if err != nil {
			t.Fatalf("event %d: textproto: %v", i, err)
		}
		if !sameEvent(got, want) {
			t.Fatalf("event %d (%s): ParsePlainEvent and textproto+EventFromHeaders differ", i, got.Name())
		}
	}
}

// TestParsePlainEventQuirks covers what the recordings show of the plain
// format.
func TestParsePlainEventQuirks(t *testing.T) {
	evs := eslScenario(t)
	bySeq := map[uint64]Event{}
	for _, ev := range evs {
		bySeq[ev.Seq()] = ev
	}

	api := evs[0]
	if api.Name() != "API" || api.Seq() != 424 || api.Get("api-command") != "status" {
		t.Errorf("first event %s %d %q", api.Name(), api.Seq(), api.Get("API-Command"))
	}
	if got := api.Time(); !got.Equal(time.Date(2026, 11, 25, 12, 39, 48, 88000000, time.UTC)) || got.Location() != time.UTC {
		t.Errorf("time %v", got)
	}
	// Values are URL-decoded, commas were never encoded.
	if got := api.Get("Event-Date-GMT"); got != "Wed, 25 Nov 2026 12:39:48 GMT" {
		t.Errorf("Event-Date-GMT %q", got)
	}
	if got := api.Get("FreeSWITCH-IPv6"); got != "fd00::2" {
		t.Errorf("FreeSWITCH-IPv6 %q", got)
	}
	if _, ok := api.Headers()["Freeswitch-Ipv6"]; !ok {
		t.Errorf("keys are not canonical: %v", slices.Sorted(maps.Keys(api.Headers())))
	}

	reg := bySeq[448]
	if reg.Name() != "CUSTOM" || reg.Subclass() != "sofia::register" {
		t.Errorf("seq 448: %s %s", reg.Name(), reg.Subclass())
	}
	if got := reg.Get("contact"); got != `"" <sip:1001@127.0.0.1:25001;transport=UDP>` {
		t.Errorf("contact %q", got)
	}
	if got := reg.Get("toll_allow"); got != "domestic,international,local" {
		t.Errorf("toll_allow %q", got)
	}

	hc := bySeq[529]
	if hc.Name() != "CHANNEL_HANGUP_COMPLETE" || hc.Get("Hangup-Cause") != "NORMAL_CLEARING" {
		t.Errorf("seq 529: %s %q", hc.Name(), hc.Get("Hangup-Cause"))
	}
	for name, want := range map[string]string{
		"variable_sip_user_agent": "sipp-phone-1001",
		"Variable_Sip_User_Agent": "sipp-phone-1001",
		"Caller-Caller-ID-Name":   "Phone 1001",
		"variable_DIALSTATUS":     "SUCCESS",
		"variable_Event-Name":     "REQUEST_PARAMS",
		"variable_switch_r_sdp":   "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n",
		"no-such-header":          "",
	} {
		if got := hc.Get(name); got != want {
			t.Errorf("Get(%q) = %q, want %q", name, got, want)
		}
	}

	// BACKGROUND_JOB: the event's own Content-Length body.
	var job Event
	for _, ev := range evs {
		if ev.Name() == "BACKGROUND_JOB" {
			job = ev
		}
	}
	if job.Get("Job-UUID") != "8a865062-ec6a-4a39-9f0a-aeba0ed0881d" || len(job.Body) != 367 ||
		!bytes.HasPrefix(job.Body, []byte("UP 0 years")) {
		t.Errorf("BACKGROUND_JOB %q body %q", job.Get("Job-UUID"), job.Body)
	}
}

func TestParsePlainEvent(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		headers map[string]string
		body    string
		wantErr error
	}{{
		name:    "decoding: + stays, broken escape kept raw, first of repeated, trimmed",
		in:      "Event-Name: CUSTOM\nA: %2B33%20(0)1+2\nB: 100%\nC: %zz ok\nD:   x  \nd: second\nE:\n\n",
		headers: map[string]string{"Event-Name": "CUSTOM", "A": "+33 (0)1+2", "B": "100%", "C": "%zz ok", "D": "x", "E": ""},
	}, {
		name:    "CRLF lines, no final blank line",
		in:      "Event-Name: HEARTBEAT\r\nUp-Time: 0%20years",
		headers: map[string]string{"Event-Name": "HEARTBEAT", "Up-Time": "0 years"},
	}, {
		name:    "continuation line",
		in:      "Event-Name: X\nLong: a\n  b\n\n",
		headers: map[string]string{"Event-Name": "X", "Long": "a b"},
	}, {
		name:    "key with a space is kept as it is",
		in:      "odd key: v\n\n",
		headers: map[string]string{"odd key": "v"},
	}, {
		name:    "body",
		in:      "Event-Name: BACKGROUND_JOB\nContent-Length: 5\n\n+OK\nXtrailing",
		headers: map[string]string{"Event-Name": "BACKGROUND_JOB", "Content-Length": "5"},
		body:    "+OK\nX",
	}, {
		name:    "empty body",
		in:      "Event-Name: LOG\nContent-Length: 0\n\n",
		headers: map[string]string{"Event-Name": "LOG", "Content-Length": "0"},
	}, {
		name: "empty", in: "", headers: map[string]string{},
	}, {
		name: "short body", in: "Content-Length: 9\n\n+OK", wantErr: io.ErrUnexpectedEOF,
	}, {
		name: "bad Content-Length", in: "Content-Length: x\n\n", wantErr: ErrMalformedEvent,
	}, {
		name: "no colon", in: "Event-Name CUSTOM\n\n", wantErr: ErrMalformedEvent,
	}, {
		name: "empty key", in: ": v\n\n", wantErr: ErrMalformedEvent,
	}, {
		name: "bad key byte", in: "Ev\"ent: v\n\n", wantErr: ErrMalformedEvent,
	}, {
		name: "control byte in value", in: "A: x\x00y\n\n", wantErr: ErrMalformedEvent,
	}, {
		name: "starts with a continuation", in: " A: x\n\n", wantErr: ErrMalformedEvent,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParsePlainEvent([]byte(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(ev.Headers(), tt.headers) || string(ev.Body) != tt.body || (tt.body == "") != (ev.Body == nil) {
				t.Errorf("got %q %q, want %q %q", ev.Headers(), ev.Body, tt.headers, tt.body)
			}
			if want, err := textprotoEvent([]byte(tt.in)); err == nil && !sameEvent(ev, want) {
				t.Errorf("textproto gives %q %q", want.Headers(), want.Body)
			}
		})
	}
}

func TestEventFromHeaders(t *testing.T) {
	ev := EventFromHeaders(map[string][]string{
		"Event-Name":            {"CUSTOM"},
		"Event-Subclass":        {"sofia%3A%3Aexpire"},
		"Caller-Caller-Id-Name": {"Jos%C3%A9", "ignored"},
		"event-sequence":        {"758"}, // not canonical: canonicalised
		"Empty":                 {},
		"Broken":                {"%2"},
	}, []byte{})
	want := map[string]string{
		"Event-Name": "CUSTOM", "Event-Subclass": "sofia::expire", "Caller-Caller-Id-Name": "José",
		"Event-Sequence": "758", "Broken": "%2",
	}
	if !maps.Equal(ev.Headers(), want) || ev.Body != nil {
		t.Errorf("got %q %v", ev.Headers(), ev.Body)
	}
	if ev.Subclass() != "sofia::expire" || ev.Seq() != 758 || ev.Get("caller-caller-id-name") != "José" || !ev.Time().IsZero() {
		t.Errorf("accessors: %q %d %q %v", ev.Subclass(), ev.Seq(), ev.Get("caller-caller-id-name"), ev.Time())
	}
	// A canonical spelling wins over another one of the same key.
	for range 20 {
		ev := EventFromHeaders(map[string][]string{"X-Key": {"canonical"}, "x-key": {"other"}}, nil)
		if ev.Headers()["X-Key"] != "canonical" {
			t.Fatalf("got %q", ev.Headers())
		}
	}
}

// TestCanonicalHeaderKey: the constants are canonical, and the
// canonicalisation is textproto's.
func TestCanonicalHeaderKey(t *testing.T) {
	for _, k := range []string{
		hdrUniqueID, hdrOldUniqueID, hdrCallDirection, hdrChannelName, hdrChannelState, hdrCallState,
		hdrAnswerState, hdrCallerUsername, hdrCallerIDName, hdrCallerIDNumber, hdrCallerDest,
		hdrCallerUniqueID, hdrCallerChannel, hdrCallerCreated, hdrCallerAnswered, hdrOtherType,
		hdrOtherUniqueID, hdrOtherChannel,
	} {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
	}
	if !strings.HasPrefix(textproto.CanonicalMIMEHeaderKey("variable_x"), hdrVariablePrefix) {
		t.Errorf("variable prefix %q", hdrVariablePrefix)
	}
	for _, k := range []string{"variable_sip_user_agent", "Caller-Caller-ID-Name", "event-name", "x", "A-", "-a", "a--b",
		"odd key", "bad\"key", "", "ÄÖ", "variable_Event-Name", "CONTENT-LENGTH", "v1.2_~x"} {
		if got, want := canonicalHeaderKey(k), textproto.CanonicalMIMEHeaderKey(k); got != want {
			t.Errorf("canonicalHeaderKey(%q) = %q, want %q", k, got, want)
		}
	}
}

// BenchmarkParsePlainEvent parses the recorded stream's events.
func BenchmarkParsePlainEvent(b *testing.B) {
	bodies, err := eslScenarioBodies()
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, body := range bodies {
		size += len(body)
	}
	b.SetBytes(int64(size / len(bodies)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := ParsePlainEvent(bodies[n%len(bodies)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEventFromHeaders was the adapter's path before issue 12 item
// 14: eslgo's textproto parse (not timed) mapped by EventFromHeaders.
func BenchmarkEventFromHeaders(b *testing.B) {
	bodies, err := eslScenarioBodies()
	if err != nil {
		b.Fatal(err)
	}
	hs := make([]textproto.MIMEHeader, len(bodies))
	for i, body := range bodies {
		if hs[i], err = textproto.NewReader(bufio.NewReader(bytes.NewReader(body))).ReadMIMEHeader(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		EventFromHeaders(hs[n%len(hs)], nil)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// TestScanHeaderValue: the eight-bytes-at-a-time test agrees with
// validHeaderValue for every byte at every position of a value, after
// bytes of 0x80 and above too, and finds the '%'.
func TestScanHeaderValue(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 17; pos++ {
			b := []byte("abcdefghijklmnopq")
			b[pos] = byte(c)
			for _, v := range []string{string(b), "\x80\xff" + string(b), string(b[:pos+1])} {
				valid, pct := scanHeaderValue(v)
				want := validHeaderValue(v)
				if valid != want || want && pct != strings.Contains(v, "%") {
					t.Fatalf("%q: valid %v %% %v, want valid %v", v, valid, pct, want)
				}
			}
		}
	}
}
