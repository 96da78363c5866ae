package authz

import (
	"context"
	"errors"
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

// ReleaseOnCDR wraps the sink the switch adapters hand their CDRs to:
// every leg put releases the reservation of the call whose Switch and
// CallID it carries (the A-leg's uuid on FreeSWITCH, the caller's
// UNIQUEID on Asterisk: what the dialplans send as the call id), with its
// billsec, after next took it. A leg that was not authorized (most are
// not: B-legs, internal calls) releases nothing. The names of the nodes
// in the CDRs and in the dialplans (XMLCurlConfig.Node,
// AuthzOptions.Switch) must be the same.
func ReleaseOnCDR(next cdr.Sink, a *Authorizer) cdr.Sink { return releasingSink{next, a} }

type releasingSink struct {
	next cdr.Sink
	a    *Authorizer
}

func (s releasingSink) Put(ctx context.Context, recs ...cdr.Record) error {
	if err := s.next.Put(ctx, recs...); err != nil {
		return err
	}
	for i := range recs {
		if err := s.a.Release(recs[i].Switch, recs[i].CallID, recs[i].Billsec); err != nil && !errors.Is(err, ErrUnknownCall) {
			return err
		}
	}
	return nil
}
