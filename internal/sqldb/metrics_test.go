package sqldb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// TestQueryMetrics: statements through DB are counted by engine and verb.
func TestQueryMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := sqldb.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := sqldb.RegisterMetrics(reg); err != nil {
		t.Fatalf("registering twice: %v", err)
	}
	db, err := sqldb.Open(context.Background(), "sqlite:"+t.TempDir()+"/m.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.GetContext(ctx, &n, "  SELECT count(*) FROM t"); err != nil || n != 1 {
		t.Fatalf("count %d, %v", n, err)
	}
	out, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var verbs []string
	for _, mf := range out {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" {
					verbs = append(verbs, l.GetValue())
				}
			}
		}
	}
	if s := strings.Join(verbs, ","); !strings.Contains(s, "insert") || !strings.Contains(s, "select") || !strings.Contains(s, "other") {
		t.Errorf("verbs %s", s)
	}
}
