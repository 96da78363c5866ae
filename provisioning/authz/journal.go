package authz

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/backoff"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
)

// The reservation journal: the live calls' reservations written behind to
// a store (the CDR database's authz_reservations), so that a daemon
// restarted while calls are up (a deploy, a crash, SIGKILL) still counts
// them: those calls keep running on the switches, each with the limit it
// was given, and a prepaid tenant must not be authorized again for the
// money they hold, nor the concurrent limit let new calls in.
//
// No database write is on an authorization's path: Authorize records the
// change in memory, under the lock it holds anyway (a map entry), and
// RunJournal writes the changes of the last JournalEvery (50 ms) in one
// transaction. A change superseded before it is written costs nothing: a
// call reserved and released within one period is never written at all.
// What a SIGKILL loses is the changes not yet written, at most one period
// of them (plus one write's time): calls authorized in the last ~50 ms
// before the kill are forgotten (as every call was before the journal),
// and calls released in that time come back as live until their CDR is
// stored or they expire. While the database is down, writes are retried
// (internal/backoff, 50 ms to 5 s), authorization goes on from memory,
// and the failures are logged and counted
// (switchboard_authz_journal_failures_total).

// ReservationStore is where the journal writes and what a restart reads;
// cdrstore.Store implements it (reservations.go).
type ReservationStore interface {
	// SaveReservations writes put (whole rows, replacing those of their
	// keys) and deletes drop, in one transaction.
	SaveReservations(ctx context.Context, put []cdrstore.Reservation, drop []cdrstore.ReservationKey) error
	// Reservations returns the rows of the switches named (all with
	// none) whose CDR is not stored.
	Reservations(ctx context.Context, switches []string) ([]cdrstore.Reservation, error)
	// PruneReservations deletes the rows whose CDR is stored and those
	// that ended (released, else expired) before a time.
	PruneReservations(ctx context.Context, before time.Time) (int64, error)
}

// pending is a change of one call's row not yet written: the row of l
// (live, or released at released with cost), or its deletion. inDB is
// set when the row may be in the store already (a write before this
// change), so that a deletion must reach it; a call reserved and released
// before any write was never written and needs nothing. The row itself is
// built when written, off the authorization path (a live's fields do not
// change once it is reserved).
type pending struct {
	l        *live
	released time.Time
	cost     money.Amount
	drop     bool
	inDB     bool
}

// row is p's row.
func (p *pending) row() cdrstore.Reservation {
	l := p.l
	return cdrstore.Reservation{Switch: l.call.Switch, CallID: l.call.CallID, TenantID: l.call.TenantID, UserID: l.call.UserID,
		Direction: l.call.Direction, Destination: l.call.Destination, Reserved: l.decision.Reserved, Currency: l.decision.Currency,
		MaxSeconds: l.decision.MaxSeconds, Start: l.start, Expires: l.expires, Released: p.released, Settled: p.cost, Of: l.call.Of}
}

// journalReserve records the new reservation of l (k: its key); a.mu
// is held.
func (a *Authorizer) journalReserve(k string, l *live) {
	if a.cfg.Journal == nil {
		return
	}
	a.pending[k] = pending{l: l}
}

// journalRelease records the end of l (k: its key): its row kept with
// its cost when cost > 0 (deducted until booked), else deleted; a.mu is
// held.
func (a *Authorizer) journalRelease(k string, l *live, cost money.Amount, now time.Time) {
	if a.cfg.Journal == nil {
		return
	}
	p, ok := a.pending[k]
	if !ok {
		p.inDB = true // written by an earlier flush, or by one under way
	}
	p.l = l
	switch {
	case cost > 0:
		p.released, p.cost, p.drop = now, cost, false
		a.pending[k] = p
	case p.inDB:
		p.drop = true
		a.pending[k] = p
	default: // never written
		delete(a.pending, k)
	}
}

// RunJournal writes the journal's changes every Config.JournalEvery,
// prunes the store's dead rows every minute and expires overdue
// reservations every second, until ctx ends; then it writes what is left
// (within 5 s) and returns nil. Without Config.Journal it only expires.
func (a *Authorizer) RunJournal(ctx context.Context) error {
	tick := time.NewTicker(a.cfg.JournalEvery)
	defer tick.Stop()
	bo := backoff.New(a.cfg.JournalEvery, 5*time.Second)
	var lastExpire, lastPrune time.Time
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := a.Flush(fctx); err != nil {
				a.cfg.Log.Warn("authz journal: last write failed: reservations of the last moments will be missing after a restart", "err", err)
			}
			return nil
		case <-tick.C:
		}
		now := time.Now()
		if now.Sub(lastExpire) >= time.Second {
			lastExpire = now
			a.Expire()
		}
		if a.cfg.Journal == nil {
			continue
		}
		if err := a.Flush(ctx); err != nil {
			if ctx.Err() != nil {
				continue
			}
			a.cfg.Log.Warn("authz journal: write failed, retrying (authorization goes on from memory)", "err", err)
			bo.Wait(ctx)
			continue
		}
		bo.Reset()
		if now.Sub(lastPrune) >= time.Minute {
			lastPrune = now
			if _, err := a.cfg.Journal.PruneReservations(ctx, a.cfg.Now().Add(-a.cfg.SettleWindow)); err != nil && ctx.Err() == nil {
				a.cfg.Log.Warn("authz journal: prune failed", "err", err)
			}
		}
	}
}

