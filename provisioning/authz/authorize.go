package authz

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
)

// scopeKey is a tenant (user 0) or one of its users.
type scopeKey struct{ tenant, user int64 }

// scopeState is what a tenant's or a user's live calls hold.
type scopeState struct {
	live     int
	reserved money.Amount
	starts   queue[time.Time] // authorized call starts within the last minute, oldest first
	settling queue[settled]   // released calls whose cost may not be booked yet, oldest first
	// settledBase is the running total of the settled costs already
	// pruned: a settled entry's cum less it is the sum up to that entry.
	settledBase money.Amount
}

// settled is a released call's cost, deducted until its CDR is booked;
// cum is the running total of every settled cost up to this one, so that
// the sum of any suffix is one subtraction (unbooked is O(log n)).
type settled struct {
	at  time.Time
	cum money.Amount
}

// queue is a FIFO slice with a head index: popping is O(1) and the slice
// is compacted when half of it is dead, so that a limit of 10,000 calls a
// minute costs no copying per call.
type queue[T any] struct {
	items []T
	head  int
}

func (q *queue[T]) len() int    { return len(q.items) - q.head }
func (q *queue[T]) at(i int) *T { return &q.items[q.head+i] }
func (q *queue[T]) push(v T)    { q.items = append(q.items, v) }
func (q *queue[T]) pop() {
	q.head++
	if q.head > 32 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
}

// live is one authorized call that has not been released.
type live struct {
	call     Call
	tariff   *rating.Tariff
	start    time.Time
	expires  time.Time
	decision Decision
}

// inputs is what Authorize reads from its sources before taking the lock.
type inputs struct {
	tenantLim, userLim Limits
	tariff             *rating.Tariff
	budget             money.Amount // balance (+credit) in the tariff's currency; money.Max: unlimited
	balanceAt          time.Time    // when the balance last changed
	spent              [2][3]money.Amount
}

var periods = [3]Reason{ReasonCostPerHour, ReasonCostPerDay, ReasonCostPerMonth}

func (l *Limits) cost(p int) money.Amount {
	return [3]money.Amount{l.CostPerHour, l.CostPerDay, l.CostPerMonth}[p]
}

