package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// The guard credentials FreeSWITCH is configured with in these tests
// (xml_curl.conf.xml gateway-credentials, json_cdr.conf.xml cred).
const (
	fsHTTPUser     = "fs1"
	fsHTTPPassword = "fs1-http-pw"
	fsDomain       = "pbx.example.com"
)

// syncBuffer is the daemon's stderr: the log, written by many goroutines
// and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fsNode is a daemon configured with one FreeSWITCH node, fs1: the
// esltest fake, whose mod_json_cdr posts to the daemon's
// /freeswitch/fs1/cdr with the guard's credentials.
type fsNode struct {
	srv   *esltest.Server
	d     *daemon
	base  string // http://daemon
	token string
	log   *syncBuffer
}

// startFSNode starts the fake node with ESL password eslPassword, then the
// daemon (SQLite, log level warn, stderr captured) with a config naming
// it, and waits until the daemon is logged in and subscribed.
//
// The fake's json_cdr URL must be known before the daemon, which listens
// on a port it picks, is started: the URL names a placeholder host, with
// the guard's credentials in it as FreeSWITCH's cred would send them, and
// the fake's HTTP client dials the daemon's address whatever the host.
// The path, the credentials and the requests are the daemon's own.
func startFSNode(t *testing.T, eslPassword string) *fsNode {
	t.Helper()
	return startFSNodeWith(t, eslPassword, "")
}

// startFSNodeWith is startFSNode with more keys (YAML lines indented as
// the node's) in the node's switches entry.
func startFSNodeWith(t *testing.T, eslPassword, extra string) *fsNode {
	t.Helper()
	var daemonAddr atomic.Pointer[string]
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		addr := daemonAddr.Load()
		if addr == nil {
			return nil, errors.New("the daemon is not listening yet")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, *addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	cdrURL := fmt.Sprintf("http://%s:%s@switchboard.test:8080/freeswitch/fs1/cdr", fsHTTPUser, fsHTTPPassword)
	srv := esltest.New(t, esltest.WithPassword(eslPassword), esltest.WithJSONCDR(cdrURL, &http.Client{Transport: tr}))

	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "sb.db")
	conf := filepath.Join(dir, "switchboard.yaml")
	yaml := fmt.Sprintf(`switches:
  - name: fs1
    type: freeswitch
    esl: %s
    password: %s
    domain: %s
    http_user: %s
    http_password: %s
%s`, srv.Addr(), eslPassword, fsDomain, fsHTTPUser, fsHTTPPassword, extra)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d, log := startDaemonLogged(t, dsn, "--config", conf)
	daemonAddr.Store(&d.addr)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", log)
		}
	})
	if !srv.WaitConnected(10 * time.Second) {
		t.Fatalf("the daemon did not log in to the event socket and subscribe; logins %q", srv.Logins())
	}
	return &fsNode{srv: srv, d: d, base: "http://" + d.addr, token: createToken(t, dsn), log: log}
}

// startDaemonLogged is startDaemon with the daemon's log kept.
func startDaemonLogged(t *testing.T, dsn string, extra ...string) (*daemon, *syncBuffer) {
	t.Helper()
	addrs := make(chan string, 2)
	onListening = func(name, addr string) {
		if name == "http" {
			addrs <- addr
		}
	}
	t.Cleanup(func() { onListening = nil })
	log := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{stop: cancel, done: make(chan error, 1)}
	args := append([]string{"serve", "--database-dsn", dsn, "--http-listen", "127.0.0.1:0", "--log-level", "warn",
		"--cdr-spool-dir", spoolDirFor(t, dsn)}, extra...)
	go func() { d.done <- Run(ctx, args, nil, io.Discard, log) }()
	select {
	case d.addr = <-addrs:
	case err := <-d.done:
		t.Fatalf("daemon exited at start: %v\n%s", err, log)
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon did not start listening\n%s", log)
	}
	t.Cleanup(func() { d.shutdown(t) })
	return d, log
}

// within polls cond until it holds, and fails t if it does not within d:
// for the latencies the daemon promises (a registration or a CDR visible
// within a second), where switchtest.WaitFor's generous timeout would
// hide a slow path.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
}

// items returns the items of a native API list answer.
func items(t *testing.T, n *fsNode, path string) []map[string]any {
	t.Helper()
	code, m := do(t, "GET", n.base+path, n.token, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, code, m)
	}
	raw, _ := m["items"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, it := range raw {
		if obj, ok := it.(map[string]any); ok {
			out = append(out, obj)
		}
	}
	return out
}

