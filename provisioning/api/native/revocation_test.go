package native

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/provisioning/api/dcp"
	"github.com/switchboard-voip/switchboard/provisioning/provisioningtest"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// listeners is the daemon's shape for these tests: one Service (over a
// store that counts its calls) behind the native API and the dcp dialect,
// each on a listener of its own, as serve runs them.
type listeners struct {
	svc     *provisioning.Service
	count   *provisioningtest.CountingStore
	view    *presence.View
	native  *httptest.Server
	dcp     *httptest.Server
	dcpH    http.Handler // what dcp serves, for benchmarks
	tenant  *provisioning.Tenant
	token   string // a tenant-admin token of tenant
	tokenID int64
}

func newListeners(tb testing.TB, db *sqldb.DB, ttl time.Duration, regs int) *listeners {
	tb.Helper()
	ctx := context.Background()
	if err := sqlstore.Migrate(ctx, db); err != nil {
		tb.Fatal(err)
	}
	l := &listeners{count: &provisioningtest.CountingStore{Store: sqlstore.New(db)}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l.svc = provisioning.NewService(l.count, provisioning.WithCacheTTL(ttl), provisioning.WithBcryptCost(4), provisioning.WithLogger(quiet))
	view := presence.New()
	l.view = view
	deps := api.Deps{Service: l.svc, Presence: view, Log: quiet}
	l.native = httptest.NewServer(New(deps))
	l.dcpH = dcp.New(deps)
	l.dcp = httptest.NewServer(l.dcpH)
	tb.Cleanup(l.native.Close)
	tb.Cleanup(l.dcp.Close)

	admin := provisioning.AdminScope()
	l.tenant = &provisioning.Tenant{Name: "T"}
	other := &provisioning.Tenant{Name: "O"}
	for _, tn := range []*provisioning.Tenant{l.tenant, other} {
		if err := l.svc.CreateTenant(ctx, admin, tn); err != nil {
			tb.Fatal(err)
		}
	}
	for _, d := range []provisioning.Domain{{TenantID: l.tenant.ID, Name: "t.example"}, {TenantID: other.ID, Name: "o.example"}} {
		if err := l.svc.CreateDomain(ctx, admin, &d); err != nil {
			tb.Fatal(err)
		}
	}
	feed := view.Feed("sw1")
	for i := range regs {
		domain := "t.example"
		if i%2 == 1 {
			domain = "o.example"
		}
		feed.PutRegistration(regFor(fmt.Sprint(1000+i), domain))
	}
	secret, tok, err := l.svc.CreateToken(ctx, "t", provisioning.RoleTenantAdmin, &l.tenant.ID)
	if err != nil {
		tb.Fatal(err)
	}
	l.token, l.tokenID = secret, tok.ID
	return l
}

// registrations is GET /api/v1/registrations on the native listener.
func (l *listeners) registrations(tb testing.TB) (int, map[string]any) {
	tb.Helper()
	req, _ := http.NewRequest("GET", l.native.URL+"/api/v1/registrations", nil)
	req.Header.Set("Authorization", "Bearer "+l.token)
	return l.get(tb, req)
}

// onlineList is dcp onlinephone/list on the dcp listener, with the dcp
// parameter when domain is not "".
func (l *listeners) onlineList(tb testing.TB, domain string) (int, map[string]any) {
	tb.Helper()
	q := url.Values{"token": {l.token}}
	if domain != "" {
		q.Set("dcp", domain)
	}
	req, _ := http.NewRequest("GET", l.dcp.URL+"/onlinephone/list?"+q.Encode(), nil)
	return l.get(tb, req)
}

func (l *listeners) get(tb testing.TB, req *http.Request) (int, map[string]any) {
	tb.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		tb.Fatalf("%s: %v", req.URL.Path, err)
	}
	return res.StatusCode, m
}

// TestRevocationOnEveryListener: the very next request after RevokeToken
// returns is refused on the native listener (401) and on the dcp listener
// (403 Invalid token), although both had the token's answer cached and the
// cache TTL is an hour. No sleep: the invalidation is synchronous.
func TestRevocationOnEveryListener(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		l := newListeners(t, db, time.Hour, 4)
		if code, m := l.registrations(t); code != http.StatusOK {
			t.Fatalf("native before revocation: %d %v", code, m)
		}
		if code, m := l.onlineList(t, ""); code != http.StatusOK {
			t.Fatalf("dcp before revocation: %d %v", code, m)
		}
		if err := l.svc.RevokeToken(context.Background(), l.tokenID); err != nil {
			t.Fatal(err)
		}
		if code, m := l.registrations(t); code != http.StatusUnauthorized {
			t.Errorf("native right after revocation: %d %v, want 401", code, m)
		}
		code, m := l.onlineList(t, "t.example")
		if code != http.StatusForbidden || m["message"] != "Invalid token" {
			t.Errorf("dcp right after revocation: %d %v, want 403 Invalid token", code, m)
		}
	})
}

