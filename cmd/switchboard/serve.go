package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/smtpmail"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/provisioning/api/dcp"
	"github.com/switchboard-voip/switchboard/provisioning/api/native"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
	"github.com/switchboard-voip/switchboard/provisioning/notify"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// onListening, when set (by tests), is told each listener's bound address.
var onListening func(name, addr string)

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.Level) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openDB opens the configured database and applies every component's
// migrations.
func openDB(ctx context.Context, cfg Config, log *slog.Logger) (*sqldb.DB, error) {
	db, err := sqldb.Open(ctx, cfg.Database.DSN)
	if err != nil {
		return nil, err
	}
	if err := migrateAll(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	log.Info("store ready", "engine", db.Engine, "dsn", sqldb.Redact(cfg.Database.DSN))
	return db, nil
}

func migrateAll(ctx context.Context, db *sqldb.DB) error {
	if err := sqlstore.Migrate(ctx, db); err != nil {
		return err
	}
	return cdrstore.Migrate(ctx, db)
}

const serveAbout = `serve runs the daemon: the provisioning APIs, CDR ingest, presence and SIP probing,
with the switches of the configuration file. It applies pending migrations first, and
stops gracefully on SIGTERM or SIGINT.

Each setting comes from the YAML file (--config or $SWITCHBOARD_CONFIG), then its
SWITCHBOARD_* environment variable, then its flag; switches are set in the file only.`

func runServe(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[flags]", serveAbout)
	cf := addConfigFlags(fs, "")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := cf.load(fs, env)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()

	c, err := newCore(cfg, db, log)
	if err != nil {
		return err
	}
	reg, httpMetrics, cdrStore, pipeline, view, svc, deps := c.reg, c.http, c.cdrStore, c.pipeline, c.view, c.svc, c.deps
	provStore := c.provStore

	// Background components stop only after the HTTP servers have drained,
	// so a request waiting for its CDRs to become durable still completes.
	// Then the switch connections stop first, their last CDRs are handed
	// to the pipeline, and only then does the pipeline flush what is
	// queued and the database close.
	sources := newGroup(ctx, log)
	// Before any CDR is stored and any switch connects.
	if err := restoreAuthz(ctx, cfg, c.authz, log); err != nil {
		return err
	}
	core := newGroup(ctx, log)
	core.run("authz journal", c.authz.RunJournal)
	core.run("presence", view.Run)
	core.run("cdr pipeline", pipeline.Run)
	core.run("provisioning cache invalidations", svc.FollowInvalidations)
	core.run("cdr maintenance", func(ctx context.Context) error {
		return maintainCDRs(ctx, cdrStore, time.Duration(cfg.CDR.Retention), log)
	})
	core.run("recording retention", func(ctx context.Context) error { return svc.RunRecordingRetention(ctx, time.Hour) })
	core.run("billing", func(ctx context.Context) error { return billingJobs(ctx, svc, cdrStore, c.lowBalances, log) })
	if cfg.SMTP.Addr != "" {
		smtp := smtpmail.New(cfg.SMTP.client())
		vm, fx := notify.NewVoicemailMailer(svc, smtp, log), notify.NewFaxMailer(svc, smtp, log)
		svc.AddSink(vm)
		svc.AddSink(fx)
		core.run("voicemail e-mail", vm.Run)
		core.run("fax e-mail", fx.Run)
	}
	states := &configStates{}
	pending, switchRoutes, err := startSwitches(cfg, svc, provStore, view, pipeline, reg, log, states, c.authz, sources.run, core.run)
	if len(cfg.Switches) > 0 {
		deps.Config = states
	}
	stop := func() {
		sources.stop()
		deadline := time.Now().Add(5 * time.Second)
		for pending() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		core.stop()
	}
	if err != nil {
		stop()
		return err
	}
	if deps.Probes, err = startProbes(cfg, svc, view, reg, log, sources.run); err != nil {
		stop()
		return err
	}

	servers := map[string]http.Handler{"http": mainHandler(cfg, deps, db, reg, httpMetrics, switchRoutes)}
	if cfg.Metrics.Listen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		servers["metrics"] = api.Instrument(log, httpMetrics.Measure(func(*http.Request) string { return "ops" }, mux))
	}
	if cfg.DCP.Listen != "" {
		servers["dcp"] = api.Instrument(log, httpMetrics.Measure(func(*http.Request) string { return "dcp" }, dcp.New(deps, dcp.WithDefaultDomain(cfg.DCP.DefaultDomain))))
	}
	err = serveAll(ctx, cfg, log, servers)
	stop()
	log.Info("stopped")
	return err
}

// components are what every daemon builds before it connects anything: the
// metrics registry (with every always-on exporter), the CDR store and
// pipeline, the presence view, the provisioning service and the API's
// dependencies.
type components struct {
	reg       *prometheus.Registry
	http      *api.HTTPMetrics
	cdrStore  *cdrstore.Store
	pipeline  *cdr.Pipeline
	view      *presence.View
	provStore *sqlstore.Store
	svc       *provisioning.Service
	deps      api.Deps
	// lowBalances is switchboard_billing_low_balances (billing.go).
	lowBalances *prometheus.GaugeVec
	authz       *authz.Authorizer // authz.go
	log         *slog.Logger
}

