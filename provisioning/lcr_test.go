package provisioning_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// lcrDeckHeader is every column the LCR tests' decks use.
const lcrDeckHeader = "prefix,destination,group,price_per_minute,connect_fee,first_increment,next_increment,days,time_from,time_to,effective_from,effective_to\n"

// supplier creates gateway name of owner (nil: shared) with a supplier
// plan of currency whose deck is rows (no plan when rows is empty).
func (e *env) supplier(t *testing.T, name string, owner, planOwner *provisioning.Tenant, currency, rows string) *provisioning.Gateway {
	t.Helper()
	g := e.gateway(t, name, owner)
	if rows == "" {
		return g
	}
	p := &provisioning.TariffPlan{TenantID: planOwner.ID, Name: "supplier " + name, Currency: money.Currency(currency),
		TimeZone: "America/New_York", ChargeStep: money.MustParse("0.0001")}
	must(t, e.svc.CreateTariffPlan(e.ctx, admin, p))
	e.deck(t, p, lcrDeckHeader+rows)
	_, err := e.svc.SetGatewayTariffPlan(e.ctx, admin, g.ID, &p.ID)
	must(t, err)
	return g
}

// costLine renders an LCR answer: "name cost currency" (cost "-" when
// unknown), then the gateways left out with their reasons.
func costLine(gs []provisioning.GatewayCost, left []provisioning.GatewayLeftOut) string {
	var parts []string
	for _, g := range gs {
		if g.Cost == nil {
			parts = append(parts, g.Name+" -")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", g.Name, g.Cost, g.Currency))
	}
	for _, l := range left {
		parts = append(parts, fmt.Sprintf("(%s %s)", l.Name, l.Reason))
	}
	return strings.Join(parts, ", ")
}

func TestGatewaysByCost(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	must(t, err)
	monday := time.Date(2026, 12, 7, 12, 0, 0, 0, ny)
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		gw := map[string]int64{}
		for _, s := range []struct{ name, currency, rows string }{
			{"cheap", "USD", "49,Germany,,0.01,0,60,60,,,,,\n"},
			{"tie", "USD", "49,Germany,,0.01,0,60,60,,,,,\n"},
			{"dear", "USD", "49,Germany,,0.02,0,60,60,,,,,\n1,USA,,0.001,0,60,60,,,,,\n"},
			// A cheaper minute with a connection fee is the dearer call.
			{"fee", "USD", "49,Germany,,0.005,0.01,60,60,,,,,\n"},
			// Per-second billing: the reference minute is 60 increments.
			{"persec", "USD", "4930,Berlin,,0.012,0,1,1,,,,,\n"},
			{"euro", "EUR", "49,Germany,,0.001,0,60,60,,,,,\n"},
			{"usonly", "USD", "1,USA,,0.01,0,60,60,,,,,\n"},
			// Nights (22:00-06:00 New York time) are cheaper.
			{"night", "USD", "49,Germany,,0.03,0,60,60,,,,,\n49,Germany night,,0.001,0,60,60,,22:00,06:00,,\n"},
			// A price change on 2027-01-01.
			{"dated", "USD", "49,Germany,,0.05,0,60,60,,,,,2027-01-01\n49,Germany,,0.002,0,60,60,,,,2027-01-01,\n"},
			{"none1", "", ""},
			{"none2", "", ""},
		} {
			gw[s.name] = e.supplier(t, s.name, root, root, s.currency, s.rows).ID
		}
		for _, tc := range []struct {
			name     string
			gateways string
			number   string
			at       time.Time
			want     string
		}{
			{"cheapest first", "dear cheap", "+4930123", monday, "cheap 0.01 USD, dear 0.02 USD"},
			{"ties keep the listed order", "tie dear cheap", "4930123", monday, "tie 0.01 USD, cheap 0.01 USD, dear 0.02 USD"},
			{"ties keep the listed order reversed", "cheap tie", "4930123", monday, "cheap 0.01 USD, tie 0.01 USD"},
			{"connection fee counted", "fee dear cheap", "4930123", monday, "cheap 0.01 USD, fee 0.015 USD, dear 0.02 USD"},
			{"longest prefix and increments", "dear persec", "4930123", monday, "persec 0.012 USD, dear 0.02 USD"},
			{"unpriced follow in listed order", "none2 dear none1 cheap", "4930123", monday, "cheap 0.01 USD, dear 0.02 USD, none2 -, none1 -"},
			{"no rate left out", "usonly cheap", "4930123", monday, "cheap 0.01 USD, (usonly no_rate)"},
			{"another destination", "usonly dear cheap", "12125550100", monday, "dear 0.001 USD, usonly 0.01 USD, (cheap no_rate)"},
			{"nothing left", "usonly", "4930123", monday, "(usonly no_rate)"},
			{"invalid number", "cheap none1", "49*30", monday, "none1 -, (cheap invalid_number)"},
			{"first priced currency first", "dear euro cheap", "4930123", monday, "cheap 0.01 USD, dear 0.02 USD, euro 0.001 EUR"},
			{"first priced currency first, EUR", "none1 euro dear cheap", "4930123", monday, "euro 0.001 EUR, cheap 0.01 USD, dear 0.02 USD, none1 -"},
			{"daytime", "night cheap", "4930123", monday, "cheap 0.01 USD, night 0.03 USD"},
			{"night window", "cheap night", "4930123", monday.Add(11 * time.Hour), "night 0.001 USD, cheap 0.01 USD"},
			{"night window after midnight", "cheap night", "4930123", monday.Add(17 * time.Hour), "night 0.001 USD, cheap 0.01 USD"},
			{"before a price change", "cheap dated", "4930123", time.Date(2026, 12, 31, 23, 59, 0, 0, ny), "cheap 0.01 USD, dated 0.05 USD"},
			{"after a price change", "cheap dated", "4930123", time.Date(2027, 1, 1, 0, 0, 0, 0, ny), "dated 0.002 USD, cheap 0.01 USD"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var ids []int64
				for _, n := range strings.Fields(tc.gateways) {
					ids = append(ids, gw[n])
				}
				got, err := e.svc.GatewaysByCost(e.ctx, ids, tc.number, tc.at)
				must(t, err)
				// The left-out gateways come from the route view.
				route := &provisioning.OutboundRoute{RoutingMeta: provisioning.RoutingMeta{TenantID: root.ID}, Name: "lcr " + tc.name,
					Patterns: []provisioning.DialPattern{"X."}, GatewayIDs: ids, Order: provisioning.RouteOrderCost}
				must(t, e.svc.CreateOutboundRoute(e.ctx, admin, route))
				view, err := e.svc.RouteLCR(e.ctx, admin, route.ID, tc.number, tc.at)
				must(t, err)
				if line := costLine(view.Gateways, view.LeftOut); line != tc.want {
					t.Errorf("route view: %s\n                 want %s", line, tc.want)
				}
				want := tc.want
				if i := strings.Index(want, "("); i >= 0 {
					want = strings.TrimSuffix(want[:i], ", ")
				}
				if line := costLine(got, nil); line != want {
					t.Errorf("GatewaysByCost: %s\n           want %s", line, want)
				}
				if got == nil {
					t.Error("GatewaysByCost returned nil: an empty answer is an empty list")
				}
			})
		}

		// An unknown gateway (deleted under the route) is left out.
		got, err := e.svc.GatewaysByCost(e.ctx, []int64{gw["dear"], 999999, gw["cheap"]}, "4930123", monday)
		must(t, err)
		if line := costLine(got, nil); line != "cheap 0.01 USD, dear 0.02 USD" {
			t.Errorf("with an unknown gateway: %s", line)
		}
		// The answer names the rate and plan used.
		got, err = e.svc.GatewaysByCost(e.ctx, []int64{gw["persec"]}, "4930123", monday)
		must(t, err)
		if g := got[0]; g.Prefix != "4930" || g.Destination != "Berlin" || g.Plan != "supplier persec" || g.GatewayID != gw["persec"] {
			t.Errorf("answer %+v", g)
		}
	})
}

