package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/asterisk"
	"github.com/switchboard-voip/switchboard/switch/freeswitch"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/soundfiles"
)

// startSwitches builds one adapter per configured switch and wires it into
// the presence view, the CDR pipeline and the provisioning service. The
// connections run in the sources group; delivering their CDRs runs in the
// core group, which stops after them, so CDRs an adapter holds are handed
// over before the pipeline closes. pending reports how many it still holds.
// states learns each switch's pusher, for the API's push states.
func startSwitches(cfg Config, svc *provisioning.Service, store *sqlstore.Store, view *presence.View, cdrs cdr.Sink, reg prometheus.Registerer,
	log *slog.Logger, states *configStates, authorizer *authz.Authorizer, run, runCore func(name string, fn func(context.Context) error)) (pending func() int, routes map[string]http.Handler, err error) {
	var adapters []interface{ Pending() int }
	routes = map[string]http.Handler{}
	pending = func() int {
		n := 0
		for _, a := range adapters {
			n += a.Pending()
		}
		return n
	}
	if len(cfg.Switches) == 0 {
		return pending, routes, nil
	}
	gateways := &gatewayNames{svc: svc}
	svc.AddSink(gateways)
	if err := gateways.refresh(context.Background()); err != nil {
		log.Warn("reading gateways", "err", err)
	}
	for _, sw := range cfg.Switches {
		swLog := log.With("switch", sw.Name)
		if sw.Type == "freeswitch" {
			a, err := startFreeSWITCH(sw, svc, view, cdrs, reg, gateways, log, states, routes, authorizer, run, runCore)
			if err != nil {
				return pending, routes, fmt.Errorf("switch %s: %w", sw.Name, err)
			}
			adapters = append(adapters, a)
			continue
		}
		ast := sw.Asterisk
		opts := ast.PushOptions()
		opts.IDWithDomain = sw.Domain == ""
		if sw.Authz != "" {
			// The routing dialplan asks before every call through a
			// gateway; the daemon answers at /asterisk/<name>/authz.
			opts.Authz = asterisk.AuthzOptions{URL: ast.AuthzURL, Switch: sw.Name, FailClosed: sw.Authz == authzFailClosed}
		}
		if ast.AuthzURL != "" {
			// The routes ordered by cost ask <authz_url>/lcr on every
			// call (opts.LCR, set by PushOptions), with or without authz.
			prefix := "/asterisk/" + sw.Name + "/authz"
			routes["GET "+prefix+"/"] = authzHandler(svc, authorizer, prefix, sw.Authz != "")
		}
		if ast.VoicemailFile != "" {
			opts.Mailboxes = asterisk.ServiceMailboxes(svc) // the boxes' MWI
		}
		var adapter *asterisk.Adapter // set below, before anything runs
		pusher := asterisk.NewConfigPusher(asterisk.PusherConfig{
			Client:    asterisk.NewConfigClient(ast.URL, ast.User, ast.Password, nil),
			Options:   opts,
			Ownership: switchOwnership{store: store, name: sw.Name},
			Logger:    swLog,
			Switch:    sw.Name,
			// Asterisk drops a deleted account's registrations without
			// an event: tell presence, rather than wait for a reconcile.
			EndpointDeleted: func(id string) { adapter.EndpointDeleted(id) },
		})
		if err := reg.Register(pusher.Collector()); err != nil {
			return pending, routes, fmt.Errorf("switch %s: %w", sw.Name, err)
		}
		svc.AddSink(domainSink{domain: sw.Domain, next: pusher})
		states.add(switchStates{name: sw.Name, domain: sw.Domain, pusher: pusher})
		adapter, err := asterisk.New(asterisk.Config{
			Name: sw.Name, URL: ast.URL, User: ast.User, Password: ast.Password, App: ast.App,
			Domain: sw.Domain, IsGateway: gateways.has, MetricsURL: ast.MetricsURL,
			ReconcileEvery: sw.ReconcileInterval, Logger: log, // the adapter adds the switch's name
			CDRHold: cdrHold(ast.CDRFile),
			OnConnect: func(ctx context.Context) {
				// Changes made while disconnected were not pushed, and on a
				// node that keeps pushed objects with the memory sorcery
				// wizard (rather than astdb, see switch/asterisk/README.md)
				// an Asterisk restart lost them all: reconcile the node with
				// the store on every connect.
				if err := gateways.refresh(ctx); err != nil {
					swLog.Warn("reading gateways", "err", err)
				}
				pusher.Invalidate()
				load := func(ctx context.Context) ([]provisioning.Account, []provisioning.Gateway, error) {
					return desiredConfig(ctx, svc, sw.Domain)
				}
				if err := pusher.ReconcileFrom(ctx, load); err != nil && ctx.Err() == nil {
					swLog.Warn("reconciling PJSIP objects", "err", err)
				}
			},
		})
		if err != nil {
			return pending, routes, fmt.Errorf("switch %s: %w", sw.Name, err)
		}
		adapters = append(adapters, adapter)
		gateways.onChange(adapter.Resync) // an endpoint may now be a gateway, or no longer one
		if ast.CDRFile != "" {
			bf, err := newBackfill(cfg, sw, gateways.has, cdrs, swLog)
			if err != nil {
				return pending, routes, fmt.Errorf("switch %s: %w", sw.Name, err)
			}
			// Through the adapter: Asterisk's record of a leg that ended
			// while ARI was down replaces the CDR guessed at the reconnect.
			backfillSink := adapter.BackfillSink(cdrs)
			run(sw.Name+" cdr backfill", func(ctx context.Context) error { return bf.Run(ctx, backfillSink) })
		}
		run(sw.Name+" config push", pusher.Run)
		if ast.DialplanFile != "" {
			startAsteriskDialplan(sw, opts, svc, swLog, run)
		}
		startSounds(sw.Name, ast.SoundsDir, asterisk.SoundLayout, svc, swLog, run)
		startAsteriskVoicemail(sw, svc, swLog, run)
		run(sw.Name+" presence", func(ctx context.Context) error { return adapter.WatchPresence(ctx, view.Feed(sw.Name)) })
		runCore(sw.Name+" cdrs", func(ctx context.Context) error { return adapter.StreamCDRs(ctx, cdrs) })
		if cc, ok := any(adapter).(presence.CallController); ok {
			view.AttachController(sw.Name, cc)
		}
		swLog.Info("switch configured", "type", sw.Type, "url", ast.URL, "domain", sw.Domain)
	}
	return pending, routes, nil
}

