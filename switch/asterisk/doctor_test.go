package asterisk

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/doctor"
)

// TestDoctor runs the doctor against the loopback ARI in a correct and in
// broken configurations, and checks the status of every check named.
func TestDoctor(t *testing.T) {
	udpGW := provisioning.Gateway{Name: "carrier", Host: "198.51.100.7", Username: "acct", Secret: "gw-secret", Register: true}
	tlsGW := provisioning.Gateway{Name: "secure", Host: "198.51.100.8", Transport: provisioning.TransportTLS}
	regLine := map[string]string{"server_uri": "sip:198.51.100.7", "client_uri": "sip:acct@198.51.100.7", "endpoint": "carrier", "line": "true"}
	tests := []struct {
		name     string
		setup    func(t *testing.T, srv *aritest.Server, n *NodeConfig)
		gateways []provisioning.Gateway
		want     map[string][]doctor.Status
	}{
		{"healthy", nil, nil, map[string][]doctor.Status{
			"ari": {doctor.OK}, "modules": {doctor.OK}, "application": {doctor.Info},
			"sorcery auth": {doctor.OK}, "sorcery aor": {doctor.OK}, "sorcery endpoint": {doctor.OK}, "sorcery identify": {doctor.OK},
			"sorcery registration": {doctor.Info}, "transport udp": {doctor.OK}, "transport tcp": {doctor.OK}, "transport tls": {doctor.Info},
			"contexts": {doctor.Info}, "res_prometheus": {doctor.OK}, "sorcery cleanup": nil,
		}},
		{"daemon connected", func(t *testing.T, srv *aritest.Server, _ *NodeConfig) {
			h := http.Header{}
			h.Set("Authorization", "Basic c3dpdGNoYm9hcmQ6c2VjcmV0") // switchboard:secret
			c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/events?app=switchboard&subscribeAll=true", &websocket.DialOptions{HTTPHeader: h})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.CloseNow() })
			srv.WaitSocket(5 * time.Second)
		}, nil, map[string][]doctor.Status{"application": {doctor.OK}}},
		{"no memory wizards", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) {
			for _, typ := range []string{"auth", "aor", "endpoint", "identify"} {
				srv.SetWritable(typ, false)
			}
		}, nil, map[string][]doctor.Status{"sorcery auth": {doctor.Fail}, "sorcery aor": {doctor.Fail}, "sorcery endpoint": {doctor.Fail}, "sorcery identify": {doctor.Fail}}},
		{"identify not writable", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) { srv.SetWritable("identify", false) },
			nil, map[string][]doctor.Status{"sorcery endpoint": {doctor.OK}, "sorcery identify": {doctor.Fail}, "sorcery cleanup": nil}},
		{"read-only ARI user", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) { srv.SetReadOnlyUser() },
			nil, map[string][]doctor.Status{"ari write": {doctor.Fail}, "sorcery auth": nil, "sorcery identify": nil}},
		{"module not running", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) {
			srv.SetModuleStatus("res_pjsip_outbound_registration.so", "Not Running")
		}, nil, map[string][]doctor.Status{"modules": {doctor.Fail}}},
		// The recorded node was built without spandsp: a warning only.
		{"as recorded: no fax driver", nil, nil, map[string][]doctor.Status{"modules": {doctor.OK}, "media modules": {doctor.Warn}}},
		{"media modules running", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) {
			srv.SetModuleStatus("res_fax_spandsp.so", "Running")
		}, nil, map[string][]doctor.Status{"media modules": {doctor.OK}}},
		{"voicemail not running", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) {
			srv.SetModuleStatus("res_fax_spandsp.so", "Running")
			srv.SetModuleStatus("app_voicemail.so", "Not Running")
		}, nil, map[string][]doctor.Status{"modules": {doctor.OK}, "media modules": {doctor.Warn}}},
		{"mixmonitor not running", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) {
			srv.SetModuleStatus("res_fax_spandsp.so", "Running")
			srv.SetModuleStatus("app_mixmonitor.so", "Not Running")
		}, nil, map[string][]doctor.Status{"modules": {doctor.OK}, "media modules": {doctor.Warn}}},
		{"registering gateway not pushed", nil, []provisioning.Gateway{udpGW},
			map[string][]doctor.Status{"sorcery registration": {doctor.Fail}}},
		{"registering gateway pushed", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) {
			srv.SetObject("registration", "carrier", regLine)
		}, []provisioning.Gateway{udpGW}, map[string][]doctor.Status{"sorcery registration": {doctor.OK}, "line": nil}},
		{"registration without line", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) {
			m := map[string]string{}
			for k, v := range regLine {
				if k != "line" {
					m[k] = v
				}
			}
			srv.SetObject("registration", "carrier", m)
		}, []provisioning.Gateway{udpGW}, map[string][]doctor.Status{"line": {doctor.Warn}}},
		{"tls gateway without transport-tls", nil, []provisioning.Gateway{tlsGW},
			map[string][]doctor.Status{"transport tls": {doctor.Fail}, "sorcery registration": {doctor.Info}}},
		{"transport-tls defined", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) {
			srv.SetObject("transport", "transport-tls", map[string]string{"protocol": "tls", "bind": "0.0.0.0:5061"})
		}, []provisioning.Gateway{tlsGW}, map[string][]doctor.Status{"transport tls": {doctor.OK}}},
		{"no res_prometheus", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) { srv.SetMetrics(nil) },
			nil, map[string][]doctor.Status{"res_prometheus": {doctor.Warn}}},
		{"res_prometheus disabled", func(_ *testing.T, srv *aritest.Server, _ *NodeConfig) { srv.DisableMetrics() },
			nil, map[string][]doctor.Status{"res_prometheus": {doctor.Warn}}},
		{"metrics off", func(_ *testing.T, _ *aritest.Server, n *NodeConfig) { n.MetricsURL = "-" },
			nil, map[string][]doctor.Status{"res_prometheus": {doctor.Info}}},
		{"cdr_file readable", func(t *testing.T, _ *aritest.Server, n *NodeConfig) {
			n.CDRFile = filepath.Join(t.TempDir(), "Master.csv")
			if err := os.WriteFile(n.CDRFile, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, nil, map[string][]doctor.Status{"cdr_file": {doctor.OK}}},
		{"cdr_file not written yet", func(t *testing.T, _ *aritest.Server, n *NodeConfig) {
			n.CDRFile = filepath.Join(t.TempDir(), "Master.csv")
		}, nil, map[string][]doctor.Status{"cdr_file": {doctor.Warn}}},
		{"cdr_file elsewhere", func(t *testing.T, _ *aritest.Server, n *NodeConfig) {
			n.CDRFile = filepath.Join(t.TempDir(), "no", "Master.csv")
		}, nil, map[string][]doctor.Status{"cdr_file": {doctor.Fail}}},
		{"authz_url, func_curl running", func(_ *testing.T, _ *aritest.Server, n *NodeConfig) {
			n.AuthzURL = "http://127.0.0.1:8080/asterisk/ast1/authz"
		}, nil, map[string][]doctor.Status{"func_curl": nil, "lcr": {doctor.OK}}},
		{"authz_url, func_curl not running", func(_ *testing.T, srv *aritest.Server, n *NodeConfig) {
			n.AuthzURL = "http://127.0.0.1:8080/asterisk/ast1/authz"
			srv.SetModuleStatus("func_curl.so", "Not Running")
		}, nil, map[string][]doctor.Status{"func_curl": {doctor.Fail}, "lcr": {doctor.OK}}},
		{"routes by cost without authz_url", nil, nil, map[string][]doctor.Status{"func_curl": nil, "lcr": {doctor.Warn}}},
		{"wrong password", func(_ *testing.T, _ *aritest.Server, n *NodeConfig) { n.Password = "wrong" },
			nil, map[string][]doctor.Status{"ari": {doctor.Fail}, "modules": nil}},
		{"url without /ari", func(_ *testing.T, _ *aritest.Server, n *NodeConfig) {
			n.URL = strings.TrimSuffix(n.URL, "/ari") + "/api"
		},
			nil, map[string][]doctor.Status{"ari": {doctor.Fail}, "modules": nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := aritest.New(t)
			n := &NodeConfig{URL: srv.URL, User: aritest.User, Password: aritest.Password}
			n.SetDefaults()
			if tc.setup != nil {
				tc.setup(t, srv, n)
			}
			gws := tc.gateways
			var routes []*provisioning.OutboundRoute
			if strings.Contains(tc.name, "authz_url") || strings.Contains(tc.name, "by cost") {
				routes = []*provisioning.OutboundRoute{
					{RoutingMeta: provisioning.RoutingMeta{TenantID: 2}, Name: "intl", Action: provisioning.RouteNormal, Order: provisioning.RouteOrderCost},
					{RoutingMeta: provisioning.RoutingMeta{TenantID: 2}, Name: "local", Action: provisioning.RouteNormal, Order: provisioning.RouteOrderListed},
				}
			}
			checks := Doctor(context.Background(), DoctorConfig{Node: n, Options: n.PushOptions(),
				Gateways: func(context.Context) ([]provisioning.Gateway, error) { return gws, nil },
				Routes:   func(context.Context) ([]*provisioning.OutboundRoute, error) { return routes, nil }})
			got := map[string][]doctor.Status{}
			for _, c := range checks {
				got[c.Name] = append(got[c.Name], c.Status)
				if c.Status >= doctor.Warn && c.Fix == "" {
					t.Errorf("%s: %s without a fix: %s", c.Name, c.Status, c.Detail)
				}
				if tc.name == "res_prometheus disabled" && c.Name == "res_prometheus" && !strings.Contains(c.Fix, "enabled = yes") {
					t.Errorf("a disabled res_prometheus (503) is not told apart: %s / %s", c.Detail, c.Fix)
				}
				if strings.Contains(c.Detail+c.Fix, aritest.Password) {
					t.Errorf("%s shows the password: %s", c.Name, c.Detail)
				}
			}
			for name, want := range tc.want {
				if !slices.Equal(got[name], want) {
					t.Errorf("%s: %v, want %v\n%s", name, got[name], want, describeDoctor(checks))
				}
			}
			if left := srv.ConfigObjects(); len(left) > 0 && tc.name != "registering gateway pushed" && tc.name != "registration without line" {
				t.Errorf("the probe left %v on the node", left)
			}
		})
	}
}

