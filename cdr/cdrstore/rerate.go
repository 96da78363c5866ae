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
//
// The supplier price (what a gateway's carrier charges for the leg that
// went to it) is re-priced too, when the tariffs have supplier plans
// (cdr.SupplierTariffs), and updated with the price under the same
// compare-and-set; nothing is ever booked for it: it is owed to the
// carrier, not charged to a tenant. A run reports the CDRs whose supplier
// price changed in SupplierChanged.

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
	// SupplierChanged counts the CDRs of Changed whose supplier price
	// changed (never booked: see above).
	SupplierChanged int64
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
		if err := s.prepareLedger(ctx); err != nil {
			return err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var done []bool
	if s.db.Engine == sqldb.Postgres {
		done, err = updatePricesPostgres(ctx, tx, old, fresh, changed)
	} else {
		done, err = s.updatePricesSQLite(ctx, tx, old, fresh, changed)
	}
	if err != nil {
		return err
	}
	var entries []charge
	var updated, supplier int64
	for k, i := range changed {
		if !done[k] {
			pr.Skipped++
			continue
		}
		updated++
		if !sameSupplierPrice(&old[i], &fresh[i]) {
			supplier++
		}
		entries = append(entries, rerateEntries(&old[i], &fresh[i])...)
	}
	if s.db.Engine == sqldb.Postgres {
		err = postPostgresTx(ctx, tx, KindRerate, run, entries)
	} else {
		err = s.postSQLite(ctx, tx, KindRerate, run, entries, time.Now())
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
	pr.SupplierChanged += supplier
	for _, e := range entries {
		pr.Adjusted[money.Currency(e.currency)] += money.Amount(e.amount)
	}
	return nil
}

// sameSupplierPrice reports whether a and b carry the same supplier price.
func sameSupplierPrice(a, b *cdr.Record) bool {
	x, y := *a, *b
	x.ClearPrice()
	y.ClearPrice()
	return cdr.SamePrice(&x, &y)
}

func sameOwner(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// updatePricesSQLite sets, for each index i of changed, fresh[i]'s price
// (and owner) on old[i]'s row if the row still has old[i]'s price and
// owner, and reports which it did. SQLite runs in process: a prepared
// statement per row costs no round trip.
func (s *Store) updatePricesSQLite(ctx context.Context, tx *sql.Tx, old, fresh []cdr.Record, changed []int) ([]bool, error) {
	done := make([]bool, len(changed))
	if len(changed) == 0 {
		return done, nil
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE cdrs SET cost = ?, currency = ?, rate_prefix = ?, rate_destination = ?, rate_group = ?, plan = ?, unpriced = ?, tenant_id = ?,
		supplier_cost = ?, supplier_currency = ?, supplier_prefix = ?, supplier_plan = ?, supplier_unpriced = ?
		WHERE id = ? AND end_time = ? AND cost IS ? AND currency = ? AND plan = ? AND rate_prefix = ? AND unpriced = ? AND tenant_id IS ?
		AND supplier_cost IS ? AND supplier_currency = ? AND supplier_plan = ? AND supplier_prefix = ? AND supplier_unpriced = ?`)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	for k, i := range changed {
		o, f := &old[i], &fresh[i]
		res, err := stmt.ExecContext(ctx, nullCost(f.Cost), string(f.Currency), f.RatePrefix, f.RateDestination, f.RateGroup, f.Plan, string(f.Unpriced), nullID(f.TenantID),
			nullCost(f.SupplierCost), string(f.SupplierCurrency), f.SupplierPrefix, f.SupplierPlan, string(f.SupplierUnpriced),
			o.ID, o.End.UnixMicro(), nullCost(o.Cost), string(o.Currency), o.Plan, o.RatePrefix, string(o.Unpriced), nullID(o.TenantID),
			nullCost(o.SupplierCost), string(o.SupplierCurrency), o.SupplierPlan, o.SupplierPrefix, string(o.SupplierUnpriced))
		if err != nil {
			return nil, fmt.Errorf("update CDR %d: %w", o.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		done[k] = n == 1
	}
	return done, nil
}

// updatePricesPostgresSQL is updatePricesSQLite's compare-and-set for a
// whole page in one statement: the rows (id, end_time, so that only their
// partitions are read) with their new and expected prices as arrays.
const updatePricesPostgresSQL = `UPDATE cdrs AS c SET cost = u.cost, currency = u.currency, rate_prefix = u.prefix,
	rate_destination = u.dest, rate_group = u.grp, plan = u.plan, unpriced = u.unpriced, tenant_id = u.tenant,
	supplier_cost = u.s_cost, supplier_currency = u.s_currency, supplier_prefix = u.s_prefix, supplier_plan = u.s_plan, supplier_unpriced = u.s_unpriced
FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[],
	$11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[], $16::bigint[],
	$17::bigint[], $18::text[], $19::text[], $20::text[], $21::text[],
	$22::bigint[], $23::text[], $24::text[], $25::text[], $26::text[])
	AS u(id, end_time, cost, currency, prefix, dest, grp, plan, unpriced, tenant, old_cost, old_currency, old_plan, old_prefix, old_unpriced, old_tenant,
		s_cost, s_currency, s_prefix, s_plan, s_unpriced, old_s_cost, old_s_currency, old_s_prefix, old_s_plan, old_s_unpriced)
WHERE c.id = u.id AND c.end_time = u.end_time AND c.cost IS NOT DISTINCT FROM u.old_cost AND c.currency = u.old_currency
	AND c.plan = u.old_plan AND c.rate_prefix = u.old_prefix AND c.unpriced = u.old_unpriced AND c.tenant_id IS NOT DISTINCT FROM u.old_tenant
	AND c.supplier_cost IS NOT DISTINCT FROM u.old_s_cost AND c.supplier_currency = u.old_s_currency AND c.supplier_prefix = u.old_s_prefix
	AND c.supplier_plan = u.old_s_plan AND c.supplier_unpriced = u.old_s_unpriced
RETURNING c.id`

// lockPricesPostgresSQL locks the rows updatePricesPostgresSQL will
// update, in id order. The UPDATE's join locks them in whatever order its
// plan reads the day table (a sequential scan: the order of the rows on
// disk, which every update changes), so two runs over one page could each
// hold a row the other waits for; taking the locks first in one order
// for everyone makes the second run wait for the first instead of
// deadlocking (seen with TestRerateConcurrentRuns once the supplier
// columns made the rows wider).
const lockPricesPostgresSQL = `SELECT c.id FROM cdrs AS c
JOIN unnest($1::bigint[], $2::timestamptz[]) AS u(id, end_time) ON c.id = u.id AND c.end_time = u.end_time
ORDER BY c.id FOR UPDATE OF c`

// updatePricesPostgres is updatePricesSQLite on PostgreSQL, in two round
// trips for the page (the locks, then the update).
func updatePricesPostgres(ctx context.Context, tx *sql.Tx, old, fresh []cdr.Record, changed []int) ([]bool, error) {
	done := make([]bool, len(changed))
	if len(changed) == 0 {
		return done, nil
	}
	n := len(changed)
	ids, ends := make([]int64, n), make([]time.Time, n)
	for k, i := range changed {
		ids[k], ends[k] = old[i].ID, old[i].End
	}
	if _, err := tx.ExecContext(ctx, lockPricesPostgresSQL, ids, ends); err != nil {
		return nil, fmt.Errorf("lock CDRs: %w", err)
	}
	costs, oldCosts, tenants, oldTenants := make([]*int64, n), make([]*int64, n), make([]*int64, n), make([]*int64, n)
	text := func() []string { return make([]string, n) }
	cur, prefix, dest, grp, plan, unpriced := text(), text(), text(), text(), text(), text()
	oldCur, oldPlan, oldPrefix, oldUnpriced := text(), text(), text(), text()
	sCosts, oldSCosts := make([]*int64, n), make([]*int64, n)
	sCur, sPrefix, sPlan, sUnpriced := text(), text(), text(), text()
	oldSCur, oldSPrefix, oldSPlan, oldSUnpriced := text(), text(), text(), text()
	at := make(map[int64]int, n)
	for k, i := range changed {
		o, f := &old[i], &fresh[i]
		ids[k], ends[k], at[o.ID] = o.ID, o.End, k
		costs[k], oldCosts[k], tenants[k], oldTenants[k] = costPtr(f.Cost), costPtr(o.Cost), f.TenantID, o.TenantID
		cur[k], prefix[k], dest[k], grp[k], plan[k], unpriced[k] = string(f.Currency), f.RatePrefix, f.RateDestination, f.RateGroup, f.Plan, string(f.Unpriced)
		oldCur[k], oldPlan[k], oldPrefix[k], oldUnpriced[k] = string(o.Currency), o.Plan, o.RatePrefix, string(o.Unpriced)
		sCosts[k], oldSCosts[k] = costPtr(f.SupplierCost), costPtr(o.SupplierCost)
		sCur[k], sPrefix[k], sPlan[k], sUnpriced[k] = string(f.SupplierCurrency), f.SupplierPrefix, f.SupplierPlan, string(f.SupplierUnpriced)
		oldSCur[k], oldSPrefix[k], oldSPlan[k], oldSUnpriced[k] = string(o.SupplierCurrency), o.SupplierPrefix, o.SupplierPlan, string(o.SupplierUnpriced)
	}
	rows, err := tx.QueryContext(ctx, updatePricesPostgresSQL, ids, ends, costs, cur, prefix, dest, grp, plan, unpriced, tenants,
		oldCosts, oldCur, oldPlan, oldPrefix, oldUnpriced, oldTenants,
		sCosts, sCur, sPrefix, sPlan, sUnpriced, oldSCosts, oldSCur, oldSPrefix, oldSPlan, oldSUnpriced)
	if err != nil {
		return nil, fmt.Errorf("update CDRs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		if k, ok := at[id]; ok {
			done[k] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("update CDRs: %w", err)
	}
	return done, rows.Close()
}

func nullCost(c *money.Amount) any {
	if c == nil {
		return nil
	}
	return int64(*c)
}

func costPtr(c *money.Amount) *int64 {
	if c == nil {
		return nil
	}
	v := int64(*c)
	return &v
}

func nullID(id *int64) any {
	if id == nil {
		return nil
	}
	return *id
}
