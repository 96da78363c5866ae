package cdrstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// Re-rating: the CDRs of a period priced again with the tariffs of now,
// and each owner's balance adjusted by the difference.
//
// The invariant that makes it safe to interrupt and to run again: the
// ledger entries of a CDR always add up to minus its stored cost (its
// charge when it was stored, then one rerate entry per run that changed
// its price). A run reads the CDRs a page at a time (keyset, newest
// first, so a month of a million CDRs is never held in memory) and, for
// each page, in one transaction, updates the price of the CDRs whose
// price changed and books the difference, so a page is re-rated whole or
// not at all. A run interrupted (a crash, ^C, a tariff lookup failing) and
// started again finds the pages it did already priced as the tariffs say,
// so their difference is 0 and nothing is booked twice; it goes on with
// the rest. Each run has a row in rerate_runs (finished_at NULL while it
// runs or when it was interrupted), and its entries carry its id, unique
// per (run, CDR, currency).
//
// A CDR's row is updated only if its price is still the one the run read
// (a compare-and-set on the price columns), so two runs over the same
// period, or a run racing the pipeline, cannot book one difference twice.

// RerateOptions selects the CDRs to re-rate and the tariffs to use.
type RerateOptions struct {
	From, To time.Time // CDRs that ended in [From, To)
	TenantID int64     // only this owner's CDRs; 0: every CDR
	Tariffs  cdr.Tariffs
	// PageSize is how many CDRs a page (and a transaction) holds; default
	// 1,000 (cdr.MaxLimit).
	PageSize int
	// Progress, when set, is called after each page.
	Progress func(RerateProgress)
}

// RerateProgress is how far a run got.
type RerateProgress struct {
	Run      int64 // the run's id in rerate_runs
	Total    int64 // CDRs in the period when the run started
	Examined int64 // CDRs read and priced again
	Changed  int64 // CDRs whose price changed (and was updated)
	Skipped  int64 // CDRs whose price changed under the run (another run, a race): left alone
	// Adjusted is the sum of the rerate entries booked, per currency
	// (negative: the owners were charged more).
	Adjusted map[money.Currency]money.Amount
}

// ErrRerate is a run that could not start for its options.
var ErrRerate = errors.New("cdr: rerate")

