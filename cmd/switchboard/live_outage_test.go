package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLiveDaemonSIGKILL (issue 12 item 13) runs the daemon binary against
// the real nodes the live tests of switch/freeswitch and switch/asterisk
// use (their variables, see those READMEs; each node is optional, the test
// skips when neither is set): provisioned through the API, a phone and a
// DID's account on each node, the DID files configured (FreeSWITCH
// fallback_dir, SWITCHBOARD_TEST_ASTERISK_DIALPLAN). Then the daemon is
// SIGKILLed (and, with SWITCHBOARD_TEST_ASTERISK_RESTART=1, Asterisk
// restarted) and for SWITCHBOARD_TEST_OUTAGE (60 s) the phones REGISTER
// and a carrier calls each DID, with and without its + in turn, every few
// seconds: every attempt must succeed. Back, the daemon deletes what it
// made.
func TestLiveDaemonSIGKILL(t *testing.T) {
	var nodes []liveOutageNode
	if v := os.Getenv("SWITCHBOARD_TEST_FREESWITCH"); v != "" {
		if n := newLiveFS(t, v); n != nil {
			nodes = append(nodes, n)
		}
	}
	if v := os.Getenv("SWITCHBOARD_TEST_ASTERISK"); v != "" {
		if n := newLiveAst(t, v); n != nil {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		t.Skip("set SWITCHBOARD_TEST_FREESWITCH (with fallback_dir) and/or SWITCHBOARD_TEST_ASTERISK (with SWITCHBOARD_TEST_ASTERISK_DIALPLAN): switch/*/README.md, Live tests")
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatalf("sipp is required: %v", err)
	}
	outage := 60 * time.Second
	if v := os.Getenv("SWITCHBOARD_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SWITCHBOARD_TEST_OUTAGE=%q: %v", v, err)
		}
		outage = d
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	listen := "127.0.0.1:0"
	var yaml strings.Builder
	yaml.WriteString("switches:\n")
	for _, n := range nodes {
		yaml.WriteString(n.config())
		listen = cmp.Or(n.listen(), listen)
	}
	conf := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(conf, []byte(yaml.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := []string{"--database-dsn", "sqlite:" + filepath.Join(dir, "sb.db")}
	args := append([]string{"--config", conf, "--http-listen", listen, "--cdr-spool-dir", filepath.Join(dir, "spool")}, dsn...)
	token := tokenVia(t, bin, dir, dsn...)
	p := startProcess(t, bin, dir, args...)
	api := &liveAPI{t: t, base: "http://" + p.addr, token: token}
	tenant := api.create("/api/v1/tenants", `{"name":"live-sigkill"}`)
	for _, n := range nodes {
		n.provision(api, tenant)
	}
	for _, n := range nodes {
		waitUntil(t, 15*time.Second, n.name()+"'s DID file written", n.fileReady)
		if err := n.register(); err != nil {
			t.Fatalf("%s: REGISTER with the daemon up: %v", n.name(), err)
		}
		if err := n.callDID(true); err != nil {
			t.Fatalf("%s: DID call with the daemon up: %v", n.name(), err)
		}
	}

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	killed := time.Now()
	for _, n := range nodes {
		n.afterKill(killed)
	}
	type tally struct{ regs, regsOK, calls, callsOK int }
	counts := make([]tally, len(nodes))
	for round := 0; time.Since(killed) < outage; round++ {
		next := killed.Add(time.Duration(round+1) * 4 * time.Second)
		for i, n := range nodes {
			counts[i].regs++
			if err := n.register(); err != nil {
				t.Errorf("%s, %v after the kill: REGISTER failed: %v", n.name(), time.Since(killed).Round(time.Second), err)
			} else {
				counts[i].regsOK++
			}
			counts[i].calls++
			if err := n.callDID(round%2 == 0); err != nil {
				t.Errorf("%s, %v after the kill: DID call failed: %v", n.name(), time.Since(killed).Round(time.Second), err)
			} else {
				counts[i].callsOK++
			}
		}
		if wait := min(time.Until(next), time.Until(killed.Add(outage))); wait > 0 {
			time.Sleep(wait)
		}
	}
	for i, n := range nodes {
		c := counts[i]
		t.Logf("%s, daemon SIGKILLed %v ago: REGISTERs %d/%d, DID calls %d/%d answered", n.name(),
			time.Since(killed).Round(time.Millisecond), c.regsOK, c.regs, c.callsOK, c.calls)
	}

	// Back: the daemon removes what it made (accounts from Asterisk's
	// astdb, DIDs from both files).
	p = startProcess(t, bin, dir, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the restarted daemon's log:\n%s", lastLines(p.stderr.String(), 80))
		}
	})
	api.base = "http://" + p.addr
	api.deleteAll()
	for _, n := range nodes {
		waitUntil(t, 15*time.Second, n.name()+"'s DID gone from its file", func() bool { return !n.fileReady() })
		waitUntil(t, 15*time.Second, n.name()+"'s accounts gone from the node", n.cleared)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Error(err)
	}
	_ = p.cmd.Wait()
}

