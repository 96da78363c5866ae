package provisioning_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// flakyStore is the real store whose token lookups can be made to fail as
// an unreachable database does, and counted.
type flakyStore struct {
	*sqlstore.Store
	down    atomic.Bool
	lookups atomic.Int32
}

var errDown = errors.New("connection refused")

func (f *flakyStore) TokenByHash(ctx context.Context, hash string) (*provisioning.Token, error) {
	f.lookups.Add(1)
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.TokenByHash(ctx, hash)
}

func TestTokenCache(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		must(t, sqlstore.Migrate(ctx, db))
		fs := &flakyStore{Store: sqlstore.New(db)}
		tests := []struct {
			name        string
			ttl         time.Duration
			down        bool
			wantErr     error
			wantLookups int32 // store lookups of the second Authenticate
		}{
			{"fresh answer reused", time.Minute, false, nil, 0},
			{"expired answer rechecked", 0, false, nil, 1},
			{"database down: stale answer used", 0, true, nil, 1},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				fs.down.Store(false)
				svc := provisioning.NewService(fs, provisioning.WithCacheTTL(tc.ttl), provisioning.WithBcryptCost(4))
				secret, _, err := svc.CreateToken(ctx, "t", provisioning.RoleAdmin, nil)
				must(t, err)
				if _, _, err := svc.Authenticate(ctx, secret); err != nil {
					t.Fatal(err)
				}
				fs.down.Store(tc.down)
				fs.lookups.Store(0)
				sc, _, err := svc.Authenticate(ctx, secret)
				if !errors.Is(err, tc.wantErr) || (err == nil && !sc.All()) {
					t.Errorf("Authenticate = %+v, %v; want admin scope, %v", sc, err, tc.wantErr)
				}
				if got := fs.lookups.Load(); got != tc.wantLookups {
					t.Errorf("%d store lookups, want %d", got, tc.wantLookups)
				}
			})
		}
		t.Run("unknown token while down is refused", func(t *testing.T) {
			fs.down.Store(true)
			svc := provisioning.NewService(fs)
			if _, _, err := svc.Authenticate(ctx, "sbt_nope"); err == nil {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("revocation seen, then the database goes down: still refused", func(t *testing.T) {
			fs.down.Store(false)
			// TTL 0: every check asks the store, so an outage falls back
			// to the last known answer, which the revocation must have
			// removed.
			svc := provisioning.NewService(fs, provisioning.WithCacheTTL(0))
			secret, tok, err := svc.CreateToken(ctx, "o", provisioning.RoleAdmin, nil)
			must(t, err)
			_, _, err = svc.Authenticate(ctx, secret)
			must(t, err)
			must(t, svc.RevokeToken(ctx, tok.ID))
			fs.down.Store(true)
			if sc, _, err := svc.Authenticate(ctx, secret); err == nil {
				t.Errorf("revoked token accepted during an outage: scope %+v", sc)
			}
		})
		t.Run("revoked here is forgotten at once", func(t *testing.T) {
			fs.down.Store(false)
			svc := provisioning.NewService(fs, provisioning.WithCacheTTL(time.Hour))
			secret, tok, err := svc.CreateToken(ctx, "r", provisioning.RoleAdmin, nil)
			must(t, err)
			_, _, err = svc.Authenticate(ctx, secret)
			must(t, err)
			must(t, svc.RevokeToken(ctx, tok.ID))
			if _, _, err := svc.Authenticate(ctx, secret); !errors.Is(err, provisioning.ErrUnauthenticated) {
				t.Errorf("revoked token: err = %v", err)
			}
		})
	})
}

// slowStore holds a token lookup after the store answered and before the
// answer is returned, until release is closed: the window in which a
// concurrent revocation commits.
type slowStore struct {
	*sqlstore.Store
	answered chan struct{}
	release  chan struct{}
}

func (s *slowStore) TokenByHash(ctx context.Context, hash string) (*provisioning.Token, error) {
	t, err := s.Store.TokenByHash(ctx, hash)
	if s.answered != nil {
		close(s.answered)
		<-s.release
		s.answered = nil
	}
	return t, err
}

// TestCheckRacingRevocation: a token check that read the store just before
// a revocation committed may answer its own request, but must not put its
// stale answer into the cache after the revocation dropped it.
func TestCheckRacingRevocation(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		must(t, sqlstore.Migrate(ctx, db))
		store := &slowStore{Store: sqlstore.New(db)}
		svc := provisioning.NewService(store, provisioning.WithCacheTTL(time.Hour))
		secret, tok, err := svc.CreateToken(ctx, "race", provisioning.RoleAdmin, nil)
		must(t, err)
		store.answered, store.release = make(chan struct{}), make(chan struct{})
		answered := store.answered
		done := make(chan error)
		go func() {
			_, _, err := svc.Authenticate(ctx, secret)
			done <- err
		}()
		<-answered // the check has read the token, not yet revoked
		must(t, svc.RevokeToken(ctx, tok.ID))
		close(store.release)
		if err := <-done; err != nil {
			t.Fatalf("the check that began before the revocation: %v", err)
		}
		if _, _, err := svc.Authenticate(ctx, secret); !errors.Is(err, provisioning.ErrUnauthenticated) {
			t.Errorf("after the revocation: err = %v, want ErrUnauthenticated", err)
		}
	})
}
