package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/sip"
	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// The prober's results and the register checks, adapted for the APIs:
// sorted by kind then name, a check unknown with its reason until it has
// run, then ok or failed with the prober's figures.
func TestProbeResults(t *testing.T) {
	at := time.Now()
	tenant := int64(4)
	pr := probeResults{
		prober: fakeResults{
			{Target: sip.Target{Kind: "switch", Name: "ast1", URI: "sip:127.0.0.1:5060;transport=tcp"}, Status: "reachable", Code: 200, RTT: time.Millisecond, LastProbe: at},
			{Target: sip.Target{Kind: "gateway", Name: "gw2", URI: "sip:192.0.2.2:5080;transport=tcp", Transport: "tcp", TenantID: &tenant}, Status: "unreachable", Misses: 3, Reason: "timeout"},
		},
		checks: fakeChecks{
			{Name: "ast1", AOR: "probe@a.example.com", Registrar: "sip:127.0.0.1:5060;transport=tcp", Transport: "tcp", Domain: "a.example.com",
				Result: &sip.RegisterResult{Name: "ast1", OK: true, Code: 200, Reason: "OK", Duration: 30 * time.Millisecond, At: at}},
			{Name: "ast2", AOR: "probe@b.example.com", Registrar: "sip:127.0.0.2", Transport: "udp", Domain: "b.example.com",
				Missing: "probe account probe@b.example.com is not provisioned"},
			{Name: "ast3", Registrar: "sip:127.0.0.3", Transport: "udp", Result: &sip.RegisterResult{Name: "ast3", Code: 403, Reason: "Forbidden", Failures: 2}},
		},
	}
	var got []string
	for _, r := range pr.ProbeResults() {
		got = append(got, string(r.Kind)+"/"+r.Name+"/"+r.Status)
	}
	want := []string{"gateway/gw2/unreachable", "register_check/ast1/ok", "register_check/ast2/unknown", "register_check/ast3/failed", "switch/ast1/reachable"}
	if !slices.Equal(got, want) {
		t.Errorf("ProbeResults = %v, want %v", got, want)
	}
	tests := []struct {
		kind api.ProbeKind
		name string
		want api.ProbeResult
		ok   bool
	}{
		{api.ProbeRegisterCheck, "ast1", api.ProbeResult{Kind: "register_check", Name: "ast1", URI: "sip:127.0.0.1:5060;transport=tcp", Transport: "tcp",
			Domain: "a.example.com", Status: "ok", Code: 200, Reason: "OK", Duration: 30 * time.Millisecond, LastProbe: at}, true},
		{api.ProbeRegisterCheck, "ast2", api.ProbeResult{Kind: "register_check", Name: "ast2", URI: "sip:127.0.0.2", Transport: "udp",
			Domain: "b.example.com", Status: "unknown", Reason: "probe account probe@b.example.com is not provisioned"}, true},
		{api.ProbeRegisterCheck, "ast3", api.ProbeResult{Kind: "register_check", Name: "ast3", URI: "sip:127.0.0.3", Transport: "udp",
			Status: "failed", Code: 403, Reason: "Forbidden", Failures: 2}, true},
		{api.ProbeGateway, "gw2", api.ProbeResult{Kind: "gateway", Name: "gw2", URI: "sip:192.0.2.2:5080;transport=tcp", Transport: "tcp",
			TenantID: &tenant, Status: "unreachable", Reason: "timeout", Misses: 3}, true},
		{api.ProbeSwitch, "ast1", api.ProbeResult{Kind: "switch", Name: "ast1", URI: "sip:127.0.0.1:5060;transport=tcp", Status: "reachable",
			Code: 200, RTT: time.Millisecond, LastProbe: at}, true},
		{api.ProbeGateway, "gw1", api.ProbeResult{}, false},
		{api.ProbeRegisterCheck, "ast9", api.ProbeResult{}, false},
	}
	for _, tc := range tests {
		got, ok := pr.ProbeResult(tc.kind, tc.name)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ProbeResult(%s, %s) = %+v, %v; want %+v, %v", tc.kind, tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// fakeResults serves canned prober results.
type fakeResults []sip.Result

func (f fakeResults) Results() []sip.Result { return slices.Clone(f) }

func (f fakeResults) Result(kind sip.Kind, name string) (sip.Result, bool) {
	for _, r := range f {
		if r.Kind == kind && r.Name == name {
			return r, true
		}
	}
	return sip.Result{}, false
}

// fakeChecks serves canned register checks.
type fakeChecks []sip.CheckState

func (f fakeChecks) RegisterChecks() []sip.CheckState { return slices.Clone(f) }

// sippPeer is a real SIP peer: sipp running a scenario on a UDP port of
// 127.0.0.1.
type sippPeer struct {
	port    int
	cmd     *exec.Cmd
	out     *syncBuffer
	exited  <-chan struct{} // closed once cmd.Wait returned
	waitErr error           // cmd.Wait's answer, once exited is closed
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
	// A port found free may be taken again before sipp binds it (other
	// packages' tests run alongside): sipp then exits at once, and another
	// port is tried.
	for attempt := 1; ; attempt++ {
		p, exited := launchSipp(t, bin, sf)
		err := waitSippBound(p, exited)
		if err == nil {
			t.Cleanup(p.stop)
			return p
		}
		p.stop()
		if attempt == 3 {
			t.Fatalf("sipp %s: %v\n%s", scenario, err, p.out.String())
		}
		t.Logf("sipp %s on port %d: %v; trying another port", scenario, p.port, err)
	}
}

// launchSipp starts sipp on a port free a moment ago; exited closes when
// the process ends.
func launchSipp(t *testing.T, bin, scenarioFile string) (*sippPeer, <-chan struct{}) {
	t.Helper()
	free, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := free.LocalAddr().(*net.UDPAddr).Port
	free.Close()
	p := &sippPeer{port: port, out: &syncBuffer{}}
	// -timeout: sipp ends by itself should the test die without its
	// cleanup.
	p.cmd = exec.Command(bin, "-sf", scenarioFile, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "u1", "-nostdin", "-timeout", "300")
	p.cmd.Dir = t.TempDir() // where sipp writes its logs, if any
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		p.waitErr = p.cmd.Wait()
		close(exited)
	}()
	p.exited = exited
	return p, exited
}

// waitSippBound waits until sipp holds its port, and fails when sipp
// exits first or takes longer than switchtest.WaitTimeout.
func waitSippBound(p *sippPeer, exited <-chan struct{}) error {
	deadline := time.Now().Add(switchtest.WaitTimeout)
	for delay := 50 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)))
		if err != nil {
			return nil // sipp holds it
		}
		c.Close()
		select {
		case <-exited:
			return fmt.Errorf("exited before binding its port (%v)", p.waitErr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after %s", switchtest.WaitTimeout)
		}
		time.Sleep(delay)
	}
}

// stop kills sipp (this process only) and waits for it.
func (p *sippPeer) stop() {
	p.cmd.Process.Kill() //nolint:errcheck // already gone
	<-p.exited
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
	// The switch's own listener is a switch, not a gateway: no gateway
	// series (a switch down would fire the gateway alert) and no gateway
	// status of that name.
	if strings.Contains(metrics, `switchboard_gateway_up{gateway="ast1"`) || strings.Contains(metrics, `switchboard_gateway_rtt_seconds{gateway="ast1"`) {
		t.Errorf("the switch listener ast1 is exported as a gateway:\n%s", grepLines(metrics, "gateway"))
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
