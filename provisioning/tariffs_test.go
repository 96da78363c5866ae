package provisioning_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

const deckHeader = "prefix,destination,group,price_per_minute,connect_fee,first_increment,next_increment\n"

func (e *env) tariffPlan(t *testing.T, name string, owner *provisioning.Tenant) *provisioning.TariffPlan {
	t.Helper()
	p := &provisioning.TariffPlan{TenantID: owner.ID, Name: name, Currency: "usd", TimeZone: "America/New_York",
		ChargeStep: money.MustParse("0.0001")}
	must(t, e.svc.CreateTariffPlan(e.ctx, admin, p))
	return p
}

func (e *env) deck(t *testing.T, p *provisioning.TariffPlan, deck string) *provisioning.RateImport {
	t.Helper()
	out, err := e.svc.ReplaceTariffRates(e.ctx, admin, p.ID, strings.NewReader(deck), provisioning.RateImportOptions{})
	must(t, err)
	return out
}

// price is what tenant id pays for a 60-second call to number now.
func price(t *testing.T, e *env, tenantID int64, number string) string {
	t.Helper()
	tr, err := e.svc.TenantTariff(e.ctx, tenantID)
	must(t, err)
	if tr == nil {
		return "no plan"
	}
	c, err := tr.Rate(number, time.Now(), 60)
	if err != nil {
		return err.Error()
	}
	return c.Cost.String()
}

func TestTariffPlanCRUD(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		p := e.tariffPlan(t, "retail", root)
		if p.Currency != "USD" || p.Rates != 0 || p.ID == 0 {
			t.Fatalf("created %+v", p)
		}
		for _, tc := range []struct {
			name  string
			edit  func(*provisioning.TariffPlan)
			field string
		}{
			{"no name", func(p *provisioning.TariffPlan) { p.Name = "" }, "name"},
			{"bad currency", func(p *provisioning.TariffPlan) { p.Currency = "US" }, "currency"},
			{"bad zone", func(p *provisioning.TariffPlan) { p.TimeZone = "Mars/Olympus" }, "time_zone"},
			{"local zone", func(p *provisioning.TariffPlan) { p.TimeZone = "Local" }, "time_zone"},
			{"negative step", func(p *provisioning.TariffPlan) { p.ChargeStep = -1 }, "charge_step"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := &provisioning.TariffPlan{TenantID: root.ID, Name: "x", Currency: "EUR"}
				tc.edit(q)
				var fe *provisioning.FieldError
				if err := e.svc.CreateTariffPlan(e.ctx, admin, q); !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("err = %v, want invalid %s", err, tc.field)
				}
			})
		}
		dup := &provisioning.TariffPlan{TenantID: root.ID, Name: "retail", Currency: "EUR"}
		if err := e.svc.CreateTariffPlan(e.ctx, admin, dup); !errors.Is(err, provisioning.ErrConflict) {
			t.Fatalf("duplicate name: %v", err)
		}
		got, err := e.svc.UpdateTariffPlan(e.ctx, admin, p.ID, func(p *provisioning.TariffPlan) error {
			p.Description = "retail prices"
			return nil
		})
		must(t, err)
		if got.Description != "retail prices" || got.Version <= p.Version {
			t.Fatalf("updated %+v (version before %d)", got, p.Version)
		}
		list, err := e.svc.TariffPlans(e.ctx, admin, provisioning.TariffPlanFilter{TenantID: root.ID})
		must(t, err)
		if len(list) != 1 || list[0].Description != "retail prices" {
			t.Fatalf("list = %+v", list)
		}
		must(t, e.svc.DeleteTariffPlan(e.ctx, admin, p.ID))
		if _, err := e.svc.TariffPlan(e.ctx, admin, p.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
	})
}

