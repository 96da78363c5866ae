package authz

import (
	"context"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
)

// The adapters the daemon wires the Authorizer with.

// BalanceLister is the CDR store's Balances.
type BalanceLister interface {
	Balances(ctx context.Context, tenantID int64) ([]cdrstore.Balance, error)
}

// StoreBalances adapts the CDR store's balances (cdrstore.Store) to a
// BalanceSource: the balance in the currency asked for, 0 and a zero time
// when the tenant has none in it.
func StoreBalances(b BalanceLister) BalanceSource { return storeBalances{b} }

type storeBalances struct{ b BalanceLister }

func (s storeBalances) Balance(ctx context.Context, tenantID int64, cur money.Currency) (money.Amount, time.Time, error) {
	bs, err := s.b.Balances(ctx, tenantID)
	if err != nil {
		return 0, time.Time{}, err
	}
	for _, b := range bs {
		if b.Currency == cur {
			return b.Balance, b.UpdatedAt, nil
		}
	}
	return 0, time.Time{}, nil
}

// ReleaseOnStore wraps the CDR pipeline's Writer (the CDR store): every
// leg it stores anew releases the reservation of the call whose Switch
// and CallID it carries (the A-leg's uuid on FreeSWITCH, the caller's
// UNIQUEID on Asterisk: what the dialplans send as the call id). The
// store books a priced leg's cost in the balance in the same transaction,
// so the release keeps nothing deducted: releasing at that point, not
// when the switch reports the hang-up nor when the CDR is queued, is what
// keeps a call's cost from being counted neither in the balance nor in
// the reservations. A leg that was not authorized (B-legs, internal
// calls) releases nothing. The node names in the CDRs and in the
// dialplans (XMLCurlConfig.Node, AuthzOptions.Switch) must be the same.
func ReleaseOnStore(next cdr.Writer, a *Authorizer) cdr.Writer { return releasingWriter{next, a} }

type releasingWriter struct {
	cdr.Writer
	a *Authorizer
}

func (w releasingWriter) InsertNew(ctx context.Context, recs []cdr.Record) ([]cdr.Record, error) {
	stored, err := w.Writer.InsertNew(ctx, recs)
	for i := range stored {
		_ = w.a.ReleaseBooked(stored[i].Switch, stored[i].CallID) // ErrUnknownCall: a leg never authorized
	}
	return stored, err
}

// BillingPolicer is provisioning.Service's BillingPolicy (the billing
// settings: prepaid or postpaid, credit limit, the account's currency).
type BillingPolicer interface {
	BillingPolicy(ctx context.Context, tenantID int64) (prepaid bool, creditLimit *money.Amount, currency money.Currency, err error)
}

// BillingCredit adapts the billing settings to a CreditPolicySource. The
// currency is not used: the balance is read in the currency of the
// tariff that prices the call.
func BillingCredit(b BillingPolicer) CreditPolicySource { return billingCredit{b} }

type billingCredit struct{ b BillingPolicer }

func (c billingCredit) CreditPolicy(ctx context.Context, tenantID int64) (bool, *money.Amount, error) {
	prepaid, credit, _, err := c.b.BillingPolicy(ctx, tenantID)
	return prepaid, credit, err
}
