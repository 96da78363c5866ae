package sip

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

func TestGatewayTarget(t *testing.T) {
	tenant := int64(7)
	tests := []struct {
		gw   provisioning.Gateway
		want Target
	}{
		{provisioning.Gateway{Name: "gw1", Host: "carrier.net", Port: 5060, Transport: provisioning.TransportUDP, TenantID: &tenant},
			Target{Kind: "gateway", Name: "gw1", URI: "sip:carrier.net:5060;transport=udp", Transport: "udp", TenantID: &tenant}},
		{provisioning.Gateway{Name: "gw2", Host: "10.0.0.1", Port: 5080, Transport: provisioning.TransportTCP, QualifySecs: 15},
			Target{Kind: "gateway", Name: "gw2", URI: "sip:10.0.0.1:5080;transport=tcp", Transport: "tcp", Interval: 15 * time.Second}},
		{provisioning.Gateway{Name: "gw3", Host: "2001:db8::5", Port: 5061, Transport: provisioning.TransportTLS},
			Target{Kind: "gateway", Name: "gw3", URI: "sip:[2001:db8::5]:5061;transport=tls", Transport: "tls"}},
		{provisioning.Gateway{Name: "gw4", Host: "2001:db8::6"},
			Target{Kind: "gateway", Name: "gw4", URI: "sip:[2001:db8::6];transport=udp", Transport: "udp"}},
	}
	for _, tc := range tests {
		if got := gatewayTarget(&tc.gw); !sameTarget(got, tc.want) {
			t.Errorf("gatewayTarget(%s) = %+v, want %+v", tc.gw.Name, got, tc.want)
		}
		if _, err := ParseURI(gatewayTarget(&tc.gw).URI); err != nil {
			t.Errorf("gateway %s: the URI does not parse back: %v", tc.gw.Name, err)
		}
	}
}

func TestQualifyTarget(t *testing.T) {
	reg := func(contact, addr, transport string) *presence.Registration {
		return &presence.Registration{User: "1001", Domain: "a.example.com", Contact: contact, Address: addr, Transport: transport}
	}
	tests := []struct {
		name string
		reg  *presence.Registration
		want Target
		ok   bool
	}{
		{"direct", reg("sip:1001@192.0.2.10:5060", "192.0.2.10:5060", "udp"),
			Target{URI: "sip:1001@192.0.2.10:5060", Transport: "udp"}, true},
		{"default port", reg("sip:1001@192.0.2.10", "192.0.2.10:5060", "UDP"),
			Target{URI: "sip:1001@192.0.2.10", Transport: "udp"}, true},
		{"behind NAT", reg("sip:1001@10.0.0.5:5062;ob", "198.51.100.7:40001", "udp"),
			Target{URI: "sip:1001@10.0.0.5:5062;ob", Addr: "198.51.100.7:40001", Transport: "udp"}, true},
		{"transport left to the URI", reg("sip:1001@[2001:db8::1]:5060;transport=tcp", "", ""),
			Target{URI: "sip:1001@[2001:db8::1]:5060;transport=tcp"}, true},
		{"websocket", reg("sip:1001@df7jal23ls0d.invalid;transport=ws", "192.0.2.10:443", "wss"), Target{}, false},
		{"junk contact", reg("<sip:1001@x>", "192.0.2.10:5060", "udp"), Target{}, false},
	}
	for _, tc := range tests {
		got, ok := qualifyTarget(tc.reg, time.Minute)
		if ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		tc.want.Kind, tc.want.Name, tc.want.Domain, tc.want.Interval = "contact", "1001@a.example.com "+tc.reg.Contact, "a.example.com", time.Minute
		if !sameTarget(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// fakeTargets records what the sync sets and serves canned register results.
type fakeTargets struct {
	mu      sync.Mutex
	targets []Target
	checks  []RegisterCheck
	sets    int
	regs    []RegisterResult
}

func (f *fakeTargets) SetTargets(ts []Target) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets, f.sets = slices.Clone(ts), f.sets+1
}

func (f *fakeTargets) SetRegisterChecks(cs []RegisterCheck) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = slices.Clone(cs)
}

func (f *fakeTargets) RegisterResults() []RegisterResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.regs)
}

