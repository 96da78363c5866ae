//go:build !race

// The query-plan checks are left out of race-detector builds: they test no
// concurrency, and seeding 100,000 rows through the race-instrumented
// (transpiled) SQLite takes half a minute instead of two seconds.

package sqlstore_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// Sizes of the seeded database: 100,000 accounts, one big domain among
// many small ones, so that a plan which scans the table or sorts a domain's
// accounts is caught. (Selecting whole rows, PostgreSQL walks the primary
// key for a domain this big; the deferred join of accountsQuery keeps it on
// the domain's index.) The plans depend on the size: a smaller seed makes
// PostgreSQL rightly prefer a sequential scan.
const (
	bigDomainAccounts   = 20_000
	smallDomains        = 80
	smallDomainAccounts = 1_000
)

type seeded struct {
	tenant, other *provisioning.Tenant
	big           *provisioning.Domain
}

// seed fills s with 100,000 accounts and refreshes the planner statistics.
func seed(tb testing.TB, s *sqlstore.Store, db *sqldb.DB) seeded {
	tb.Helper()
	ctx := context.Background()
	tn := &provisioning.Tenant{Name: "big"}
	other := &provisioning.Tenant{Name: "other"}
	if err := s.BulkCreateTenants(ctx, []*provisioning.Tenant{tn, other}); err != nil {
		tb.Fatal(err)
	}
	domains := []*provisioning.Domain{{TenantID: tn.ID, Name: "big.example"}}
	for i := range smallDomains {
		owner := tn.ID
		if i%2 == 1 {
			owner = other.ID
		}
		domains = append(domains, &provisioning.Domain{TenantID: owner, Name: fmt.Sprintf("d%d.example", i)})
	}
	if err := s.BulkCreateDomains(ctx, domains); err != nil {
		tb.Fatal(err)
	}
	// Interleave the domains' accounts so that a domain's IDs are spread
	// over the whole table, as they are after years of provisioning.
	var accts []provisioning.Account
	for i := range bigDomainAccounts {
		accts = append(accts, provisioning.Account{DomainID: domains[0].ID, Username: fmt.Sprintf("u%06d", i),
			Secret: "secret", HA1: "ha1"})
		if i%(bigDomainAccounts/smallDomainAccounts) == 0 {
			for _, d := range domains[1:] {
				accts = append(accts, provisioning.Account{DomainID: d.ID, Username: fmt.Sprintf("u%06d", i),
					Secret: "secret", HA1: "ha1"})
			}
		}
	}
	start := time.Now()
	if err := s.BulkCreateAccounts(ctx, accts); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("%s: seeded %d accounts in %v", db.Engine, len(accts), time.Since(start).Round(time.Millisecond))
	// Statistics and the visibility map, as autovacuum keeps them.
	analyze := `ANALYZE`
	if db.Engine == sqldb.Postgres {
		analyze = `VACUUM ANALYZE`
	}
	if _, err := db.ExecContext(ctx, analyze); err != nil {
		tb.Fatal(err)
	}
	return seeded{tn, other, domains[0]}
}

// plan returns the engine's query plan for query as one string.
func plan(t *testing.T, db *sqldb.DB, query string, args ...any) string {
	t.Helper()
	prefix := "EXPLAIN "
	if db.Engine == sqldb.SQLite {
		prefix = "EXPLAIN QUERY PLAN "
	}
	rows, err := db.QueryContext(context.Background(), db.Rebind(prefix+query), args...)
	must(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	must(t, err)
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		must(t, rows.Scan(ptrs...))
		lines = append(lines, fmt.Sprint(vals[len(vals)-1])) // the detail / plan text column
	}
	must(t, rows.Err())
	return strings.Join(lines, "\n")
}

func TestAccountQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		w := seed(t, s, db)
		var mid int64 // half-way into the big domain
		must(t, db.GetContext(ctx, &mid, db.Rebind(`SELECT id FROM accounts WHERE domain_id = ? ORDER BY id LIMIT 1 OFFSET ?`),
			w.big.ID, bigDomainAccounts/2))

		// A page's IDs come from an ordered range of the (domain_id, id)
		// index, stopped by the LIMIT: no sort below the LIMIT. The 100
		// joined rows may be sorted again on top, which costs nothing.
		pageFromIndex := map[sqldb.Engine]*regexp.Regexp{
			sqldb.SQLite:   regexp.MustCompile(`^CO-ROUTINE p\nSEARCH a USING COVERING INDEX accounts_domain_id_id \(domain_id=\? AND id>\?\)\n`),
			sqldb.Postgres: regexp.MustCompile(`->  Limit .*\n\s*->  Index Only Scan using accounts_domain_id_id on accounts .*\n\s*Index Cond: \(\(domain_id = .*\) AND \(id > .*\)\)`),
		}
		byPK := map[sqldb.Engine]*regexp.Regexp{
			sqldb.SQLite:   regexp.MustCompile(`SEARCH a USING INTEGER PRIMARY KEY \(rowid=\?\)`),
			sqldb.Postgres: regexp.MustCompile(`Index Scan using accounts_pkey on accounts a .*\n\s*Index Cond: \(id = `),
		}
		byUsername := map[sqldb.Engine]*regexp.Regexp{
			sqldb.SQLite:   regexp.MustCompile(`SEARCH a USING INDEX sqlite_autoindex_accounts_1 \(domain_id=\? AND username=\?\)`),
			sqldb.Postgres: regexp.MustCompile(`Index Scan using accounts_domain_id_username_key on accounts a|Bitmap Index Scan on accounts_domain_id_username_key`),
		}
		fullScan := regexp.MustCompile(`(?m)^SCAN a\b|Seq Scan on accounts`)

		q1, a1 := sqlstore.AccountsQuery(provisioning.AccountFilter{DomainID: w.big.ID, Page: provisioning.Page{After: mid, Limit: 100}})
		q2, a2 := sqlstore.AccountsQuery(provisioning.AccountFilter{DomainID: w.big.ID, Subtree: w.tenant.Path,
			Page: provisioning.Page{After: mid, Limit: 100}})
		for _, c := range []struct {
			name  string
			query string
			args  []any
			want  map[sqldb.Engine]*regexp.Regexp
		}{
			{"domain page", q1, a1, pageFromIndex},
			{"domain page in subtree", q2, a2, pageFromIndex},
			{"account by id", sqlstore.AccountByID, []any{mid}, byPK},
			{"account by username", sqlstore.AccountByUsername, []any{w.big.ID, "u010000"}, byUsername},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := plan(t, db, c.query, c.args...)
				if !c.want[db.Engine].MatchString(p) {
					t.Errorf("plan does not match %s:\n%s", c.want[db.Engine], p)
				}
				if fullScan.MatchString(p) {
					t.Errorf("plan scans accounts:\n%s", p)
				}
			})
		}

		// And the page itself is right: the next 100 of the big domain.
		got, err := s.Accounts(ctx, provisioning.AccountFilter{DomainID: w.big.ID, Subtree: w.tenant.Path,
			Page: provisioning.Page{After: mid, Limit: 100}})
		must(t, err)
		if len(got) != 100 || got[0].ID <= mid || got[0].Domain != "big.example" {
			t.Fatalf("page after %d: %d rows, first %+v", mid, len(got), got[0])
		}
		for i := 1; i < len(got); i++ {
			if got[i].ID <= got[i-1].ID {
				t.Fatalf("page not in ID order at %d", i)
			}
		}
		// Out of scope: the other tenant's subtree sees none of it.
		none, err := s.Accounts(ctx, provisioning.AccountFilter{DomainID: w.big.ID, Subtree: w.other.Path})
		must(t, err)
		if len(none) != 0 {
			t.Errorf("other tenant's subtree lists %d accounts of the big domain", len(none))
		}
	})
}

// BenchmarkAccountsPage measures one keyset page of a big domain, deep into
// it, through the tenant-scoped query the Service issues.
func BenchmarkAccountsPage(b *testing.B) {
	ctx := context.Background()
	for engine, dsn := range sqldbtest.DSNs(b) {
		b.Run(string(engine), func(b *testing.B) {
			db, err := sqldb.Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := sqlstore.Migrate(ctx, db); err != nil {
				b.Fatal(err)
			}
			s := sqlstore.New(db)
			w := seed(b, s, db)
			var mid int64
			if err := db.GetContext(ctx, &mid, db.Rebind(`SELECT id FROM accounts WHERE domain_id = ? ORDER BY id LIMIT 1 OFFSET ?`),
				w.big.ID, bigDomainAccounts/2); err != nil {
				b.Fatal(err)
			}
			f := provisioning.AccountFilter{DomainID: w.big.ID, Subtree: w.tenant.Path,
				Page: provisioning.Page{After: mid, Limit: 100}}
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Accounts(ctx, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
