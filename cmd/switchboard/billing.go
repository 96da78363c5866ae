package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// The daemon's billing jobs: subscriptions charged daily (each month
// once, whatever the restarts: provisioning.ChargeSubscriptions), and the
// low-balance gauge refreshed every minute.
const (
	subscriptionInterval = 24 * time.Hour
	lowBalanceInterval   = time.Minute
)

// billingJobs runs the billing jobs until ctx ends: the subscriptions
// at start and then daily (an hour after a failure), before the gauge,
// which so counts their charges.
func billingJobs(ctx context.Context, svc *provisioning.Service, store *cdrstore.Store, low *prometheus.GaugeVec, log *slog.Logger) error {
	var next time.Time
	for {
		if now := time.Now(); !now.Before(next) {
			n, err := svc.ChargeSubscriptions(ctx, store, now)
			next = now.Add(subscriptionInterval)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("subscription charges", "err", err, "booked", n)
				next = now.Add(time.Hour)
			case n > 0:
				log.Info("subscription charges booked", "charges", n)
			}
		}
		if err := refreshLowBalances(ctx, svc, store, low); err != nil && ctx.Err() == nil {
			log.Warn("low balances", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(lowBalanceInterval):
		}
	}
}

// newLowBalances registers switchboard_billing_low_balances.
func newLowBalances(reg prometheus.Registerer) (*prometheus.GaugeVec, error) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "switchboard", Subsystem: "billing", Name: "low_balances",
		Help: "Tenants with limited spending (prepaid, or postpaid with a credit limit) that have nothing left to spend (balance + credit limit ≤ 0), by mode."},
		[]string{"mode"})
	return g, reg.Register(g)
}

// refreshLowBalances sets the gauge from the store.
func refreshLowBalances(ctx context.Context, svc *provisioning.Service, store *cdrstore.Store, low *prometheus.GaugeVec) error {
	counts, err := svc.CountLowBalances(ctx, 1, func(ctx context.Context, tenantID int64, c money.Currency) (money.Amount, error) {
		bs, err := store.Balances(ctx, tenantID)
		if err != nil {
			return 0, err
		}
		for _, b := range bs {
			if b.Currency == c {
				return b.Balance, nil
			}
		}
		return 0, nil
	})
	if err != nil {
		return err
	}
	for mode, n := range counts {
		low.WithLabelValues(mode).Set(float64(n))
	}
	return nil
}
