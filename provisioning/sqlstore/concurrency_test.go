package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// Tenants created under a subtree while it is moved back and forth must
// all end with the path of their parent: the tree lock keeps a creation
// from reading a parent path that a concurrent move is about to rewrite.
func TestConcurrentCreatesAndMoves(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		r1, r2 := tenant(t, s, "r1", nil), tenant(t, s, "r2", nil)
		a := tenant(t, s, "a", r1)
		const creators, perCreator, moves = 3, 8, 12

		var wg sync.WaitGroup
		errs := make(chan error, creators*perCreator+moves)
		for c := range creators {
			wg.Go(func() {
				for i := range perCreator {
					child := &provisioning.Tenant{Name: fmt.Sprintf("c%d-%d", c, i), ParentID: ptr(a.ID)}
					if err := s.CreateTenant(ctx, child); err != nil {
						errs <- err
						return
					}
					// And a grandchild, under the child just made.
					if err := s.CreateTenant(ctx, &provisioning.Tenant{Name: child.Name + "-g", ParentID: ptr(child.ID)}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Go(func() {
			for i := range moves {
				m := *a
				m.ParentID = ptr(map[bool]int64{true: r1.ID, false: r2.ID}[i%2 == 1])
				if err := s.UpdateTenant(ctx, &m); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		all, err := s.Tenants(ctx, provisioning.TenantFilter{Page: provisioning.Page{Limit: provisioning.MaxLimit}})
		must(t, err)
		byID := map[int64]provisioning.Tenant{}
		for _, tn := range all {
			byID[tn.ID] = tn
		}
		if len(all) != 3+2*creators*perCreator {
			t.Fatalf("%d tenants, want %d", len(all), 3+2*creators*perCreator)
		}
		for _, tn := range all {
			parentPath := ""
			if tn.ParentID != nil {
				parentPath = byID[*tn.ParentID].Path
			}
			if want := provisioning.TenantPath(parentPath, tn.ID); tn.Path != want {
				t.Errorf("tenant %d (%s): path %q, want %q", tn.ID, tn.Name, tn.Path, want)
			}
		}
		sub, err := s.Tenants(ctx, provisioning.TenantFilter{Subtree: byID[a.ID].Path, Page: provisioning.Page{Limit: provisioning.MaxLimit}})
		must(t, err)
		if len(sub) != 1+2*creators*perCreator {
			t.Errorf("subtree of a holds %d tenants, want %d", len(sub), 1+2*creators*perCreator)
		}
	})
}
