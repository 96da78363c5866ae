//go:build !race

package sqlstore_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// TestNumberAllocationUsesIndex: in a big domain whose usernames are names
// and 20,000 eleven-digit numbers (all sorting inside the text range of
// the shorter widths), each width's highest number is one backward probe
// of the (domain_id, length(username), username) index, never a scan of
// the domain, and an allocation stays as fast as in an empty domain.
func TestNumberAllocationUsesIndex(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		w := seed(t, s, db)
		var long []provisioning.Account
		for i := range 20_000 {
			long = append(long, provisioning.Account{DomainID: w.big.ID, Username: fmt.Sprintf("849%08d", i), Secret: "s", HA1: "h"})
		}
		must(t, s.BulkCreateAccounts(ctx, long))
		account(t, s, "4321", w.big, nil)
		analyze := `ANALYZE`
		if db.Engine == sqldb.Postgres {
			analyze = `VACUUM ANALYZE`
		}
		_, err := db.ExecContext(ctx, analyze)
		must(t, err)

		probe := map[sqldb.Engine]*regexp.Regexp{
			sqldb.SQLite:   regexp.MustCompile(`SEARCH accounts USING (COVERING )?INDEX accounts_domain_id_length_username \(domain_id=\? AND <expr>=\? AND username>\? AND username<\?\)`),
			sqldb.Postgres: regexp.MustCompile(`Index (Only )?Scan Backward using accounts_domain_id_length_username on accounts`),
		}
		scan := regexp.MustCompile(`(?m)^SCAN accounts|Seq Scan on accounts|Sort|USE TEMP B-TREE`)
		query, args := sqlstore.HighestNumbersQuery(s, w.big.ID, extensions)
		p := plan(t, db, query, args...)
		if n := len(probe[db.Engine].FindAllString(p, -1)); n != 5 {
			t.Errorf("%d index probes, want one per width (5):\n%s", n, p)
		}
		if scan.MatchString(p) {
			t.Errorf("the plan scans or sorts:\n%s", p)
		}

		start := time.Now()
		const n = 50
		for i := range n {
			a, err := allocate(ctx, s, w.big, extensions)
			must(t, err)
			if want := fmt.Sprint(4322 + i); a.Username != want {
				t.Fatalf("allocated %s, want %s", a.Username, want)
			}
		}
		t.Logf("%s: %v per allocation in a domain of %d accounts", db.Engine, time.Since(start)/n, bigDomainAccounts+20_000+1)
	})
}