// liveOutageNode is one real node of TestLiveDaemonSIGKILL.
type liveOutageNode interface {
	name() string
	config() string // its switches entry
	listen() string // the daemon's listener it needs ("" any)
	provision(api *liveAPI, tenant int64)
	fileReady() bool // the DID file routes the DID
	cleared() bool   // the node holds none of the accounts any more
	register() error
	callDID(plus bool) error
	afterKill(killed time.Time)
}

// liveAPI calls the daemon's native API.
type liveAPI struct {
	t           *testing.T
	base, token string
	made        []string // paths of what was created, for deletion
}

func (a *liveAPI) create(path, body string) int64 {
	a.t.Helper()
	code, m := do(a.t, "POST", a.base+path, a.token, body)
	if code != http.StatusCreated {
		a.t.Fatalf("POST %s %s: %d %v", path, body, code, m)
	}
	id := int64(m["id"].(float64))
	a.made = append(a.made, fmt.Sprintf("%s/%d", path, id))
	return id
}

// deleteAll deletes everything create made, last first (a DID before its
// account, an account before its domain).
func (a *liveAPI) deleteAll() {
	for i := len(a.made) - 1; i >= 0; i-- {
		if code, m := do(a.t, "DELETE", a.base+a.made[i], a.token, ""); code != http.StatusNoContent {
			a.t.Errorf("DELETE %s: %d %v", a.made[i], code, m)
		}
	}
}

// liveSipp runs one sipp scenario of dir to completion and reports
// whether it completed.
func liveSipp(dir, scenario string, timeout time.Duration, args ...string) error {
	abs, err := filepath.Abs(filepath.Join(dir, scenario))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	all := append([]string{"-sf", abs, "-m", "1", "-nostdin", "-timeout", strconv.Itoa(int(timeout.Seconds())) + "s", "-timeout_error"}, args...)
	cmd := exec.CommandContext(ctx, "sipp", all...)
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sipp %s: %w: %s", scenario, err, lastLines(string(out), 3))
	}
	return nil
}

// liveUAS starts a sipp answering one call on port and returns a function
// that waits for it (or kills it when the call failed).
func liveUAS(scenario string, port int, args ...string) (func(ok bool), error) {
	abs, err := filepath.Abs(scenario)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("sipp", append([]string{"-sf", abs, "-m", "1", "-nostdin", "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-timeout", "20s"}, args...)...)
	cmd.Dir = os.TempDir()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
			break // bound by sipp
		} else {
			c.Close()
		}
	}
	return func(ok bool) {
		if !ok {
			_ = cmd.Process.Kill()
		}
		<-done
	}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

func freeUDP(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
	}
}

// liveFS is a FreeSWITCH node (SWITCHBOARD_TEST_FREESWITCH, which must
// carry fallback_dir).
type liveFS struct {
	t                                  *testing.T
	esl, password, http, user, pass    string
	sip, external, domain, fallbackDir string
	phone, callee, did                 string
	uasPort                            int
}

func newLiveFS(t *testing.T, v string) *liveFS {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "esl" {
		t.Fatalf("SWITCHBOARD_TEST_FREESWITCH=%q: want esl://:password@host:port?…", v)
	}
	q := u.Query()
	pw, _ := u.User.Password()
	n := &liveFS{t: t, esl: u.Host, password: pw, http: cmp.Or(q.Get("http"), "127.0.0.1:8093"),
		user: q.Get("http_user"), pass: q.Get("http_password"), sip: cmp.Or(q.Get("sip"), "127.0.0.1:5080"),
		domain: cmp.Or(q.Get("domain"), "127.0.0.1"), fallbackDir: q.Get("fallback_dir")}
	if n.fallbackDir == "" {
		t.Log("SWITCHBOARD_TEST_FREESWITCH has no fallback_dir: the DID fallback cannot be kept, FreeSWITCH left out")
		return nil
	}
	n.external = n.externalAddress()
	base := 7600000 + int(time.Now().UnixMilli()%90000)*10
	n.phone, n.callee = strconv.Itoa(base+1), strconv.Itoa(base+2)
	n.did = "+1557" + n.callee
	n.uasPort = freeUDP(t)
	return n
}

