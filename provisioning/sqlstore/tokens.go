package sqlstore

import (
	"context"
	"fmt"

	"github.com/switchboard-voip/switchboard/provisioning"
)

const tokenCols = `k.id, k.name, k.role, k.tenant_id, k.hash, k.created_at, k.revoked_at`

func fixToken(t *provisioning.Token) {
	utc(&t.CreatedAt)
	if t.RevokedAt != nil {
		utc(t.RevokedAt)
	}
}

// CreateToken inserts t (its Hash, never the secret) and sets its ID and
// CreatedAt.
func (s *Store) CreateToken(ctx context.Context, t *provisioning.Token) error {
	now := s.clock()
	var id int64
	if err := s.db.GetContext(ctx, &id, s.q(`INSERT INTO tokens (name, role, tenant_id, hash, created_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		t.Name, string(t.Role), t.TenantID, t.Hash, s.ts(now), s.tsPtr(t.RevokedAt)); err != nil {
		return s.writeErr(ctx, "create token", err, "hash", "a token with this hash already exists",
			optRef("tenant_id", "tenant", "tenants", t.TenantID))
	}
	t.ID, t.CreatedAt = id, now
	return nil
}

// TokenByHash returns the token whose secret hashes to hash, revoked or
// not. The hash stays out of the error: it is as good as a key to logs.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*provisioning.Token, error) {
	var t provisioning.Token
	if err := s.db.GetContext(ctx, &t, s.q(`SELECT `+tokenCols+` FROM tokens k WHERE k.hash = ?`), hash); err != nil {
		return nil, notFound(err, "token", "(by hash)")
	}
	fixToken(&t)
	return &t, nil
}

// Tokens lists tokens in ID order, revoked ones included.
func (s *Store) Tokens(ctx context.Context, p provisioning.Page) ([]provisioning.Token, error) {
	var w where
	query, args := w.page(`SELECT `+tokenCols+` FROM tokens k`, "k.id", p)
	return list(ctx, s, "tokens", query, args, fixToken)
}

// RevokeToken marks token id revoked. Revoking a revoked token keeps the
// first revocation time.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`),
		s.ts(s.clock()), id)
	if err != nil {
		return fmt.Errorf("sqlstore: revoke token %d: %w", id, err)
	}
	return oneRow(res, "token", id)
}
