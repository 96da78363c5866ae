package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/sip"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// How often the probe wiring looks again, besides provisioning changes:
// contacts come and go with registrations (a diff of memory, cheap), and
// what may have been missed (a store error, a probe account created
// before the daemon saw it) is retried.
var (
	contactRefresh = 5 * time.Second
	probeRetry     = 30 * time.Second
)

// prober is what the wiring uses of sip.Prober: its targets in, its
// results out. Declared here so that tests drive the wiring with a fake.
type prober interface {
	SetTargets(ts []sip.Target)
	SetRegisterChecks(cs []sip.RegisterCheck)
	Results() []sip.Result
	Result(kind sip.Kind, name string) (sip.Result, bool)
	RegisterResults() []sip.RegisterResult
}

// registrations is what the wiring reads of the presence view: the
// contacts to qualify.
type registrations interface {
	Registrations(q presence.RegistrationQuery) ([]presence.Registration, string)
}

// startProbes builds the SIP prober when sip.enabled and runs it in the
// sources group: the prober itself, its presence feed (gateway and switch
// results appear in the live view as switch "sip") and the wiring that
// keeps its targets current. It returns what the APIs read, nil when
// probing is disabled.
func startProbes(cfg Config, svc *provisioning.Service, view *presence.View, reg prometheus.Registerer, log *slog.Logger,
	run func(name string, fn func(context.Context) error)) (api.Probes, error) {
	if !cfg.SIP.Enabled {
		return nil, nil
	}
	base := log // the prober adds component=sip itself, and logs status changes
	log = log.With("component", "sip")
	p, err := sip.NewProber(sip.Config{
		Interval:     cfg.SIP.Interval,
		Timeout:      cfg.SIP.Timeout,
		Misses:       cfg.SIP.Misses,
		LagThreshold: cfg.SIP.LagThreshold,
		ListenAddr:   cfg.SIP.Listen,
		UserAgent:    "Switchboard/" + version,
		Logger:       base,
	})
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	if err := p.RegisterMetrics(reg); err != nil {
		return nil, fmt.Errorf("sip: metrics: %w", err)
	}
	w := newProbeWiring(cfg, p, svc, view, log)
	svc.AddSink(w)
	run("sip prober", p.Run)
	run("sip presence", func(ctx context.Context) error { return p.WatchPresence(ctx, view.Feed(api.ProbeFeed)) })
	run("sip targets", w.Run)
	log.Info("sip probing enabled", "interval", cfg.SIP.Interval, "misses", cfg.SIP.Misses,
		"qualify_domains", cfg.SIP.QualifyDomains, "switches", len(w.switchTargets))
	return w, nil
}

// probeWiring keeps the prober's targets and register checks in step with
// provisioning (gateways, probe accounts), the configuration (switch
// listeners) and the presence view (contacts of sip.qualify_domains), and
// adapts its results to api.Probes.
type probeWiring struct {
	p              prober
	svc            *provisioning.Service
	regs           registrations
	log            *slog.Logger
	switchTargets  []sip.Target
	checkSwitches  []SwitchConfig // the switches with a register_check
	qualifyDomains []string       // lower-case
	qualifyEvery   time.Duration  // 0 = the prober's interval
	changed        chan struct{}  // a provisioning change to pick up; buffered, one pending is enough

	mu        sync.Mutex
	gateways  []sip.Target
	contacts  []sip.Target
	targets   []sip.Target          // last handed to the prober
	checks    []sip.RegisterCheck   // last handed to the prober
	checkInfo map[string]checkState // by switch name, for the API
}

// checkState is what the API shows of a configured register check besides
// the prober's result: where it goes, and why it is not running.
type checkState struct {
	aor, registrar, transport, domain string
	missing                           string // why the check is not running; "" when it is
}

func newProbeWiring(cfg Config, p prober, svc *provisioning.Service, regs registrations, log *slog.Logger) *probeWiring {
	w := &probeWiring{p: p, svc: svc, regs: regs, log: log, qualifyEvery: cfg.SIP.QualifyInterval,
		changed: make(chan struct{}, 1), checkInfo: map[string]checkState{}}
	for _, d := range cfg.SIP.QualifyDomains {
		w.qualifyDomains = append(w.qualifyDomains, strings.ToLower(d))
	}
	for _, sw := range cfg.Switches {
		if sw.SIPURI != "" {
			w.switchTargets = append(w.switchTargets, sip.Target{Kind: sip.KindSwitch, Name: sw.Name, URI: sw.SIPURI})
		}
		if sw.RegisterCheck != "" {
			w.checkSwitches = append(w.checkSwitches, sw)
			u, _ := parseSIPURI(sw.SIPURI) // validated
			_, domain, _ := strings.Cut(sw.RegisterCheck, "@")
			w.checkInfo[sw.Name] = checkState{aor: sw.RegisterCheck, registrar: sw.SIPURI, transport: u.Transport(),
				domain: strings.ToLower(domain), missing: "not started yet"}
		}
	}
	return w
}

