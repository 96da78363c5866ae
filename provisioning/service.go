package provisioning

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Service is the provisioning core: validation, scoping and change
// notification over a Store. It is safe for concurrent use.
type Service struct {
	store Store
	sinks []ConfigSink
	log   *slog.Logger
	// tokens caches successful token checks (see Authenticate).
	tokens   tokenCache
	tokenTTL time.Duration
	// bcryptCost is lowered only by tests.
	bcryptCost int
}

// Option configures a Service.
type Option func(*Service)

// WithSink adds a switch adapter's configuration sink.
func WithSink(s ConfigSink) Option { return func(svc *Service) { svc.sinks = append(svc.sinks, s) } }

// WithLogger sets the logger used for sink failures.
func WithLogger(l *slog.Logger) Option { return func(svc *Service) { svc.log = l } }

// WithTokenCacheTTL sets how long a token check is reused (default
// TokenCacheTTL; 0 checks the store on every request).
func WithTokenCacheTTL(d time.Duration) Option { return func(svc *Service) { svc.tokenTTL = d } }

// WithBcryptCost sets the bcrypt cost for password hashes (tests lower it).
func WithBcryptCost(c int) Option { return func(svc *Service) { svc.bcryptCost = c } }

// NewService returns a Service over store.
func NewService(store Store, opts ...Option) *Service {
	s := &Service{store: store, log: slog.Default(), bcryptCost: bcrypt.DefaultCost, tokenTTL: TokenCacheTTL}
	for _, o := range opts {
		o(s)
	}
	return s
}

// AddSink registers a configuration sink after construction, for adapters
// that are built after the service (cmd wires them in this order).
func (s *Service) AddSink(sink ConfigSink) { s.sinks = append(s.sinks, sink) }

// notify hands a committed change to every sink. A sink failure is logged
// and not returned: the change is committed and the adapter reconciles.
func (s *Service) notify(ctx context.Context, c Change) {
	for _, sink := range s.sinks {
		if err := sink.Apply(ctx, c); err != nil {
			s.log.WarnContext(ctx, "config sink refused change", "op", c.Op, "object", c.describe(), "err", err)
		}
	}
}

func (c Change) describe() string {
	switch {
	case c.Account != nil:
		return "account " + c.Account.AOR()
	case c.Gateway != nil:
		return "gateway " + c.Gateway.Name
	case c.DID != nil:
		return "did " + c.DID.Number
	}
	return "nothing"
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

func requireWrite(sc Scope) error {
	if !sc.CanWrite() {
		return fmt.Errorf("%w: role %q is read-only", ErrForbidden, sc.Role)
	}
	return nil
}

// ---- tenants ----

// CreateTenant creates t under t.ParentID. Only an admin may create a root
// tenant; a tenant-admin creates tenants below its own.
func (s *Service) CreateTenant(ctx context.Context, sc Scope, t *Tenant) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	if t.ParentID == nil {
		if !sc.All() {
			return Invalid("parent_id", "is required: only an admin may create a root tenant")
		}
	} else if _, err := s.tenantInScope(ctx, sc, *t.ParentID); err != nil {
		return fieldNotFound("parent_id", err)
	}
	return s.store.CreateTenant(ctx, t)
}

// Tenant returns tenant id if the scope sees it.
func (s *Service) Tenant(ctx context.Context, sc Scope, id int64) (*Tenant, error) {
	return s.tenantInScope(ctx, sc, id)
}

