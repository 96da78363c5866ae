package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// TestBillingJobs runs the daemon's billing component twice over one
// database, as a daemon and its restart: the subscription is charged
// once, and the low-balance gauge counts the prepaid tenant its charge
// leaves with nothing (5 paid, 9.99 charged).
func TestBillingJobs(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := migrateAll(ctx, db); err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		admin := provisioning.AdminScope()
		setup := provisioning.NewService(sqlstore.New(db))
		tn := &provisioning.Tenant{Name: "prepaid"}
		if err := setup.CreateTenant(ctx, admin, tn); err != nil {
			t.Fatal(err)
		}
		if _, err := setup.SetTenantBilling(ctx, admin, tn.ID, &provisioning.BillingSettings{Mode: "prepaid", Currency: "EUR"}); err != nil {
			t.Fatal(err)
		}
		start := provisioning.MonthStart(time.Now()).Format(time.DateOnly)
		if err := setup.CreateSubscription(ctx, admin, &provisioning.Subscription{TenantID: tn.ID, Name: "PBX", Amount: money.MustParse("9.99"), Start: start}); err != nil {
			t.Fatal(err)
		}
		store := cdrstore.NewStore(db)
		if _, err := store.Post(ctx, cdrstore.Entry{TenantID: tn.ID, Currency: "EUR", Kind: cdrstore.KindPayment, Amount: money.MustParse("5"), Reference: "cash"}); err != nil {
			t.Fatal(err)
		}
		for run := range 2 {
			svc := provisioning.NewService(sqlstore.New(db)) // a new daemon
			low, err := newLowBalances(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			jctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- billingJobs(jctx, svc, store, low, log) }()
			deadline := time.Now().Add(10 * time.Second)
			for gaugeValue(t, low, "prepaid") != 1 {
				if time.Now().After(deadline) {
					t.Fatalf("run %d: the gauge never counted the tenant", run)
				}
				time.Sleep(10 * time.Millisecond)
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			sum, n, err := store.LedgerSum(ctx, tn.ID, "EUR")
			if err != nil {
				t.Fatal(err)
			}
			if sum != money.MustParse("-4.99") || n != 2 {
				t.Fatalf("run %d: ledger %s in %d entries", run, sum, n)
			}
		}
	})
}

func gaugeValue(t *testing.T, g *prometheus.GaugeVec, mode string) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.WithLabelValues(mode).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
