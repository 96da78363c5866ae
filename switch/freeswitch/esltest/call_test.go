package esltest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRewriteIdentity rewrites the recorded calls onto themselves (same
// uuids, users and times): every derived value (epochs, stamps, billsec,
// duration…, Event-Date-*) must come out as FreeSWITCH computed it.
func TestRewriteIdentity(t *testing.T) {
	for _, tpl := range []*callTemplate{&bridgedCall, &singleCall} {
		lc := &liveCall{tpl: tpl, caller: tpl.aUUID, callee: tpl.bUUID, fromUser: tpl.users[0], to: tpl.users[1],
			answer: time.UnixMicro(tpl.answerUS)}
		r := lc.rewriter(time.UnixMicro(tpl.hangupUS), time.UTC)
		for _, n := range append(append([]int{}, tpl.setup...), tpl.teardown...) {
			want := scenario().bySeq[n].plain()
			if got := r.event(recordedEvent(n)).plain(); !bytes.Equal(got, want) {
				t.Errorf("recorded event %d rewritten onto itself:\n%s\nwant\n%s", n, got, want)
			}
		}
		for _, name := range tpl.cdrs {
			if got := r.jsonCDR(Recorded(name)); !bytes.Equal(got, Recorded(name)) {
				t.Errorf("%s rewritten onto itself:\n%s", name, got)
			}
		}
	}
}

func us(t *testing.T, e *event, h string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(e.get(h), 10, 64)
	if err != nil {
		t.Fatalf("%s %s: %q", e.name(), h, e.get(h))
	}
	return n
}

// checkTimes checks a CHANNEL_HANGUP_COMPLETE's times against each other.
func checkTimes(t *testing.T, e *event, loc *time.Location) {
	t.Helper()
	v := func(name string) int64 { return us(t, e, "variable_"+name) }
	start, answer, end := v("start_uepoch"), v("answer_uepoch"), v("end_uepoch")
	for h, want := range map[string]int64{
		"variable_start_epoch": start / 1e6, "variable_answer_epoch": answer / 1e6, "variable_end_epoch": end / 1e6,
		"variable_duration": end/1e6 - start/1e6, "variable_billsec": end/1e6 - answer/1e6,
		"variable_billmsec": end/1e3 - answer/1e3, "variable_billusec": end - answer,
		"variable_mduration": end/1e3 - start/1e3, "variable_answersec": answer/1e6 - start/1e6,
		"Caller-Channel-Answered-Time": answer, "Caller-Channel-Hangup-Time": end,
	} {
		if got := us(t, e, h); got != want {
			t.Errorf("%s %s = %d, want %d", e.get("Unique-ID"), h, got, want)
		}
	}
	for h, want := range map[string]string{
		"variable_start_stamp":  time.UnixMicro(start).In(loc).Format(localStamp),
		"variable_answer_stamp": time.UnixMicro(answer).In(loc).Format(localStamp),
		"variable_end_stamp":    time.UnixMicro(end).In(loc).Format(localStamp),
		"Event-Date-Local":      time.UnixMicro(us(t, e, "Event-Date-Timestamp")).In(loc).Format(localStamp),
		"Event-Date-GMT":        time.UnixMicro(us(t, e, "Event-Date-Timestamp")).UTC().Format(gmtStamp),
	} {
		if got := e.get(h); got != want {
			t.Errorf("%s %s = %q, want %q", e.get("Unique-ID"), h, got, want)
		}
	}
}

func legEvents(c *client, uuid string) []*event {
	var out []*event
	for _, e := range c.events {
		if e.get("Unique-ID") == uuid {
			out = append(out, e)
		}
	}
	return out
}

func TestCompleteCall(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	s := New(t, WithLocation(loc))
	c := login(t, s, "event plain ALL")
	before := time.Now()
	a, b := s.CompleteCall("1001", "1002", 4*time.Second)
	after := time.Now()
	c.sync()
	if a == b || len(a) != 36 || len(b) != 36 {
		t.Fatalf("uuids %q %q", a, b)
	}
	var hangups []*event
	for _, uuid := range []string{a, b} {
		evs := legEvents(c, uuid)
		if evs[0].name() != "CHANNEL_STATE" && evs[0].name() != "CHANNEL_OUTGOING" || evs[len(evs)-1].get("Channel-State") != "CS_DESTROY" {
			t.Errorf("leg %s: from %s to %s", uuid, evs[0].name(), evs[len(evs)-1].name())
		}
		for _, e := range evs {
			if e.name() == "CHANNEL_HANGUP_COMPLETE" {
				hangups = append(hangups, e)
			}
		}
	}
	if len(hangups) != 2 {
		t.Fatalf("%d CHANNEL_HANGUP_COMPLETE", len(hangups))
	}
	for _, e := range hangups {
		checkTimes(t, e, loc)
		end := time.UnixMicro(us(t, e, "variable_end_uepoch"))
		if end.Before(before.Truncate(time.Microsecond)) || end.After(after) {
			t.Errorf("ended at %v, not between %v and %v", end, before, after)
		}
	}
	aLeg, bLeg := hangups[0], hangups[1]
	if got := aLeg.get("variable_billusec"); got != "4000000" {
		t.Errorf("a-leg billusec %s, want the talk time", got)
	}
	for h, want := range map[string]string{"Caller-Caller-ID-Number": "1001", "Caller-Destination-Number": "1002",
		"Call-Direction": "inbound", "Hangup-Cause": "NORMAL_CLEARING", "variable_sip_hangup_disposition": "recv_bye",
		"Other-Leg-Unique-ID": b} {
		if got := aLeg.get(h); got != want {
			t.Errorf("a-leg %s = %q, want %q", h, got, want)
		}
	}
	if got := bLeg.get("Other-Leg-Unique-ID"); got != a {
		t.Errorf("b-leg Other-Leg-Unique-ID %q", got)
	}
	for _, raw := range c.plain {
		if bytes.Contains(raw, []byte(bridgedCall.aUUID)) || bytes.Contains(raw, []byte(bridgedCall.bUUID)) ||
			bytes.Contains(raw, []byte("1795610")) {
			t.Fatalf("a recorded uuid or time is left:\n%s", raw)
		}
	}
}

func TestCallUsersAndDomain(t *testing.T) {
	s := New(t)
	c := login(t, s, "event plain ALL")
	a, b := s.CompleteCall("bob@example.com", "1001", time.Second)
	c.sync()
	var create *event
	for _, e := range legEvents(c, a) {
		if e.name() == "CHANNEL_CREATE" {
			create = e
		}
	}
	for h, want := range map[string]string{
		"Caller-Caller-ID-Name": "Phone bob", "Caller-Caller-ID-Number": "bob", "Caller-Destination-Number": "1001",
		"Channel-Name": "sofia/internal/bob@example.com", "Channel-Presence-ID": "bob@example.com",
		"variable_domain_name": "example.com", "variable_sip_from_uri": "bob@example.com",
		"variable_sip_contact_uri": "bob@127.0.0.1:26000", "variable_sip_network_port": "26000",
		"variable_sip_network_ip": "127.0.0.1",
	} {
		if got := create.get(h); got != want {
			t.Errorf("a-leg CHANNEL_CREATE %s = %q, want %q", h, got, want)
		}
	}
	// The challenged INVITE's sofia::pre_register names the dialled
	// number in from-user: not a registration.
	for _, e := range c.events {
		if e.subclass() == "sofia::pre_register" && e.get("from-user") != "1001" {
			t.Errorf("pre_register from-user %q", e.get("from-user"))
		}
	}
	if evs := legEvents(c, b); evs[len(evs)-1].get("Caller-Destination-Number") != "1001" {
		t.Errorf("b-leg destination %q", evs[len(evs)-1].get("Caller-Destination-Number"))
	}
}

// job runs a bgapi command and returns its BACKGROUND_JOB.
func job(t *testing.T, c *client, cmd string) *event {
	t.Helper()
	reply := c.command("bgapi " + cmd)
	id, ok := strings.CutPrefix(reply, "+OK Job-UUID: ")
	if !ok {
		t.Fatalf("bgapi %s: %q", cmd, reply)
	}
	c.sync()
	for _, e := range c.events {
		if e.name() == "BACKGROUND_JOB" && e.get("Job-UUID") == id {
			return e
		}
	}
	t.Fatalf("no BACKGROUND_JOB for %s", cmd)
	return nil
}

func TestOriginate(t *testing.T) {
	s := New(t)
	c := login(t, s, "event plain ALL")
	j := job(t, c, "originate user/1001@127.0.0.1 &park()")
	if string(j.body) != "-ERR USER_NOT_REGISTERED\n" || j.get("Job-Command") != "originate" ||
		j.get("Job-Command-Arg") != "user/1001@127.0.0.1 &park()" {
		t.Errorf("unregistered: %q %v", j.body, j.headers)
	}
	s.Register("127.0.0.1", "1001")
	const id = "11111111-2222-4333-8444-555555555555"
	c.events = nil
	j = job(t, c, "originate {origination_uuid="+id+",origination_caller_id_name='A, B'}user/1001@127.0.0.1 1002 XML default")
	if string(j.body) != "+OK "+id+"\n" {
		t.Fatalf("originate: %q", j.body)
	}
	if evs := legEvents(c, id); len(evs) == 0 || evs[0].get("Event-Sequence") > j.get("Event-Sequence") {
		t.Error("the call's events do not come before the BACKGROUND_JOB")
	}
	if ch := show(t, c, "channels"); ch.RowCount != 2 || ch.Rows[0]["uuid"] != id {
		t.Errorf("show channels: %+v", ch)
	}
	c.events = nil
	if r := c.api("uuid_kill " + id); r != "+OK\n" {
		t.Errorf("uuid_kill: %q", r)
	}
	c.sync()
	if n := len(c.named("CHANNEL_HANGUP_COMPLETE")); n != 2 {
		t.Errorf("%d CHANNEL_HANGUP_COMPLETE after uuid_kill", n)
	}
	if r := c.api("uuid_kill " + id); r != "-ERR No such channel!\n" {
		t.Errorf("second uuid_kill: %q", r)
	}
	r := c.api("originate sofia/internal/1001@127.0.0.1 &park()")
	park, ok := strings.CutPrefix(strings.TrimSuffix(r, "\n"), "+OK ")
	if !ok {
		t.Fatalf("api originate &park(): %q", r)
	}
	if ch := show(t, c, "channels"); ch.RowCount != 1 || ch.Rows[0]["uuid"] != park || ch.Rows[0]["dest"] != "park" {
		t.Errorf("parked call: %+v", ch)
	}
	s.EndCall(park)
	if r := c.api("originate"); !strings.HasPrefix(r, "-USAGE: ") {
		t.Errorf("originate without arguments: %q", r)
	}
}

type post struct {
	query, contentType, userAgent string
	body                          []byte
}

func cdrSink(t *testing.T, fail int) (*httptest.Server, func(n int) []post) {
	var mu sync.Mutex
	var posts []post
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/cdr" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if fail > 0 {
			fail--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		posts = append(posts, post{r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), b})
	}))
	t.Cleanup(srv.Close)
	wait := func(n int) []post {
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			got := len(posts)
			mu.Unlock()
			if got >= n {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		return append([]post(nil), posts...)
	}
	return srv, wait
}

