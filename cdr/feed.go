package cdr

import (
	"sync"
	"sync/atomic"
)

// Feed fans newly stored CDRs out to live subscribers (Server-Sent Events
// for dashboards). Publishing never blocks the write path: a subscriber that
// falls a whole buffer behind is cut off and told so through Lagged, and is
// expected to reconnect and catch up with a query.
type Feed struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription receives the CDRs stored after it was made, in commit order.
type Subscription struct {
	// C delivers records. It is closed when the subscription ends: after
	// Close, or when the subscriber fell behind (then Lagged is true).
	C <-chan Record

	c      chan Record
	feed   *Feed
	lagged atomic.Bool
	once   sync.Once
}

// NewFeed returns a feed with no subscribers.
func NewFeed() *Feed { return &Feed{subs: map[*Subscription]struct{}{}} }

// Subscribe starts a subscription with room for buffer undelivered records
// (at least 1).
func (f *Feed) Subscribe(buffer int) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	c := make(chan Record, buffer)
	s := &Subscription{C: c, c: c, feed: f}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

// Publish hands recs to every subscriber, cutting off those whose buffer is
// full.
func (f *Feed) Publish(recs []Record) {
	if len(recs) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		for _, r := range recs {
			select {
			case s.c <- r:
				continue
			default:
			}
			s.lagged.Store(true)
			delete(f.subs, s)
			s.once.Do(func() { close(s.c) })
			break
		}
	}
}

// Subscribers returns how many subscriptions are live.
func (f *Feed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// Close ends the subscription; C is closed. Calling it twice is harmless.
func (s *Subscription) Close() {
	s.feed.mu.Lock()
	delete(s.feed.subs, s)
	s.feed.mu.Unlock()
	s.once.Do(func() { close(s.c) })
}

// Lagged reports whether the subscription was cut off because its
// subscriber did not keep up.
func (s *Subscription) Lagged() bool { return s.lagged.Load() }
