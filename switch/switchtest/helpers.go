package switchtest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// WaitTimeout is how long WaitFor waits. Everything it waits for is in
// memory or on loopback, so reaching it means a bug, not a slow machine.
const WaitTimeout = 10 * time.Second

// WaitFor polls cond, briefly at first and then every 10ms, until it holds,
// and fails t (Fatal) if it does not within WaitTimeout. Tests wait for
// asynchronous effects with it instead of sleeping a fixed time: it returns
// as soon as the effect is there.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	delay := 50 * time.Microsecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", WaitTimeout, what)
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// CDRSink is a cdr.Sink that keeps what it is given, for tests of CDR
// sources. It can be told to fail. The zero value is ready to use and safe
// for concurrent use.
type CDRSink struct {
	mu       sync.Mutex
	recs     []cdr.Record
	attempts int
	failN    int
	failErr  error
}

var _ cdr.Sink = (*CDRSink)(nil)

// Put records recs, or fails without recording them while FailNext is in
// force.
func (s *CDRSink) Put(ctx context.Context, recs ...cdr.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.failN > 0 {
		s.failN--
		return s.failErr
	}
	s.recs = append(s.recs, recs...)
	return nil
}

// FailNext makes the next n calls of Put fail with err.
func (s *CDRSink) FailNext(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failErr = n, err
}

// Records returns every record accepted, in order, including legs handed
// over more than once.
func (s *CDRSink) Records() []cdr.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs)
}

// Attempts returns the number of Put calls, failed ones included.
func (s *CDRSink) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Leg returns the records accepted for one call leg (any switch), in order.
func (s *CDRSink) Leg(callID string) []cdr.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []cdr.Record
	for _, r := range s.recs {
		if r.CallID == callID {
			out = append(out, r)
		}
	}
	return out
}