// startFreeSWITCH wires one FreeSWITCH node: the ESL adapter (presence,
// CDRs from CHANNEL_HANGUP_COMPLETE, call control), the Reloader that
// signals provisioning changes over ESL, and the two HTTP endpoints the
// node calls, behind the node's guard: /freeswitch/<name>/xml-curl
// (mod_xml_curl: directory, dialplan) and /freeswitch/<name>/cdr
// (mod_json_cdr). base is the daemon's logger: the adapter adds the
// switch's name itself.
func startFreeSWITCH(sw SwitchConfig, svc *provisioning.Service, view *presence.View, cdrs cdr.Sink, reg prometheus.Registerer, gateways *gatewayNames,
	base *slog.Logger, states *configStates, routes map[string]http.Handler, authorizer *authz.Authorizer, run, runCore func(name string, fn func(context.Context) error)) (*freeswitch.Adapter, error) {
	log := base.With("switch", sw.Name)
	fsw := sw.FreeSWITCH
	gc, err := fsw.Guard()
	if err != nil {
		return nil, err
	}
	guard, err := freeswitch.NewGuard(gc)
	if err != nil {
		return nil, err
	}
	// mod_voicemail's messages, indexed into the store (its events and
	// reconnects come from the adapter, read/delete from the Service).
	vm := freeswitch.NewVoicemailIndexer(freeswitch.VoicemailIndexerConfig{Node: sw.Name, Service: svc, Plans: freeswitch.ServicePlans(svc),
		Dir: fsw.VoicemailDir, Logger: log})
	// rxfax's faxes in fax_dir, deposited on their result event (and by
	// a scan for those whose event was missed).
	var faxListener freeswitch.FaxListener
	var faxIx *freeswitch.FaxIndexer
	if fsw.FaxDir != "" {
		faxIx = freeswitch.NewFaxIndexer(freeswitch.FaxIndexerConfig{Node: sw.Name, Service: svc, Dir: fsw.FaxDir, Logger: log})
		faxListener = faxIx
	}
	// record_session's recorded calls in recordings_dir, deposited on
	// RECORD_STOP (and by a scan for those whose channel went unseen).
	var recListener freeswitch.RecordingListener
	var recIx *freeswitch.RecordingIndexer
	if fsw.RecordingsDir != "" {
		recIx = freeswitch.NewRecordingIndexer(freeswitch.RecordingIndexerConfig{Node: sw.Name, Service: svc, Dir: fsw.RecordingsDir, Logger: log})
		recListener = recIx
	}
	adapter, err := freeswitch.New(freeswitch.Config{
		Name: sw.Name, Addr: fsw.ESL, Password: fsw.Password, Domain: sw.Domain, Profiles: fsw.Profiles,
		IsGateway: gateways.has, GatewayProfile: fsw.GatewayProfile, ReconcileEvery: sw.ReconcileInterval, UserContext: fsw.UserContext, Logger: base,
		Registerer: reg, Voicemail: vm, Fax: faxListener, Recording: recListener,
	})
	if err != nil {
		return nil, err
	}
	if adapter.UsesDefaultPassword() {
		log.Warn("this FreeSWITCH node uses the well-known default event socket password ClueCon: anyone who reaches its ESL port controls the switch; set a strong password in event_socket.conf.xml and in switches[].password")
	}
	reloader := freeswitch.NewReloader(adapter, freeswitch.ReloaderConfig{PhoneProfile: fsw.PhoneProfile, GatewayProfile: fsw.GatewayProfile,
		CheckGateways: true, Logger: log})
	svc.AddSink(domainSink{domain: sw.Domain, next: reloader})
	states.add(switchStates{name: sw.Name, domain: sw.Domain, reloader: reloader, view: view})
	rejects, _ := cdrs.(freeswitch.Rejecter)
	prefix := "/freeswitch/" + sw.Name
	routes[prefix+"/xml-curl"] = guard.Wrap(freeswitch.NewXMLCurlHandler(freeswitch.XMLCurlConfig{
		Directory: freeswitch.ServiceDirectory(svc), UserContext: fsw.UserContext, GatewayProfile: fsw.GatewayProfile, CacheMS: fsw.CacheMS(), Logger: log,
		Router: freeswitch.ServiceRouter(svc), SoundsDir: fsw.SoundsDir, FaxDir: fsw.FaxDir, RecordingsDir: fsw.RecordingsDir,
		Authorizer: fsAuthorizer(sw, authorizer), Node: sw.Name, AuthzFailClosed: sw.Authz == authzFailClosed,
		Orderer: svc, Registerer: reg,
	}))
	routes[prefix+"/cdr"] = guard.Wrap(adapter.JSONCDRHandler(rejects))
	run(sw.Name+" reload", reloader.Run)
	if fsw.DialplanFallbackDir != "" {
		// The same map as the xml_curl dialplan answers (every domain),
		// kept as static extensions for when Switchboard is down.
		fb := freeswitch.NewDIDFallback(freeswitch.DIDFallbackConfig{
			Node: sw.Name, Dir: fsw.DialplanFallbackDir, Commander: adapter,
			Routes:       func(ctx context.Context) ([]provisioning.DIDRoute, error) { return svc.DIDRoutes(ctx, "") },
			Destinations: freeswitch.ServiceDIDDestinations(svc), RecordingsDir: fsw.RecordingsDir,
			Keeper: genfile.Config{Logger: log},
		})
		svc.AddSink(fb)
		run(sw.Name+" DID fallback", fb.Run)
	}
	if dir := fsw.RoutingDir(); dir != "" {
		// Every tenant's routing context, as the xml_curl answers render
		// it, for when Switchboard is down.
		rf := freeswitch.NewRoutingFallback(freeswitch.RoutingFallbackConfig{
			Node: sw.Name, Dir: dir, Plans: freeswitch.ServicePlans(svc), Commander: adapter,
			GatewayProfile: fsw.GatewayProfile, ElseContext: fsw.UserContext, SoundsDir: fsw.SoundsDir, FaxDir: fsw.FaxDir,
			RecordingsDir: fsw.RecordingsDir, AuthzFailClosed: sw.Authz == authzFailClosed, Keeper: genfile.Config{Logger: log},
		})
		svc.AddSink(rf)
		run(sw.Name+" routing fallback", rf.Run)
	}
	if dir := fsw.DirectoryFallbackDir; dir != "" {
		// Every tenant's voicemail boxes as static users, for when
		// Switchboard is down.
		vf := freeswitch.NewVoicemailFallback(freeswitch.VoicemailFallbackConfig{
			Node: sw.Name, Dir: dir, Plans: freeswitch.ServicePlans(svc), Commander: adapter, Keeper: genfile.Config{Logger: log},
		})
		svc.AddSink(vf)
		run(sw.Name+" voicemail fallback", vf.Run)
	}
	startSounds(sw.Name, fsw.SoundsDir, freeswitch.SoundLayout, svc, log, run)
	svc.AddSink(vm)
	run(sw.Name+" voicemail", func(ctx context.Context) error { return vm.Run(ctx, adapter) })
	if faxIx != nil {
		run(sw.Name+" fax", faxIx.Run)
	}
	if recIx != nil {
		run(sw.Name+" recordings", func(ctx context.Context) error { return recIx.Run(ctx, adapter) })
	}
	run(sw.Name+" presence", func(ctx context.Context) error { return adapter.WatchPresence(ctx, view.Feed(sw.Name)) })
	runCore(sw.Name+" cdrs", func(ctx context.Context) error { return adapter.StreamCDRs(ctx, cdrs) })
	if dir := fsw.JSONCDRErrLogDir; dir != "" {
		run(sw.Name+" json_cdr err-log-dir", func(ctx context.Context) error {
			return adapter.ImportErrLogDir(ctx, freeswitch.ErrLogDirConfig{Dir: dir, Rejects: rejects})
		})
	}
	view.AttachController(sw.Name, adapter)
	log.Info("switch configured", "type", sw.Type, "esl", fsw.ESL, "domain", sw.Domain,
		"xml_curl", prefix+"/xml-curl", "json_cdr", prefix+"/cdr")
	return adapter, nil
}

