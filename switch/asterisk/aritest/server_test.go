package aritest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func get(t *testing.T, url, user, password string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRecordedAnswers checks the fake against the recorded answers.
func TestRecordedAnswers(t *testing.T) {
	srv := New(t)
	recordedBody := func(name string) string {
		_, body, _ := strings.Cut(string(Recorded(name)), "\r\n\r\n")
		if body == "" {
			_, body, _ = strings.Cut(string(Recorded(name)), "\n\n")
		}
		return strings.TrimSpace(body)
	}
	tests := []struct {
		path, user string
		status     int
		body       string
	}{
		{"/endpoints", "", 401, recordedBody("error-bad-credentials-401.http")},
		{"/endpoints/PJSIP", User, 200, strings.TrimSpace(string(Recorded("endpoints-pjsip.json")))},
		{"/endpoints/PJSIP/nobody", User, 404, recordedBody("error-endpoint-not-found-404.http")},
		{"/channels", User, 200, "[]"},
		{"/asterisk/info", User, 200, string(Recorded("asterisk-info.json"))},
	}
	for _, tc := range tests {
		status, body := get(t, srv.URL+tc.path, tc.user, Password)
		if status != tc.status || strings.TrimSpace(body) != tc.body {
			t.Errorf("GET %s: %d %s\nwant %d %s", tc.path, status, body, tc.status, tc.body)
		}
	}
	// A node started with no PJSIP endpoint, as the live one answered.
	srv.StartEmpty()
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/endpoints", 200, "[]"},
		{"/endpoints/PJSIP", 404, recordedBody("error-endpoints-invalid-tech-404.http")},
		{"/endpoints/PJSIP/nobody", 404, recordedBody("error-endpoint-not-found-404.http")},
	} {
		status, body := get(t, srv.URL+tc.path, User, Password)
		if status != tc.status || strings.TrimSpace(body) != tc.body {
			t.Errorf("empty node: GET %s: %d %s\nwant %d %s", tc.path, status, body, tc.status, tc.body)
		}
	}
	// Contacts over dynamic configuration, as recorded (fidelity/): the
	// registered contact's object, 404 for an AOR's name alone and for
	// contact_status, which is not a sorcery type.
	srv.Push(ContactEvents("1001", "sip:1001@127.0.0.1:5071", time.Millisecond, false, time.Now())...)
	srv.SetContact("1001", "sip:1001@127.0.0.1:5071", map[string]string{
		"user_agent": "SIPp-phone-1001", "expiration_time": "1796588409", "via_port": "5171", "call_id": "1-30352@127.0.0.1"})
	contactPath := "/asterisk/config/dynamic/res_pjsip/contact/"
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{contactPath + "1001%3B%4005b159396a728bfe3eaa865b94eca3fa", 200, string(Recorded("config-contact-1001.json"))},
		{contactPath + "1001;@05b159396a728bfe3eaa865b94eca3fa", 200, string(Recorded("config-contact-1001.json"))},
		{contactPath + "1001", 404, recordedBody("config-contact-1001-by-aor-name-404.http")},
		{"/asterisk/config/dynamic/res_pjsip/contact_status/1001%3B%4005b159396a728bfe3eaa865b94eca3fa", 404, recordedBody("config-contact_status-1001.http")},
	} {
		status, body := get(t, srv.URL+tc.path, User, Password)
		if status != tc.status || strings.TrimSpace(body) != tc.body {
			t.Errorf("GET %s: %d %s\nwant %d %s", tc.path, status, body, tc.status, tc.body)
		}
	}
	srv.SetEndpoints("offline", "1001")
	if status, _ := get(t, srv.URL+"/endpoints/PJSIP", User, Password); status != 200 {
		t.Errorf("GET /endpoints/PJSIP after the first endpoint: %d, want 200", status)
	}
	srv.FailNext(503)
	if status, _ := get(t, srv.URL+"/channels", User, Password); status != 503 {
		t.Errorf("after FailNext(503): %d", status)
	}
	if status, _ := get(t, srv.URL+"/channels", User, Password); status != 200 {
		t.Errorf("FailNext lasted past one request: %d", status)
	}
}

