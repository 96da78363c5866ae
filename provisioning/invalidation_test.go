package provisioning_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/provisioningtest"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

func TestInvalidationWireForm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want provisioning.Invalidation
	}{
		{"token:12", provisioning.Invalidation{Kind: provisioning.InvalidateToken, ID: 12}},
		{"token", provisioning.Invalidation{Kind: provisioning.InvalidateToken}},
		{"domain", provisioning.Invalidation{Kind: provisioning.InvalidateDomain}},
		{"tenant", provisioning.Invalidation{Kind: provisioning.InvalidateTenant}},
		{"all", provisioning.Invalidation{Kind: provisioning.InvalidateAll}},
		{"whitelist", provisioning.Invalidation{Kind: provisioning.InvalidateWhitelist}},
		{"whitelist:3", provisioning.Invalidation{Kind: provisioning.InvalidateAll}},
		{"routing:3", provisioning.Invalidation{Kind: provisioning.InvalidateRouting, ID: 3}},
		{"routing", provisioning.Invalidation{Kind: provisioning.InvalidateRouting}},
		{"routing:0", provisioning.Invalidation{Kind: provisioning.InvalidateAll}},
		// What a process does not understand drops everything.
		{"token:-1", provisioning.Invalidation{Kind: provisioning.InvalidateAll}},
		{"token:x", provisioning.Invalidation{Kind: provisioning.InvalidateAll}},
		{"domain:3", provisioning.Invalidation{Kind: provisioning.InvalidateAll}},
		{"gateway", provisioning.Invalidation{Kind: provisioning.InvalidateAll}},
		{"", provisioning.Invalidation{Kind: provisioning.InvalidateAll}},
	} {
		got := provisioning.ParseInvalidation(tc.in)
		if got != tc.want {
			t.Errorf("ParseInvalidation(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if tc.want.Kind != provisioning.InvalidateAll && got.String() != tc.in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}

// fakeSource is an InvalidationSource the test drives: each Listen session
// waits for ready, then delivers what is sent on deliver until an error
// is sent on fail.
type fakeSource struct {
	provisioning.Store
	sessions chan struct{} // a Listen began
	ready    chan struct{}
	deliver  chan provisioning.Invalidation
	fail     chan error
}

func (f *fakeSource) Listen(ctx context.Context, ready func(), deliver func(provisioning.Invalidation)) error {
	f.sessions <- struct{}{}
	select {
	case <-f.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	ready()
	for {
		select {
		case inv := <-f.deliver:
			deliver(inv)
			f.sessions <- struct{}{} // delivered
		case err := <-f.fail:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TestFollowInvalidations: while the stream is down every check asks the
// store; once it is up cached answers are used and delivered invalidations
// drop them; a broken stream bypasses the caches again and its reconnection
// drops everything (what was sent meanwhile is lost).
func TestFollowInvalidations(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		must(t, sqlstore.Migrate(ctx, db))
		store := sqlstore.New(db)
		count := &provisioningtest.CountingStore{Store: store}
		src := &fakeSource{Store: count, sessions: make(chan struct{}), ready: make(chan struct{}),
			deliver: make(chan provisioning.Invalidation), fail: make(chan error)}
		svc := provisioning.NewService(src, provisioning.WithCacheTTL(time.Hour),
			provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		secret, tok, err := svc.CreateToken(ctx, "f", provisioning.RoleAdmin, nil)
		must(t, err)
		// calls is the number of store calls of one more token check.
		calls := func() int64 {
			t.Helper()
			count.Reset()
			if _, _, err := svc.Authenticate(ctx, secret); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			return count.Calls()
		}

		fctx, stop := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- svc.FollowInvalidations(fctx) }()
		defer func() { stop(); <-done }()

		<-src.sessions // connecting, not ready: nothing is trusted
		calls()
		if n := calls(); n == 0 {
			t.Error("stream not connected: a cached answer was trusted")
		}
		src.ready <- struct{}{}
		for svc.ListenSessions() != 1 {
			time.Sleep(time.Millisecond)
		}
		calls()
		if n := calls(); n != 0 {
			t.Errorf("stream connected: %d store calls for a cached token", n)
		}

		// Another process revokes the token and says so.
		must(t, store.RevokeToken(ctx, tok.ID))
		src.deliver <- provisioning.Invalidation{Kind: provisioning.InvalidateToken, ID: tok.ID}
		<-src.sessions
		if _, _, err := svc.Authenticate(ctx, secret); !errors.Is(err, provisioning.ErrUnauthenticated) {
			t.Errorf("revoked elsewhere and notified: err = %v", err)
		}

		secret2, tok2, err := svc.CreateToken(ctx, "g", provisioning.RoleAdmin, nil)
		must(t, err)
		secret = secret2
		calls()
		src.fail <- errors.New("connection reset")
		<-src.sessions // reconnecting
		if svc.Listening() {
			t.Error("Listening after the stream broke")
		}
		if n := calls(); n == 0 {
			t.Error("stream broken: a cached answer was trusted")
		}
		// Revoked while the stream is down: the notification is lost.
		must(t, store.RevokeToken(ctx, tok2.ID))
		src.ready <- struct{}{}
		for svc.ListenSessions() != 2 {
			time.Sleep(time.Millisecond)
		}
		if _, _, err := svc.Authenticate(ctx, secret); !errors.Is(err, provisioning.ErrUnauthenticated) {
			t.Errorf("revoked while the stream was down: err = %v after reconnecting", err)
		}
	})
}

// TestInvalidationsAcrossDaemons runs two Services, as two daemons would,
// on one PostgreSQL schema: a token revoked by one is refused by the other
// as soon as the notification arrives, a domain created by one is in the
// other's scope lists, and a listener connection that is killed comes back
// and catches up.
func TestInvalidationsAcrossDaemons(t *testing.T) {
	dsn, ok := sqldbtest.DSNs(t)[sqldb.Postgres]
	if !ok {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	open := func() (*sqldb.DB, *provisioning.Service) {
		db, err := sqldb.Open(ctx, dsn)
		must(t, err)
		t.Cleanup(func() { db.Close() })
		must(t, sqlstore.Migrate(ctx, db))
		svc := provisioning.NewService(sqlstore.New(db), provisioning.WithCacheTTL(time.Hour), provisioning.WithBcryptCost(4),
			provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		fctx, stop := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- svc.FollowInvalidations(fctx) }()
		t.Cleanup(func() { stop(); <-done })
		return db, svc
	}
	dbA, a := open()
	_, b := open()
	eventually := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s: not within 10 s", what)
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(start)
	}
	eventually("both listening", func() bool { return a.Listening() && b.Listening() })

	x := &provisioning.Tenant{Name: "X"}
	must(t, a.CreateTenant(ctx, admin, x))
	must(t, a.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: x.ID, Name: "x.example"}))
	secret, tok, err := a.CreateToken(ctx, "x", provisioning.RoleTenantAdmin, &x.ID)
	must(t, err)
	sc, _, err := b.Authenticate(ctx, secret) // warm in B
	must(t, err)
	names, err := b.ScopeDomainNames(ctx, sc)
	must(t, err)
	if !slices.Equal(names, []string{"x.example"}) {
		t.Fatalf("B's scope domains: %q", names)
	}

	must(t, a.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: x.ID, Name: "y.example"}))
	d := eventually("B sees the domain A created", func() bool {
		names, err := b.ScopeDomainNames(ctx, sc)
		return err == nil && len(names) == 2
	})
	t.Logf("domain created by A reached B's cache in %v", d)

	must(t, a.RevokeToken(ctx, tok.ID))
	d = eventually("B refuses the token A revoked", func() bool {
		_, _, err := b.Authenticate(ctx, secret)
		return errors.Is(err, provisioning.ErrUnauthenticated)
	})
	t.Logf("revocation by A reached B in %v", d)

	// Kill both listening connections: each daemon reconnects, and what
	// changed meanwhile (a domain deleted) is not served stale.
	var schema string
	must(t, dbA.GetContext(ctx, &schema, `SELECT current_schema()`))
	y, err := a.DomainByName(ctx, admin, "y.example")
	must(t, err)
	var killed int
	must(t, dbA.GetContext(ctx, &killed, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = $1`,
		fmt.Sprintf(`LISTEN "switchboard_provisioning:%s"`, schema)))
	if killed != 2 {
		t.Fatalf("terminated %d listening connections, want 2", killed)
	}
	must(t, a.DeleteDomain(ctx, admin, y.ID))
	eventually("B reconnected", func() bool { return b.ListenSessions() == 2 && b.Listening() })
	names, err = b.ScopeDomainNames(ctx, sc)
	must(t, err)
	if !slices.Equal(names, []string{"x.example"}) {
		t.Errorf("B's scope domains after reconnecting: %q, want only x.example", names)
	}
}