// UpdateTenant loads tenant id, lets fn change it and saves it. A
// tenant-admin may rename its own tenant but not move it.
func (s *Service) UpdateTenant(ctx context.Context, sc Scope, id int64, fn func(*Tenant) error) (*Tenant, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	t, err := s.tenantInScope(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	// Copy the parent ID: fn may write through the pointer (encoding/json
	// does when decoding into t), which would hide a move from the checks.
	var oldParent *int64
	if t.ParentID != nil {
		v := *t.ParentID
		oldParent = &v
	}
	if err := fn(t); err != nil {
		return nil, err
	}
	t.ID = id
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if !sameID(oldParent, t.ParentID) {
		if !sc.All() && id == sc.TenantID {
			return nil, fmt.Errorf("%w: a tenant-admin cannot move its own tenant", ErrForbidden)
		}
		if t.ParentID == nil {
			if !sc.All() {
				return nil, Invalid("parent_id", "is required: only an admin may make a root tenant")
			}
		} else {
			if *t.ParentID == id {
				return nil, Invalid("parent_id", "cannot be the tenant itself")
			}
			if _, err := s.tenantInScope(ctx, sc, *t.ParentID); err != nil {
				return nil, fieldNotFound("parent_id", err)
			}
		}
	}
	if err := s.store.UpdateTenant(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

// DeleteTenant deletes tenant id. It is refused with a ConflictError while
// the tenant has sub-tenants, domains, users, gateways, DIDs or active tokens:
// deleting customers is rare and must never take switch configuration with
// it silently.
func (s *Service) DeleteTenant(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if _, err := s.tenantInScope(ctx, sc, id); err != nil {
		return err
	}
	if !sc.All() && id == sc.TenantID {
		return fmt.Errorf("%w: a tenant-admin cannot delete its own tenant", ErrForbidden)
	}
	return s.store.DeleteTenant(ctx, id)
}

// Tenants lists the tenants in scope.
func (s *Service) Tenants(ctx context.Context, sc Scope, f TenantFilter) ([]Tenant, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return s.store.Tenants(ctx, f)
}

// ---- domains ----

// CreateDomain creates a SIP domain owned by d.TenantID.
func (s *Service) CreateDomain(ctx context.Context, sc Scope, d *Domain) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	d.Name = strings.ToLower(d.Name)
	if err := d.Validate(); err != nil {
		return err
	}
	if _, err := s.tenantInScope(ctx, sc, d.TenantID); err != nil {
		return fieldNotFound("tenant_id", err)
	}
	return s.store.CreateDomain(ctx, d)
}

// domainInScope hides a domain outside the scope behind the same
// not-found, with the caller's own key, as a domain that does not exist.
func (s *Service) domainInScope(ctx context.Context, sc Scope, d *Domain, err error, key any) (*Domain, error) {
	if err != nil {
		return nil, err
	}
	if !sc.All() {
		if _, err := s.tenantInScope(ctx, sc, d.TenantID); err != nil {
			return nil, NotFound("domain", key)
		}
	}
	return d, nil
}

// Domain returns domain id if the scope sees it.
func (s *Service) Domain(ctx context.Context, sc Scope, id int64) (*Domain, error) {
	d, err := s.store.Domain(ctx, id)
	return s.domainInScope(ctx, sc, d, err, id)
}

// DomainByName returns the domain called name if the scope sees it.
func (s *Service) DomainByName(ctx context.Context, sc Scope, name string) (*Domain, error) {
	name = strings.ToLower(name)
	d, err := s.store.DomainByName(ctx, name)
	return s.domainInScope(ctx, sc, d, err, name)
}

// UpdateDomain loads domain id, lets fn change it and saves it. A domain
// that has accounts cannot be renamed, because every registration and the
// switch configuration of those accounts is keyed by the name.
func (s *Service) UpdateDomain(ctx context.Context, sc Scope, id int64, fn func(*Domain) error) (*Domain, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	d, err := s.Domain(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	oldName, oldTenant := d.Name, d.TenantID
	if err := fn(d); err != nil {
		return nil, err
	}
	d.ID = id
	d.Name = strings.ToLower(d.Name)
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.TenantID != oldTenant {
		if _, err := s.tenantInScope(ctx, sc, d.TenantID); err != nil {
			return nil, fieldNotFound("tenant_id", err)
		}
	}
	if d.Name != oldName {
		accts, err := s.store.Accounts(ctx, AccountFilter{DomainID: id, Page: Page{Limit: 1}})
		if err != nil {
			return nil, err
		}
		if len(accts) > 0 {
			return nil, Conflict("name", "domain %s has SIP accounts and cannot be renamed", oldName)
		}
	}
	if err := s.store.UpdateDomain(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

// DeleteDomain deletes domain id; refused while it has SIP accounts.
func (s *Service) DeleteDomain(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if _, err := s.Domain(ctx, sc, id); err != nil {
		return err
	}
	return s.store.DeleteDomain(ctx, id)
}

// Domains lists the domains in scope.
func (s *Service) Domains(ctx context.Context, sc Scope, f DomainFilter) ([]Domain, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	f.Name = strings.ToLower(f.Name)
	return s.store.Domains(ctx, f)
}

// ---- users ----

// SetPassword validates password and stores its bcrypt hash in u.
func (s *Service) SetPassword(u *User, password string) error {
	if err := ValidatePassword("password", password); err != nil {
		return err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost)
	if err != nil {
		return fmt.Errorf("provisioning: hash password: %w", err)
	}
	u.PasswordHash = string(h)
	return nil
}

// CheckPassword reports whether password is u's.
func CheckPassword(u *User, password string) bool {
	return u.PasswordHash != "" && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil
}

// CreateUser creates u with the given password. A tenant-admin cannot
// create admins.
func (s *Service) CreateUser(ctx context.Context, sc Scope, u *User, password string) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	if u.Role == RoleAdmin && !sc.All() {
		return fmt.Errorf("%w: only an admin may create admins", ErrForbidden)
	}
	u.PasswordHash = "-" // validated separately below, hashed last (it is slow)
	if err := u.Validate(); err != nil {
		return err
	}
	if _, err := s.tenantInScope(ctx, sc, u.TenantID); err != nil {
		return fieldNotFound("tenant_id", err)
	}
	if err := s.SetPassword(u, password); err != nil {
		return err
	}
	return s.store.CreateUser(ctx, u)
}

func (s *Service) userInScope(ctx context.Context, sc Scope, u *User, err error, key any) (*User, error) {
	if err != nil {
		return nil, err
	}
	if !sc.All() {
		if _, err := s.tenantInScope(ctx, sc, u.TenantID); err != nil {
			return nil, NotFound("user", key)
		}
	}
	return u, nil
}

// User returns user id if the scope sees it.
func (s *Service) User(ctx context.Context, sc Scope, id int64) (*User, error) {
	u, err := s.store.User(ctx, id)
	return s.userInScope(ctx, sc, u, err, id)
}

// UserByLogin returns the user with login if the scope sees it.
func (s *Service) UserByLogin(ctx context.Context, sc Scope, login string) (*User, error) {
	u, err := s.store.UserByLogin(ctx, login)
	return s.userInScope(ctx, sc, u, err, login)
}

// UpdateUser loads user id, lets fn change it (calling SetPassword for a
// new password) and saves it.
func (s *Service) UpdateUser(ctx context.Context, sc Scope, id int64, fn func(*User) error) (*User, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	u, err := s.User(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	oldTenant, oldRole := u.TenantID, u.Role
	if oldRole == RoleAdmin && !sc.All() {
		return nil, fmt.Errorf("%w: only an admin may change an admin", ErrForbidden)
	}
	if err := fn(u); err != nil {
		return nil, err
	}
	u.ID = id
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if u.Role != oldRole && u.Role == RoleAdmin && !sc.All() {
		return nil, fmt.Errorf("%w: only an admin may grant the admin role", ErrForbidden)
	}
	if u.TenantID != oldTenant {
		if _, err := s.tenantInScope(ctx, sc, u.TenantID); err != nil {
			return nil, fieldNotFound("tenant_id", err)
		}
		owned, err := s.store.Accounts(ctx, AccountFilter{UserID: id, Page: Page{Limit: 1}})
		if err != nil {
			return nil, err
		}
		if len(owned) > 0 {
			return nil, Conflict("tenant_id", "user %s owns SIP accounts and cannot move to another tenant", u.Login)
		}
	}
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// DeleteUser deletes user id; refused while the user owns SIP accounts.
func (s *Service) DeleteUser(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	u, err := s.User(ctx, sc, id)
	if err != nil {
		return err
	}
	if u.Role == RoleAdmin && !sc.All() {
		return fmt.Errorf("%w: only an admin may delete an admin", ErrForbidden)
	}
	return s.store.DeleteUser(ctx, id)
}

// Users lists the users in scope.
func (s *Service) Users(ctx context.Context, sc Scope, f UserFilter) ([]User, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return s.store.Users(ctx, f)
}

// ---- SIP accounts ----

// HA1 is the SIP digest hash md5(username:realm:secret).
func HA1(username, realm, secret string) string {
	sum := md5.Sum([]byte(username + ":" + realm + ":" + secret))
	return hex.EncodeToString(sum[:])
}

// GenerateSecret returns a random SIP secret of 20 characters from an
// alphabet every phone's keypad UI and config parser accepts.
func GenerateSecret() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// prepareAccount resolves and checks the account's domain and owner.
func (s *Service) prepareAccount(ctx context.Context, sc Scope, a *Account) error {
	var (
		d   *Domain
		err error
	)
	switch {
	case a.DomainID > 0:
		d, err = s.Domain(ctx, sc, a.DomainID)
	case a.Domain != "":
		d, err = s.DomainByName(ctx, sc, a.Domain)
	default:
		return Invalid("domain_id", "is required")
	}
	if err != nil {
		return fieldNotFound("domain_id", err)
	}
	a.DomainID, a.Domain, a.TenantID = d.ID, d.Name, d.TenantID
	if err := a.Validate(); err != nil {
		return err
	}
	if a.UserID != nil {
		u, err := s.User(ctx, sc, *a.UserID)
		if err != nil {
			return fieldNotFound("user_id", err)
		}
		// The owner lives in the account's tenant or below it, so that
		// everyone who sees the account may also see its owner.
		ut, err := s.store.Tenant(ctx, u.TenantID)
		if err != nil {
			return err
		}
		at, err := s.store.Tenant(ctx, a.TenantID)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(ut.Path, at.Path) {
			return Invalid("user_id", "must belong to the domain's tenant or one of its sub-tenants")
		}
		a.UserLogin = u.Login
	} else {
		a.UserLogin = ""
	}
	a.HA1 = HA1(a.Username, a.Domain, a.Secret)
	return nil
}

// CreateAccount creates a SIP account. The domain is a.DomainID, or
// a.Domain by name. A missing secret is generated and left in a.Secret so
// the caller can show it once.
func (s *Service) CreateAccount(ctx context.Context, sc Scope, a *Account) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if a.Secret == "" {
		a.Secret = GenerateSecret()
	}
	if err := s.prepareAccount(ctx, sc, a); err != nil {
		return err
	}
	if err := s.store.CreateAccount(ctx, a); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpUpsert, Account: a})
	return nil
}

func (s *Service) accountInScope(ctx context.Context, sc Scope, a *Account, err error, key any) (*Account, error) {
	if err != nil {
		return nil, err
	}
	if !sc.All() {
		if _, err := s.tenantInScope(ctx, sc, a.TenantID); err != nil {
			return nil, NotFound("account", key)
		}
	}
	return a, nil
}

// Account returns account id if the scope sees it.
func (s *Service) Account(ctx context.Context, sc Scope, id int64) (*Account, error) {
	a, err := s.store.Account(ctx, id)
	return s.accountInScope(ctx, sc, a, err, id)
}

// AccountByUsername returns username@domain if the scope sees it.
func (s *Service) AccountByUsername(ctx context.Context, sc Scope, domain, username string) (*Account, error) {
	d, err := s.DomainByName(ctx, sc, domain)
	if err != nil {
		return nil, err
	}
	a, err := s.store.AccountByUsername(ctx, d.ID, username)
	return s.accountInScope(ctx, sc, a, err, username+"@"+d.Name)
}

// UpdateAccount loads account id, lets fn change it and saves it. The
// domain of an account cannot change: delete and re-create it instead.
func (s *Service) UpdateAccount(ctx context.Context, sc Scope, id int64, fn func(*Account) error) (*Account, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	a, err := s.Account(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	oldDomain, oldSecret := a.DomainID, a.Secret
	if err := fn(a); err != nil {
		return nil, err
	}
	a.ID = id
	if a.DomainID != oldDomain {
		return nil, Invalid("domain_id", "cannot be changed: delete the account and create it in the other domain")
	}
	if err := s.prepareAccount(ctx, sc, a); err != nil {
		return nil, err
	}
	if err := s.store.UpdateAccount(ctx, a); err != nil {
		return nil, err
	}
	s.notify(ctx, Change{Op: OpUpsert, Account: a, SecretChanged: a.Secret != oldSecret})
	return a, nil
}

// DeleteAccount deletes account id; refused while DIDs route to it.
func (s *Service) DeleteAccount(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	a, err := s.Account(ctx, sc, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteAccount(ctx, id); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpDelete, Account: a})
	return nil
}

// Accounts lists the SIP accounts in scope.
func (s *Service) Accounts(ctx context.Context, sc Scope, f AccountFilter) ([]Account, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return s.store.Accounts(ctx, f)
}

// ---- gateways ----

func (s *Service) checkGatewayOwner(ctx context.Context, sc Scope, g *Gateway) error {
	if g.TenantID == nil {
		if !sc.All() {
			return Invalid("tenant_id", "is required: only an admin may manage shared gateways")
		}
		return nil
	}
	if _, err := s.tenantInScope(ctx, sc, *g.TenantID); err != nil {
		return fieldNotFound("tenant_id", err)
	}
	return nil
}

// CreateGateway creates a gateway; a nil TenantID makes it shared (admins
// only).
func (s *Service) CreateGateway(ctx context.Context, sc Scope, g *Gateway) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if err := g.Validate(); err != nil {
		return err
	}
	if err := s.checkGatewayOwner(ctx, sc, g); err != nil {
		return err
	}
	if err := s.store.CreateGateway(ctx, g); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpUpsert, Gateway: g})
	return nil
}

