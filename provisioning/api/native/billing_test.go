package native

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// withLedger gives e's API the CDR store's ledger in the same database.
func (e *env) withLedger(t *testing.T) *cdrstore.Store {
	t.Helper()
	if err := cdrstore.Migrate(context.Background(), e.db); err != nil {
		t.Fatal(err)
	}
	store := cdrstore.NewStore(e.db)
	e.deps.Ledger = store
	e.h = New(e.deps)
	return store
}

func TestBillingAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		store := e.withLedger(t)
		admin := provisioning.AdminScope()
		reseller := &provisioning.Tenant{Name: "reseller"}
		must(t, e.svc.CreateTenant(ctx, admin, reseller))
		customer := &provisioning.Tenant{Name: "customer", ParentID: &reseller.ID}
		must(t, e.svc.CreateTenant(ctx, admin, customer))
		other := &provisioning.Tenant{Name: "other"}
		must(t, e.svc.CreateTenant(ctx, admin, other))
		plan := &provisioning.TariffPlan{TenantID: reseller.ID, Name: "retail", Currency: "USD", TimeZone: "UTC"}
		must(t, e.svc.CreateTariffPlan(ctx, admin, plan))
		_, err := e.svc.SetTenantTariffPlan(ctx, admin, customer.ID, &plan.ID)
		must(t, err)
		rTok := e.token("reseller", provisioning.RoleTenantAdmin, &reseller.ID)
		cTok := e.token("customer", provisioning.RoleTenantAdmin, &customer.ID)
		oTok := e.token("other", provisioning.RoleTenantAdmin, &other.ID)
		billing := path("tenants", customer.ID) + "/billing"

		// Settings: refusals name the field and write nothing.
		for _, tc := range []struct {
			tok, body string
			code      int
			field     string
		}{
			{cTok, `{"mode":"postpaid"}`, http.StatusForbidden, ""},
			{rTok, `{"mode":"credit"}`, http.StatusBadRequest, "mode"},
			{rTok, `{"mode":"postpaid","currency":"EUR"}`, http.StatusBadRequest, "currency"},
			{rTok, `{"mode":"postpaid","credit_limit":"lots"}`, http.StatusBadRequest, "credit_limit"},
			{rTok, `{"mode":"prepaid","credit_limit":"5"}`, http.StatusBadRequest, "credit_limit"},
			{rTok, `{"mode":"postpaid","vat_percent":"101"}`, http.StatusBadRequest, "vat_percent"},
			{oTok, `{"mode":"postpaid"}`, http.StatusNotFound, ""},
		} {
			r := e.do("PUT", billing, tc.tok, tc.body).must(t, tc.code)
			if tc.field != "" && r.errOf(t)["field"] != tc.field {
				t.Fatalf("%s: %s", tc.body, r.body)
			}
		}
		if r := e.do("GET", billing, cTok, "").must(t, http.StatusOK); r.m["mode"] != "postpaid" || r.m["credit_limit"] != nil || r.m["currency"] != "USD" {
			t.Fatalf("defaults: %s", r.body)
		}
		e.do("PUT", billing, rTok, `{"mode":"postpaid","credit_limit":"100","vat_percent":"19"}`).must(t, http.StatusOK)
		if r := e.do("GET", billing, cTok, "").must(t, http.StatusOK); r.m["credit_limit"] != "100" || r.m["vat_percent"] != "19" {
			t.Fatalf("settings: %s", r.body)
		}

		// Payments: booked once per reference, by the parent only.
		payments := path("tenants", customer.ID) + "/payments"
		e.do("POST", payments, cTok, `{"amount":"50","reference":"bank-1"}`).must(t, http.StatusForbidden)
		for _, bad := range []struct{ body, field string }{
			{`{"amount":"-5","reference":"x"}`, "amount"},
			{`{"amount":"5"}`, "reference"},
			{`{"amount":"5","reference":"x","currency":"EUR"}`, "currency"},
		} {
			if r := e.do("POST", payments, rTok, bad.body).must(t, http.StatusBadRequest); r.errOf(t)["field"] != bad.field {
				t.Fatalf("%s: %s", bad.body, r.body)
			}
		}
		if r := e.do("POST", payments, rTok, `{"amount":"50.25","reference":"bank-1"}`).must(t, http.StatusCreated); r.m["booked"] != true || r.m["currency"] != "USD" {
			t.Fatalf("payment: %s", r.body)
		}
		if r := e.do("POST", payments, rTok, `{"amount":"50.25","reference":"bank-1"}`).must(t, http.StatusOK); r.m["booked"] != false {
			t.Fatalf("payment again: %s", r.body)
		}
		if items := e.do("GET", payments, cTok, "").must(t, http.StatusOK).items(t); len(items) != 1 || items[0]["amount"] != "50.25" || items[0]["reference"] != "bank-1" {
			t.Fatalf("payments: %v", items)
		}
		bal := e.do("GET", path("tenants", customer.ID)+"/balance", cTok, "").must(t, http.StatusOK)
		if bal.m["available"] != "150.25" || !strings.Contains(bal.body, `"balance":"50.25"`) {
			t.Fatalf("balance: %s", bal.body)
		}
		e.do("GET", path("tenants", customer.ID)+"/balance", oTok, "").must(t, http.StatusNotFound)

		// A subscription and last month's calls, then the invoice.
		now := time.Now().UTC()
		last := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
		e.do("POST", "/api/v1/subscriptions", cTok, jsonStr(map[string]any{"tenant_id": customer.ID, "name": "PBX", "amount": "20", "currency": "USD", "start": "2020-01-01"})).must(t, http.StatusForbidden)
		e.create("subscriptions", rTok, jsonStr(map[string]any{"tenant_id": customer.ID, "name": "PBX", "amount": "20", "currency": "USD", "start": last.Format(time.DateOnly)}))
		if _, err := e.svc.ChargeSubscriptions(ctx, store, now); err != nil {
			t.Fatal(err)
		}
		var recs []cdr.Record
		for i := range 3 {
			r := cdrtest.Minimal("pbx", fmt.Sprint("c", i), "example.com", last.Add(time.Duration(i+1)*time.Hour))
			cost := money.MustParse("0.5")
			r.TenantID, r.Direction, r.Billsec, r.Duration = &customer.ID, cdr.DirectionOutbound, 60, 60
			r.Cost, r.Currency, r.Plan, r.RatePrefix, r.RateGroup = &cost, "USD", "retail", "1", "USA"
			recs = append(recs, r)
		}
		if _, err := store.Insert(ctx, recs); err != nil {
			t.Fatal(err)
		}
		invoices := path("tenants", customer.ID) + "/invoices"
		period := `{"period":"` + last.Format("2006-01") + `"}`
		e.do("POST", invoices, cTok, period).must(t, http.StatusForbidden)
		if r := e.do("POST", invoices, rTok, `{"period":"`+now.Format("2006-01")+`"}`).must(t, http.StatusBadRequest); r.errOf(t)["field"] != "period" {
			t.Fatalf("current month: %s", r.body)
		}
		inv := e.do("POST", invoices, rTok, period).must(t, http.StatusCreated)
		// 3 × 0.50 + 20 = 21.50; VAT 19 % = 4.085 → 4.09.
		if inv.m["subtotal"] != "21.5" || inv.m["vat"] != "4.09" || inv.m["total"] != "25.59" || !strings.Contains(inv.body, `"description":"PBX (`+last.Format("2006-01")+`)"`) {
			t.Fatalf("invoice: %s", inv.body)
		}
		n := int64(inv.m["number"].(float64))
		if again := e.do("POST", invoices, rTok, period).must(t, http.StatusOK); again.m["number"] != inv.m["number"] {
			t.Fatalf("again: %s", again.body)
		}
		if items := e.do("GET", invoices, cTok, "").must(t, http.StatusOK).items(t); len(items) != 1 {
			t.Fatalf("invoices: %v", items)
		}
		pdf := e.do("GET", path("invoices", n)+"?format=pdf", cTok, "").must(t, http.StatusOK)
		if pdf.hdr.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.body, "%PDF-") {
			t.Fatalf("pdf: %v %.20q", pdf.hdr, pdf.body)
		}
		csv := e.do("GET", path("invoices", n)+"?format=csv", cTok, "").must(t, http.StatusOK)
		if !strings.Contains(csv.body, ",total,,0,0,25.59") {
			t.Fatalf("csv: %s", csv.body)
		}
		e.do("GET", path("invoices", n), oTok, "").must(t, http.StatusNotFound)
		e.do("GET", path("invoices", n)+"?format=doc", cTok, "").must(t, http.StatusBadRequest)
		// Last month's charge and this month's, charged in advance.
		if ledger := e.do("GET", path("tenants", customer.ID)+"/ledger?kind=subscription", cTok, "").must(t, http.StatusOK).items(t); len(ledger) != 2 || ledger[0]["amount"] != "-20" || !strings.HasSuffix(ledger[1]["reference"].(string), now.Format("2006-01")) {
			t.Fatalf("ledger: %v", ledger)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
