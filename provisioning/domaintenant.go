package provisioning

import (
	"context"
	"errors"
	"strings"
)

// DomainTenant returns the tenant that owns the domain called name now,
// ok false when there is no such domain: the owner the CDR pipeline
// stamps on each CDR at ingest (cdr.Owners), so that a CDR stays with the
// tenant that owned its domain when the call was made. Domain names are
// globally unique and compared in lower case. It is served from the
// domain cache (domaincache.go), which every domain and tenant write
// invalidates, in this daemon and, through the store's notifications, in
// the others; so ingest does not wait on the store, and an answer is never
// older than the last write that changed it. It sees every tenant: it
// answers the pipeline, not a caller.
func (s *Service) DomainTenant(ctx context.Context, name string) (tenantID int64, ok bool, err error) {
	e, err := s.domainByName(ctx, strings.ToLower(name))
	if errors.Is(err, ErrNotFound) {
		return 0, false, nil
	}
	if err != nil || e.domain == nil {
		return 0, false, err
	}
	return e.domain.TenantID, true, nil
}