func TestGatewayTariffScope(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		reseller := e.tenant(t, "reseller", nil)
		customer := e.tenant(t, "customer", reseller)
		other := e.tenant(t, "other", nil)
		shared := e.gateway(t, "shared", nil)
		resellerGW := e.gateway(t, "reseller-gw", reseller)
		customerGW := e.gateway(t, "customer-gw", customer)
		resellerPlan := e.tariffPlan(t, "reseller-supply", reseller)
		customerPlan := e.tariffPlan(t, "customer-supply", customer)
		otherPlan := e.tariffPlan(t, "other-supply", other)
		resellerAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: reseller.ID, Path: reseller.Path}
		customerAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: customer.ID, Path: customer.Path}
		customerUser := provisioning.Scope{Role: provisioning.RoleUser, TenantID: customer.ID, Path: customer.Path}

		for _, tc := range []struct {
			name     string
			sc       provisioning.Scope
			gateway  int64
			plan     *int64
			sentinel error
			field    string
		}{
			{"tenant-admin, own gateway, own plan", customerAdmin, customerGW.ID, &customerPlan.ID, nil, ""},
			{"tenant-admin, a parent's plan it cannot see", customerAdmin, customerGW.ID, &resellerPlan.ID, provisioning.ErrNotFound, "tariff_plan_id"},
			{"reseller, its customer's gateway, its own plan", resellerAdmin, customerGW.ID, &resellerPlan.ID, nil, ""},
			{"reseller, its gateway, a customer's plan", resellerAdmin, resellerGW.ID, &customerPlan.ID, provisioning.ErrInvalid, "tariff_plan_id"},
			{"reseller, another tree's plan", resellerAdmin, customerGW.ID, &otherPlan.ID, provisioning.ErrNotFound, "tariff_plan_id"},
			{"admin, another tree's plan", admin, customerGW.ID, &otherPlan.ID, provisioning.ErrInvalid, "tariff_plan_id"},
			{"reseller, shared gateway", resellerAdmin, shared.ID, &resellerPlan.ID, provisioning.ErrForbidden, ""},
			{"reseller, removing from a shared gateway", resellerAdmin, shared.ID, nil, provisioning.ErrForbidden, ""},
			{"customer, its reseller's gateway", customerAdmin, resellerGW.ID, nil, provisioning.ErrNotFound, ""},
			{"read-only user", customerUser, customerGW.ID, nil, provisioning.ErrForbidden, ""},
			{"unknown gateway", admin, 999999, nil, provisioning.ErrNotFound, ""},
			{"unknown plan", admin, customerGW.ID, ptr(int64(999999)), provisioning.ErrNotFound, "tariff_plan_id"},
			{"admin, shared gateway, any plan", admin, shared.ID, &otherPlan.ID, nil, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				planOf := func() string {
					info, err := e.svc.GatewayTariffPlan(e.ctx, admin, tc.gateway)
					if errors.Is(err, provisioning.ErrNotFound) {
						return "no gateway"
					}
					must(t, err)
					if info.PlanID == nil {
						return "none"
					}
					return fmt.Sprint(*info.PlanID)
				}
				before := planOf()
				info, err := e.svc.SetGatewayTariffPlan(e.ctx, tc.sc, tc.gateway, tc.plan)
				if tc.sentinel == nil {
					must(t, err)
					if *info.PlanID != *tc.plan || info.Plan.ID != *tc.plan || info.GatewayID != tc.gateway {
						t.Fatalf("info = %+v", info)
					}
					return
				}
				wantField(t, err, tc.sentinel, tc.field, "")
				if after := planOf(); after != before {
					t.Fatalf("a refused assignment changed the plan: %s → %s", before, after)
				}
			})
		}

		// Reading follows the same rules.
		if _, err := e.svc.GatewayTariffPlan(e.ctx, resellerAdmin, shared.ID); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("a tenant reading a shared gateway's supplier plan: %v", err)
		}
		info, err := e.svc.GatewayTariffPlan(e.ctx, customerUser, customerGW.ID)
		must(t, err)
		if info.PlanID == nil || *info.PlanID != resellerPlan.ID || info.Plan.Name != "reseller-supply" {
			t.Fatalf("customer reading its gateway's plan: %+v", info)
		}

		// A plan in use cannot be deleted; removing the assignment, or
		// deleting the gateway, frees it.
		wantField(t, e.svc.DeleteTariffPlan(e.ctx, admin, resellerPlan.ID), provisioning.ErrConflict, "", "")
		if err := e.svc.DeleteTariffPlan(e.ctx, admin, otherPlan.ID); !errors.Is(err, provisioning.ErrConflict) || !strings.Contains(err.Error(), "1 gateway") {
			t.Fatalf("deleting a plan a shared gateway uses: %v", err)
		}
		_, err = e.svc.SetGatewayTariffPlan(e.ctx, admin, shared.ID, nil)
		must(t, err)
		must(t, e.svc.DeleteTariffPlan(e.ctx, admin, otherPlan.ID))
		must(t, e.svc.DeleteGateway(e.ctx, admin, customerGW.ID))
		must(t, e.svc.DeleteTariffPlan(e.ctx, admin, resellerPlan.ID))
		must(t, e.svc.DeleteTariffPlan(e.ctx, admin, customerPlan.ID))
	})
}

