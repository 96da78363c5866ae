package provisioning

import (
	"context"
	"errors"
	"sync"
	"time"
)

// cacheMax bounds each cache. A full cache is cleared rather than evicted
// entry by entry: tokens and domains are few next to this, so a clear costs
// one store round trip per live key, and the cache stays a plain map.
const cacheMax = 10000

// cached is one entry and when it was read from the store.
type cached[V any] struct {
	v  V
	at time.Time
}

// versioned is a map of values read from the store, kept correct by
// invalidation: every write that changes what it holds drops the affected
// entries (see invalidation.go). Its generation counts invalidations, so
// that a reader whose store query raced with a write cannot put back the
// value the write just invalidated: put is refused when the generation
// moved since the reader began (the gen it passes).
type versioned[K comparable, V any] struct {
	mu  sync.Mutex
	gen uint64
	m   map[K]cached[V]
}

// get returns k's entry, fresh or not.
func (c *versioned[K, V]) get(k K) (cached[V], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok
}

// generation is what a reader passes to put after its store query.
func (c *versioned[K, V]) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores v for k unless an invalidation happened since gen.
func (c *versioned[K, V]) put(gen uint64, k K, v V, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= cacheMax {
		c.m = map[K]cached[V]{}
	}
	c.m[k] = cached[V]{v: v, at: at}
}

// drop forgets k (a store answer that it is gone).
func (c *versioned[K, V]) drop(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, k)
}

// dropWhere forgets every entry for which match is true.
func (c *versioned[K, V]) dropWhere(match func(V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.m {
		if match(e.v) {
			delete(c.m, k)
		}
	}
}

// clear forgets everything.
func (c *versioned[K, V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}

// load returns c's entry for k while it is fresh (Service.fresh), else
// fetches it and keeps the answer. An answer that k is gone
// (ErrUnauthenticated, ErrNotFound) drops the entry. A failure of the store
// itself falls back to the last known answer, so that reads from known
// callers survive a database outage; the entry is read again for that,
// after the failed fetch, so an invalidation that arrived meanwhile (a
// revocation) is never bypassed: what was invalidated is gone, and only a
// later successful fetch can put it back.
func load[K comparable, V any](ctx context.Context, s *Service, c *versioned[K, V], what string, k K, fetch func(context.Context, K) (V, error)) (V, error) {
	if e, ok := c.get(k); ok && s.fresh(e.at) {
		return e.v, nil
	}
	gen := c.generation()
	v, err := fetch(ctx, k)
	switch {
	case err == nil:
		c.put(gen, k, v, time.Now())
		return v, nil
	case errors.Is(err, ErrUnauthenticated), errors.Is(err, ErrNotFound):
		c.drop(k)
		return v, err
	}
	if e, ok := c.get(k); ok && ctx.Err() == nil {
		s.log.WarnContext(ctx, "provisioning: store lookup failed; using the last known answer", "lookup", what, "err", err)
		return e.v, nil
	}
	return v, err
}
