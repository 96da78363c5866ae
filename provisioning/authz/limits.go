package authz

import (
	"context"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// CallLimiter is what ProvisioningLimits reads: provisioning.Service's
// CallLimits.
type CallLimiter interface {
	CallLimits(ctx context.Context, tenantID, userID int64) (tenant, user *provisioning.Limit, err error)
}

// ProvisioningLimits adapts the provisioning limits to a LimitSource.
func ProvisioningLimits(l CallLimiter) LimitSource { return provLimits{l} }

type provLimits struct{ l CallLimiter }

func (p provLimits) Limits(ctx context.Context, tenantID, userID int64) (Limits, Limits, error) {
	t, u, err := p.l.CallLimits(ctx, tenantID, userID)
	return limitsOf(t), limitsOf(u), err
}

func limitsOf(l *provisioning.Limit) Limits {
	if l == nil {
		return Limits{}
	}
	return Limits{Concurrent: l.ConcurrentCalls, CallsPerMinute: l.CallsPerMinute, CostPerHour: l.CostPerHour,
		CostPerDay: l.CostPerDay, CostPerMonth: l.CostPerMonth, MaxCallSeconds: l.MaxCallSeconds}
}
