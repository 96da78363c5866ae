package main

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// TestDaemonAuthorizerWhitelists: the daemon's authorizer (newAuthorizer)
// asks the provisioning whitelists: a tenant whitelisted for 44 has its
// call to 1… refused as not_whitelisted and its call to 44… allowed, the
// change applying to the very next call.
func TestDaemonAuthorizerWhitelists(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldbtest.DSNs(t)[sqldb.SQLite])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		t.Fatal(err)
	}
	c := &components{reg: prometheus.NewRegistry(), svc: provisioning.NewService(sqlstore.New(db)), cdrStore: cdrstore.NewStore(db)}
	a := newAuthorizer(c)
	tn := &provisioning.Tenant{Name: "acme"}
	if err := c.svc.CreateTenant(ctx, provisioning.AdminScope(), tn); err != nil {
		t.Fatal(err)
	}
	prefix := "/asterisk/ast1/authz"
	h := authzHandler(c.svc, a, prefix, true)
	ask := func(dest, id string) string {
		req := httptest.NewRequest("GET", prefix+"/authorize?tenant=1&switch=ast1&dir=outbound&dest="+dest+"&call="+id, nil)
		req.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		b, _ := io.ReadAll(w.Result().Body)
		return string(b)
	}
	if got := ask("15145550100", "1"); got[:6] != "allow:" {
		t.Fatalf("without whitelists: %q", got)
	}
	if err := c.svc.CreateWhitelist(ctx, provisioning.AdminScope(), &provisioning.Whitelist{TenantID: tn.ID, Name: "uk",
		Entries: []provisioning.WhitelistEntry{{Prefix: "44"}}}); err != nil {
		t.Fatal(err)
	}
	if got := ask("15145550100", "2"); got != "deny:not_whitelisted" {
		t.Errorf("outside the whitelist: %q", got)
	}
	if got := ask("447700900123", "3"); got[:6] != "allow:" {
		t.Errorf("inside the whitelist: %q", got)
	}
}
