package main

import (
	"strings"
	"testing"
)

// TestDCPDocumentClient runs the daemon as the dcp document's clients meet
// it: dcp.default_domain wired from the command line lets an admin token
// create a user with the document's parameters alone (and jQuery's "_"),
// and a not-found answer (501) is counted as a client error, not a
// server error.
func TestDCPDocumentClient(t *testing.T) {
	dsn := "sqlite:" + t.TempDir() + "/sb.db"
	d := startDaemon(t, dsn, "--dcp-default-domain", "acme.example.com")
	token := createToken(t, dsn)
	base := "http://" + d.addr

	code, m := do(t, "POST", base+"/api/v1/tenants", token, `{"name":"Acme"}`)
	if code != 201 {
		t.Fatalf("create tenant: %d %v", code, m)
	}
	tid := m["id"].(float64)
	if code, m = do(t, "POST", base+"/api/v1/domains", token, `{"tenant_id":`+itoa(int(tid))+`,"name":"acme.example.com"}`); code != 201 {
		t.Fatalf("create domain: %d %v", code, m)
	}
	code, m = do(t, "GET", base+"/dcp/user/create?token="+token+"&accid=alice&password=alice-pw-1&email=alice%40example.com&firstname=Alice&lastname=A&_=1733912345678", "", "")
	if code != 200 || m["data"].(map[string]any)["tenant"] != tid {
		t.Fatalf("dcp user/create without dcp: %d %v", code, m)
	}
	if code, m = do(t, "GET", base+"/dcp/phonenumber/list?token="+token+"&dcp=nowhere.example.com", "", ""); code != 501 {
		t.Fatalf("unknown dcp: %d %v", code, m)
	}
	metrics := string(scrapeMetrics(t, base))
	for _, want := range []string{
		`switchboard_http_requests_total{class="client_error",code="501",dialect="dcp",route="/dcp/"} 1`,
		`switchboard_http_requests_total{class="ok",code="200",dialect="dcp",route="/dcp/"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `class="server_error"`) {
		t.Errorf("a server error was counted:\n%s", metrics)
	}
}