// TestPushTracksState checks that pushed events move the REST state.
func TestPushTracksState(t *testing.T) {
	srv := New(t)
	srv.SetEndpoints("offline")
	srv.Push(ContactEvents("9", "sip:9@192.0.2.9:5060", time.Millisecond, false, time.Now())...)
	_, body := get(t, srv.URL+"/endpoints/PJSIP/9", User, Password)
	if !strings.Contains(body, `"state":"online"`) {
		t.Errorf("endpoint after registering: %s", body)
	}
	_, body = get(t, srv.URL+"/asterisk/config/dynamic/res_pjsip/aor/9", User, Password)
	if !strings.Contains(body, `"value":"sip:9@192.0.2.9:5060"`) {
		t.Errorf("AOR after registering: %s", body)
	}
	events, caller, callee := CallEvents("9", "8", 2*time.Second, time.Now())
	hangup := bytes.Index(bytes.Join(events, nil), []byte("ChannelHangupRequest"))
	if hangup < 0 {
		t.Fatal("the call has no hang-up")
	}
	var up [][]byte
	for _, e := range events {
		if bytes.Contains(e, []byte("ChannelHangupRequest")) {
			break
		}
		up = append(up, e)
	}
	srv.Push(up...)
	_, body = get(t, srv.URL+"/channels", User, Password)
	var chans []struct {
		ID, Name string
	}
	if err := json.Unmarshal([]byte(body), &chans); err != nil || len(chans) != 2 {
		t.Fatalf("channels during the call: %s (%v)", body, err)
	}
	if chans[0].ID != caller || chans[1].ID != callee || !strings.HasPrefix(chans[0].Name, "PJSIP/9-") {
		t.Errorf("channels %+v, want %s then %s", chans, caller, callee)
	}
	srv.Push(events[len(up):]...)
	if _, body = get(t, srv.URL+"/channels", User, Password); body != "[]" {
		t.Errorf("channels after the call: %s", body)
	}
}

