package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/provisioning/api/dcp"
	"github.com/switchboard-voip/switchboard/provisioning/api/native"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

type apiFlags struct {
	tenants, accounts, registrations, concurrency int
	duration                                      time.Duration
	postgres                                      string
}

func runAPI(ctx context.Context, args []string, out io.Writer) error {
	var f apiFlags
	fs := flag.NewFlagSet("sbload api", flag.ContinueOnError)
	fs.IntVar(&f.tenants, "tenants", 1000, "tenants, each with one domain")
	fs.IntVar(&f.accounts, "accounts", 100000, "SIP accounts, spread evenly over the domains")
	fs.IntVar(&f.registrations, "registrations", 100000, "registrations in the presence view, all in one domain")
	fs.IntVar(&f.concurrency, "concurrency", 8, "concurrent clients")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "load time per scenario")
	fs.StringVar(&f.postgres, "postgres", os.Getenv("SWITCHBOARD_TEST_POSTGRES"), "PostgreSQL DSN to measure too (a scratch schema is created and dropped)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.tenants < 1 || f.accounts < 0 || f.registrations < 0 || f.concurrency < 1 || f.duration <= 0 {
		return errors.New("sbload api: -tenants and -concurrency must be at least 1, -duration positive, the counts not negative")
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "engine\tscenario\trequests\treq/s\tp50\tp99\tmax\terrors\t")
	// The SQLite database lives in a directory of its own, removed whole
	// once the database is closed: SQLite keeps -wal and -shm files beside
	// it until the last connection closes, so removing the file alone
	// (or before Close) leaves megabytes behind in the temp directory.
	dir, err := os.MkdirTemp("", "sbload-api-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	engines := []string{"sqlite:" + filepath.Join(dir, "sbload.db")}
	if f.postgres != "" {
		dsn, drop, err := scratchSchema(ctx, f.postgres)
		if err != nil {
			return err
		}
		defer drop()
		engines = append(engines, dsn)
	}
	for _, dsn := range engines {
		if err := loadOneEngine(ctx, f, dsn, tw); err != nil {
			return err
		}
		tw.Flush()
	}
	return tw.Flush()
}

func loadOneEngine(ctx context.Context, f apiFlags, dsn string, tw io.Writer) error {
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close() // before runAPI removes the SQLite directory
	if err := sqlstore.Migrate(ctx, db); err != nil {
		return err
	}
	if err := cdrstore.Migrate(ctx, db); err != nil {
		return err
	}
	store := sqlstore.New(db)
	svc := provisioning.NewService(store)
	start := time.Now()
	domains, err := seed(ctx, store, f)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(os.Stderr, "%s: seeded %d tenants, %d domains, %d accounts in %s\n", db.Engine, f.tenants, len(domains), f.accounts, time.Since(start).Round(time.Millisecond))

	view := presence.New()
	feed := view.Feed("bench")
	big := domains[0]
	exp := time.Now().Add(time.Hour)
	for i := 0; i < f.registrations; i++ {
		u := strconv.Itoa(100000 + i)
		feed.PutRegistration(presence.Registration{User: u, Domain: big, Contact: "sip:" + u + "@192.0.2.1:5060", Address: "192.0.2.1:5060", Transport: "udp", Expires: exp, Status: presence.ContactReachable})
	}
	token, _, err := svc.CreateToken(ctx, "sbload", provisioning.RoleAdmin, nil)
	if err != nil {
		return err
	}
	deps := api.Deps{Service: svc, Presence: view, CDRs: cdrstore.NewStore(db)}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", native.New(deps))
	mux.Handle("/dcp/", http.StripPrefix("/dcp", dcp.New(deps)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln) //nolint:errcheck // closed below
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	scenarios := []struct {
		name string
		url  func(r *rand.Rand) string
	}{
		{"dcp phonenumber/list (one domain, page of 100)", func(r *rand.Rand) string {
			return base + "/dcp/phonenumber/list?token=" + url.QueryEscape(token) + "&dcp=" + domains[r.IntN(len(domains))]
		}},
		{"dcp onlinephone/list (one domain of 100k regs)", func(r *rand.Rand) string {
			return base + "/dcp/onlinephone/list?token=" + url.QueryEscape(token) + "&dcp=" + big
		}},
		{"native GET /api/v1/registrations?domain=", func(r *rand.Rand) string {
			return base + "/api/v1/registrations?domain=" + big
		}},
	}
	for _, sc := range scenarios {
		res := hammer(ctx, f.concurrency, f.duration, token, sc.url)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%s\t%s\t%s\t%d\t\n", db.Engine, sc.name, res.n, res.rps, res.p50, res.p99, res.max, res.errors)
	}
	return nil
}

// seed creates tenants, one domain each, and accounts spread over them.
func seed(ctx context.Context, store *sqlstore.Store, f apiFlags) ([]string, error) {
	domains := make([]string, 0, f.tenants)
	domainIDs := make([]int64, 0, f.tenants)
	for i := 0; i < f.tenants; i++ {
		t := &provisioning.Tenant{Name: fmt.Sprintf("tenant %04d", i)}
		if err := store.CreateTenant(ctx, t); err != nil {
			return nil, err
		}
		d := &provisioning.Domain{TenantID: t.ID, Name: fmt.Sprintf("d%04d.bench.example", i)}
		if err := store.CreateDomain(ctx, d); err != nil {
			return nil, err
		}
		domains, domainIDs = append(domains, d.Name), append(domainIDs, d.ID)
	}
	per := f.accounts / len(domainIDs)
	batch := make([]provisioning.Account, 0, 5000)
	for i, id := range domainIDs {
		for j := 0; j < per; j++ {
			u := strconv.Itoa(1000 + j)
			secret := "secret-" + u
			batch = append(batch, provisioning.Account{DomainID: id, Username: u, Secret: secret, HA1: provisioning.HA1(u, domains[i], secret), Description: "bench"})
			if len(batch) == cap(batch) {
				if err := store.BulkCreateAccounts(ctx, batch); err != nil {
					return nil, err
				}
				batch = batch[:0]
			}
		}
	}
	if len(batch) > 0 {
		if err := store.BulkCreateAccounts(ctx, batch); err != nil {
			return nil, err
		}
	}
	return domains, nil
}

type result struct {
	n, errors     int
	rps           float64
	p50, p99, max time.Duration
}

// hammer runs concurrency clients against url for d and returns the
// throughput and latency percentiles of the successful requests.
func hammer(ctx context.Context, concurrency int, d time.Duration, token string, url func(*rand.Rand) string) result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxIdleConns: concurrency}, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu     sync.Mutex
		lat    []time.Duration
		errors int
		wg     sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			var mine []time.Duration
			bad := 0
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", url(r), nil)
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						bad++
					}
					continue
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck
				resp.Body.Close()
				if resp.StatusCode != 200 {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errors += bad
			mu.Unlock()
		}(uint64(w))
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	res := result{n: len(lat), errors: errors, rps: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		res.p50 = lat[len(lat)/2].Round(time.Microsecond)
		res.p99 = lat[len(lat)*99/100].Round(time.Microsecond)
		res.max = lat[len(lat)-1].Round(time.Microsecond)
	}
	return res
}

// scratchSchema creates a schema to load into and returns a DSN using it
// and a function that drops it.
func scratchSchema(ctx context.Context, base string) (string, func(), error) {
	schema := fmt.Sprintf("sbload_%d", time.Now().UnixNano())
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create scratch schema: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE") //nolint:errcheck // best effort
		admin.Close()
	}, nil
}