func (s *Service) gatewayInScope(ctx context.Context, sc Scope, g *Gateway, err error, key any) (*Gateway, error) {
	if err != nil {
		return nil, err
	}
	if !sc.All() && g.TenantID != nil {
		if _, err := s.tenantInScope(ctx, sc, *g.TenantID); err != nil {
			return nil, NotFound("gateway", key)
		}
	}
	return g, nil
}

// Gateway returns gateway id if the scope sees it (shared gateways are
// visible to everyone).
func (s *Service) Gateway(ctx context.Context, sc Scope, id int64) (*Gateway, error) {
	g, err := s.store.Gateway(ctx, id)
	return s.gatewayInScope(ctx, sc, g, err, id)
}

// GatewayByName returns the gateway called name if the scope sees it.
func (s *Service) GatewayByName(ctx context.Context, sc Scope, name string) (*Gateway, error) {
	g, err := s.store.GatewayByName(ctx, name)
	return s.gatewayInScope(ctx, sc, g, err, name)
}

// UpdateGateway loads gateway id, lets fn change it and saves it.
func (s *Service) UpdateGateway(ctx context.Context, sc Scope, id int64, fn func(*Gateway) error) (*Gateway, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	g, err := s.Gateway(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if g.TenantID == nil && !sc.All() {
		return nil, fmt.Errorf("%w: only an admin may change a shared gateway", ErrForbidden)
	}
	if err := fn(g); err != nil {
		return nil, err
	}
	g.ID = id
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkGatewayOwner(ctx, sc, g); err != nil {
		return nil, err
	}
	if err := s.store.UpdateGateway(ctx, g); err != nil {
		return nil, err
	}
	s.notify(ctx, Change{Op: OpUpsert, Gateway: g})
	return g, nil
}

// DeleteGateway deletes gateway id.
func (s *Service) DeleteGateway(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	g, err := s.Gateway(ctx, sc, id)
	if err != nil {
		return err
	}
	if g.TenantID == nil && !sc.All() {
		return fmt.Errorf("%w: only an admin may delete a shared gateway", ErrForbidden)
	}
	if err := s.store.DeleteGateway(ctx, id); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpDelete, Gateway: g})
	return nil
}