func TestTariffScope(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		reseller := e.tenant(t, "reseller", nil)
		customer := e.tenant(t, "customer", reseller)
		other := e.tenant(t, "other", nil)
		wholesale := e.tariffPlan(t, "wholesale", reseller)
		foreign := e.tariffPlan(t, "foreign", other)
		resellerAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: reseller.ID, Path: reseller.Path}
		customerAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: customer.ID, Path: customer.Path}
		customerUser := provisioning.Scope{Role: provisioning.RoleUser, TenantID: customer.ID, Path: customer.Path}

		if _, err := e.svc.TariffPlan(e.ctx, resellerAdmin, foreign.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("another tree's plan: %v", err)
		}
		if _, err := e.svc.SetTenantTariffPlan(e.ctx, resellerAdmin, customer.ID, &foreign.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("assigning another tree's plan: %v", err)
		}
		// A customer neither chooses its own price nor sees its reseller's plans.
		if _, err := e.svc.SetTenantTariffPlan(e.ctx, customerAdmin, customer.ID, nil); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("customer setting its own plan: %v", err)
		}
		if _, err := e.svc.SetTenantTariffPlan(e.ctx, resellerAdmin, reseller.ID, &wholesale.ID); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("reseller setting its own plan: %v", err)
		}
		if _, err := e.svc.ReplaceTariffRates(e.ctx, customerAdmin, wholesale.ID, strings.NewReader(deckHeader), provisioning.RateImportOptions{}); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("customer replacing its reseller's rates: %v", err)
		}
		if err := e.svc.CreateTariffPlan(e.ctx, customerUser, &provisioning.TariffPlan{TenantID: customer.ID, Name: "x", Currency: "USD"}); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("read-only user creating a plan: %v", err)
		}
		info, err := e.svc.SetTenantTariffPlan(e.ctx, resellerAdmin, customer.ID, &wholesale.ID)
		must(t, err)
		if *info.EffectivePlanID != wholesale.ID {
			t.Fatalf("info = %+v", info)
		}
		// The customer reads which plan prices it, though not the plan's object.
		info, err = e.svc.TenantTariffPlan(e.ctx, customerUser, customer.ID)
		must(t, err)
		if info.Plan == nil || info.Plan.Name != "wholesale" {
			t.Fatalf("customer's view = %+v", info)
		}
		// A plan of a sub-tenant cannot be assigned to its parent.
		sub := e.tariffPlan(t, "customer-own", customer)
		var fe *provisioning.FieldError
		if _, err := e.svc.SetTenantTariffPlan(e.ctx, admin, reseller.ID, &sub.ID); !errors.As(err, &fe) || fe.Field != "tariff_plan_id" {
			t.Fatalf("parent given a child's plan: %v", err)
		}
	})
}

