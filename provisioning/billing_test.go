package provisioning_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// eachBillingEngine is eachEngine with the CDR store (ledger, balances)
// in the same database, as the daemon has it.
func eachBillingEngine(t *testing.T, fn func(t *testing.T, e *env, cdrs *cdrstore.Store)) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		must(t, sqlstore.Migrate(ctx, db))
		must(t, cdrstore.Migrate(ctx, db))
		store := sqlstore.New(db)
		svc := provisioning.NewService(store, provisioning.WithBcryptCost(4),
			provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		fn(t, &env{svc: svc, store: store, sink: &fakeSink{}, ctx: ctx}, cdrstore.NewStore(db))
	})
}

func TestBillingSettings(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		reseller := e.tenant(t, "reseller", nil)
		customer := e.tenant(t, "customer", reseller)
		bare := e.tenant(t, "bare", reseller)
		plan := e.tariffPlan(t, "retail", reseller)
		_, err := e.svc.SetTenantTariffPlan(e.ctx, admin, customer.ID, &plan.ID)
		must(t, err)
		resellerAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: reseller.ID, Path: reseller.Path}
		customerAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: customer.ID, Path: customer.Path}

		// Without settings: postpaid, no limit, the plan's currency.
		b, err := e.svc.TenantBilling(e.ctx, customerAdmin, customer.ID)
		must(t, err)
		if b.Mode != provisioning.BillingPostpaid || b.CreditLimit != nil || b.Currency != "USD" {
			t.Fatalf("defaults = %+v", b)
		}
		prepaid, limit, cur, err := e.svc.BillingPolicy(e.ctx, customer.ID)
		if err != nil || prepaid || limit != nil || cur != "USD" {
			t.Fatalf("policy = %v %v %v %v", prepaid, limit, cur, err)
		}

		hundred := money.MustParse("100")
		for _, tc := range []struct {
			name  string
			sc    provisioning.Scope
			id    int64
			b     provisioning.BillingSettings
			field string
			is    error
		}{
			{"bad mode", admin, customer.ID, provisioning.BillingSettings{Mode: "credit"}, "mode", provisioning.ErrInvalid},
			{"prepaid with credit", admin, customer.ID, provisioning.BillingSettings{Mode: "prepaid", CreditLimit: &hundred}, "credit_limit", provisioning.ErrInvalid},
			{"negative credit", admin, customer.ID, provisioning.BillingSettings{Mode: "postpaid", CreditLimit: ptr(money.MustParse("-1"))}, "credit_limit", provisioning.ErrInvalid},
			{"other currency than the plan", admin, customer.ID, provisioning.BillingSettings{Mode: "postpaid", Currency: "EUR"}, "currency", provisioning.ErrInvalid},
			{"no plan, no currency", admin, bare.ID, provisioning.BillingSettings{Mode: "postpaid"}, "currency", provisioning.ErrInvalid},
			{"VAT over 100", admin, customer.ID, provisioning.BillingSettings{Mode: "postpaid", VATPercent: money.MustParse("100.5")}, "vat_percent", provisioning.ErrInvalid},
			{"customer sets its own", customerAdmin, customer.ID, provisioning.BillingSettings{Mode: "postpaid"}, "", provisioning.ErrForbidden},
			{"reseller sets its own", resellerAdmin, reseller.ID, provisioning.BillingSettings{Mode: "postpaid", Currency: "USD"}, "", provisioning.ErrForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := tc.b
				_, err := e.svc.SetTenantBilling(e.ctx, tc.sc, tc.id, &b)
				if !errors.Is(err, tc.is) {
					t.Fatalf("err = %v, want %v", err, tc.is)
				}
				var fe *provisioning.FieldError
				if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
					t.Fatalf("err = %v, want field %s", err, tc.field)
				}
			})
		}
		// Nothing was written by the refusals.
		if _, err := e.store.TenantBilling(e.ctx, customer.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("refused settings stored: %v", err)
		}

		// The reseller's admin sets its customer's; the policy follows at once.
		b, err = e.svc.SetTenantBilling(e.ctx, resellerAdmin, customer.ID, &provisioning.BillingSettings{Mode: "postpaid", CreditLimit: &hundred, VATPercent: money.MustParse("19")})
		must(t, err)
		if b.Currency != "USD" {
			t.Fatalf("currency not taken from the plan: %+v", b)
		}
		prepaid, limit, cur, err = e.svc.BillingPolicy(e.ctx, customer.ID)
		if err != nil || prepaid || limit == nil || *limit != hundred || cur != "USD" {
			t.Fatalf("policy = %v %v %v %v", prepaid, limit, cur, err)
		}
		*limit = 0 // the caller's copy
		_, err = e.svc.SetTenantBilling(e.ctx, admin, customer.ID, &provisioning.BillingSettings{Mode: "prepaid"})
		must(t, err)
		prepaid, limit, _, err = e.svc.BillingPolicy(e.ctx, customer.ID)
		if err != nil || !prepaid || limit == nil || *limit != 0 {
			t.Fatalf("prepaid policy = %v %v %v", prepaid, limit, err)
		}
		got, err := e.svc.TenantBilling(e.ctx, customerAdmin, customer.ID)
		must(t, err)
		if got.Mode != "prepaid" || got.VATPercent != 0 || got.UpdatedAt.IsZero() {
			t.Fatalf("read back %+v", got)
		}

		// A plan in another currency afterwards: the policy refuses to answer.
		eur := &provisioning.TariffPlan{TenantID: reseller.ID, Name: "euro", Currency: "EUR", TimeZone: "UTC"}
		must(t, e.svc.CreateTariffPlan(e.ctx, admin, eur))
		_, err = e.svc.SetTenantTariffPlan(e.ctx, admin, customer.ID, &eur.ID)
		must(t, err)
		if _, _, _, err := e.svc.BillingPolicy(e.ctx, customer.ID); !errors.Is(err, provisioning.ErrBillingCurrency) || !errors.Is(err, provisioning.ErrConflict) {
			t.Fatalf("currency mismatch: %v", err)
		}
		if _, _, _, err := e.svc.BillingPolicy(e.ctx, 999999); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("unknown tenant: %v", err)
		}
	})
}

