package presence

import (
	"context"
	"time"

	"github.com/switchboard-voip/switchboard/internal/backoff"
)

// Supervise runs one switch connection after another into f until ctx
// ends, then marks the switch disconnected and returns nil. run is one
// connection: it returns why it ended and whether it got as far as a
// resync (a connection that did resets the backoff). Between attempts it
// waits b's next wait (jittered and doubling, so that nodes restarted
// together do not reconnect in step). retry,
// when set, sees each failure with the wait chosen and returns the wait to
// use (to log it, or to wait longer for an error no retry can fix soon,
// such as a refused password).
func (f *Feed) Supervise(ctx context.Context, b *backoff.Backoff,
	run func(ctx context.Context) (connected bool, err error),
	retry func(err error, connected bool, wait time.Duration) time.Duration) error {
	for {
		connected, err := run(ctx)
		if ctx.Err() != nil {
			f.SetConnected(false, nil)
			return nil
		}
		f.SetConnected(false, err)
		if connected {
			b.Reset()
		}
		wait := b.Next()
		if retry != nil {
			wait = retry(err, connected, wait)
		}
		if !b.Pause(ctx, wait) {
			f.SetConnected(false, nil)
			return nil
		}
	}
}
