package authz

import (
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// Unanswered is Release's seconds for a call whose billed length is not
// known (the switch reported a hangup without it): what it reserved is
// kept as its cost until the CDR is booked.
const Unanswered = -1

// Release ends a call's reservation: the switch reported its hangup, or
// its CDR arrived. billsec is its answered seconds (Unanswered when not
// known): its cost at that length stays deducted from the balance until
// a ledger entry later than the release shows it booked (or the settle
// window passes). Releasing a call twice, or one never authorized, is
// ErrUnknownCall: harmless, the hangup and the CDR both release.
func (a *Authorizer) Release(switchName, callID string, billsec int) error {
	now := a.cfg.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.calls[switchName+"/"+callID]
	if !ok {
		return fmt.Errorf("%w: %s/%s", ErrUnknownCall, switchName, callID)
	}
	cost := l.decision.Reserved
	if billsec >= 0 && l.tariff != nil {
		if ch, err := l.tariff.Rate(l.call.Destination, l.start, min(billsec, l.decision.MaxSeconds)); err == nil {
			cost = ch.Cost
		}
	}
	a.drop(l, cost, now)
	return nil
}

// ReleaseBooked ends the reservation of a call whose CDR is stored and
// its cost booked in the balance (ReleaseOnStore): nothing stays
// deducted. The legs authorized as its legs (Call.Of) still live are
// released with it, at no cost: a leg that was dialled released itself
// with its own CDR (or is still up only until its own CDR, stored with
// the caller's). ErrUnknownCall as Release, when callID is neither a
// call nor a call with legs.
func (a *Authorizer) ReleaseBooked(switchName, callID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := switchName + "/" + callID
	l, ok := a.calls[key]
	if ok {
		a.drop(l, 0, a.cfg.Now())
	}
	if n := a.dropLegs(key); !ok && n == 0 {
		return fmt.Errorf("%w: %s/%s", ErrUnknownCall, switchName, callID)
	}
	return nil
}

// drop removes a live call, keeping cost as settling; a.mu is held.
func (a *Authorizer) drop(l *live, cost money.Amount, now time.Time) {
	k := l.call.key()
	delete(a.calls, k)
	a.removeLeg(&l.call)
	for _, s := range a.scopesOf(&l.call) {
		if s == nil {
			continue
		}
		s.live--
		s.reserved = sub(s.reserved, l.decision.Reserved)
		if cost > 0 {
			s.settle(now, cost)
		}
	}
	a.journalRelease(k, l, cost, now)
}

// expire drops the reservations of calls that outlived their authorized
// duration and grace without being released: the switch never reported
// them (crashed, lost the hangup). At most once a second; a.mu is held.
func (a *Authorizer) expire(now time.Time) {
	if now.Sub(a.swept) < time.Second {
		return
	}
	a.swept = now
	for _, l := range a.calls {
		if now.After(l.expires) {
			a.drop(l, l.decision.Reserved, now)
		}
	}
}

// Live returns how many calls hold a reservation for the tenant (user 0)
// or user.
func (a *Authorizer) Live(tenantID, userID int64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.scope[scopeKey{tenantID, userID}]; s != nil {
		return s.live
	}
	return 0
}

// Expire drops every overdue reservation now (a periodic job calls it so
// that an idle tenant's stale calls do not wait for the next Authorize).
func (a *Authorizer) Expire() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.swept = time.Time{}
	a.expire(a.cfg.Now())
}