func TestSubscriptionChargeFor(t *testing.T) {
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	feb := time.Date(2028, 2, 1, 0, 0, 0, 0, time.UTC) // leap year: 29 days
	for _, tc := range []struct {
		name       string
		start, end string
		month      time.Time
		want       string // "" = nothing due
	}{
		{"whole month", "2026-01-15", "", nov, "30"},
		{"starts on the 16th of 30 days", "2026-11-16", "", nov, "15"},
		{"starts on the last day", "2026-11-30", "", nov, "1"},
		{"ends on the 10th", "2026-01-01", "2026-11-10", nov, "10"},
		{"one day", "2026-11-05", "2026-11-05", nov, "1"},
		{"starts next month", "2026-12-01", "", nov, ""},
		{"ended last month", "2026-01-01", "2026-10-31", nov, ""},
		{"leap February, 10 days", "2028-02-20", "", feb, "10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := provisioning.Subscription{Amount: money.MustParse("30"), Start: tc.start, End: tc.end}
			if tc.month == feb {
				sub.Amount = money.MustParse("29")
			}
			got, ok, err := sub.ChargeFor(tc.month)
			must(t, err)
			if tc.want == "" {
				if ok {
					t.Fatalf("charged %s, want nothing", got)
				}
				return
			}
			if !ok || got != money.MustParse(tc.want) {
				t.Fatalf("charge = %s %v, want %s", got, ok, tc.want)
			}
		})
	}
	// A third of a month is rounded half up to the nano-unit.
	sub := provisioning.Subscription{Amount: money.MustParse("10"), Start: "2026-11-21"}
	if got, _, _ := sub.ChargeFor(nov); got != money.MustParse("3.333333333") {
		t.Fatalf("10 × 10/30 = %s", got)
	}
}

// failingLedger fails every post after the first n, as a daemon killed
// in the middle of a run.
type failingLedger struct {
	provisioning.SubscriptionLedger
	n atomic.Int64
}

func (f *failingLedger) PostSubscription(ctx context.Context, tenantID int64, c money.Currency, a money.Amount, ref string) (bool, error) {
	if f.n.Add(-1) < 0 {
		return false, errors.New("killed")
	}
	return f.SubscriptionLedger.PostSubscription(ctx, tenantID, c, a, ref)
}