// TestTenantTariffInheritance: a plan is inherited down the tree until a
// descendant sets its own; every change is seen by the very next
// TenantTariff, and an unchanged plan is compiled once.
func TestTenantTariffInheritance(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		mid := e.tenant(t, "mid", root)
		leaf := e.tenant(t, "leaf", mid)
		retail := e.tariffPlan(t, "retail", root)
		vip := e.tariffPlan(t, "vip", root)
		e.deck(t, retail, deckHeader+"1,USA,North America,0.0100,0,60,60\n")
		e.deck(t, vip, deckHeader+"1,USA,North America,0.0050,0,60,60\n")

		if got := price(t, e, leaf.ID, "+12125550100"); got != "no plan" {
			t.Fatalf("before any assignment: %s", got)
		}
		if _, err := e.svc.TenantTariff(e.ctx, 999999); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("missing tenant: %v", err)
		}
		_, err := e.svc.SetTenantTariffPlan(e.ctx, admin, root.ID, &retail.ID)
		must(t, err)
		for _, tn := range []*provisioning.Tenant{root, mid, leaf} {
			if got := price(t, e, tn.ID, "+12125550100"); got != "0.01" {
				t.Fatalf("tenant %s inherits: %s", tn.Name, got)
			}
		}
		first, _ := e.svc.TenantTariff(e.ctx, leaf.ID)
		if again, _ := e.svc.TenantTariff(e.ctx, mid.ID); again != first {
			t.Fatal("the same plan was compiled twice")
		}
		_, err = e.svc.SetTenantTariffPlan(e.ctx, admin, mid.ID, &vip.ID)
		must(t, err)
		if got := price(t, e, leaf.ID, "+12125550100"); got != "0.005" {
			t.Fatalf("leaf under mid's own plan: %s", got)
		}
		if got := price(t, e, root.ID, "+12125550100"); got != "0.01" {
			t.Fatalf("root keeps its plan: %s", got)
		}
		info, err := e.svc.TenantTariffPlan(e.ctx, admin, leaf.ID)
		must(t, err)
		if info.PlanID != nil || *info.EffectivePlanID != vip.ID || *info.InheritedFrom != mid.ID {
			t.Fatalf("leaf's assignment = %+v", info)
		}
		// A rate change is seen at once.
		e.deck(t, vip, deckHeader+"1,USA,North America,0.0020,0,60,60\n")
		if got := price(t, e, leaf.ID, "+12125550100"); got != "0.002" {
			t.Fatalf("after the new deck: %s", got)
		}
		// So is a settings change (the charge step).
		_, err = e.svc.UpdateTariffPlan(e.ctx, admin, vip.ID, func(p *provisioning.TariffPlan) error {
			p.ChargeStep = money.MustParse("0.01")
			return nil
		})
		must(t, err)
		if got := price(t, e, leaf.ID, "+12125550100"); got != "0.01" {
			t.Fatalf("after the charge step change: %s", got)
		}
		// Removing mid's own plan: root's applies again.
		_, err = e.svc.SetTenantTariffPlan(e.ctx, admin, mid.ID, nil)
		must(t, err)
		if got := price(t, e, leaf.ID, "+12125550100"); got != "0.01" {
			t.Fatalf("after removing mid's plan: %s", got)
		}
		if err := e.svc.DeleteTariffPlan(e.ctx, admin, retail.ID); !errors.Is(err, provisioning.ErrConflict) {
			t.Fatalf("deleting an assigned plan: %v", err)
		}
	})
}

// TestTenantTariffMove: a tenant moved under another parent no longer uses
// its own assignment of a plan of the tree it left.
func TestTenantTariffMove(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		a := e.tenant(t, "a", nil)
		b := e.tenant(t, "b", nil)
		c := e.tenant(t, "c", a)
		pa := e.tariffPlan(t, "a-plan", a)
		e.deck(t, pa, deckHeader+"1,USA,,0.01,0,60,60\n")
		_, err := e.svc.SetTenantTariffPlan(e.ctx, admin, c.ID, &pa.ID)
		must(t, err)
		if got := price(t, e, c.ID, "+12125550100"); got != "0.01" {
			t.Fatalf("before the move: %s", got)
		}
		_, err = e.svc.UpdateTenant(e.ctx, admin, c.ID, func(tn *provisioning.Tenant) error {
			tn.ParentID = &b.ID
			return nil
		})
		must(t, err)
		if got := price(t, e, c.ID, "+12125550100"); got != "no plan" {
			t.Fatalf("after moving to another tree: %s", got)
		}
	})
}

func TestDIDTariff(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		cust := e.tenant(t, "cust", root)
		did := e.did(t, "+15551230001", cust, nil)
		inbound := e.tariffPlan(t, "tollfree-in", root)
		e.deck(t, inbound, deckHeader+"1,,,0.02,0,60,60\n")

		tr, tenant, err := e.svc.DIDTariff(e.ctx, did.Number)
		must(t, err)
		if tr != nil || tenant != cust.ID {
			t.Fatalf("no plan yet: %v %d", tr, tenant)
		}
		if _, _, err := e.svc.DIDTariff(e.ctx, "+15559999999"); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("unknown number: %v", err)
		}
		_, err = e.svc.SetDIDTariffPlan(e.ctx, admin, did.ID, &inbound.ID)
		must(t, err)
		tr, tenant, err = e.svc.DIDTariff(e.ctx, did.Number)
		must(t, err)
		if tr == nil || tenant != cust.ID {
			t.Fatalf("with a plan: %v %d", tr, tenant)
		}
		c, err := tr.Rate("15551230001", time.Now(), 60)
		must(t, err)
		if c.Cost.String() != "0.02" || c.Plan != "tollfree-in" {
			t.Fatalf("charge = %+v", c)
		}
		// Deleting the DID removes its assignment with it.
		must(t, e.svc.DeleteDID(e.ctx, admin, did.ID))
		if _, _, err := e.svc.DIDTariff(e.ctx, did.Number); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("deleted DID: %v", err)
		}
		must(t, e.svc.DeleteTariffPlan(e.ctx, admin, inbound.ID))
	})
}