// startSounds keeps a node's sounds_dir (when set) holding every
// tenant's sound files in the node's layout.
func startSounds(node, dir string, layout soundfiles.Layout, svc *provisioning.Service, log *slog.Logger, run func(name string, fn func(context.Context) error)) {
	if dir == "" {
		return
	}
	k := soundfiles.New(soundfiles.Config{Node: node, Dir: dir, Layout: layout, Source: svc, Logger: log})
	svc.AddSink(k)
	run(node+" sounds", k.Run)
}

// startAsteriskDialplan keeps the node's generated dialplan file (its DID
// routes) current, so that Asterisk routes DIDs while Switchboard is down.
func startAsteriskDialplan(sw SwitchConfig, opts asterisk.PushOptions, svc *provisioning.Service, log *slog.Logger, run func(name string, fn func(context.Context) error)) {
	ast := sw.Asterisk
	cfg := asterisk.DialplanConfig{
		Node: sw.Name, Path: ast.DialplanFile, Options: opts,
		Routes: func(ctx context.Context) ([]provisioning.DIDRoute, error) { return svc.DIDRoutes(ctx, sw.Domain) },
		Client: asterisk.NewConfigClient(ast.URL, ast.User, ast.Password, nil),
		Keeper: genfile.Config{Logger: log},
	}
	if ast.Routing {
		cfg.Plans = func(ctx context.Context) ([]*provisioning.Plan, error) { return tenantPlans(ctx, svc) }
	}
	dp := asterisk.NewDialplan(cfg)
	svc.AddSink(dp)
	run(sw.Name+" dialplan file", dp.Run)
}