// targetNames lists kind/name of what the prober was last given.
func (f *fakeTargets) targetNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, t := range f.targets {
		out = append(out, string(t.Kind)+"/"+t.Name)
	}
	return out
}

func (f *fakeTargets) targetList() []Target {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.targets)
}

func (f *fakeTargets) checkList() []RegisterCheck {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.checks)
}

// The sync keeps the prober's targets in step with provisioning, the
// switches' configuration and the registrations of the qualify domains;
// a register check whose probe account is missing is logged and runs as
// soon as the account is created.
func TestTargetSync(t *testing.T) {
	const contactRefresh, probeRetry = 20 * time.Millisecond, 50 * time.Millisecond
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc := provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4))
	admin := provisioning.AdminScope()
	tenant := &provisioning.Tenant{Name: "acme"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.CreateTenant(ctx, admin, tenant))
	for _, d := range []string{"a.example.com", "b.example.com"} {
		must(svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: tenant.ID, Name: d}))
	}
	must(svc.CreateGateway(ctx, admin, &provisioning.Gateway{Name: "gw1", Host: "192.0.2.1", TenantID: &tenant.ID}))
	// An observed gateway without a host has nothing to probe; with one
	// it is probed like any gateway.
	must(svc.CreateGateway(ctx, admin, &provisioning.Gateway{Name: "pbx-trunk", Observed: true}))
	must(svc.CreateGateway(ctx, admin, &provisioning.Gateway{Name: "pbx-trunk2", Host: "192.0.2.2", Observed: true}))

	view := presence.New()
	feed := view.Feed("ast1")
	for _, r := range []presence.Registration{
		{User: "1001", Domain: "a.example.com", Contact: "sip:1001@10.0.0.5:5060", Address: "198.51.100.7:4000", Transport: "udp"},
		{User: "2001", Domain: "b.example.com", Contact: "sip:2001@10.0.0.6:5060", Address: "10.0.0.6:5060", Transport: "udp"},
	} {
		r.Expires, r.Status = time.Now().Add(time.Hour), presence.ContactReachable
		feed.PutRegistration(r)
	}

	logs := &logBuffer{}
	fp := &fakeTargets{}
	w := NewTargetSync(SyncConfig{
		Switches: []SwitchProbe{
			{Name: "ast1", URI: "sip:127.0.0.1:5060;transport=tcp", RegisterCheck: "probe@A.example.com", RegisterCheckInterval: time.Minute},
			{Name: "ast2"},
		},
		QualifyDomains: []string{"A.example.com"}, QualifyInterval: time.Minute,
		ContactRefresh: contactRefresh, Retry: probeRetry,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, fp, svc, view)
	svc.AddSink(w)
	if w.SwitchTargets() != 1 {
		t.Errorf("%d switch listeners probed, want 1 (ast2 has no URI)", w.SwitchTargets())
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	want := []string{"contact/1001@a.example.com sip:1001@10.0.0.5:5060", "gateway/gw1", "gateway/pbx-trunk2", "switch/ast1"}
	switchtest.WaitFor(t, "the first targets", func() bool { return slices.Equal(fp.targetNames(), want) })
	for _, tg := range fp.targetList() {
		if tg.Kind == "contact" && (tg.Addr != "198.51.100.7:4000" || tg.Interval != time.Minute || tg.Domain != "a.example.com") {
			t.Errorf("contact target %+v", tg)
		}
		if tg.Kind == "gateway" && tg.Name == "gw1" && (tg.TenantID == nil || *tg.TenantID != tenant.ID || tg.URI != "sip:192.0.2.1:5060;transport=udp") {
			t.Errorf("gateway target %+v", tg)
		}
	}
	switchtest.WaitFor(t, "the missing probe account logged", func() bool {
		return strings.Contains(logs.String(), "probe account probe@A.example.com is not provisioned")
	})
	if len(fp.checkList()) != 0 {
		t.Errorf("checks without the account: %+v", fp.checkList())
	}
	if cs := w.RegisterChecks(); len(cs) != 1 || cs[0] != (CheckState{Name: "ast1", AOR: "probe@A.example.com", Registrar: "sip:127.0.0.1:5060;transport=tcp",
		Transport: TCP, Domain: "a.example.com", Missing: "probe account probe@A.example.com is not provisioned"}) {
		t.Errorf("register check without its account: %+v", cs)
	}
	time.Sleep(3 * probeRetry) // retried, but logged once at error level
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines, want 1:\n%s", n, logs)
	}

	// The probe account appears: the check starts with its secret.
	must(svc.CreateAccount(ctx, admin, &provisioning.Account{Domain: "a.example.com", Username: "probe", Secret: "probe-Secret-1"}))
	switchtest.WaitFor(t, "the register check", func() bool { return len(fp.checkList()) == 1 })
	if c := fp.checkList()[0]; c != (RegisterCheck{Name: "ast1", Registrar: "sip:127.0.0.1:5060;transport=tcp", Transport: "tcp",
		Domain: "a.example.com", Username: "probe", Password: "probe-Secret-1", Interval: time.Minute}) {
		t.Errorf("register check %+v", c)
	}
	if !strings.Contains(logs.String(), "register check running") {
		t.Errorf("the recovery is not logged:\n%s", logs)
	}
	// A new secret reaches the check.
	acct, err := svc.AccountByUsername(ctx, admin, "a.example.com", "probe")
	must(err)
	_, err = svc.UpdateAccount(ctx, admin, acct.ID, func(a *provisioning.Account) error { a.Secret = "probe-Secret-2"; return nil })
	must(err)
	switchtest.WaitFor(t, "the new secret", func() bool { c := fp.checkList(); return len(c) == 1 && c[0].Password == "probe-Secret-2" })

	// Gateways follow provisioning, contacts the presence view.
	must(svc.CreateGateway(ctx, admin, &provisioning.Gateway{Name: "gw2", Host: "192.0.2.2", Port: 5080, Transport: provisioning.TransportTCP}))
	gw1, err := svc.GatewayByName(ctx, admin, "gw1")
	must(err)
	must(svc.DeleteGateway(ctx, admin, gw1.ID))
	feed.DeleteRegistration("a.example.com", "1001", "sip:1001@10.0.0.5:5060")
	want = []string{"gateway/gw2", "gateway/pbx-trunk2", "switch/ast1"}
	switchtest.WaitFor(t, "gw1 and the contact gone, gw2 there", func() bool { return slices.Equal(fp.targetNames(), want) })

	// Nothing changes: the prober is not handed the same targets again.
	fp.mu.Lock()
	sets := fp.sets
	fp.mu.Unlock()
	time.Sleep(5 * contactRefresh)
	fp.mu.Lock()
	if fp.sets != sets {
		t.Errorf("targets set %d more times without a change", fp.sets-sets)
	}
	// The check's result, once the prober has one.
	at := time.Now()
	fp.regs = []RegisterResult{{Name: "ast1", OK: true, Code: 200, Reason: "OK", Duration: 30 * time.Millisecond, At: at}, {Name: "gone"}}
	fp.mu.Unlock()
	cs := w.RegisterChecks()
	if len(cs) != 1 || cs[0].Missing != "" || cs[0].Result == nil || *cs[0].Result != fp.regs[0] {
		t.Errorf("register checks %+v, want ast1's with its result", cs)
	}
}

// logBuffer is a log written by several goroutines and read by the test.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
