package presence

import (
	"context"
	"math/rand/v2"
	"time"
)

// Supervise runs one switch connection after another into f until ctx
// ends, then marks the switch disconnected and returns nil. run is one
// connection: it returns why it ended and whether it got as far as a
// resync (a connection that did resets the backoff). Between attempts it
// waits a jittered, doubling backoff between lo and hi: full jitter
// over the upper half, so that nodes restarted together do not reconnect
// in step. retry, when set, sees each failure with the wait chosen and
// returns the wait to use (to log it, or to wait longer for an error no
// retry can fix soon, such as a refused password).
func (f *Feed) Supervise(ctx context.Context, lo, hi time.Duration,
	run func(ctx context.Context) (connected bool, err error),
	retry func(err error, connected bool, wait time.Duration) time.Duration) error {
	backoff := lo
	for {
		connected, err := run(ctx)
		if ctx.Err() != nil {
			f.SetConnected(false, nil)
			return nil
		}
		f.SetConnected(false, err)
		if connected {
			backoff = lo
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		if retry != nil {
			wait = retry(err, connected, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.SetConnected(false, nil)
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, hi)
	}
}
