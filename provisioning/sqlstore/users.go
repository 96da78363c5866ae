package sqlstore

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/provisioning"
)

const userCols = `u.id, u.tenant_id, u.login, u.email, u.first_name, u.last_name, u.role, u.password_hash, u.created_at, u.updated_at`

func fixUser(u *provisioning.User) { utc(&u.CreatedAt, &u.UpdatedAt) }

// CreateUser inserts u and sets its ID and timestamps.
func (s *Store) CreateUser(ctx context.Context, u *provisioning.User) error {
	now := s.clock()
	var id int64
	if err := s.db.GetContext(ctx, &id, s.q(`INSERT INTO users
		(tenant_id, login, email, first_name, last_name, role, password_hash, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		u.TenantID, u.Login, u.Email, u.FirstName, u.LastName, string(u.Role), u.PasswordHash, s.ts(now), s.ts(now)); err != nil {
		return s.writeErr(ctx, "create user", err, "login", fmt.Sprintf("login %s already exists", u.Login),
			ref{"tenant_id", "tenant", "tenants", u.TenantID})
	}
	u.ID, u.CreatedAt, u.UpdatedAt = id, now, now
	return nil
}

// User returns user id.
func (s *Store) User(ctx context.Context, id int64) (*provisioning.User, error) {
	var u provisioning.User
	if err := s.db.GetContext(ctx, &u, s.q(`SELECT `+userCols+` FROM users u WHERE u.id = ?`), id); err != nil {
		return nil, notFound(err, "user", id)
	}
	fixUser(&u)
	return &u, nil
}

// UserByLogin returns the user with login (exact match).
func (s *Store) UserByLogin(ctx context.Context, login string) (*provisioning.User, error) {
	var u provisioning.User
	if err := s.db.GetContext(ctx, &u, s.q(`SELECT `+userCols+` FROM users u WHERE u.login = ?`), login); err != nil {
		return nil, notFound(err, "user", login)
	}
	fixUser(&u)
	return &u, nil
}

// UpdateUser saves u, password hash included.
func (s *Store) UpdateUser(ctx context.Context, u *provisioning.User) error {
	now := s.clock()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE users SET tenant_id = ?, login = ?, email = ?, first_name = ?, last_name = ?,
		role = ?, password_hash = ?, updated_at = ? WHERE id = ?`),
		u.TenantID, u.Login, u.Email, u.FirstName, u.LastName, string(u.Role), u.PasswordHash, s.ts(now), u.ID)
	if err != nil {
		return s.writeErr(ctx, fmt.Sprintf("update user %d", u.ID), err, "login", fmt.Sprintf("login %s already exists", u.Login),
			ref{"tenant_id", "tenant", "tenants", u.TenantID})
	}
	if err := oneRow(res, "user", u.ID); err != nil {
		return err
	}
	u.UpdatedAt = now
	return nil
}

// DeleteUser deletes user id unless it still owns SIP accounts.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := exists(ctx, tx, s.q, "users", "user", id); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, s.q(`SELECT COUNT(*) FROM accounts WHERE user_id = ?`), id); err != nil {
			return fmt.Errorf("sqlstore: count accounts of user %d: %w", id, err)
		}
		if n > 0 {
			return provisioning.Conflict("", "user %d still owns %s", id, plural(n, "SIP account", "SIP accounts"))
		}
		if err := s.deleteOwnedRouting(ctx, tx, "user", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM users WHERE id = ?`), id); err != nil {
			return deleteErr("user", id, err)
		}
		return nil
	})
}

// Users lists users matching f in ID order.
func (s *Store) Users(ctx context.Context, f provisioning.UserFilter) ([]provisioning.User, error) {
	base := `SELECT ` + userCols + ` FROM users u`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = u.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	if f.TenantID != 0 {
		w.and("u.tenant_id = ?", f.TenantID)
	}
	if f.Login != "" {
		w.and("u.login = ?", f.Login)
	}
	if f.Email != "" {
		w.and("lower(u.email) = lower(?)", f.Email)
	}
	query, args := w.page(base, "u.id", f.Page)
	return list(ctx, s, "users", query, args, fixUser)
}