// externalAddress asks the node for the external profile's address
// (`sofia xmlstatus` over ESL).
func (n *liveFS) externalAddress() string {
	c, err := net.DialTimeout("tcp", n.esl, 5*time.Second)
	if err != nil {
		n.t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	read := func() string { // one ESL frame's body
		length := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				n.t.Fatal(err)
			}
			if line == "\n" {
				break
			}
			if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		b := make([]byte, length)
		if _, err := io.ReadFull(r, b); err != nil {
			n.t.Fatal(err)
		}
		return string(b)
	}
	read() // auth/request
	fmt.Fprintf(c, "auth %s\n\n", n.password)
	read()
	fmt.Fprint(c, "api sofia xmlstatus\n\n")
	body := read()
	var doc struct {
		Profiles []struct {
			Name string `xml:"name"`
			Data string `xml:"data"`
		} `xml:"profile"`
	}
	// The declaration names ISO-8859-1, which encoding/xml does not
	// decode; the document is ASCII.
	if _, rest, ok := strings.Cut(body, "?>"); ok {
		body = rest
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		n.t.Fatalf("sofia xmlstatus: %v", err)
	}
	for _, p := range doc.Profiles {
		if _, addr, ok := strings.Cut(p.Data, "@"); ok && p.Name == "external" && !strings.Contains(p.Data, "transport=") {
			return addr
		}
	}
	n.t.Fatalf("no external profile in %s", body)
	return ""
}

func (n *liveFS) name() string   { return "fs1" }
func (n *liveFS) listen() string { return n.http }
func (n *liveFS) config() string {
	return fmt.Sprintf("  - name: fs1\n    type: freeswitch\n    esl: %s\n    password: %q\n    domain: %s\n    http_user: %q\n    http_password: %q\n    http_allow: [127.0.0.1]\n    dialplan_fallback_dir: %s\n",
		n.esl, n.password, n.domain, n.user, n.pass, n.fallbackDir)
}

func (n *liveFS) provision(api *liveAPI, tenant int64) {
	api.create("/api/v1/domains", fmt.Sprintf(`{"tenant_id":%d,"name":%q}`, tenant, n.domain))
	var callee int64
	for _, u := range []string{n.phone, n.callee} {
		callee = api.create("/api/v1/accounts", fmt.Sprintf(`{"domain":%q,"username":%q,"secret":"live-%s-secret"}`, n.domain, u, u))
	}
	// The DID goes through the tenant's routing (issue 13): an extension
	// to a ring-all hunt group of the callee, kept for the outage in the
	// routing fallback file (the tenant's context) and the DID file (the
	// transfer into it).
	hg := api.create("/api/v1/hunt-groups", fmt.Sprintf(`{"tenant_id":%d,"number":"500","name":"outage","strategy":"ring_all","members":[{"destination":{"type":"account","id":%d}}]}`, tenant, callee))
	x := api.create("/api/v1/extensions", fmt.Sprintf(`{"tenant_id":%d,"number":"100","destination":{"type":"hunt_group","id":%d}}`, tenant, hg))
	api.create("/api/v1/dids", fmt.Sprintf(`{"tenant_id":%d,"number":%q,"destination":{"type":"extension","id":%d}}`, tenant, n.did, x))
}

func (n *liveFS) cleared() bool { return true } // FreeSWITCH holds nothing of an account

func (n *liveFS) fileReady() bool {
	dids, _ := os.ReadFile(filepath.Join(n.fallbackDir, "00_switchboard_dids.xml"))
	routing, _ := os.ReadFile(filepath.Join(filepath.Dir(n.fallbackDir), "00_switchboard_routing.xml"))
	return strings.Contains(string(dids), `name="did-`+n.did+`"`) && strings.Contains(string(routing), `user/`+n.callee+`@`+n.domain)
}

const fsSipp = "../../switch/freeswitch/testdata/sipp"

func (n *liveFS) registerAs(user string, contact, holdMS int) error {
	port := freeUDP(n.t)
	return liveSipp(fsSipp, "phone_register.xml", 20*time.Second, "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-s", user, "-au", user, "-ap", "live-"+user+"-secret", "-key", "contact_port", strconv.Itoa(cmp.Or(contact, port)),
		"-d", strconv.Itoa(holdMS), "-recv_timeout", "3000", n.sip)
}

