package freeswitch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

const (
	xmlBenchAccounts = 100_000
	xmlBenchDomains  = 10
)

// xmlBenchHandler seeds a SQLite store with xmlBenchAccounts accounts in
// xmlBenchDomains domains (bulk inserts: a few seconds) and returns the
// guarded xml_curl handler over it and the recorded sip_auth form.
func xmlBenchHandler(b *testing.B) (http.Handler, url.Values) {
	b.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := sqlstore.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	store := sqlstore.New(db)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := provisioning.NewService(store, provisioning.WithLogger(quiet))
	admin := provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "bench"}
	if err := svc.CreateTenant(ctx, admin, tn); err != nil {
		b.Fatal(err)
	}
	accounts := make([]provisioning.Account, 0, xmlBenchAccounts)
	for d := range xmlBenchDomains {
		dom := &provisioning.Domain{TenantID: tn.ID, Name: fmt.Sprintf("d%d.bench.example", d)}
		if err := svc.CreateDomain(ctx, admin, dom); err != nil {
			b.Fatal(err)
		}
		for i := range xmlBenchAccounts / xmlBenchDomains {
			user, secret := fmt.Sprintf("%d", 100000+i), fmt.Sprintf("secret-%d-%d", d, i)
			accounts = append(accounts, provisioning.Account{DomainID: dom.ID, Username: user, Secret: secret,
				HA1: provisioning.HA1(user, dom.Name, secret), CallerIDName: "Bench " + user})
		}
	}
	start := time.Now()
	if err := store.BulkCreateAccounts(ctx, accounts); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d accounts in %v", len(accounts), time.Since(start).Round(time.Millisecond))

	guard, err := NewGuard(GuardConfig{User: "freeswitch", Password: "bench-password"})
	if err != nil {
		b.Fatal(err)
	}
	h := guard.Wrap(NewXMLCurlHandler(XMLCurlConfig{Directory: ServiceDirectory(svc), Logger: quiet}))
	var form url.Values
	for _, e := range readXMLCurlEntries(b, "directory.json") {
		if e.get("action") == "sip_auth" {
			form, _ = url.ParseQuery(e.Body)
			break
		}
	}
	return h, form
}

// BenchmarkXMLCurlDirectory measures sip_auth lookups of random users
// among 100,000 accounts on SQLite, through the whole handler (guard,
// form parsing, two indexed reads, rendering), from parallel callers as
// FreeSWITCH's registrations and INVITEs arrive. It reports lookups/s and
// the 99th percentile latency. The store is seeded once: the parent
// benchmark runs once and its sub-benchmark is what b.N repeats.
func BenchmarkXMLCurlDirectory(b *testing.B) {
	h, form := xmlBenchHandler(b)
	// Request bodies of random users, built beforehand: the recorded
	// REGISTER of 1001 with the user and domain replaced.
	bodies := make([]string, 8192)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range bodies {
		user := fmt.Sprintf("%d", 100000+rng.IntN(xmlBenchAccounts/xmlBenchDomains))
		domain := fmt.Sprintf("d%d.bench.example", rng.IntN(xmlBenchDomains))
		f := url.Values{}
		for k, v := range form {
			f[k] = slices.Clone(v)
		}
		for _, k := range []string{"user", "sip_auth_username", "sip_from_user", "sip_to_user", "sip_contact_user"} {
			f.Set(k, user)
		}
		for _, k := range []string{"domain", "key_value", "sip_auth_realm", "sip_from_host", "sip_to_host"} {
			f.Set(k, domain)
		}
		bodies[i] = f.Encode()
	}

	b.Run("sip_auth", func(b *testing.B) {
		var (
			mu  sync.Mutex
			all []time.Duration
		)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(len(bodies))
			lat := make([]time.Duration, 0, 1024)
			for pb.Next() {
				i = (i + 1) % len(bodies)
				r := httptest.NewRequest(http.MethodPost, "/xml/directory", strings.NewReader(bodies[i]))
				r.SetBasicAuth("freeswitch", "bench-password")
				w := httptest.NewRecorder()
				t0 := time.Now()
				h.ServeHTTP(w, r)
				lat = append(lat, time.Since(t0))
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"a1-hash"`) {
					b.Errorf("status %d: %.200s", w.Code, w.Body.String())
					return
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
		b.StopTimer()
		if len(all) == 0 {
			return
		}
		slices.Sort(all)
		p99 := all[(len(all)*99)/100]
		b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "lookups/s")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	})
}
