package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/sip"
	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

func TestParseSIPURI(t *testing.T) {
	tests := []struct {
		in                       string
		wantHostPort, wantTransp string
		wantErr                  string
	}{
		{"sip:127.0.0.1:5060;transport=udp", "127.0.0.1:5060", "udp", ""},
		{"sip:127.0.0.1", "127.0.0.1:5060", "udp", ""},
		{"SIP:pbx.example.com;transport=TCP", "pbx.example.com:5060", "tcp", ""},
		{"sips:pbx.example.com", "pbx.example.com:5061", "tls", ""},
		{"sip:pbx.example.com;transport=tls", "pbx.example.com:5061", "tls", ""},
		{"sip:1001@192.0.2.10:5062;ob;transport=udp?X-Foo=bar", "192.0.2.10:5062", "udp", ""},
		{"sip:1001:pw@[2001:db8::1]:5070;transport=tcp", "[2001:db8::1]:5070", "tcp", ""},
		{"sip:1001@[2001:db8::1]", "[2001:db8::1]:5060", "udp", ""},
		{"http://127.0.0.1:5060", "", "", "must be a sip: or sips: URI"},
		{"sip:", "", "", "has no host"},
		{"127.0.0.1:5060", "", "", "must be a sip: or sips: URI"},
		{"sip:127.0.0.1:", "", "", "has an empty port"},
		{"sip:127.0.0.1:0", "", "", "has an invalid port"},
		{"sip:127.0.0.1:http", "", "", "has an invalid port"},
		{"sip:1001@[2001:db8::1", "", "", "unclosed"},
		{"sip:[nonsense]:5060", "", "", "invalid IPv6"},
		{"sip:[::1]x", "", "", "junk"},
		{"sip:1001@", "", "", "has no valid host"},
		{"sip:a b", "", "", "has no valid host"},
		{"sip:127.0.0.1;transport=ws", "", "", `transport "ws"`},
	}
	for _, tc := range tests {
		u, err := parseSIPURI(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseSIPURI(%q) err = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || u.HostPort() != tc.wantHostPort || u.Transport() != tc.wantTransp {
			t.Errorf("parseSIPURI(%q) = %s over %s, %v; want %s over %s", tc.in, u.HostPort(), u.Transport(), err, tc.wantHostPort, tc.wantTransp)
		}
	}
}

func FuzzParseSIPURI(f *testing.F) {
	for _, s := range []string{"sip:127.0.0.1:5060;transport=udp", "sips:[::1]:5061", "sip:u@h;ob?x=y", "sip:[", "sip::", "sip:@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseSIPURI(s)
		if err != nil {
			return
		}
		if _, _, err := net.SplitHostPort(u.HostPort()); err != nil {
			t.Errorf("parseSIPURI(%q) accepted, but its host:port %q does not split: %v", s, u.HostPort(), err)
		}
		if tr := u.Transport(); tr != "udp" && tr != "tcp" && tr != "tls" {
			t.Errorf("parseSIPURI(%q) transport %q", s, tr)
		}
	})
}

func TestGatewayTarget(t *testing.T) {
	tenant := int64(7)
	tests := []struct {
		gw   provisioning.Gateway
		want sip.Target
	}{
		{provisioning.Gateway{Name: "gw1", Host: "sip.carrier.net", Port: 5060, Transport: provisioning.TransportUDP, TenantID: &tenant},
			sip.Target{Kind: "gateway", Name: "gw1", URI: "sip:sip.carrier.net:5060;transport=udp", Transport: "udp", TenantID: &tenant}},
		{provisioning.Gateway{Name: "gw2", Host: "10.0.0.1", Port: 5080, Transport: provisioning.TransportTCP, QualifySecs: 15},
			sip.Target{Kind: "gateway", Name: "gw2", URI: "sip:10.0.0.1:5080;transport=tcp", Transport: "tcp", Interval: 15 * time.Second}},
		{provisioning.Gateway{Name: "gw3", Host: "2001:db8::5", Port: 5061, Transport: provisioning.TransportTLS},
			sip.Target{Kind: "gateway", Name: "gw3", URI: "sip:[2001:db8::5]:5061;transport=tls", Transport: "tls"}},
		{provisioning.Gateway{Name: "gw4", Host: "2001:db8::6"},
			sip.Target{Kind: "gateway", Name: "gw4", URI: "sip:[2001:db8::6];transport=udp", Transport: "udp"}},
	}
	for _, tc := range tests {
		if got := gatewayTarget(&tc.gw); !sameTarget(got, tc.want) {
			t.Errorf("gatewayTarget(%s) = %+v, want %+v", tc.gw.Name, got, tc.want)
		}
		if _, err := parseSIPURI(gatewayTarget(&tc.gw).URI); err != nil {
			t.Errorf("gateway %s: the URI does not parse back: %v", tc.gw.Name, err)
		}
	}
}