// tenantPlans is every tenant's routing plan, from the plan cache: a
// tenant's phones may call from any node, so each node has all of them.
func tenantPlans(ctx context.Context, svc *provisioning.Service) ([]*provisioning.Plan, error) {
	var plans []*provisioning.Plan
	f := provisioning.TenantFilter{Page: provisioning.Page{Limit: provisioning.MaxLimit}}
	for {
		ts, err := svc.Tenants(ctx, provisioning.AdminScope(), f)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			p, err := svc.TenantPlan(ctx, t.ID)
			if err != nil {
				return nil, fmt.Errorf("tenant %d: %w", t.ID, err)
			}
			plans = append(plans, p)
		}
		if len(ts) < f.Limit {
			return plans, nil
		}
		f.After = ts[len(ts)-1].ID
	}
}

// cdrHold is how long a node's CDRs guessed at a reconnect wait for the
// switch's own record: only a node whose CDR file is backfilled gets one.
func cdrHold(cdrFile string) time.Duration {
	if cdrFile == "" {
		return 0
	}
	return asterisk.DefaultCDRHold
}

// newBackfill tails the node's own CDR file into the pipeline. Its offset
// is kept next to the spool, on the same durable disk.
func newBackfill(cfg Config, sw SwitchConfig, isGateway func(string) bool, sink cdr.Sink, log *slog.Logger) (*asterisk.Backfill, error) {
	loc, err := sw.Asterisk.Location()
	if err != nil {
		return nil, err
	}
	rejecter, _ := sink.(interface {
		Reject(ctx context.Context, dl cdr.DeadLetter) error
	})
	source := "backfill " + filepath.Base(sw.Asterisk.CDRFile)
	return asterisk.NewBackfill(asterisk.BackfillConfig{
		Path:       sw.Asterisk.CDRFile,
		OffsetPath: filepath.Join(filepath.Dir(filepath.Clean(cfg.CDR.SpoolDir)), "backfill-"+sw.Name+".offset"),
		Options:    asterisk.CSVOptions{Switch: sw.Name, Domain: sw.Domain, Location: loc, IsGateway: isGateway},
		Logger:     log,
		DeadLetter: func(ctx context.Context, line int, reason, raw string) {
			if rejecter == nil {
				return
			}
			dl := cdr.DeadLetter{Source: fmt.Sprintf("%s:%d", source, line), Reason: reason, Raw: raw, ReceivedAt: time.Now().UTC()}
			if err := rejecter.Reject(ctx, dl); err != nil {
				log.Warn("dead letter from CDR backfill", "line", line, "err", err)
			}
		},
	})
}