// TestGatewayTariffLookups: the lookups the switches and the CDR pipeline
// make, by ID and by name, follow assignments, renames and moves.
func TestGatewayTariffLookups(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		cust := e.tenant(t, "cust", root)
		other := e.tenant(t, "other", nil)
		g := e.gateway(t, "carrier", cust)
		p := e.tariffPlan(t, "carrier-supply", root)
		e.deck(t, p, deckHeader+"49,Germany,,0.004,0,60,60\n")

		byID := func() (*rating.Tariff, error) { return e.svc.GatewayTariff(e.ctx, g.ID) }
		byName := func() (*rating.Tariff, error) { return e.svc.GatewayTariffByName(e.ctx, g.Name) }
		check := func(what string, wantPlan string) {
			t.Helper()
			for _, lookup := range []func() (*rating.Tariff, error){byID, byName} {
				tr, err := lookup()
				must(t, err)
				switch {
				case wantPlan == "" && tr != nil:
					t.Fatalf("%s: tariff %s, want none", what, tr.Name())
				case wantPlan != "" && (tr == nil || tr.Name() != wantPlan):
					t.Fatalf("%s: tariff %v, want %s", what, tr, wantPlan)
				}
			}
		}
		check("no plan", "")
		if _, err := e.svc.GatewayTariff(e.ctx, 999999); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("unknown gateway: %v", err)
		}
		if _, err := e.svc.GatewayTariffByName(e.ctx, "nobody"); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("unknown gateway name: %v", err)
		}
		_, err := e.svc.SetGatewayTariffPlan(e.ctx, admin, g.ID, &p.ID)
		must(t, err)
		check("assigned", "carrier-supply")
		tr, err := byName()
		must(t, err)
		if c, err := tr.Rate("4930123", time.Now(), 60); err != nil || c.Cost.String() != "0.004" {
			t.Fatalf("supplier charge %+v %v", c, err)
		}

		// A new deck is used from the next lookup.
		e.deck(t, p, deckHeader+"49,Germany,,0.006,0,60,60\n")
		got, err := e.svc.GatewaysByCost(e.ctx, []int64{g.ID}, "4930123", time.Time{})
		must(t, err)
		if line := costLine(got, nil); line != "carrier 0.006 USD" {
			t.Fatalf("after a new deck: %s", line)
		}

		// A rename: the new name finds it, the old one nothing.
		_, err = e.svc.UpdateGateway(e.ctx, admin, g.ID, func(g *provisioning.Gateway) error { g.Name = "carrier-b"; return nil })
		must(t, err)
		if _, err := e.svc.GatewayTariffByName(e.ctx, "carrier"); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("old name after a rename: %v", err)
		}
		g.Name = "carrier-b"
		check("renamed", "carrier-supply")

		// Moved to another tree, it leaves its old tree's plan behind.
		_, err = e.svc.UpdateGateway(e.ctx, admin, g.ID, func(g *provisioning.Gateway) error { g.TenantID = &other.ID; return nil })
		must(t, err)
		check("moved to another tree", "")
		info, err := e.svc.GatewayTariffPlan(e.ctx, admin, g.ID)
		must(t, err)
		if info.PlanID != nil {
			t.Fatalf("a plan left behind shown as applied: %+v", info)
		}

		// Removing the plan.
		_, err = e.svc.UpdateGateway(e.ctx, admin, g.ID, func(g *provisioning.Gateway) error { g.TenantID = &cust.ID; return nil })
		must(t, err)
		check("moved back", "carrier-supply")
		_, err = e.svc.SetGatewayTariffPlan(e.ctx, admin, g.ID, nil)
		must(t, err)
		check("removed", "")
	})
}

