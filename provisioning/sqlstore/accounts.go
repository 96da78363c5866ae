package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Accounts are always read joined to their domain, which supplies the
// Domain name and the TenantID.
const (
	accountCols = `a.id, a.domain_id, d.name AS domain, d.tenant_id, a.username, a.secret, a.ha1,
		a.caller_id_name, a.caller_id_number, a.description, a.user_id, COALESCE(u.login, '') AS user_login,
		a.created_at, a.updated_at`
	accountFrom = ` FROM accounts a JOIN domains d ON d.id = a.domain_id LEFT JOIN users u ON u.id = a.user_id`

	accountByID       = `SELECT ` + accountCols + accountFrom + ` WHERE a.id = ?`
	accountByUsername = `SELECT ` + accountCols + accountFrom + ` WHERE a.domain_id = ? AND a.username = ?`
)

func fixAccount(a *provisioning.Account) { utc(&a.CreatedAt, &a.UpdatedAt) }

// accountDomain fills a's Domain and TenantID from its domain, and
// UserLogin from its owner, inside tx.
func (s *Store) accountDomain(ctx context.Context, tx *sqlx.Tx, a *provisioning.Account) error {
	var d struct {
		Name     string `db:"name"`
		TenantID int64  `db:"tenant_id"`
	}
	if err := tx.GetContext(ctx, &d, s.q(`SELECT name, tenant_id FROM domains WHERE id = ?`), a.DomainID); err != nil {
		return asRef("domain_id", notFound(err, "domain", a.DomainID))
	}
	a.Domain, a.TenantID = d.Name, d.TenantID
	a.UserLogin = ""
	if a.UserID != nil {
		if err := tx.GetContext(ctx, &a.UserLogin, s.q(`SELECT login FROM users WHERE id = ?`), *a.UserID); err != nil {
			return asRef("user_id", notFound(err, "user", *a.UserID))
		}
	}
	return nil
}

func (s *Store) accountWriteErr(ctx context.Context, op string, err error, a *provisioning.Account) error {
	return s.writeErr(ctx, op, err, "username", fmt.Sprintf("account %s already exists", a.AOR()),
		ref{"domain_id", "domain", "domains", a.DomainID}, optRef("user_id", "user", "users", a.UserID))
}

// CreateAccount inserts a with its Secret and HA1 as given, sets its ID and
// timestamps, and fills Domain and TenantID from the domain.
func (s *Store) CreateAccount(ctx context.Context, a *provisioning.Account) error {
	now := s.clock()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.accountDomain(ctx, tx, a); err != nil {
			return err
		}
		return s.insertAccount(ctx, tx, a, now)
	})
	if err != nil {
		a.ID = 0
		return s.accountWriteErr(ctx, "create account", err, a)
	}
	a.CreatedAt, a.UpdatedAt = now, now
	return nil
}

// insertAccount inserts a, created at now, inside tx and sets its ID.
func (s *Store) insertAccount(ctx context.Context, tx *sqlx.Tx, a *provisioning.Account, now time.Time) error {
	return tx.GetContext(ctx, &a.ID, s.q(`INSERT INTO accounts (domain_id, username, secret, ha1,
		caller_id_name, caller_id_number, description, user_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		a.DomainID, a.Username, a.Secret, a.HA1, a.CallerIDName, a.CallerIDNumber, a.Description, a.UserID,
		s.ts(now), s.ts(now))
}

// Account returns account id.
func (s *Store) Account(ctx context.Context, id int64) (*provisioning.Account, error) {
	var a provisioning.Account
	if err := s.db.GetContext(ctx, &a, s.q(accountByID), id); err != nil {
		return nil, notFound(err, "account", id)
	}
	fixAccount(&a)
	return &a, nil
}

// AccountByUsername returns the account username in domain domainID.
func (s *Store) AccountByUsername(ctx context.Context, domainID int64, username string) (*provisioning.Account, error) {
	var a provisioning.Account
	if err := s.db.GetContext(ctx, &a, s.q(accountByUsername),
		domainID, username); err != nil {
		return nil, notFound(err, "account", fmt.Sprintf("%s in domain %d", username, domainID))
	}
	fixAccount(&a)
	return &a, nil
}

// UpdateAccount saves a and refreshes its Domain and TenantID.
func (s *Store) UpdateAccount(ctx context.Context, a *provisioning.Account) error {
	now := s.clock()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := exists(ctx, tx, s.q, "accounts", "account", a.ID); err != nil {
			return err
		}
		if err := s.accountDomain(ctx, tx, a); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE accounts SET domain_id = ?, username = ?, secret = ?, ha1 = ?,
			caller_id_name = ?, caller_id_number = ?, description = ?, user_id = ?, updated_at = ? WHERE id = ?`),
			a.DomainID, a.Username, a.Secret, a.HA1, a.CallerIDName, a.CallerIDNumber, a.Description, a.UserID,
			s.ts(now), a.ID)
		return err
	})
	if err != nil {
		return s.accountWriteErr(ctx, fmt.Sprintf("update account %d", a.ID), err, a)
	}
	a.UpdatedAt = now
	return nil
}

