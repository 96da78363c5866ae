package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
)

var _ provisioning.NumberStore = (*Store)(nil)

// numberLockClass is the first key of the per-domain advisory lock that
// serialises number allocation on PostgreSQL (the two-key form, whose key
// space is apart from treeLockKey's). SQLite's immediate transactions
// already serialise all writers.
const numberLockClass = 724063

// CreateNumberedAccount implements provisioning.NumberStore: in one
// transaction, holding the domain's allocation lock, it picks the number
// (highestNumbers, then freeNumber only when the top of the range is
// taken) and inserts the account. Two allocations in one domain therefore
// never pick the same number; a concurrent CreateAccount that takes the
// picked number explicitly still can, and is reported as the usual
// conflict on username.
func (s *Store) CreateNumberedAccount(ctx context.Context, a *provisioning.Account, r provisioning.NumberRange, prepare func(*provisioning.Account) error) error {
	if !r.Valid() {
		return fmt.Errorf("sqlstore: number range %d–%d: %w", r.First, r.Last, provisioning.ErrInvalid)
	}
	now := s.clock()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if s.db.Engine == sqldb.Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, numberLockClass, int32(a.DomainID&0x7fffffff)); err != nil {
				return fmt.Errorf("sqlstore: lock numbers of domain %d: %w", a.DomainID, err)
			}
		}
		if err := s.accountDomain(ctx, tx, a); err != nil {
			return err
		}
		n, err := s.nextNumber(ctx, tx, a.DomainID, r)
		if err != nil {
			return err
		}
		a.Username = strconv.FormatInt(n, 10)
		if err := prepare(a); err != nil {
			return err
		}
		return s.insertAccount(ctx, tx, a, now)
	})
	if err != nil {
		a.ID = 0
		return s.accountWriteErr(ctx, "create numbered account", err, a)
	}
	a.CreatedAt, a.UpdatedAt = now, now
	return nil
}

// nextNumber returns one more than the highest number of r in the domain,
// r.First when it has none, and the smallest free number of r when the
// highest is r.Last.
func (s *Store) nextNumber(ctx context.Context, tx *sqlx.Tx, domainID int64, r provisioning.NumberRange) (int64, error) {
	query, args := s.highestNumbersQuery(domainID, r)
	var tops []string
	if err := tx.SelectContext(ctx, &tops, query, args...); err != nil {
		return 0, fmt.Errorf("sqlstore: highest number of domain %d: %w", domainID, err)
	}
	var high int64
	for _, t := range tops { // one per width: the longest is the highest
		if n, err := strconv.ParseInt(t, 10, 64); err == nil && n > high {
			high = n
		}
	}
	switch {
	case high == 0:
		return r.First, nil
	case high < r.Last:
		return high + 1, nil
	}
	query, args = s.freeNumberQuery(domainID, r)
	var n int64
	err := tx.GetContext(ctx, &n, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, provisioning.ErrNoFreeNumber
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: free number of domain %d: %w", domainID, err)
	}
	return n, nil
}

// digits returns the condition that col is a decimal number without a
// leading zero, in the engine's pattern syntax (no CAST: PostgreSQL may
// evaluate conditions in any order, and a CAST of "alice" fails).
func (s *Store) digits(col string) string {
	if s.db.Engine == sqldb.Postgres {
		return col + ` ~ '^[1-9][0-9]*$'`
	}
	return col + ` GLOB '[1-9]*' AND ` + col + ` NOT GLOB '*[^0-9]*'`
}

// widths returns the digit counts of the numbers of r, each with the
// smallest and largest number of r of that width as text. Numbers of one
// width compare as text as they do as numbers.
func widths(r provisioning.NumberRange) (ws []int, lo, hi []string) {
	first, last := strconv.FormatInt(r.First, 10), strconv.FormatInt(r.Last, 10)
	for w := len(first); w <= len(last); w++ {
		l, h := "1"+strings.Repeat("0", w-1), strings.Repeat("9", w)
		if w == len(first) {
			l = first
		}
		if w == len(last) {
			h = last
		}
		ws, lo, hi = append(ws, w), append(lo, l), append(hi, h)
	}
	return ws, lo, hi
}

// highestNumbersQuery selects, for each width of r, the domain's highest
// number of r of that width. Each branch is one probe of the
// (domain_id, length(username), username) index, read backwards from the
// top of the width's range: its cost does not grow with the domain's
// accounts, whatever other usernames (names, 20-digit numbers) it has.
func (s *Store) highestNumbersQuery(domainID int64, r provisioning.NumberRange) (string, []any) {
	ws, lo, hi := widths(r)
	var (
		branches []string
		args     []any
	)
	for i, w := range ws {
		branches = append(branches, `SELECT username FROM (SELECT username FROM accounts
			WHERE domain_id = ? AND length(username) = ? AND username >= ? AND username <= ? AND `+s.digits("username")+`
			ORDER BY username DESC LIMIT 1) w`+strconv.Itoa(w))
		args = append(args, domainID, w, lo[i], hi[i])
	}
	return s.q(strings.Join(branches, "\nUNION ALL\n")), args
}

// freeNumberQuery selects the smallest number of r that the domain does
// not use: the first number after a used one (or after r.First-1) that is
// not used itself. It reads all of the domain's numbers of r, so it runs
// only once the top of the range is taken.
func (s *Store) freeNumberQuery(domainID int64, r provisioning.NumberRange) (string, []any) {
	ws, lo, hi := widths(r)
	first, last := ws[0], ws[len(ws)-1]
	query := `SELECT n + 1 FROM (
		SELECT n, LEAD(n) OVER (ORDER BY n) AS nx FROM (
			SELECT CAST(username AS BIGINT) AS n FROM accounts
			WHERE domain_id = ? AND length(username) >= ? AND length(username) <= ? AND ` + s.digits("username") + `
				AND (length(username) > ? OR username >= ?) AND (length(username) < ? OR username <= ?)
			UNION ALL SELECT CAST(? AS BIGINT)
		) used
	) g
	WHERE (nx IS NULL OR nx > n + 1) AND n + 1 <= ?
	ORDER BY n LIMIT 1`
	return s.q(query), []any{domainID, first, last, first, lo[0], last, hi[len(hi)-1], r.First - 1, r.Last}
}
