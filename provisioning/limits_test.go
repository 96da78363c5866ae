package provisioning_test

import (
	"errors"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestLimitCRUD: a tenant's and a user's limits, on both engines: one of
// each, bad values named, another tenant's user refused, scope, and what
// the authorizer reads (CallLimits); a deleted user takes its limit.
func TestLimitCRUD(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		other := e.tenant(t, "other", nil)
		bob := e.user(t, "bob", root, provisioning.RoleUser)
		eve := e.user(t, "eve", other, provisioning.RoleUser)
		tl := &provisioning.Limit{TenantID: root.ID, ConcurrentCalls: 5, CallsPerMinute: 30, CostPerDay: money.MustParse("50")}
		must(t, e.svc.CreateLimit(e.ctx, admin, tl))
		ul := &provisioning.Limit{TenantID: root.ID, UserID: &bob.ID, ConcurrentCalls: 1, MaxCallSeconds: 3600}
		must(t, e.svc.CreateLimit(e.ctx, admin, ul))
		for _, tc := range []struct {
			name  string
			l     provisioning.Limit
			field string
			err   error
		}{
			{"negative concurrent", provisioning.Limit{TenantID: other.ID, ConcurrentCalls: -1}, "concurrent_calls", nil},
			{"huge cpm", provisioning.Limit{TenantID: other.ID, CallsPerMinute: provisioning.MaxLimitCalls + 1}, "calls_per_minute", nil},
			{"negative cost", provisioning.Limit{TenantID: other.ID, CostPerHour: -1}, "cost_per_hour", nil},
			{"week-long call", provisioning.Limit{TenantID: other.ID, MaxCallSeconds: provisioning.MaxLimitCallSeconds + 1}, "max_call_seconds", nil},
			{"another tenant's user", provisioning.Limit{TenantID: root.ID, UserID: &eve.ID}, "user_id", nil},
			{"no such tenant", provisioning.Limit{TenantID: 9999}, "", provisioning.ErrNotFound},
			{"second tenant limit", provisioning.Limit{TenantID: root.ID}, "", provisioning.ErrConflict},
			{"second user limit", provisioning.Limit{TenantID: root.ID, UserID: &bob.ID}, "", provisioning.ErrConflict},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := e.svc.CreateLimit(e.ctx, admin, &tc.l)
				var fe *provisioning.FieldError
				switch {
				case tc.err != nil && !errors.Is(err, tc.err):
					t.Fatalf("err = %v, want %v", err, tc.err)
				case tc.err == nil && (!errors.As(err, &fe) || fe.Field != tc.field):
					t.Fatalf("err = %v, want invalid %s", err, tc.field)
				}
			})
		}
		got, err := e.svc.UpdateLimit(e.ctx, admin, tl.ID, func(l *provisioning.Limit) error { l.ConcurrentCalls = 10; return nil })
		must(t, err)
		if got.ConcurrentCalls != 10 || got.CostPerDay != money.MustParse("50") {
			t.Fatalf("updated %+v", got)
		}
		if _, err := e.svc.UpdateLimit(e.ctx, admin, tl.ID, func(l *provisioning.Limit) error { l.UserID = &bob.ID; return nil }); err == nil {
			t.Fatal("moved a tenant's limit to a user")
		}
		tn, us, err := e.svc.CallLimits(e.ctx, root.ID, bob.ID)
		must(t, err)
		if tn == nil || tn.ID != tl.ID || us == nil || us.ID != ul.ID {
			t.Fatalf("CallLimits = %+v, %+v", tn, us)
		}
		if tn, us, err := e.svc.CallLimits(e.ctx, other.ID, eve.ID); err != nil || tn != nil || us != nil {
			t.Fatalf("CallLimits of a tenant without limits = %+v, %+v, %v", tn, us, err)
		}
		// scope: the other tenant's admin sees none of root's limits
		sc := e.scopeOf(t, provisioning.RoleTenantAdmin, other)
		if _, err := e.svc.Limit(e.ctx, sc, tl.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("out of scope: %v", err)
		}
		if l, err := e.svc.Limits(e.ctx, sc, provisioning.LimitFilter{}); err != nil || len(l) != 0 {
			t.Fatalf("out of scope list: %+v %v", l, err)
		}
		// a tenant-admin sets its users' limits and its children's, not
		// its own tenant's
		child := e.tenant(t, "child", root)
		rootAdmin := e.scopeOf(t, provisioning.RoleTenantAdmin, root)
		if err := e.svc.CreateLimit(e.ctx, rootAdmin, &provisioning.Limit{TenantID: child.ID, ConcurrentCalls: 2}); err != nil {
			t.Fatalf("tenant-admin, child's limit: %v", err)
		}
		if _, err := e.svc.UpdateLimit(e.ctx, rootAdmin, ul.ID, func(l *provisioning.Limit) error { l.ConcurrentCalls = 2; return nil }); err != nil {
			t.Fatalf("tenant-admin, its user's limit: %v", err)
		}
		if _, err := e.svc.UpdateLimit(e.ctx, rootAdmin, tl.ID, func(l *provisioning.Limit) error { l.ConcurrentCalls = 1000; return nil }); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("tenant-admin lifting its own limit: %v", err)
		}
		if err := e.svc.DeleteLimit(e.ctx, rootAdmin, tl.ID); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("tenant-admin deleting its own limit: %v", err)
		}
		must(t, e.store.DeleteUser(e.ctx, bob.ID))
		if _, err := e.svc.Limit(e.ctx, admin, ul.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("the deleted user's limit: %v", err)
		}
		must(t, e.svc.DeleteLimit(e.ctx, admin, tl.ID))
		if l, err := e.svc.Limits(e.ctx, admin, provisioning.LimitFilter{TenantID: root.ID}); err != nil || len(l) != 0 {
			t.Fatalf("after delete: %+v %v", l, err)
		}
	})
}