// Flush writes the journal's pending changes now, in transactions of at
// most journalTxRows rows (one, normally). On failure they are kept (those a later change superseded excepted) for
// the next Flush, and the failure is counted.
func (a *Authorizer) Flush(ctx context.Context) error {
	if a.cfg.Journal == nil {
		return nil
	}
	a.mu.Lock()
	batch := a.pending
	if len(batch) == 0 {
		a.mu.Unlock()
		return nil
	}
	a.pending = make(map[string]pending, min(len(batch), journalTxRows))
	a.mu.Unlock()
	var put []cdrstore.Reservation
	var drop []cdrstore.ReservationKey
	for _, p := range batch {
		if p.drop {
			drop = append(drop, cdrstore.ReservationKey{Switch: p.l.call.Switch, CallID: p.l.call.CallID})
		} else {
			put = append(put, p.row())
		}
	}
	// At most journalTxRows rows a transaction: a backlog (the database
	// was down) does not hold SQLite's one writer, the CDR pipeline's
	// too, for long.
	var err error
	for len(put)+len(drop) > 0 && err == nil {
		np := min(len(put), journalTxRows)
		nd := min(len(drop), journalTxRows-np)
		err = a.cfg.Journal.SaveReservations(ctx, put[:np], drop[:nd])
		put, drop = put[np:], drop[nd:]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			a.journalFailures++ // not a daemon stopping mid-write
		}
		// Put back what no later change superseded (the transactions
		// that went through included: writing them again is harmless);
		// whether the failed one reached the store is unknown, so every
		// row may be there.
		for k, p := range batch {
			if _, newer := a.pending[k]; !newer {
				p.inDB = true
				a.pending[k] = p
			}
		}
		return fmt.Errorf("authz: journal: %w", err)
	}
	return nil
}

// journalTxRows is the most rows one journal transaction writes.
const journalTxRows = 2048

// Restore loads the journaled reservations of the switches named (all
// with none) into an Authorizer that has authorized nothing yet: the
// daemon calls it at start, before the switches connect and before the
// CDR pipeline runs (so that no CDR is stored between the read and the
// release it would make). It first prunes the store (rows whose CDR is
// stored: a release the crash lost; rows that ended before the settle
// window), then counts each live call in its tenant's and user's
// concurrent calls, money held back and (if started in the last minute)
// calls per minute, until its CDR is stored (ReleaseOnStore) or it
// expires; a call that ended but whose CDR is not booked keeps its cost
// deducted for the rest of the settle window, as before the restart. It
// returns how many live calls it restored.
func (a *Authorizer) Restore(ctx context.Context, switches []string) (int, error) {
	if a.cfg.Journal == nil {
		return 0, nil
	}
	now := a.cfg.Now()
	if _, err := a.cfg.Journal.PruneReservations(ctx, now.Add(-a.cfg.SettleWindow)); err != nil {
		return 0, fmt.Errorf("authz: restore: %w", err)
	}
	rows, err := a.cfg.Journal.Reservations(ctx, switches)
	if err != nil {
		return 0, fmt.Errorf("authz: restore: %w", err)
	}
	// The tariffs re-price a restored call released with its billsec
	// (Release); without one its reservation is its cost.
	tariffs := map[int64]*rating.Tariff{}
	for _, r := range rows {
		if _, ok := tariffs[r.TenantID]; ok || a.tariffs == nil || r.Direction != Outbound || !r.Released.IsZero() {
			continue
		}
		tf, err := a.tariffs.TenantTariff(ctx, r.TenantID)
		if err != nil {
			a.cfg.Log.Warn("authz restore: tariff", "tenant", r.TenantID, "err", err)
		}
		tariffs[r.TenantID] = tf
	}
	type ended struct {
		c    Call
		at   time.Time
		cost money.Amount
	}
	var done []ended
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range rows {
		c := Call{TenantID: r.TenantID, UserID: r.UserID, Destination: r.Destination, Direction: r.Direction, Switch: r.Switch, CallID: r.CallID, Of: r.Of}
		if _, ok := a.calls[c.key()]; ok {
			continue
		}
		switch {
		case !r.Released.IsZero():
			done = append(done, ended{c, r.Released, r.Settled})
			continue
		case !now.Before(r.Expires): // expired while the daemon was away
			done = append(done, ended{c, r.Expires, r.Reserved})
			continue
		}
		l := &live{call: c, tariff: tariffs[r.TenantID], start: r.Start, expires: r.Expires,
			decision: Decision{Allowed: true, MaxSeconds: r.MaxSeconds, Reserved: r.Reserved, Currency: r.Currency}}
		for _, s := range a.scopesOf(&c) {
			if s == nil {
				continue
			}
			s.live++
			s.reserved = add(s.reserved, r.Reserved)
			if now.Sub(r.Start) < time.Minute {
				s.starts.push(r.Start) // rows come by start
			}
		}
		a.addLeg(&c) // a leg authorized ahead of dialling: its call's CDR releases it
		a.calls[c.key()] = l
		n++
	}
	slices.SortFunc(done, func(x, y ended) int { return x.at.Compare(y.at) })
	for _, e := range done {
		if e.cost <= 0 || now.Sub(e.at) >= a.cfg.SettleWindow {
			continue
		}
		for _, s := range a.scopesOf(&e.c) {
			if s != nil {
				s.settle(e.at, e.cost)
			}
		}
	}
	return n, nil
}

// JournalFailures returns how many journal writes failed since start.
func (a *Authorizer) JournalFailures() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.journalFailures
}

// journalPending is how many changes wait to be written; a.mu is held.
func (a *Authorizer) journalPending() int { return len(a.pending) }
