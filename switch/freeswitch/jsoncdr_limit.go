package freeswitch

import (
	"sync"
	"time"
)

// tokenBucket is the per-node budget of dead letters a json_cdr endpoint
// stores: up to perMinute at once, then perMinute a minute, refilled
// continuously. Real FreeSWITCH posts a malformed record rarely (a bug, a
// truncated body); a flood of them is a broken or hostile sender with the
// node's credentials, and each stored dead letter costs database space.
type tokenBucket struct {
	mu        sync.Mutex
	perMinute float64
	tokens    float64
	last      time.Time
	now       func() time.Time
}

func newTokenBucket(perMinute int, now func() time.Time) *tokenBucket {
	if now == nil {
		now = time.Now
	}
	return &tokenBucket{perMinute: float64(perMinute), tokens: float64(perMinute), last: now(), now: now}
}

// take spends one token if there is one; otherwise it reports how long
// until there is.
func (b *tokenBucket) take() (ok bool, retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.perMinute, b.tokens+d.Minutes()*b.perMinute)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.perMinute * float64(time.Minute))
}
