package sqlstore_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// world is a small tree with something of every kind in it:
//
//	A ─┬─ A1 ── A11
//	   └─ A2
//	B
type world struct {
	A, A1, A11, A2, B   *provisioning.Tenant
	dA, dA1, dA11, dB   *provisioning.Domain
	uA, uA1, uB         *provisioning.User
	a100, a101, a200    *provisioning.Account // in dA1; a100 is uA1's
	aB100               *provisioning.Account // "100" in dB
	gShared, gA1, gB    *provisioning.Gateway
	nA1, nA11, nB, nA1b *provisioning.DID
}

func newWorld(t *testing.T, s *sqlstore.Store) *world {
	w := &world{}
	w.A = tenant(t, s, "A", nil)
	w.A1 = tenant(t, s, "A1", w.A)
	w.A11 = tenant(t, s, "A11", w.A1)
	w.A2 = tenant(t, s, "A2", w.A)
	w.B = tenant(t, s, "B", nil)
	w.dA, w.dA1 = domain(t, s, "a.example", w.A), domain(t, s, "a1.example", w.A1)
	w.dA11, w.dB = domain(t, s, "a11.example", w.A11), domain(t, s, "b.example", w.B)
	w.uA, w.uA1, w.uB = user(t, s, "ua", w.A), user(t, s, "ua1", w.A1), user(t, s, "ub", w.B)
	w.a100 = account(t, s, "100", w.dA1, w.uA1)
	w.aB100 = account(t, s, "100", w.dB, w.uB)
	w.a101 = account(t, s, "101", w.dA1, nil)
	w.a200 = account(t, s, "200", w.dA1, nil)
	w.gShared, w.gA1, w.gB = gateway(t, s, "shared", nil), gateway(t, s, "gw-a1", w.A1), gateway(t, s, "gw-b", w.B)
	w.nA1 = did(t, s, "+4930111111", w.A1, w.a100)
	w.nA11 = did(t, s, "+4930222222", w.A11, nil)
	w.nB = did(t, s, "+4940111111", w.B, w.aB100)
	w.nA1b = did(t, s, "+4930111112", w.A1, nil)
	return w
}

func tenantIDs(v ...*provisioning.Tenant) []int64 {
	out := []int64{}
	for _, x := range v {
		out = append(out, x.ID)
	}
	return out
}