func newCore(cfg Config, db *sqldb.DB, log *slog.Logger) (*components, error) {
	c := &components{reg: prometheus.NewRegistry(), log: log}
	c.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := sqldb.RegisterMetrics(c.reg); err != nil {
		return nil, err
	}
	var err error
	if c.http, err = api.NewHTTPMetrics(c.reg); err != nil {
		return nil, err
	}
	c.provStore = sqlstore.New(db)
	c.svc = provisioning.NewService(c.provStore, provisioning.WithLogger(log),
		provisioning.WithRecordingRetention(time.Duration(cfg.Recordings.Retention)))
	c.cdrStore = cdrstore.NewStore(db)
	c.authz = newAuthorizer(c)
	// A call's authorization is released when its CDR is stored (with
	// its cost booked in the same transaction): authz.ReleaseOnStore.
	c.pipeline, err = cdr.NewPipeline(authz.ReleaseOnStore(c.cdrStore, c.authz), cdr.NewFeed(), cdr.PipelineConfig{
		QueueSize:  cfg.CDR.QueueSize,
		BatchSize:  cfg.CDR.BatchSize,
		SpoolDir:   cfg.CDR.SpoolDir,
		Logger:     log,
		Registerer: c.reg,
		Owners:     c.svc, // each CDR belongs to its domain's owner at ingest
		Tariffs:    tariffSource(c.svc),
	})
	if err != nil {
		return nil, err
	}
	c.view = presence.New()
	c.reg.MustRegister(c.view.Collector())
	if c.lowBalances, err = newLowBalances(c.reg); err != nil {
		return nil, err
	}
	c.deps = api.Deps{
		Service:      c.svc,
		Presence:     c.view,
		CDRs:         c.cdrStore,
		CDRFeed:      c.pipeline,
		CDRIngest:    c.pipeline,
		Ledger:       c.cdrStore,
		Log:          log,
		MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
	}
	return c, nil
}

// group runs background components until stop, which cancels them and
// waits for them to return. Components outlive the caller's context (the
// signal) on purpose: they are stopped in order, after the HTTP servers.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    *slog.Logger
}

func newGroup(parent context.Context, log *slog.Logger) *group {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	return &group{ctx: ctx, cancel: cancel, log: log}
}

func (g *group) run(name string, fn func(context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := fn(g.ctx); err != nil && g.ctx.Err() == nil {
			g.log.Error("component stopped", "component", name, "err", err)
		}
	}()
}

func (g *group) stop() {
	g.cancel()
	g.wg.Wait()
}

// maintainCDRs keeps PostgreSQL's daily CDR partitions created a week
// ahead and applies the retention setting, at start and then hourly.
func maintainCDRs(ctx context.Context, store *cdrstore.Store, retention time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		now := time.Now().UTC()
		if err := store.EnsurePartitions(ctx, now.Add(-24*time.Hour), now.Add(7*24*time.Hour)); err != nil && ctx.Err() == nil {
			log.Warn("cdr partitions", "err", err)
		}
		if retention > 0 {
			n, err := store.Retain(ctx, retention, now)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("cdr retention", "err", err)
			case n > 0:
				log.Info("cdr retention dropped old CDRs", "rows", n, "keep", retention)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// mainHandler routes the main listener: the native API, the dcp dialect,
// the endpoints switches call (FreeSWITCH's xml_curl and json_cdr),
// health checks and metrics.
func mainHandler(cfg Config, deps api.Deps, db *sqldb.DB, reg *prometheus.Registry, hm *api.HTTPMetrics, switchRoutes map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range switchRoutes {
		if !strings.Contains(pattern, " ") { // the switches' callbacks POST unless the pattern says
			pattern = "POST " + pattern
		}
		mux.Handle(pattern, h)
	}
	mux.Handle("/api/v1/", native.New(deps))
	if m := cfg.DCP.Mount; m != "" {
		mux.Handle(m, http.StripPrefix(m[:len(m)-1], dcp.New(deps, dcp.WithDefaultDomain(cfg.DCP.DefaultDomain))))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n")) //nolint:errcheck // client gone
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n")) //nolint:errcheck // client gone
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return api.Instrument(deps.Logger(), hm.Measure(api.DialectOf(cfg.DCP.Mount), mux))
}

// serveAll runs one HTTP server per handler until ctx ends, then shuts them
// down gracefully: listeners close at once, in-flight requests get
// http.shutdown_timeout to finish.
func serveAll(ctx context.Context, cfg Config, log *slog.Logger, handlers map[string]http.Handler) error {
	addrs := map[string]string{"http": cfg.HTTP.Listen, "dcp": cfg.DCP.Listen, "metrics": cfg.Metrics.Listen}
	type running struct {
		name string
		srv  *http.Server
	}
	var (
		srvs []running
		errc = make(chan error, len(handlers))
	)
	for name, h := range handlers {
		ln, err := net.Listen("tcp", addrs[name])
		if err != nil {
			for _, r := range srvs {
				r.srv.Close()
			}
			return fmt.Errorf("listen %s on %s: %w", name, addrs[name], err)
		}
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		srvs = append(srvs, running{name, srv})
		log.Info("listening", "listener", name, "addr", ln.Addr().String())
		if onListening != nil {
			onListening(name, ln.Addr().String())
		}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", name, err)
			}
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.HTTP.ShutdownTimeout)
	case runErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range srvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.srv.Shutdown(sctx); err != nil {
				log.Warn("shutdown did not drain", "listener", r.name, "err", err)
				r.srv.Close()
			}
		}()
	}
	wg.Wait()
	return runErr
}
