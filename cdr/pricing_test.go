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

func ptr[T any](v T) *T { return &v }

// TestPriceRecords: the rules of PriceRecords, one leg each.
func TestPriceRecords(t *testing.T) {
	tf := cdrtest.NewTariffs()
	tf.SetTenant(1, cdrtest.Tariff("retail", "USD", "1=0.6", "1212=1.2"))
	tf.SetDID("+15550001", 1, cdrtest.Tariff("toll-free", "USD", "1555=0.06"))
	tf.SetDID("+15550002", 2, cdrtest.Tariff("other", "EUR", "1555=0.06"))
	tf.SetDID("+15550003", 0, nil) // a DID without a plan

	end := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	leg := func(dir cdr.Direction, tenant *int64, dialed string, billsec int) cdr.Record {
		r := cdrtest.Minimal("pbx1", "c", "d.example", end)
		r.Direction, r.TenantID, r.Dialed, r.Duration, r.Billsec = dir, tenant, dialed, billsec, billsec
		return r
	}
	dialled := leg(cdr.DirectionOutbound, ptr[int64](1), "12125550100", 60)
	dialled.CallID, dialled.LinkedID = "b-leg", "a-leg" // a leg of a call it did not start
	originating := dialled
	originating.CallID = "a-leg"
	// A phone dialled 00…, the route sent +…: priced on what the gateway
	// got, as the real-time authorizer rated it (the live FreeSWITCH
	// call cut at its authorized second was stored no_rate).
	translated := leg(cdr.DirectionOutbound, ptr[int64](1), "0012125550100", 60)
	translated.Gateway, translated.Destination = "carrier", "+12125550100@carrier"
	notGateway := leg(cdr.DirectionOutbound, ptr[int64](1), "12125550100", 60)
	notGateway.Gateway, notGateway.Destination = "carrier", "13125550100@other"
	// a hunt group's external member (or a custom destination) reached
	// by dialling the group's number: priced on the number it left the
	// gateway as, which the switch authorized (seen live on FreeSWITCH:
	// the caller's leg dialled 591, destination +33…@gateway)
	viaGroup := leg(cdr.DirectionOutbound, ptr[int64](1), "591", 60)
	viaGroup.Gateway, viaGroup.Destination = "gw", "+12125550100@gw"
	unanswered := leg(cdr.DirectionOutbound, ptr[int64](1), "12125550100", 0)
	unanswered.Disposition = cdr.NoAnswer
	tests := []struct {
		name     string
		rec      cdr.Record
		cost     string // "" = no price
		currency money.Currency
		prefix   string
		reason   cdr.Unpriced
		tenant   *int64
	}{
		{"outbound, longest prefix", leg(cdr.DirectionOutbound, ptr[int64](1), "+12125550100", 30), "0.6", "USD", "1212", "", ptr[int64](1)},
		{"outbound, shorter prefix", leg(cdr.DirectionOutbound, ptr[int64](1), "13125550100", 60), "0.6", "USD", "1", "", ptr[int64](1)},
		{"outbound, the number as sent to the gateway", translated, "1.2", "USD", "1212", "", ptr[int64](1)},
		{"outbound, a destination of another gateway: dialled", notGateway, "1.2", "USD", "1212", "", ptr[int64](1)},
		{"the originating leg is priced", originating, "1.2", "USD", "1212", "", ptr[int64](1)},
		{"the call's other legs are free", dialled, "0", "", "", "", ptr[int64](1)},
		{"internal is free", leg(cdr.DirectionInternal, ptr[int64](1), "1001", 60), "0", "", "", "", ptr[int64](1)},
		{"unanswered is free", unanswered, "0", "", "", "", ptr[int64](1)},
		{"answered for 0 s is free", leg(cdr.DirectionOutbound, ptr[int64](1), "12125550100", 0), "0", "", "", "", ptr[int64](1)},
		{"outbound without owner", leg(cdr.DirectionOutbound, nil, "12125550100", 60), "", "", "", cdr.UnpricedNoTenant, nil},
		{"outbound, owner without plan", leg(cdr.DirectionOutbound, ptr[int64](7), "12125550100", 60), "", "", "", cdr.UnpricedNoPlan, ptr[int64](7)},
		{"outbound, no rate", leg(cdr.DirectionOutbound, ptr[int64](1), "4930123", 60), "", "", "", cdr.UnpricedNoRate, ptr[int64](1)},
		{"outbound, dialled as a plan number: the number it left as", viaGroup, "1.2", "USD", "1212", "", ptr[int64](1)},
		{"outbound, not a number", leg(cdr.DirectionOutbound, ptr[int64](1), "*97", 60), "", "", "", cdr.UnpricedInvalidNumber, ptr[int64](1)},
		{"inbound DID with a plan", leg(cdr.DirectionInbound, ptr[int64](1), "+15550001", 100), "0.1", "USD", "1555", "", ptr[int64](1)},
		{"inbound DID, leg without owner gets the DID's", leg(cdr.DirectionInbound, nil, "+15550001", 100), "0.1", "USD", "1555", "", ptr[int64](1)},
		{"inbound DID of another tenant", leg(cdr.DirectionInbound, ptr[int64](1), "+15550002", 100), "", "", "", cdr.UnpricedOtherTenant, ptr[int64](1)},
		{"inbound DID without plan is free", leg(cdr.DirectionInbound, ptr[int64](1), "+15550003", 100), "0", "", "", "", ptr[int64](1)},
		{"inbound to an unknown number is free", leg(cdr.DirectionInbound, nil, "+19999", 100), "0", "", "", "", nil},
		{"no direction", leg("", ptr[int64](1), "12125550100", 60), "", "", "", cdr.UnpricedNoDirection, ptr[int64](1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := []cdr.Record{tc.rec}
			if err := cdr.PriceRecords(context.Background(), tf, recs); err != nil {
				t.Fatal(err)
			}
			r := recs[0]
			switch {
			case tc.cost == "" && r.Cost != nil:
				t.Errorf("cost = %s, want none", *r.Cost)
			case tc.cost != "" && (r.Cost == nil || *r.Cost != money.MustParse(tc.cost)):
				t.Errorf("cost = %v, want %s", r.Cost, tc.cost)
			}
			if r.Currency != tc.currency || r.RatePrefix != tc.prefix || r.Unpriced != tc.reason {
				t.Errorf("currency %q prefix %q unpriced %q, want %q %q %q", r.Currency, r.RatePrefix, r.Unpriced, tc.currency, tc.prefix, tc.reason)
			}
			if tc.prefix != "" && (r.RateDestination != "Dest "+tc.prefix || r.Plan == "") {
				t.Errorf("destination %q plan %q", r.RateDestination, r.Plan)
			}
			if (r.TenantID == nil) != (tc.tenant == nil) || r.TenantID != nil && *r.TenantID != *tc.tenant {
				t.Errorf("tenant %v, want %v", r.TenantID, tc.tenant)
			}
			if err := r.Validate(); err != nil {
				t.Errorf("the priced record is invalid: %v", err)
			}
		})
	}
}

