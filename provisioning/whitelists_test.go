package provisioning_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

func entries(prefixes ...string) []provisioning.WhitelistEntry {
	out := make([]provisioning.WhitelistEntry, len(prefixes))
	for i, p := range prefixes {
		out[i] = provisioning.WhitelistEntry{Prefix: p}
	}
	return out
}

// TestWhitelistCRUD: a tenant's and a user's whitelists on both engines:
// bad values named with nothing written, names unique per owner, another
// tenant's user refused, the owner fixed, scope (a tenant-admin sets its
// users' and children's whitelists, not its own tenant's), a deleted user
// taking its whitelists.
func TestWhitelistCRUD(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		root := e.tenant(t, "root", nil)
		other := e.tenant(t, "other", nil)
		bob := e.user(t, "bob", root, provisioning.RoleUser)
		eve := e.user(t, "eve", other, provisioning.RoleUser)
		tw := &provisioning.Whitelist{TenantID: root.ID, Name: "Domestic", Entries: []provisioning.WhitelistEntry{{Prefix: "1", Description: "NANP"}, {Prefix: "44"}}}
		must(t, e.svc.CreateWhitelist(e.ctx, admin, tw))
		uw := &provisioning.Whitelist{TenantID: root.ID, UserID: &bob.ID, Name: "Domestic", Entries: entries("1212")}
		must(t, e.svc.CreateWhitelist(e.ctx, admin, uw)) // the same name, another owner
		many := make([]provisioning.WhitelistEntry, provisioning.MaxWhitelistEntries+1)
		for i := range many {
			many[i].Prefix = fmt.Sprint(1000 + i)
		}
		for _, tc := range []struct {
			name  string
			w     provisioning.Whitelist
			field string
			err   error
		}{
			{"no name", provisioning.Whitelist{TenantID: other.ID}, "name", nil},
			{"long name", provisioning.Whitelist{TenantID: other.ID, Name: strings.Repeat("n", 101)}, "name", nil},
			{"plus", provisioning.Whitelist{TenantID: other.ID, Name: "x", Entries: entries("49", "+44")}, "entries[1].prefix", nil},
			{"letters", provisioning.Whitelist{TenantID: other.ID, Name: "x", Entries: entries("4a")}, "entries[0].prefix", nil},
			{"empty prefix", provisioning.Whitelist{TenantID: other.ID, Name: "x", Entries: entries("")}, "entries[0].prefix", nil},
			{"long prefix", provisioning.Whitelist{TenantID: other.ID, Name: "x", Entries: entries(strings.Repeat("4", 33))}, "entries[0].prefix", nil},
			{"duplicate", provisioning.Whitelist{TenantID: other.ID, Name: "x", Entries: entries("44", "49", "44")}, "entries[2].prefix", nil},
			{"hidden description", provisioning.Whitelist{TenantID: other.ID, Name: "x", Entries: []provisioning.WhitelistEntry{{Prefix: "44", Description: "UK\u202e"}}}, "entries[0].description", nil},
			{"too many", provisioning.Whitelist{TenantID: other.ID, Name: "x", Entries: many}, "entries", nil},
			{"another tenant's user", provisioning.Whitelist{TenantID: root.ID, UserID: &eve.ID, Name: "x"}, "user_id", nil},
			{"no such tenant", provisioning.Whitelist{TenantID: 9999, Name: "x"}, "", provisioning.ErrNotFound},
			{"name taken", provisioning.Whitelist{TenantID: root.ID, Name: "Domestic"}, "", provisioning.ErrConflict},
			{"user's name taken", provisioning.Whitelist{TenantID: root.ID, UserID: &bob.ID, Name: "Domestic"}, "", provisioning.ErrConflict},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := e.svc.CreateWhitelist(e.ctx, admin, &tc.w)
				var fe *provisioning.FieldError
				switch {
				case tc.err != nil && !errors.Is(err, tc.err):
					t.Fatalf("err = %v, want %v", err, tc.err)
				case tc.err == nil && (!errors.As(err, &fe) || fe.Field != tc.field):
					t.Fatalf("err = %v, want invalid %s", err, tc.field)
				}
			})
		}
		all, err := e.svc.Whitelists(e.ctx, admin, provisioning.WhitelistFilter{})
		must(t, err)
		if len(all) != 2 {
			t.Fatalf("refused creates wrote something: %+v", all)
		}
		got, err := e.svc.Whitelist(e.ctx, admin, tw.ID)
		must(t, err)
		if got.Name != "Domestic" || len(got.Entries) != 2 || got.Entries[0] != (provisioning.WhitelistEntry{Prefix: "1", Description: "NANP"}) || got.UserID != nil {
			t.Fatalf("read back %+v", got)
		}
		up, err := e.svc.UpdateWhitelist(e.ctx, admin, tw.ID, func(w *provisioning.Whitelist) error { w.Entries = entries("33"); return nil })
		must(t, err)
		if got, _ := e.svc.Whitelist(e.ctx, admin, tw.ID); len(got.Entries) != 1 || got.Entries[0].Prefix != "33" || !got.UpdatedAt.Equal(up.UpdatedAt) {
			t.Fatalf("after update %+v", got)
		}
		if _, err := e.svc.UpdateWhitelist(e.ctx, admin, tw.ID, func(w *provisioning.Whitelist) error { w.Entries = entries("3x"); return nil }); !errors.Is(err, provisioning.ErrInvalid) {
			t.Fatalf("bad update: %v", err)
		}
		if got, _ := e.svc.Whitelist(e.ctx, admin, tw.ID); got.Entries[0].Prefix != "33" {
			t.Fatalf("a refused update wrote %+v", got)
		}
		if _, err := e.svc.UpdateWhitelist(e.ctx, admin, tw.ID, func(w *provisioning.Whitelist) error { w.UserID = &bob.ID; return nil }); !errors.Is(err, provisioning.ErrInvalid) {
			t.Fatalf("moved a tenant's whitelist to a user: %v", err)
		}
		if _, err := e.svc.UpdateWhitelist(e.ctx, admin, uw.ID, func(w *provisioning.Whitelist) error { w.UserID = &eve.ID; return nil }); !errors.Is(err, provisioning.ErrInvalid) {
			t.Fatalf("moved a user's whitelist to another user: %v", err)
		}
		for _, tc := range []struct {
			f    provisioning.WhitelistFilter
			want []int64
		}{
			{provisioning.WhitelistFilter{TenantID: root.ID}, []int64{tw.ID, uw.ID}},
			{provisioning.WhitelistFilter{UserID: bob.ID}, []int64{uw.ID}},
			{provisioning.WhitelistFilter{TenantID: root.ID, TenantOnly: true}, []int64{tw.ID}},
			{provisioning.WhitelistFilter{TenantID: other.ID}, nil},
			{provisioning.WhitelistFilter{Page: provisioning.Page{After: tw.ID}}, []int64{uw.ID}},
		} {
			ws, err := e.svc.Whitelists(e.ctx, admin, tc.f)
			must(t, err)
			var ids []int64
			for _, w := range ws {
				ids = append(ids, w.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
				t.Errorf("filter %+v: %v, want %v", tc.f, ids, tc.want)
			}
		}
		// scope: the other tenant's admin sees none of root's
		sc := e.scopeOf(t, provisioning.RoleTenantAdmin, other)
		if _, err := e.svc.Whitelist(e.ctx, sc, tw.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("out of scope: %v", err)
		}
		if ws, err := e.svc.Whitelists(e.ctx, sc, provisioning.WhitelistFilter{}); err != nil || len(ws) != 0 {
			t.Fatalf("out of scope list: %+v %v", ws, err)
		}
		// a tenant-admin sets its users' and its children's, not its own
		// tenant's
		child := e.tenant(t, "child", root)
		rootAdmin := e.scopeOf(t, provisioning.RoleTenantAdmin, root)
		if err := e.svc.CreateWhitelist(e.ctx, rootAdmin, &provisioning.Whitelist{TenantID: child.ID, Name: "c", Entries: entries("44")}); err != nil {
			t.Fatalf("tenant-admin, child's whitelist: %v", err)
		}
		if _, err := e.svc.UpdateWhitelist(e.ctx, rootAdmin, uw.ID, func(w *provisioning.Whitelist) error { w.Entries = entries("1"); return nil }); err != nil {
			t.Fatalf("tenant-admin, its user's whitelist: %v", err)
		}
		if err := e.svc.CreateWhitelist(e.ctx, rootAdmin, &provisioning.Whitelist{TenantID: root.ID, Name: "all", Entries: entries("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")}); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("tenant-admin widening its own tenant's whitelists: %v", err)
		}
		if _, err := e.svc.UpdateWhitelist(e.ctx, rootAdmin, tw.ID, func(w *provisioning.Whitelist) error { w.Entries = entries("9"); return nil }); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("tenant-admin changing its own tenant's whitelist: %v", err)
		}
		if err := e.svc.DeleteWhitelist(e.ctx, rootAdmin, tw.ID); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("tenant-admin deleting its own tenant's whitelist: %v", err)
		}
		if err := e.svc.CreateWhitelist(e.ctx, e.scopeOf(t, provisioning.RoleUser, root), &provisioning.Whitelist{TenantID: root.ID, UserID: &bob.ID, Name: "mine"}); !errors.Is(err, provisioning.ErrForbidden) {
			t.Fatalf("a user writing whitelists: %v", err)
		}
		must(t, e.store.DeleteUser(e.ctx, bob.ID))
		if _, err := e.svc.Whitelist(e.ctx, admin, uw.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("the deleted user's whitelist: %v", err)
		}
		must(t, e.svc.DeleteWhitelist(e.ctx, admin, tw.ID))
		if _, err := e.svc.Whitelist(e.ctx, admin, tw.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if err := e.svc.DeleteWhitelist(e.ctx, admin, tw.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

// TestCallWhitelists: what the authorizer asks (Whitelisted), on both
// engines: no whitelist allows everything; a user's, its tenant's and an
// ancestor's all apply together; an empty whitelist allows nothing; a
// change is seen by the very next call (the cache is invalidated, not
// expired).
func TestCallWhitelists(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		reseller := e.tenant(t, "reseller", nil)
		cust := e.tenant(t, "cust", reseller)
		bob := e.user(t, "bob", cust, provisioning.RoleUser)
		ann := e.user(t, "ann", cust, provisioning.RoleUser)
		check := func(t *testing.T, step string, tenant, user int64, want map[string]bool) {
			t.Helper()
			for dest, ok := range want {
				got, detail, err := e.svc.Whitelisted(e.ctx, tenant, user, dest)
				must(t, err)
				if got != ok || (!ok && detail == "") || (ok && detail != "") {
					t.Errorf("%s: Whitelisted(%d, %d, %q) = %v %q, want %v", step, tenant, user, dest, got, detail, ok)
				}
			}
		}
		check(t, "none", cust.ID, bob.ID, map[string]bool{"447700900123": true, "900123": true})

		uw := &provisioning.Whitelist{TenantID: cust.ID, UserID: &bob.ID, Name: "uk", Entries: entries("44")}
		must(t, e.svc.CreateWhitelist(e.ctx, admin, uw))
		check(t, "user", cust.ID, bob.ID, map[string]bool{"447700900123": true, "+447700900123": true, "44": true, "4": false, "33123456789": false})
		check(t, "user, another user", cust.ID, ann.ID, map[string]bool{"33123456789": true})
		check(t, "user, the tenant alone", cust.ID, 0, map[string]bool{"33123456789": true})

		tw := &provisioning.Whitelist{TenantID: cust.ID, Name: "eu mobiles", Entries: entries("447", "336")}
		must(t, e.svc.CreateWhitelist(e.ctx, admin, tw))
		check(t, "both", cust.ID, bob.ID, map[string]bool{"447700900123": true, "441632960123": false, "33612345678": false})
		check(t, "tenant", cust.ID, ann.ID, map[string]bool{"447700900123": true, "33612345678": true, "441632960123": false})

		// a second tenant whitelist widens the tenant's
		must(t, e.svc.CreateWhitelist(e.ctx, admin, &provisioning.Whitelist{TenantID: cust.ID, Name: "landlines", Entries: entries("44163")}))
		check(t, "two tenant lists", cust.ID, ann.ID, map[string]bool{"441632960123": true, "441700000000": false})

		// the reseller's whitelist binds its customers too
		rw := &provisioning.Whitelist{TenantID: reseller.ID, Name: "uk only", Entries: entries("44")}
		must(t, e.svc.CreateWhitelist(e.ctx, admin, rw))
		check(t, "ancestor", cust.ID, ann.ID, map[string]bool{"447700900123": true, "33612345678": false})
		check(t, "ancestor, itself", reseller.ID, 0, map[string]bool{"33612345678": false, "441": true})

		// an update is seen at once; an emptied whitelist allows nothing
		_, err := e.svc.UpdateWhitelist(e.ctx, admin, uw.ID, func(w *provisioning.Whitelist) error { w.Entries = nil; return nil })
		must(t, err)
		check(t, "empty user list", cust.ID, bob.ID, map[string]bool{"447700900123": false})
		must(t, e.svc.DeleteWhitelist(e.ctx, admin, uw.ID))
		check(t, "user list deleted", cust.ID, bob.ID, map[string]bool{"447700900123": true})
		must(t, e.svc.DeleteWhitelist(e.ctx, admin, rw.ID))
		check(t, "ancestor deleted", cust.ID, ann.ID, map[string]bool{"33612345678": true})

		// moving the tenant out from under the reseller drops its chain
		must(t, e.svc.CreateWhitelist(e.ctx, admin, &provisioning.Whitelist{TenantID: reseller.ID, Name: "none"}))
		check(t, "ancestor empty", cust.ID, ann.ID, map[string]bool{"33612345678": false})
		_, err = e.svc.UpdateTenant(e.ctx, admin, cust.ID, func(tn *provisioning.Tenant) error { tn.ParentID = nil; return nil })
		must(t, err)
		check(t, "moved", cust.ID, ann.ID, map[string]bool{"33612345678": true})

		// Another daemon over the same database keeps its answer until
		// the broadcast invalidation reaches it.
		other := provisioning.NewService(e.store, provisioning.WithCacheTTL(time.Hour))
		seen := func(svc *provisioning.Service, want bool) {
			t.Helper()
			if ok, _, err := svc.Whitelisted(e.ctx, cust.ID, ann.ID, "33612345678"); err != nil || ok != want {
				t.Fatalf("other daemon: %v %v, want %v", ok, err, want)
			}
		}
		seen(other, true)
		must(t, e.svc.CreateWhitelist(e.ctx, admin, &provisioning.Whitelist{TenantID: cust.ID, UserID: &ann.ID, Name: "us", Entries: entries("1")}))
		seen(e.svc, false)
		seen(other, true)
		other.ApplyInvalidation(provisioning.ParseInvalidation("whitelist"))
		seen(other, false)

		if _, _, err := e.svc.Whitelisted(e.ctx, 9999, 0, "44"); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("no such tenant: %v", err)
		}
	})
}

