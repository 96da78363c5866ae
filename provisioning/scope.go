package provisioning

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// Scope is what a caller may see and change. The Service applies it to
// every read and write; the API layers only obtain it (from a token) and
// pass it on.
type Scope struct {
	Role     Role
	TenantID int64  // 0 for an admin
	Path     string // the tenant's Path; "" for an admin (every tenant)
}

// AdminScope sees and changes everything. The CLI and internal components
// (switch reconciliation) use it.
func AdminScope() Scope { return Scope{Role: RoleAdmin} }

// All reports whether the scope covers every tenant.
func (s Scope) All() bool { return s.Role == RoleAdmin }

// Sees reports whether a tenant with the given path is inside the scope.
func (s Scope) Sees(path string) bool {
	return s.All() || (s.Path != "" && strings.HasPrefix(path, s.Path))
}

// CanWrite reports whether the scope may change anything at all.
func (s Scope) CanWrite() bool { return s.Role == RoleAdmin || s.Role == RoleTenantAdmin }

// subtree is the path prefix filters use: "" (everything) for an admin.
func (s Scope) subtree() string {
	if s.All() {
		return ""
	}
	if s.Path == "" { // a non-admin scope without a tenant sees nothing
		return "/none/"
	}
	return s.Path
}

// TenantPath builds the Path of a tenant from its parent's path.
func TenantPath(parentPath string, id int64) string {
	if parentPath == "" {
		parentPath = "/"
	}
	return parentPath + strconv.FormatInt(id, 10) + "/"
}

func sameID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// tenantInScope loads tenant id and returns ErrNotFound when it does not
// exist or the scope cannot see it.
func (s *Service) tenantInScope(ctx context.Context, sc Scope, id int64) (*Tenant, error) {
	t, err := s.store.Tenant(ctx, id)
	if err != nil {
		return nil, err
	}
	if !sc.Sees(t.Path) {
		return nil, NotFound("tenant", id)
	}
	return t, nil
}

// tenantOwned is an object that belongs to one tenant, or to none (a shared
// gateway, which every scope sees).
type tenantOwned interface {
	ownerTenant() (id int64, owned bool)
}

func (d *Domain) ownerTenant() (int64, bool)  { return d.TenantID, true }
func (u *User) ownerTenant() (int64, bool)    { return u.TenantID, true }
func (a *Account) ownerTenant() (int64, bool) { return a.TenantID, true }
func (d *DID) ownerTenant() (int64, bool)     { return d.TenantID, true }
func (g *Gateway) ownerTenant() (int64, bool) {
	if g.TenantID == nil {
		return 0, false
	}
	return *g.TenantID, true
}

// inScope is the one scope check of every object read by id or natural
// key: given what the store answered (obj, err) for key, it hides an
// object outside sc behind the same not-found, naming the caller's own key,
// as an object that does not exist, so that a tenant cannot tell another
// tenant's objects from missing ones.
func inScope[T tenantOwned](ctx context.Context, s *Service, sc Scope, kind string, obj T, err error, key any) (T, error) {
	var none T
	if err != nil {
		if errors.Is(err, ErrNotFound) && !sc.All() {
			s.matchOwnerLookup(ctx)
		}
		return none, err
	}
	if sc.All() {
		return obj, nil
	}
	tenant, owned := obj.ownerTenant()
	if !owned {
		return obj, nil
	}
	if _, err := s.tenantInScope(ctx, sc, tenant); err != nil {
		if errors.Is(err, ErrNotFound) {
			return none, NotFound(kind, key)
		}
		return none, err
	}
	return obj, nil
}

// matchOwnerLookup makes, for an object that does not exist, the tenant
// lookup that the scope check of an existing object makes, so that the
// store work, and with it the answer's timing, does not tell another
// tenant's object from a missing one. Its answer (no tenant 0) is unused.
func (s *Service) matchOwnerLookup(ctx context.Context) {
	_, _ = s.store.Tenant(ctx, 0)
}