// TestPriceRecordsLookupFailure: a failing source leaves records
// unpriced with lookup_failed, asks no more after the first failure,
// returns the error; and a record already priced is not priced again,
// while one whose lookup failed is.
func TestPriceRecordsLookupFailure(t *testing.T) {
	tf := cdrtest.NewTariffs()
	tf.SetTenant(1, cdrtest.Tariff("retail", "USD", "1=0.6"))
	down := errors.New("connection refused")
	tf.Fail(down)
	end := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var recs []cdr.Record
	for i := range 3 {
		r := cdrtest.Minimal("pbx1", "c", "d.example", end)
		r.Direction, r.TenantID, r.Dialed, r.Duration, r.Billsec = cdr.DirectionOutbound, ptr(int64(1+i)), "1212", 60, 60
		recs = append(recs, r)
	}
	if err := cdr.PriceRecords(context.Background(), tf, recs); !errors.Is(err, down) {
		t.Fatalf("err = %v, want %v", err, down)
	}
	if tf.Lookups() != 1 {
		t.Errorf("%d lookups, want 1 (none after the first failure)", tf.Lookups())
	}
	for _, r := range recs {
		if r.Cost != nil || r.Unpriced != cdr.UnpricedLookupFailed || !r.NeedsPrice() {
			t.Errorf("cost %v unpriced %q", r.Cost, r.Unpriced)
		}
	}
	tf.Fail(nil)
	recs[1].Unpriced = cdr.UnpricedNoRate // final: not tried again
	if err := cdr.PriceRecords(context.Background(), tf, recs); err != nil {
		t.Fatal(err)
	}
	if recs[0].Cost == nil || *recs[0].Cost != money.MustParse("0.6") {
		t.Errorf("retried record: cost %v unpriced %q", recs[0].Cost, recs[0].Unpriced)
	}
	if recs[1].Unpriced != cdr.UnpricedNoRate || recs[2].Unpriced != cdr.UnpricedNoPlan {
		t.Errorf("unpriced %q, %q", recs[1].Unpriced, recs[2].Unpriced)
	}
	priced := *recs[0].Cost
	tf.SetTenant(1, cdrtest.Tariff("retail", "USD", "1=6"))
	if err := cdr.PriceRecords(context.Background(), tf, recs[:1]); err != nil || *recs[0].Cost != priced {
		t.Errorf("a priced record was priced again: %v, %v", recs[0].Cost, err)
	}
	if err := cdr.Reprice(context.Background(), tf, recs[:1]); err != nil || *recs[0].Cost != money.MustParse("6") {
		t.Errorf("Reprice: %v, %v", recs[0].Cost, err)
	}
}