func TestContactTarget(t *testing.T) {
	reg := func(contact, addr, transport string) *presence.Registration {
		return &presence.Registration{User: "1001", Domain: "a.example.com", Contact: contact, Address: addr, Transport: transport}
	}
	tests := []struct {
		name string
		reg  *presence.Registration
		want sip.Target
		ok   bool
	}{
		{"direct", reg("sip:1001@192.0.2.10:5060", "192.0.2.10:5060", "udp"),
			sip.Target{URI: "sip:1001@192.0.2.10:5060", Transport: "udp"}, true},
		{"default port", reg("sip:1001@192.0.2.10", "192.0.2.10:5060", "UDP"),
			sip.Target{URI: "sip:1001@192.0.2.10", Transport: "udp"}, true},
		{"behind NAT", reg("sip:1001@10.0.0.5:5062;ob", "198.51.100.7:40001", "udp"),
			sip.Target{URI: "sip:1001@10.0.0.5:5062;ob", Addr: "198.51.100.7:40001", Transport: "udp"}, true},
		{"transport left to the URI", reg("sip:1001@[2001:db8::1]:5060;transport=tcp", "", ""),
			sip.Target{URI: "sip:1001@[2001:db8::1]:5060;transport=tcp"}, true},
		{"websocket", reg("sip:1001@df7jal23ls0d.invalid;transport=ws", "192.0.2.10:443", "wss"), sip.Target{}, false},
		{"junk contact", reg("<sip:1001@x>", "192.0.2.10:5060", "udp"), sip.Target{}, false},
	}
	for _, tc := range tests {
		got, ok := contactTarget(tc.reg, time.Minute)
		if ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		tc.want.Kind, tc.want.Name, tc.want.Domain, tc.want.Interval = "contact", "1001@a.example.com "+tc.reg.Contact, "a.example.com", time.Minute
		if !sameTarget(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// fakeProber records what the wiring sets and serves canned results.
type fakeProber struct {
	mu      sync.Mutex
	targets []sip.Target
	checks  []sip.RegisterCheck
	sets    int
	results []sip.Result
	regs    []sip.RegisterResult
}

func (f *fakeProber) SetTargets(ts []sip.Target) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets, f.sets = slices.Clone(ts), f.sets+1
}

func (f *fakeProber) SetRegisterChecks(cs []sip.RegisterCheck) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = slices.Clone(cs)
}

func (f *fakeProber) Results() []sip.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.results)
}

func (f *fakeProber) Result(kind sip.Kind, name string) (sip.Result, bool) {
	for _, r := range f.Results() {
		if r.Kind == kind && r.Name == name {
			return r, true
		}
	}
	return sip.Result{}, false
}

func (f *fakeProber) RegisterResults() []sip.RegisterResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.regs)
}

// targetNames lists kind/name of what the prober was last given.
func (f *fakeProber) targetNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, t := range f.targets {
		out = append(out, string(t.Kind)+"/"+t.Name)
	}
	return out
}

func (f *fakeProber) targetList() []sip.Target {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.targets)
}

