package sqldbtest

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

func TestPrivateClusterStopsAndStarts(t *testing.T) {
	c := PrivateCluster(t)
	ping := func() error {
		db, err := sql.Open("pgx", c.DSN)
		if err != nil {
			return err
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return db.PingContext(ctx)
	}
	if err := ping(); err != nil {
		t.Fatalf("fresh cluster: %v", err)
	}
	c.Stop()
	if err := ping(); err == nil {
		t.Fatal("stopped cluster still answers")
	}
	c.Start()
	if err := ping(); err != nil {
		t.Fatalf("restarted cluster: %v", err)
	}
}
