package freeswitch

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/provisioningtest"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// The size: 100,000 extensions in 1,000 tenants, each ringing an
// account of its tenant (seeded as provisioning's BenchmarkRoutingDecision
// seeds it).
const (
	routingBenchTenants = 1000
	routingBenchExts    = 100
)

// BenchmarkXMLCurlRouting: an xml_curl dialplan answer for a number of a
// tenant's plan (the phone dialled it: Hunt-Context sb-t<id>), and for
// the account label the number's extension runs next, through the whole
// handler (form parsing, the cached plan, the cached rendering, the
// document), after every tenant's plan was asked once (steady state: a
// plan is rebuilt and re-rendered once per change of its tenant). The
// "first" case renders a tenant's plan every time (what the first call
// after a change costs). Each reports its p99.
func BenchmarkXMLCurlRouting(b *testing.B) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	must2(b, err)
	b.Cleanup(func() { db.Close() })
	must2(b, sqlstore.Migrate(ctx, db))
	st := sqlstore.New(db)
	svc := provisioning.NewService(st, provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	seeded := provisioningtest.SeedRouting(b, ctx, st, routingBenchTenants, routingBenchExts)
	tenants := seeded.Tenants
	accountOf := map[[2]int64]int64{} // tenant, extension index → account
	for i, t := range tenants {
		for j, id := range seeded.Accounts[i] {
			accountOf[[2]int64{t.ID, int64(j)}] = id
		}
	}
	h := NewXMLCurlHandler(XMLCurlConfig{Directory: ServiceDirectory(svc), Router: ServiceRouter(svc),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rnd := rand.New(rand.NewPCG(1, 2))
	ask := func(tenant int64, dest string) {
		form := url.Values{"section": {"dialplan"}, "Hunt-Context": {RoutingContext(tenant)}, "Hunt-Destination-Number": {dest},
			"Caller-Destination-Number": {dest}, "Caller-Caller-ID-Number": {"2001"}}
		req := httptest.NewRequest("POST", "/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "<extension") {
			b.Fatalf("answer for %s in tenant %d: %d %s", dest, tenant, w.Code, w.Body)
		}
	}
	for _, t := range tenants { // every plan asked once
		ask(t.ID, "100")
	}
	run := func(name string, op func()) {
		b.Run(name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				op()
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
		})
	}
	run("number", func() {
		t := tenants[rnd.IntN(len(tenants))]
		ask(t.ID, strconv.Itoa(100+rnd.IntN(routingBenchExts)))
	})
	run("account-label", func() {
		t := tenants[rnd.IntN(len(tenants))]
		ask(t.ID, "sb-a"+strconv.FormatInt(accountOf[[2]int64{t.ID, int64(rnd.IntN(routingBenchExts))}], 10))
	})
	run("first-after-change", func() {
		t := tenants[rnd.IntN(len(tenants))]
		p, err := svc.TenantPlan(ctx, t.ID)
		must2(b, err)
		renderPlan(p, renderOptions{Profile: "external", Else: "default"})
	})
}

func must2(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