// metric reads one unlabelled series of the daemon's /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// sipAuthForm is the recorded mod_xml_curl directory request of a
// REGISTER's digest check (testdata/xml-curl/directory-sip-auth.http),
// rewritten for user@domain as FreeSWITCH would send it for that phone.
func sipAuthForm(t *testing.T, user, domain string) string {
	t.Helper()
	raw, err := os.ReadFile("../../switch/freeswitch/testdata/xml-curl/directory-sip-auth.http")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n\n")
	if !ok {
		t.Fatal("directory-sip-auth.http: no body")
	}
	form, err := url.ParseQuery(strings.TrimSpace(body))
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("action") != "sip_auth" || form.Get("user") != "1001" {
		t.Fatalf("directory-sip-auth.http is not 1001's sip_auth: %v", form)
	}
	for _, k := range []string{"user", "sip_auth_username", "sip_contact_user", "sip_to_user", "sip_from_user"} {
		form.Set(k, user)
	}
	for _, k := range []string{"domain", "key_value", "sip_auth_realm", "sip_to_host", "sip_from_host", "sip_request_host"} {
		form.Set(k, domain)
	}
	form.Set("sip_user_agent", "sipp-phone-"+user)
	form.Set("sip_call_id", "reg-"+user+"@"+domain)
	form.Set("sip_auth_uri", "sip:"+domain)
	return form.Encode()
}

// postForm POSTs a form as mod_xml_curl does, with basic credentials
// unless user is empty.
func postForm(t *testing.T, u, user, password, form string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "freeswitch-xml/1.0")
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

// directoryDoc is the part of a directory answer sofia reads for a
// digest check: the domain, its users and their params.
type directoryDoc struct {
	XMLName xml.Name `xml:"document"`
	Section struct {
		Name   string `xml:"name,attr"`
		Domain struct {
			Name  string `xml:"name,attr"`
			Users []struct {
				ID     string `xml:"id,attr"`
				Params []struct {
					Name  string `xml:"name,attr"`
					Value string `xml:"value,attr"`
				} `xml:"params>param"`
			} `xml:"groups>group>users>user"`
		} `xml:"domain"`
	} `xml:"section"`
}