// TestRateDeckAllOrNothing: a bad row anywhere is refused naming its line
// and column, and the plan keeps its rates.
func TestRateDeckAllOrNothing(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		p := e.tariffPlan(t, "retail", root)
		good := e.deck(t, p, deckHeader+"1,USA,,0.01,0,60,60\n44,UK,,0.02,0,60,60\n")
		if good.Rates != 2 || good.Plan.Rates != 2 {
			t.Fatalf("import = %+v", good)
		}
		var rows strings.Builder
		rows.WriteString(deckHeader)
		for i := range 3000 {
			fmt.Fprintf(&rows, "49%d,Germany,,0.03,0,60,60\n", i)
		}
		for _, tc := range []struct {
			name, deck, field, reason string
		}{
			{"bad price late in the deck", rows.String() + "33,France,,abc,0,60,60\n", "price_per_minute", "rate deck line 3002:"},
			{"bad increment", deckHeader + "1,USA,,0.01,0,0,60\n", "first_increment", "rate deck line 2:"},
			{"letters in prefix", deckHeader + "1a,USA,,0.01,0,60,60\n", "prefix", "rate deck line 2:"},
			{"unknown column", "prefix,price,price_per_minute\n1,2,3\n", "price", "rate deck line 1:"},
			{"duplicate rate", deckHeader + "1,USA,,0.01,0,60,60\n1,USA,,0.02,0,60,60\n", "prefix", "rates 1 and 2"},
			{"empty file", "", "rates", "rate deck: empty file"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.ReplaceTariffRates(e.ctx, admin, p.ID, strings.NewReader(tc.deck), provisioning.RateImportOptions{})
				var fe *provisioning.FieldError
				if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
					t.Fatalf("err = %v, want invalid %s with %q", err, tc.field, tc.reason)
				}
				after, err := e.svc.TariffPlan(e.ctx, admin, p.ID)
				must(t, err)
				if after.Rates != 2 || after.Version != good.Plan.Version {
					t.Fatalf("the bad deck wrote: %+v", after)
				}
			})
		}
		// A dry run checks and writes nothing.
		out, err := e.svc.ReplaceTariffRates(e.ctx, admin, p.ID, strings.NewReader(rows.String()), provisioning.RateImportOptions{DryRun: true})
		must(t, err)
		if out.Rates != 3000 || !out.DryRun {
			t.Fatalf("dry run = %+v", out)
		}
		if after, _ := e.svc.TariffPlan(e.ctx, admin, p.ID); after.Rates != 2 {
			t.Fatalf("the dry run wrote: %+v", after)
		}
	})
}