// TestPrefixSetLongest: the longest matching prefix, the "+" form, and
// destinations shorter than, equal to and longer than the prefixes.
func TestPrefixSetLongest(t *testing.T) {
	set := provisioning.NewPrefixSet([]provisioning.Whitelist{{Entries: entries("4", "447", "44770")}, {Entries: entries("1212", "447")}})
	if set.Len() != 4 {
		t.Fatalf("Len = %d", set.Len())
	}
	for _, tc := range []struct{ dest, want string }{
		{"447700900123", "44770"},
		{"+447700900123", "44770"},
		{"447800", "447"},
		{"44", "4"},
		{"4", "4"},
		{"12125550100", "1212"},
		{"121", ""},
		{"", ""},
		{"+", ""},
		{"33", ""},
		{"a4", ""},
		{strings.Repeat("4", 100), "4"},
	} {
		got, ok := set.Longest(tc.dest)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Longest(%q) = %q %v, want %q", tc.dest, got, ok, tc.want)
		}
	}
	empty := provisioning.NewPrefixSet(nil)
	if _, ok := empty.Longest("44"); ok {
		t.Error("an empty set matched")
	}
	if n := testing.AllocsPerRun(100, func() { set.Longest("+447700900123") }); n != 0 {
		t.Errorf("Longest allocates %v times", n)
	}
}

