package debounce

import (
	"context"
	"testing"
	"time"
)

// TestSettle: a quiet channel ends the wait after quiet; a steady trickle
// of signals ends it by ten times quiet at the latest; a cancelled
// context ends it with its error.
func TestSettle(t *testing.T) {
	const quiet = 20 * time.Millisecond
	wake := make(chan struct{})
	start := time.Now()
	if err := Settle(context.Background(), wake, quiet); err != nil || time.Since(start) < quiet {
		t.Fatalf("quiet: %v after %v", err, time.Since(start))
	}

	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case wake <- struct{}{}:
				time.Sleep(quiet / 4)
			}
		}
	}()
	start = time.Now()
	err := Settle(context.Background(), wake, quiet)
	close(stop)
	if took := time.Since(start); err != nil || took < 9*quiet || took > 40*quiet {
		t.Fatalf("trickle: %v after %v, want about %v", err, took, 10*quiet)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Settle(ctx, wake, time.Hour); err != context.Canceled {
		t.Fatalf("cancelled: %v", err)
	}
}
