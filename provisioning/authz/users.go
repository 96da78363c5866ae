package authz

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// UserResolver names the user whose account placed a call, from what a
// switch knows of the caller: Asterisk's ${CHANNEL(endpoint)} (username,
// or username@domain on a node with IDWithDomain). 0: no user (not an
// account, an account without a user, or ambiguous).
type UserResolver interface {
	AccountUser(ctx context.Context, tenantID int64, endpoint string) (int64, error)
}

// AccountLister is provisioning.Service's Accounts.
type AccountLister interface {
	Accounts(ctx context.Context, sc provisioning.Scope, f provisioning.AccountFilter) ([]provisioning.Account, error)
}

// ProvisioningAccountUsers resolves endpoints through the tenant's
// accounts, each answer kept for LimitsTTL (asked on every call).
func ProvisioningAccountUsers(l AccountLister) UserResolver {
	return &accountUsers{l: l, now: time.Now, m: map[accountKey]cachedUser{}}
}

type accountKey struct {
	tenant   int64
	endpoint string
}

type cachedUser struct {
	user int64
	at   time.Time
}

type accountUsers struct {
	l   AccountLister
	now func() time.Time
	mu  sync.Mutex
	m   map[accountKey]cachedUser
}

func (a *accountUsers) AccountUser(ctx context.Context, tenantID int64, endpoint string) (int64, error) {
	k, now := accountKey{tenantID, endpoint}, a.now()
	a.mu.Lock()
	c, ok := a.m[k]
	a.mu.Unlock()
	if ok && now.Sub(c.at) < LimitsTTL {
		return c.user, nil
	}
	user, domain, _ := strings.Cut(endpoint, "@")
	accts, err := a.l.Accounts(ctx, provisioning.AdminScope(), provisioning.AccountFilter{TenantID: tenantID, Username: user, Page: provisioning.Page{Limit: 2}})
	if err != nil {
		return 0, err
	}
	var id int64
	n := 0
	for _, ac := range accts {
		if domain != "" && !strings.EqualFold(ac.Domain, domain) {
			continue
		}
		n++
		if ac.UserID != nil {
			id = *ac.UserID
		}
	}
	if n != 1 {
		id = 0
	}
	a.mu.Lock()
	if len(a.m) > 100_000 {
		clear(a.m)
	}
	a.m[k] = cachedUser{user: id, at: now}
	a.mu.Unlock()
	return id, nil
}