// Run keeps the targets current until ctx ends.
func (w *probeWiring) Run(ctx context.Context) error {
	gwErr := w.refreshGateways(ctx)
	w.refreshChecks(ctx)
	w.refreshContacts()
	w.apply()
	contacts := time.NewTicker(contactRefresh)
	defer contacts.Stop()
	retry := time.NewTicker(probeRetry)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.changed:
			gwErr = w.refreshGateways(ctx)
			w.refreshChecks(ctx)
		case <-contacts.C:
			if len(w.qualifyDomains) == 0 {
				continue
			}
			w.refreshContacts()
		case <-retry.C:
			if gwErr != nil {
				gwErr = w.refreshGateways(ctx)
			}
			if w.checksMissing() {
				w.refreshChecks(ctx)
			}
		}
		w.apply()
	}
}

// Apply is the provisioning.ConfigSink side: a gateway change, or a
// change of a probe account (a new secret), has Run read the store again.
// It never blocks.
func (w *probeWiring) Apply(_ context.Context, c provisioning.Change) error {
	relevant := c.Gateway != nil
	if c.Account != nil {
		for _, sw := range w.checkSwitches {
			relevant = relevant || strings.EqualFold(sw.RegisterCheck, c.Account.AOR())
		}
	}
	if relevant {
		select {
		case w.changed <- struct{}{}:
		default: // one is pending already
		}
	}
	return nil
}

// refreshGateways reads every provisioned gateway from the store. On a
// store error the last set is kept and Run retries.
func (w *probeWiring) refreshGateways(ctx context.Context) error {
	gws, err := allGateways(ctx, w.svc)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("reading gateways to probe; retrying", "err", err, "retry", probeRetry)
		}
		return err
	}
	ts := make([]sip.Target, 0, len(gws))
	for i := range gws {
		ts = append(ts, gatewayTarget(&gws[i]))
	}
	w.mu.Lock()
	w.gateways = ts
	w.mu.Unlock()
	return nil
}

// gatewayTarget is the OPTIONS target of a provisioned gateway: its
// host:port over its transport.
func gatewayTarget(g *provisioning.Gateway) sip.Target {
	transport := cmp.Or(string(g.Transport), string(provisioning.TransportUDP))
	host := strings.Trim(g.Host, "[]")
	hostport := host
	switch {
	case g.Port > 0:
		hostport = net.JoinHostPort(host, strconv.Itoa(g.Port))
	case strings.Contains(host, ":"): // IPv6
		hostport = "[" + host + "]"
	}
	// A gateway's own qualify interval (qualify_seconds) is its probe
	// interval too; 0 leaves it to sip.interval.
	return sip.Target{Kind: sip.KindGateway, Name: g.Name, URI: "sip:" + hostport + ";transport=" + transport,
		Transport: sip.Transport(transport), TenantID: g.TenantID, Interval: time.Duration(g.QualifySecs) * time.Second}
}

// refreshContacts reads the registered contacts of the qualify domains
// from the presence view.
func (w *probeWiring) refreshContacts() {
	if len(w.qualifyDomains) == 0 {
		return
	}
	var ts []sip.Target
	seen := map[string]bool{}
	q := presence.RegistrationQuery{Domains: w.qualifyDomains, Limit: presence.MaxLimit}
	for {
		regs, next := w.regs.Registrations(q)
		for i := range regs {
			t, ok := contactTarget(&regs[i], w.qualifyEvery)
			if ok && !seen[t.Name] { // a contact registered on two switches is probed once
				seen[t.Name] = true
				ts = append(ts, t)
			}
		}
		if next == "" {
			break
		}
		q.After = next
	}
	w.mu.Lock()
	w.contacts = ts
	w.mu.Unlock()
}

// contactTarget is the OPTIONS target of a registered contact
// (sip.ContactTarget: false for WebSocket contacts and junk), probed every
// every. Its Addr, the address the REGISTER came from, is kept only when
// it differs from the Contact URI's host:port: then it is a NAT mapping,
// worth showing in the API.
func contactTarget(r *presence.Registration, every time.Duration) (sip.Target, bool) {
	t, ok := sip.ContactTarget(*r)
	if !ok {
		return t, false
	}
	t.Interval = every
	if u, err := parseSIPURI(r.Contact); err == nil && t.Addr == u.HostPort() {
		t.Addr = ""
	}
	return t, true
}

