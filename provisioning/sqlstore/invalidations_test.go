package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestInvalidationChannel: on PostgreSQL what one store broadcasts reaches
// a listener (its own process included) in its wire form; on SQLite
// Broadcast does nothing and Listen says at once that it cannot.
func TestInvalidationChannel(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		want := provisioning.Invalidation{Kind: provisioning.InvalidateToken, ID: 42}
		if db.Engine == sqldb.SQLite {
			must(t, s.Broadcast(ctx, want))
			if err := s.Listen(ctx, func() {}, func(provisioning.Invalidation) {}); !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("SQLite Listen: %v, want ErrUnsupported", err)
			}
			return
		}
		ready, got := make(chan struct{}), make(chan provisioning.Invalidation, 1)
		lctx, stop := context.WithCancel(ctx)
		done := make(chan error)
		go func() {
			done <- s.Listen(lctx, func() { close(ready) }, func(inv provisioning.Invalidation) { got <- inv })
		}()
		<-ready
		must(t, s.Broadcast(ctx, want))
		select {
		case inv := <-got:
			if inv != want {
				t.Errorf("received %+v, want %+v", inv, want)
			}
		case <-ctx.Done():
			t.Fatal("no notification within 10 s")
		}
		stop()
		if err := <-done; err != nil {
			t.Errorf("Listen after its context ended: %v, want nil", err)
		}
	})
}