// FuzzWhitelistPrefix: a prefix the validation accepts is matched by
// every destination that starts with it, and is found again as itself.
func FuzzWhitelistPrefix(f *testing.F) {
	for _, s := range []string{"44", "+44", "4a", "", "0", strings.Repeat("9", 32), strings.Repeat("9", 33), "١٢", "44\x00"} {
		f.Add(s, "7700900123")
	}
	f.Fuzz(func(t *testing.T, prefix, rest string) {
		err := provisioning.ValidateWhitelistPrefix("prefix", prefix)
		if err != nil {
			var fe *provisioning.FieldError
			if !errors.As(err, &fe) || fe.Field != "prefix" {
				t.Fatalf("error %v does not name the field", err)
			}
			return
		}
		if prefix == "" || len(prefix) > provisioning.MaxWhitelistPrefix || strings.Trim(prefix, "0123456789") != "" {
			t.Fatalf("accepted %q", prefix)
		}
		set := provisioning.NewPrefixSet([]provisioning.Whitelist{{Entries: entries(prefix)}})
		if got, ok := set.Longest(prefix + rest); !ok || got != prefix {
			t.Fatalf("Longest(%q) = %q %v", prefix+rest, got, ok)
		}
		if got, ok := set.Longest("+" + prefix); !ok || got != prefix {
			t.Fatalf("Longest(+%q) = %q %v", prefix, got, ok)
		}
	})
}
