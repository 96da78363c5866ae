package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk"
	"github.com/switchboard-voip/switchboard/switch/freeswitch"
)

func load(t *testing.T, file string, args, env []string) (Config, error) {
	t.Helper()
	if file != "" {
		p := filepath.Join(t.TempDir(), "switchboard.yaml")
		if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config", p}, args...)
	}
	fs := newFlagSet("test", "", "")
	return LoadConfig(fs, args, env)
}

func TestConfigPrecedence(t *testing.T) {
	file := "http:\n  listen: 127.0.0.1:7001\n  shutdown_timeout: 3s\nlog:\n  level: debug\n"
	tests := []struct {
		name       string
		args, env  []string
		wantListen string
		wantLevel  string
	}{
		{"file only", nil, nil, "127.0.0.1:7001", "debug"},
		{"env overrides file", nil, []string{"SWITCHBOARD_HTTP_LISTEN=127.0.0.1:7002"}, "127.0.0.1:7002", "debug"},
		{"flag overrides env", []string{"--http-listen", "127.0.0.1:7003"}, []string{"SWITCHBOARD_HTTP_LISTEN=127.0.0.1:7002"}, "127.0.0.1:7003", "debug"},
		{"flag overrides file", []string{"--log-level=warn"}, nil, "127.0.0.1:7001", "warn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(t, file, tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HTTP.Listen != tc.wantListen || cfg.Log.Level != tc.wantLevel {
				t.Errorf("listen=%q level=%q, want %q %q", cfg.HTTP.Listen, cfg.Log.Level, tc.wantListen, tc.wantLevel)
			}
			if cfg.HTTP.ShutdownTimeout != 3*time.Second {
				t.Errorf("shutdown_timeout = %v, want 3s from the file", cfg.HTTP.ShutdownTimeout)
			}
		})
	}
}

func TestConfigRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"400d": 400 * 24 * time.Hour, "720h": 720 * time.Hour, "0": 0} {
		cfg, err := load(t, "cdr:\n  retention: "+in+"\n", nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if time.Duration(cfg.CDR.Retention) != want {
			t.Errorf("retention %s = %v, want %v", in, time.Duration(cfg.CDR.Retention), want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := load(t, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.DSN != "sqlite:./data/switchboard.db" || cfg.HTTP.Listen != "127.0.0.1:8080" || cfg.DCP.Mount != "/dcp/" {
		t.Errorf("defaults = %+v", cfg)
	}
	want := SIPConfig{Interval: 30 * time.Second, Timeout: 5 * time.Second, Misses: 3, LagThreshold: time.Second}
	if !reflect.DeepEqual(cfg.SIP, want) {
		t.Errorf("sip defaults = %+v, want %+v (probing off)", cfg.SIP, want)
	}
}

// The sip section from each source; the list of domains also from the
// environment and flags, comma-separated.
func TestConfigSIP(t *testing.T) {
	file := "sip:\n  enabled: true\n  interval: 10s\n  misses: 2\n  listen: 127.0.0.1\n  qualify_domains: [A.example.com]\n  qualify_interval: 1m\n"
	cfg, err := load(t, file, []string{"--sip-lag-threshold", "300ms"}, []string{"SWITCHBOARD_SIP_TIMEOUT=2s"})
	if err != nil {
		t.Fatal(err)
	}
	want := SIPConfig{Enabled: true, Interval: 10 * time.Second, Timeout: 2 * time.Second, Misses: 2, LagThreshold: 300 * time.Millisecond,
		Listen: "127.0.0.1", QualifyDomains: []string{"A.example.com"}, QualifyInterval: time.Minute}
	if !reflect.DeepEqual(cfg.SIP, want) {
		t.Errorf("sip = %+v, want %+v", cfg.SIP, want)
	}
	cfg, err = load(t, file, []string{"--sip-qualify-domains", "a.example.com, b.example.com"}, []string{"SWITCHBOARD_SIP_ENABLED=false"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SIP.Enabled || !slices.Equal(cfg.SIP.QualifyDomains, []string{"a.example.com", "b.example.com"}) {
		t.Errorf("enabled %v, qualify_domains %q", cfg.SIP.Enabled, cfg.SIP.QualifyDomains)
	}
}

// Each invalid configuration is refused with a message naming its key.
func TestConfigInvalid(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		args, env []string
		wantKey   string
	}{
		{"unknown file key", "http:\n  lisen: x\n", nil, nil, "lisen"},
		{"bad listen in file", "http:\n  listen: nonsense\n", nil, nil, "http.listen"},
		{"bad duration in env", "", nil, []string{"SWITCHBOARD_HTTP_SHUTDOWN_TIMEOUT=soon"}, "http.shutdown_timeout"},
		{"unknown env var", "", nil, []string{"SWITCHBOARD_HTTP_LISTN=1"}, "SWITCHBOARD_HTTP_LISTN"},
		{"bad dsn flag", "", []string{"--database-dsn", "mysql://x"}, nil, "database.dsn"},
		{"bad log level", "", []string{"--log-level", "loud"}, nil, "log.level"},
		{"bad log format", "log:\n  format: xml\n", nil, nil, "log.format"},
		{"bad dcp mount", "", []string{"--dcp-mount", "dcp"}, nil, "dcp.mount"},
		{"dcp listen equals http", "", []string{"--dcp-listen", "127.0.0.1:8080"}, nil, "dcp.listen"},
		{"metrics listen equals http", "", []string{"--metrics-listen", "127.0.0.1:8080"}, nil, "metrics.listen"},
		{"metrics listen bad", "", []string{"--metrics-listen", "nowhere"}, nil, "metrics.listen"},
		{"tiny body limit", "", []string{"--http-max-body-bytes", "10"}, nil, "http.max_body_bytes"},
		{"body limit not a number", "", []string{"--http-max-body-bytes", "lots"}, nil, "http.max_body_bytes"},
		{"type error in file", "http:\n  max_body_bytes: [1]\n", nil, nil, "(file)"},
		{"retention in hours too short", "", []string{"--cdr-retention", "2h"}, nil, "cdr.retention"},
		{"retention not days", "cdr:\n  retention: forever\n", nil, nil, "(file)"},
		{"batch size zero", "", []string{"--cdr-batch-size", "0"}, nil, "cdr.batch_size"},
		{"queue smaller than batch", "", []string{"--cdr-queue-size", "10"}, nil, "cdr.queue_size"},
		{"empty spool dir", "", []string{"--cdr-spool-dir", ""}, nil, "cdr.spool_dir"},
		{"sip enabled not a bool", "", nil, []string{"SWITCHBOARD_SIP_ENABLED=yes please"}, "sip.enabled"},
		{"sip interval too short", "", []string{"--sip-interval", "10ms"}, nil, "sip.interval"},
		{"sip interval not a duration", "sip:\n  interval: often\n", nil, nil, "(file)"},
		{"sip timeout zero", "", []string{"--sip-timeout", "0s"}, nil, "sip.timeout"},
		{"sip misses zero", "sip:\n  misses: 0\n", nil, nil, "sip.misses"},
		{"sip misses not a number", "", []string{"--sip-misses", "three"}, nil, "sip.misses"},
		{"sip lag threshold negative", "", []string{"--sip-lag-threshold", "-1s"}, nil, "sip.lag_threshold"},
		{"sip listen with a port", "", []string{"--sip-listen", "127.0.0.1:5060"}, nil, "sip.listen"},
		{"sip qualify domain invalid", "sip:\n  qualify_domains: [a.example.com, not a domain]\n", nil, nil, "sip.qualify_domains[1]"},
		{"sip qualify domain from env", "", nil, []string{"SWITCHBOARD_SIP_QUALIFY_DOMAINS=a.example.com,-bad-"}, "sip.qualify_domains[1]"},
		{"sip qualify interval too short", "", []string{"--sip-qualify-interval", "1ms"}, nil, "sip.qualify_interval"},
		{"sip unknown key", "sip:\n  intervall: 1s\n", nil, nil, "intervall"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.file, tc.args, tc.env)
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			if ce.Key != tc.wantKey || !strings.Contains(err.Error(), tc.wantKey) {
				t.Errorf("error %q names key %q, want %q", err, ce.Key, tc.wantKey)
			}
		})
	}
}

// The README's configuration reference lists every key with its
// environment variable and flag.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		for _, want := range []string{"`" + s.key + "`", "`" + s.EnvName() + "`", "`--" + s.FlagName() + "`"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("README.md does not mention %s", want)
			}
		}
	}
}

