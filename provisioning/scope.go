package provisioning

import (
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
