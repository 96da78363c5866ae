package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// An Asterisk node with routing: true (issue 13): an extension created
// through the API reaches the generated dialplan, in its tenant's
// context, within 2 s, followed by a pbx_config reload; the tenant's
// account is pushed with that context; deleted, the extension goes again
// within 2 s.
func TestServeKeepsAsteriskRouting(t *testing.T) {
	srv, base, token, file, reloads := startDialplanDaemon(t, "    routing: true\n")
	code, m := do(t, "POST", base+"/api/v1/tenants", token, `{"name":"Acme"}`)
	if code != http.StatusCreated {
		t.Fatalf("tenant: %d %v", code, m)
	}
	tenant := m["id"]
	ctxName := fmt.Sprintf("sb-t%v", tenant)
	do(t, "POST", base+"/api/v1/domains", token, fmt.Sprintf(`{"tenant_id":%v,"name":"pbx.example.com"}`, tenant))
	code, m = do(t, "POST", base+"/api/v1/accounts", token, `{"domain":"pbx.example.com","username":"3001","secret":"s3cret-3001"}`)
	if code != http.StatusCreated {
		t.Fatalf("account: %d %v", code, m)
	}
	account := m["id"]
	switchtest.WaitFor(t, "the account's endpoint pushed in its tenant's context", func() bool {
		ep, ok := srv.ConfigObject("endpoint", "3001")
		return ok && ep["context"] == ctxName
	})
	before := reloads()
	start := time.Now()
	code, m = do(t, "POST", base+"/api/v1/extensions", token, fmt.Sprintf(`{"tenant_id":%v,"number":"100","destination":{"type":"account","id":%v},"caller_id_number":"+15145550100"}`, tenant, account))
	if code != http.StatusCreated {
		t.Fatalf("extension: %d %v", code, m)
	}
	within(t, 2*time.Second, "the extension in its tenant's context", func() bool {
		b, _ := os.ReadFile(file)
		s := string(b)
		return strings.Contains(s, "["+ctxName+"]") && strings.Contains(s, "exten => 100,1,") && strings.Contains(s, "Dial(PJSIP/3001)") &&
			strings.Contains(s, "Set(CALLERID(num)=+15145550100)")
	})
	switchtest.WaitFor(t, "pbx_config reloaded after the change", func() bool { return reloads() > before })
	t.Logf("extension in the file and pbx_config reloaded %v after the API call", time.Since(start).Round(time.Millisecond))
	if b, _ := os.ReadFile(file); strings.Contains(string(b), "s3cret") {
		t.Error("the dialplan file holds the account's secret")
	}
	if code, m := do(t, "DELETE", fmt.Sprintf("%s/api/v1/extensions/%v", base, m["id"]), token, ""); code != http.StatusNoContent {
		t.Fatalf("delete extension: %d %v", code, m)
	}
	within(t, 2*time.Second, "the extension gone from the dialplan file", func() bool {
		b, _ := os.ReadFile(file)
		return !strings.Contains(string(b), "exten => 100,1,")
	})
}

// startDialplanDaemon starts the daemon with one Asterisk node (an
// aritest server) whose dialplan_file is a temporary file, plus extra
// lines of its switches entry; it returns the server, the API's base URL,
// an admin token, the file and a count of pbx_config reloads so far.
func startDialplanDaemon(t *testing.T, extra string) (srv *aritest.Server, base, token, file string, reloads func() int) {
	t.Helper()
	srv = aritest.New(t)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "sb.db")
	conf := filepath.Join(t.TempDir(), "switchboard.yaml")
	file = filepath.Join(t.TempDir(), "extensions_switchboard.conf")
	yaml := fmt.Sprintf("switches:\n  - name: ast1\n    type: asterisk\n    url: %s\n    user: %s\n    password: %s\n    domain: pbx.example.com\n    metrics_url: \"-\"\n    dialplan_file: %s\n%s",
		srv.URL, aritest.User, aritest.Password, file, extra)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, dsn, "--config", conf)
	token = createToken(t, dsn)
	reloads = func() int {
		k := 0
		for _, r := range srv.Requests() {
			if strings.Contains(r, "PUT") && strings.Contains(r, "/asterisk/modules/pbx_config") {
				k++
			}
		}
		return k
	}
	return srv, "http://" + d.addr, token, file, reloads
}