// Gateways lists the gateways in scope, shared ones included.
func (s *Service) Gateways(ctx context.Context, sc Scope, f GatewayFilter) ([]Gateway, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	f.IncludeShared = true
	return s.store.Gateways(ctx, f)
}

// ---- DIDs ----

// prepareDID checks the DID's tenant and the account it routes to, which
// must belong to the DID's tenant or one of its descendants.
func (s *Service) prepareDID(ctx context.Context, sc Scope, d *DID) error {
	if err := d.Validate(); err != nil {
		return err
	}
	t, err := s.tenantInScope(ctx, sc, d.TenantID)
	if err != nil {
		return fieldNotFound("tenant_id", err)
	}
	if d.AccountID != nil {
		a, err := s.Account(ctx, sc, *d.AccountID)
		if err != nil {
			return fieldNotFound("account_id", err)
		}
		at, err := s.store.Tenant(ctx, a.TenantID)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(at.Path, t.Path) {
			return Invalid("account_id", "must belong to the DID's tenant or one of its sub-tenants")
		}
	}
	return nil
}

// CreateDID creates a DID, optionally routed to an account.
func (s *Service) CreateDID(ctx context.Context, sc Scope, d *DID) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if err := s.prepareDID(ctx, sc, d); err != nil {
		return err
	}
	if err := s.store.CreateDID(ctx, d); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpUpsert, DID: d})
	return nil
}