// refreshChecks builds the register checks, reading each probe account's
// secret from the store. A missing account is logged (once per cause) and
// retried; it never stops the daemon.
func (w *probeWiring) refreshChecks(ctx context.Context) {
	var checks []sip.RegisterCheck
	for _, sw := range w.checkSwitches {
		user, domain, _ := strings.Cut(sw.RegisterCheck, "@")
		a, err := w.svc.AccountByUsername(ctx, provisioning.AdminScope(), strings.ToLower(domain), user)
		w.mu.Lock()
		st := w.checkInfo[sw.Name]
		w.mu.Unlock()
		missing := ""
		switch {
		case errors.Is(err, provisioning.ErrNotFound):
			missing = fmt.Sprintf("probe account %s is not provisioned", sw.RegisterCheck)
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			missing = fmt.Sprintf("reading probe account %s: %v", sw.RegisterCheck, err)
		}
		switch {
		case missing != "" && missing != st.missing:
			w.log.Error("register check not running: create the probe account (a SIP account only the check uses); retrying",
				"switch", sw.Name, "account", sw.RegisterCheck, "cause", missing, "retry", probeRetry)
		case missing != "":
			w.log.Debug("register check still not running", "switch", sw.Name, "cause", missing)
		case st.missing != "":
			w.log.Info("register check running", "switch", sw.Name, "account", sw.RegisterCheck, "registrar", sw.SIPURI)
		}
		st.missing = missing
		w.mu.Lock()
		w.checkInfo[sw.Name] = st
		w.mu.Unlock()
		if missing != "" {
			continue
		}
		checks = append(checks, sip.RegisterCheck{Name: sw.Name, Registrar: sw.SIPURI, Transport: sip.Transport(st.transport),
			Domain: a.Domain, Username: a.Username, Password: a.Secret, Interval: sw.RegisterCheckInterval})
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Equal(checks, w.checks) {
		w.checks = checks
		w.p.SetRegisterChecks(checks)
	}
}

func (w *probeWiring) checksMissing() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range w.checkInfo {
		if st.missing != "" {
			return true
		}
	}
	return false
}

// apply hands the prober the current targets when they changed; the
// prober keeps the state and schedule of targets it already has.
func (w *probeWiring) apply() {
	w.mu.Lock()
	defer w.mu.Unlock()
	ts := make([]sip.Target, 0, len(w.switchTargets)+len(w.gateways)+len(w.contacts))
	ts = append(append(append(ts, w.switchTargets...), w.gateways...), w.contacts...)
	slices.SortFunc(ts, func(a, b sip.Target) int {
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Name, b.Name))
	})
	if slices.EqualFunc(ts, w.targets, sameTarget) {
		return
	}
	w.targets = ts
	w.p.SetTargets(ts)
}

// sameTarget compares targets by value (TenantID is a pointer).
func sameTarget(a, b sip.Target) bool {
	at, bt := a.TenantID, b.TenantID
	a.TenantID, b.TenantID = nil, nil
	return a == b && (at == nil) == (bt == nil) && (at == nil || *at == *bt)
}

// ProbeResults is api.Probes: the prober's results and the register
// checks, sorted by kind then name.
func (w *probeWiring) ProbeResults() []api.ProbeResult {
	results := w.p.Results()
	out := make([]api.ProbeResult, 0, len(results)+len(w.checkSwitches))
	for i := range results {
		out = append(out, probeResult(&results[i]))
	}
	out = append(out, w.registerResults()...)
	slices.SortFunc(out, func(a, b api.ProbeResult) int {
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Name, b.Name))
	})
	return out
}

// ProbeResult is api.Probes: one target's result.
func (w *probeWiring) ProbeResult(kind api.ProbeKind, name string) (api.ProbeResult, bool) {
	if kind == api.ProbeRegisterCheck {
		for _, r := range w.registerResults() {
			if r.Name == name {
				return r, true
			}
		}
		return api.ProbeResult{}, false
	}
	r, ok := w.p.Result(sip.Kind(kind), name)
	if !ok {
		return api.ProbeResult{}, false
	}
	return probeResult(&r), true
}

func probeResult(r *sip.Result) api.ProbeResult {
	return api.ProbeResult{
		Kind: api.ProbeKind(r.Kind), Name: r.Name, URI: r.URI, Address: r.Addr, Transport: string(r.Transport),
		Domain: r.Domain, TenantID: r.TenantID, Status: string(r.Status), Code: r.Code, Reason: r.Reason,
		RTT: r.RTT, Misses: r.Misses, LastProbe: r.LastProbe, LastChange: r.LastChange,
	}
}

