package provisioning

import (
	"context"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// SetPassword validates password and stores its bcrypt hash in u.
func (s *Service) SetPassword(u *User, password string) error {
	if err := ValidatePassword("password", password); err != nil {
		return err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost)
	if err != nil {
		return fmt.Errorf("provisioning: hash password: %w", err)
	}
	u.PasswordHash = string(h)
	return nil
}

// CheckPassword reports whether password is u's.
func CheckPassword(u *User, password string) bool {
	return u.PasswordHash != "" && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil
}

// CreateUser creates u with the given password. A tenant-admin cannot
// create admins.
func (s *Service) CreateUser(ctx context.Context, sc Scope, u *User, password string) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	if u.Role == RoleAdmin && !sc.All() {
		return Forbidden("role", "only an admin may create admins")
	}
	u.PasswordHash = "-" // validated separately below, hashed last (it is slow)
	if err := u.Validate(); err != nil {
		return err
	}
	if _, err := s.tenantInScope(ctx, sc, u.TenantID); err != nil {
		return fieldNotFound("tenant_id", err)
	}
	if err := s.SetPassword(u, password); err != nil {
		return err
	}
	return s.store.CreateUser(ctx, u)
}

// User returns user id if the scope sees it.
func (s *Service) User(ctx context.Context, sc Scope, id int64) (*User, error) {
	u, err := s.store.User(ctx, id)
	return inScope(ctx, s, sc, "user", u, err, id)
}

// UserByLogin returns the user with login if the scope sees it.
func (s *Service) UserByLogin(ctx context.Context, sc Scope, login string) (*User, error) {
	u, err := s.store.UserByLogin(ctx, login)
	return inScope(ctx, s, sc, "user", u, err, login)
}

// UpdateUser loads user id, lets fn change it (calling SetPassword for a
// new password) and saves it.
func (s *Service) UpdateUser(ctx context.Context, sc Scope, id int64, fn func(*User) error) (*User, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	u, err := s.User(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	oldTenant, oldRole := u.TenantID, u.Role
	if oldRole == RoleAdmin && !sc.All() {
		return nil, Forbidden("", "only an admin may change an admin")
	}
	if err := fn(u); err != nil {
		return nil, err
	}
	u.ID = id
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if u.Role != oldRole && u.Role == RoleAdmin && !sc.All() {
		return nil, Forbidden("role", "only an admin may grant the admin role")
	}
	if u.TenantID != oldTenant {
		if _, err := s.tenantInScope(ctx, sc, u.TenantID); err != nil {
			return nil, fieldNotFound("tenant_id", err)
		}
		owned, err := s.store.Accounts(ctx, AccountFilter{UserID: id, Page: Page{Limit: 1}})
		if err != nil {
			return nil, err
		}
		if len(owned) > 0 {
			return nil, Conflict("tenant_id", "user %s owns SIP accounts and cannot move to another tenant", u.Login)
		}
	}
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// DeleteUser deletes user id; refused while the user owns SIP accounts.
func (s *Service) DeleteUser(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	u, err := s.User(ctx, sc, id)
	if err != nil {
		return err
	}
	if u.Role == RoleAdmin && !sc.All() {
		return Forbidden("", "only an admin may delete an admin")
	}
	return s.store.DeleteUser(ctx, id)
}

// Users lists the users in scope.
func (s *Service) Users(ctx context.Context, sc Scope, f UserFilter) ([]User, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return s.store.Users(ctx, f)
}