func (s *Service) didInScope(ctx context.Context, sc Scope, d *DID, err error, key any) (*DID, error) {
	if err != nil {
		return nil, err
	}
	if !sc.All() {
		if _, err := s.tenantInScope(ctx, sc, d.TenantID); err != nil {
			return nil, NotFound("did", key)
		}
	}
	return d, nil
}

// DID returns DID id if the scope sees it.
func (s *Service) DID(ctx context.Context, sc Scope, id int64) (*DID, error) {
	d, err := s.store.DID(ctx, id)
	return s.didInScope(ctx, sc, d, err, id)
}

// DIDByNumber returns the DID with the E.164 number if the scope sees it.
func (s *Service) DIDByNumber(ctx context.Context, sc Scope, number string) (*DID, error) {
	d, err := s.store.DIDByNumber(ctx, number)
	return s.didInScope(ctx, sc, d, err, number)
}

// UpdateDID loads DID id, lets fn change it and saves it.
func (s *Service) UpdateDID(ctx context.Context, sc Scope, id int64, fn func(*DID) error) (*DID, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	d, err := s.DID(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if err := fn(d); err != nil {
		return nil, err
	}
	d.ID = id
	if err := s.prepareDID(ctx, sc, d); err != nil {
		return nil, err
	}
	if err := s.store.UpdateDID(ctx, d); err != nil {
		return nil, err
	}
	s.notify(ctx, Change{Op: OpUpsert, DID: d})
	return d, nil
}

// DeleteDID deletes DID id.
func (s *Service) DeleteDID(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	d, err := s.DID(ctx, sc, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteDID(ctx, id); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpDelete, DID: d})
	return nil
}

