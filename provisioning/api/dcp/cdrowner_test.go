package dcp_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// Issue 11, item 1, in the dcp dialect: tenant B's domain d has CDRs, B
// deletes d, tenant A creates d. A's cdr/list, with dcp=d or without,
// shows none of B's calls; B still lists them; a CDR of a domain nobody
// provisioned is the admin's alone, even once A creates that domain.
func TestCDRListDomainChangesHands(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx, admin := context.Background(), provisioning.AdminScope()
		dB := &provisioning.Domain{TenantID: f.tenantB, Name: "d.example"}
		must(t, f.svc.CreateDomain(ctx, admin, dB))
		end := time.Date(2024, 4, 1, 10, 0, 0, 0, time.UTC)
		rec := func(id, domain string, minutes int) cdr.Record {
			e := end.Add(time.Duration(minutes) * time.Minute)
			return cdr.Record{Switch: "ast1", CallID: id, Domain: domain, Account: "9000", CallerNumber: "+15557770001",
				Start: e.Add(-time.Minute), End: e, Duration: 60, Disposition: cdr.Answered, Direction: cdr.DirectionInternal}
		}
		ingest := func(recs ...cdr.Record) {
			must(t, cdr.StampOwners(ctx, f.svc, recs))
			_, err := f.cdrs.Insert(ctx, recs)
			must(t, err)
		}
		ingest(rec("b-old", "d.example", 1), rec("never", "never.example", 2))
		must(t, f.svc.DeleteDomain(ctx, admin, dB.ID))
		must(t, f.svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: f.tenantA, Name: "d.example"}))
		must(t, f.svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: f.tenantA, Name: "never.example"}))
		ingest(rec("a-new", "d.example", 3))

		since := map[string]any{"from": "2024-04-01T00:00:00Z"}
		with := func(k, v string) map[string]any { return map[string]any{"from": "2024-04-01T00:00:00Z", k: v} }
		for _, tc := range []struct {
			tok    string
			params map[string]any
			want   []string
		}{
			{"A", with("dcp", "d.example"), []string{"a-new"}},
			{"A", since, []string{"a-new"}},
			{"A", with("dcp", "never.example"), []string{}},
			{"A", with("caller", "+15557770001"), []string{"a-new"}},
			{"B", since, []string{"b-old"}},
			{"admin", since, []string{"a-new", "never", "b-old"}},
		} {
			res := ok(t, f.call(t, "", encGET, "cdr/list", tc.tok, tc.params))
			if got := names(t, res, "call_id"); !slices.Equal(got, tc.want) {
				t.Errorf("cdr/list %v by %s: %v, want %v", tc.params, tc.tok, got, tc.want)
			}
		}
	})
}
