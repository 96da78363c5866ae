package sip

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestProbeRequest pins what a switch probe sends, byte for byte where it
// matters to the switch: Asterisk identifies the request by its From user
// (ProbeUser, the endpoint name switch/asterisk/README.md asks for), and
// answers OPTIONS itself, without a dialplan lookup, only when the request
// URI has no user. A loopback UDP server reads the probe and answers 200.
func TestProbeRequest(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	port := pc.LocalAddr().(*net.UDPAddr).Port
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			select {
			case got <- msg:
			default:
			}
			_, _ = pc.WriteTo([]byte(okFor(msg)), from)
		}
	}()

	cfg := testConfig()
	cfg.UserAgent = "Switchboard/test"
	uri := fmt.Sprintf("sip:127.0.0.1:%d", port)
	p := startProber(t, cfg, Target{Kind: KindSwitch, Name: "ast1", URI: uri})
	var msg string
	select {
	case msg = <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("no probe within 2s")
	}
	line, headers := splitMessage(msg)
	if want := "OPTIONS " + uri + " SIP/2.0"; line != want {
		t.Errorf("request line %q, want %q", line, want)
	}
	tests := []struct {
		header string
		want   string // a regexp the whole value must match
	}{
		{"From", `<sip:` + ProbeUser + `@127\.0\.0\.1>;tag=[0-9A-Za-z]{12}`},
		{"To", `<` + regexp.QuoteMeta(uri) + `>`},
		{"Via", `SIP/2\.0/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK[^;]+;rport`},
		{"CSeq", `\d+ OPTIONS`},
		{"Call-ID", `\S+`},
		{"Max-Forwards", `70`},
		{"User-Agent", `Switchboard/test`},
		{"Accept", `application/sdp`},
		{"Content-Length", `0`},
	}
	for _, tt := range tests {
		v, ok := headers[strings.ToLower(tt.header)]
		if !ok {
			t.Errorf("no %s header in\n%s", tt.header, msg)
			continue
		}
		if !regexp.MustCompile(`^(?:` + tt.want + `)$`).MatchString(v) {
			t.Errorf("%s: %q, want %s", tt.header, v, tt.want)
		}
	}
	r := waitResult(t, p, KindSwitch, "ast1", 2*time.Second, "answered", func(r Result) bool { return r.Code != 0 })
	if r.Code != 200 || r.Status != StatusReachable {
		t.Errorf("result %d %s, want 200 reachable", r.Code, r.Status)
	}
}

// splitMessage returns a SIP message's first line and its headers by
// lower-case name (the last of repeated ones).
func splitMessage(msg string) (string, map[string]string) {
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	h := make(map[string]string)
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		h[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
	}
	return lines[0], h
}

// okFor is a 200 answer to the request msg.
func okFor(msg string) string {
	_, h := splitMessage(msg)
	return "SIP/2.0 200 OK\r\n" +
		"Via: " + h["via"] + "\r\n" +
		"From: " + h["from"] + "\r\n" +
		"To: " + h["to"] + ";tag=probe-test\r\n" +
		"Call-ID: " + h["call-id"] + "\r\n" +
		"CSeq: " + h["cseq"] + "\r\n" +
		"Content-Length: 0\r\n\r\n"
}
