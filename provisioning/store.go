package provisioning

import "context"

// Page is a keyset page: objects with an ID greater than After, in ascending
// ID order, at most Limit of them. Keyset rather than offset paging keeps a
// page of a domain with 100,000 accounts as cheap as the first one.
type Page struct {
	After int64
	Limit int
}

// The page sizes used when a caller asks for none or for too many.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Normalize clamps Limit into [1, MaxLimit], defaulting to DefaultLimit.
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultLimit
	}
	if p.Limit > MaxLimit {
		p.Limit = MaxLimit
	}
	if p.After < 0 {
		p.After = 0
	}
	return p
}

// Every filter's Subtree is a tenant path prefix ("/1/7/"): only objects of
// tenants whose path starts with it are returned. The Service sets it from
// the caller's Scope; an empty Subtree means every tenant. Zero-valued fields
// do not filter.

// TenantFilter selects tenants.
type TenantFilter struct {
	Subtree  string
	ParentID *int64
	Name     string // exact match
	Page
}

// DomainFilter selects domains.
type DomainFilter struct {
	Subtree  string
	TenantID int64
	Name     string // exact match
	Page
}

// UserFilter selects users.
type UserFilter struct {
	Subtree  string
	TenantID int64
	Login    string // exact match
	Email    string // exact match, case-insensitive
	Page
}

// AccountFilter selects SIP accounts.
type AccountFilter struct {
	Subtree        string
	TenantID       int64
	DomainID       int64
	UserID         int64
	Username       string // exact match
	UsernamePrefix string
	Page
}

// GatewayFilter selects gateways. With a Subtree set, shared gateways
// (no tenant) are included too when IncludeShared is true.
type GatewayFilter struct {
	Subtree       string
	IncludeShared bool
	TenantID      int64
	Name          string // exact match
	Page
}

// DIDFilter selects DIDs.
type DIDFilter struct {
	Subtree      string
	TenantID     int64
	AccountID    int64
	NumberPrefix string
	Page
}

// Store persists the model. Implementations translate their engine's errors:
// a missing row is a *NotFoundError, a unique violation a *ConflictError
// naming the field, and a delete of an object that still owns children is
// refused with a *ConflictError saying what remains (checked in the same
// transaction as the delete). Create methods set ID and timestamps on the
// object they are given; Update methods set UpdatedAt.
//
// Reads of accounts fill Account.Domain and Account.TenantID from the domain.
type Store interface {
	CreateTenant(ctx context.Context, t *Tenant) error // sets Path from the parent's
	Tenant(ctx context.Context, id int64) (*Tenant, error)
	// UpdateTenant saves Name and ParentID; when the parent changes it
	// rewrites the Path of the tenant and every descendant in one
	// transaction and refuses (ConflictError on "parent_id") a move under
	// the tenant's own subtree.
	UpdateTenant(ctx context.Context, t *Tenant) error
	DeleteTenant(ctx context.Context, id int64) error // refused while it has sub-tenants, domains, users, gateways, DIDs or active tokens; revoked tokens go with it
	Tenants(ctx context.Context, f TenantFilter) ([]Tenant, error)

	CreateDomain(ctx context.Context, d *Domain) error
	Domain(ctx context.Context, id int64) (*Domain, error)
	DomainByName(ctx context.Context, name string) (*Domain, error)
	UpdateDomain(ctx context.Context, d *Domain) error
	DeleteDomain(ctx context.Context, id int64) error // refused while it has accounts
	Domains(ctx context.Context, f DomainFilter) ([]Domain, error)

	CreateUser(ctx context.Context, u *User) error
	User(ctx context.Context, id int64) (*User, error)
	UserByLogin(ctx context.Context, login string) (*User, error)
	UpdateUser(ctx context.Context, u *User) error
	DeleteUser(ctx context.Context, id int64) error // refused while it owns accounts
	Users(ctx context.Context, f UserFilter) ([]User, error)

	CreateAccount(ctx context.Context, a *Account) error
	Account(ctx context.Context, id int64) (*Account, error)
	AccountByUsername(ctx context.Context, domainID int64, username string) (*Account, error)
	UpdateAccount(ctx context.Context, a *Account) error
	DeleteAccount(ctx context.Context, id int64) error // refused while DIDs route to it
	Accounts(ctx context.Context, f AccountFilter) ([]Account, error)

	CreateGateway(ctx context.Context, g *Gateway) error
	Gateway(ctx context.Context, id int64) (*Gateway, error)
	GatewayByName(ctx context.Context, name string) (*Gateway, error)
	UpdateGateway(ctx context.Context, g *Gateway) error
	DeleteGateway(ctx context.Context, id int64) error
	Gateways(ctx context.Context, f GatewayFilter) ([]Gateway, error)

	CreateDID(ctx context.Context, d *DID) error
	DID(ctx context.Context, id int64) (*DID, error)
	DIDByNumber(ctx context.Context, number string) (*DID, error)
	UpdateDID(ctx context.Context, d *DID) error
	DeleteDID(ctx context.Context, id int64) error
	DIDs(ctx context.Context, f DIDFilter) ([]DID, error)

	CreateToken(ctx context.Context, t *Token) error
	TokenByHash(ctx context.Context, hash string) (*Token, error) // revoked tokens are returned too; the Service refuses them
	Tokens(ctx context.Context, p Page) ([]Token, error)
	RevokeToken(ctx context.Context, id int64) error
}
