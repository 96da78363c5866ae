package sip

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

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// SwitchProbe is what the target sync needs of one configured switch.
type SwitchProbe struct {
	Name string
	// URI is the switch's SIP listener, probed with OPTIONS ("" = not
	// probed). A RegisterCheck needs it: it is the registrar.
	URI string
	// RegisterCheck is the AOR (user@domain) of a provisioned probe
	// account that REGISTERs to URI every RegisterCheckInterval; its
	// secret is read from the provisioning store. "" = no check.
	RegisterCheck         string
	RegisterCheckInterval time.Duration
}

// SyncConfig configures a TargetSync.
type SyncConfig struct {
	Switches []SwitchProbe
	// QualifyDomains are the domains whose registered contacts are probed
	// too, every QualifyInterval (0 = the prober's interval).
	QualifyDomains  []string
	QualifyInterval time.Duration
	// ContactRefresh is how often the contacts are read again from the
	// presence view (a diff of memory, cheap): 5 s when zero. Retry is how
	// often what failed (a store error, a probe account not provisioned
	// yet) is tried again: 30 s when zero.
	ContactRefresh, Retry time.Duration
	Logger                *slog.Logger
}

// Targets is what the sync drives of a Prober: its targets and register
// checks in, the checks' results out. Declared here so that tests drive
// the sync with a fake.
type Targets interface {
	SetTargets(ts []Target)
	SetRegisterChecks(cs []RegisterCheck)
	RegisterResults() []RegisterResult
}

// Provisioning is what the sync reads of the provisioning store: the
// gateways to probe, and the probe accounts of the register checks.
type Provisioning interface {
	Gateways(ctx context.Context, sc provisioning.Scope, f provisioning.GatewayFilter) ([]provisioning.Gateway, error)
	AccountByUsername(ctx context.Context, sc provisioning.Scope, domain, username string) (*provisioning.Account, error)
}

// Registrations is what the sync reads of the presence view: the contacts
// to qualify.
type Registrations interface {
	Registrations(q presence.RegistrationQuery) ([]presence.Registration, string)
}

// TargetSync keeps a prober's targets and register checks in step with
// provisioning (gateways, probe accounts), the configured switches (their
// listeners) and the presence view (the contacts of the qualify domains).
// It is a provisioning.ConfigSink, so a change is picked up at once, and
// it polls for what changes without telling: registrations come and go,
// and a store error or a missing probe account is retried.
type TargetSync struct {
	p              Targets
	prov           Provisioning
	regs           Registrations
	log            *slog.Logger
	switchTargets  []Target
	checkSwitches  []SwitchProbe // the switches with a register check
	qualifyDomains []string      // lower-case
	qualifyEvery   time.Duration
	contactRefresh time.Duration
	retry          time.Duration
	changed        chan struct{} // a provisioning change to pick up; buffered, one pending is enough

	mu        sync.Mutex
	gateways  []Target
	contacts  []Target
	targets   []Target              // last handed to the prober
	checks    []RegisterCheck       // last handed to the prober
	checkInfo map[string]CheckState // by switch name
}

// CheckState is a configured register check as the APIs show it: where
// it goes, why it is not running, and the prober's last result.
type CheckState struct {
	Name      string // the switch's
	AOR       string // the probe account, as configured
	Registrar string // the switch's URI
	Transport Transport
	Domain    string // the probe account's, lower-case
	// Missing says why the check is not running ("" when it is): its
	// probe account is not provisioned, or could not be read.
	Missing string
	// Result is the prober's last result; nil before the first check and
	// while the check is not running.
	Result *RegisterResult
}

