package cdrstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// The ledger (migration 0004): every movement of a tenant's balance, and
// balances, its running sum per tenant and currency.
//
// A priced CDR is charged in the transaction that stores it: the insert
// of its row (with its key) and of its charge entry, and the update of
// its owner's balance, commit together or not at all. A crash between
// them is therefore impossible, and the CDR's key makes a replay (a
// reconnect's resync, a spool replay, a restart) a no-op for the balance
// as for the row. The charge has a unique key of its own, (switch,
// call_id) among charges, which outlives the CDR: a leg stored again
// after retention deleted it is stored, but not charged, again.

// Entry kinds (ledger.kind).
const (
	KindCharge  = "charge"  // a priced CDR's cost (negative)
	KindRerate  = "rerate"  // a re-pricing's difference for one CDR
	KindPayment = "payment" // money received (positive)
	KindCredit  = "credit"  // an adjustment granted (either sign)
)

// charge is one ledger entry of a call: its owner, currency and signed
// amount, and the key of its CDR.
type charge struct {
	tenant   int64
	currency string
	amount   int64
	sw, call string
}

// chargesOf returns the charge entries of the records of batch whose id
// is not 0 (the new ones): those with an owner and a cost other than 0.
func chargesOf(batch []cdr.Record, ids []int64) []charge {
	var out []charge
	for i := range batch {
		r := &batch[i]
		if ids[i] == 0 || r.TenantID == nil || r.Cost == nil || *r.Cost == 0 {
			continue
		}
		out = append(out, charge{tenant: *r.TenantID, currency: string(r.Currency), amount: -int64(*r.Cost), sw: r.Switch, call: r.CallID})
	}
	return out
}

// balanceKey is one balance: a tenant's, in one currency.
type balanceKey struct {
	tenant   int64
	currency string
}

// sums adds up the amounts of entries per balance, in (tenant, currency)
// order: every writer updates balances in that order, so two
// transactions cannot deadlock on them.
func sums(entries []charge) ([]balanceKey, []int64, error) {
	total := map[balanceKey]money.Amount{}
	for _, e := range entries {
		k := balanceKey{e.tenant, e.currency}
		s, err := total[k].Add(money.Amount(e.amount))
		if err != nil {
			return nil, nil, fmt.Errorf("balance of tenant %d in %s: %w", e.tenant, e.currency, err)
		}
		total[k] = s
	}
	keys := make([]balanceKey, 0, len(total))
	for k := range total {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b balanceKey) int {
		return cmp.Or(cmp.Compare(a.tenant, b.tenant), strings.Compare(a.currency, b.currency))
	})
	amounts := make([]int64, len(keys))
	for i, k := range keys {
		amounts[i] = int64(total[k])
	}
	return keys, amounts, nil
}

