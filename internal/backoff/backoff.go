// Package backoff is the one retry policy of Switchboard: every loop that
// retries a switch, a database or a sink waits through a Backoff, so the
// waits, their jitter and their cap are the same everywhere and tested
// once (three hand-written loops were three sets of bugs).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the state of one retry loop: a wait that doubles from Min to
// Max after each failure and returns to Min on Reset. Each wait is drawn
// from the upper half of the current step (full jitter over [d/2, d]), so
// that clients failed by the same outage do not retry in step.
//
// A Backoff is not safe for concurrent use: it belongs to one loop.
type Backoff struct {
	// Min is the first wait; Max caps every wait.
	Min, Max time.Duration
	// Sleep waits d or until ctx ends and reports whether ctx is still
	// live. Nil means a real timer; tests replace it to run without time.
	Sleep func(ctx context.Context, d time.Duration) bool

	step time.Duration
}

// New returns a Backoff from min to max (max below min is raised to min).
func New(min, max time.Duration) *Backoff {
	return &Backoff{Min: min, Max: max}
}

// Next returns the wait before the next attempt and doubles the step.
func (b *Backoff) Next() time.Duration {
	lo, hi := max(b.Min, 1), max(b.Max, b.Min, 1)
	if b.step < lo {
		b.step = lo
	}
	d := b.step
	b.step = min(b.step*2, hi)
	if d < 2 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// Wait sleeps for Next and reports whether ctx is still live afterwards.
func (b *Backoff) Wait(ctx context.Context) bool {
	return b.sleep(ctx, b.Next())
}

// Pause sleeps for d, a wait the caller chose from Next (a caller that
// knows better, such as one refused a password, waits longer), through
// the same replaceable Sleep, and reports whether ctx is still live.
func (b *Backoff) Pause(ctx context.Context, d time.Duration) bool {
	return b.sleep(ctx, d)
}

// Reset returns the step to Min: the next failure waits briefly again.
func (b *Backoff) Reset() { b.step = 0 }

func (b *Backoff) sleep(ctx context.Context, d time.Duration) bool {
	if b.Sleep != nil {
		return b.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

// Sleep waits d or until ctx ends, and reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