func TestFilters(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		w := newWorld(t, s)

		type tc struct {
			name string
			list func() ([]int64, error)
			want []int64
		}
		tenants := func(f provisioning.TenantFilter) func() ([]int64, error) {
			return func() ([]int64, error) {
				r, err := s.Tenants(ctx, f)
				return ids(r, func(x provisioning.Tenant) int64 { return x.ID }), err
			}
		}
		domains := func(f provisioning.DomainFilter) func() ([]int64, error) {
			return func() ([]int64, error) {
				r, err := s.Domains(ctx, f)
				return ids(r, func(x provisioning.Domain) int64 { return x.ID }), err
			}
		}
		users := func(f provisioning.UserFilter) func() ([]int64, error) {
			return func() ([]int64, error) {
				r, err := s.Users(ctx, f)
				return ids(r, func(x provisioning.User) int64 { return x.ID }), err
			}
		}
		accounts := func(f provisioning.AccountFilter) func() ([]int64, error) {
			return func() ([]int64, error) {
				r, err := s.Accounts(ctx, f)
				for _, a := range r { // every listed account carries its domain
					if a.Domain == "" || a.TenantID == 0 {
						return nil, fmt.Errorf("account %d listed without domain: %+v", a.ID, a)
					}
				}
				return ids(r, func(x provisioning.Account) int64 { return x.ID }), err
			}
		}
		gateways := func(f provisioning.GatewayFilter) func() ([]int64, error) {
			return func() ([]int64, error) {
				r, err := s.Gateways(ctx, f)
				return ids(r, func(x provisioning.Gateway) int64 { return x.ID }), err
			}
		}
		dids := func(f provisioning.DIDFilter) func() ([]int64, error) {
			return func() ([]int64, error) {
				r, err := s.DIDs(ctx, f)
				return ids(r, func(x provisioning.DID) int64 { return x.ID }), err
			}
		}
		id := func(v ...int64) []int64 {
			if v == nil {
				return []int64{}
			}
			return v
		}

		for _, c := range []tc{
			{"tenants all", tenants(provisioning.TenantFilter{}), tenantIDs(w.A, w.A1, w.A11, w.A2, w.B)},
			{"tenants subtree A", tenants(provisioning.TenantFilter{Subtree: w.A.Path}), tenantIDs(w.A, w.A1, w.A11, w.A2)},
			{"tenants subtree A1", tenants(provisioning.TenantFilter{Subtree: w.A1.Path}), tenantIDs(w.A1, w.A11)},
			{"tenants subtree none", tenants(provisioning.TenantFilter{Subtree: "/none/"}), id()},
			{"tenants parent A", tenants(provisioning.TenantFilter{ParentID: &w.A.ID}), tenantIDs(w.A1, w.A2)},
			{"tenants name", tenants(provisioning.TenantFilter{Name: "A11"}), tenantIDs(w.A11)},
			{"tenants subtree B name A1", tenants(provisioning.TenantFilter{Subtree: w.B.Path, Name: "A1"}), id()},

			{"domains subtree A1", domains(provisioning.DomainFilter{Subtree: w.A1.Path}), id(w.dA1.ID, w.dA11.ID)},
			{"domains tenant A", domains(provisioning.DomainFilter{TenantID: w.A.ID}), id(w.dA.ID)},
			{"domains name", domains(provisioning.DomainFilter{Name: "b.example"}), id(w.dB.ID)},
			{"domains name out of subtree", domains(provisioning.DomainFilter{Subtree: w.A.Path, Name: "b.example"}), id()},

			{"users subtree A", users(provisioning.UserFilter{Subtree: w.A.Path}), id(w.uA.ID, w.uA1.ID)},
			{"users tenant B", users(provisioning.UserFilter{TenantID: w.B.ID}), id(w.uB.ID)},
			{"users login", users(provisioning.UserFilter{Login: "ua1"}), id(w.uA1.ID)},
			{"users email any case", users(provisioning.UserFilter{Email: "UB@EXAMPLE.COM"}), id(w.uB.ID)},

			{"accounts all", accounts(provisioning.AccountFilter{}), id(w.a100.ID, w.aB100.ID, w.a101.ID, w.a200.ID)},
			{"accounts subtree A", accounts(provisioning.AccountFilter{Subtree: w.A.Path}), id(w.a100.ID, w.a101.ID, w.a200.ID)},
			{"accounts subtree A11", accounts(provisioning.AccountFilter{Subtree: w.A11.Path}), id()},
			{"accounts tenant B", accounts(provisioning.AccountFilter{TenantID: w.B.ID}), id(w.aB100.ID)},
			{"accounts domain A1", accounts(provisioning.AccountFilter{DomainID: w.dA1.ID}), id(w.a100.ID, w.a101.ID, w.a200.ID)},
			{"accounts user", accounts(provisioning.AccountFilter{UserID: w.uA1.ID}), id(w.a100.ID)},
			{"accounts username", accounts(provisioning.AccountFilter{Username: "100"}), id(w.a100.ID, w.aB100.ID)},
			{"accounts prefix 10", accounts(provisioning.AccountFilter{UsernamePrefix: "10"}), id(w.a100.ID, w.aB100.ID, w.a101.ID)},
			{"accounts prefix 10 in B subtree", accounts(provisioning.AccountFilter{Subtree: w.B.Path, UsernamePrefix: "10"}), id(w.aB100.ID)},
			{"accounts prefix 2", accounts(provisioning.AccountFilter{DomainID: w.dA1.ID, UsernamePrefix: "2"}), id(w.a200.ID)},
			{"accounts prefix invalid UTF-8", accounts(provisioning.AccountFilter{UsernamePrefix: "\xff"}), id()},

			{"gateways all", gateways(provisioning.GatewayFilter{}), id(w.gShared.ID, w.gA1.ID, w.gB.ID)},
			{"gateways subtree A", gateways(provisioning.GatewayFilter{Subtree: w.A.Path}), id(w.gA1.ID)},
			{"gateways subtree A with shared", gateways(provisioning.GatewayFilter{Subtree: w.A.Path, IncludeShared: true}), id(w.gShared.ID, w.gA1.ID)},
			{"gateways subtree A2 with shared", gateways(provisioning.GatewayFilter{Subtree: w.A2.Path, IncludeShared: true}), id(w.gShared.ID)},
			{"gateways tenant B", gateways(provisioning.GatewayFilter{TenantID: w.B.ID}), id(w.gB.ID)},
			{"gateways name", gateways(provisioning.GatewayFilter{Name: "shared", Subtree: w.B.Path, IncludeShared: true}), id(w.gShared.ID)},

			{"dids subtree A1", dids(provisioning.DIDFilter{Subtree: w.A1.Path}), id(w.nA1.ID, w.nA11.ID, w.nA1b.ID)},
			{"dids tenant A1", dids(provisioning.DIDFilter{TenantID: w.A1.ID}), id(w.nA1.ID, w.nA1b.ID)},
			{"dids account", dids(provisioning.DIDFilter{AccountID: w.aB100.ID}), id(w.nB.ID)},
			{"dids prefix +4930", dids(provisioning.DIDFilter{NumberPrefix: "+4930"}), id(w.nA1.ID, w.nA11.ID, w.nA1b.ID)},
			{"dids prefix +493011111", dids(provisioning.DIDFilter{NumberPrefix: "+493011111"}), id(w.nA1.ID, w.nA1b.ID)},
			{"dids prefix +49 in B", dids(provisioning.DIDFilter{Subtree: w.B.Path, NumberPrefix: "+49"}), id(w.nB.ID)},
		} {
			t.Run(c.name, func(t *testing.T) {
				got, err := c.list()
				must(t, err)
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("got %v, want %v", got, c.want)
				}
			})
		}
	})
}