// NewTargetSync returns the sync of p's targets. The switches' URIs and
// register checks must be valid (ParseURI; user@domain): the
// configuration checks them at start.
func NewTargetSync(cfg SyncConfig, p Targets, prov Provisioning, regs Registrations) *TargetSync {
	s := &TargetSync{p: p, prov: prov, regs: regs, log: cmp.Or(cfg.Logger, slog.Default()), qualifyEvery: cfg.QualifyInterval,
		contactRefresh: cmp.Or(cfg.ContactRefresh, 5*time.Second), retry: cmp.Or(cfg.Retry, 30*time.Second),
		changed: make(chan struct{}, 1), checkInfo: map[string]CheckState{}}
	for _, d := range cfg.QualifyDomains {
		s.qualifyDomains = append(s.qualifyDomains, strings.ToLower(d))
	}
	for _, sw := range cfg.Switches {
		if sw.URI != "" {
			s.switchTargets = append(s.switchTargets, Target{Kind: KindSwitch, Name: sw.Name, URI: sw.URI})
		}
		if sw.RegisterCheck != "" {
			s.checkSwitches = append(s.checkSwitches, sw)
			u, _ := ParseURI(sw.URI) // validated
			_, domain, _ := strings.Cut(sw.RegisterCheck, "@")
			s.checkInfo[sw.Name] = CheckState{Name: sw.Name, AOR: sw.RegisterCheck, Registrar: sw.URI, Transport: u.Transport(),
				Domain: strings.ToLower(domain), Missing: "not started yet"}
		}
	}
	return s
}

// SwitchTargets is how many switch listeners are probed.
func (s *TargetSync) SwitchTargets() int { return len(s.switchTargets) }

// Run keeps the targets current until ctx ends.
func (s *TargetSync) Run(ctx context.Context) error {
	gwErr := s.refreshGateways(ctx)
	s.refreshChecks(ctx)
	s.refreshContacts()
	s.apply()
	contacts := time.NewTicker(s.contactRefresh)
	defer contacts.Stop()
	retry := time.NewTicker(s.retry)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.changed:
			gwErr = s.refreshGateways(ctx)
			s.refreshChecks(ctx)
		case <-contacts.C:
			if len(s.qualifyDomains) == 0 {
				continue
			}
			s.refreshContacts()
		case <-retry.C:
			if gwErr != nil {
				gwErr = s.refreshGateways(ctx)
			}
			if s.checksMissing() {
				s.refreshChecks(ctx)
			}
		}
		s.apply()
	}
}

// Apply is the provisioning.ConfigSink side: a gateway change, or a
// change of a probe account (a new secret), has Run read the store again.
// It never blocks.
func (s *TargetSync) Apply(_ context.Context, c provisioning.Change) error {
	relevant := c.Gateway != nil
	if c.Account != nil {
		for _, sw := range s.checkSwitches {
			relevant = relevant || strings.EqualFold(sw.RegisterCheck, c.Account.AOR())
		}
	}
	if relevant {
		select {
		case s.changed <- struct{}{}:
		default: // one is pending already
		}
	}
	return nil
}

// refreshGateways reads every provisioned gateway from the store. On a
// store error the last set is kept and Run retries.
func (s *TargetSync) refreshGateways(ctx context.Context) error {
	var ts []Target
	f := provisioning.GatewayFilter{Page: provisioning.Page{Limit: provisioning.MaxLimit}}
	for {
		page, err := s.prov.Gateways(ctx, provisioning.AdminScope(), f)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading gateways to probe; retrying", "err", err, "retry", s.retry)
			}
			return err
		}
		for i := range page {
			if page[i].Host == "" { // an observed gateway declared without one: nothing to probe
				continue
			}
			ts = append(ts, gatewayTarget(&page[i]))
		}
		if len(page) < f.Limit {
			break
		}
		f.After = page[len(page)-1].ID
	}
	s.mu.Lock()
	s.gateways = ts
	s.mu.Unlock()
	return nil
}

// gatewayTarget is the OPTIONS target of a provisioned gateway: its
// host:port over its transport, on the gateway's own qualify interval
// (qualify_seconds; 0 leaves it to the prober's).
func gatewayTarget(g *provisioning.Gateway) Target {
	transport := cmp.Or(string(g.Transport), string(provisioning.TransportUDP))
	host := strings.Trim(g.Host, "[]")
	hostport := host
	switch {
	case g.Port > 0:
		hostport = net.JoinHostPort(host, strconv.Itoa(g.Port))
	case strings.Contains(host, ":"): // IPv6
		hostport = "[" + host + "]"
	}
	return Target{Kind: KindGateway, Name: g.Name, URI: "sip:" + hostport + ";transport=" + transport,
		Transport: Transport(transport), TenantID: g.TenantID, Interval: time.Duration(g.QualifySecs) * time.Second}
}

