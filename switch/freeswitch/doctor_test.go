package freeswitch

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/switch/doctor"
	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
)

// doctorHealthy rewrites the recorded node's configuration into one that
// points at a daemon listening on listen as node name, with safe
// json_cdr settings and no static users.
func doctorHealthy(srv *esltest.Server, name, listen string) {
	fix := func(conf string) string {
		conf = strings.ReplaceAll(conf, "127.0.0.1:8099", listen)
		return strings.ReplaceAll(conf, "/freeswitch/fsdoc/", "/freeswitch/"+name+"/")
	}
	srv.SetConfig("xml_curl.conf", fix(srv.Config("xml_curl.conf")))
	srv.SetConfig("json_cdr.conf", strings.Replace(fix(srv.Config("json_cdr.conf")), "<settings>",
		`<settings><param name="queue-capacity" value="10000"></param><param name="timeout" value="5"></param>`, 1))
	srv.SetDirectory(`<section name="directory" description="User Directory"><domain name="fs.example"><groups><group name="default"><users><user id="2000"><params><param name="password" value="a-strong-one"></param></params></user></users></group></groups></domain></section>`)
}

func doctorNode(srv *esltest.Server, password string) *NodeConfig {
	n := &NodeConfig{ESL: srv.Addr(), Password: password, HTTPUser: "freeswitch", HTTPPassword: "sb-live-http-secret"}
	n.SetDefaults()
	return n
}

