package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// TokenPrefix starts every API token, so that secret scanners and humans
// recognise one.
const TokenPrefix = "sbt_"

// HashToken is how tokens are stored and looked up.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateToken creates an API token and returns its secret, which is shown
// once and never stored. Admin tokens have no tenant; others need one.
func (s *Service) CreateToken(ctx context.Context, name string, role Role, tenantID *int64) (string, *Token, error) {
	if err := checkText("name", name, MaxNameLen, true); err != nil {
		return "", nil, err
	}
	switch role {
	case RoleAdmin:
		if tenantID != nil {
			return "", nil, Invalid("tenant_id", "must be empty for an admin token")
		}
	case RoleTenantAdmin, RoleUser:
		if tenantID == nil {
			return "", nil, Invalid("tenant_id", "is required for a %s token", role)
		}
		if _, err := s.store.Tenant(ctx, *tenantID); err != nil {
			return "", nil, fieldNotFound("tenant_id", err)
		}
	default:
		return "", nil, Invalid("role", "must be one of admin, tenant-admin, user")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("provisioning: token: %w", err)
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	t := &Token{Name: name, Role: role, TenantID: tenantID, Hash: HashToken(secret)}
	if err := s.store.CreateToken(ctx, t); err != nil {
		return "", nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateToken, ID: t.ID})
	return secret, t, nil
}

// Authenticate resolves a token secret to the caller's Scope. Unknown,
// revoked and malformed tokens all give ErrUnauthenticated.
//
// Answers are cached (see invalidation.go), so a busy API does not pay a
// database round trip per request: revoking a token, deleting or moving its
// tenant drop the cached answer before the write returns, in this process
// at once and in the others as soon as the store's notification arrives.
// While the database is unreachable the last known answer is used, so that
// durable submissions (CDRs) from known callers are still accepted into the
// spool during an outage; a token whose revocation was seen has no cached
// answer left and is refused even then.
func (s *Service) Authenticate(ctx context.Context, secret string) (Scope, *Token, error) {
	if secret == "" || len(secret) > 200 {
		return Scope{}, nil, ErrUnauthenticated
	}
	e, err := load(ctx, s, &s.tokens, "token", HashToken(secret), s.authenticate)
	if err != nil {
		return Scope{}, nil, err
	}
	t := *e.token
	return e.scope, &t, nil
}

// tokenEntry is a cached token check.
type tokenEntry struct {
	scope Scope
	token *Token
}

// authenticate checks the token whose secret hashes to hash in the store.
func (s *Service) authenticate(ctx context.Context, hash string) (tokenEntry, error) {
	t, err := s.store.TokenByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return tokenEntry{}, ErrUnauthenticated
	}
	if err != nil {
		return tokenEntry{}, err
	}
	if t.RevokedAt != nil {
		return tokenEntry{}, ErrUnauthenticated
	}
	if t.Role == RoleAdmin {
		return tokenEntry{scope: AdminScope(), token: t}, nil
	}
	tenant, err := s.store.Tenant(ctx, *t.TenantID)
	if errors.Is(err, ErrNotFound) {
		return tokenEntry{}, ErrUnauthenticated
	}
	if err != nil {
		return tokenEntry{}, err
	}
	return tokenEntry{scope: Scope{Role: t.Role, TenantID: tenant.ID, Path: tenant.Path}, token: t}, nil
}

// Tokens lists API tokens (never their secrets).
func (s *Service) Tokens(ctx context.Context, p Page) ([]Token, error) {
	return s.store.Tokens(ctx, p.Normalize())
}

// RevokeToken revokes token id. Every listener of this process refuses it
// from the moment RevokeToken returns; other processes sharing the store as
// soon as its notification reaches them (PostgreSQL), or within CacheTTL
// (SQLite, where the command line's revocation cannot notify a daemon).
func (s *Service) RevokeToken(ctx context.Context, id int64) error {
	if err := s.store.RevokeToken(ctx, id); err != nil {
		return err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateToken, ID: id})
	return nil
}
