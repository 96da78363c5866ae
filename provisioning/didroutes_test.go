package provisioning_test

import (
	"slices"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestDIDRoutes: every routed DID with its account, sorted by number,
// filtered by the account's domain; unrouted DIDs and unknown domains
// give nothing.
func TestDIDRoutes(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		tn := e.tenant(t, "acme", nil)
		d1 := e.domain(t, "a.example.com", tn)
		d2 := e.domain(t, "b.example.com", tn)
		a1 := e.account(t, "2001", d1)
		a2 := e.account(t, "3001", d2)
		e.did(t, "+4930200002", tn, a1)
		e.did(t, "+4930100001", tn, a2)
		e.did(t, "+4930300003", tn, a1)
		e.did(t, "+4930400004", tn, nil) // routes nowhere

		numbers := func(rs []provisioning.DIDRoute) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.Number+">"+r.Account.Username+"@"+r.Account.Domain)
			}
			return out
		}
		for _, tc := range []struct {
			domain string
			want   []string
		}{
			{"", []string{"+4930100001>3001@b.example.com", "+4930200002>2001@a.example.com", "+4930300003>2001@a.example.com"}},
			{"a.example.com", []string{"+4930200002>2001@a.example.com", "+4930300003>2001@a.example.com"}},
			{"b.example.com", []string{"+4930100001>3001@b.example.com"}},
			{"nowhere.example.com", nil},
		} {
			got, err := e.svc.DIDRoutes(e.ctx, tc.domain)
			must(t, err)
			if g := numbers(got); !slices.Equal(g, tc.want) {
				t.Errorf("DIDRoutes(%q) = %v, want %v", tc.domain, g, tc.want)
			}
		}
		got, err := e.svc.DIDRoutes(e.ctx, "a.example.com")
		must(t, err)
		if got[0].Account.Secret == "" || got[0].Account.ID != a1.ID {
			t.Errorf("route's account not read whole: %+v", got[0].Account)
		}
	})
}

// TestDIDRouteWatch: DID changes always move routes; account changes only
// for accounts a route names (every one before the first Set and while a
// read is in progress); gateway changes never.
func TestDIDRouteWatch(t *testing.T) {
	var w provisioning.DIDRouteWatch
	acct := func(id int64) provisioning.Change {
		return provisioning.Change{Op: provisioning.OpUpsert, Account: &provisioning.Account{ID: id}}
	}
	if !w.Moves(acct(7)) {
		t.Error("before the first Set an account change must count")
	}
	w.Set([]provisioning.DIDRoute{{Number: "+4930100001", Account: provisioning.Account{ID: 1}}})
	for _, tc := range []struct {
		name string
		c    provisioning.Change
		want bool
	}{
		{"DID", provisioning.Change{Op: provisioning.OpDelete, DID: &provisioning.DID{Number: "+4930100009"}}, true},
		{"routed account", acct(1), true},
		{"other account", acct(2), false},
		{"gateway", provisioning.Change{Op: provisioning.OpUpsert, Gateway: &provisioning.Gateway{Name: "gw"}}, false},
	} {
		if got := w.Moves(tc.c); got != tc.want {
			t.Errorf("%s: Moves = %v, want %v", tc.name, got, tc.want)
		}
	}
	w.Begin()
	if !w.Moves(acct(2)) {
		t.Error("an account change during a read must count: the read may have missed it")
	}
	w.Set(nil)
	if w.Moves(acct(1)) {
		t.Error("after a read with no routes, account 1 still counts")
	}
}
