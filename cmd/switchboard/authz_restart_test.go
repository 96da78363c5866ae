package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
)

// TestDaemonRestartKeepsReservations: the daemon's components (newCore)
// authorize a call against a tenant's limit of one concurrent call, write
// the journal and die without stopping (SIGKILL); components built again
// over the same database and restored as runServe does (restoreAuthz,
// before the pipeline runs) refuse a second call while the first is up,
// and allow one once the first call's CDR has gone through the pipeline.
func TestDaemonRestartKeepsReservations(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := migrateAll(ctx, db); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(newFlagSet("serve", "", ""), []string{"--cdr-spool-dir", t.TempDir()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Switches = []SwitchConfig{{Name: "ast1"}}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		c, err := newCore(cfg, db, log)
		if err != nil {
			t.Fatal(err)
		}
		tn := &provisioning.Tenant{Name: "acme"}
		if err := c.svc.CreateTenant(ctx, provisioning.AdminScope(), tn); err != nil {
			t.Fatal(err)
		}
		if err := c.svc.CreateLimit(ctx, provisioning.AdminScope(), &provisioning.Limit{TenantID: tn.ID, ConcurrentCalls: 1}); err != nil {
			t.Fatal(err)
		}
		ask := func(a *authz.Authorizer, id string) authz.Decision {
			t.Helper()
			d, err := a.Authorize(ctx, authz.Call{TenantID: tn.ID, Destination: "4930123", Direction: authz.Outbound, Switch: "ast1", CallID: id})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if d := ask(c.authz, "A"); !d.Allowed {
			t.Fatalf("first call: %+v", d)
		}
		if err := c.authz.Flush(ctx); err != nil { // the journal's tick
			t.Fatal(err)
		}

		// SIGKILL: c is abandoned (its spool's lock with it: the new
		// process's spool is another directory). The daemon starts again.
		cfg.CDR.SpoolDir = t.TempDir()
		c, err = newCore(cfg, db, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := restoreAuthz(ctx, cfg, c.authz, log); err != nil {
			t.Fatal(err)
		}
		if d := ask(c.authz, "B"); d.Reason != authz.ReasonConcurrent {
			t.Fatalf("second call after the restart, the first still up: %+v, want concurrent_limit", d)
		}
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- c.pipeline.Run(pctx) }()
		defer func() { cancel(); <-done }()
		if err := c.pipeline.Put(ctx, cdrtest.Minimal("ast1", "A", "acme.example", time.Now())); err != nil {
			t.Fatal(err)
		}
		if d := ask(c.authz, "C"); !d.Allowed {
			t.Fatalf("after the first call's CDR: %+v, want allowed", d)
		}
	})
}