// TestRateDeckRoundTrip: a deck with every column imported and exported
// gives the same rates, and the progress reports reach the end.
func TestRateDeckRoundTrip(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		p := e.tariffPlan(t, "retail", root)
		var deck strings.Builder
		rates := make([]rating.Rate, 0, 2500)
		ny, _ := time.LoadLocation("America/New_York")
		for i := range 2500 {
			r := rating.Rate{Prefix: fmt.Sprint(1000 + i), Destination: "Dest " + fmt.Sprint(i%7), Group: "G",
				PricePerMinute: money.Amount(int64(i) * 1000), ConnectFee: money.MustParse("0.05"),
				FirstIncrement: 30, NextIncrement: 6, MinimumSeconds: i % 3, FreeSeconds: i % 2}
			if i%10 == 0 {
				r.Days, _ = rating.ParseWeekdays("mon-fri")
				r.TimeFrom, r.TimeTo = 8*3600, 18*3600
				r.EffectiveFrom = time.Date(2026, 3, 1, 0, 0, 0, 0, ny)
				r.EffectiveTo = time.Date(2027, 1, 1, 12, 30, 0, 0, time.UTC)
			}
			rates = append(rates, r)
		}
		must(t, rating.WriteDeck(&deck, rates, rating.DeckOptions{Location: ny}))
		var mu sync.Mutex
		last := map[string]int{}
		_, err := e.svc.ReplaceTariffRates(e.ctx, admin, p.ID, strings.NewReader(deck.String()), provisioning.RateImportOptions{
			Progress: func(pr provisioning.RateImportProgress) { mu.Lock(); last[pr.Phase] = pr.Rows; mu.Unlock() },
		})
		must(t, err)
		if last["read"] != 2500 || last["stored"] != 2500 {
			t.Fatalf("last progress = %v", last)
		}
		var out strings.Builder
		must(t, e.svc.ExportTariffRates(e.ctx, admin, p.ID, &out, nil, rating.DeckOptions{}))
		if out.String() != deck.String() {
			t.Fatalf("export differs from the import:\n%.400s\n---\n%.400s", out.String(), deck.String())
		}
		_, page, err := e.svc.TariffRates(e.ctx, admin, p.ID, provisioning.TariffRateFilter{Prefix: "12", Limit: 5})
		must(t, err)
		if len(page) != 5 || page[0].Prefix != "1200" || page[0].Row != 201 {
			t.Fatalf("page = %+v", page)
		}
		_, page, err = e.svc.TariffRates(e.ctx, admin, p.ID, provisioning.TariffRateFilter{After: page[4].Row, Prefix: "12", Limit: 5})
		must(t, err)
		if len(page) != 5 || page[0].Prefix != "1205" {
			t.Fatalf("second page = %+v", page)
		}
	})
}

func TestQuoteCall(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		p := e.tariffPlan(t, "retail", root)
		e.deck(t, p, deckHeader+"1,USA,,0.60,0.10,30,6\n")
		if _, err := e.svc.QuoteCall(e.ctx, admin, root.ID, "+12125550100", time.Now(), 61, nil); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("no plan: %v", err)
		}
		_, err := e.svc.SetTenantTariffPlan(e.ctx, admin, root.ID, &p.ID)
		must(t, err)
		budget := money.MustParse("1.00")
		q, err := e.svc.QuoteCall(e.ctx, admin, root.ID, "+12125550100", time.Now(), 61, &budget)
		must(t, err)
		// 61 s at 30/6 bills 66 s: 0.10 + 0.60 × 66/60 = 0.76; 1.00 buys
		// 0.90 of talk after the fee, 90 s.
		if q.Charge.Cost.String() != "0.76" || q.Charge.BilledSeconds != 66 || q.MaxSeconds != 90 {
			t.Fatalf("quote = %+v", q)
		}
		var fe *provisioning.FieldError
		if _, err := e.svc.QuoteCall(e.ctx, admin, root.ID, "+44207", time.Now(), 61, nil); !errors.As(err, &fe) || fe.Field != "number" {
			t.Fatalf("no rate: %v", err)
		}
	})
}

// TestTariffCacheAcrossDaemons: a second Service on the same database (a
// second daemon) with no cache TTL confirms its compiled tariff with one
// version read per lookup, compiles it again only when the plan changed,
// and applies the wire form of the invalidation the first one broadcasts.
func TestTariffCacheAcrossDaemons(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		p := e.tariffPlan(t, "retail", root)
		e.deck(t, p, deckHeader+"1,USA,,0.01,0,60,60\n")
		_, err := e.svc.SetTenantTariffPlan(e.ctx, admin, root.ID, &p.ID)
		must(t, err)
		other := provisioning.NewService(e.store, provisioning.WithCacheTTL(0))
		first, err := other.TenantTariff(e.ctx, root.ID)
		must(t, err)
		if again, _ := other.TenantTariff(e.ctx, root.ID); again != first {
			t.Fatal("an unchanged plan was compiled again after the TTL")
		}
		e.deck(t, p, deckHeader+"1,USA,,0.03,0,60,60\n")
		now, err := other.TenantTariff(e.ctx, root.ID)
		must(t, err)
		if c, _ := now.Rate("1212", time.Now(), 60); c.Cost.String() != "0.03" {
			t.Fatalf("the other daemon prices at %s after the new deck", c.Cost)
		}

		// With a long TTL, the broadcast invalidation is what tells it.
		cached := provisioning.NewService(e.store, provisioning.WithCacheTTL(time.Hour))
		if got, _ := cached.TenantTariff(e.ctx, root.ID); got == nil {
			t.Fatal("no tariff")
		}
		e.deck(t, p, deckHeader+"1,USA,,0.05,0,60,60\n")
		for _, wire := range []string{fmt.Sprintf("tariff:%d", p.ID), "tariff"} {
			inv := provisioning.ParseInvalidation(wire)
			if inv.Kind != provisioning.InvalidateTariff || inv.String() != wire {
				t.Fatalf("%q parsed as %+v", wire, inv)
			}
		}
		cached.ApplyInvalidation(provisioning.ParseInvalidation(fmt.Sprintf("tariff:%d", p.ID)))
		got, err := cached.TenantTariff(e.ctx, root.ID)
		must(t, err)
		if c, _ := got.Rate("1212", time.Now(), 60); c.Cost.String() != "0.05" {
			t.Fatalf("after the invalidation: %s", c.Cost)
		}
	})
}