// DIDs lists the DIDs in scope.
func (s *Service) DIDs(ctx context.Context, sc Scope, f DIDFilter) ([]DID, error) {
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return s.store.DIDs(ctx, f)
}

// ---- tokens ----

// TokenPrefix starts every API token, so that secret scanners and humans
// recognise one.
const TokenPrefix = "sbt_"

// HashToken is how tokens are stored and looked up.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateToken creates an API token and returns its secret, which is shown
// once and never stored. Admin tokens have no tenant; others need one.
func (s *Service) CreateToken(ctx context.Context, name string, role Role, tenantID *int64) (string, *Token, error) {
	if err := checkText("name", name, MaxNameLen, true); err != nil {
		return "", nil, err
	}
	switch role {
	case RoleAdmin:
		if tenantID != nil {
			return "", nil, Invalid("tenant_id", "must be empty for an admin token")
		}
	case RoleTenantAdmin, RoleUser:
		if tenantID == nil {
			return "", nil, Invalid("tenant_id", "is required for a %s token", role)
		}
		if _, err := s.store.Tenant(ctx, *tenantID); err != nil {
			return "", nil, fieldNotFound("tenant_id", err)
		}
	default:
		return "", nil, Invalid("role", "must be one of admin, tenant-admin, user")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("provisioning: token: %w", err)
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	t := &Token{Name: name, Role: role, TenantID: tenantID, Hash: HashToken(secret)}
	if err := s.store.CreateToken(ctx, t); err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// Authenticate resolves a token secret to the caller's Scope. Unknown,
// revoked and malformed tokens all give ErrUnauthenticated.
//
// Successful answers are remembered for TokenCacheTTL, so a busy API does
// not pay a database round trip per request, and beyond it while the
// database is unreachable, so that durable submissions (CDRs) from known
// callers are still accepted, into the spool, during an outage. A revoked
// token therefore stops working within TokenCacheTTL.
func (s *Service) Authenticate(ctx context.Context, secret string) (Scope, *Token, error) {
	if secret == "" || len(secret) > 200 {
		return Scope{}, nil, ErrUnauthenticated
	}
	hash := HashToken(secret)
	cached, ok := s.tokens.get(hash)
	if ok && time.Since(cached.at) < s.tokenTTL {
		return cached.scope, cached.token, nil
	}
	scope, t, err := s.authenticate(ctx, hash)
	switch {
	case err == nil:
		s.tokens.put(hash, tokenEntry{scope: scope, token: t, at: time.Now()})
		return scope, t, nil
	case errors.Is(err, ErrUnauthenticated):
		s.tokens.drop(hash)
		return Scope{}, nil, err
	case ok && ctx.Err() == nil:
		s.log.WarnContext(ctx, "token check failed; using the cached answer", "token_id", cached.token.ID, "err", err)
		return cached.scope, cached.token, nil
	default:
		return Scope{}, nil, err
	}
}

func (s *Service) authenticate(ctx context.Context, hash string) (Scope, *Token, error) {
	t, err := s.store.TokenByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Scope{}, nil, ErrUnauthenticated
	}
	if err != nil {
		return Scope{}, nil, err
	}
	if t.RevokedAt != nil {
		return Scope{}, nil, ErrUnauthenticated
	}
	if t.Role == RoleAdmin {
		return AdminScope(), t, nil
	}
	tenant, err := s.store.Tenant(ctx, *t.TenantID)
	if errors.Is(err, ErrNotFound) {
		return Scope{}, nil, ErrUnauthenticated
	}
	if err != nil {
		return Scope{}, nil, err
	}
	return Scope{Role: t.Role, TenantID: tenant.ID, Path: tenant.Path}, t, nil
}

// TokenCacheTTL is how long a successful token check is reused.
const TokenCacheTTL = 30 * time.Second

type tokenEntry struct {
	scope Scope
	token *Token
	at    time.Time
}

// tokenCache remembers successful token checks by token hash. It is
// bounded: when full, it is cleared (tokens are few; a clear only costs a
// round trip per token).
type tokenCache struct {
	mu sync.Mutex
	m  map[string]tokenEntry
}

const tokenCacheMax = 10000

func (c *tokenCache) get(hash string) (tokenEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	return e, ok
}

func (c *tokenCache) put(hash string, e tokenEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tokenCacheMax {
		c.m = map[string]tokenEntry{}
	}
	c.m[hash] = e
}

func (c *tokenCache) drop(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, hash)
}

