// Package provisioningtest holds test helpers for code built on the
// provisioning.Service.
package provisioningtest

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// CountingStore is a provisioning.Store that counts the calls it passes on
// to Store, so that a test can prove a request path does not touch the
// store (a warm cache) or how often it does. It forwards the optional
// interfaces the Service looks for (Broadcaster, InvalidationSource) when
// Store has them.
type CountingStore struct {
	Store provisioning.Store
	calls atomic.Int64
}

var _ provisioning.Store = (*CountingStore)(nil)

// Calls is the number of store calls so far.
func (c *CountingStore) Calls() int64 { return c.calls.Load() }

// Reset sets the count to zero.
func (c *CountingStore) Reset() { c.calls.Store(0) }

// CreateTenant counts and forwards.
func (c *CountingStore) CreateTenant(ctx context.Context, t *provisioning.Tenant) error {
	c.calls.Add(1)
	return c.Store.CreateTenant(ctx, t)
}

// Tenant counts and forwards.
func (c *CountingStore) Tenant(ctx context.Context, id int64) (*provisioning.Tenant, error) {
	c.calls.Add(1)
	return c.Store.Tenant(ctx, id)
}

// UpdateTenant counts and forwards.
func (c *CountingStore) UpdateTenant(ctx context.Context, t *provisioning.Tenant) error {
	c.calls.Add(1)
	return c.Store.UpdateTenant(ctx, t)
}

// DeleteTenant counts and forwards.
func (c *CountingStore) DeleteTenant(ctx context.Context, id int64) error {
	c.calls.Add(1)
	return c.Store.DeleteTenant(ctx, id)
}

// Tenants counts and forwards.
func (c *CountingStore) Tenants(ctx context.Context, f provisioning.TenantFilter) ([]provisioning.Tenant, error) {
	c.calls.Add(1)
	return c.Store.Tenants(ctx, f)
}

// CreateDomain counts and forwards.
func (c *CountingStore) CreateDomain(ctx context.Context, d *provisioning.Domain) error {
	c.calls.Add(1)
	return c.Store.CreateDomain(ctx, d)
}

// Domain counts and forwards.
func (c *CountingStore) Domain(ctx context.Context, id int64) (*provisioning.Domain, error) {
	c.calls.Add(1)
	return c.Store.Domain(ctx, id)
}

// DomainByName counts and forwards.
func (c *CountingStore) DomainByName(ctx context.Context, name string) (*provisioning.Domain, error) {
	c.calls.Add(1)
	return c.Store.DomainByName(ctx, name)
}

// UpdateDomain counts and forwards.
func (c *CountingStore) UpdateDomain(ctx context.Context, d *provisioning.Domain) error {
	c.calls.Add(1)
	return c.Store.UpdateDomain(ctx, d)
}

// DeleteDomain counts and forwards.
func (c *CountingStore) DeleteDomain(ctx context.Context, id int64) error {
	c.calls.Add(1)
	return c.Store.DeleteDomain(ctx, id)
}

// Domains counts and forwards.
func (c *CountingStore) Domains(ctx context.Context, f provisioning.DomainFilter) ([]provisioning.Domain, error) {
	c.calls.Add(1)
	return c.Store.Domains(ctx, f)
}

// CreateUser counts and forwards.
func (c *CountingStore) CreateUser(ctx context.Context, u *provisioning.User) error {
	c.calls.Add(1)
	return c.Store.CreateUser(ctx, u)
}

// User counts and forwards.
func (c *CountingStore) User(ctx context.Context, id int64) (*provisioning.User, error) {
	c.calls.Add(1)
	return c.Store.User(ctx, id)
}

// UserByLogin counts and forwards.
func (c *CountingStore) UserByLogin(ctx context.Context, login string) (*provisioning.User, error) {
	c.calls.Add(1)
	return c.Store.UserByLogin(ctx, login)
}

// UpdateUser counts and forwards.
func (c *CountingStore) UpdateUser(ctx context.Context, u *provisioning.User) error {
	c.calls.Add(1)
	return c.Store.UpdateUser(ctx, u)
}

// DeleteUser counts and forwards.
func (c *CountingStore) DeleteUser(ctx context.Context, id int64) error {
	c.calls.Add(1)
	return c.Store.DeleteUser(ctx, id)
}

// Users counts and forwards.
func (c *CountingStore) Users(ctx context.Context, f provisioning.UserFilter) ([]provisioning.User, error) {
	c.calls.Add(1)
	return c.Store.Users(ctx, f)
}

// CreateAccount counts and forwards.
func (c *CountingStore) CreateAccount(ctx context.Context, a *provisioning.Account) error {
	c.calls.Add(1)
	return c.Store.CreateAccount(ctx, a)
}

// Account counts and forwards.
func (c *CountingStore) Account(ctx context.Context, id int64) (*provisioning.Account, error) {
	c.calls.Add(1)
	return c.Store.Account(ctx, id)
}

// AccountByUsername counts and forwards.
func (c *CountingStore) AccountByUsername(ctx context.Context, domainID int64, username string) (*provisioning.Account, error) {
	c.calls.Add(1)
	return c.Store.AccountByUsername(ctx, domainID, username)
}