// countingStore counts the reads least-cost routing could make of the
// store: a warm GatewaysByCost must make none.
type countingStore struct {
	*sqlstore.Store
	reads atomic.Int64
}

func (c *countingStore) Gateway(ctx context.Context, id int64) (*provisioning.Gateway, error) {
	c.reads.Add(1)
	return c.Store.Gateway(ctx, id)
}

func (c *countingStore) Tenant(ctx context.Context, id int64) (*provisioning.Tenant, error) {
	c.reads.Add(1)
	return c.Store.Tenant(ctx, id)
}

func (c *countingStore) GatewayTariffPlan(ctx context.Context, id int64) (int64, string, error) {
	c.reads.Add(1)
	return c.Store.GatewayTariffPlan(ctx, id)
}

func (c *countingStore) TariffPlan(ctx context.Context, id int64) (*provisioning.TariffPlan, error) {
	c.reads.Add(1)
	return c.Store.TariffPlan(ctx, id)
}

func (c *countingStore) TariffRates(ctx context.Context, id int64, f provisioning.TariffRateFilter, fn func(int64, *rating.Rate) error) error {
	c.reads.Add(1)
	return c.Store.TariffRates(ctx, id, f, fn)
}

// TestGatewayTariffCache: a warm least-cost lookup reads nothing from the
// store; another daemon's assignment reaches this one's cache by the
// tariff invalidation, and a gateway change by the routing one.
func TestGatewayTariffCache(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		a := e.supplier(t, "a", root, root, "USD", "49,Germany,,0.02,0,60,60,,,,,\n")
		b := e.supplier(t, "b", root, root, "USD", "49,Germany,,0.01,0,60,60,,,,,\n")
		c := e.gateway(t, "c", root)

		count := &countingStore{Store: e.store}
		other := provisioning.NewService(count, provisioning.WithCacheTTL(time.Hour))
		ids := []int64{a.ID, b.ID, c.ID}
		order := func() string {
			t.Helper()
			got, err := other.GatewaysByCost(e.ctx, ids, "4930123", time.Time{})
			must(t, err)
			return costLine(got, nil)
		}
		if got := order(); got != "b 0.01 USD, a 0.02 USD, c -" {
			t.Fatalf("first: %s", got)
		}
		count.reads.Store(0)
		for range 3 {
			order()
		}
		if n := count.reads.Load(); n != 0 {
			t.Fatalf("warm lookups read the store %d times", n)
		}

		// The first daemon gives c a plan: the second sees it once the
		// tariff invalidation reaches it (as its wire form would).
		p := e.tariffPlan(t, "c-supply", root)
		e.deck(t, p, deckHeader+"4930,Berlin,,0.005,0,60,60\n")
		_, err := e.svc.SetGatewayTariffPlan(e.ctx, admin, c.ID, &p.ID)
		must(t, err)
		if got := order(); got != "b 0.01 USD, a 0.02 USD, c -" {
			t.Fatalf("before the invalidation arrives (hour-long TTL): %s", got)
		}
		other.ApplyInvalidation(provisioning.ParseInvalidation("tariff"))
		if got := order(); got != "c 0.005 USD, b 0.01 USD, a 0.02 USD" {
			t.Fatalf("after the invalidation: %s", got)
		}
		// A new deck of b's plan (tariff:<plan>).
		bPlan, err := e.svc.GatewayTariffPlan(e.ctx, admin, b.ID)
		must(t, err)
		e.deck(t, bPlan.Plan, deckHeader+"49,Germany,,0.001,0,60,60\n")
		other.ApplyInvalidation(provisioning.ParseInvalidation(fmt.Sprintf("tariff:%d", bPlan.Plan.ID)))
		if got := order(); got != "b 0.001 USD, c 0.005 USD, a 0.02 USD" {
			t.Fatalf("after b's new deck: %s", got)
		}
		// A rename (the routing invalidation a gateway change sends).
		_, err = e.svc.UpdateGateway(e.ctx, admin, a.ID, func(g *provisioning.Gateway) error { g.Name = "a2"; return nil })
		must(t, err)
		other.ApplyInvalidation(provisioning.ParseInvalidation("routing"))
		if got := order(); got != "b 0.001 USD, c 0.005 USD, a2 0.02 USD" {
			t.Fatalf("after a rename: %s", got)
		}
	})
}