// TestCallEventsTimes checks that the rewritten call lasts what was asked.
func TestCallEventsTimes(t *testing.T) {
	end := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	events, caller, _ := CallEvents("1001", "1002", 4*time.Second, end)
	var answer, last time.Time
	for _, e := range events {
		var w struct {
			Type      string `json:"type"`
			Timestamp string `json:"timestamp"`
			Channel   struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"channel"`
		}
		if err := json.Unmarshal(e, &w); err != nil {
			t.Fatalf("%v: %s", err, e)
		}
		ts, err := time.Parse(ariTimeLayout, w.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		if w.Type == "ChannelStateChange" && w.Channel.ID == caller && w.Channel.State == "Up" {
			answer = ts
		}
		last = ts
	}
	if got := last.Sub(answer); got < 3900*time.Millisecond || got > 4100*time.Millisecond {
		t.Errorf("answer %v to end %v: %v, want about 4s", answer, last, got)
	}
	if !last.Equal(end) {
		t.Errorf("last event at %v, want %v", last, end)
	}
}

// TestEventSocketHandshake checks the event socket's handshake against
// what res_http_websocket does: no subprotocol asked is accepted (ARI's
// is the only one), "ari" is echoed, any other list is a 400.
func TestEventSocketHandshake(t *testing.T) {
	srv := New(t)
	url := srv.URL + "/events?app=t"
	auth := http.Header{}
	(&http.Request{Header: auth}).SetBasicAuth(User, Password)
	tests := []struct {
		offer    []string
		status   int
		protocol string
	}{
		{offer: nil, status: http.StatusSwitchingProtocols, protocol: ""},
		{offer: []string{"chat", "ari"}, status: http.StatusSwitchingProtocols, protocol: "ari"},
		{offer: []string{"chat"}, status: http.StatusBadRequest},
	}
	for _, tc := range tests {
		ws, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: auth, Subprotocols: tc.offer})
		if resp == nil || resp.StatusCode != tc.status {
			t.Errorf("offer %q: %v, %v; want %d", tc.offer, resp, err, tc.status)
			continue
		}
		if ws == nil {
			if v := resp.Header.Get("Sec-WebSocket-Version"); v != "7, 8, 13" {
				t.Errorf("offer %q: refusal without Sec-WebSocket-Version (%q)", tc.offer, v)
			}
			continue
		}
		if ws.Subprotocol() != tc.protocol {
			t.Errorf("offer %q: subprotocol %q, want %q", tc.offer, ws.Subprotocol(), tc.protocol)
		}
		ws.CloseNow()
	}
	if n := srv.Connects(); n != 2 {
		t.Errorf("%d sockets accepted, want 2", n)
	}
}

// TestStallSockets checks the black hole: a stalled socket answers no
// ping, yet stays open until the client closes it.
func TestStallSockets(t *testing.T) {
	srv := New(t)
	ws := dialEvents(t, srv, "app=t")
	ctx := ws.CloseRead(context.Background()) // answers and reads control frames
	pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ws.Ping(pctx); err != nil {
		t.Fatalf("ping before the stall: %v", err)
	}
	srv.StallSockets()
	pctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ws.Ping(pctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ping through the black hole: %v, want no pong", err)
	}
	if srv.Stalled() != 1 || srv.Sockets() != 0 || srv.Pings() != 2 {
		t.Errorf("stalled %d, sockets %d, pings %d; want 1, 0, 2", srv.Stalled(), srv.Sockets(), srv.Pings())
	}
	if ctx.Err() != nil {
		t.Fatal("the stalled socket was closed by the server")
	}
	ws.CloseNow()
	deadline := time.Now().Add(2 * time.Second)
	for srv.Stalled() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if srv.Stalled() != 0 {
		t.Error("the stalled socket outlived the client's close")
	}
}

// TestDeleteObject: a PJSIP object deleted over the dynamic configuration
// leaves the REST state as in Asterisk 23.4.1, and no event goes out.
func TestDeleteObject(t *testing.T) {
	srv := New(t)
	srv.SetEndpoints("offline", "9")
	srv.Push(ContactEvents("9", "sip:9@192.0.2.9:5060", time.Millisecond, false, time.Now())...)
	ws := dialEvents(t, srv, "app=t&subscribeAll=true")
	defer ws.CloseNow()
	del := func(path string) int {
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/asterisk/config/dynamic/res_pjsip/"+path, nil)
		req.SetBasicAuth(User, Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for path, want := range map[string]int{"aor/9": 204, "endpoint/9": 204, "auth/9": 204, "endpoint/8": 404} {
		if got := del(path); got != want {
			t.Errorf("DELETE %s: %d, want %d", path, got, want)
		}
	}
	if status, body := get(t, srv.URL+"/endpoints", User, Password); status != 200 || body != "[]" {
		t.Errorf("endpoints after the delete: %d %s", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, msg, err := ws.Read(ctx); err == nil {
		t.Errorf("an event went out on a delete: %s", msg)
	}
}

// TestStallNode: REST connections kept alive go dark with the node; new
// ones are served.
func TestStallNode(t *testing.T) {
	srv := New(t)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	getWith := func(hc *http.Client, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/channels", nil)
		req.SetBasicAuth(User, Password)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	if err := getWith(hc, time.Second); err != nil {
		t.Fatal(err) // leaves one idle connection in hc's pool
	}
	srv.StallNode()
	if err := getWith(hc, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a request on the pooled connection of a silent node: %v, want no answer", err)
	}
	if err := getWith(&http.Client{Transport: &http.Transport{}}, time.Second); err != nil {
		t.Errorf("a new connection after the stall: %v", err)
	}
}

// TestApplicationSubscriptions checks the fake against what Asterisk
// 23.4.1 answered live (the application renamed "live"): the explicit
// endpoint:PJSIP subscription of a subscribeAll application is covered by
// the topic of all endpoints and not listed, and such an application gets
// no EndpointStateChange; without subscribeAll the subscription is listed
// and the event delivered.
func TestApplicationSubscriptions(t *testing.T) {
	for _, tc := range []struct {
		query, recorded string
		endpointEvents  int
	}{
		{"subscribeAll=true", "application-subscribeall-endpoint-pjsip.json", 0},
		{"subscribeAll=false", "application-endpoint-pjsip.json", 1},
	} {
		t.Run(tc.query, func(t *testing.T) {
			srv := New(t)
			ws := dialEvents(t, srv, "app=live&"+tc.query)
			defer ws.CloseNow()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/applications/live/subscription?eventSource=endpoint:PJSIP", nil)
			req.SetBasicAuth(User, Password)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			_, body := get(t, srv.URL+"/applications/live", User, Password)
			var got, want map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(Recorded(tc.recorded), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("GET /applications/live:\n got %s\nwant %s", body, Recorded(tc.recorded))
			}
			if n := srv.Push(ContactEvents("9", "sip:9@192.0.2.9:5060", 0, false, time.Now())[0]); n != tc.endpointEvents {
				t.Errorf("EndpointStateChange reached %d sockets, want %d", n, tc.endpointEvents)
			}
		})
	}
}

// TestShutdownSockets: the client reads a close frame with status 1000,
// as from Asterisk's `ari shutdown websocket session`.
func TestShutdownSockets(t *testing.T) {
	srv := New(t)
	ws := dialEvents(t, srv, "app=t")
	defer ws.CloseNow()
	srv.ShutdownSockets()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("read after the shutdown: %v, want a close frame with status 1000", err)
	}
	if srv.Sockets() != 0 {
		t.Errorf("%d sockets after the shutdown, want 0", srv.Sockets())
	}
}

// dialEvents opens an event socket of the fake with query (app=…).
func dialEvents(t *testing.T, srv *Server, query string) *websocket.Conn {
	t.Helper()
	auth := http.Header{}
	(&http.Request{Header: auth}).SetBasicAuth(User, Password)
	ws, _, err := websocket.Dial(context.Background(), srv.URL+"/events?"+query, &websocket.DialOptions{HTTPHeader: auth})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestSubscriptionOnEmptyNode: a node started with no PJSIP endpoint
// answers a subscription to endpoint:PJSIP as the live Asterisk 23.4.1
// did (testdata/error-event-source-422.http), until its first endpoint.
func TestSubscriptionOnEmptyNode(t *testing.T) {
	srv := New(t)
	srv.StartEmpty()
	ws := dialEvents(t, srv, "app=live&subscribeAll=true")
	defer ws.CloseNow()
	subscribe := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/applications/live/subscription?eventSource=endpoint:PJSIP", nil)
		req.SetBasicAuth(User, Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, want, _ := strings.Cut(string(Recorded("error-event-source-422.http")), "\r\n\r\n")
	if status, body := subscribe(); status != 422 || body != want {
		t.Errorf("empty node: %d %s, want 422 %s", status, body, want)
	}
	srv.SetEndpoints("offline", "1001")
	if status, body := subscribe(); status != 200 {
		t.Errorf("after the first endpoint: %d %s, want 200", status, body)
	}
}

// TestModuleReload: PUT /asterisk/modules/{name} answers as Asterisk
// 23.4.1 did: 204 for pbx_config, 404 with its message for a module that
// is not running, 401 without credentials.
func TestModuleReload(t *testing.T) {
	srv := New(t)
	put := func(name, user string) (int, string) {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/asterisk/modules/"+name, nil)
		if user != "" {
			req.SetBasicAuth(user, Password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, user string
		status     int
		body       string
	}{
		{"pbx_config", User, 204, ""},
		{"nosuch", User, 404, `{"message":"Module not found in running modules"}`},
		{"pbx_config", "", 401, ""},
	} {
		status, body := put(tc.name, tc.user)
		if status != tc.status || tc.body != "" && body != tc.body {
			t.Errorf("PUT modules/%s as %q: %d %s, want %d %s", tc.name, tc.user, status, body, tc.status, tc.body)
		}
	}
	if reqs := srv.Requests(); !slices.ContainsFunc(reqs, func(r string) bool { return strings.Contains(r, "PUT") && strings.Contains(r, "modules/pbx_config") }) {
		t.Errorf("requests %q lack the reload", reqs)
	}
}

// TestChannelVarsAsRecorded: during a call the fake answers CDR(answer,u)
// with the time the channel went Up and CHANNEL(linkedid) with the
// caller's id, in the shape Asterisk 23.4.1 answered them (the recorded
// bodies of ../shared/testdata/asterisk/fidelity, step 3).
func TestChannelVarsAsRecorded(t *testing.T) {
	srv := New(t)
	end := time.Now().Add(time.Minute)
	events, caller, callee := CallEvents("1001", "1002", 20*time.Second, end)
	for _, ev := range events {
		if strings.Contains(string(ev), `"type":"ChannelHangupRequest"`) {
			break
		}
		srv.Push(ev)
	}
	shape := regexp.MustCompile(`^\{"value":"\d{10}\.\d{6}"\}$`)
	for _, f := range []string{"channel-var-caller-1001-cdr-answer-u.json", "channel-var-callee-1002-cdr-answer-u.json",
		"channel-var-caller-1001-cdr-start-u.json", "channel-var-callee-1002-cdr-start-u.json"} {
		if !shape.Match(Recorded(f)) {
			t.Fatalf("recorded %s = %s: the test's shape is wrong", f, Recorded(f))
		}
	}
	answer := end.Add(-20 * time.Second)
	for _, tc := range []struct {
		id, variable string
		want         *regexp.Regexp
		recorded     string
	}{
		{caller, "CDR(answer,u)", shape, ""},
		{callee, "CDR(answer,u)", shape, ""},
		{caller, "CDR(start,u)", shape, ""},
		{callee, "CDR(start,u)", shape, ""},
		{caller, "CHANNEL(linkedid)", regexp.MustCompile(`^\{"value":"` + regexp.QuoteMeta(caller) + `"\}$`), "channel-var-caller-1001-channel-linkedid.json"},
		{callee, "CHANNEL(linkedid)", regexp.MustCompile(`^\{"value":"` + regexp.QuoteMeta(caller) + `"\}$`), "channel-var-callee-1002-channel-linkedid.json"},
	} {
		status, body := get(t, srv.URL+"/channels/"+tc.id+"/variable?variable="+url.QueryEscape(tc.variable), User, Password)
		if status != 200 || !tc.want.MatchString(body) {
			t.Errorf("%s of %s = %d %s", tc.variable, tc.id, status, body)
		}
		if tc.recorded != "" && string(Recorded(tc.recorded)) != `{"value":"1796584875.0"}` {
			t.Errorf("recorded %s = %s: both legs carry the caller's id", tc.recorded, Recorded(tc.recorded))
		}
		if tc.variable == "CDR(answer,u)" {
			var v struct{ Value string }
			_ = json.Unmarshal([]byte(body), &v)
			sec, _ := strconv.ParseFloat(v.Value, 64)
			if d := time.Duration((sec - float64(answer.UnixNano())/1e9) * 1e9); d < -10*time.Millisecond || d > 10*time.Millisecond {
				t.Errorf("%s of %s = %s, %v from the answer %v", tc.variable, tc.id, v.Value, d, answer)
			}
		}
	}
}
