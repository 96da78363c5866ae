package main

import (
	"context"
	"testing"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// `cdr import` stamps each CDR with the tenant owning its domain at the
// time of the import, as the pipeline does live (issue 11, item 1): CDRs
// imported while tenant B owned a domain stay B's after A takes the name
// over, and those of a domain nobody owns are the admin's alone.
func TestCDRImportOwners(t *testing.T) {
	csv := "../../switch/asterisk/testdata/cdr/master.csv"
	for engine, dsn := range sqldbtest.DSNs(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db, err := sqldb.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := migrateAll(ctx, db); err != nil {
				t.Fatal(err)
			}
			svc, admin := provisioning.NewService(sqlstore.New(db)), provisioning.AdminScope()
			a, b := &provisioning.Tenant{Name: "a"}, &provisioning.Tenant{Name: "b"}
			for _, tn := range []*provisioning.Tenant{a, b} {
				if err := svc.CreateTenant(ctx, admin, tn); err != nil {
					t.Fatal(err)
				}
			}
			d := &provisioning.Domain{TenantID: b.ID, Name: "pbx.example.com"}
			if err := svc.CreateDomain(ctx, admin, d); err != nil {
				t.Fatal(err)
			}
			imp := func(sw, domain string) {
				t.Helper()
				if _, stderr, err := runCmd(t, "cdr", "import", "--switch", sw, "--domain", domain, "--database-dsn", dsn, csv); err != nil {
					t.Fatalf("import %s: %v\n%s", sw, err, stderr)
				}
			}
			imp("ast-b", "pbx.example.com")
			imp("ast-nobody", "never.example.com")
			if err := svc.DeleteDomain(ctx, admin, d.ID); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"pbx.example.com", "never.example.com"} {
				if err := svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: a.ID, Name: name}); err != nil {
					t.Fatal(err)
				}
			}
			imp("ast-a", "pbx.example.com")

			store := cdrstore.NewStore(db)
			for _, tc := range []struct {
				who     string
				tenants []int64
				want    map[string]int // CDRs per switch
			}{
				{"A", []int64{a.ID}, map[string]int{"ast-a": 7}},
				{"B", []int64{b.ID}, map[string]int{"ast-b": 7}},
				{"admin", nil, map[string]int{"ast-a": 7, "ast-b": 7, "ast-nobody": 7}},
			} {
				recs, _, err := store.Query(ctx, cdr.Filter{Tenants: tc.tenants, Limit: cdr.MaxLimit})
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]int{}
				for _, r := range recs {
					got[r.Switch]++
				}
				if len(got) != len(tc.want) {
					t.Errorf("%s sees %v, want %v", tc.who, got, tc.want)
				}
				for sw, n := range tc.want {
					if got[sw] != n {
						t.Errorf("%s sees %v, want %v", tc.who, got, tc.want)
						break
					}
				}
			}
		})
	}
}