// registerResults lists every configured register check: the prober's
// result when it has one, else unknown with the reason it is not running.
func (w *probeWiring) registerResults() []api.ProbeResult {
	byName := map[string]sip.RegisterResult{}
	for _, r := range w.p.RegisterResults() {
		byName[r.Name] = r
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]api.ProbeResult, 0, len(w.checkSwitches))
	for _, sw := range w.checkSwitches {
		st := w.checkInfo[sw.Name]
		pr := api.ProbeResult{Kind: api.ProbeRegisterCheck, Name: sw.Name, URI: st.registrar, Transport: st.transport,
			Domain: st.domain, Status: api.ProbeUnknown, Reason: st.missing}
		if r, ok := byName[sw.Name]; ok && st.missing == "" {
			pr.Status, pr.Code, pr.Reason, pr.Duration, pr.Failures, pr.LastProbe = api.ProbeFailed, r.Code, r.Reason, r.Duration, r.Failures, r.At
			if r.OK {
				pr.Status = api.ProbeOK
			}
		}
		out = append(out, pr)
	}
	return out
}

// allGateways reads every provisioned gateway.
func allGateways(ctx context.Context, svc *provisioning.Service) ([]provisioning.Gateway, error) {
	var gws []provisioning.Gateway
	f := provisioning.GatewayFilter{Page: provisioning.Page{Limit: provisioning.MaxLimit}}
	for {
		page, err := svc.Gateways(ctx, provisioning.AdminScope(), f)
		if err != nil {
			return nil, err
		}
		gws = append(gws, page...)
		if len(page) < f.Limit {
			return gws, nil
		}
		f.After = page[len(page)-1].ID
	}
}

// sipURI is what the wiring needs of a SIP URI: where it points and over
// which transport.
type sipURI struct {
	Secure bool   // sips:
	Host   string // without IPv6 brackets
	Port   string // "" when absent
	Param  string // the transport parameter, lower-case; "" when absent
}

// parseSIPURI reads sip:[user@]host[:port][;params][?headers] (and
// sips:). Contact URIs come from phones, through the switches: this is a
// parser of outside input, fuzzed.
func parseSIPURI(s string) (sipURI, error) {
	var u sipURI
	scheme, rest, ok := strings.Cut(s, ":")
	switch strings.ToLower(scheme) {
	case "sip":
	case "sips":
		u.Secure = true
	default:
		return u, errors.New("must be a sip: or sips: URI")
	}
	if !ok || rest == "" {
		return u, errors.New("has no host")
	}
	rest, _, _ = strings.Cut(rest, "?")
	rest, params, _ := strings.Cut(rest, ";")
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:] // the user part
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return u, errors.New("has an unclosed IPv6 bracket")
		}
		u.Host, rest = rest[1:end], rest[end+1:]
		if net.ParseIP(u.Host) == nil {
			return u, errors.New("has an invalid IPv6 address")
		}
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return u, errors.New("has junk after the host")
		}
		u.Port = strings.TrimPrefix(rest, ":")
		if rest == ":" {
			return u, errors.New("has an empty port")
		}
	} else {
		u.Host, u.Port, _ = strings.Cut(rest, ":")
		if strings.Contains(rest, ":") && u.Port == "" {
			return u, errors.New("has an empty port")
		}
	}
	if u.Host == "" || strings.ContainsAny(u.Host, " \t[]/\\<>\"") {
		return u, errors.New("has no valid host")
	}
	if u.Port != "" {
		if n, err := strconv.Atoi(u.Port); err != nil || n < 1 || n > 65535 {
			return u, errors.New("has an invalid port")
		}
	}
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(k, "transport") {
			u.Param = strings.ToLower(v)
			switch u.Param {
			case "udp", "tcp", "tls":
			default:
				return u, fmt.Errorf("has transport %q: only udp, tcp and tls can be probed", v)
			}
		}
	}
	return u, nil
}

// Transport is the URI's transport: its parameter, else tls for sips:,
// else udp.
func (u sipURI) Transport() string {
	switch {
	case u.Param != "":
		return u.Param
	case u.Secure:
		return "tls"
	}
	return "udp"
}

// HostPort is host:port, with the scheme's default port when absent.
func (u sipURI) HostPort() string {
	port := u.Port
	if port == "" {
		port = "5060"
		if u.Transport() == "tls" {
			port = "5061"
		}
	}
	return net.JoinHostPort(u.Host, port)
}
