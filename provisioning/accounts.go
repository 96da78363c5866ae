package provisioning

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// HA1 is the SIP digest hash md5(username:realm:secret).
func HA1(username, realm, secret string) string {
	sum := md5.Sum([]byte(username + ":" + realm + ":" + secret))
	return hex.EncodeToString(sum[:])
}

// GenerateSecret returns a random SIP secret of 20 characters from an
// alphabet every phone's keypad UI and config parser accepts.
func GenerateSecret() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// prepareAccount resolves and checks the account's domain and owner.
func (s *Service) prepareAccount(ctx context.Context, sc Scope, a *Account) error {
	var (
		d   *Domain
		err error
	)
	switch {
	case a.DomainID > 0:
		d, err = s.Domain(ctx, sc, a.DomainID)
	case a.Domain != "":
		// A write reads the store, not the domain cache.
		name := strings.ToLower(a.Domain)
		d, err = s.store.DomainByName(ctx, name)
		d, err = inScope(ctx, s, sc, "domain", d, err, name)
	default:
		return Invalid("domain_id", "is required")
	}
	if err != nil {
		return fieldNotFound("domain_id", err)
	}
	a.DomainID, a.Domain, a.TenantID = d.ID, d.Name, d.TenantID
	if err := a.Validate(); err != nil {
		return err
	}
	if a.UserID != nil {
		u, err := s.User(ctx, sc, *a.UserID)
		if err != nil {
			return fieldNotFound("user_id", err)
		}
		// The owner lives in the account's tenant or below it, so that
		// everyone who sees the account may also see its owner.
		ut, err := s.store.Tenant(ctx, u.TenantID)
		if err != nil {
			return err
		}
		at, err := s.store.Tenant(ctx, a.TenantID)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(ut.Path, at.Path) {
			return Invalid("user_id", "must belong to the domain's tenant or one of its sub-tenants")
		}
		a.UserLogin = u.Login
	} else {
		a.UserLogin = ""
	}
	a.HA1 = HA1(a.Username, a.Domain, a.Secret)
	return nil
}

// CreateAccount creates a SIP account. The domain is a.DomainID, or
// a.Domain by name. A missing secret is generated and left in a.Secret so
// the caller can show it once.
func (s *Service) CreateAccount(ctx context.Context, sc Scope, a *Account) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if a.Secret == "" {
		a.Secret = GenerateSecret()
	}
	if err := s.prepareAccount(ctx, sc, a); err != nil {
		return err
	}
	if err := s.store.CreateAccount(ctx, a); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpUpsert, Account: a})
	return nil
}

// Account returns account id if the scope sees it.
func (s *Service) Account(ctx context.Context, sc Scope, id int64) (*Account, error) {
	a, err := s.store.Account(ctx, id)
	return inScope(ctx, s, sc, "account", a, err, id)
}

// AccountByUsername returns username@domain if the scope sees it.
func (s *Service) AccountByUsername(ctx context.Context, sc Scope, domain, username string) (*Account, error) {
	d, err := s.DomainByName(ctx, sc, domain)
	if err != nil {
		return nil, err
	}
	a, err := s.store.AccountByUsername(ctx, d.ID, username)
	return inScope(ctx, s, sc, "account", a, err, username+"@"+d.Name)
}

// UpdateAccount loads account id, lets fn change it and saves it. The
// domain of an account cannot change: delete and re-create it instead.
func (s *Service) UpdateAccount(ctx context.Context, sc Scope, id int64, fn func(*Account) error) (*Account, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	a, err := s.Account(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	oldDomain, oldSecret := a.DomainID, a.Secret
	if err := fn(a); err != nil {
		return nil, err
	}
	a.ID = id
	if a.DomainID != oldDomain {
		return nil, Invalid("domain_id", "cannot be changed: delete the account and create it in the other domain")
	}
	if err := s.prepareAccount(ctx, sc, a); err != nil {
		return nil, err
	}
	if err := s.store.UpdateAccount(ctx, a); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateRouting}) // plans ring it by user@domain
	s.notify(ctx, Change{Op: OpUpsert, Account: a, SecretChanged: a.Secret != oldSecret})
	return a, nil
}

// DeleteAccount deletes account id; refused while DIDs route to it.
func (s *Service) DeleteAccount(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	a, err := s.Account(ctx, sc, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteAccount(ctx, id); err != nil {
		return err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateRouting}) // its forwards went with it
	s.notify(ctx, Change{Op: OpDelete, Account: a})
	return nil
}

// Accounts lists the SIP accounts in scope.
func (s *Service) Accounts(ctx context.Context, sc Scope, f AccountFilter) ([]Account, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return s.store.Accounts(ctx, f)
}
