package freeswitch

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"
)

// liveEnv names the variable that points the live tests at a real
// FreeSWITCH (see README.md, "Live tests"). Unset, they skip, under CI
// too: CI has no FreeSWITCH, and the recordings and esltest cover the
// same ground there.
const liveEnv = "SWITCHBOARD_TEST_FREESWITCH"

// liveNode is a real FreeSWITCH configured as README.md tells operators,
// and where Switchboard's side of it listens.
type liveNode struct {
	ESL      string // event socket, host:port
	Password string // event_socket.conf.xml's password
	Name     string // the node's name: /freeswitch/<Name>/xml-curl and /cdr
	// HTTP is the address the tests serve xml-curl and cdr on: the host
	// and port of xml_curl.conf.xml's gateway-url and json_cdr.conf.xml's
	// url.
	HTTP                   string
	HTTPUser, HTTPPassword string // gateway-credentials and cred
	SIP                    string // the phone profile's (internal) SIP address
	Domain                 string // the phones' SIP domain
	// CDRErrDir is json_cdr.conf.xml's err-log-dir, read by the test of
	// refused records; that part is skipped when empty.
	CDRErrDir string
	// PIDFile is FreeSWITCH's pid file (freeswitch.pid in its run
	// directory): the heartbeat test stops the process (SIGSTOP) for a
	// few seconds to make a silent node; skipped when empty.
	PIDFile string
	// FallbackDir is a directory of the node's dialplan that its public
	// context includes (NodeConfig.DialplanFallbackDir, e.g.
	// <conf>/dialplan/public), where the 60 s outage test keeps the DID
	// fallback; that test is skipped when empty.
	FallbackDir string
}

// parseLiveNode reads the variable's value:
//
//	esl://:<password>@<host>:<port>?http=127.0.0.1:8093&http_user=…&http_password=…&sip=127.0.0.1:5080&domain=127.0.0.1&name=fs1&cdr_err_dir=/var/log/freeswitch/json_cdr&pid_file=/var/run/freeswitch/freeswitch.pid
//
// Every query key is optional (the defaults are those of README.md's
// example); the password is required.
func parseLiveNode(s string) (liveNode, error) {
	u, err := url.Parse(s)
	if err != nil {
		return liveNode{}, fmt.Errorf("%s: %w", liveEnv, err)
	}
	if u.Scheme != "esl" {
		return liveNode{}, fmt.Errorf("%s: scheme %q, want esl://:password@host:port?…", liveEnv, u.Scheme)
	}
	pw, _ := u.User.Password()
	if pw == "" {
		return liveNode{}, fmt.Errorf("%s: no password: want esl://:password@host:port", liveEnv)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return liveNode{}, fmt.Errorf("%s: ESL address %q: %w", liveEnv, u.Host, err)
	}
	q := u.Query()
	n := liveNode{
		ESL: u.Host, Password: pw,
		Name:         cmp.Or(q.Get("name"), "fs1"),
		HTTP:         cmp.Or(q.Get("http"), "127.0.0.1:8093"),
		HTTPUser:     q.Get("http_user"),
		HTTPPassword: q.Get("http_password"),
		SIP:          cmp.Or(q.Get("sip"), "127.0.0.1:5080"),
		Domain:       cmp.Or(q.Get("domain"), "127.0.0.1"),
		CDRErrDir:    q.Get("cdr_err_dir"),
		PIDFile:      q.Get("pid_file"),
		FallbackDir:  q.Get("fallback_dir"),
	}
	for key, addr := range map[string]string{"http": n.HTTP, "sip": n.SIP} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return liveNode{}, fmt.Errorf("%s: %s=%q: want host:port", liveEnv, key, addr)
		}
	}
	if (n.HTTPUser == "") != (n.HTTPPassword == "") {
		return liveNode{}, fmt.Errorf("%s: http_user and http_password go together", liveEnv)
	}
	for key := range q {
		switch key {
		case "name", "http", "http_user", "http_password", "sip", "domain", "cdr_err_dir", "pid_file", "fallback_dir":
		default:
			return liveNode{}, fmt.Errorf("%s: unknown key %q", liveEnv, key)
		}
	}
	return n, nil
}

// requireLiveNode returns the node the live tests run against, or skips
// the test naming the variable when it is unset (CI included).
func requireLiveNode(t *testing.T) liveNode {
	t.Helper()
	v := os.Getenv(liveEnv)
	if v == "" {
		t.Skipf("live FreeSWITCH test: set %s=esl://:password@127.0.0.1:8021?http=127.0.0.1:8093&… (switch/freeswitch/README.md, Live tests)", liveEnv)
	}
	n, err := parseLiveNode(v)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestParseLiveNode(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    liveNode
		wantErr bool
	}{
		{in: "esl://:pw@127.0.0.1:8021", want: liveNode{ESL: "127.0.0.1:8021", Password: "pw", Name: "fs1",
			HTTP: "127.0.0.1:8093", SIP: "127.0.0.1:5080", Domain: "127.0.0.1"}},
		{in: "esl://:p%40ss@[::1]:8021?name=fs2&http=127.0.0.1:9000&http_user=fs&http_password=x&sip=127.0.0.1:5060&domain=pbx.example.com&cdr_err_dir=/tmp/j&pid_file=/run/fs.pid",
			want: liveNode{ESL: "[::1]:8021", Password: "p@ss", Name: "fs2", HTTP: "127.0.0.1:9000", HTTPUser: "fs", HTTPPassword: "x",
				SIP: "127.0.0.1:5060", Domain: "pbx.example.com", CDRErrDir: "/tmp/j", PIDFile: "/run/fs.pid"}},
		{in: "127.0.0.1:8021", wantErr: true},
		{in: "esl://127.0.0.1:8021", wantErr: true},
		{in: "esl://:pw@127.0.0.1", wantErr: true},
		{in: "esl://:pw@127.0.0.1:8021?http=nowhere", wantErr: true},
		{in: "esl://:pw@127.0.0.1:8021?http_user=fs", wantErr: true},
		{in: "esl://:pw@127.0.0.1:8021?passwd=x", wantErr: true},
	} {
		got, err := parseLiveNode(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: err %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}
