// Package debounce turns a burst of change signals into one round of
// work: the switch configuration writers (genfile's keeper, FreeSWITCH's
// reloader) wait with it after the first signal, so that a hundred API
// writes in a second cost the switch one reload, not a hundred.
package debounce

import (
	"context"
	"time"
)

// Settle waits until no signal has come on wake for quiet, or for ten
// times quiet in all (so that a steady trickle still gets its round), and
// returns nil; it returns ctx's error if ctx ends first.
func Settle(ctx context.Context, wake <-chan struct{}, quiet time.Duration) error {
	deadline := time.Now().Add(10 * quiet)
	t := time.NewTimer(quiet)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case <-wake:
			wait := min(quiet, time.Until(deadline))
			if wait <= 0 {
				return nil
			}
			t.Reset(wait)
		}
	}
}
