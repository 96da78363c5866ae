package authz

import (
	"context"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// CallLimiter is what ProvisioningLimits reads: provisioning.Service's
// CallLimits.
type CallLimiter interface {
	CallLimits(ctx context.Context, tenantID, userID int64) (tenant, user *provisioning.Limit, err error)
}

// ProvisioningLimits adapts the provisioning limits to a LimitSource,
// each tenant's and user's kept for LimitsTTL: they are asked on every
// call and change rarely, and two queries a call were most of the
// authorization's time on SQLite. A change applies within LimitsTTL.
func ProvisioningLimits(l CallLimiter) LimitSource {
	return &provLimits{l: l, now: time.Now, m: map[[2]int64]cachedLimits{}}
}

// LimitsTTL is how long ProvisioningLimits keeps what it read.
const LimitsTTL = time.Second

type provLimits struct {
	l   CallLimiter
	now func() time.Time
	mu  sync.Mutex
	m   map[[2]int64]cachedLimits
}

type cachedLimits struct {
	t, u Limits
	at   time.Time
}

func (p *provLimits) Limits(ctx context.Context, tenantID, userID int64) (Limits, Limits, error) {
	k, now := [2]int64{tenantID, userID}, p.now()
	p.mu.Lock()
	c, ok := p.m[k]
	p.mu.Unlock()
	if ok && now.Sub(c.at) < LimitsTTL {
		return c.t, c.u, nil
	}
	t, u, err := p.l.CallLimits(ctx, tenantID, userID)
	if err != nil {
		return Limits{}, Limits{}, err
	}
	c = cachedLimits{t: limitsOf(t), u: limitsOf(u), at: now}
	p.mu.Lock()
	if len(p.m) > 100_000 { // bounded: forget everything rather than grow
		clear(p.m)
	}
	p.m[k] = c
	p.mu.Unlock()
	return c.t, c.u, nil
}

func limitsOf(l *provisioning.Limit) Limits {
	if l == nil {
		return Limits{}
	}
	return Limits{Concurrent: l.ConcurrentCalls, CallsPerMinute: l.CallsPerMinute, CostPerHour: l.CostPerHour,
		CostPerDay: l.CostPerDay, CostPerMonth: l.CostPerMonth, MaxCallSeconds: l.MaxCallSeconds}
}
