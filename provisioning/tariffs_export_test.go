package provisioning

// ApplyInvalidation applies inv as if another daemon had broadcast it.
func (s *Service) ApplyInvalidation(inv Invalidation) { s.invalidate(inv) }
