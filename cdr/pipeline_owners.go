package cdr

import "context"

// stampOwners stamps the records of items with their domain's owner (see
// Put): every record without a tenant, or with onlyPending only those
// whose earlier lookup failed. The lookups share OwnerTimeout; a record
// whose lookup fails again is marked pending, to be tried once more if
// it goes to the spool. It never fails: an owner that cannot be looked up
// leaves the record admin-only, never lost.
func (p *Pipeline) stampOwners(ctx context.Context, items []item, onlyPending bool) {
	if p.cfg.Owners == nil {
		return
	}
	wanted := func(i int) bool {
		it := &items[i]
		return it.dl == nil && it.rec.TenantID == nil && it.rec.Domain != "" && (!onlyPending || it.ownerPending)
	}
	var any bool
	for i := range items {
		if any = wanted(i); any {
			break
		}
	}
	if !any {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.OwnerTimeout)
	defer cancel()
	err := stampOwners(ctx, p.cfg.Owners, len(items), func(i int) *Record {
		if !wanted(i) {
			return nil
		}
		items[i].ownerPending = false
		return &items[i].rec
	}, func(i int) { items[i].ownerPending = true })
	if err == nil {
		p.ownersDown.Store(false)
		return
	}
	if !p.ownersDown.Swap(true) {
		p.log.Warn("cdr: cannot look up the owners of CDRs' domains; they are stamped when written, or kept for admins only", "err", err)
	} else {
		p.log.Debug("cdr: owner lookup still failing", "err", err)
	}
}
