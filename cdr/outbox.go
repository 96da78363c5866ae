package cdr

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/internal/backoff"
)

// Outbox holds the records a switch adapter produced until a Sink accepts
// them. Producers never block (events must keep flowing while the
// database is away); one Stream at a time delivers, retrying a refused
// Put with backoff, and what it has not delivered when its context ends
// stays for the next Stream. A record may carry an ack channel, told
// once the sink accepted it (a mod_json_cdr POST waits on it before
// answering).
//
// The zero Outbox is ready to use.
type Outbox struct {
	mu      sync.Mutex
	pending []outboxItem
	notify  chan struct{}
	once    sync.Once

	streaming sync.Mutex // one Stream at a time
}

type outboxItem struct {
	rec Record
	ack chan<- error
}

func (o *Outbox) init() { o.once.Do(func() { o.notify = make(chan struct{}, 1) }) }

// Add queues records; ack, when non-nil, receives nil once the last of
// them was accepted. It must have room for one value: Stream never
// blocks on it.
func (o *Outbox) Add(recs []Record, ack chan<- error) {
	if len(recs) == 0 {
		return
	}
	o.init()
	o.mu.Lock()
	for i, r := range recs {
		it := outboxItem{rec: r}
		if i == len(recs)-1 {
			it.ack = ack
		}
		o.pending = append(o.pending, it)
	}
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

// Pending returns how many records wait for a sink.
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

// Discard drops every queued record and returns how many there were; acks
// are not told. Benchmarks use it to keep the queue from growing.
func (o *Outbox) Discard() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(o.pending)
	o.pending = nil
	return n
}

// outboxBatch bounds one Put.
const outboxBatch = 256

// Stream hands the queued records to sink until ctx ends, then returns
// nil. A refused Put is retried after a doubling, jittered wait (50 ms to
// 5 s, internal/backoff), never dropped; log, if set, hears of each
// refusal.
func (o *Outbox) Stream(ctx context.Context, sink Sink, log *slog.Logger) error {
	o.init()
	o.streaming.Lock()
	defer o.streaming.Unlock()
	retry := backoff.New(50*time.Millisecond, 5*time.Second)
	for {
		o.mu.Lock()
		n := min(len(o.pending), outboxBatch)
		batch := o.pending[:n:n]
		o.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-o.notify:
				continue
			}
		}
		recs := make([]Record, len(batch))
		for i, it := range batch {
			recs[i] = it.rec
		}
		if err := sink.Put(ctx, recs...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			wait := retry.Next()
			if log != nil {
				log.Warn("CDR sink refused, retrying", "records", len(batch), "retry_in", wait, "err", err)
			}
			if !backoff.Sleep(ctx, wait) {
				return nil
			}
			continue
		}
		retry.Reset()
		o.mu.Lock()
		o.pending = o.pending[len(batch):]
		if len(o.pending) == 0 {
			o.pending = nil
		}
		o.mu.Unlock()
		for _, it := range batch {
			if it.ack != nil {
				select {
				case it.ack <- nil:
				default:
				}
			}
		}
	}
}