func (f *fakeProber) checkList() []sip.RegisterCheck {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.checks)
}

// The wiring keeps the prober's targets in step with provisioning, the
// switches' configuration and the registrations of the qualify domains;
// a register check whose probe account is missing is logged and runs as
// soon as the account is created.
func TestProbeWiring(t *testing.T) {
	contactRefresh, probeRetry = 20*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() { contactRefresh, probeRetry = 5*time.Second, 30*time.Second })
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc := provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4))
	admin := provisioning.AdminScope()
	tenant := &provisioning.Tenant{Name: "acme"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.CreateTenant(ctx, admin, tenant))
	for _, d := range []string{"a.example.com", "b.example.com"} {
		must(svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: tenant.ID, Name: d}))
	}
	must(svc.CreateGateway(ctx, admin, &provisioning.Gateway{Name: "gw1", Host: "192.0.2.1", TenantID: &tenant.ID}))

	view := presence.New()
	feed := view.Feed("ast1")
	for _, r := range []presence.Registration{
		{User: "1001", Domain: "a.example.com", Contact: "sip:1001@10.0.0.5:5060", Address: "198.51.100.7:4000", Transport: "udp"},
		{User: "2001", Domain: "b.example.com", Contact: "sip:2001@10.0.0.6:5060", Address: "10.0.0.6:5060", Transport: "udp"},
	} {
		r.Expires, r.Status = time.Now().Add(time.Hour), presence.ContactReachable
		feed.PutRegistration(r)
	}

	cfg := DefaultConfig()
	cfg.SIP.Enabled, cfg.SIP.QualifyDomains, cfg.SIP.QualifyInterval = true, []string{"A.example.com"}, time.Minute
	cfg.Switches = []SwitchConfig{
		{Name: "ast1", Type: "asterisk", SIPURI: "sip:127.0.0.1:5060;transport=tcp", RegisterCheck: "probe@A.example.com", RegisterCheckInterval: time.Minute},
		{Name: "ast2", Type: "asterisk"},
	}
	logs := &syncBuffer{}
	fp := &fakeProber{}
	w := newProbeWiring(cfg, fp, svc, view, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	svc.AddSink(w)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	want := []string{"contact/1001@a.example.com sip:1001@10.0.0.5:5060", "gateway/gw1", "switch/ast1"}
	switchtest.WaitFor(t, "the first targets", func() bool { return slices.Equal(fp.targetNames(), want) })
	for _, tg := range fp.targetList() {
		if tg.Kind == "contact" && (tg.Addr != "198.51.100.7:4000" || tg.Interval != time.Minute || tg.Domain != "a.example.com") {
			t.Errorf("contact target %+v", tg)
		}
		if tg.Kind == "gateway" && (tg.TenantID == nil || *tg.TenantID != tenant.ID || tg.URI != "sip:192.0.2.1:5060;transport=udp") {
			t.Errorf("gateway target %+v", tg)
		}
	}
	switchtest.WaitFor(t, "the missing probe account logged", func() bool {
		return strings.Contains(logs.String(), "probe account probe@A.example.com is not provisioned")
	})
	if len(fp.checkList()) != 0 {
		t.Errorf("checks without the account: %+v", fp.checkList())
	}
	if rc, ok := w.ProbeResult(api.ProbeRegisterCheck, "ast1"); !ok || rc.Status != api.ProbeUnknown || !strings.Contains(rc.Reason, "not provisioned") ||
		rc.URI != "sip:127.0.0.1:5060;transport=tcp" || rc.Transport != "tcp" {
		t.Errorf("register check without its account: %+v, %v", rc, ok)
	}
	time.Sleep(3 * probeRetry) // retried, but logged once at error level
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines, want 1:\n%s", n, logs)
	}

	// The probe account appears: the check starts with its secret.
	must(svc.CreateAccount(ctx, admin, &provisioning.Account{Domain: "a.example.com", Username: "probe", Secret: "probe-Secret-1"}))
	switchtest.WaitFor(t, "the register check", func() bool { return len(fp.checkList()) == 1 })
	if c := fp.checkList()[0]; c != (sip.RegisterCheck{Name: "ast1", Registrar: "sip:127.0.0.1:5060;transport=tcp", Transport: "tcp",
		Domain: "a.example.com", Username: "probe", Password: "probe-Secret-1", Interval: time.Minute}) {
		t.Errorf("register check %+v", c)
	}
	if !strings.Contains(logs.String(), "register check running") {
		t.Errorf("the recovery is not logged:\n%s", logs)
	}
	// A new secret reaches the check.
	acct, err := svc.AccountByUsername(ctx, admin, "a.example.com", "probe")
	must(err)
	_, err = svc.UpdateAccount(ctx, admin, acct.ID, func(a *provisioning.Account) error { a.Secret = "probe-Secret-2"; return nil })
	must(err)
	switchtest.WaitFor(t, "the new secret", func() bool { c := fp.checkList(); return len(c) == 1 && c[0].Password == "probe-Secret-2" })

	// Gateways follow provisioning, contacts the presence view.
	must(svc.CreateGateway(ctx, admin, &provisioning.Gateway{Name: "gw2", Host: "192.0.2.2", Port: 5080, Transport: provisioning.TransportTCP}))
	gw1, err := svc.GatewayByName(ctx, admin, "gw1")
	must(err)
	must(svc.DeleteGateway(ctx, admin, gw1.ID))
	feed.DeleteRegistration("a.example.com", "1001", "sip:1001@10.0.0.5:5060")
	want = []string{"gateway/gw2", "switch/ast1"}
	switchtest.WaitFor(t, "gw1 and the contact gone, gw2 there", func() bool { return slices.Equal(fp.targetNames(), want) })

	// Nothing changes: the prober is not handed the same targets again.
	fp.mu.Lock()
	sets := fp.sets
	fp.mu.Unlock()
	time.Sleep(5 * contactRefresh)
	fp.mu.Lock()
	if fp.sets != sets {
		t.Errorf("targets set %d more times without a change", fp.sets-sets)
	}
	// The results, adapted for the APIs.
	at := time.Now()
	fp.results = []sip.Result{
		{Target: sip.Target{Kind: "switch", Name: "ast1", URI: "sip:127.0.0.1:5060;transport=tcp"}, Status: "reachable", Code: 200, RTT: time.Millisecond, LastProbe: at},
		{Target: sip.Target{Kind: "gateway", Name: "gw2", URI: "sip:192.0.2.2:5080;transport=tcp", Transport: "tcp"}, Status: "unreachable", Misses: 3, Reason: "timeout"},
	}
	fp.regs = []sip.RegisterResult{{Name: "ast1", OK: true, Code: 200, Reason: "OK", Duration: 30 * time.Millisecond, At: at}}
	fp.mu.Unlock()
	var got []string
	for _, r := range w.ProbeResults() {
		got = append(got, string(r.Kind)+"/"+r.Name+"/"+r.Status)
	}
	if want := []string{"gateway/gw2/unreachable", "register_check/ast1/ok", "switch/ast1/reachable"}; !slices.Equal(got, want) {
		t.Errorf("ProbeResults = %v, want %v", got, want)
	}
	if rc, _ := w.ProbeResult(api.ProbeRegisterCheck, "ast1"); rc.Code != 200 || rc.Duration != 30*time.Millisecond || !rc.LastProbe.Equal(at) || rc.Domain != "a.example.com" {
		t.Errorf("register check result %+v", rc)
	}
	if gw, ok := w.ProbeResult(api.ProbeGateway, "gw2"); !ok || gw.Misses != 3 || gw.Transport != "tcp" {
		t.Errorf("gw2 result %+v, %v", gw, ok)
	}
	if _, ok := w.ProbeResult(api.ProbeGateway, "gw1"); ok {
		t.Error("a result for a gateway the prober does not know")
	}
}