// TestDoctor runs the doctor against the loopback node in a correct and
// in broken configurations, each broken the way an operator could break
// it, and checks the status of every check named.
func TestDoctor(t *testing.T) {
	const listen = "127.0.0.1:8080"
	eachXMLFixture(t, func(t *testing.T, fx *xmlFixture) {
		tests := []struct {
			name  string
			setup func(srv *esltest.Server, n *NodeConfig)
			want  map[string][]doctor.Status // statuses of the checks of that name, in order
		}{
			{"healthy", nil, map[string][]doctor.Status{
				"esl": {doctor.OK}, "modules": {doctor.OK}, "xml_curl": {doctor.OK}, "json_cdr": {doctor.OK}, "json_cdr delivery": {doctor.OK},
				"sofia internal": {doctor.OK}, "sofia external": {doctor.OK}, "directory cache": {doctor.OK}, "static users": {doctor.OK},
			}},
			{"stock directory", func(srv *esltest.Server, _ *NodeConfig) {
				srv.SetDirectory(string(esltest.RecordedBody("api-xml-locate-directory-stock.txt")))
			}, map[string][]doctor.Status{"static users": {doctor.Fail, doctor.Fail}, "stock password": {doctor.Fail}}},
			{"xml_curl points elsewhere", func(srv *esltest.Server, _ *NodeConfig) {
				srv.SetConfig("xml_curl.conf", strings.ReplaceAll(srv.Config("xml_curl.conf"), "/freeswitch/fs1/", "/freeswitch/fs2/"))
			}, map[string][]doctor.Status{"xml_curl": {doctor.Fail}}},
			{"xml_curl on another port, wrong credentials", func(srv *esltest.Server, _ *NodeConfig) {
				c := strings.ReplaceAll(srv.Config("xml_curl.conf"), listen, "127.0.0.1:9999")
				srv.SetConfig("xml_curl.conf", strings.ReplaceAll(c, "sb-live-http-secret", "old-secret"))
			}, map[string][]doctor.Status{"xml_curl": {doctor.Fail}}},
			{"xml_curl without dialplan or timeout", func(srv *esltest.Server, _ *NodeConfig) {
				c := strings.ReplaceAll(srv.Config("xml_curl.conf"), "directory|dialplan", "directory")
				srv.SetConfig("xml_curl.conf", strings.ReplaceAll(c, `name="timeout" value="5"`, `name="timeout" value="0"`))
			}, map[string][]doctor.Status{"xml_curl": {doctor.Warn}, "xml_curl timeout": {doctor.Warn}}},
			{"xml_curl.conf missing", func(srv *esltest.Server, _ *NodeConfig) { srv.SetConfig("xml_curl.conf", "") },
				map[string][]doctor.Status{"xml_curl": {doctor.Fail}}},
			{"json_cdr as recorded", func(srv *esltest.Server, _ *NodeConfig) {
				srv.SetConfig("json_cdr.conf", strings.ReplaceAll(string(esltest.RecordedBody("api-xml-locate-json-cdr-conf.txt")), "/freeswitch/fsdoc/", "/freeswitch/fs1/"))
			}, map[string][]doctor.Status{"json_cdr": {doctor.Fail}, "json_cdr delivery": nil}}, // port 8099 is not http.listen
			{"json_cdr unsafe", func(srv *esltest.Server, _ *NodeConfig) {
				c := strings.ReplaceAll(srv.Config("json_cdr.conf"), `name="queue-capacity"`, `name="x-queue-capacity"`)
				c = strings.ReplaceAll(c, `name="log-b-leg" value="true"`, `name="log-b-leg" value="false"`)
				srv.SetConfig("json_cdr.conf", c)
			}, map[string][]doctor.Status{"json_cdr": {doctor.OK}, "json_cdr legs": {doctor.Warn}, "json_cdr delivery": {doctor.Warn}}},
			{"mod_json_cdr not loaded", func(srv *esltest.Server, _ *NodeConfig) { srv.SetModule("mod_json_cdr", false) },
				map[string][]doctor.Status{"modules": {doctor.Fail}, "json_cdr": nil}},
			{"mod_db not loaded (round-robin memory)", func(srv *esltest.Server, _ *NodeConfig) { srv.SetModule("mod_db", false) },
				map[string][]doctor.Status{"modules": {doctor.Fail}, "json_cdr": {doctor.OK}}},
			// The recorded node has no media modules: a warning, not a failure.
			{"as recorded: no voicemail or fax", nil, map[string][]doctor.Status{"modules": {doctor.OK}, "media modules": {doctor.Warn}}},
			{"media modules loaded", func(srv *esltest.Server, _ *NodeConfig) {
				srv.SetModule("mod_voicemail", true)
				srv.SetModule("mod_spandsp", true)
			}, map[string][]doctor.Status{"media modules": {doctor.OK}}},
			{"phone profile not running", func(_ *esltest.Server, n *NodeConfig) { n.PhoneProfile = "phones" },
				map[string][]doctor.Status{"sofia phones": {doctor.Fail}, "sofia external": {doctor.OK}}},
			{"static gateway also provisioned", func(srv *esltest.Server, _ *NodeConfig) {
				srv.SetConfig("sofia.conf", `<configuration name="sofia.conf"><profiles><profile name="external"><gateways><gateway name="gw1"><param name="proxy" value="127.0.0.1:5091"></param></gateway><gateway name="static-only"></gateway></gateways></profile></profiles></configuration>`)
			}, map[string][]doctor.Status{"gateways": {doctor.Fail}}},
			{"cache off", func(_ *esltest.Server, n *NodeConfig) { n.DirectoryCacheMS = -1 },
				map[string][]doctor.Status{"directory cache": {doctor.Warn}}},
			{"default ESL password", func(_ *esltest.Server, n *NodeConfig) { n.Password = DefaultPassword },
				map[string][]doctor.Status{"esl": {doctor.OK}, "esl password": {doctor.Warn}}},
			{"wrong ESL password", func(_ *esltest.Server, n *NodeConfig) { n.Password = "wrong" },
				map[string][]doctor.Status{"esl": {doctor.Fail}, "modules": nil}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				password := "esl-secret"
				if tc.name == "default ESL password" {
					password = DefaultPassword
				}
				srv := esltest.New(t, esltest.WithPassword(password))
				doctorHealthy(srv, "fs1", listen)
				n := doctorNode(srv, password)
				if tc.setup != nil {
					tc.setup(srv, n)
				}
				checks := Doctor(context.Background(), DoctorConfig{Name: "fs1", Node: n, Domain: "127.0.0.1", HTTPListen: listen, Directory: ServiceDirectory(fx.svc)})
				got := map[string][]doctor.Status{}
				for _, c := range checks {
					got[c.Name] = append(got[c.Name], c.Status)
					if c.Status >= doctor.Warn && c.Fix == "" {
						t.Errorf("%s: %s without a fix: %s", c.Name, c.Status, c.Detail)
					}
					if strings.Contains(c.Detail+c.Fix, "sb-live-http-secret") || strings.Contains(c.Detail+c.Fix, "esl-secret") {
						t.Errorf("%s shows a secret: %s / %s", c.Name, c.Detail, c.Fix)
					}
				}
				for name, want := range tc.want {
					if !slicesEqual(got[name], want) {
						t.Errorf("%s: %v, want %v\n%s", name, got[name], want, describeChecks(checks))
					}
				}
				if tc.name == "healthy" && doctor.Failed(checks) {
					t.Errorf("a healthy node failed:\n%s", describeChecks(checks))
				}
				if tc.name == "healthy" {
					// The only change: a flush of a user that does not exist.
					for _, cmd := range srv.Commands() {
						cmd = strings.TrimSpace(cmd)
						if strings.HasPrefix(cmd, "api ") && !strings.HasPrefix(cmd, "api xml_flush_cache id switchboard-doctor ") &&
							!strings.HasPrefix(cmd, "api module_exists ") && !strings.HasPrefix(cmd, "api xml_locate ") &&
							cmd != "api version" && cmd != "api sofia xmlstatus" {
							t.Errorf("doctor ran %q", cmd)
						}
					}
				}
			})
		}
	})
}

// TestDoctorUnreachable checks the first check of a node that is not
// there: a failure naming the address, and nothing else tried.
func TestDoctorUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	n := &NodeConfig{ESL: addr, Password: "x"}
	n.SetDefaults()
	checks := Doctor(context.Background(), DoctorConfig{Name: "fs1", Node: n})
	if len(checks) != 1 || checks[0].Name != "esl" || checks[0].Status != doctor.Fail || !strings.Contains(checks[0].Detail, addr) {
		t.Fatalf("checks:\n%s", describeChecks(checks))
	}
}

func slicesEqual(a, b []doctor.Status) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func describeChecks(checks []doctor.Check) string {
	var b strings.Builder
	for _, c := range checks {
		b.WriteString(c.Status.String() + " " + c.Name + ": " + c.Detail + "\n")
	}
	return b.String()
}
