package cdr_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
)

// supplierTariffs is the fake source of the supplier tests: tenant 1
// sells at 1.2 a minute to 0033 and 555, gateway gw1's carrier charges
// 0.6 a minute for 0033 and 0.3 for 555 (and 6 for 9555, the number a
// phone dials for 555: a leg priced on it would show), gw-none has no
// supplier plan.
func supplierTariffs() *cdrtest.Tariffs {
	tf := cdrtest.NewTariffs()
	tf.SetTenant(1, cdrtest.Tariff("retail", "USD", "0033=1.2", "555=1.2", "9555=1.2")) // the caller leg is priced on the number sent (555)
	tf.SetGateway("gw1", cdrtest.Tariff("carrier-a", "EUR", "0033=0.6", "555=0.3", "9555=6"))
	tf.SetGateway("gateway", cdrtest.Tariff("carrier-b", "EUR", "555=0.3", "9555=6"))
	return tf
}

// TestPriceSupplier: the supplier price rules of PriceRecords, one leg
// each, in the shapes the adapters give a call through a gateway:
// FreeSWITCH's a-leg (the phone, naming the gateway of its bridge target)
// and b-leg (the gateway channel, its originator the a-leg), Asterisk's
// caller channel and dialled channel (both naming the gateway endpoint,
// the dialled number the phone's "9555", the Dial target "555@gateway"),
// and Master.csv's one row for the call.
func TestPriceSupplier(t *testing.T) {
	tf := supplierTariffs()
	end := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	leg := func(callID, linkedID string, dir cdr.Direction, gw, dialed, dest string, billsec int) cdr.Record {
		r := cdrtest.Minimal("pbx1", callID, "d.example", end)
		r.LinkedID, r.Direction, r.Gateway, r.Dialed, r.Destination = linkedID, dir, gw, dialed, dest
		r.TenantID, r.Duration, r.Billsec = ptr[int64](1), 60, billsec
		return r
	}
	unanswered := leg("fs-b", "fs-a", cdr.DirectionOutbound, "gw1", "0033123456789", "0033123456789@gw1", 0)
	unanswered.Disposition = cdr.NoAnswer
	tests := []struct {
		name     string
		rec      cdr.Record
		supplier string // "" = none
		currency money.Currency
		prefix   string
		reason   cdr.Unpriced
		cost     string // the tenant's price, unchanged by the supplier's
	}{
		{"FreeSWITCH b-leg to the gateway: its own 30 s", leg("fs-b", "fs-a", cdr.DirectionOutbound, "gw1", "0033123456789", "0033123456789@gw1", 30), "0.3", "EUR", "0033", "", "0"},
		{"FreeSWITCH a-leg naming its bridge target: none", leg("fs-a", "fs-a", cdr.DirectionOutbound, "gw1", "0033123456789", "0033123456789@gw1", 32), "", "", "", "", "0.64"},
		{"Asterisk dialled channel: on the number sent, 555", leg("1795610153.10", "1795610153.9", cdr.DirectionOutbound, "gateway", "9555", "555@gateway", 60), "0.3", "EUR", "555", "", "0"},
		{"Asterisk caller channel: none", leg("1795610153.9", "1795610153.9", cdr.DirectionOutbound, "gateway", "9555", "555@gateway", 60), "", "", "", "", "1.2"},
		{"Master.csv row (no linked id): none", leg("1795610153.9", "", cdr.DirectionOutbound, "gateway", "9555", "555@gateway", 60), "", "", "", "", "1.2"},
		{"destination without the gateway: on the dialled number", leg("b", "a", cdr.DirectionOutbound, "gw1", "0033123", "0033123", 60), "0.6", "EUR", "0033", "", "0"},
		{"destination at another host: on the dialled number", leg("b", "a", cdr.DirectionOutbound, "gw1", "0033123", "555@gw2", 60), "0.6", "EUR", "0033", "", "0"},
		{"unanswered gateway leg: 0 without a rate", unanswered, "0", "", "", "", "0"},
		{"answered 0 s: 0", leg("b", "a", cdr.DirectionOutbound, "gw1", "0033123", "0033123@gw1", 0), "0", "", "", "", "0"},
		{"gateway without a supplier plan", leg("b", "a", cdr.DirectionOutbound, "gw-none", "0033123", "0033123@gw-none", 60), "", "", "", cdr.UnpricedNoPlan, "0"},
		{"no supplier rate", leg("b", "a", cdr.DirectionOutbound, "gw1", "4930123", "4930123@gw1", 60), "", "", "", cdr.UnpricedNoRate, "0"},
		{"not a number", leg("b", "a", cdr.DirectionOutbound, "gw1", "*97", "*97@gw1", 60), "", "", "", cdr.UnpricedInvalidNumber, "0"},
		{"inbound leg from a gateway: none", leg("b", "a", cdr.DirectionInbound, "gw1", "1002", "1002", 60), "", "", "", "", "0"},
		{"internal leg: none", leg("b", "a", cdr.DirectionInternal, "", "1002", "1002", 60), "", "", "", "", "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := []cdr.Record{tc.rec}
			if err := cdr.PriceRecords(context.Background(), tf, recs); err != nil {
				t.Fatal(err)
			}
			r := recs[0]
			switch {
			case tc.supplier == "" && r.SupplierCost != nil:
				t.Errorf("supplier cost %s, want none", *r.SupplierCost)
			case tc.supplier != "" && (r.SupplierCost == nil || *r.SupplierCost != money.MustParse(tc.supplier)):
				t.Errorf("supplier cost %v, want %s", r.SupplierCost, tc.supplier)
			}
			if r.SupplierCurrency != tc.currency || r.SupplierPrefix != tc.prefix || r.SupplierUnpriced != tc.reason {
				t.Errorf("supplier currency %q prefix %q unpriced %q, want %q %q %q",
					r.SupplierCurrency, r.SupplierPrefix, r.SupplierUnpriced, tc.currency, tc.prefix, tc.reason)
			}
			if (tc.prefix != "") != (r.SupplierPlan != "") {
				t.Errorf("supplier plan %q with prefix %q", r.SupplierPlan, r.SupplierPrefix)
			}
			if r.Cost == nil || *r.Cost != money.MustParse(tc.cost) {
				t.Errorf("cost %v (unpriced %q), want %s", r.Cost, r.Unpriced, tc.cost)
			}
			if err := r.Validate(); err != nil {
				t.Errorf("the priced record is invalid: %v", err)
			}
		})
	}
}

