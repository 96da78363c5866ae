package native

import (
	"context"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// Abuse limits (provisioning/limits.go): a tenant's own (user_id null)
// and its users', enforced at call time by provisioning/authz. Amounts
// are exact decimal strings in the currency of the tenant's plan.

type limitIn struct {
	TenantID        int64        `json:"tenant_id"`
	UserID          *int64       `json:"user_id"`
	ConcurrentCalls int          `json:"concurrent_calls"`
	CallsPerMinute  int          `json:"calls_per_minute"`
	CostPerHour     money.Amount `json:"cost_per_hour"`
	CostPerDay      money.Amount `json:"cost_per_day"`
	CostPerMonth    money.Amount `json:"cost_per_month"`
	MaxCallSeconds  int          `json:"max_call_seconds"`
}

func (in *limitIn) load(l *provisioning.Limit) {
	*in = limitIn{TenantID: l.TenantID, UserID: clone(l.UserID), ConcurrentCalls: l.ConcurrentCalls, CallsPerMinute: l.CallsPerMinute,
		CostPerHour: l.CostPerHour, CostPerDay: l.CostPerDay, CostPerMonth: l.CostPerMonth, MaxCallSeconds: l.MaxCallSeconds}
}

func (in *limitIn) store(_ *provisioning.Service, l *provisioning.Limit) error {
	l.TenantID, l.UserID, l.ConcurrentCalls, l.CallsPerMinute = in.TenantID, clone(in.UserID), in.ConcurrentCalls, in.CallsPerMinute
	l.CostPerHour, l.CostPerDay, l.CostPerMonth, l.MaxCallSeconds = in.CostPerHour, in.CostPerDay, in.CostPerMonth, in.MaxCallSeconds
	return nil
}

var pLimitUserID = param{name: "user_id", typ: "id", doc: "only the limit of this user"}

func (s *server) limitRoutes() []*route {
	svc := s.svc
	return routesOf[provisioning.Limit, limitIn](s, resource[provisioning.Limit, limitIn]{
		plural: "limits", schema: "Limit", required: []string{"tenant_id"},
		filters: []param{pTenantID, pLimitUserID},
		id:      func(l *provisioning.Limit) int64 { return l.ID },
		create: func(ctx context.Context, sc provisioning.Scope, in *limitIn) (*provisioning.Limit, error) {
			l := &provisioning.Limit{}
			if err := in.store(svc, l); err != nil {
				return nil, err
			}
			return l, svc.CreateLimit(ctx, sc, l)
		},
		get: svc.Limit, update: svc.UpdateLimit, del: svc.DeleteLimit,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]provisioning.Limit, error) {
			f := provisioning.LimitFilter{Page: p}
			var err error
			if f.TenantID, err = c.id("tenant_id"); err != nil {
				return nil, err
			}
			if f.UserID, err = c.id("user_id"); err != nil {
				return nil, err
			}
			return svc.Limits(ctx, sc, f)
		},
	})
}

func init() {
	tagDocs["limits"] = "Abuse limits of a tenant (user_id null) or of one of its users: concurrent calls, calls per minute, cost per hour/day/month and the longest call, enforced while calls are placed (0: no limit). A refused call is counted in switchboard_authz_refused_total by reason."
	for _, sch := range []string{"Limit", "LimitCreate", "LimitPatch"} {
		for k, v := range map[string]string{
			"user_id":          "the user whose accounts' calls the limit applies to; null: the tenant's own limit (all its calls). Cannot change",
			"concurrent_calls": "calls up at once, 0 to 100000; 0: no limit",
			"calls_per_minute": "calls started within any minute, 0 to 100000; 0: no limit",
			"cost_per_hour":    "what calls may cost within the calendar hour (UTC), a decimal in the currency of the tenant's plan; 0: no limit",
			"cost_per_day":     "as cost_per_hour, within the calendar day (UTC)",
			"cost_per_month":   "as cost_per_hour, within the calendar month (UTC)",
			"max_call_seconds": "the longest a call may last once answered (the switch hangs it up), 0 to 604800; 0: no limit",
		} {
			fieldDocs[sch+"."+k] = v
		}
	}
}