// TestTariffCompileShared: lookups racing for a plan nobody compiled yet
// all get the one tariff compiled once.
func TestTariffCompileShared(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		p := e.tariffPlan(t, "retail", root)
		var deck strings.Builder
		deck.WriteString(deckHeader)
		for i := range 20000 {
			fmt.Fprintf(&deck, "%d,D,,0.01,0,60,60\n", 100000+i)
		}
		e.deck(t, p, deck.String())
		_, err := e.svc.SetTenantTariffPlan(e.ctx, admin, root.ID, &p.ID)
		must(t, err)
		fresh := provisioning.NewService(e.store)
		got := make([]*rating.Tariff, 8)
		var wg sync.WaitGroup
		for i := range got {
			wg.Go(func() {
				tr, err := fresh.TenantTariff(e.ctx, root.ID)
				if err != nil {
					t.Error(err)
				}
				got[i] = tr
			})
		}
		wg.Wait()
		for i := range got {
			if got[i] == nil || got[i] != got[0] {
				t.Fatalf("lookup %d got another tariff", i)
			}
		}
	})
}

// TestTenantDeleteWithTariffs: a tenant's plans keep it from being
// deleted; its own assignment goes with it.
func TestTenantDeleteWithTariffs(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		leaf := e.tenant(t, "leaf", root)
		p := e.tariffPlan(t, "retail", root)
		own := e.tariffPlan(t, "own", leaf)
		_, err := e.svc.SetTenantTariffPlan(e.ctx, admin, leaf.ID, &p.ID)
		must(t, err)
		if err := e.svc.DeleteTenant(e.ctx, admin, leaf.ID); !errors.Is(err, provisioning.ErrConflict) {
			t.Fatalf("deleting a tenant with a plan: %v", err)
		}
		must(t, e.svc.DeleteTariffPlan(e.ctx, admin, own.ID))
		must(t, e.svc.DeleteTenant(e.ctx, admin, leaf.ID))
		// The assignment went with the tenant: the plan is free again.
		must(t, e.svc.DeleteTariffPlan(e.ctx, admin, p.ID))
	})
}

// TestConcurrentImports: of imports of one plan racing, the tariff the
// lookups use is the one of the deck the store kept last.
func TestConcurrentImports(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		p := e.tariffPlan(t, "retail", root)
		_, err := e.svc.SetTenantTariffPlan(e.ctx, admin, root.ID, &p.ID)
		must(t, err)
		for round := range 5 {
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					deck := fmt.Sprintf("%s1,USA,,0.0%d,0,60,60\n", deckHeader, i+1)
					if _, err := e.svc.ReplaceTariffRates(e.ctx, admin, p.ID, strings.NewReader(deck), provisioning.RateImportOptions{}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			_, stored, err := e.svc.TariffRates(e.ctx, admin, p.ID, provisioning.TariffRateFilter{})
			must(t, err)
			if got, want := price(t, e, root.ID, "+12125550100"), stored[0].PricePerMinute.String(); got != want {
				t.Fatalf("round %d: lookups price at %s, the store has %s", round, got, want)
			}
		}
	})
}