func TestChargeSubscriptionsOnce(t *testing.T) {
	eachBillingEngine(t, func(t *testing.T, e *env, cdrs *cdrstore.Store) {
		reseller := e.tenant(t, "reseller", nil)
		customer := e.tenant(t, "customer", reseller)
		d := e.did(t, "+15550001000", customer, nil)
		resellerAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: reseller.ID, Path: reseller.Path}
		customerAdmin := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: customer.ID, Path: customer.Path}

		_, err := e.svc.SetTenantBilling(e.ctx, admin, customer.ID, &provisioning.BillingSettings{Mode: "postpaid", Currency: "USD"})
		must(t, err)
		if err := e.svc.CreateSubscription(e.ctx, customerAdmin, &provisioning.Subscription{TenantID: customer.ID, Name: "x", Amount: money.Unit, Currency: "USD", Start: "2026-01-01"}); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("customer subscribing itself: %v", err)
		}
		for _, bad := range []struct {
			field string
			sub   provisioning.Subscription
		}{
			{"amount", provisioning.Subscription{Name: "x", Currency: "USD", Start: "2026-01-01"}},
			{"start", provisioning.Subscription{Name: "x", Amount: money.Unit, Currency: "USD", Start: "1 Jan"}},
			{"end", provisioning.Subscription{Name: "x", Amount: money.Unit, Currency: "USD", Start: "2026-02-01", End: "2026-01-31"}},
			{"currency", provisioning.Subscription{Name: "x", Amount: money.Unit, Currency: "$", Start: "2026-01-01"}},
			{"currency", provisioning.Subscription{Name: "x", Amount: money.Unit, Currency: "EUR", Start: "2026-01-01"}}, // not the billing currency
		} {
			bad.sub.TenantID = customer.ID
			var fe *provisioning.FieldError
			if err := e.svc.CreateSubscription(e.ctx, resellerAdmin, &bad.sub); !errors.As(err, &fe) || fe.Field != bad.field {
				t.Fatalf("bad %s: %v", bad.field, err)
			}
		}
		// A PBX service from 16 September, a DID from 10 October to 20 November.
		pbx := &provisioning.Subscription{TenantID: customer.ID, Name: "PBX", Amount: money.MustParse("30"), Currency: "USD", Start: "2026-09-16"}
		must(t, e.svc.CreateSubscription(e.ctx, resellerAdmin, pbx))
		did := &provisioning.Subscription{TenantID: customer.ID, Name: "DID rent", DIDID: &d.ID, Amount: money.MustParse("3.1"), Start: "2026-10-10", End: "2026-11-20"}
		must(t, e.svc.CreateSubscription(e.ctx, resellerAdmin, did))
		if did.Currency != "USD" {
			t.Fatalf("currency not the billing currency: %q", did.Currency)
		}
		subs, err := e.svc.Subscriptions(e.ctx, customerAdmin, provisioning.SubscriptionFilter{})
		must(t, err)
		if len(subs) != 2 {
			t.Fatalf("customer sees %d subscriptions", len(subs))
		}

		now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
		// September 15/30 × 30, October and November 30 each; DID October
		// 22/31 × 3.1, November 20/30 × 3.1.
		want := money.MustParse("-15") - money.MustParse("30")*2 - money.MustParse("2.2") - money.MustParse("2.066666667")
		// A run killed after two charges, then restarted: each month once.
		killed := &failingLedger{SubscriptionLedger: cdrs}
		killed.n.Store(2)
		if n, err := e.svc.ChargeSubscriptions(e.ctx, killed, now); err == nil || n != 2 {
			t.Fatalf("killed run = %d, %v", n, err)
		}
		n, err := e.svc.ChargeSubscriptions(e.ctx, cdrs, now)
		must(t, err)
		if n != 3 {
			t.Fatalf("restarted run booked %d, want the 3 left", n)
		}
		for range 2 { // the next days' runs
			if n, err := e.svc.ChargeSubscriptions(e.ctx, cdrs, now.Add(24*time.Hour)); err != nil || n != 0 {
				t.Fatalf("again: %d, %v", n, err)
			}
		}
		sum, entries, err := cdrs.LedgerSum(e.ctx, customer.ID, "USD")
		must(t, err)
		if sum != want || entries != 5 {
			t.Fatalf("ledger = %s in %d entries, want %s in 5", sum, entries, want)
		}
		bal, err := cdrs.Balances(e.ctx, customer.ID)
		must(t, err)
		if len(bal) != 1 || bal[0].Balance != want {
			t.Fatalf("balances = %+v", bal)
		}
		// December is charged on its first day, once.
		n, err = e.svc.ChargeSubscriptions(e.ctx, cdrs, time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC))
		must(t, err)
		if n != 1 {
			t.Fatalf("December: %d charges", n)
		}
		entriesOf, err := cdrs.Ledger(e.ctx, cdrstore.LedgerFilter{TenantID: customer.ID, Kind: cdrstore.KindSubscription})
		must(t, err)
		if last := entriesOf[len(entriesOf)-1]; last.Reference != fmt.Sprintf("subscription:%d:2026-12", pbx.ID) || last.Amount != money.MustParse("-30") {
			t.Fatalf("December's entry = %+v", last)
		}
	})
}

