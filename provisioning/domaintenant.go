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
// globally unique and compared in lower case, so this is one indexed
// look-up. It sees every tenant: it answers the pipeline, not a caller.
func (s *Service) DomainTenant(ctx context.Context, name string) (tenantID int64, ok bool, err error) {
	d, err := s.store.DomainByName(ctx, strings.ToLower(name))
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return d.TenantID, true, nil
}