// periodStart is where the hour, day or month (UTC) that holds t began.
func periodStart(p int, t time.Time) time.Time {
	t = t.UTC()
	switch p {
	case 0:
		return t.Truncate(time.Hour)
	case 1:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	default:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
}

// Authorize decides whether c may be connected and, if so, reserves its
// concurrent-call slots and what it may cost until Release or expiry.
// A refusal is a Decision with a Reason and a nil error; an error means a
// source failed (Decision.Reason is ReasonError) and the caller applies
// its fail policy. Asking again for a live call id returns its decision
// unchanged (a switch that retries a lookup does not take two slots).
func (a *Authorizer) Authorize(ctx context.Context, c Call) (Decision, error) {
	if err := c.validate(); err != nil {
		return Decision{Reason: ReasonError}, err
	}
	now := a.cfg.Now()
	a.mu.Lock()
	if l, ok := a.calls[c.key()]; ok {
		d := l.decision
		a.mu.Unlock()
		return d, nil
	}
	a.mu.Unlock()
	in, refusal, err := a.read(ctx, &c, now)
	if err != nil {
		a.count(ReasonError)
		return Decision{Reason: ReasonError}, err
	}
	if refusal.Reason != "" {
		a.count(refusal.Reason)
		return refusal, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if l, ok := a.calls[c.key()]; ok { // the same call raced itself
		return l.decision, nil
	}
	a.expire(now)
	d := a.decide(&c, &in, now)
	if !d.Allowed {
		a.refused[d.Reason]++
		return d, nil
	}
	a.reserve(&c, &in, d, now)
	return d, nil
}

func (a *Authorizer) count(r Reason) {
	a.mu.Lock()
	a.refused[r]++
	a.mu.Unlock()
}

// read gathers the call's limits, tariff, budget and spending: the I/O,
// done outside the lock. A refusal it can decide alone (not whitelisted,
// no rate, no plan) comes back as a Decision.
func (a *Authorizer) read(ctx context.Context, c *Call, now time.Time) (inputs, Decision, error) {
	in := inputs{budget: money.Max}
	var err error
	if a.limits != nil {
		if in.tenantLim, in.userLim, err = a.limits.Limits(ctx, c.TenantID, c.UserID); err != nil {
			return in, Decision{}, fmt.Errorf("authz: limits of tenant %d: %w", c.TenantID, err)
		}
	}
	if c.Direction == Outbound && a.cfg.Whitelists != nil {
		ok, detail, err := a.cfg.Whitelists.Whitelisted(ctx, c.TenantID, c.UserID, c.Destination)
		if err != nil {
			return in, Decision{}, fmt.Errorf("authz: whitelists of tenant %d: %w", c.TenantID, err)
		}
		if !ok {
			return in, refuse(ReasonNotWhitelisted, detail), nil
		}
	}
	if c.Direction == Outbound {
		if in.tariff, err = a.tariffs.TenantTariff(ctx, c.TenantID); err != nil {
			return in, Decision{}, fmt.Errorf("authz: tariff of tenant %d: %w", c.TenantID, err)
		}
		if in.tariff == nil && a.cfg.RequirePlan {
			return in, refuse(ReasonNoPlan, "tenant has no tariff plan"), nil
		}
	}
	if in.tariff != nil {
		if _, err := in.tariff.Rate(c.Destination, now, 0); err != nil {
			if errors.Is(err, rating.ErrNoRate) || errors.Is(err, rating.ErrInvalidDestination) {
				return in, refuse(ReasonNoRate, err.Error()), nil
			}
			return in, Decision{}, fmt.Errorf("authz: rate: %w", err)
		}
		if err := a.readBudget(ctx, c, &in); err != nil {
			return in, Decision{}, err
		}
	}
	if a.spend != nil {
		for i, l := range []*Limits{&in.tenantLim, &in.userLim} {
			user := int64(0)
			if i == 1 {
				if c.UserID == 0 {
					break
				}
				user = c.UserID
			}
			for p := range periods {
				if l.cost(p) == 0 {
					continue
				}
				if in.spent[i][p], err = a.spend.Spent(ctx, c.TenantID, user, periodStart(p, now)); err != nil {
					return in, Decision{}, fmt.Errorf("authz: spending of tenant %d: %w", c.TenantID, err)
				}
			}
		}
	}
	return in, Decision{}, nil
}

// readBudget sets the money the tenant may spend: its balance when
// prepaid, balance + credit limit when postpaid (unlimited without one).
func (a *Authorizer) readBudget(ctx context.Context, c *Call, in *inputs) error {
	prepaid, credit := true, (*money.Amount)(nil)
	if a.credit != nil {
		var err error
		if prepaid, credit, err = a.credit.CreditPolicy(ctx, c.TenantID); err != nil {
			return fmt.Errorf("authz: credit policy of tenant %d: %w", c.TenantID, err)
		}
		if !prepaid && credit == nil {
			return nil // postpaid without a credit limit: money never refuses
		}
	}
	bal, at, err := a.bal.Balance(ctx, c.TenantID, in.tariff.Currency())
	if err != nil {
		return fmt.Errorf("authz: balance of tenant %d: %w", c.TenantID, err)
	}
	in.balanceAt = at
	in.budget = bal
	if !prepaid {
		if in.budget, err = bal.Add(*credit); err != nil {
			in.budget = money.Max
		}
	}
	return nil
}

func refuse(r Reason, detail string) Decision { return Decision{Reason: r, Detail: detail} }

// decide applies the limits against the live state; a.mu is held.
func (a *Authorizer) decide(c *Call, in *inputs, now time.Time) Decision {
	scopes := a.scopesOf(c)
	lims := [2]*Limits{&in.tenantLim, &in.userLim}
	names := [2]string{"tenant", "user"}
	for i, s := range scopes {
		if s == nil {
			continue
		}
		s.prune(now, a.cfg.SettleWindow)
		if n := lims[i].Concurrent; n > 0 && s.live >= n {
			return refuse(ReasonConcurrent, fmt.Sprintf("%s has %d of %d concurrent calls", names[i], s.live, n))
		}
		if n := lims[i].CallsPerMinute; n > 0 && s.starts.len() >= n {
			return refuse(ReasonCallsPerMinute, fmt.Sprintf("%s started %d of %d calls in the last minute", names[i], s.starts.len(), n))
		}
	}
	maxSecs := a.cfg.MaxCallSeconds
	for _, l := range lims {
		if l.MaxCallSeconds > 0 {
			maxSecs = min(maxSecs, l.MaxCallSeconds)
		}
	}
	d := Decision{Allowed: true, MaxSeconds: maxSecs}
	if in.tariff == nil {
		return d
	}
	d.Currency = in.tariff.Currency()
	// The money this call may spend: the budget less what the live calls
	// hold, and under each cost limit what is left of it.
	avail, why := money.Max, ReasonInsufficientFunds
	if in.budget != money.Max {
		avail = sub(sub(in.budget, scopes[0].reserved), scopes[0].unbooked(in.balanceAt))
	}
	for i, s := range scopes {
		if s == nil {
			continue
		}
		for p, r := range periods {
			lim := lims[i].cost(p)
			if lim == 0 {
				continue
			}
			left := sub(sub(sub(lim, in.spent[i][p]), s.reserved), s.unbooked(time.Time{}))
			if left < avail {
				avail, why = left, r
			}
		}
	}
	secs, _, err := in.tariff.MaxDuration(c.Destination, now, max(avail, 0))
	if err != nil {
		return refuse(why, err.Error())
	}
	d.MaxSeconds = min(d.MaxSeconds, secs)
	ch, err := in.tariff.Rate(c.Destination, now, d.MaxSeconds)
	if err != nil {
		return refuse(ReasonError, err.Error())
	}
	d.Reserved = ch.Cost
	return d
}

// sub is a-b saturating at the Amount range.
func sub(a, b money.Amount) money.Amount {
	r, err := a.Sub(b)
	if err != nil {
		if b > 0 {
			return money.Min
		}
		return money.Max
	}
	return r
}

func add(a, b money.Amount) money.Amount { return sub(a, -b) }

// scopesOf returns the state of the call's tenant and user (nil without
// a user), creating them; a.mu is held.
func (a *Authorizer) scopesOf(c *Call) [2]*scopeState {
	var out [2]*scopeState
	for i, k := range []scopeKey{{c.TenantID, 0}, {c.TenantID, c.UserID}} {
		if i == 1 && c.UserID == 0 {
			break
		}
		s := a.scope[k]
		if s == nil {
			s = &scopeState{}
			a.scope[k] = s
		}
		out[i] = s
	}
	return out
}

// reserve records an allowed call; a.mu is held.
func (a *Authorizer) reserve(c *Call, in *inputs, d Decision, now time.Time) {
	for _, s := range a.scopesOf(c) {
		if s == nil {
			continue
		}
		s.live++
		s.reserved = add(s.reserved, d.Reserved)
		s.starts.push(now)
	}
	a.addLeg(c)
	l := &live{call: *c, tariff: in.tariff, start: now, decision: d,
		expires: now.Add(time.Duration(d.MaxSeconds)*time.Second + a.cfg.Grace)}
	k := c.key()
	a.calls[k] = l
	a.journalReserve(k, l)
}

// prune drops call starts older than a minute and settled costs older
// than the settle window.
func (s *scopeState) prune(now time.Time, window time.Duration) {
	for s.starts.len() > 0 && now.Sub(*s.starts.at(0)) >= time.Minute {
		s.starts.pop()
	}
	for s.settling.len() > 0 && now.Sub(s.settling.at(0).at) >= window {
		s.settledBase = s.settling.at(0).cum
		s.settling.pop()
	}
}

// settle records a released call's cost.
func (s *scopeState) settle(at time.Time, cost money.Amount) {
	last := s.settledBase
	if n := s.settling.len(); n > 0 {
		last = s.settling.at(n - 1).cum
	}
	s.settling.push(settled{at: at, cum: add(last, cost)})
}

// unbooked sums the released calls' costs released after booked (the
// balance's last change): their CDRs cannot be in that balance yet.
func (s *scopeState) unbooked(booked time.Time) money.Amount {
	n := s.settling.len()
	if n == 0 {
		return 0
	}
	// the first entry released after booked
	i := sort.Search(n, func(i int) bool { return s.settling.at(i).at.After(booked) })
	if i == n {
		return 0
	}
	before := s.settledBase
	if i > 0 {
		before = s.settling.at(i - 1).cum
	}
	return sub(s.settling.at(n-1).cum, before)
}