// Rerate re-prices the CDRs opt selects with opt.Tariffs (cdr.Reprice's
// rules), updating each CDR whose price changed and booking the
// difference on its owner's balance (see above). A CDR that the tariffs
// no longer price (no rate now) is refunded and kept unpriced, with the
// reason. A tariff lookup that fails stops the run with the error, having
// re-rated the pages before it: run it again once the store answers.
func (s *Store) Rerate(ctx context.Context, opt RerateOptions) (RerateProgress, error) {
	switch {
	case opt.Tariffs == nil:
		return RerateProgress{}, fmt.Errorf("%w: no tariffs", ErrRerate)
	case opt.From.IsZero() || opt.To.IsZero() || !opt.To.After(opt.From):
		return RerateProgress{}, fmt.Errorf("%w: the period must have a start before its end", ErrRerate)
	case opt.TenantID < 0:
		return RerateProgress{}, fmt.Errorf("%w: tenant %d", ErrRerate, opt.TenantID)
	}
	if opt.PageSize <= 0 || opt.PageSize > cdr.MaxLimit {
		opt.PageSize = cdr.MaxLimit
	}
	f := cdr.Filter{From: opt.From, To: opt.To, Limit: opt.PageSize}
	var tenant any
	if opt.TenantID > 0 {
		f.Tenants, tenant = []int64{opt.TenantID}, opt.TenantID
	}
	pr := RerateProgress{Adjusted: map[money.Currency]money.Amount{}}
	var err error
	if pr.Total, err = s.countPeriod(ctx, f); err != nil {
		return pr, err
	}
	now := time.Now().UTC()
	if err := s.db.QueryRowContext(ctx, s.db.Rebind(`INSERT INTO rerate_runs (from_time, to_time, tenant_id, started_at) VALUES (?, ?, ?, ?) RETURNING id`),
		s.timeArg(opt.From, false), s.timeArg(opt.To, false), tenant, s.timeArg(now, false)).Scan(&pr.Run); err != nil {
		return pr, fmt.Errorf("cdr: rerate: start: %w", err)
	}
	for {
		old, next, err := s.Query(ctx, f)
		if err != nil {
			return pr, fmt.Errorf("cdr: rerate: %w", err)
		}
		fresh := make([]cdr.Record, len(old))
		copy(fresh, old)
		if err := cdr.Reprice(ctx, opt.Tariffs, fresh); err != nil {
			return pr, fmt.Errorf("cdr: rerate: tariffs: %w (run it again to go on)", err)
		}
		if err := s.reratePage(ctx, pr.Run, old, fresh, &pr); err != nil {
			return pr, fmt.Errorf("cdr: rerate: %w", err)
		}
		if opt.Progress != nil {
			opt.Progress(pr)
		}
		if next == nil {
			break
		}
		f.Before = next
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE rerate_runs SET finished_at = ? WHERE id = ?`), s.timeArg(time.Now().UTC(), false), pr.Run); err != nil {
		return pr, fmt.Errorf("cdr: rerate: finish: %w", err)
	}
	return pr, nil
}

// countPeriod counts the CDRs of f's period and tenant.
func (s *Store) countPeriod(ctx context.Context, f cdr.Filter) (int64, error) {
	q := `SELECT COUNT(*) FROM cdrs WHERE end_time >= ? AND end_time < ?`
	args := []any{s.timeArg(f.From, false), s.timeArg(f.To, false)}
	if len(f.Tenants) == 1 {
		q += ` AND tenant_id = ?`
		args = append(args, f.Tenants[0])
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, s.db.Rebind(q), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("cdr: rerate: count: %w", err)
	}
	return n, nil
}

// rerateEntries returns the ledger entries that take a CDR from its old
// price to its new one: a refund of the old cost to its owner, a charge
// of the new, merged into one difference when both are in one currency
// and for one owner.
func rerateEntries(old, fresh *cdr.Record) []charge {
	var out []charge
	if old.TenantID != nil && old.Cost != nil && *old.Cost != 0 {
		out = append(out, charge{tenant: *old.TenantID, currency: string(old.Currency), amount: int64(*old.Cost), sw: old.Switch, call: old.CallID})
	}
	if fresh.TenantID != nil && fresh.Cost != nil && *fresh.Cost != 0 {
		c := charge{tenant: *fresh.TenantID, currency: string(fresh.Currency), amount: -int64(*fresh.Cost), sw: fresh.Switch, call: fresh.CallID}
		if len(out) == 1 && out[0].tenant == c.tenant && out[0].currency == c.currency {
			out[0].amount += c.amount
			if out[0].amount == 0 {
				out = nil
			}
		} else {
			out = append(out, c)
		}
	}
	return out
}

// reratePage writes, in one transaction, the new prices of the CDRs of a
// page whose price changed, their ledger entries and the run's counters.
func (s *Store) reratePage(ctx context.Context, run int64, old, fresh []cdr.Record, pr *RerateProgress) error {
	pr.Examined += int64(len(old))
	var changed []int
	for i := range old {
		if !cdr.SamePrice(&old[i], &fresh[i]) || !sameOwner(old[i].TenantID, fresh[i].TenantID) {
			changed = append(changed, i)
		}
	}
	if s.db.Engine == sqldb.SQLite {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var entries []charge
	var updated int64
	for _, i := range changed {
		ok, err := s.updatePrice(ctx, tx, &old[i], &fresh[i])
		if err != nil {
			return fmt.Errorf("update CDR %d: %w", old[i].ID, err)
		}
		if !ok {
			pr.Skipped++
			continue
		}
		updated++
		entries = append(entries, rerateEntries(&old[i], &fresh[i])...)
	}
	if s.db.Engine == sqldb.Postgres {
		err = postPostgresTx(ctx, tx, KindRerate, run, entries)
	} else {
		err = postSQLite(ctx, tx, KindRerate, run, entries, time.Now())
	}
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE rerate_runs SET examined = examined + ?, changed = changed + ? WHERE id = ?`),
		len(old), updated, run); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	pr.Changed += updated
	for _, e := range entries {
		pr.Adjusted[money.Currency(e.currency)] += money.Amount(e.amount)
	}
	return nil
}

func sameOwner(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// updatePrice sets fresh's price (and owner) on old's row if the row
// still has old's price and owner, and reports whether it did.
func (s *Store) updatePrice(ctx context.Context, tx *sql.Tx, old, fresh *cdr.Record) (bool, error) {
	var cost, oldCost, tenant, oldTenant any
	if fresh.Cost != nil {
		cost = int64(*fresh.Cost)
	}
	if old.Cost != nil {
		oldCost = int64(*old.Cost)
	}
	if fresh.TenantID != nil {
		tenant = *fresh.TenantID
	}
	if old.TenantID != nil {
		oldTenant = *old.TenantID
	}
	same := "IS"
	if s.db.Engine == sqldb.Postgres {
		same = "IS NOT DISTINCT FROM"
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE cdrs SET cost = ?, currency = ?, rate_prefix = ?, rate_destination = ?, rate_group = ?, plan = ?, unpriced = ?, tenant_id = ?
		WHERE id = ? AND end_time = ? AND cost `+same+` ? AND currency = ? AND plan = ? AND rate_prefix = ? AND unpriced = ? AND tenant_id `+same+` ?`),
		cost, string(fresh.Currency), fresh.RatePrefix, fresh.RateDestination, fresh.RateGroup, fresh.Plan, string(fresh.Unpriced), tenant,
		old.ID, s.timeArg(old.End, false), oldCost, string(old.Currency), old.Plan, old.RatePrefix, string(old.Unpriced), oldTenant)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// postPostgresTx is postPostgres in a database/sql transaction.
func postPostgresTx(ctx context.Context, tx *sql.Tx, kind string, run int64, entries []charge) error {
	if len(entries) == 0 {
		return nil
	}
	if _, _, err := sums(entries); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	t, cur, a, sw, k := entryArrays(entries)
	if _, err := tx.ExecContext(ctx, postPostgresSQL, kind, run, t, cur, a, sw, k); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}