func TestCountLowBalances(t *testing.T) {
	eachBillingEngine(t, func(t *testing.T, e *env, cdrs *cdrstore.Store) {
		root := e.tenant(t, "root", nil)
		set := func(name string, b provisioning.BillingSettings, balance string) {
			tn := e.tenant(t, name, root)
			b.Currency = "EUR"
			_, err := e.svc.SetTenantBilling(e.ctx, admin, tn.ID, &b)
			must(t, err)
			if a := money.MustParse(balance); a != 0 {
				_, err := cdrs.Post(e.ctx, cdrstore.Entry{TenantID: tn.ID, Currency: "EUR", Kind: cdrstore.KindCredit, Amount: a, Reference: name})
				must(t, err)
			}
		}
		ten := money.MustParse("10")
		set("prepaid empty", provisioning.BillingSettings{Mode: "prepaid"}, "0")
		set("prepaid owing", provisioning.BillingSettings{Mode: "prepaid"}, "-0.01")
		set("prepaid with money", provisioning.BillingSettings{Mode: "prepaid"}, "5")
		set("postpaid at its limit", provisioning.BillingSettings{Mode: "postpaid", CreditLimit: &ten}, "-10")
		set("postpaid within", provisioning.BillingSettings{Mode: "postpaid", CreditLimit: &ten}, "-9.99")
		set("postpaid unlimited", provisioning.BillingSettings{Mode: "postpaid"}, "-1000")
		balance := func(ctx context.Context, id int64, c money.Currency) (money.Amount, error) {
			sum, _, err := cdrs.LedgerSum(ctx, id, c)
			return sum, err
		}
		got, err := e.svc.CountLowBalances(e.ctx, 1, balance)
		must(t, err)
		if got["prepaid"] != 2 || got["postpaid"] != 1 {
			t.Fatalf("at or below 0: %v", got)
		}
		got, err = e.svc.CountLowBalances(e.ctx, money.MustParse("6"), balance)
		must(t, err)
		if got["prepaid"] != 3 || got["postpaid"] != 2 {
			t.Fatalf("below 6: %v", got)
		}
	})
}

// TestBillingPolicyAcrossDaemons: a settings change made through one
// daemon is answered by the other's BillingPolicy once the notification
// arrives, although both cache for an hour.
func TestBillingPolicyAcrossDaemons(t *testing.T) {
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
	for start := time.Now(); !a.Listening() || !b.Listening(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("not listening within 10 s")
		}
	}
	tn := &provisioning.Tenant{Name: "customer"}
	must(t, a.CreateTenant(ctx, admin, tn))
	if prepaid, limit, _, err := b.BillingPolicy(ctx, tn.ID); err != nil || prepaid || limit != nil {
		t.Fatalf("B before: %v %v %v", prepaid, limit, err)
	}
	_, err := a.SetTenantBilling(ctx, admin, tn.ID, &provisioning.BillingSettings{Mode: "prepaid", Currency: "EUR"})
	must(t, err)
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		prepaid, limit, cur, err := b.BillingPolicy(ctx, tn.ID)
		must(t, err)
		if prepaid && limit != nil && *limit == 0 && cur == "EUR" {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("B never saw the change A made")
		}
	}
}
