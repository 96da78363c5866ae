package authz

import (
	"context"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
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

// SpendLister is the CDR store's Spent.
type SpendLister interface {
	Spent(ctx context.Context, tenantID int64, currency money.Currency, since time.Time, accounts []cdrstore.AccountRef) (money.Amount, error)
}

// StoreSpending adapts the CDR store's priced CDRs to a SpendSource: what
// a tenant (or a user: the legs of its accounts) spent since a time, in
// the currency of the tenant's tariff (nothing without one). A leg counts
// once its CDR is stored; the calls in progress are the Authorizer's own
// reservations, and ReleaseOnStore hands one to the other in the same
// step, so a call is never counted twice nor missed.
func StoreSpending(s SpendLister, tariffs TariffSource, accounts AccountLister) SpendSource {
	return storeSpending{s, tariffs, accounts}
}

type storeSpending struct {
	s        SpendLister
	tariffs  TariffSource
	accounts AccountLister
}

func (p storeSpending) Spent(ctx context.Context, tenantID, userID int64, since time.Time) (money.Amount, error) {
	tf, err := p.tariffs.TenantTariff(ctx, tenantID)
	if err != nil || tf == nil {
		return 0, err
	}
	var refs []cdrstore.AccountRef
	if userID != 0 {
		refs = []cdrstore.AccountRef{}
		for f := (provisioning.AccountFilter{TenantID: tenantID, UserID: userID, Page: provisioning.Page{Limit: provisioning.MaxLimit}}); ; {
			as, err := p.accounts.Accounts(ctx, provisioning.AdminScope(), f)
			if err != nil {
				return 0, err
			}
			for _, a := range as {
				refs = append(refs, cdrstore.AccountRef{Domain: a.Domain, Username: a.Username})
			}
			if len(as) < provisioning.MaxLimit {
				break
			}
			f.After = as[len(as)-1].ID
		}
	}
	return p.s.Spent(ctx, tenantID, tf.Currency(), since, refs)
}
