package sip

import (
	"context"
	"slices"
	"sync"
	"time"
)

// workerIdle is how long a probe worker waits for its next probe before
// it exits.
const workerIdle = 5 * time.Second

// workerPool runs probes on goroutines that outlive their probe, so that
// the stacks they grew through sipgo's call depth are reused: a fresh
// goroutine per probe spent about a fifth of the prober's CPU growing its
// stack. Idle workers form a stack: the last to finish gets the next
// probe, so at a steady rate only as many workers stay busy as there are
// probes in flight, and the rest time out. (A shared channel would hand
// probes round-robin to every worker ever started, keeping them all.)
type workerPool struct {
	wg   *sync.WaitGroup
	mu   sync.Mutex
	idle []*worker
}

type worker struct {
	jobs chan probeJob // capacity 1: dispatch never blocks
}

// dispatch runs job with run on an idle worker, or on a new one.
func (wp *workerPool) dispatch(ctx context.Context, job probeJob, run func(context.Context, probeJob)) {
	wp.mu.Lock()
	if n := len(wp.idle); n > 0 {
		w := wp.idle[n-1]
		wp.idle[n-1] = nil
		wp.idle = wp.idle[:n-1]
		wp.mu.Unlock()
		w.jobs <- job
		return
	}
	wp.mu.Unlock()
	wp.wg.Add(1)
	go wp.work(ctx, &worker{jobs: make(chan probeJob, 1)}, job, run)
}

func (wp *workerPool) work(ctx context.Context, w *worker, job probeJob, run func(context.Context, probeJob)) {
	defer wp.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		run(ctx, job)
		wp.mu.Lock()
		wp.idle = append(wp.idle, w)
		wp.mu.Unlock()
		idle.Reset(workerIdle)
		select {
		case job = <-w.jobs:
			continue
		case <-ctx.Done():
			return
		case <-idle.C:
		}
		if !wp.leave(w) {
			// Handed a probe as the timer fired: run it.
			job = <-w.jobs
			continue
		}
		return
	}
}

// leave takes w off the idle stack, unless dispatch already took it.
func (wp *workerPool) leave(w *worker) bool {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	for i, o := range wp.idle {
		if o == w {
			wp.idle = slices.Delete(wp.idle, i, i+1)
			return true
		}
	}
	return false
}