// sippPeer is a real SIP peer: sipp running a scenario on a UDP port of
// 127.0.0.1.
type sippPeer struct {
	port int
	cmd  *exec.Cmd
	out  *syncBuffer
}

// startSipp runs sipp with scenario (a file under testdata/). It skips the
// test when sipp is missing, unless under CI, where .ci/run installs it.
func startSipp(t *testing.T, scenario string) *sippPeer {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("sipp is required under CI (.ci/run installs sip-tester): %v", err)
		}
		t.Skip("sipp is not installed (apt-get install sip-tester)")
	}
	sf, err := filepath.Abs(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	free, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := free.LocalAddr().(*net.UDPAddr).Port
	free.Close()
	p := &sippPeer{port: port, out: &syncBuffer{}}
	// -timeout: sipp ends by itself should the test die without its
	// cleanup.
	p.cmd = exec.Command(bin, "-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "u1", "-nostdin", "-timeout", "300")
	p.cmd.Dir = t.TempDir() // where sipp writes its logs, if any
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	// Bound once sipp holds the port.
	switchtest.WaitFor(t, "sipp listening", func() bool {
		c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	return p
}

// stop kills sipp (this process only) and waits for it.
func (p *sippPeer) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Kill() //nolint:errcheck // already gone
	p.cmd.Wait()         //nolint:errcheck // killed
}

// A daemon with SIP probing on and real SIP peers (sipp): one as a
// provisioned gateway, one as a switch's listener and registrar. The
// gateway is reachable in /api/v1/probes, up with an RTT in dcp
// gateway/list and in /api/v1/gateways/status (switch "sip"), and in the
// metrics; the switch's register check waits for its probe account, then
// registers with digest auth. When the gateway's peer dies, it turns
// unreachable within interval × misses (plus the last probe's timeout),
// and down in dcp; the switch stays reachable.
func TestServeProbesWithSipp(t *testing.T) {
	peer := startSipp(t, "options_uas.xml")
	registrar := startSipp(t, "switch_uas.xml")
	srv := aritest.New(t)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "sb.db")
	conf := filepath.Join(t.TempDir(), "switchboard.yaml")
	sipURI := fmt.Sprintf("sip:127.0.0.1:%d;transport=udp", registrar.port)
	yaml := fmt.Sprintf(`sip:
  enabled: true
  interval: 100ms
  misses: 2
switches:
  - name: ast1
    type: asterisk
    url: %s
    user: %s
    password: %s
    metrics_url: "-"
    sip_uri: %s
    register_check: probe@pbx.example.com
    register_check_interval: 200ms
`, srv.URL, aritest.User, aritest.Password, sipURI)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d, log := startDaemonLogged(t, dsn, "--config", conf, "--log-level", "info")
	token := createToken(t, dsn)
	base := "http://" + d.addr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s\nsipp (gateway):\n%s\nsipp (switch):\n%s", log, peer.out, registrar.out)
		}
	})
	code, m := do(t, "POST", base+"/api/v1/gateways", token,
		fmt.Sprintf(`{"name":"gw-sipp","host":"127.0.0.1","port":%d,"transport":"udp"}`, peer.port))
	if code != 201 {
		t.Fatalf("gateway: %d %v", code, m)
	}

	probe := func(kind, name string) map[string]any {
		_, m := do(t, "GET", base+"/api/v1/probes?kind="+kind, token, "")
		items, _ := m["items"].([]any)
		for _, it := range items {
			if p, _ := it.(map[string]any); p["name"] == name {
				return p
			}
		}
		return nil
	}
	dcpGateway := func() map[string]any {
		_, m := do(t, "GET", base+"/dcp/gateway/list?token="+token, "", "")
		data, _ := m["data"].([]any)
		for _, it := range data {
			if g, _ := it.(map[string]any); g["name"] == "gw-sipp" {
				return g
			}
		}
		return nil
	}
	switchtest.WaitFor(t, "gw-sipp reachable in /api/v1/probes", func() bool {
		p := probe("gateway", "gw-sipp")
		return p != nil && p["status"] == "reachable"
	})
	p := probe("gateway", "gw-sipp")
	if rtt, _ := p["rtt_ms"].(float64); rtt <= 0 || p["code"] != 200.0 || p["misses"] != 0.0 ||
		p["uri"] != fmt.Sprintf("sip:127.0.0.1:%d;transport=udp", peer.port) {
		t.Errorf("gw-sipp probe: %v", p)
	}
	switchtest.WaitFor(t, "the switch's listener reachable", func() bool {
		p := probe("switch", "ast1")
		return p != nil && p["status"] == "reachable"
	})
	if g := dcpGateway(); g["status"] != "up" || g["switch"] != "sip" || g["rtt_ms"] == nil {
		t.Errorf("dcp gateway/list gw-sipp: %v", g)
	}
	_, m = do(t, "GET", base+"/api/v1/gateways/status?name=gw-sipp", token, "")
	if b, _ := json.Marshal(m); !strings.Contains(string(b), `"state":"up"`) || !strings.Contains(string(b), `"switch":"sip"`) {
		t.Errorf("/api/v1/gateways/status: %s", b)
	}
	metrics := string(scrapeMetrics(t, base))
	// Gateways are exported once, by the presence collector from the "sip"
	// feed; the prober's own per-target gauge is for switch listeners.
	if !strings.Contains(metrics, `switchboard_gateway_up{gateway="gw-sipp",switch="sip"} 1`) ||
		!strings.Contains(metrics, `switchboard_sip_probe_up{kind="switch",target="ast1"} 1`) {
		t.Errorf("no up gauges for gw-sipp and ast1 in /metrics:\n%s", grepLines(metrics, "_up{"))
	}

	// The register check waits for its account, and starts once it exists.
	if rc := probe("register_check", "ast1"); rc == nil || rc["status"] != "unknown" || !strings.Contains(fmt.Sprint(rc["reason"]), "not provisioned") {
		t.Errorf("register check without its account: %v", rc)
	}
	if !strings.Contains(log.String(), "probe account probe@pbx.example.com is not provisioned") {
		t.Errorf("the missing probe account is not logged:\n%s", log)
	}
	code, m = do(t, "POST", base+"/api/v1/tenants", token, `{"name":"Acme"}`)
	if code != 201 {
		t.Fatalf("tenant: %d %v", code, m)
	}
	do(t, "POST", base+"/api/v1/domains", token, fmt.Sprintf(`{"tenant_id":%v,"name":"pbx.example.com"}`, m["id"]))
	if code, m = do(t, "POST", base+"/api/v1/accounts", token, `{"domain":"pbx.example.com","username":"probe","secret":"probe-Secret-1"}`); code != 201 {
		t.Fatalf("probe account: %d %v", code, m)
	}
	switchtest.WaitFor(t, "the register check ok", func() bool {
		rc := probe("register_check", "ast1")
		return rc != nil && rc["status"] == "ok"
	})
	if rc := probe("register_check", "ast1"); rc["ok"] != true || rc["code"] != 200.0 || rc["failures"] != 0.0 || rc["uri"] != sipURI {
		t.Errorf("register check: %v", rc)
	}

	// The peer dies.
	// interval × misses (200ms), plus the timeout of the last probe
	// (100ms, or less when the port's ICMP error comes back) and slack
	// for a loaded machine.
	peer.stop()
	within(t, 1500*time.Millisecond, "gw-sipp unreachable", func() bool {
		p := probe("gateway", "gw-sipp")
		return p != nil && p["status"] == "unreachable"
	})
	if g := dcpGateway(); g["status"] != "down" || g["switch"] != "sip" || g["rtt_ms"] != nil {
		t.Errorf("dcp gateway/list gw-sipp after the peer died: %v", g)
	}
	if p := probe("switch", "ast1"); p["status"] != "reachable" {
		t.Errorf("the switch's listener after the gateway died: %v", p)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
