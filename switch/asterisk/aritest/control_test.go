package aritest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func do(t *testing.T, method, url string) (int, string) {
	t.Helper()
	return request(t, method, url, `{"variables":{"V":"1"}}`)
}

// TestControlAnswers checks the fake's call control against Asterisk's
// recorded answers: the channel on originate, 204 on hangup, 404 for an
// unknown channel.
func TestControlAnswers(t *testing.T) {
	cs := New(t)
	recorded := func(name string) (int, string) {
		head, body, _ := strings.Cut(strings.ReplaceAll(string(Recorded(name)), "\r\n", "\n"), "\n\n")
		var status int
		if _, err := fmt.Sscanf(head, "HTTP/1.1 %d", &status); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return status, strings.TrimSpace(body)
	}
	status, body := do(t, http.MethodPost, cs.URL+"/channels?endpoint=PJSIP/1001&extension=1002&context=phones&priority=1&channelId=c1&callerId=%22Bob%22+%3C1002%3E")
	var ch struct {
		ID, Name, State string
		Caller          struct{ Name, Number string }
		Dialplan        struct{ Context, Exten string }
	}
	if err := json.Unmarshal([]byte(body), &ch); err != nil || status != 200 {
		t.Fatalf("originate: %d %s (%v)", status, body, err)
	}
	if ch.ID != "c1" || ch.State != "Down" || !strings.HasPrefix(ch.Name, "PJSIP/1001-") ||
		ch.Caller.Name != "Bob" || ch.Caller.Number != "1002" || ch.Dialplan.Context != "phones" || ch.Dialplan.Exten != "1002" {
		t.Errorf("originated channel %+v", ch)
	}
	if o := cs.Originated(); len(o) != 1 || o[0].Variables["V"] != "1" || o[0].Query["endpoint"] != "PJSIP/1001" {
		t.Errorf("recorded originates %+v", o)
	}
	if _, body := get(t, cs.URL+"/channels", User, Password); !strings.Contains(body, `"id":"c1"`) || !strings.Contains(body, `"state":"Ringing"`) {
		t.Errorf("channels after originate: %s", body)
	}

	status404, want404 := recorded("error-channel-not-found-404.http")
	status204, _ := recorded("stasis-hangup-204.http")
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodPost, "/channels?endpoint=PJSIP/1001&extension=1&channelId=c1", 409, `{"message":"Channel with given unique ID already exists"}`},
		{http.MethodPost, "/channels?extension=1", 400, `{"message":"Endpoint must be specified"}`},
		{http.MethodPost, "/channels?endpoint=1001&extension=1", 400, `{"message":"Invalid endpoint specified"}`},
		{http.MethodDelete, "/channels/c1?reason=bogus", 400, `{"message":"Invalid reason for hangup provided"}`},
		{http.MethodDelete, "/channels/c1?reason=normal", status204, ""},
		{http.MethodDelete, "/channels/c1?reason=normal", status404, want404},
		{http.MethodDelete, "/channels/nobody", status404, want404},
	}
	for _, tc := range tests {
		status, body := do(t, tc.method, cs.URL+tc.path)
		if status != tc.status || body != tc.body {
			t.Errorf("%s %s: %d %s\nwant %d %s", tc.method, tc.path, status, body, tc.status, tc.body)
		}
	}
	if h := cs.HungUp(); len(h) != 1 || h[0] != (Hangup{ID: "c1", Reason: "normal"}) {
		t.Errorf("recorded hangups %+v", h)
	}
	if _, body := get(t, cs.URL+"/channels", User, Password); body != "[]" {
		t.Errorf("channels after hangup: %s", body)
	}
	// The node's other routes answer alongside call control.
	if status, _ := get(t, cs.URL+"/endpoints/PJSIP", User, Password); status != 200 {
		t.Errorf("GET /endpoints/PJSIP with call control: %d", status)
	}
	cs.FailNext(503)
	if status, _ := do(t, http.MethodDelete, cs.URL+"/channels/x"); status != 503 {
		t.Errorf("hangup after FailNext(503): %d", status)
	}
}
