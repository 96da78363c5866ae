package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// A FreeSWITCH node with dialplan_fallback_dir: the daemon keeps the DID
// map there as static extensions and sends reloadxml after each change,
// so that DIDs route while it is down (issue 12 item 13): a DID created
// through the API appears in the file running its account in the
// tenant's routing context (whose bridge is in the routing file),
// followed by a reloadxml to the node; deleted, it goes again.
func TestServeKeepsFreeSWITCHDIDFallback(t *testing.T) {
	dir := t.TempDir()
	n := startFSNodeWith(t, "esl-S3cret-fs1", "    dialplan_fallback_dir: "+dir+"\n")
	file := filepath.Join(dir, "00_switchboard_dids.xml")
	reloads := func() int {
		k := 0
		for _, c := range n.srv.Commands() {
			if strings.TrimSpace(c) == "api reloadxml" {
				k++
			}
		}
		return k
	}
	// At start: the file is written (no DIDs yet) and the node reloaded.
	switchtest.WaitFor(t, "the fallback file at start", func() bool { _, err := os.Stat(file); return err == nil })
	switchtest.WaitFor(t, "reloadxml at start", func() bool { return reloads() >= 1 })

	code, m := do(t, "POST", n.base+"/api/v1/tenants", n.token, `{"name":"Acme"}`)
	if code != http.StatusCreated {
		t.Fatalf("tenant: %d %v", code, m)
	}
	tenant := m["id"]
	if code, m := do(t, "POST", n.base+"/api/v1/domains", n.token, fmt.Sprintf(`{"tenant_id":%v,"name":%q}`, tenant, fsDomain)); code != http.StatusCreated {
		t.Fatalf("domain: %d %v", code, m)
	}
	code, m = do(t, "POST", n.base+"/api/v1/accounts", n.token, `{"domain":"`+fsDomain+`","username":"3001","secret":"s3cret-3001"}`)
	if code != http.StatusCreated {
		t.Fatalf("account: %d %v", code, m)
	}
	before := reloads()
	account := m["id"]
	code, m = do(t, "POST", n.base+"/api/v1/dids", n.token, fmt.Sprintf(`{"tenant_id":%v,"number":"+4930100001","account_id":%v}`, tenant, account))
	if code != http.StatusCreated {
		t.Fatalf("did: %d %v", code, m)
	}
	// With call routing (issue 13) the DID runs its account in the
	// tenant's context (its forwards applied), and the routing file, in
	// the parent directory, rings the account there.
	run := fmt.Sprintf(`<action application="execute_extension" data="sb-a%v XML sb-t%v"/>`, account, tenant)
	bridge := `<action application="bridge" data="user/3001@` + fsDomain + `"/>`
	within(t, 3*time.Second, "the DID in the fallback file", func() bool {
		b, _ := os.ReadFile(file)
		r, _ := os.ReadFile(filepath.Join(filepath.Dir(dir), "00_switchboard_routing.xml"))
		return strings.Contains(string(b), `expression="^\+?4930100001$"`) && strings.Contains(string(b), run) && strings.Contains(string(r), bridge)
	})
	switchtest.WaitFor(t, "reloadxml after the change", func() bool { return reloads() > before })

	if code, m := do(t, "DELETE", fmt.Sprintf("%s/api/v1/dids/%v", n.base, m["id"]), n.token, ""); code != http.StatusNoContent {
		t.Fatalf("delete did: %d %v", code, m)
	}
	within(t, 3*time.Second, "the DID gone from the fallback file", func() bool {
		b, _ := os.ReadFile(file)
		return !strings.Contains(string(b), "4930100001")
	})
}

// An Asterisk node with dialplan_file: the daemon keeps the node's DIDs in
// the generated include and has pbx_config reloaded over ARI after each
// change (issue 12 item 13): a DID created through the API appears in
// switchboard-dids dialling its account's endpoint, followed by PUT
// /asterisk/modules/pbx_config; deleted, it goes again.
func TestServeKeepsAsteriskDialplan(t *testing.T) {
	_, base, token, file, reloads := startDialplanDaemon(t, "")
	switchtest.WaitFor(t, "the dialplan file and a reload at start", func() bool {
		b, err := os.ReadFile(file)
		return err == nil && strings.Contains(string(b), "[switchboard-dids]") && reloads() >= 1
	})

	code, m := do(t, "POST", base+"/api/v1/tenants", token, `{"name":"Acme"}`)
	if code != http.StatusCreated {
		t.Fatalf("tenant: %d %v", code, m)
	}
	tenant := m["id"]
	do(t, "POST", base+"/api/v1/domains", token, fmt.Sprintf(`{"tenant_id":%v,"name":"pbx.example.com"}`, tenant))
	code, m = do(t, "POST", base+"/api/v1/accounts", token, `{"domain":"pbx.example.com","username":"3001","secret":"s3cret-3001"}`)
	if code != http.StatusCreated {
		t.Fatalf("account: %d %v", code, m)
	}
	before := reloads()
	code, m = do(t, "POST", base+"/api/v1/dids", token, fmt.Sprintf(`{"tenant_id":%v,"number":"+4930100001","account_id":%v}`, tenant, m["id"]))
	if code != http.StatusCreated {
		t.Fatalf("did: %d %v", code, m)
	}
	within(t, 3*time.Second, "the DID in the dialplan file", func() bool {
		b, _ := os.ReadFile(file)
		return strings.Contains(string(b), "exten => +4930100001,1,") && strings.Contains(string(b), "exten => 4930100001,1,") &&
			strings.Contains(string(b), "Dial(PJSIP/3001,30)")
	})
	switchtest.WaitFor(t, "pbx_config reloaded after the change", func() bool { return reloads() > before })
	if b, _ := os.ReadFile(file); strings.Contains(string(b), "s3cret") {
		t.Error("the dialplan file holds the account's secret")
	}

	if code, m := do(t, "DELETE", fmt.Sprintf("%s/api/v1/dids/%v", base, m["id"]), token, ""); code != http.StatusNoContent {
		t.Fatalf("delete did: %d %v", code, m)
	}
	within(t, 3*time.Second, "the DID gone from the dialplan file", func() bool {
		b, _ := os.ReadFile(file)
		return !strings.Contains(string(b), "4930100001")
	})
}