func (n *liveFS) register() error { return n.registerAs(n.phone, 0, 0) }

func (n *liveFS) callDID(plus bool) error {
	dest := n.did
	if !plus {
		dest = strings.TrimPrefix(dest, "+")
	}
	// The callee registers (its lookup cached) with the UAS's port, and
	// never un-REGISTERs: sipp is stopped by its timeout first.
	go func() { _ = n.registerAs(n.callee, n.uasPort, 60000) }()
	time.Sleep(500 * time.Millisecond)
	wait, err := liveUAS(filepath.Join(fsSipp, "phone_answer.xml"), n.uasPort, "-s", n.callee)
	if err != nil {
		return err
	}
	err = liveSipp(fsSipp, "carrier_call.xml", 15*time.Second, "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDP(n.t)),
		"-s", "carrier", "-key", "dest", dest, "-d", "300", "-recv_timeout", "5000", n.external)
	wait(err == nil)
	return err
}

func (n *liveFS) afterKill(time.Time) {}

// liveAst is an Asterisk node (SWITCHBOARD_TEST_ASTERISK and its _SIP,
// _CLI, _DIALPLAN and _RESTART variables).
type liveAst struct {
	t                        *testing.T
	url, user, pass, sip, dp string
	cli                      []string
	restart                  bool
	routing                  bool // SWITCHBOARD_TEST_ROUTING=1: the DID → extension → ring-all group
	phone, callee, did, gw   string
	phonePort, calleePort    int
}

const astDomain = "live-sigkill.example.com"

func newLiveAst(t *testing.T, v string) *liveAst {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		t.Fatal("SWITCHBOARD_TEST_ASTERISK: want http://user:password@host:8088/ari")
	}
	n := &liveAst{t: t, user: u.User.Username(), sip: os.Getenv("SWITCHBOARD_TEST_ASTERISK_SIP"),
		dp: os.Getenv("SWITCHBOARD_TEST_ASTERISK_DIALPLAN"), cli: strings.Fields(os.Getenv("SWITCHBOARD_TEST_ASTERISK_CLI")),
		restart: os.Getenv("SWITCHBOARD_TEST_ASTERISK_RESTART") == "1", routing: os.Getenv("SWITCHBOARD_TEST_ROUTING") == "1"}
	n.pass, _ = u.User.Password()
	u.User = nil
	n.url = u.String()
	if n.dp == "" {
		t.Log("SWITCHBOARD_TEST_ASTERISK_DIALPLAN is not set: the generated dialplan cannot be kept, Asterisk left out")
		return nil
	}
	if n.restart && len(n.cli) == 0 {
		t.Fatal("SWITCHBOARD_TEST_ASTERISK_RESTART=1 needs SWITCHBOARD_TEST_ASTERISK_CLI")
	}
	base := 7700000 + int(time.Now().UnixMilli()%90000)*10
	n.phone, n.callee = strconv.Itoa(base+1), strconv.Itoa(base+2)
	n.did, n.gw = "+1558"+n.callee, "sblive-sigkill-"+strconv.Itoa(base)
	n.phonePort, n.calleePort = freeUDP(t), freeUDP(t)
	return n
}

func (n *liveAst) name() string   { return "ast1" }
func (n *liveAst) listen() string { return "" }
func (n *liveAst) config() string {
	c := fmt.Sprintf("  - name: ast1\n    type: asterisk\n    url: %s\n    user: %q\n    password: %q\n    app: sblive-sigkill\n    domain: %s\n    metrics_url: \"-\"\n    dialplan_file: %s\n",
		n.url, n.user, n.pass, astDomain, n.dp)
	if n.routing {
		c += "    routing: true\n"
	}
	return c
}