// Tokens lists API tokens (never their secrets).
func (s *Service) Tokens(ctx context.Context, p Page) ([]Token, error) {
	return s.store.Tokens(ctx, p.Normalize())
}

// RevokeToken revokes token id. This process forgets the token at once;
// other processes (the daemon, when the CLI revokes) within TokenCacheTTL.
func (s *Service) RevokeToken(ctx context.Context, id int64) error {
	if err := s.store.RevokeToken(ctx, id); err != nil {
		return err
	}
	s.tokens.mu.Lock()
	for h, e := range s.tokens.m {
		if e.token.ID == id {
			delete(s.tokens.m, h)
		}
	}
	s.tokens.mu.Unlock()
	return nil
}

// fieldNotFound turns the not-found of a referenced object into a
// validation error naming the referencing field, so a caller learns which
// parameter was wrong.
func fieldNotFound(field string, err error) error {
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return &RefError{Field: field, NotFoundError: nf}
	}
	return err
}

// RefError is a reference, in field Field, to an object that does not exist
// or is out of scope. It is both a not-found and names the field.
type RefError struct {
	Field string
	*NotFoundError
}

func (e *RefError) Error() string { return e.Field + ": " + e.NotFoundError.Error() }

// Unwrap lets callers test errors.Is(err, ErrNotFound) and errors.As into
// *NotFoundError.
func (e *RefError) Unwrap() error { return e.NotFoundError }