// TestTariffInvalidationsAcrossDaemons: two Services on one PostgreSQL
// schema, each with an hour's cache TTL and following the other's
// invalidations: a deck imported, a plan assigned and a DID's plan set
// through one are used by the other's next lookups once the notification
// arrives.
func TestTariffInvalidationsAcrossDaemons(t *testing.T) {
	dsn, ok := sqldbtest.DSNs(t)[sqldb.Postgres]
	if !ok {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	open := func() *provisioning.Service {
		db, err := sqldb.Open(ctx, dsn)
		must(t, err)
		t.Cleanup(func() { db.Close() })
		must(t, sqlstore.Migrate(ctx, db))
		svc := provisioning.NewService(sqlstore.New(db), provisioning.WithCacheTTL(time.Hour),
			provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		fctx, stop := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- svc.FollowInvalidations(fctx) }()
		t.Cleanup(func() { stop(); <-done })
		return svc
	}
	a, b := open(), open()
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s: not within 10 s", what)
			}
		}
	}
	eventually("both listening", func() bool { return a.Listening() && b.Listening() })
	root := &provisioning.Tenant{Name: "root"}
	must(t, a.CreateTenant(ctx, admin, root))
	p := &provisioning.TariffPlan{TenantID: root.ID, Name: "retail", Currency: "USD"}
	must(t, a.CreateTariffPlan(ctx, admin, p))
	importDeck := func(price string) {
		_, err := a.ReplaceTariffRates(ctx, admin, p.ID, strings.NewReader(deckHeader+"1,USA,,"+price+",0,60,60\n"), provisioning.RateImportOptions{})
		must(t, err)
	}
	bPrice := func() string {
		tr, err := b.TenantTariff(ctx, root.ID)
		if err != nil || tr == nil {
			return fmt.Sprint(tr, err)
		}
		c, err := tr.Rate("1212", time.Now(), 60)
		if err != nil {
			return err.Error()
		}
		return c.Cost.String()
	}
	importDeck("0.01")
	if got := bPrice(); got != "<nil> <nil>" {
		t.Fatalf("B before any assignment: %s", got)
	}
	_, err := a.SetTenantTariffPlan(ctx, admin, root.ID, &p.ID)
	must(t, err)
	eventually("B sees the assignment A made", func() bool { return bPrice() == "0.01" })
	importDeck("0.02")
	eventually("B prices with the deck A imported", func() bool { return bPrice() == "0.02" })

	d := &provisioning.DID{TenantID: root.ID, Number: "+15550001111"}
	must(t, a.CreateDID(ctx, admin, d))
	if tr, _, err := b.DIDTariff(ctx, d.Number); err != nil || tr != nil {
		t.Fatalf("B's DID tariff before: %v %v", tr, err)
	}
	_, err = a.SetDIDTariffPlan(ctx, admin, d.ID, &p.ID)
	must(t, err)
	eventually("B sees the DID's plan", func() bool {
		tr, _, err := b.DIDTariff(ctx, d.Number)
		return err == nil && tr != nil
	})

	g := &provisioning.Gateway{Name: "carrier", Host: "sip.carrier.example"}
	must(t, a.CreateGateway(ctx, admin, g))
	if tr, err := b.GatewayTariffByName(ctx, g.Name); err != nil || tr != nil {
		t.Fatalf("B's gateway tariff before: %v %v", tr, err)
	}
	_, err = a.SetGatewayTariffPlan(ctx, admin, g.ID, &p.ID)
	must(t, err)
	eventually("B sees the gateway's supplier plan", func() bool {
		tr, err := b.GatewayTariffByName(ctx, g.Name)
		return err == nil && tr != nil
	})
	eventually("B orders by it", func() bool {
		gs, err := b.GatewaysByCost(ctx, []int64{g.ID}, "12125550100", time.Time{})
		return err == nil && len(gs) == 1 && gs[0].Cost != nil && gs[0].Cost.String() == "0.02"
	})
}