// TestRouteLCRView: the route view and the routing trace show the cost
// order a least-cost route dials, scoped like the route; the supplier
// prices of a shared gateway are shown to admins only, a parent tenant's
// gateway's to those who see the parent.
func TestRouteLCRView(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		cust := e.tenant(t, "cust", root)
		other := e.tenant(t, "other", nil)
		shared := e.supplier(t, "shared", nil, root, "USD", "49,Germany,,0.001,0,60,60,,,,,\n")
		own := e.supplier(t, "own", cust, cust, "USD", "49,Germany,,0.01,0,60,60,,,,,\n")
		usonly := e.supplier(t, "usonly", cust, cust, "USD", "1,USA,,0.01,0,60,60,,,,,\n")
		parent := e.supplier(t, "parent", root, root, "USD", "49,Germany,,0.005,0,60,60,,,,,\n")
		rootAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: root.ID, Path: root.Path}
		custAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: cust.ID, Path: cust.Path}
		otherAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: other.ID, Path: other.Path}
		r := &provisioning.OutboundRoute{RoutingMeta: provisioning.RoutingMeta{TenantID: cust.ID}, Name: "intl",
			Patterns: []provisioning.DialPattern{"00Z."}, Strip: 2, Prepend: "+",
			GatewayIDs: []int64{own.ID, usonly.ID, shared.ID, parent.ID}, Order: provisioning.RouteOrderCost}
		must(t, e.svc.CreateOutboundRoute(e.ctx, admin, r))

		view, err := e.svc.RouteLCR(e.ctx, admin, r.ID, "004930123", time.Time{})
		must(t, err)
		if !view.Matches || view.Sent != "+4930123" || view.At.IsZero() || view.Order != provisioning.RouteOrderCost {
			t.Fatalf("view %+v", view)
		}
		if got := costLine(view.Gateways, view.LeftOut); got != "shared 0.001 USD, parent 0.005 USD, own 0.01 USD, (usonly no_rate)" {
			t.Fatalf("admin's view: %s", got)
		}
		if !strings.Contains(view.LeftOut[0].Detail, "no rate") {
			t.Fatalf("left out detail %q", view.LeftOut[0].Detail)
		}
		view, err = e.svc.RouteLCR(e.ctx, custAdmin, r.ID, "004930123", time.Time{})
		must(t, err)
		if got := costLine(view.Gateways, view.LeftOut); got != "shared -, parent -, own 0.01 USD, (usonly no_rate)" {
			t.Fatalf("tenant's view (shared and parent's prices hidden, order kept): %s", got)
		}
		if view.Gateways[0].Plan != "" || view.Gateways[0].Name != "shared" {
			t.Fatalf("shared gateway shown as %+v", view.Gateways[0])
		}
		view, err = e.svc.RouteLCR(e.ctx, rootAdmin, r.ID, "004930123", time.Time{})
		must(t, err)
		if got := costLine(view.Gateways, view.LeftOut); got != "shared -, parent 0.005 USD, own 0.01 USD, (usonly no_rate)" {
			t.Fatalf("the parent's view: %s", got)
		}
		if _, err := e.svc.RouteLCR(e.ctx, otherAdmin, r.ID, "004930123", time.Time{}); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("another tenant's route: %v", err)
		}
		for _, bad := range []string{"", "49 30", "0049301234567890123456789012345678901"} {
			_, err := e.svc.RouteLCR(e.ctx, admin, r.ID, bad, time.Time{})
			wantField(t, err, provisioning.ErrInvalid, "number", "")
		}
		view, err = e.svc.RouteLCR(e.ctx, admin, r.ID, "4930123", time.Time{})
		must(t, err)
		if view.Matches || view.Sent != "+30123" {
			t.Fatalf("a number the route does not take: %+v", view)
		}

		// A listed route shows its order with the prices, nobody left out.
		_, err = e.svc.UpdateOutboundRoute(e.ctx, admin, r.ID, func(r *provisioning.OutboundRoute) error {
			r.Order = provisioning.RouteOrderListed
			return nil
		})
		must(t, err)
		view, err = e.svc.RouteLCR(e.ctx, admin, r.ID, "004930123", time.Time{})
		must(t, err)
		if got := costLine(view.Gateways, view.LeftOut); got != "own 0.01 USD, usonly -, shared 0.001 USD, parent 0.005 USD" {
			t.Fatalf("listed route: %s", got)
		}

		// The trace: listed order from the plan alone, cost order once priced.
		trace := func(sc provisioning.Scope) provisioning.Step {
			t.Helper()
			p, err := e.svc.RoutingPlan(e.ctx, sc, cust.ID)
			must(t, err)
			steps := p.Trace(provisioning.Destination{Kind: provisioning.DestExternal, Number: "004930123"}, time.Now(), "")
			must(t, e.svc.PriceTrace(e.ctx, sc, steps, time.Now()))
			if len(steps) != 1 || steps[0].Do != "dial_out" {
				t.Fatalf("steps %+v", steps)
			}
			return steps[0]
		}
		if st := trace(admin); strings.Join(st.Gateways, " ") != "own usonly shared parent" || st.Costs != nil || st.Order != provisioning.RouteOrderListed {
			t.Fatalf("listed route traced: %+v", st)
		}
		_, err = e.svc.UpdateOutboundRoute(e.ctx, admin, r.ID, func(r *provisioning.OutboundRoute) error {
			r.Order = provisioning.RouteOrderCost
			return nil
		})
		must(t, err)
		st := trace(admin)
		if strings.Join(st.Gateways, " ") != "shared parent own" || costLine(st.Costs, st.LeftOut) != "shared 0.001 USD, parent 0.005 USD, own 0.01 USD, (usonly no_rate)" {
			t.Fatalf("cost route traced: %+v", st)
		}
		st = trace(custAdmin)
		if strings.Join(st.Gateways, " ") != "shared parent own" || costLine(st.Costs, st.LeftOut) != "shared -, parent -, own 0.01 USD, (usonly no_rate)" {
			t.Fatalf("cost route traced by the tenant: %+v", st)
		}
	})
}
