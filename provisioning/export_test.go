package provisioning

// ListenSessions is how many times FollowInvalidations has connected its
// stream; Listening whether it is connected now.
func (s *Service) ListenSessions() int64 { return s.sessions.Load() }
func (s *Service) Listening() bool       { return s.listening.Load() }