// TestWarmPresenceReadTouchesNoStore: once the caches are warm, a presence
// read (dcp onlinephone/list with and without a dcp parameter, native
// /registrations) makes no store call at all; a domain created meanwhile is
// in the very next answer.
func TestWarmPresenceReadTouchesNoStore(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		l := newListeners(t, db, time.Hour, 6)
		reads := []struct {
			name string
			read func() (int, map[string]any)
			n    func(map[string]any) int
		}{
			{"dcp onlinephone/list", func() (int, map[string]any) { return l.onlineList(t, "") }, dcpCount},
			{"dcp onlinephone/list dcp=t.example", func() (int, map[string]any) { return l.onlineList(t, "t.example") }, dcpCount},
			{"native /registrations", func() (int, map[string]any) { return l.registrations(t) }, nativeCount},
		}
		for _, rd := range reads {
			rd.read() // warm
			l.count.Reset()
			code, m := rd.read()
			if code != http.StatusOK || rd.n(m) != 3 {
				t.Errorf("%s: %d, %d registrations, want 200 with 3: %v", rd.name, code, rd.n(m), m)
			}
			if n := l.count.Calls(); n != 0 {
				t.Errorf("%s: warm read made %d store calls, want 0", rd.name, n)
			}
		}
		// A domain created is in the very next answers, although its
		// absence was cached.
		if code, _ := l.onlineList(t, "t2.example"); code != 501 {
			t.Fatalf("dcp=t2.example before it exists: %d, want 501", code)
		}
		l.view.Feed("sw1").PutRegistration(regFor("2000", "t2.example"))
		if err := l.svc.CreateDomain(context.Background(), provisioning.AdminScope(),
			&provisioning.Domain{TenantID: l.tenant.ID, Name: "t2.example"}); err != nil {
			t.Fatal(err)
		}
		if code, m := l.onlineList(t, "t2.example"); code != http.StatusOK || dcpCount(m) != 1 {
			t.Errorf("dcp=t2.example once created: %d %v", code, m)
		}
		if code, m := l.registrations(t); code != http.StatusOK || nativeCount(m) != 4 {
			t.Errorf("native after the domain was created: %d, %d registrations, want 4", code, nativeCount(m))
		}
	})
}

func dcpCount(m map[string]any) int {
	d, _ := m["data"].([]any)
	return len(d)
}

func nativeCount(m map[string]any) int {
	d, _ := m["items"].([]any)
	return len(d)
}

// BenchmarkWarmPresenceRead is dcp onlinephone/list of one tenant's domain
// among 1,000 and 100,000 registrations, served in process (no network), with the
// caches (the default) and without them (TTL 0: the token and domain
// scope are read from the store on every request, as before the caches).
// Compare the ns/op of cache=on and cache=off.
func BenchmarkWarmPresenceRead(b *testing.B) {
	for _, regs := range []int{1000, 100_000} {
		for _, engine := range []sqldb.Engine{sqldb.SQLite, sqldb.Postgres} {
			for _, cache := range []struct {
				name string
				ttl  time.Duration
			}{{"on", provisioning.CacheTTL}, {"off", 0}} {
				b.Run(fmt.Sprintf("regs=%d/%s/cache=%s", regs, engine, cache.name), func(b *testing.B) {
					dsn, ok := sqldbtest.DSNs(b)[engine]
					if !ok {
						b.Skip("engine not available")
					}
					db, err := sqldb.Open(context.Background(), dsn)
					if err != nil {
						b.Fatal(err)
					}
					defer db.Close()
					l := newListeners(b, db, cache.ttl, regs)
					target := "/onlinephone/list?" + url.Values{"token": {l.token}, "dcp": {"t.example"}}.Encode()
					serve := func() {
						w := httptest.NewRecorder()
						l.dcpH.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
						if w.Code != http.StatusOK {
							b.Fatalf("%d %s", w.Code, w.Body)
						}
					}
					serve()
					l.count.Reset()
					b.ResetTimer()
					for b.Loop() {
						serve()
					}
					b.ReportMetric(float64(l.count.Calls())/float64(b.N), "store-calls/op")
				})
			}
		}
	}
}
