package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
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
	return secret, t, nil
}

// Authenticate resolves a token secret to the caller's Scope. Unknown,
// revoked and malformed tokens all give ErrUnauthenticated.
//
// Successful answers are remembered for TokenCacheTTL, so a busy API does
// not pay a database round trip per request, and beyond it while the
// database is unreachable, so that durable submissions (CDRs) from known
// callers are still accepted, into the spool, during an outage. A revoked
// token therefore stops working within TokenCacheTTL.
func (s *Service) Authenticate(ctx context.Context, secret string) (Scope, *Token, error) {
	if secret == "" || len(secret) > 200 {
		return Scope{}, nil, ErrUnauthenticated
	}
	hash := HashToken(secret)
	cached, ok := s.tokens.get(hash)
	if ok && time.Since(cached.at) < s.tokenTTL {
		return cached.scope, cached.token, nil
	}
	scope, t, err := s.authenticate(ctx, hash)
	switch {
	case err == nil:
		s.tokens.put(hash, tokenEntry{scope: scope, token: t, at: time.Now()})
		return scope, t, nil
	case errors.Is(err, ErrUnauthenticated):
		s.tokens.drop(hash)
		return Scope{}, nil, err
	case ok && ctx.Err() == nil:
		s.log.WarnContext(ctx, "token check failed; using the cached answer", "token_id", cached.token.ID, "err", err)
		return cached.scope, cached.token, nil
	default:
		return Scope{}, nil, err
	}
}

func (s *Service) authenticate(ctx context.Context, hash string) (Scope, *Token, error) {
	t, err := s.store.TokenByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Scope{}, nil, ErrUnauthenticated
	}
	if err != nil {
		return Scope{}, nil, err
	}
	if t.RevokedAt != nil {
		return Scope{}, nil, ErrUnauthenticated
	}
	if t.Role == RoleAdmin {
		return AdminScope(), t, nil
	}
	tenant, err := s.store.Tenant(ctx, *t.TenantID)
	if errors.Is(err, ErrNotFound) {
		return Scope{}, nil, ErrUnauthenticated
	}
	if err != nil {
		return Scope{}, nil, err
	}
	return Scope{Role: t.Role, TenantID: tenant.ID, Path: tenant.Path}, t, nil
}

// TokenCacheTTL is how long a successful token check is reused.
const TokenCacheTTL = 30 * time.Second

type tokenEntry struct {
	scope Scope
	token *Token
	at    time.Time
}

// tokenCache remembers successful token checks by token hash. It is
// bounded: when full, it is cleared (tokens are few; a clear only costs a
// round trip per token).
type tokenCache struct {
	mu sync.Mutex
	m  map[string]tokenEntry
}

const tokenCacheMax = 10000

func (c *tokenCache) get(hash string) (tokenEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	return e, ok
}

func (c *tokenCache) put(hash string, e tokenEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tokenCacheMax {
		c.m = map[string]tokenEntry{}
	}
	c.m[hash] = e
}

func (c *tokenCache) drop(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, hash)
}

// Tokens lists API tokens (never their secrets).
func (s *Service) Tokens(ctx context.Context, p Page) ([]Token, error) {
	return s.store.Tokens(ctx, p.Normalize())
}

// RevokeToken revokes token id. This process forgets the token at once;
// other processes (the daemon, when the CLI revokes) within TokenCacheTTL.
func (s *Service) RevokeToken(ctx context.Context, id int64) error {
	if err := s.store.RevokeToken(ctx, id); err != nil {
		return err
	}
	s.tokens.mu.Lock()
	for h, e := range s.tokens.m {
		if e.token.ID == id {
			delete(s.tokens.m, h)
		}
	}
	s.tokens.mu.Unlock()
	return nil
}