// DeleteAccount deletes account id, and its forwards, unless DIDs or
// routing objects still send calls to it.
func (s *Store) DeleteAccount(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := exists(ctx, tx, s.q, "accounts", "account", id); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, s.q(`SELECT COUNT(*) FROM dids WHERE account_id = ?`), id); err != nil {
			return fmt.Errorf("sqlstore: count DIDs of account %d: %w", id, err)
		}
		if n > 0 {
			return provisioning.Conflict("", "account %d still has %s routed to it", id, plural(n, "DID", "DIDs"))
		}
		if err := s.refusePointedAt(ctx, tx, provisioning.DestAccount, id); err != nil {
			return err
		}
		if err := s.deleteOwnedRouting(ctx, tx, provisioning.DestAccount, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM accounts WHERE id = ?`), id); err != nil {
			return deleteErr("account", id, err)
		}
		return nil
	})
}

// Accounts lists accounts matching f in ID order.
func (s *Store) Accounts(ctx context.Context, f provisioning.AccountFilter) ([]provisioning.Account, error) {
	query, args := accountsQuery(f)
	return list(ctx, s, "accounts", query, args, fixAccount)
}

// accountsQuery builds the list statement for f (tests EXPLAIN it).
//
// With DomainID set it is a deferred join: the inner query picks the page's
// IDs from the (domain_id, id) index alone, an index-only range scan
// however many accounts the domain or the table holds, and only those rows
// are then read and joined. Selecting whole rows directly lets PostgreSQL
// prefer walking the primary key and filtering by domain, which degrades
// with the number of other domains' accounts between the page's rows. The
// domain and tenant conditions stay outside: with one domain they hold for
// all of its accounts or for none, so the page is never cut short.
func accountsQuery(f provisioning.AccountFilter) (string, []any) {
	var outer where
	if f.Subtree != "" {
		outer.prefix("t.path", f.Subtree)
	}
	if f.TenantID != 0 {
		outer.and("d.tenant_id = ?", f.TenantID)
	}
	join := ""
	if f.Subtree != "" {
		join = ` JOIN tenants t ON t.id = d.tenant_id`
	}

	var inner where
	if f.DomainID != 0 {
		inner.and("a.domain_id = ?", f.DomainID)
	}
	if f.UserID != 0 {
		inner.and("a.user_id = ?", f.UserID)
	}
	if f.Username != "" {
		inner.and("a.username = ?", f.Username)
	}
	inner.prefix("a.username", f.UsernamePrefix)

	if f.DomainID == 0 {
		// One query: the conditions on a, d and t together.
		inner.conds = append(inner.conds, outer.conds...)
		inner.args = append(inner.args, outer.args...)
		return inner.page(`SELECT `+accountCols+accountFrom+join, "a.id", f.Page)
	}
	ids, args := inner.page(`SELECT a.id FROM accounts a`, "a.id", f.Page)
	query := `SELECT ` + accountCols + ` FROM (` + ids + `) p JOIN accounts a ON a.id = p.id` +
		` JOIN domains d ON d.id = a.domain_id LEFT JOIN users u ON u.id = a.user_id` + join + outer.sql() + ` ORDER BY a.id`
	return query, append(args, outer.args...)
}
