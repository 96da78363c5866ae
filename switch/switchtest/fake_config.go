package switchtest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Config is the provisioned configuration a Fake holds, as Apply left it.
type Config struct {
	Accounts []provisioning.Account // sorted by (Domain, Username)
	Gateways []provisioning.Gateway // sorted by Name
	DIDs     []provisioning.DID     // sorted by Number
}

// Apply records a committed provisioning change, as an adapter pushing it
// to its switch would. Objects are keyed by ID (by their natural key when
// the ID is 0), so a renamed account replaces its old self. Like a real
// switch, the Fake drops an account's registrations when the account is
// deleted, renamed or its secret changes. While FailApply is in force the
// change is refused and not recorded.
func (f *Fake) Apply(ctx context.Context, c provisioning.Change) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.applyErr != nil {
		return fmt.Errorf("switchtest: apply: %w", f.applyErr)
	}
	n := 0
	for _, set := range []bool{c.Account != nil, c.Gateway != nil, c.DID != nil} {
		if set {
			n++
		}
	}
	if n != 1 || (c.Op != provisioning.OpUpsert && c.Op != provisioning.OpDelete) {
		return fmt.Errorf("switchtest: apply: malformed change (op %q, %d objects)", c.Op, n)
	}
	f.changes = append(f.changes, cloneChange(c))
	del := c.Op == provisioning.OpDelete
	switch {
	case c.Account != nil:
		a := *c.Account
		k := key(a.ID, a.AOR())
		old, had := f.accounts[k]
		if had && (del || c.SecretChanged || old.AOR() != a.AOR()) {
			f.unregisterLocked(old.Domain, old.Username, "")
		}
		if del {
			delete(f.accounts, k)
		} else {
			f.accounts[k] = a
		}
	case c.Gateway != nil:
		g := *c.Gateway
		if del {
			delete(f.gws, key(g.ID, g.Name))
		} else {
			f.gws[key(g.ID, g.Name)] = g
		}
	case c.DID != nil:
		d := *c.DID
		if del {
			delete(f.dids, key(d.ID, d.Number))
		} else {
			f.dids[key(d.ID, d.Number)] = d
		}
	}
	return nil
}

func key(id int64, natural string) string {
	if id != 0 {
		return "id:" + strconv.FormatInt(id, 10)
	}
	return "key:" + natural
}

func cloneChange(c provisioning.Change) provisioning.Change {
	if c.Account != nil {
		a := *c.Account
		c.Account = &a
	}
	if c.Gateway != nil {
		g := *c.Gateway
		c.Gateway = &g
	}
	if c.DID != nil {
		d := *c.DID
		c.DID = &d
	}
	return c
}

// Applied returns the configuration the Fake holds now.
func (f *Fake) Applied() Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := Config{
		Accounts: slices.Collect(maps.Values(f.accounts)),
		Gateways: slices.Collect(maps.Values(f.gws)),
		DIDs:     slices.Collect(maps.Values(f.dids)),
	}
	slices.SortFunc(c.Accounts, func(a, b provisioning.Account) int {
		return cmp.Or(strings.Compare(a.Domain, b.Domain), strings.Compare(a.Username, b.Username))
	})
	slices.SortFunc(c.Gateways, func(a, b provisioning.Gateway) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(c.DIDs, func(a, b provisioning.DID) int { return strings.Compare(a.Number, b.Number) })
	return c
}

// Changes returns every change Apply accepted, in order.
func (f *Fake) Changes() []provisioning.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]provisioning.Change, len(f.changes))
	for i, c := range f.changes {
		out[i] = cloneChange(c)
	}
	return out
}

// FailApply makes Apply refuse every change with err until called with
// nil, to test how callers handle a failing sink.
func (f *Fake) FailApply(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applyErr = err
}
