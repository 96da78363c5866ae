package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// TestGatewayNamesFollowChanges: the daemon's set of provisioned gateway
// names (CDR classification, presence) follows creates, renames and
// deletes as they are committed, and calls its listeners only when the
// set changes. A renamed gateway's old name leaves at once (it stayed
// until the next reconnect).
func TestGatewayNamesFollowChanges(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc := provisioning.NewService(sqlstore.New(db))
	admin := provisioning.AdminScope()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	old := &provisioning.Gateway{Name: "carrier-a", Host: "sip.a.example"}
	must(svc.CreateGateway(ctx, admin, old))
	g := &gatewayNames{svc: svc}
	must(g.refresh(ctx))
	svc.AddSink(g)
	calls := 0
	g.onChange(func() { calls++ })

	steps := []struct {
		name  string
		do    func()
		has   []string
		hasnt []string
		calls int
	}{
		{"refreshed", func() {}, []string{"carrier-a"}, []string{"carrier-b"}, 0},
		{"created", func() {
			must(svc.CreateGateway(ctx, admin, &provisioning.Gateway{Name: "carrier-b", Host: "sip.b.example"}))
		},
			[]string{"carrier-a", "carrier-b"}, nil, 1},
		{"updated, same name", func() {
			_, err := svc.UpdateGateway(ctx, admin, old.ID, func(g *provisioning.Gateway) error { g.Description = "main"; return nil })
			must(err)
		}, []string{"carrier-a", "carrier-b"}, nil, 1},
		{"renamed", func() {
			_, err := svc.UpdateGateway(ctx, admin, old.ID, func(g *provisioning.Gateway) error { g.Name = "carrier-c"; return nil })
			must(err)
		}, []string{"carrier-b", "carrier-c"}, []string{"carrier-a"}, 2},
		{"deleted", func() { must(svc.DeleteGateway(ctx, admin, old.ID)) }, []string{"carrier-b"}, []string{"carrier-a", "carrier-c"}, 3},
	}
	for _, st := range steps {
		st.do()
		for _, n := range st.has {
			if !g.has(n) {
				t.Errorf("%s: %q not in the set", st.name, n)
			}
		}
		for _, n := range st.hasnt {
			if g.has(n) {
				t.Errorf("%s: %q still in the set", st.name, n)
			}
		}
		if calls != st.calls {
			t.Errorf("%s: listeners called %d times in all, want %d", st.name, calls, st.calls)
		}
	}
}
