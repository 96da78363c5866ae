package native

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/money"
)

// The supplier price of a leg (what the carrier charges) is the
// operator's: admins read it in the list and the export, a tenant's token
// reads its own CDR with the supplier fields empty.
func TestCDRSupplierPriceAdminsOnly(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		tr := ce.cdrTree()
		cost, supplier := money.MustParse("0.05"), money.MustParse("0.0123")
		ce.insert(leg("b-leg", "a.example.com", 1, func(r *cdr.Record) {
			r.LinkedID, r.Gateway, r.Direction, r.Billsec = "a-leg", "gw1", cdr.DirectionOutbound, 30
			r.Cost, r.Currency = &cost, "USD"
			r.SupplierCost, r.SupplierCurrency, r.SupplierPrefix, r.SupplierPlan = &supplier, "EUR", "4420", "carrier-a"
		}))
		for _, tc := range []struct {
			who, tok                       string
			supplier, currency, prefix, pl string
		}{
			{"admin", ce.admin, "0.0123", "EUR", "4420", "carrier-a"},
			{"tenant A", tr.tokA, "", "", "", ""},
			{"root tenant", tr.tokR, "", "", "", ""},
		} {
			items := ce.do("GET", "/api/v1/cdrs", tc.tok, "").must(t, http.StatusOK).items(t)
			if len(items) != 1 {
				t.Fatalf("%s: %d CDRs, want 1", tc.who, len(items))
			}
			it := items[0]
			gotCost, _ := it["supplier_cost"].(string)
			if gotCost != tc.supplier || it["supplier_currency"] != tc.currency || it["supplier_prefix"] != tc.prefix || it["supplier_plan"] != tc.pl {
				t.Errorf("%s: list supplier %v %v %v %v, want %q %q %q %q", tc.who, it["supplier_cost"], it["supplier_currency"],
					it["supplier_prefix"], it["supplier_plan"], tc.supplier, tc.currency, tc.prefix, tc.pl)
			}
			if tc.supplier == "" && it["supplier_cost"] != nil {
				t.Errorf("%s: supplier_cost %v, want null", tc.who, it["supplier_cost"])
			}
			if it["cost"] != "0.05" {
				t.Errorf("%s: cost %v, want 0.05 (the tenant's own price stays)", tc.who, it["cost"])
			}
			r := ce.do("GET", "/api/v1/cdrs/export", tc.tok, "").must(t, http.StatusOK)
			rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
			if err != nil || len(rows) != 2 {
				t.Fatalf("%s: export %d rows, %v", tc.who, len(rows), err)
			}
			col := map[string]string{}
			for i, name := range rows[0] {
				col[name] = rows[1][i]
			}
			if col["supplier_cost"] != tc.supplier || col["supplier_currency"] != tc.currency || col["supplier_plan"] != tc.pl || col["cost"] != "0.05" {
				t.Errorf("%s: export cost %q supplier %q %q %q", tc.who, col["cost"], col["supplier_cost"], col["supplier_currency"], col["supplier_plan"])
			}
		}
	})
}
