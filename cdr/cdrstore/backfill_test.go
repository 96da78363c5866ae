package cdrstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// Upgrading a database whose CDRs predate owners stamps each with the
// tenant owning its domain then (matching the name case-insensitively),
// leaves the rows of a domain nobody owns admin-only, and does so once: a
// domain deleted and taken by another tenant later does not hand the old
// rows over on the next start.
func TestMigrateStampsExistingRows(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		// The CDR schema as it was before owners: migration 0001 alone.
		name := "0001_cdrs.sql"
		body, err := os.ReadFile(filepath.Join("migrations", string(db.Engine), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, "cdr", fstest.MapFS{string(db.Engine) + "/" + name: {Data: body}}); err != nil {
			t.Fatal(err)
		}
		s := cdrstore.NewStore(db)
		if err := s.EnsurePartitions(ctx, base, base); err != nil {
			t.Fatal(err)
		}
		end := base.UnixMicro()
		for _, row := range [][2]string{{"a1", "a.example"}, {"a2", "A.Example"}, {"b1", "b.example"}, {"n1", "never.example"}, {"e1", ""}} {
			var endArg any = end
			if db.Engine == sqldb.Postgres {
				endArg = base
			}
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO cdrs (switch, call_id, domain, start_time, end_time, disposition) VALUES ('pbx1', ?, ?, ?, ?, 'ANSWERED')`),
				row[0], row[1], endArg, endArg); err != nil {
				t.Fatal(err)
			}
		}
		svc := provisioning.NewService(sqlstore.New(db))
		admin := provisioning.AdminScope()
		ta, tb := &provisioning.Tenant{Name: "a"}, &provisioning.Tenant{Name: "b"}
		for _, tn := range []*provisioning.Tenant{ta, tb} {
			if err := svc.CreateTenant(ctx, admin, tn); err != nil {
				t.Fatal(err)
			}
		}
		da, db2 := &provisioning.Domain{TenantID: ta.ID, Name: "a.example"}, &provisioning.Domain{TenantID: tb.ID, Name: "b.example"}
		for _, d := range []*provisioning.Domain{da, db2} {
			if err := svc.CreateDomain(ctx, admin, d); err != nil {
				t.Fatal(err)
			}
		}

		if err := cdrstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		want := map[string]*int64{"a1": &ta.ID, "a2": &ta.ID, "b1": &tb.ID, "n1": nil, "e1": nil}
		check := func(when string) {
			t.Helper()
			recs, _, err := s.Query(ctx, cdr.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(want) {
				t.Fatalf("%s: %d rows, want %d", when, len(recs), len(want))
			}
			for _, r := range recs {
				if w := want[r.CallID]; (w == nil) != (r.TenantID == nil) || w != nil && *w != *r.TenantID {
					t.Errorf("%s: %s (%q) owned by %v, want %v", when, r.CallID, r.Domain, deref(r.TenantID), deref(w))
				}
			}
		}
		check("after the upgrade")

		// b.example changes hands; the next start must not re-stamp.
		if err := svc.DeleteDomain(ctx, admin, db2.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: ta.ID, Name: "b.example"}); err != nil {
			t.Fatal(err)
		}
		if err := cdrstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		check("after a restart")
	})
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