// desiredConfig reads every account (of domain, when set) and every
// gateway from the store.
func desiredConfig(ctx context.Context, svc *provisioning.Service, domain string) ([]provisioning.Account, []provisioning.Gateway, error) {
	admin := provisioning.AdminScope()
	f := provisioning.AccountFilter{Page: provisioning.Page{Limit: provisioning.MaxLimit}}
	if domain != "" {
		d, err := svc.DomainByName(ctx, admin, domain)
		if err != nil {
			return nil, nil, fmt.Errorf("domain %s: %w", domain, err)
		}
		f.DomainID = d.ID
	}
	var accounts []provisioning.Account
	for {
		page, err := svc.Accounts(ctx, admin, f)
		if err != nil {
			return nil, nil, err
		}
		accounts = append(accounts, page...)
		if len(page) < f.Limit {
			break
		}
		f.After = page[len(page)-1].ID
	}
	gws, err := allGateways(ctx, svc)
	if err != nil {
		return nil, nil, err
	}
	return accounts, gws, nil
}

// domainSink passes a node only the accounts of its domain (all when the
// node serves every domain), and every gateway.
type domainSink struct {
	domain string
	next   provisioning.ConfigSink
}

func (d domainSink) Apply(ctx context.Context, c provisioning.Change) error {
	if c.Account != nil && d.domain != "" && c.Account.Domain != d.domain {
		return nil
	}
	return d.next.Apply(ctx, c)
}

