package main

import (
	"context"
	"fmt"
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

// TestLCREndpoint: the same prefix answers the least-cost order of a
// tenant's route (asterisk.LCRHandler over the Service) with or without
// authz, /authorize only with it, loopback peers only.
func TestLCREndpoint(t *testing.T) {
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
	admin := provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "acme"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.CreateTenant(ctx, admin, tn))
	var ids []int64
	for _, n := range []string{"carrier-a", "carrier-b"} {
		g := &provisioning.Gateway{Name: n, Host: "192.0.2.10", TenantID: &tn.ID}
		must(svc.CreateGateway(ctx, admin, g))
		ids = append(ids, g.ID)
	}
	tp := &provisioning.TariffPlan{TenantID: tn.ID, Name: "supplier a", Currency: "EUR", TimeZone: "UTC"}
	must(svc.CreateTariffPlan(ctx, admin, tp))
	_, err = svc.ReplaceTariffRates(ctx, admin, tp.ID, strings.NewReader("prefix,destination,group,price_per_minute,connect_fee,first_increment,next_increment\n33,FR,,0.01,0,60,60\n"), provisioning.RateImportOptions{})
	must(err)
	_, err = svc.SetGatewayTariffPlan(ctx, admin, ids[1], &tp.ID)
	must(err)
	r := &provisioning.OutboundRoute{RoutingMeta: provisioning.RoutingMeta{TenantID: tn.ID}, Name: "intl", Patterns: []provisioning.DialPattern{"00."},
		Strip: 2, Prepend: "+", GatewayIDs: ids, Order: provisioning.RouteOrderCost}
	must(svc.CreateOutboundRoute(ctx, admin, r))
	a := authz.New(svc, authz.StoreBalances(cdrstore.NewStore(db)), authz.BillingCredit(svc), authz.ProvisioningLimits(svc), nil, authz.Config{})
	prefix := "/asterisk/ast1/authz"
	for _, authorize := range []bool{true, false} {
		mux := http.NewServeMux()
		mux.Handle("GET "+prefix+"/", authzHandler(svc, a, prefix, authorize))
		ask := func(remote, path string) (int, string) {
			req := httptest.NewRequest("GET", prefix+path, nil)
			req.RemoteAddr = remote
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			b, _ := io.ReadAll(w.Result().Body)
			return w.Code, string(b)
		}
		lcr := fmt.Sprintf("/lcr?tenant=%d&route=%d&dest=%%2B33155501234", tn.ID, r.ID)
		// carrier-b has a supplier rate, carrier-a no plan: b first
		if code, body := ask("127.0.0.1:40000", lcr); code != http.StatusOK || body != "lcr:carrier-b&carrier-a" {
			t.Errorf("authz %v: %s: %d %q", authorize, lcr, code, body)
		}
		if code, body := ask("127.0.0.1:40000", fmt.Sprintf("/lcr?tenant=%d&route=%d&dest=1", tn.ID+1, r.ID)); code != http.StatusNotFound {
			t.Errorf("authz %v: another tenant's route: %d %q", authorize, code, body)
		}
		if code, _ := ask("192.0.2.7:40000", lcr); code != http.StatusForbidden {
			t.Errorf("authz %v: another peer: %d", authorize, code)
		}
		code, body := ask("127.0.0.1:40000", "/authorize?tenant=1&switch=ast1&dir=outbound&dest=15145550100&call=1733.2")
		if authorize != (code == http.StatusOK && strings.HasPrefix(body, "allow:")) || !authorize && code != http.StatusNotFound {
			t.Errorf("authz %v: /authorize: %d %q", authorize, code, body)
		}
	}
}