// sqliteLedgerInsert is the head of a ledger INSERT on SQLite, and
// sqliteLedgerRow the placeholders of one entry.
const (
	sqliteLedgerInsert = "INSERT INTO ledger (tenant_id, currency, kind, amount, switch, call_id, rerate_run, reference, created_at) VALUES "
	sqliteLedgerRow    = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

// sqliteLedgerSizes are the row counts of the ledger INSERTs a batch is
// cut into, largest first. Each is prepared once per connection and
// kept (Store.ledgerStmts): parsing a statement of thousands of rows for
// every batch cost as much as running it.
var sqliteLedgerSizes = []int{256, 16, 1}

// prepareLedger prepares the ledger INSERTs (every size of
// sqliteLedgerSizes, plain and skipping booked keys) once, on the pool:
// the caller holds wmu and no transaction yet, since with one connection
// (a :memory: database) preparing inside a transaction would wait for
// that transaction's own connection.
func (s *Store) prepareLedger(ctx context.Context) error {
	if s.ledgerStmts != nil {
		return nil
	}
	stmts := map[int]*sql.Stmt{}
	for _, n := range sqliteLedgerSizes {
		for _, ignore := range []bool{false, true} {
			q := sqliteLedgerInsert + sqliteLedgerRow + strings.Repeat(", "+sqliteLedgerRow, n-1)
			key := n
			if ignore {
				q, key = q+" ON CONFLICT DO NOTHING", -n
			}
			st, err := s.db.PrepareContext(ctx, q)
			if err != nil {
				for _, st := range stmts {
					st.Close()
				}
				return fmt.Errorf("ledger: prepare: %w", err)
			}
			stmts[key] = st
		}
	}
	s.ledgerStmts = stmts
	return nil
}

// ledgerStmt returns the prepared INSERT of n entries (one of
// sqliteLedgerSizes; ignore: skipping booked keys) for tx. The caller
// holds wmu, and called prepareLedger before opening tx.
func (s *Store) ledgerStmt(ctx context.Context, tx *sql.Tx, n int, ignore bool) (*sql.Stmt, error) {
	key := n
	if ignore {
		key = -n
	}
	st, ok := s.ledgerStmts[key]
	if !ok {
		return nil, fmt.Errorf("no prepared ledger statement of %d rows", n)
	}
	return tx.StmtContext(ctx, st), nil
}

// postSQLite books entries of kind (with run, for rerate entries) in tx
// and adds those the ledger took to their balances. An entry whose key
// the ledger holds already is skipped, and so is its amount. The usual
// case (no entry known) is a few plain INSERTs of many rows; only when
// one meets a stored key are its rows redone one by one. The caller
// holds wmu.
func (s *Store) postSQLite(ctx context.Context, tx *sql.Tx, kind string, run int64, entries []charge, now time.Time) error {
	if len(entries) == 0 {
		return nil
	}
	at := now.UnixMicro()
	booked := entries[:0:0]
	args := make([]any, 0, sqliteLedgerSizes[0]*9)
	for rest := entries; len(rest) > 0; {
		n := sqliteLedgerSizes[len(sqliteLedgerSizes)-1]
		for _, size := range sqliteLedgerSizes {
			if len(rest) >= size {
				n = size
				break
			}
		}
		part := rest[:n]
		rest = rest[n:]
		args = args[:0]
		for _, e := range part {
			args = append(args, e.tenant, e.currency, kind, e.amount, e.sw, e.call, run, "", at)
		}
		st, err := s.ledgerStmt(ctx, tx, n, false)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		_, err = st.ExecContext(ctx, args...)
		if err == nil {
			booked = append(booked, part...)
			continue
		}
		if !sqldb.IsUniqueViolation(err) {
			return fmt.Errorf("ledger: %w", err)
		}
		// The failed statement was undone; the transaction goes on.
		one, err := s.ledgerStmt(ctx, tx, 1, true)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		for _, e := range part {
			res, err := one.ExecContext(ctx, e.tenant, e.currency, kind, e.amount, e.sw, e.call, run, "", at)
			if err != nil {
				return fmt.Errorf("ledger: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("ledger: %w", err)
			} else if n == 1 {
				booked = append(booked, e)
			}
		}
	}
	keys, amounts, err := sums(booked)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	for i, k := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO balances (tenant_id, currency, balance, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, currency) DO UPDATE SET balance = balance + excluded.balance, updated_at = excluded.updated_at`,
			k.tenant, k.currency, amounts[i], at); err != nil {
			return fmt.Errorf("ledger: balance of tenant %d: %w", k.tenant, err)
		}
	}
	return nil
}

// postPostgresSQL books the entries given as arrays, skipping those whose
// key the ledger holds, and adds the ones it took to their balances, in
// (tenant, currency) order, in one statement.
const postPostgresSQL = `WITH booked AS (
	INSERT INTO ledger (tenant_id, currency, kind, amount, switch, call_id, rerate_run, created_at)
	SELECT t, c, $1, a, s, k, $2, now() FROM unnest($3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[]) AS e(t, c, a, s, k)
	ON CONFLICT DO NOTHING
	RETURNING tenant_id, currency, amount
)
INSERT INTO balances (tenant_id, currency, balance, updated_at)
SELECT tenant_id, currency, sum(amount), now() FROM booked GROUP BY tenant_id, currency ORDER BY tenant_id, currency
ON CONFLICT (tenant_id, currency) DO UPDATE SET balance = balances.balance + excluded.balance, updated_at = excluded.updated_at`

// addBalancesSQL adds amounts to balances, given as arrays in (tenant,
// currency) order.
const addBalancesSQL = `INSERT INTO balances (tenant_id, currency, balance, updated_at)
SELECT t, c, a, now() FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS u(t, c, a)
ON CONFLICT (tenant_id, currency) DO UPDATE SET balance = balances.balance + excluded.balance, updated_at = excluded.updated_at`

// copyCharges books charges by COPY, the fast path of a batch whose legs
// are all new: a charge already booked (a leg stored again after
// retention) fails it with a unique violation, and the caller redoes the
// batch by the upsert path (postPostgres), which skips it. The balances
// get the sums, computed here, in one statement.
func copyCharges(ctx context.Context, c *pgx.Conn, entries []charge) error {
	if len(entries) == 0 {
		return nil
	}
	keys, amounts, err := sums(entries)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	now := time.Now()
	rows := make([][]any, len(entries))
	for i, e := range entries {
		rows[i] = []any{e.tenant, e.currency, KindCharge, e.amount, e.sw, e.call, now}
	}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"ledger"}, []string{"tenant_id", "currency", "kind", "amount", "switch", "call_id", "created_at"},
		pgx.CopyFromRows(rows)); err != nil {
		return err // unwrapped: the caller tests it for a unique violation
	}
	tenants, currencies := make([]int64, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		tenants[i], currencies[i] = k.tenant, k.currency
	}
	if _, err := c.Exec(ctx, addBalancesSQL, tenants, currencies, amounts); err != nil {
		return fmt.Errorf("ledger: balances: %w", err)
	}
	return nil
}

// postPostgres books entries of kind in the transaction open on c; see
// postSQLite.
func postPostgres(ctx context.Context, c *pgx.Conn, kind string, run int64, entries []charge) error {
	return postPostgresWith(entries, func(args ...any) error {
		_, err := c.Exec(ctx, postPostgresSQL, append([]any{kind, run}, args...)...)
		return err
	})
}

// postPostgresTx is postPostgres in a database/sql transaction.
func postPostgresTx(ctx context.Context, tx *sql.Tx, kind string, run int64, entries []charge) error {
	return postPostgresWith(entries, func(args ...any) error {
		_, err := tx.ExecContext(ctx, postPostgresSQL, append([]any{kind, run}, args...)...)
		return err
	})
}

// postPostgresWith runs postPostgresSQL by exec with the arrays of
// entries, if there are any.
func postPostgresWith(entries []charge, exec func(args ...any) error) error {
	if len(entries) == 0 {
		return nil
	}
	// Sum first, only to refuse an overflow with a clear error rather
	// than PostgreSQL's bigint out of range.
	if _, _, err := sums(entries); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	t, cur, a, s, k := entryArrays(entries)
	if err := exec(t, cur, a, s, k); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// entryArrays returns the columns of entries as arrays, for unnest.
func entryArrays(entries []charge) (tenants []int64, currencies []string, amounts []int64, switches, calls []string) {
	n := len(entries)
	tenants, currencies, amounts, switches, calls = make([]int64, n), make([]string, n), make([]int64, n), make([]string, n), make([]string, n)
	for i, e := range entries {
		tenants[i], currencies[i], amounts[i], switches[i], calls[i] = e.tenant, e.currency, e.amount, e.sw, e.call
	}
	return
}
