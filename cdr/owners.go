package cdr

import "context"

// Owners tells which tenant owns a SIP domain now. The pipeline asks it
// at ingest and stamps each CDR with the answer (Record.TenantID), so
// that a CDR stays with the tenant that owned its domain when the call
// was made, even after the domain is deleted and the name reused by
// another tenant. provisioning.Service implements it.
type Owners interface {
	// DomainTenant returns the tenant owning domain, ok false when no
	// tenant does (never provisioned, or deleted), and an error only when
	// it cannot tell (the store is down).
	DomainTenant(ctx context.Context, domain string) (tenantID int64, ok bool, err error)
}

// StampOwners sets TenantID on every record of recs that has none and
// names a domain, from o, asking once per distinct domain. A record that
// already carries a tenant keeps it (a spool replay, an export sent back
// by an admin). A record whose domain has no owner stays without one
// (visible to admins only). It returns the first lookup error; the
// records it could not resolve then stay without a tenant, which is the
// safe side: admin-only, never another tenant's.
func StampOwners(ctx context.Context, o Owners, recs []Record) error {
	return stampOwners(ctx, o, len(recs), func(i int) *Record { return &recs[i] }, nil)
}

// stampOwners stamps the records rec(i) returns for i in [0, n) (nil:
// skip i) that have no tenant and name a domain. After the first lookup
// error it asks no more (the store is likely down, and the caller bounds
// the time it waits) and calls unresolved(i), when set, for each record
// left without an answer.
func stampOwners(ctx context.Context, o Owners, n int, rec func(int) *Record, unresolved func(int)) error {
	type answer struct {
		id    int64
		known bool // the lookup answered (owned or not)
	}
	answers := map[string]answer{}
	var firstErr error
	for i := range n {
		r := rec(i)
		if r == nil || r.TenantID != nil || r.Domain == "" {
			continue
		}
		a, asked := answers[r.Domain]
		if !asked && firstErr == nil {
			id, ok, err := o.DomainTenant(ctx, r.Domain)
			switch {
			case err != nil:
				firstErr = err
			case ok:
				a = answer{id: id, known: true}
			default:
				a = answer{known: true}
			}
			answers[r.Domain] = a
		}
		switch {
		case !a.known:
			if unresolved != nil {
				unresolved(i)
			}
		case a.id > 0:
			id := a.id
			r.TenantID = &id
		}
	}
	return firstErr
}
