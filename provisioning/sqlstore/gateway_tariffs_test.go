package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestGatewayTariffPlans: a gateway's supplier plan is set, read with its
// owner's path, replaced and removed; an unknown gateway or plan is a
// not-found naming what; a plan in use cannot be deleted; the assignment
// goes with its gateway.
func TestGatewayTariffPlans(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		root := tenant(t, s, "root", nil)
		g := gateway(t, s, "carrier", root)
		plan := func(name string) *provisioning.TariffPlan {
			p := &provisioning.TariffPlan{TenantID: root.ID, Name: name, Currency: "USD", TimeZone: "UTC"}
			must(t, s.CreateTariffPlan(ctx, p))
			return p
		}
		a, b := plan("a"), plan("b")

		for _, tc := range []struct {
			name      string
			gateway   int64
			plan      *int64
			wantErr   error
			wantPlan  int64
			wantOwner string
		}{
			{"none yet", g.ID, nil, nil, 0, ""},
			{"set", g.ID, &a.ID, nil, a.ID, root.Path},
			{"replace", g.ID, &b.ID, nil, b.ID, root.Path},
			{"unknown gateway", 999999, &a.ID, provisioning.ErrNotFound, b.ID, root.Path},
			{"unknown plan", g.ID, ptr(int64(999999)), provisioning.ErrNotFound, b.ID, root.Path},
			{"remove", g.ID, nil, nil, 0, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.name != "none yet" {
					err := s.SetGatewayTariffPlan(ctx, tc.gateway, tc.plan)
					if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
						t.Fatalf("set: %v, want %v", err, tc.wantErr)
					}
				}
				id, owner, err := s.GatewayTariffPlan(ctx, g.ID)
				must(t, err)
				if id != tc.wantPlan || owner != tc.wantOwner {
					t.Fatalf("plan %d of %q, want %d of %q", id, owner, tc.wantPlan, tc.wantOwner)
				}
			})
		}

		must(t, s.SetGatewayTariffPlan(ctx, g.ID, &a.ID))
		if err := s.DeleteTariffPlan(ctx, a.ID); !errors.Is(err, provisioning.ErrConflict) || !strings.Contains(err.Error(), "1 gateway") {
			t.Fatalf("deleting a plan in use: %v", err)
		}
		must(t, s.DeleteGateway(ctx, g.ID))
		must(t, s.DeleteTariffPlan(ctx, a.ID))
	})
}