// TestPriceSupplierRecordedCall: on the CDRs the Asterisk adapter made of
// a real call through a gateway (the recorded ARI scenario: eleven legs,
// one call to 9555 sent as 555@gateway), exactly one leg, the dialled
// channel, gets a supplier cost, for its own 3 s on 555; and the caller's
// leg keeps the tenant's price.
func TestPriceSupplierRecordedCall(t *testing.T) {
	legs := loadGolden(t, "../switch/asterisk/testdata/events/scenario.cdrs.golden.json")
	for i := range legs {
		legs[i].TenantID = ptr[int64](1)
	}
	if err := cdr.PriceRecords(context.Background(), supplierTariffs(), legs); err != nil {
		t.Fatal(err)
	}
	var priced []string
	for _, r := range legs {
		if r.SupplierCost != nil || r.SupplierUnpriced != "" {
			priced = append(priced, r.CallID)
			if *r.SupplierCost != money.MustParse("0.015") || r.SupplierPrefix != "555" || r.SupplierPlan != "carrier-b" || r.Billsec != 3 {
				t.Errorf("%s: supplier %v %q %q for %d s, want 0.015 EUR on 555 (3 s at 0.3/min)", r.CallID, r.SupplierCost, r.SupplierPrefix, r.SupplierPlan, r.Billsec)
			}
		}
		if r.CallID == "1795610153.9" && (r.Cost == nil || *r.Cost != money.MustParse("0.06")) {
			t.Errorf("caller leg: cost %v, want 0.06 (3 s at 1.2/min)", r.Cost)
		}
	}
	if len(priced) != 1 || priced[0] != "1795610153.10" {
		t.Errorf("legs with a supplier price: %v, want the dialled channel 1795610153.10 only", priced)
	}
}