// gatewayNames tells the adapters which endpoint ids are provisioned
// gateways. It is read on every event, so lookups are lock-free; it is
// refreshed from the store on connect and kept current as a ConfigSink.
type gatewayNames struct {
	svc   *provisioning.Service
	mu    sync.Mutex       // serialises writers
	byID  map[int64]string // the provisioned gateways' names by id (writers only)
	names atomic.Pointer[map[string]bool]
	// changed are called, without waiting, when a gateway's name joins or
	// leaves the set.
	changed []func()
}

// onChange adds fn to what Apply calls when the set of names changes.
func (g *gatewayNames) onChange(fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.changed = append(g.changed, fn)
}

func (g *gatewayNames) has(name string) bool {
	m := g.names.Load()
	return m != nil && (*m)[name]
}

func (g *gatewayNames) refresh(ctx context.Context) error {
	_, gws, err := desiredConfig(ctx, g.svc, "")
	if err != nil {
		return err
	}
	byID := make(map[int64]string, len(gws))
	for _, gw := range gws {
		byID[gw.ID] = gw.Name
	}
	g.mu.Lock()
	g.byID = byID
	g.publish()
	g.mu.Unlock()
	return nil
}

// publish stores the set of names of byID and reports whether it
// changed; g.mu is held.
func (g *gatewayNames) publish() bool {
	m := make(map[string]bool, len(g.byID))
	for _, name := range g.byID {
		m[name] = true
	}
	old := g.names.Load()
	g.names.Store(&m)
	if old == nil || len(*old) != len(m) {
		return true
	}
	for name := range m {
		if !(*old)[name] {
			return true
		}
	}
	return false
}

// Apply keeps the set current between refreshes. Gateways are kept by id,
// so a renamed gateway's old name leaves the set with the rename.
func (g *gatewayNames) Apply(_ context.Context, c provisioning.Change) error {
	if c.Gateway == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byID == nil {
		g.byID = map[int64]string{}
	}
	if c.Op == provisioning.OpDelete {
		delete(g.byID, c.Gateway.ID)
	} else {
		g.byID[c.Gateway.ID] = c.Gateway.Name
	}
	if g.publish() {
		for _, fn := range g.changed {
			fn()
		}
	}
	return nil
}

// switchOwnership records the PJSIP objects Switchboard created on one
// node in the store, so that a reconcile after a daemon restart still
// knows which objects are its own to update or delete.
type switchOwnership struct {
	store *sqlstore.Store
	name  string
}

func (o switchOwnership) Owned(ctx context.Context) ([]asterisk.ObjectRef, error) {
	objs, err := o.store.SwitchObjects(ctx, o.name)
	if err != nil {
		return nil, err
	}
	refs := make([]asterisk.ObjectRef, len(objs))
	for i, obj := range objs {
		refs[i] = asterisk.ObjectRef{Type: asterisk.ObjectType(obj.Kind), ID: obj.ID}
	}
	return refs, nil
}

func (o switchOwnership) Own(ctx context.Context, ref asterisk.ObjectRef) error {
	return o.store.OwnSwitchObject(ctx, o.name, sqlstore.SwitchObject{Kind: string(ref.Type), ID: ref.ID})
}

func (o switchOwnership) Disown(ctx context.Context, ref asterisk.ObjectRef) error {
	return o.store.DisownSwitchObject(ctx, o.name, sqlstore.SwitchObject{Kind: string(ref.Type), ID: ref.ID})
}

// allGateways reads every provisioned gateway.
func allGateways(ctx context.Context, svc *provisioning.Service) ([]provisioning.Gateway, error) {
	return allPages(func(p provisioning.Page) ([]provisioning.Gateway, error) {
		return svc.Gateways(ctx, provisioning.AdminScope(), provisioning.GatewayFilter{Page: p})
	}, func(g provisioning.Gateway) int64 { return g.ID })
}

// allPages reads every page of list, MaxLimit at a time, each after the
// last id (id) of the one before.
func allPages[T any](list func(provisioning.Page) ([]T, error), id func(T) int64) ([]T, error) {
	var all []T
	p := provisioning.Page{Limit: provisioning.MaxLimit}
	for {
		page, err := list(p)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < p.Limit {
			return all, nil
		}
		p.After = id(page[len(page)-1])
	}
}
