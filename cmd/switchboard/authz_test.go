package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// TestAuthzEndpoint: the Asterisk nodes' authorization endpoint, as the
// daemon mounts it, answers a loopback peer (a tenant without a plan or
// limits: allowed) and refuses any other peer before authorizing.
func TestAuthzEndpoint(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldbtest.DSNs(t)[sqldb.SQLite])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc := provisioning.NewService(sqlstore.New(db))
	tn := &provisioning.Tenant{Name: "acme"}
	if err := svc.CreateTenant(ctx, provisioning.AdminScope(), tn); err != nil {
		t.Fatal(err)
	}
	a := authz.New(svc, authz.StoreBalances(cdrstore.NewStore(db)), authz.BillingCredit(svc), authz.ProvisioningLimits(svc), nil, authz.Config{})
	prefix := "/asterisk/ast1/authz"
	mux := http.NewServeMux()
	mux.Handle("GET "+prefix+"/", authzHandler(svc, a, prefix, true))
	ask := func(remote string) (int, string) {
		req := httptest.NewRequest("GET", prefix+"/authorize?tenant=1&switch=ast1&dir=outbound&dest=15145550100&call=1733.1", nil)
		req.RemoteAddr = remote
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		b, _ := io.ReadAll(w.Result().Body)
		return w.Code, string(b)
	}
	if code, body := ask("127.0.0.1:40000"); code != http.StatusOK || !strings.HasPrefix(body, "allow:") {
		t.Errorf("loopback: %d %q", code, body)
	}
	if code, body := ask("192.0.2.7:40000"); code != http.StatusForbidden || strings.HasPrefix(body, "allow") {
		t.Errorf("another peer: %d %q", code, body)
	}
	if n := a.Live(tn.ID, 0); n != 1 {
		t.Errorf("%d calls reserved, want the loopback one only", n)
	}
}