// UpdateAccount counts and forwards.
func (c *CountingStore) UpdateAccount(ctx context.Context, a *provisioning.Account) error {
	c.calls.Add(1)
	return c.Store.UpdateAccount(ctx, a)
}

// DeleteAccount counts and forwards.
func (c *CountingStore) DeleteAccount(ctx context.Context, id int64) error {
	c.calls.Add(1)
	return c.Store.DeleteAccount(ctx, id)
}

// Accounts counts and forwards.
func (c *CountingStore) Accounts(ctx context.Context, f provisioning.AccountFilter) ([]provisioning.Account, error) {
	c.calls.Add(1)
	return c.Store.Accounts(ctx, f)
}

// CreateGateway counts and forwards.
func (c *CountingStore) CreateGateway(ctx context.Context, g *provisioning.Gateway) error {
	c.calls.Add(1)
	return c.Store.CreateGateway(ctx, g)
}

// Gateway counts and forwards.
func (c *CountingStore) Gateway(ctx context.Context, id int64) (*provisioning.Gateway, error) {
	c.calls.Add(1)
	return c.Store.Gateway(ctx, id)
}

// GatewayByName counts and forwards.
func (c *CountingStore) GatewayByName(ctx context.Context, name string) (*provisioning.Gateway, error) {
	c.calls.Add(1)
	return c.Store.GatewayByName(ctx, name)
}

// UpdateGateway counts and forwards.
func (c *CountingStore) UpdateGateway(ctx context.Context, g *provisioning.Gateway) error {
	c.calls.Add(1)
	return c.Store.UpdateGateway(ctx, g)
}

// DeleteGateway counts and forwards.
func (c *CountingStore) DeleteGateway(ctx context.Context, id int64) error {
	c.calls.Add(1)
	return c.Store.DeleteGateway(ctx, id)
}

// Gateways counts and forwards.
func (c *CountingStore) Gateways(ctx context.Context, f provisioning.GatewayFilter) ([]provisioning.Gateway, error) {
	c.calls.Add(1)
	return c.Store.Gateways(ctx, f)
}

// CreateDID counts and forwards.
func (c *CountingStore) CreateDID(ctx context.Context, d *provisioning.DID) error {
	c.calls.Add(1)
	return c.Store.CreateDID(ctx, d)
}

// DID counts and forwards.
func (c *CountingStore) DID(ctx context.Context, id int64) (*provisioning.DID, error) {
	c.calls.Add(1)
	return c.Store.DID(ctx, id)
}

// DIDByNumber counts and forwards.
func (c *CountingStore) DIDByNumber(ctx context.Context, number string) (*provisioning.DID, error) {
	c.calls.Add(1)
	return c.Store.DIDByNumber(ctx, number)
}

// UpdateDID counts and forwards.
func (c *CountingStore) UpdateDID(ctx context.Context, d *provisioning.DID) error {
	c.calls.Add(1)
	return c.Store.UpdateDID(ctx, d)
}

// DeleteDID counts and forwards.
func (c *CountingStore) DeleteDID(ctx context.Context, id int64) error {
	c.calls.Add(1)
	return c.Store.DeleteDID(ctx, id)
}

// DIDs counts and forwards.
func (c *CountingStore) DIDs(ctx context.Context, f provisioning.DIDFilter) ([]provisioning.DID, error) {
	c.calls.Add(1)
	return c.Store.DIDs(ctx, f)
}

// CreateToken counts and forwards.
func (c *CountingStore) CreateToken(ctx context.Context, t *provisioning.Token) error {
	c.calls.Add(1)
	return c.Store.CreateToken(ctx, t)
}

// TokenByHash counts and forwards.
func (c *CountingStore) TokenByHash(ctx context.Context, hash string) (*provisioning.Token, error) {
	c.calls.Add(1)
	return c.Store.TokenByHash(ctx, hash)
}

// Tokens counts and forwards.
func (c *CountingStore) Tokens(ctx context.Context, p provisioning.Page) ([]provisioning.Token, error) {
	c.calls.Add(1)
	return c.Store.Tokens(ctx, p)
}

// RevokeToken counts and forwards.
func (c *CountingStore) RevokeToken(ctx context.Context, id int64) error {
	c.calls.Add(1)
	return c.Store.RevokeToken(ctx, id)
}

// Broadcast forwards to Store when it is a provisioning.Broadcaster
// (uncounted: it is a notification, not a lookup).
func (c *CountingStore) Broadcast(ctx context.Context, inv provisioning.Invalidation) error {
	if b, ok := c.Store.(provisioning.Broadcaster); ok {
		return b.Broadcast(ctx, inv)
	}
	return nil
}

// Listen forwards to Store when it is a provisioning.InvalidationSource,
// else reports errors.ErrUnsupported as a store without notifications does.
func (c *CountingStore) Listen(ctx context.Context, ready func(), deliver func(provisioning.Invalidation)) error {
	if s, ok := c.Store.(provisioning.InvalidationSource); ok {
		return s.Listen(ctx, ready, deliver)
	}
	return errors.ErrUnsupported
}