func (n *liveAst) provision(api *liveAPI, tenant int64) {
	api.create("/api/v1/domains", fmt.Sprintf(`{"tenant_id":%d,"name":%q}`, tenant, astDomain))
	var callee int64
	for _, u := range []string{n.phone, n.callee} {
		callee = api.create("/api/v1/accounts", fmt.Sprintf(`{"domain":%q,"username":%q,"secret":"live-%s-secret"}`, astDomain, u, u))
	}
	if n.routing {
		// The call goes through the tenant's routing (issue 13): DID →
		// extension 8100 → ring-all hunt group 8500 → the callee.
		hg := api.create("/api/v1/hunt-groups", fmt.Sprintf(`{"tenant_id":%d,"number":"8500","name":"sigkill","strategy":"ring_all","members":[{"destination":{"type":"account","id":%d}}]}`, tenant, callee))
		x := api.create("/api/v1/extensions", fmt.Sprintf(`{"tenant_id":%d,"number":"8100","destination":{"type":"hunt_group","id":%d}}`, tenant, hg))
		api.create("/api/v1/dids", fmt.Sprintf(`{"tenant_id":%d,"number":%q,"destination":{"type":"extension","id":%d}}`, tenant, n.did, x))
	} else {
		api.create("/api/v1/dids", fmt.Sprintf(`{"tenant_id":%d,"number":%q,"account_id":%d}`, tenant, n.did, callee))
	}
	// A carrier: calls from 127.0.0.2 land in from-gateway.
	api.create("/api/v1/gateways", fmt.Sprintf(`{"name":%q,"host":"127.0.0.2","port":5060,"transport":"udp","register":false}`, n.gw))
}

// cleared reports whether ARI answers 404 for both accounts' endpoints:
// the daemon deleted them from astdb.
func (n *liveAst) cleared() bool {
	for _, u := range []string{n.phone, n.callee} {
		req, _ := http.NewRequest(http.MethodGet, n.url+"/asterisk/config/dynamic/res_pjsip/endpoint/"+u, nil)
		req.SetBasicAuth(n.user, n.pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			return false
		}
	}
	return true
}

func (n *liveAst) fileReady() bool {
	b, _ := os.ReadFile(n.dp)
	return strings.Contains(string(b), "Dial(PJSIP/"+n.callee+",") && strings.Contains(string(b), "exten => "+n.did+",1,")
}

const astSipp = "../../switch/asterisk/testdata/sipp"

func (n *liveAst) registerAs(user string, contact, expires int) error {
	return liveSipp(astSipp, "register_uac.xml", 10*time.Second, "-t", "u1", "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDP(n.t)),
		"-s", user, "-au", user, "-ap", "live-"+user+"-secret", "-key", "domain", astDomain,
		"-key", "contact", "127.0.0.1:"+strconv.Itoa(contact), "-key", "expires", strconv.Itoa(expires), n.sip)
}

func (n *liveAst) register() error { return n.registerAs(n.phone, n.phonePort, 60) }

func (n *liveAst) callDID(plus bool) error {
	dest := n.did
	if !plus {
		dest = strings.TrimPrefix(dest, "+")
	}
	if err := n.registerAs(n.callee, n.calleePort, 300); err != nil {
		return fmt.Errorf("the callee's REGISTER: %w", err)
	}
	scenario, err := os.ReadFile(filepath.Join(astSipp, "answer_uas.xml"))
	if err != nil {
		return err
	}
	uasFile := filepath.Join(n.t.TempDir(), "answer_uas.xml")
	if err := os.WriteFile(uasFile, []byte(strings.ReplaceAll(string(scenario), "HOLD_MS", "300")), 0o644); err != nil {
		return err
	}
	wait, err := liveUAS(uasFile, n.calleePort, "-t", "u1")
	if err != nil {
		return err
	}
	err = liveSipp(astSipp, "carrier_uac.xml", 15*time.Second, "-t", "u1", "-i", "127.0.0.2", "-p", strconv.Itoa(freeUDP(n.t)),
		"-key", "callee", dest, n.sip)
	wait(err == nil)
	return err
}

// afterKill restarts the node when asked to and waits until it has
// fully booted (a new process: uptime shorter than the time since).
func (n *liveAst) afterKill(killed time.Time) {
	if !n.restart {
		return
	}
	cli := func(cmd string) string {
		out, _ := exec.Command(n.cli[0], append(n.cli[1:], cmd)...).CombinedOutput()
		return string(out)
	}
	restarted := time.Now()
	cli("core restart now")
	uptime := regexp.MustCompile(`System uptime: (\d+)`)
	waitUntil(n.t, 60*time.Second, "Asterisk back from its restart", func() bool {
		m := uptime.FindStringSubmatch(cli("core show uptime seconds"))
		if m == nil {
			return false
		}
		secs, _ := strconv.Atoi(m[1])
		return time.Duration(secs)*time.Second <= time.Since(restarted)
	})
	cli("core waitfullybooted")
	n.t.Logf("ast1: restarted with the daemon dead; fully booted %v after the kill", time.Since(killed).Round(time.Millisecond))
}
