package asterisk

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
)

// TestConfigClientAfterSilentNode: a node that went silent without
// closing TCP (seen live) leaves the pusher's kept-alive connections
// dead. The first request on one fails by its deadline; the next must go
// out on a new connection and be answered at once, not hang on the next
// dead one in the pool.
func TestConfigClientAfterSilentNode(t *testing.T) {
	srv := aritest.New(t)
	c := NewConfigClient(srv.URL, aritest.User, aritest.Password, nil)
	get := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, err := c.Get(ctx, ObjectRef{Type: PJSIPAOR, ID: "1001"})
		if errors.Is(err, ErrConfigNotFound) {
			err = nil // an answer all the same
		}
		return err
	}
	// Two requests at once, each answered slowly: two pooled connections.
	srv.Delay(50 * time.Millisecond)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := get(2 * time.Second); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	srv.Delay(0)

	srv.StallNode()
	if err := get(200 * time.Millisecond); err == nil {
		t.Fatal("a request on a dead connection was answered")
	}
	start := time.Now()
	if err := get(2 * time.Second); err != nil {
		t.Fatalf("the request after the failure: %v (%v), want an answer over a new connection", err, time.Since(start))
	}
}