// TestPriceSupplierExactlyOnce: a failed gateway lookup leaves the leg
// lookup_failed and is tried again; a leg that has its supplier price
// keeps it whatever the plan says now (a replay from the spool); Reprice
// prices it again; a source without supplier plans leaves the supplier
// fields alone, in PriceRecords and Reprice.
func TestPriceSupplierExactlyOnce(t *testing.T) {
	tf := supplierTariffs()
	end := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := cdrtest.Minimal("pbx1", "b", "d.example", end)
	r.LinkedID, r.Direction, r.Gateway, r.Destination, r.Billsec = "a", cdr.DirectionOutbound, "gw1", "0033123@gw1", 60
	recs := []cdr.Record{r}

	down := errors.New("connection refused")
	tf.Fail(down)
	if err := cdr.PriceRecords(context.Background(), tf, recs); !errors.Is(err, down) {
		t.Fatalf("err %v, want %v", err, down)
	}
	if recs[0].SupplierCost != nil || recs[0].SupplierUnpriced != cdr.UnpricedLookupFailed || !recs[0].NeedsSupplierPrice() {
		t.Fatalf("after a failed lookup: supplier %v %q", recs[0].SupplierCost, recs[0].SupplierUnpriced)
	}
	tf.Fail(nil)
	if err := cdr.PriceRecords(context.Background(), tf, recs); err != nil || recs[0].SupplierCost == nil || *recs[0].SupplierCost != money.MustParse("0.6") {
		t.Fatalf("retried: supplier %v %q, %v", recs[0].SupplierCost, recs[0].SupplierUnpriced, err)
	}
	tf.SetGateway("gw1", cdrtest.Tariff("carrier-a", "EUR", "0033=6"))
	if err := cdr.PriceRecords(context.Background(), tf, recs); err != nil || *recs[0].SupplierCost != money.MustParse("0.6") {
		t.Errorf("a priced leg was priced again: %v, %v", recs[0].SupplierCost, err)
	}
	before := recs[0]
	if err := cdr.Reprice(context.Background(), tf, recs); err != nil || *recs[0].SupplierCost != money.MustParse("6") {
		t.Errorf("Reprice: %v, %v", recs[0].SupplierCost, err)
	}
	if cdr.SamePrice(&before, &recs[0]) {
		t.Error("SamePrice misses a supplier price change")
	}

	// A no_plan leg is final, as no_rate is for the price.
	nr := r
	nr.Gateway, nr.Destination = "gw-none", "0033123@gw-none"
	nr.SupplierUnpriced = cdr.UnpricedNoPlan
	if nr.NeedsSupplierPrice() {
		t.Error("a no_plan leg is tried again")
	}

	onlySell := struct{ cdr.Tariffs }{tf} // hides GatewayTariff
	kept := []cdr.Record{recs[0]}
	if err := cdr.Reprice(context.Background(), onlySell, kept); err != nil || kept[0].SupplierCost == nil || *kept[0].SupplierCost != money.MustParse("6") {
		t.Errorf("a source without supplier plans changed the supplier price: %v, %v", kept[0].SupplierCost, err)
	}
	fresh := []cdr.Record{r}
	if err := cdr.PriceRecords(context.Background(), onlySell, fresh); err != nil || fresh[0].SupplierCost != nil || fresh[0].SupplierUnpriced != "" {
		t.Errorf("a source without supplier plans priced a supplier cost: %v %q, %v", fresh[0].SupplierCost, fresh[0].SupplierUnpriced, err)
	}
}
