package sqlstore_test

import (
	"context"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

func TestMigrateIdempotent(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		must(t, sqlstore.Migrate(ctx, db))
		s := sqlstore.New(db)
		tn := tenant(t, s, "survives a second migrate", nil)
		must(t, sqlstore.Migrate(ctx, db))
		var n int
		must(t, db.GetContext(ctx, &n, db.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE component = ?`), sqlstore.Component))
		files, err := fs.Glob(sqlstore.Migrations, string(db.Engine)+"/*.sql")
		must(t, err)
		if n != len(files) || n == 0 {
			t.Errorf("%d migrations recorded, want one per file (%d)", n, len(files))
		}
		if _, err := s.Tenant(ctx, tn.ID); err != nil {
			t.Errorf("tenant lost after second migrate: %v", err)
		}
	})
}

func TestSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	for engine, dsn := range sqldbtest.DSNs(t) {
		t.Run(string(engine), func(t *testing.T) {
			db, err := sqldb.Open(ctx, dsn)
			must(t, err)
			s := newStore(t, db)
			tn := tenant(t, s, "persistent", nil)
			d := domain(t, s, "persist.example", tn)
			a := account(t, s, "1001", d, nil)
			g := gateway(t, s, "gw", tn)
			tok := &provisioning.Token{Name: "t", Role: provisioning.RoleTenantAdmin, TenantID: &tn.ID, Hash: "h"}
			must(t, s.CreateToken(ctx, tok))
			must(t, s.RevokeToken(ctx, tok.ID))
			must(t, db.Close())

			db, err = sqldb.Open(ctx, dsn)
			must(t, err)
			defer db.Close()
			s = newStore(t, db) // a restarted daemon migrates again
			gotT, err := s.Tenant(ctx, tn.ID)
			must(t, err)
			gotA, err := s.AccountByUsername(ctx, d.ID, a.Username)
			must(t, err)
			gotG, err := s.GatewayByName(ctx, g.Name)
			must(t, err)
			gotTok, err := s.TokenByHash(ctx, tok.Hash)
			must(t, err)
			if !reflect.DeepEqual(gotT, tn) || !reflect.DeepEqual(gotA, a) || !reflect.DeepEqual(gotG, g) {
				t.Errorf("after reopen:\n%+v\n%+v\n%+v\nwant\n%+v\n%+v\n%+v", gotT, gotA, gotG, tn, a, g)
			}
			if gotTok.RevokedAt == nil {
				t.Error("revocation lost after reopen")
			}
		})
	}
}

func TestTimestampsRoundTrip(t *testing.T) {
	ctx := context.Background()
	// A zone far from UTC and nanoseconds that must be cut to the
	// microsecond both engines keep.
	zone := time.FixedZone("UTC+13:45", 13*3600+45*60)
	now := time.Date(2031, 12, 31, 23, 59, 58, 123456789, zone)
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		sqlstore.SetClock(s, func() time.Time { return now })
		tn := tenant(t, s, "t", nil)
		want := time.Date(2031, 12, 31, 10, 14, 58, 123456000, time.UTC)
		got, err := s.Tenant(ctx, tn.ID)
		must(t, err)
		for name, ts := range map[string]time.Time{"in memory": tn.CreatedAt, "read back": got.CreatedAt, "updated": got.UpdatedAt} {
			if !ts.Equal(want) || ts.Location() != time.UTC {
				t.Errorf("%s: %v (%v), want %v UTC", name, ts, ts.Location(), want)
			}
		}
		tok := &provisioning.Token{Name: "t", Role: provisioning.RoleAdmin, Hash: "h"}
		must(t, s.CreateToken(ctx, tok))
		must(t, s.RevokeToken(ctx, tok.ID))
		gotTok, err := s.TokenByHash(ctx, "h")
		must(t, err)
		if gotTok.RevokedAt == nil || !gotTok.RevokedAt.Equal(want) {
			t.Errorf("RevokedAt = %v, want %v", gotTok.RevokedAt, want)
		}
	})
}

// Names full of SQL and LIKE metacharacters are stored and matched
// verbatim: every value is a bound parameter and prefixes are ranges, not
// LIKE patterns.
func TestMetacharactersVerbatim(t *testing.T) {
	ctx := context.Background()
	nasty := []string{
		`O'Brien; DROP TABLE tenants; --`,
		`100% "quoted" \backslash\ _under_`,
		`$1 ? :name @p1 %s`,
		"Ünïcødé 日本語 🎉",
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		for _, name := range nasty {
			tn := tenant(t, s, name, nil)
			got, err := s.Tenant(ctx, tn.ID)
			must(t, err)
			if got.Name != name {
				t.Errorf("stored %q, read %q", name, got.Name)
			}
			list, err := s.Tenants(ctx, provisioning.TenantFilter{Name: name})
			must(t, err)
			if len(list) != 1 || list[0].ID != tn.ID {
				t.Errorf("filter by name %q found %v", name, list)
			}
			d := &provisioning.Domain{TenantID: tn.ID, Name: "d" + itoa(tn.ID) + ".example", Description: name}
			must(t, s.CreateDomain(ctx, d))
			gotD, err := s.Domain(ctx, d.ID)
			must(t, err)
			if gotD.Description != name {
				t.Errorf("description stored %q, read %q", name, gotD.Description)
			}
		}
		// LIKE wildcards in a prefix match only themselves.
		d := domain(t, s, "wild.example", tenant(t, s, "w", nil))
		for _, u := range []string{"a_1", "ab1", "a%1", "a1"} {
			account(t, s, u, d, nil)
		}
		for prefix, want := range map[string][]string{"a_": {"a_1"}, "a%": {"a%1"}, "a": {"a_1", "ab1", "a%1", "a1"}} {
			got, err := s.Accounts(ctx, provisioning.AccountFilter{DomainID: d.ID, UsernamePrefix: prefix})
			must(t, err)
			var names []string
			for _, a := range got {
				names = append(names, a.Username)
			}
			if !reflect.DeepEqual(names, want) {
				t.Errorf("prefix %q matched %v, want %v", prefix, names, want)
			}
		}
		// The schema is intact.
		if n, err := s.Tenants(ctx, provisioning.TenantFilter{}); err != nil || len(n) != len(nasty)+1 {
			t.Errorf("tenants after nasty names: %d, %v", len(n), err)
		}
	})
}

func TestSuccessor(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/1/", "/10", true},
		{"/1/7/", "/1/70", true},
		{"a", "b", true},
		{"+4930", "+4931", true},
		{"é", "ê", true},
		{"a\U0010FFFF", "b", true},
		{"\U0010FFFF", "", false},
		{"\uD7FF", "\uE000", true}, // skips the surrogates
	} {
		got, ok := sqlstore.Successor(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("successor(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzSuccessor checks the property the prefix ranges rely on: for valid
// UTF-8, s starts with p exactly when p <= s < successor(p).
func FuzzSuccessor(f *testing.F) {
	f.Add("/1/", "/1/7/")
	f.Add("/1/", "/10/")
	f.Add("a", "a\U0010FFFF")
	f.Add("\U0010FFFFa", "\U0010FFFF")
	f.Fuzz(func(t *testing.T, p, s string) {
		if p == "" || !utf8.ValidString(p) || !utf8.ValidString(s) {
			return
		}
		hi, ok := sqlstore.Successor(p)
		inRange := s >= p && (!ok || s < hi)
		if inRange != strings.HasPrefix(s, p) {
			t.Errorf("p=%q s=%q successor=%q,%v: in range %v, has prefix %v", p, s, hi, ok, inRange, !inRange)
		}
	})
}