// refreshContacts reads the registered contacts of the qualify domains
// from the presence view.
func (s *TargetSync) refreshContacts() {
	if len(s.qualifyDomains) == 0 {
		return
	}
	var ts []Target
	seen := map[string]bool{}
	q := presence.RegistrationQuery{Domains: s.qualifyDomains, Limit: presence.MaxLimit}
	for {
		regs, next := s.regs.Registrations(q)
		for i := range regs {
			t, ok := qualifyTarget(&regs[i], s.qualifyEvery)
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
	s.mu.Lock()
	s.contacts = ts
	s.mu.Unlock()
}

// qualifyTarget is the OPTIONS target of a registered contact
// (ContactTarget: false for WebSocket contacts and junk), probed every
// every. Its Addr, the address the REGISTER came from, is kept only when
// it differs from the Contact URI's host:port: then it is a NAT mapping,
// worth showing in the API.
func qualifyTarget(r *presence.Registration, every time.Duration) (Target, bool) {
	t, ok := ContactTarget(*r)
	if !ok {
		return t, false
	}
	t.Interval = every
	if u, err := ParseURI(r.Contact); err == nil && t.Addr == u.HostPort() {
		t.Addr = ""
	}
	return t, true
}

// refreshChecks builds the register checks, reading each probe account's
// secret from the store. A missing account is logged (once per cause) and
// retried; it never stops the daemon.
func (s *TargetSync) refreshChecks(ctx context.Context) {
	var checks []RegisterCheck
	for _, sw := range s.checkSwitches {
		user, domain, _ := strings.Cut(sw.RegisterCheck, "@")
		a, err := s.prov.AccountByUsername(ctx, provisioning.AdminScope(), strings.ToLower(domain), user)
		s.mu.Lock()
		st := s.checkInfo[sw.Name]
		s.mu.Unlock()
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
		case missing != "" && missing != st.Missing:
			s.log.Error("register check not running: create the probe account (a SIP account only the check uses); retrying",
				"switch", sw.Name, "account", sw.RegisterCheck, "cause", missing, "retry", s.retry)
		case missing != "":
			s.log.Debug("register check still not running", "switch", sw.Name, "cause", missing)
		case st.Missing != "":
			s.log.Info("register check running", "switch", sw.Name, "account", sw.RegisterCheck, "registrar", sw.URI)
		}
		st.Missing = missing
		s.mu.Lock()
		s.checkInfo[sw.Name] = st
		s.mu.Unlock()
		if missing != "" {
			continue
		}
		checks = append(checks, RegisterCheck{Name: sw.Name, Registrar: sw.URI, Transport: st.Transport,
			Domain: a.Domain, Username: a.Username, Password: a.Secret, Interval: sw.RegisterCheckInterval})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Equal(checks, s.checks) {
		s.checks = checks
		s.p.SetRegisterChecks(checks)
	}
}

func (s *TargetSync) checksMissing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.checkInfo {
		if st.Missing != "" {
			return true
		}
	}
	return false
}

// apply hands the prober the current targets when they changed; the
// prober keeps the state and schedule of targets it already has.
func (s *TargetSync) apply() {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := make([]Target, 0, len(s.switchTargets)+len(s.gateways)+len(s.contacts))
	ts = append(append(append(ts, s.switchTargets...), s.gateways...), s.contacts...)
	slices.SortFunc(ts, func(a, b Target) int {
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Name, b.Name))
	})
	if slices.EqualFunc(ts, s.targets, sameTarget) {
		return
	}
	s.targets = ts
	s.p.SetTargets(ts)
}

// sameTarget compares targets by value (TenantID is a pointer).
func sameTarget(a, b Target) bool {
	at, bt := a.TenantID, b.TenantID
	a.TenantID, b.TenantID = nil, nil
	return a == b && (at == nil) == (bt == nil) && (at == nil || *at == *bt)
}

// RegisterChecks lists every configured register check, in the order of
// the configuration, with the prober's result when the check runs.
func (s *TargetSync) RegisterChecks() []CheckState {
	byName := map[string]RegisterResult{}
	for _, r := range s.p.RegisterResults() {
		byName[r.Name] = r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CheckState, 0, len(s.checkSwitches))
	for _, sw := range s.checkSwitches {
		st := s.checkInfo[sw.Name]
		if r, ok := byName[sw.Name]; ok && st.Missing == "" {
			st.Result = &r
		}
		out = append(out, st)
	}
	return out
}
