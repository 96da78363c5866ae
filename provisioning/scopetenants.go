package provisioning

import "context"

// ScopeTenants returns the IDs of the tenants whose data sc may read, for
// filters by owner (cdr.Filter.Tenants): nil for an admin (every tenant,
// and data of no known owner), else the tenant of the scope and its whole
// subtree, an empty non-nil slice for a scope without a tenant.
func (s *Service) ScopeTenants(ctx context.Context, sc Scope) ([]int64, error) {
	if sc.All() {
		return nil, nil
	}
	ids := []int64{}
	f := TenantFilter{Subtree: sc.subtree(), Page: Page{Limit: MaxLimit}}
	for {
		ts, err := s.store.Tenants(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			ids = append(ids, t.ID)
		}
		if len(ts) < MaxLimit {
			return ids, nil
		}
		f.After = ts[len(ts)-1].ID
	}
}
