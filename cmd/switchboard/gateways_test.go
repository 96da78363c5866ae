package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// TestServeGatewayPushStates runs the daemon against an Asterisk node
// (aritest) and a FreeSWITCH node (esltest), both loopback fakes:
//
//   - a managed gateway whose registration Asterisk refuses shows in
//     GET /api/v1/gateways/{id} as failed on ast1 with Asterisk's answer
//     (to an admin), and switchboard_config_push_failures_total counts
//     it; on fs1, where sofia does not have it after the rescan, it is
//     failed too; a gateway sofia has is applied there;
//   - a managed gateway whose name pjsip.conf already uses is a conflict
//     on ast1, logged at WARN once, never at ERROR, across a reconnect;
//   - an account is applied on ast1 and on_demand on fs1;
//   - an observed gateway, pjsip.conf's trunk "gateway", is never written
//     or deleted on either node (no PUT or DELETE of it in ARI's
//     requests, no killgw, rescan or lookup of it over ESL), yet its
//     status (up at once, without waiting for a reconcile), its
//     switchboard_gateway_up series and the classification of a call
//     through it (inbound, gateway "gateway", counted per gateway) work.
func TestServeGatewayPushStates(t *testing.T) {
	ast := aritest.New(t)
	// pjsip.conf's own trunks: "gateway" (the recorded node's, online),
	// and "pbx2", which a managed gateway of that name will clash with.
	ast.AddStaticObject("endpoint", "gateway", map[string]string{"context": "from-gateway", "aors": "gateway"})
	ast.AddStaticObject("endpoint", "pbx2", map[string]string{"context": "from-gateway"})
	ast.RefuseObject("registration", "carrier")
	const eslPassword = "esl-S3cret-gw"
	fs := esltest.New(t, esltest.WithPassword(eslPassword))

	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "sb.db")
	conf := filepath.Join(dir, "switchboard.yaml")
	yaml := fmt.Sprintf(`switches:
  - name: ast1
    type: asterisk
    url: %s
    user: %s
    password: %s
    metrics_url: "-"
    reconcile_interval: 1h # the gateway's status must not wait for it
  - name: fs1
    type: freeswitch
    esl: %s
    password: %s
    domain: pbx.example.com
    http_user: %s
    http_password: %s
`, ast.URL, aritest.User, aritest.Password, fs.Addr(), eslPassword, fsHTTPUser, fsHTTPPassword)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d, log := startDaemonLogged(t, dsn, "--config", conf, "--log-level", "info")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", log)
		}
	})
	token := createToken(t, dsn)
	base := "http://" + d.addr
	if !ast.WaitSocket(10*time.Second) || !fs.WaitConnected(10*time.Second) {
		t.Fatal("the daemon did not connect to both nodes")
	}
	mustDo := func(method, path, body string, want int) map[string]any {
		t.Helper()
		code, m := do(t, method, base+path, token, body)
		if code != want {
			t.Fatalf("%s %s: %d %v, want %d", method, path, code, m, want)
		}
		return m
	}
	applied := func(path string) map[string]map[string]any {
		_, m := do(t, "GET", base+path, token, "")
		out := map[string]map[string]any{}
		items, _ := m["applied"].([]any)
		for _, it := range items {
			a, _ := it.(map[string]any)
			out[fmt.Sprint(a["switch"])] = a
		}
		return out
	}
	tenant := mustDo("POST", "/api/v1/tenants", `{"name":"Acme"}`, http.StatusCreated)
	mustDo("POST", "/api/v1/domains", fmt.Sprintf(`{"tenant_id":%v,"name":"pbx.example.com"}`, tenant["id"]), http.StatusCreated)
	acct := mustDo("POST", "/api/v1/accounts", `{"domain":"pbx.example.com","username":"3001","secret":"s3cret-3001"}`, http.StatusCreated)
	observed := mustDo("POST", "/api/v1/gateways", `{"name":"gateway","managed":false,"description":"pjsip.conf's trunk"}`, http.StatusCreated)
	carrier := mustDo("POST", "/api/v1/gateways", `{"name":"carrier","host":"192.0.2.50","username":"acct42","secret":"carrier-S3cret","register":true}`, http.StatusCreated)
	gw1 := mustDo("POST", "/api/v1/gateways", `{"name":"gw1","host":"127.0.0.1","port":5091}`, http.StatusCreated)
	pbx2 := mustDo("POST", "/api/v1/gateways", `{"name":"pbx2","host":"192.0.2.60"}`, http.StatusCreated)
	path := func(kind string, m map[string]any) string { return fmt.Sprintf("/api/v1/%s/%v", kind, m["id"]) }
	// Declared, the trunk the node already reported as an endpoint is a
	// gateway at once (the adapter resyncs), up as its endpoint is.
	switchtest.WaitFor(t, "the observed gateway up on ast1", func() bool {
		_, m := do(t, "GET", base+"/api/v1/gateways/status?name=gateway&switch=ast1", token, "")
		b, _ := json.Marshal(m["items"])
		return strings.Contains(string(b), `"state":"up","switch":"ast1"`) // keys sorted
	})

	switchtest.WaitFor(t, "carrier failed on both nodes", func() bool {
		a := applied(path("gateways", carrier))
		return a["ast1"]["state"] == "failed" && a["fs1"]["state"] == "failed"
	})
	a := applied(path("gateways", carrier))
	if e := fmt.Sprint(a["ast1"]["error"]); !strings.Contains(e, "res_pjsip/registration/carrier") || !strings.Contains(e, "failed field value validation") {
		t.Errorf("carrier on ast1: error %q, want Asterisk's refusal of the registration", e)
	}
	if e := fmt.Sprint(a["fs1"]["error"]); !strings.Contains(e, "sofia has no gateway carrier") {
		t.Errorf("carrier on fs1: error %q", e)
	}
	if _, ok := ast.ConfigObject("endpoint", "carrier"); ok {
		t.Error("half of carrier was left on ast1")
	}
	switchtest.WaitFor(t, "gw1 applied on both nodes, pbx2 a conflict on ast1, 3001 applied", func() bool {
		g, p, ac := applied(path("gateways", gw1)), applied(path("gateways", pbx2)), applied(path("accounts", acct))
		return g["ast1"]["state"] == "applied" && g["fs1"]["state"] == "applied" && p["ast1"]["state"] == "conflict" &&
			ac["ast1"]["state"] == "applied" && ac["fs1"]["state"] == "on_demand"
	})
	if e := fmt.Sprint(applied(path("gateways", pbx2))["ast1"]["error"]); !strings.Contains(e, "res_pjsip/endpoint/pbx2 exists on the switch and is not Switchboard's") {
		t.Errorf("pbx2 conflict error: %q", e)
	}
	if a := applied(path("gateways", observed)); len(a) != 0 {
		t.Errorf("the observed gateway has push states: %v", a)
	}
	metrics := string(scrapeMetrics(t, base))
	failures := regexp.MustCompile(`switchboard_config_push_failures_total\{kind="gateway",switch="ast1"\} (\d+)`)
	mf := failures.FindStringSubmatch(metrics)
	if n, _ := strconv.Atoi(mf[1]); len(mf) < 2 || n < 1 {
		t.Errorf("push failures of gateways on ast1 = %v, want at least 1 (carrier)", mf)
	}
	// carrier failed, pbx2 a conflict, gw1 applied; the observed one in
	// no state; the account applied.
	for _, want := range []string{
		`switchboard_config_push_states{kind="gateway",state="failed",switch="ast1"} 1`,
		`switchboard_config_push_states{kind="gateway",state="conflict",switch="ast1"} 1`,
		`switchboard_config_push_states{kind="gateway",state="applied",switch="ast1"} 1`,
		`switchboard_config_push_states{kind="account",state="applied",switch="ast1"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("no %s in /metrics:\n%s", want, grepLines(metrics, "switchboard_config_push_states"))
		}
	}

	// A reconnect reconciles again: the conflict is not reported again,
	// and nothing about pbx2 or the observed gateway reaches ERROR.
	ast.DropSockets()
	switchtest.WaitFor(t, "the reconnect", func() bool { return ast.Connects() >= 2 })
	switchtest.WaitFor(t, "carrier tried again", func() bool {
		n := 0
		for _, r := range ast.Requests() {
			if strings.HasPrefix(r, "PUT ") && strings.HasSuffix(r, "/registration/carrier") {
				n++
			}
		}
		return n >= 2
	})
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "level=ERROR") && (strings.Contains(l, "pbx2") || strings.Contains(l, "=gateway")) {
			t.Errorf("ERROR logged for a conflict or an observed gateway: %s", l)
		}
	}
	if n := strings.Count(log.String(), "endpoint/pbx2"); n != 1 {
		t.Errorf("the pbx2 conflict logged %d times, want once", n)
	}

	// The observed gateway: never written or deleted, still reported.
	mustDo("PATCH", path("gateways", observed), `{"description":"still pjsip.conf's"}`, http.StatusOK)
	for _, r := range ast.Requests() {
		if (strings.HasPrefix(r, "PUT ") || strings.HasPrefix(r, "DELETE ")) && strings.HasSuffix(r, "/gateway") {
			t.Errorf("ARI request for the observed gateway: %s", r)
		}
	}
	if f, ok := ast.ConfigObject("endpoint", "gateway"); !ok || f["context"] != "from-gateway" {
		t.Errorf("pjsip.conf's trunk changed: %v", f)
	}
	for _, c := range fs.Commands() {
		if strings.HasSuffix(c, "xmlstatus gateway gateway") || strings.HasSuffix(c, "killgw gateway") {
			t.Errorf("ESL command for the observed gateway: %s", c)
		}
	}
	if m := string(scrapeMetrics(t, base)); !strings.Contains(m, `switchboard_gateway_up{gateway="gateway",switch="ast1"} 1`) {
		t.Errorf("no switchboard_gateway_up series of the observed gateway:\n%s", grepLines(m, "switchboard_gateway_up"))
	}
	events, callerID, _ := aritest.CallEvents("gateway", "1001", 3*time.Second, time.Now())
	ast.Push(events...)
	var leg map[string]any
	switchtest.WaitFor(t, "the call through the observed gateway stored", func() bool {
		_, m := do(t, "GET", base+"/api/v1/cdrs?switch=ast1&gateway=gateway", token, "")
		items, _ := m["items"].([]any)
		for _, it := range items {
			if r, _ := it.(map[string]any); r["call_id"] == callerID {
				leg = r
				return true
			}
		}
		return false
	})
	if leg["direction"] != "inbound" || leg["gateway"] != "gateway" {
		t.Errorf("the call through the observed gateway: direction %v gateway %v, want inbound through gateway", leg["direction"], leg["gateway"])
	}
	switchtest.WaitFor(t, "the call counted per gateway", func() bool {
		return strings.Contains(string(scrapeMetrics(t, base)), `switchboard_gateway_calls_total{gateway="gateway",outcome="answered"} 1`)
	})
}