// postOf returns the POST of the leg uuid (zero if there is none).
func postOf(posts []post, uuid string) post {
	for _, p := range posts {
		if p.query == "uuid="+uuid {
			return p
		}
	}
	return post{}
}

type cdrDoc struct {
	Variables map[string]string `json:"variables"`
	Callflow  []struct {
		Times map[string]string `json:"times"`
	} `json:"callflow"`
}

func TestJSONCDR(t *testing.T) {
	srv, wait := cdrSink(t, 1)
	s := New(t, WithJSONCDR(srv.URL+"/cdr", srv.Client()), WithJSONCDRRetry(3, 10*time.Millisecond))
	c := login(t, s, "event plain CHANNEL_HANGUP_COMPLETE")
	a, b := s.CompleteCall("1001", "1002", 3*time.Second)
	c.sync()
	posts := wait(2)
	if len(posts) != 2 {
		t.Fatalf("%d posts", len(posts))
	}
	for i, uuid := range []string{a, b} {
		// The legs are posted each on its own, as FreeSWITCH posts each
		// from its channel's thread: in no set order.
		p := postOf(posts, uuid)
		if p.query != "uuid="+uuid || p.contentType != "application/json" || p.userAgent != "freeswitch-json/1.0" {
			t.Errorf("post %d: %+v", i, p)
		}
		var doc cdrDoc
		if err := json.Unmarshal(p.body, &doc); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		// The record agrees with the leg's CHANNEL_HANGUP_COMPLETE.
		e := c.events[i]
		for _, v := range []string{"uuid", "start_epoch", "answer_uepoch", "end_uepoch", "billsec", "duration",
			"billusec", "answersec", "hangup_cause", "sip_hangup_disposition", "start_stamp", "end_stamp"} {
			if doc.Variables[v] != e.get("variable_"+v) {
				t.Errorf("leg %d %s: record %q, event %q", i, v, doc.Variables[v], e.get("variable_"+v))
			}
		}
		if doc.Callflow[0].Times["hangup_time"] != doc.Variables["end_uepoch"] {
			t.Errorf("leg %d hangup_time %q", i, doc.Callflow[0].Times["hangup_time"])
		}
	}
	// The sink has the posts before the fake has read its answers: a
	// post counts as pending until then.
	for deadline := time.Now().Add(5 * time.Second); s.CDRsPending() != 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if s.CDRsPending() != 0 || s.CDRsFailed() != 0 {
		t.Errorf("pending %d failed %d", s.CDRsPending(), s.CDRsFailed())
	}
}

