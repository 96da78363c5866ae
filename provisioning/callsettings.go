package provisioning

import "context"

// The call settings of a tenant (userID nil) or of one of its users,
// which the authorizer enforces (abuse limits, whitelists), share their
// ownership rules.

// ownCallSetting refuses a tenant-admin its own tenant's settings (what
// names them, "abuse limits"): they are set from above (the parent's
// admin, a reseller), or a stolen tenant-admin token would lift them. It
// sets its users' and its descendants'.
func ownCallSetting(sc Scope, tenantID int64, userID *int64, what string) error {
	if !sc.All() && userID == nil && tenantID == sc.TenantID {
		return Forbidden("tenant_id", "a tenant's own %s are set by its parent's administrators", what)
	}
	return nil
}

// checkCallSettingOwner checks that a setting's tenant is in scope and
// not the scope's own (ownCallSetting), and its user, when set, is that
// tenant's.
func (s *Service) checkCallSettingOwner(ctx context.Context, sc Scope, tenantID int64, userID *int64, what string) error {
	if err := ownCallSetting(sc, tenantID, userID, what); err != nil {
		return err
	}
	if _, err := s.tenantInScope(ctx, sc, tenantID); err != nil {
		return fieldNotFound("tenant_id", err)
	}
	if userID != nil {
		u, err := s.store.User(ctx, *userID)
		if err != nil {
			return fieldNotFound("user_id", err)
		}
		if u.TenantID != tenantID {
			return Invalid("user_id", "user %d is not tenant %d's", u.ID, tenantID)
		}
	}
	return nil
}