// TestDoctorUnreachable checks a node that is not there: one failed check
// naming the URL.
func TestDoctorUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/ari"
	ln.Close()
	n := &NodeConfig{URL: url, User: "u", Password: "p"}
	n.SetDefaults()
	checks := Doctor(context.Background(), DoctorConfig{Node: n, Options: n.PushOptions()})
	if len(checks) != 1 || checks[0].Name != "ari" || checks[0].Status != doctor.Fail || !strings.Contains(checks[0].Detail, ln.Addr().String()) {
		t.Fatalf("checks:\n%s", describeDoctor(checks))
	}
}

// TestDoctorParsers reads the recorded answers and refuses what is not
// them.
func TestDoctorParsers(t *testing.T) {
	mods, err := parseModules(aritest.Recorded("asterisk-modules.json"))
	if err != nil || mods["res_sorcery_memory.so"] != "Running" || mods["cdr_custom.so"] != "Not Running" || len(mods) != 323 {
		t.Fatalf("modules: %d, %v", len(mods), err)
	}
	v, err := parseInfoVersion(aritest.Recorded("asterisk-info.json"))
	if err != nil || v != "23.4.1" {
		t.Fatalf("version %q, %v", v, err)
	}
	apps, err := parseApplications([]byte(`[{"name":"switchboard","channel_ids":[]},{"name":"other"}]`))
	if err != nil || !slices.Equal(apps, []string{"switchboard", "other"}) {
		t.Fatalf("applications %v, %v", apps, err)
	}
	for _, bad := range []string{"", "<html>", `{"message":"x"}`, "[1]"} {
		if _, err := parseModules([]byte(bad)); err == nil {
			t.Errorf("parseModules(%q) accepted", bad)
		}
		if _, err := parseInfoVersion([]byte(bad)); err == nil {
			t.Errorf("parseInfoVersion(%q) accepted", bad)
		}
	}
}

// FuzzDoctorParsers checks that no answer makes a parser panic.
func FuzzDoctorParsers(f *testing.F) {
	f.Add(aritest.Recorded("asterisk-modules.json"))
	f.Add(aritest.Recorded("asterisk-info.json"))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := parseModules(b); err == nil && m == nil {
			t.Fatal("nil modules without error")
		}
		if v, err := parseInfoVersion(b); err == nil && v == "" {
			t.Fatal("empty version without error")
		}
		_, _ = parseApplications(b)
	})
}

func describeDoctor(checks []doctor.Check) string {
	var b strings.Builder
	for _, c := range checks {
		b.WriteString(c.Status.String() + " " + c.Name + ": " + c.Detail + "\n")
	}
	return b.String()
}