func TestJSONCDRWithoutESLClient(t *testing.T) {
	srv, wait := cdrSink(t, 0)
	s := New(t, WithJSONCDR(srv.URL+"/cdr", nil))
	a, _ := s.StartCall("1001", "1002")
	s.EndCall(a)
	if posts := wait(2); len(posts) != 2 || postOf(posts, a).query != "uuid="+a {
		t.Errorf("posts: %d", len(posts))
	}
}

func TestJSONCDRGivesUp(t *testing.T) {
	srv, _ := cdrSink(t, 1<<30)
	s := New(t, WithJSONCDR(srv.URL+"/cdr", nil), WithJSONCDRRetry(2, time.Millisecond))
	s.CompleteCall("1001", "1002", time.Second)
	deadline := time.Now().Add(3 * time.Second)
	for s.CDRsFailed() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s.CDRsFailed() != 2 || s.CDRsPending() != 0 {
		t.Errorf("failed %d pending %d", s.CDRsFailed(), s.CDRsPending())
	}
}

// TestJSONCDRErrLogDir: a record every try of which failed is kept in the
// err-log-dir as <uuid>.cdr.json, the body that was posted, as
// mod_json_cdr does (seen on FreeSWITCH 1.10.12: retries+1 POSTs, delay
// apart, then the file).
func TestJSONCDRErrLogDir(t *testing.T) {
	srv, _ := cdrSink(t, 1<<30)
	dir := t.TempDir()
	s := New(t, WithJSONCDR(srv.URL+"/cdr", nil), WithJSONCDRRetry(2, time.Millisecond), WithJSONCDRErrLogDir(dir))
	a, b := s.CompleteCall("1001", "1002", time.Second)
	deadline := time.Now().Add(3 * time.Second)
	for (s.CDRsFailed() < 2 || s.CDRsPending() > 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for _, uuid := range []string{a, b} {
		body, err := os.ReadFile(filepath.Join(dir, uuid+".cdr.json"))
		if err != nil {
			t.Fatalf("leg %s not kept: %v", uuid, err)
		}
		var doc cdrDoc
		if err := json.Unmarshal(body, &doc); err != nil || doc.Variables["uuid"] != uuid {
			t.Errorf("leg %s: kept %.80q (%v)", uuid, body, err)
		}
	}
	if files, _ := os.ReadDir(dir); len(files) != 2 {
		t.Errorf("%d files kept, want 2", len(files))
	}
}

// TestJSONCDRLegsIndependent: a leg whose record is being retried does not
// hold up the other leg's (FreeSWITCH posts each from its own channel
// thread; seen live: both legs of a refused call reached err-log-dir at
// the same moment).
func TestJSONCDRLegsIndependent(t *testing.T) {
	var refuse atomic.Value
	refuse.Store("")
	got := make(chan string, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uuid := r.URL.Query().Get("uuid")
		if uuid == refuse.Load().(string) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got <- uuid
	}))
	t.Cleanup(srv.Close)
	s := New(t, WithJSONCDR(srv.URL+"/cdr", nil), WithJSONCDRRetry(3, 2*time.Second))
	a, b := s.StartCall("1001", "1002")
	refuse.Store(a)
	start := time.Now()
	s.EndCall(a)
	select {
	case uuid := <-got:
		if uuid != b {
			t.Fatalf("posted %s, want the B-leg %s", uuid, b)
		}
	case <-time.After(time.Second):
		t.Fatal("the B-leg waited for the A-leg's retries")
	}
	for i := 0; i < 100 && s.CDRsPending() != 1; i++ {
		time.Sleep(5 * time.Millisecond) // the B-leg's answer on its way back
	}
	if d := time.Since(start); d > time.Second || s.CDRsFailed() != 0 || s.CDRsPending() != 1 {
		t.Errorf("after %v: failed %d pending %d, want the A-leg still being retried", d, s.CDRsFailed(), s.CDRsPending())
	}
}
