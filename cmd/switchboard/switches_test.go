package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// A daemon configured with an Asterisk node (the loopback fake ARI):
// an account created through the API is pushed to the node, a phone that
// registers shows up in /api/v1/registrations, and a finished call is
// queryable as CDRs.
func TestServeWithAsterisk(t *testing.T) {
	srv := aritest.New(t)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "sb.db")
	conf := filepath.Join(t.TempDir(), "switchboard.yaml")
	// Asterisk's own Master.csv, tailed to recover calls that ended while
	// Switchboard was away.
	master, err := os.ReadFile("../../switch/asterisk/testdata/cdr/master.csv")
	if err != nil {
		t.Fatal(err)
	}
	cdrFile := filepath.Join(t.TempDir(), "Master.csv")
	if err := os.WriteFile(cdrFile, master, 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("switches:\n  - name: ast1\n    type: asterisk\n    url: %s\n    user: %s\n    password: %s\n    domain: pbx.example.com\n    metrics_url: \"-\"\n    cdr_file: %s\n",
		srv.URL, aritest.User, aritest.Password, cdrFile)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, dsn, "--config", conf)
	token := createToken(t, dsn)
	base := "http://" + d.addr
	if !srv.WaitSocket(10 * time.Second) {
		t.Fatal("the daemon did not open ARI's event socket")
	}

	connected := func() bool {
		_, m := do(t, "GET", base+"/api/v1/switches", token, "")
		items, _ := m["items"].([]any)
		for _, it := range items {
			if sw, _ := it.(map[string]any); sw["name"] == "ast1" && sw["connected"] == true {
				return true
			}
		}
		return false
	}
	switchtest.WaitFor(t, "ast1 connected in /api/v1/switches", connected)
	srv.DropSockets()
	srv.FailNext(503, 503) // the first reconnect attempts fail; backoff retries
	switchtest.WaitFor(t, "the reconnect after the dropped socket", func() bool { return srv.Connects() >= 2 })
	switchtest.WaitFor(t, "ast1 connected again", connected)

	code, m := do(t, "POST", base+"/api/v1/tenants", token, `{"name":"Acme"}`)
	if code != 201 {
		t.Fatalf("tenant: %d %v", code, m)
	}
	do(t, "POST", base+"/api/v1/domains", token, fmt.Sprintf(`{"tenant_id":%v,"name":"pbx.example.com"}`, m["id"]))
	code, m = do(t, "POST", base+"/api/v1/accounts", token, `{"domain":"pbx.example.com","username":"3001","secret":"s3cret-3001"}`)
	if code != 201 {
		t.Fatalf("account: %d %v", code, m)
	}
	// 3001 is new to the node (1001 and 1002 come from its pjsip.conf,
	// which Switchboard never overwrites).
	switchtest.WaitFor(t, "the account pushed to Asterisk", func() bool {
		for _, r := range srv.Requests() {
			if strings.Contains(r, "PUT") && strings.Contains(r, "res_pjsip/auth/3001") {
				return true
			}
		}
		return false
	})

	srv.Push(aritest.ContactEvents("1001", "sip:1001@192.0.2.10:5060", 5*time.Millisecond, false, time.Now())...)
	switchtest.WaitFor(t, "the registration in /api/v1/registrations", func() bool {
		_, m := do(t, "GET", base+"/api/v1/registrations?domain=pbx.example.com", token, "")
		b, _ := json.Marshal(m["items"])
		return strings.Contains(string(b), `"user":"1001"`)
	})

	switchtest.WaitFor(t, "the backfilled CDRs of Master.csv", func() bool {
		_, m := do(t, "GET", base+"/api/v1/cdrs?switch=ast1&limit=100", token, "")
		b, _ := json.Marshal(m["items"])
		return strings.Contains(string(b), "1795610108.0") && strings.Contains(string(b), "1795610153.9")
	})

	events, callerID, _ := aritest.CallEvents("1001", "1002", 3*time.Second, time.Now())
	srv.Push(events...)
	switchtest.WaitFor(t, "the call's CDRs", func() bool {
		_, m := do(t, "GET", base+"/api/v1/cdrs?switch=ast1", token, "")
		b, _ := json.Marshal(m["items"])
		return strings.Contains(string(b), callerID)
	})
}