// TestValidatePrice: the price fields a store refuses.
func TestValidatePrice(t *testing.T) {
	end := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		set  func(r *cdr.Record)
		ok   bool
	}{
		{"priced", func(r *cdr.Record) { r.Cost, r.Currency = ptr(money.MustParse("1.5")), "EUR" }, true},
		{"free", func(r *cdr.Record) { r.Cost = ptr(money.Amount(0)) }, true},
		{"unpriced", func(r *cdr.Record) { r.Unpriced = cdr.UnpricedNoRate }, true},
		{"cost without currency", func(r *cdr.Record) { r.Cost = ptr(money.MustParse("1.5")) }, false},
		{"lower-case currency", func(r *cdr.Record) { r.Cost, r.Currency = ptr(money.MustParse("1.5")), "eur" }, false},
		{"cost and a reason", func(r *cdr.Record) { r.Cost, r.Unpriced = ptr(money.Amount(0)), cdr.UnpricedNoRate }, false},
		{"unknown reason", func(r *cdr.Record) { r.Unpriced = "because" }, false},
		{"supplier priced", func(r *cdr.Record) { r.SupplierCost, r.SupplierCurrency = ptr(money.MustParse("0.2")), "USD" }, true},
		{"supplier free", func(r *cdr.Record) { r.SupplierCost = ptr(money.Amount(0)) }, true},
		{"supplier unpriced", func(r *cdr.Record) { r.SupplierUnpriced = cdr.UnpricedNoPlan }, true},
		{"supplier cost without currency", func(r *cdr.Record) { r.SupplierCost = ptr(money.MustParse("0.2")) }, false},
		{"supplier currency not a code", func(r *cdr.Record) { r.SupplierCost, r.SupplierCurrency = ptr(money.MustParse("0.2")), "usd" }, false},
		{"supplier cost and a reason", func(r *cdr.Record) { r.SupplierCost, r.SupplierUnpriced = ptr(money.Amount(0)), cdr.UnpricedNoRate }, false},
		{"supplier reason not for suppliers", func(r *cdr.Record) { r.SupplierUnpriced = cdr.UnpricedNoTenant }, false},
	}
	for _, tc := range tests {
		r := cdrtest.Minimal("pbx1", "c", "d.example", end)
		tc.set(&r)
		err := r.Validate()
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, cdr.ErrInvalidRecord) {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
	}
}
