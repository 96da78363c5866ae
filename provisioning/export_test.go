package provisioning

import "context"

// CachedDomainTenant exposes the cached lookup the lead routes DomainTenant
// through.
func (s *Service) CachedDomainTenant(ctx context.Context, name string) (int64, bool, error) {
	return s.cachedDomainTenant(ctx, name)
}

// ListenSessions is how many times FollowInvalidations has connected its
// stream; Listening whether it is connected now.
func (s *Service) ListenSessions() int64 { return s.sessions.Load() }
func (s *Service) Listening() bool       { return s.listening.Load() }