// a1Hash returns the a1-hash the directory answer gives user, "" if none.
func a1Hash(t *testing.T, body, user string) string {
	t.Helper()
	var doc directoryDoc
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("directory answer is not XML: %v\n%s", err, body)
	}
	if doc.Section.Name != "directory" || doc.Section.Domain.Name != fsDomain {
		t.Fatalf("answer is not a directory of %s:\n%s", fsDomain, body)
	}
	for _, u := range doc.Section.Domain.Users {
		if u.ID != user {
			continue
		}
		for _, p := range u.Params {
			if p.Name == "a1-hash" {
				return p.Value
			}
		}
	}
	return ""
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// A daemon configured with a FreeSWITCH node (the loopback fake event
// socket, with mod_json_cdr posting to the daemon): it connects, a phone
// that registers shows up in both APIs within a second, a finished call
// is queryable within a second as one CDR per leg although each leg
// arrives twice (CHANNEL_HANGUP_COMPLETE and json_cdr), an account
// created through the API is served to mod_xml_curl at once behind the
// guard, and a changed secret flushes the old registrations.
func TestServeWithFreeSWITCH(t *testing.T) {
	const eslPassword = "esl-S3cret-fs1"
	n := startFSNode(t, eslPassword)

	// 1. Connected, and connected again after the node drops the
	// connection.
	connected := func() bool {
		for _, sw := range items(t, n, "/api/v1/switches") {
			if sw["name"] == "fs1" && sw["connected"] == true {
				return true
			}
		}
		return false
	}
	switchtest.WaitFor(t, "fs1 connected in /api/v1/switches", connected)
	// The adapter logs in twice per connect (a probe under the dial
	// timeout, then the event connection) and keeps one connection.
	for _, pw := range n.srv.Logins() {
		if pw != eslPassword {
			t.Errorf("ESL logins = %q, want only the configured password", n.srv.Logins())
			break
		}
	}
	switchtest.WaitFor(t, "one ESL connection", func() bool { return n.srv.Connections() == 1 })

	logins := len(n.srv.Logins())
	n.srv.DropConnections()
	switchtest.WaitFor(t, "fs1 reconnected", func() bool {
		return len(n.srv.Logins()) > logins && n.srv.Connections() == 1 && n.srv.WaitConnected(0) && connected()
	})

	code, m := do(t, "POST", n.base+"/api/v1/tenants", n.token, `{"name":"Acme"}`)
	if code != http.StatusCreated {
		t.Fatalf("tenant: %d %v", code, m)
	}
	if code, m := do(t, "POST", n.base+"/api/v1/domains", n.token, fmt.Sprintf(`{"tenant_id":%v,"name":%q}`, m["id"], fsDomain)); code != http.StatusCreated {
		t.Fatalf("domain: %d %v", code, m)
	}

	// 2. A registration, in the native API and in dcp's onlinephone/list.
	contact := n.srv.Register(fsDomain, "1001")
	contactURI, _, _ := strings.Cut(contact, ";")
	within(t, time.Second, "the registration in /api/v1/registrations", func() bool {
		for _, r := range items(t, n, "/api/v1/registrations?domain="+fsDomain) {
			if r["user"] == "1001" && r["domain"] == fsDomain && r["switch"] == "fs1" &&
				strings.Contains(fmt.Sprint(r["contact"]), contactURI) {
				return true
			}
		}
		return false
	})
	code, m = do(t, "GET", n.base+"/dcp/onlinephone/list?token="+url.QueryEscape(n.token)+"&dcp="+fsDomain, "", "")
	if code != http.StatusOK {
		t.Fatalf("dcp onlinephone/list: %d %v", code, m)
	}
	if data, _ := m["data"].([]any); len(data) != 1 || !strings.Contains(mustJSON(data[0]), `"phonenumber":"1001"`) ||
		!strings.Contains(mustJSON(data[0]), `"switch":"fs1"`) {
		t.Errorf("dcp onlinephone/list = %v, want 1001 on fs1", m)
	}

	// 3. A call: each leg arrives twice, once over ESL and once from
	// mod_json_cdr, and is stored once.
	writtenBefore := metric(t, n.base, "switchboard_cdr_records_written_total")
	dupsBefore := metric(t, n.base, "switchboard_cdr_duplicates_total")
	caller, callee := n.srv.CompleteCall("1001@"+fsDomain, "1002@"+fsDomain, 3*time.Second)
	legs := func() map[string]int {
		count := map[string]int{}
		for _, c := range items(t, n, "/api/v1/cdrs?switch=fs1&limit=1000") {
			count[fmt.Sprint(c["call_id"])]++
		}
		return count
	}
	within(t, time.Second, "both legs in /api/v1/cdrs", func() bool {
		c := legs()
		return c[caller] > 0 && c[callee] > 0
	})
	switchtest.WaitFor(t, "mod_json_cdr's POSTs answered", func() bool { return n.srv.CDRsPending() == 0 })
	if f := n.srv.CDRsFailed(); f != 0 {
		t.Errorf("%d json_cdr records were refused by the daemon", f)
	}
	switchtest.WaitFor(t, "every leg's second copy counted as a duplicate", func() bool {
		return metric(t, n.base, "switchboard_cdr_duplicates_total")-dupsBefore >= 2
	})
	if w, d := metric(t, n.base, "switchboard_cdr_records_written_total")-writtenBefore,
		metric(t, n.base, "switchboard_cdr_duplicates_total")-dupsBefore; w != 2 || d != 2 {
		t.Errorf("records written %v, duplicates %v; want 2 and 2 (two legs, each from ESL and json_cdr)", w, d)
	}
	if got, want := legs(), map[string]int{caller: 1, callee: 1}; !equalCounts(got, want) {
		t.Errorf("CDR rows by call_id = %v, want one per leg %v", got, want)
	}

	// 4. An account created through the API registers at once: the next
	// digest check mod_xml_curl makes is answered with its a1-hash.
	code, m = do(t, "POST", n.base+"/api/v1/accounts", n.token, `{"domain":"`+fsDomain+`","username":"3001","secret":"s3cret-3001"}`)
	if code != http.StatusCreated {
		t.Fatalf("account: %d %v", code, m)
	}
	accountID := m["id"]
	xmlCurl := n.base + "/freeswitch/fs1/xml-curl"
	form := sipAuthForm(t, "3001", fsDomain)
	guardCases := []struct {
		name, url, user, password, body string
		want                            int
	}{
		{name: "xml-curl with the guard's credentials", url: xmlCurl, user: fsHTTPUser, password: fsHTTPPassword, body: form, want: http.StatusOK},
		{name: "xml-curl without credentials", url: xmlCurl, body: form, want: http.StatusUnauthorized},
		{name: "xml-curl with a wrong password", url: xmlCurl, user: fsHTTPUser, password: "guess", body: form, want: http.StatusUnauthorized},
		{name: "json_cdr without credentials", url: n.base + "/freeswitch/fs1/cdr?uuid=x", body: `{}`, want: http.StatusUnauthorized},
		{name: "another node's xml-curl", url: n.base + "/freeswitch/fs2/xml-curl", user: fsHTTPUser, password: fsHTTPPassword, body: form, want: http.StatusNotFound},
	}
	for _, tc := range guardCases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postForm(t, tc.url, tc.user, tc.password, tc.body)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			if code != http.StatusOK {
				if strings.Contains(body, "a1-hash") || strings.Contains(body, md5Hex("3001:"+fsDomain+":s3cret-3001")) {
					t.Errorf("a refused request got the credential: %s", body)
				}
				return
			}
			if got, want := a1Hash(t, body, "3001"), md5Hex("3001:"+fsDomain+":s3cret-3001"); got != want {
				t.Errorf("a1-hash = %q, want md5(3001:%s:s3cret-3001) = %s\n%s", got, fsDomain, want, body)
			}
			if strings.Contains(body, "s3cret-3001") {
				t.Error("the directory answer holds the plaintext secret")
			}
		})
	}
	// A user that does not exist in a provisioned domain is answered with
	// the domain alone, so FreeSWITCH's static directory cannot answer
	// for it (issue 12 item 17); in a domain Switchboard does not have it
	// is not found, so FreeSWITCH falls back to its own files.
	if code, body := postForm(t, xmlCurl, fsHTTPUser, fsHTTPPassword, sipAuthForm(t, "3999", fsDomain)); code != http.StatusOK ||
		!strings.Contains(body, `<domain name="`+fsDomain+`">`) || strings.Contains(body, "<user") || strings.Contains(body, `status="not found"`) {
		t.Errorf("unknown user: %d %s, want the domain without users", code, body)
	}
	if code, body := postForm(t, xmlCurl, fsHTTPUser, fsHTTPPassword, sipAuthForm(t, "3999", "elsewhere.example")); code != http.StatusOK ||
		!strings.Contains(body, `status="not found"`) {
		t.Errorf("unknown user of an unknown domain: %d %s, want the not-found document", code, body)
	}

	// A new secret: the registrations made with the old one are flushed,
	// and the next digest check gets the new a1-hash.
	flush := "sofia profile internal flush_inbound_reg 3001@" + fsDomain
	code, m = do(t, "PATCH", fmt.Sprintf("%s/api/v1/accounts/%v", n.base, accountID), n.token, `{"secret":"n3w-s3cret-3001"}`)
	if code != http.StatusOK {
		t.Fatalf("change secret: %d %v", code, m)
	}
	within(t, 3*time.Second, "flush_inbound_reg sent to the node", func() bool {
		for _, c := range n.srv.Commands() {
			if strings.HasSuffix(c, " "+flush) {
				return true
			}
		}
		return false
	})
	for _, c := range n.srv.Commands() {
		if strings.Contains(c, "s3cret-3001") {
			t.Errorf("an ESL command carries a secret: %q", c)
		}
	}
	code, body := postForm(t, xmlCurl, fsHTTPUser, fsHTTPPassword, form)
	if got, want := a1Hash(t, body, "3001"), md5Hex("3001:"+fsDomain+":n3w-s3cret-3001"); code != http.StatusOK || got != want {
		t.Errorf("after the change: %d a1-hash %q, want %s", code, got, want)
	}

	// 5. A strong password draws no warning, and no password is logged.
	log := n.log.String()
	for _, s := range []string{"ClueCon", eslPassword, fsHTTPPassword, "s3cret-3001"} {
		if strings.Contains(log, s) {
			t.Errorf("the log mentions %q:\n%s", s, log)
		}
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The daemon warns, once and naming the node, when a FreeSWITCH node is
// reached with mod_event_socket's well-known default password, and only
// then.
func TestServeWarnsOfFreeSWITCHDefaultPassword(t *testing.T) {
	for _, tc := range []struct {
		password string
		warn     bool
	}{
		{password: esltest.DefaultPassword, warn: true},
		{password: "esl-S3cret-fs1", warn: false},
	} {
		t.Run(tc.password, func(t *testing.T) {
			n := startFSNode(t, tc.password)
			var warnings []string
			for line := range strings.Lines(n.log.String()) {
				if strings.Contains(line, "default event socket password") {
					warnings = append(warnings, line)
				}
			}
			switch {
			case !tc.warn && len(warnings) > 0:
				t.Errorf("warned for a non-default password:\n%s", strings.Join(warnings, ""))
			case tc.warn && len(warnings) != 1:
				t.Errorf("%d warnings about the default password, want 1; log:\n%s", len(warnings), n.log)
			case tc.warn && !(strings.Contains(warnings[0], "level=WARN") && strings.Contains(warnings[0], "switch=fs1")):
				t.Errorf("warning %q: want level WARN naming switch fs1", warnings[0])
			}
			if got := n.srv.Logins(); len(got) == 0 || got[0] != tc.password {
				t.Errorf("ESL logins = %q, want %q", got, tc.password)
			}
		})
	}
}
