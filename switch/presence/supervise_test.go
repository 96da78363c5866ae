package presence

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/backoff"
)

// TestSupervise: failed attempts are retried with the wait retry chose,
// a connection that got as far as a resync resets the backoff, and the
// end of ctx marks the switch disconnected.
func TestSupervise(t *testing.T) {
	v := New()
	f := v.Feed("sw")
	ctx, cancel := context.WithCancel(context.Background())
	var waits []time.Duration
	attempts := 0
	run := func(ctx context.Context) (bool, error) {
		attempts++
		if attempts == 3 {
			f.SetConnected(true, nil)
			return true, errors.New("dropped")
		}
		if attempts == 5 {
			cancel()
			<-ctx.Done()
			return false, ctx.Err()
		}
		return false, errors.New("refused")
	}
	var slept []time.Duration
	retry := func(err error, connected bool, wait time.Duration) time.Duration {
		waits = append(waits, wait)
		return wait + time.Hour // what the sleep gets
	}
	b := backoff.New(4*time.Millisecond, 16*time.Millisecond)
	b.Sleep = func(ctx context.Context, d time.Duration) bool {
		slept = append(slept, d)
		return ctx.Err() == nil
	}
	if err := f.Supervise(ctx, b, run, retry); err != nil {
		t.Fatal(err)
	}
	// Backoff 4, 8, then reset to 4 after the connected attempt, then 8:
	// each wait is in the upper half of its backoff.
	bounds := [][2]time.Duration{{2, 4}, {4, 8}, {2, 4}, {4, 8}}
	if len(waits) != len(bounds) {
		t.Fatalf("waits %v", waits)
	}
	for i, b := range bounds {
		if waits[i] < b[0]*time.Millisecond || waits[i] > b[1]*time.Millisecond {
			t.Errorf("wait %d = %v, want in [%dms, %dms]", i, waits[i], b[0], b[1])
		}
	}
	for i, d := range slept {
		if d != waits[i]+time.Hour {
			t.Errorf("slept %v after failure %d, want retry's %v", d, i, waits[i]+time.Hour)
		}
	}
	if s := v.Switches()[0]; s.Connected {
		t.Errorf("still connected after ctx ended: %+v", s)
	}
}