func TestConfigSwitches(t *testing.T) {
	good := "switches:\n  - name: ast1\n    type: asterisk\n    url: http://127.0.0.1:8088/ari\n    user: sb\n    password: pw\n    domain: pbx.example.com\n"
	cfg, err := load(t, good, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Switches) != 1 || cfg.Switches[0].Domain != "pbx.example.com" {
		t.Fatalf("switches = %+v", cfg.Switches)
	}
	fsGood := good + "  - name: fs1\n    type: freeswitch\n    esl: 127.0.0.1:8021\n    password: secret\n    http_allow: [127.0.0.1]\n"
	tests := []struct{ name, file, wantKey string }{
		{"bad name", strings.Replace(good, "ast1", "Ast 1", 1), "switches[0].name"},
		{"unknown type", strings.Replace(good, "asterisk", "pbx", 1), "switches[0].type"},
		{"freeswitch good", fsGood, ""},
		{"freeswitch without esl", strings.Replace(fsGood, "    esl: 127.0.0.1:8021\n", "", 1), "switches[1].esl"},
		{"freeswitch bad esl", strings.Replace(fsGood, "127.0.0.1:8021", "fs.example", 1), "switches[1].esl"},
		{"freeswitch no http protection", strings.Replace(fsGood, "    http_allow: [127.0.0.1]\n", "", 1), "switches[1].http_password"},
		{"freeswitch bad allow", strings.Replace(fsGood, "[127.0.0.1]", "[10.0.0.0/33]", 1), "switches[1].http_allow[0]"},
		{"freeswitch user without password", fsGood + "    http_user: fs\n", "switches[1].http_user"},
		{"freeswitch with an asterisk key", fsGood + "    cdr_file: /var/log/Master.csv\n", "switches[1].cdr_file"},
		{"asterisk with a freeswitch key", strings.Replace(good, "    domain: pbx.example.com\n", "    domain: pbx.example.com\n    esl: 127.0.0.1:8021\n", 1), "switches[0].esl"},
		{"bad url", strings.Replace(good, "http://127.0.0.1:8088/ari", "127.0.0.1:8088", 1), "switches[0].url"},
		{"no password", strings.Replace(good, "    password: pw\n", "", 1), "switches[0].password"},
		{"bad domain", strings.Replace(good, "pbx.example.com", "not a domain", 1), "switches[0].domain"},
		{"duplicate", good + "  - name: ast1\n    type: asterisk\n    url: http://x/ari\n    user: a\n    password: b\n", "switches[1].name"},
		{"unknown key", good + "    pasword: x\n", "switches[0].pasword"},
		{"bad cdr file zone", good + "    cdr_file_timezone: Mars/Olympus\n", "switches[0].cdr_file_timezone"},
		{"sip uri and register check", good + "    sip_uri: sip:127.0.0.1:5060;transport=udp\n    register_check: probe@pbx.example.com\n    register_check_interval: 30s\n", ""},
		{"sips uri on a freeswitch node", fsGood + "    sip_uri: sips:[2001:db8::1]:5061\n", ""},
		{"sip uri not sip", good + "    sip_uri: http://127.0.0.1:5060\n", "switches[0].sip_uri"},
		{"sip uri bad port", good + "    sip_uri: sip:127.0.0.1:99999\n", "switches[0].sip_uri"},
		{"sip uri over websocket", good + "    sip_uri: sip:127.0.0.1:8088;transport=ws\n", "switches[0].sip_uri"},
		{"register check without sip uri", good + "    register_check: probe@pbx.example.com\n", "switches[0].register_check"},
		{"register check not an aor", good + "    sip_uri: sip:127.0.0.1\n    register_check: probe\n", "switches[0].register_check"},
		{"register check bad domain", good + "    sip_uri: sip:127.0.0.1\n    register_check: probe@not a domain\n", "switches[0].register_check"},
		{"register check interval too short", good + "    register_check_interval: 1ms\n", "switches[0].register_check_interval"},
		{"switch named sip while probing", "sip:\n  enabled: true\n" + strings.Replace(good, "ast1", "sip", 1), "switches[0].name"},
		{"switch named sip without probing", strings.Replace(good, "ast1", "sip", 1), ""},
		{"a key of no type", good + "    frobnicate: 1\n", "switches[0].frobnicate"},
		{"a common key of the wrong kind", good + "    reconcile_interval: soon\n", "switches[0]"},
		{"a block key of the wrong kind", fsGood + "    profiles: internal\n", "switches[1]"},
		{"unknown type with keys of no type", strings.Replace(good, "asterisk", "pbx", 1) + "    frobnicate: 1\n", "switches[0].type"},
		{"no type", strings.Replace(good, "    type: asterisk\n", "", 1), "switches[0].type"},
		{"a node that is not a mapping", "switches:\n  - ast1\n", "switches[0]"},
		{"switches not a list", "switches:\n  name: ast1\n", "switches"},
		{"authz on freeswitch", fsGood + "    authz: fail_closed\n", ""},
		{"authz not a policy", fsGood + "    authz: maybe\n", "switches[1].authz"},
		{"authz on asterisk", good + "    dialplan_file: /etc/asterisk/x.conf\n    routing: true\n    authz: fail_open\n    authz_url: http://127.0.0.1:8080/asterisk/ast1/authz\n", ""},
		{"authz on asterisk without its url", good + "    dialplan_file: /etc/asterisk/x.conf\n    routing: true\n    authz: fail_open\n", "switches[0].authz_url"},
		{"authz on asterisk without routing", good + "    authz: fail_open\n    authz_url: http://127.0.0.1:8080/asterisk/ast1/authz\n", "switches[0].authz"},
		{"authz url with a comma", good + "    authz_url: http://127.0.0.1:8080/a,b\n", "switches[0].authz_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.file, nil, nil)
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != tc.wantKey {
				t.Errorf("err = %v, want one naming %s", err, tc.wantKey)
			}
			if err != nil && strings.Contains(err.Error(), "pw") && tc.name != "unknown key" {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// A key of another switch type is refused by the strict decoding of the
// node's own block, naming the key, its line and the node's type.
func TestConfigSwitchForeignKey(t *testing.T) {
	file := "switches:\n  - name: fs1\n    type: freeswitch\n    esl: 127.0.0.1:8021\n    password: secret\n    http_allow: [127.0.0.1]\n    cdr_file: /var/log/Master.csv\n"
	_, err := load(t, file, nil, nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "switches[0].cdr_file" || ce.Reason != "is not a setting of freeswitch nodes (line 7)" || !strings.HasPrefix(ce.Source, "file ") {
		t.Errorf("err = %#v", err)
	}
}

// Each node gets the block of its type, with its adapter's defaults for
// the keys left out.
func TestConfigSwitchBlocks(t *testing.T) {
	file := "switches:\n  - name: ast1\n    type: asterisk\n    url: http://127.0.0.1:8088/ari\n    user: sb\n    password: pw\n" +
		"  - name: fs1\n    type: freeswitch\n    esl: 127.0.0.1:8021\n    password: secret\n    http_allow: [127.0.0.1]\n    user_context: phones\n"
	cfg, err := load(t, file, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ast, fsw := cfg.Switches[0], cfg.Switches[1]
	if ast.FreeSWITCH != nil || ast.Asterisk == nil || *ast.Asterisk != (asterisk.NodeConfig{URL: "http://127.0.0.1:8088/ari", User: "sb", Password: "pw", App: "switchboard", CDRFileTimezone: "UTC"}) {
		t.Errorf("asterisk node %+v, block %+v", ast, ast.Asterisk)
	}
	if fsw.Asterisk != nil || fsw.FreeSWITCH == nil || !reflect.DeepEqual(*fsw.FreeSWITCH, freeswitch.NodeConfig{ESL: "127.0.0.1:8021", Password: "secret",
		HTTPAllow: []string{"127.0.0.1"}, PhoneProfile: "internal", GatewayProfile: "external", UserContext: "phones", DirectoryCacheMS: freeswitch.DefaultDirectoryCacheMS}) {
		t.Errorf("freeswitch node %+v, block %+v", fsw, fsw.FreeSWITCH)
	}
}