func TestKeysetPaging(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		tn := tenant(t, s, "t", nil)
		d1, d2 := domain(t, s, "one.example", tn), domain(t, s, "two.example", tn)
		var want []int64
		for i := range 10 { // interleave two domains so the IDs of one have gaps
			want = append(want, account(t, s, fmt.Sprint(1000+i), d1, nil).ID)
			account(t, s, fmt.Sprint(1000+i), d2, nil)
		}
		var got []int64
		var sizes []int
		after := int64(0)
		for range 10 {
			page, err := s.Accounts(ctx, provisioning.AccountFilter{DomainID: d1.ID, Page: provisioning.Page{After: after, Limit: 3}})
			must(t, err)
			sizes = append(sizes, len(page))
			if len(page) == 0 {
				break
			}
			for _, a := range page {
				got = append(got, a.ID)
			}
			after = page[len(page)-1].ID
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("paged IDs %v, want %v", got, want)
		}
		if !reflect.DeepEqual(sizes, []int{3, 3, 3, 1, 0}) {
			t.Errorf("page sizes %v, want [3 3 3 1 0]", sizes)
		}
	})
}

func TestPageLimitsClamped(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		d := domain(t, s, "one.example", tenant(t, s, "t", nil))
		accts := make([]provisioning.Account, provisioning.MaxLimit+1)
		for i := range accts {
			accts[i] = provisioning.Account{DomainID: d.ID, Username: fmt.Sprint(i), Secret: "xxxx", HA1: "h"}
		}
		must(t, s.BulkCreateAccounts(ctx, accts))
		for _, tc := range []struct{ limit, want int }{
			{0, provisioning.DefaultLimit}, {-5, provisioning.DefaultLimit}, {7, 7}, {5000, provisioning.MaxLimit},
		} {
			got, err := s.Accounts(ctx, provisioning.AccountFilter{DomainID: d.ID, Page: provisioning.Page{Limit: tc.limit}})
			must(t, err)
			if len(got) != tc.want {
				t.Errorf("limit %d: %d rows, want %d", tc.limit, len(got), tc.want)
			}
		}
	})
}
