package cdr

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// The queue between the Puts and the writer, the waiters that make a Put
// return once its records are durable, and the recent keys that spare a
// re-post its round trip to the store.

// item is one entry of the queue: a record, or a dead letter, and the
// Put waiting for it (nil for spool replays).
type item struct {
	rec Record
	dl  *DeadLetter
	w   *waiter
	// ownerPending is set when the lookup of rec's owner failed: it is
	// tried again before rec is written (see Pipeline.Put).
	ownerPending bool
}

// split separates the records of items from the dead letters, keeping
// order.
func split(items []item) (recs, dls []item) {
	if !slices.ContainsFunc(items, func(it item) bool { return it.dl != nil }) {
		return items, nil // the usual case, without a copy
	}
	for _, it := range items {
		if it.dl != nil {
			dls = append(dls, it)
		} else {
			recs = append(recs, it)
		}
	}
	return recs, dls
}

// waiter is a Put waiting for its items to be durable.
type waiter struct {
	left atomic.Int64
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func newWaiter() *waiter { return &waiter{done: make(chan struct{})} }

// finish marks one item done, failed if err is not nil. A nil waiter
// (spool replays have none) ignores it.
func (w *waiter) finish(err error) {
	if w == nil {
		return
	}
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
	if w.left.Add(-1) == 0 {
		close(w.done)
	}
}

func (w *waiter) result() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// queue is the bounded queue between the Puts and the writer.
type queue struct {
	mu     sync.Mutex
	items  []item
	limit  int
	closed bool
	space  chan struct{} // closed (and replaced) when room is made
	ready  chan struct{} // holds a token while items wait
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, space: make(chan struct{}), ready: make(chan struct{}, 1)}
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// put appends items, waiting for room as needed. The items of one call
// are appended together when they fit, so the writer takes a Put whole.
// On an error some items may have been queued: they are written anyway.
func (q *queue) put(ctx context.Context, items []item) error {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return ErrPipelineClosed
		}
		if n := min(len(items), q.limit-len(q.items)); n > 0 {
			q.items = append(q.items, items[:n]...)
			items = items[n:]
			select {
			case q.ready <- struct{}{}:
			default:
			}
		}
		if len(items) == 0 {
			q.mu.Unlock()
			return nil
		}
		space := q.space
		q.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take waits for items and takes up to max of them, oldest first. It
// reports false when ctx ends first.
func (q *queue) take(ctx context.Context, max int) ([]item, bool) {
	for {
		if ctx.Err() != nil {
			return nil, false
		}
		if batch := q.takeNow(max); len(batch) > 0 {
			return batch, true
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// takeNow takes up to max items without waiting.
func (q *queue) takeNow(max int) []item {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(max, len(q.items))
	if n == 0 {
		return nil
	}
	var batch []item
	if n == len(q.items) {
		batch, q.items = q.items, nil // the usual case, without a copy
	} else {
		batch = make([]item, n)
		copy(batch, q.items)
		clear(q.items[:n])
		q.items = q.items[n:]
	}
	if len(q.items) > 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	if !q.closed {
		close(q.space)
		q.space = make(chan struct{})
	}
	return batch
}

// close refuses further items; queued ones stay for takeNow. Puts
// waiting for room get ErrPipelineClosed.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.space)
	}
}

// pipeKey is a record's dedup key.
type pipeKey struct{ sw, callID string }

// recentKeys remembers the keys of the last records stored or spooled, a
// fixed number in a ring.
type recentKeys struct {
	mu   sync.Mutex
	set  map[pipeKey]struct{}
	ring []pipeKey
	next int
}

func newRecentKeys(n int) *recentKeys {
	return &recentKeys{set: make(map[pipeKey]struct{}, n), ring: make([]pipeKey, n)}
}

func (k *recentKeys) containsLocked(sw, callID string) bool {
	_, ok := k.set[pipeKey{sw, callID}]
	return ok
}

// add remembers the records among items.
func (k *recentKeys) add(items []item) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range items {
		if items[i].dl != nil {
			continue
		}
		key := pipeKey{items[i].rec.Switch, items[i].rec.CallID}
		if _, ok := k.set[key]; ok {
			continue
		}
		if old := k.ring[k.next]; old != (pipeKey{}) {
			delete(k.set, old)
		}
		k.ring[k.next] = key
		k.set[key] = struct{}{}
		k.next = (k.next + 1) % len(k.ring)
	}
}
