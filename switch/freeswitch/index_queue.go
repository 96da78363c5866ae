package freeswitch

import (
	"context"
	"time"
)

// indexQueue is the event queue and loop of the file indexers (faxes,
// call recordings): the adapter hands events over without blocking (a
// full queue drops them, and the scan finds their files), and the loop
// handles them one at a time with a scan at start and every period, so
// that an event and the scan never handle the same file at once.
type indexQueue chan Event

func newIndexQueue() indexQueue { return make(indexQueue, 1000) }

// offer queues ev unless the queue is full; it never blocks.
func (q indexQueue) offer(ev Event) {
	select {
	case q <- ev:
	default:
	}
}

// run scans, then handles events and scans every period until ctx ends.
func (q indexQueue) run(ctx context.Context, every time.Duration, event func(Event), scan func()) error {
	t := time.NewTicker(every)
	defer t.Stop()
	scan()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-q:
			event(ev)
		case <-t.C:
			scan()
		}
	}
}
