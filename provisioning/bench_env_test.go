package provisioning_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// benchService opens dsn, migrates it and returns its store and a quiet
// Service over it with a tenant "bench"; the database closes with b.
func benchService(b *testing.B, dsn string) (*sqlstore.Store, *provisioning.Service, *provisioning.Tenant) {
	b.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := sqlstore.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	st := sqlstore.New(db)
	svc := provisioning.NewService(st, provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	tn := &provisioning.Tenant{Name: "bench"}
	if err := svc.CreateTenant(ctx, provisioning.AdminScope(), tn); err != nil {
		b.Fatal(err)
	}
	return st, svc, tn
}
