package freeswitch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// The answers FreeSWITCH 1.10.12 gave (esl/api-reloadxml.txt,
// esl/api-sofia-profile-external-killgw-gw1.txt,
// esl/api-sofia-profile-external-rescan.txt in the recordings) and the
// ones mod_sofia's cmd_profile prints for the other cases.
const (
	reloadAnsReloadxml      = "+OK [Success]\n"
	reloadAnsKillgw         = "+OK gateway marked for deletion.\n"
	reloadAnsKillgwGone     = "-ERR no such gateway.\n"
	reloadAnsRescan         = "Reload XML [Success]\n+OK scan complete\n"
	reloadAnsRescanNoConfig = "Reload XML [Success]\n-ERR cannot find config for profile external\n"
	reloadAnsFlush          = "+OK flushing all registrations matching specified call_id\n"
	reloadAnsFlushCache     = "+OK cleared 1 entry\n" // fidelity recordings, esl-flush-id-2001-domain.raw
)

// fakeCommander records the commands it is sent and answers them as
// FreeSWITCH does, or as answer says.
type reloadFakeCommander struct {
	mu     sync.Mutex
	cmds   []string
	at     []time.Time
	seen   map[string]int
	answer func(cmd string, n int) (string, error) // n: earlier sends of cmd
}

func (f *reloadFakeCommander) API(_ context.Context, cmd string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]int{}
	}
	n := f.seen[cmd]
	f.seen[cmd]++
	f.cmds = append(f.cmds, cmd)
	f.at = append(f.at, time.Now())
	if f.answer != nil {
		return f.answer(cmd, n)
	}
	return reloadFakeAnswer(cmd), nil
}

func reloadFakeAnswer(cmd string) string {
	switch {
	case cmd == "reloadxml":
		return reloadAnsReloadxml
	case strings.Contains(cmd, " killgw "):
		return reloadAnsKillgw
	case strings.HasSuffix(cmd, " rescan"):
		return reloadAnsRescan
	case strings.Contains(cmd, " flush_inbound_reg "):
		return reloadAnsFlush
	case strings.HasPrefix(cmd, "xml_flush_cache "):
		return reloadAnsFlushCache
	}
	return "-ERR nosuchcommand Command not found!\n"
}

// take returns the commands sent since the last call.
func (f *reloadFakeCommander) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.cmds
	f.cmds = nil
	return out
}

// newTestReloader returns a Reloader with short waits whose logs go to
// the returned buffer.
func newReloadTestReloader(fc *reloadFakeCommander) (*Reloader, *reloadLogBuffer) {
	logs := &reloadLogBuffer{}
	return NewReloader(fc, ReloaderConfig{
		Debounce: 5 * time.Millisecond, RetryBackoff: time.Millisecond, KillSettle: time.Millisecond, Attempts: 3,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}), logs
}

type reloadLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *reloadLogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *reloadLogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	reloadT0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	reloadT1 = reloadT0.Add(time.Hour)
)

func reloadAccountChange(op provisioning.Op, id int64, user, secret string, secretChanged bool) provisioning.Change {
	return provisioning.Change{Op: op, SecretChanged: secretChanged, Account: &provisioning.Account{
		ID: id, Username: user, Domain: "pbx.example", Secret: secret, HA1: provisioning.HA1(user, "pbx.example", secret),
		CreatedAt: reloadT0, UpdatedAt: reloadT0, // as the store writes a creation
	}}
}

func reloadGatewayChange(op provisioning.Op, id int64, name string, updated time.Time) provisioning.Change {
	return provisioning.Change{Op: op, Gateway: &provisioning.Gateway{
		ID: id, Name: name, Host: "192.0.2.1", Username: "trunk", Secret: "gw-secret-" + name, Register: true,
		CreatedAt: reloadT0, UpdatedAt: updated,
	}}
}

const (
	reloadCmdFlush1001   = "sofia profile internal flush_inbound_reg 1001@pbx.example"
	reloadCmdFlush1002   = "sofia profile internal flush_inbound_reg 1002@pbx.example"
	reloadCmdUncache1001 = "xml_flush_cache id 1001 pbx.example"
	reloadCmdUncache1002 = "xml_flush_cache id 1002 pbx.example"
	reloadCmdReloadxml   = "reloadxml"
	reloadCmdRescan      = "sofia profile external rescan"
)

func reloadKillgw(name string) string { return "sofia profile external killgw " + name }

// TestReloaderRounds applies changes and checks the commands of the
// round that follows each step.
func TestReloaderRounds(t *testing.T) {
	type step struct {
		changes []provisioning.Change
		want    []string
	}
	up, del := provisioning.OpUpsert, provisioning.OpDelete
	tests := []struct {
		name  string
		steps []step
	}{
		{"account created: xml_curl is asked at REGISTER", []step{
			{[]provisioning.Change{reloadAccountChange(up, 1, "1001", "first-secret", false)}, nil},
		}},
		{"secret changed, as the Service says", []step{
			{[]provisioning.Change{reloadAccountChange(up, 1, "1001", "new-secret", true)}, []string{reloadCmdUncache1001, reloadCmdFlush1001}},
		}},
		{"updated, not seen since start: the cached user is flushed", []step{
			{[]provisioning.Change{func() provisioning.Change {
				c := reloadAccountChange(up, 1, "1001", "first-secret", false)
				c.Account.UpdatedAt = reloadT1
				return c
			}()}, []string{reloadCmdUncache1001}},
		}},
		{"secret changed, as the HA1 says", []step{
			{[]provisioning.Change{reloadAccountChange(up, 1, "1001", "first-secret", false)}, nil},
			{[]provisioning.Change{reloadAccountChange(up, 1, "1001", "new-secret", false)}, []string{reloadCmdUncache1001, reloadCmdFlush1001}},
		}},
		{"caller ID changed: the cached user, which carries it, is flushed", []step{
			{[]provisioning.Change{reloadAccountChange(up, 1, "1001", "first-secret", false)}, nil},
			{[]provisioning.Change{reloadAccountChange(up, 1, "1001", "first-secret", false)}, []string{reloadCmdUncache1001}},
		}},
		{"renamed: the old address is flushed", []step{
			{[]provisioning.Change{reloadAccountChange(up, 1, "1001", "first-secret", false)}, nil},
			{[]provisioning.Change{reloadAccountChange(up, 1, "1009", "first-secret", false)}, []string{reloadCmdUncache1001, reloadCmdFlush1001}},
		}},
		{"account deleted", []step{
			{[]provisioning.Change{reloadAccountChange(del, 1, "1001", "first-secret", false)}, []string{reloadCmdUncache1001, reloadCmdFlush1001}},
		}},
		{"DID: the dialplan is asked on every call", []step{
			{[]provisioning.Change{{Op: up, DID: &provisioning.DID{ID: 1, Number: "+15551230002"}}}, nil},
		}},
		{"gateway created", []step{
			{[]provisioning.Change{reloadGatewayChange(up, 1, "gw1", reloadT0)}, []string{reloadCmdReloadxml, reloadCmdRescan}},
		}},
		{"gateway updated, not seen since start", []step{
			{[]provisioning.Change{reloadGatewayChange(up, 1, "gw1", reloadT1)}, []string{reloadCmdReloadxml, reloadKillgw("gw1"), reloadCmdRescan}},
		}},
		{"gateway created, then updated", []step{
			{[]provisioning.Change{reloadGatewayChange(up, 1, "gw1", reloadT0)}, []string{reloadCmdReloadxml, reloadCmdRescan}},
			{[]provisioning.Change{reloadGatewayChange(up, 1, "gw1", reloadT1)}, []string{reloadCmdReloadxml, reloadKillgw("gw1"), reloadCmdRescan}},
		}},
		{"gateway renamed: the old name is killed", []step{
			{[]provisioning.Change{reloadGatewayChange(up, 1, "gw1", reloadT0)}, []string{reloadCmdReloadxml, reloadCmdRescan}},
			{[]provisioning.Change{reloadGatewayChange(up, 1, "gw2", reloadT1)}, []string{reloadCmdReloadxml, reloadKillgw("gw1"), reloadCmdRescan}},
		}},
		{"gateway deleted", []step{
			{[]provisioning.Change{reloadGatewayChange(del, 1, "gw1", reloadT1)}, []string{reloadKillgw("gw1")}},
		}},
		{"burst: one reloadxml, one rescan", []step{
			{[]provisioning.Change{reloadGatewayChange(up, 9, "old", reloadT0)}, []string{reloadCmdReloadxml, reloadCmdRescan}},
			{[]provisioning.Change{
				reloadGatewayChange(up, 1, "gw1", reloadT0),
				reloadAccountChange(up, 1, "1001", "new-secret", true),
				reloadGatewayChange(up, 2, "gw2", reloadT0),
				reloadGatewayChange(up, 3, "gw3", reloadT1),
				reloadAccountChange(del, 2, "1002", "secret", false),
				reloadGatewayChange(up, 2, "gw2", reloadT1), // updated in the same burst
				reloadGatewayChange(del, 9, "old", reloadT1),
				reloadAccountChange(up, 1, "1001", "newer-secret", true),
			}, []string{reloadCmdUncache1001, reloadCmdUncache1002, reloadCmdFlush1001, reloadCmdFlush1002, reloadCmdReloadxml, reloadKillgw("gw3"), reloadKillgw("gw2"), reloadKillgw("old"), reloadCmdRescan}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fc := &reloadFakeCommander{}
			r, _ := newReloadTestReloader(fc)
			for i, s := range tc.steps {
				for _, c := range s.changes {
					if err := r.Apply(context.Background(), c); err != nil {
						t.Fatal(err)
					}
				}
				r.round(context.Background())
				if got := fc.take(); fmt.Sprint(got) != fmt.Sprint(s.want) {
					t.Errorf("step %d: commands\n %q\nwant\n %q", i+1, got, s.want)
				}
			}
		})
	}
}

// TestReloaderRun checks the worker: a burst applied while it debounces
// is one round, and it stops with its context.
func TestReloaderRun(t *testing.T) {
	fc := &reloadFakeCommander{}
	r, _ := newReloadTestReloader(fc)
	r.cfg.Debounce = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	waitFor := func(n int) []string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			fc.mu.Lock()
			got := append([]string(nil), fc.cmds...)
			fc.mu.Unlock()
			if len(got) >= n || time.Now().After(deadline) {
				time.Sleep(50 * time.Millisecond) // anything more would show
				return fc.take()
			}
			time.Sleep(time.Millisecond)
		}
	}
	for i := range 20 {
		r.Apply(ctx, reloadGatewayChange(provisioning.OpUpsert, int64(i), fmt.Sprintf("gw%d", i), reloadT0)) //nolint:errcheck // never fails
	}
	if got := waitFor(2); fmt.Sprint(got) != fmt.Sprint([]string{reloadCmdReloadxml, reloadCmdRescan}) {
		t.Errorf("a burst of 20 gateways sent %q, want one reloadxml and one rescan", got)
	}
	r.Apply(ctx, reloadAccountChange(provisioning.OpDelete, 1, "1001", "s3cret", false)) //nolint:errcheck // never fails
	if got := waitFor(2); fmt.Sprint(got) != fmt.Sprint([]string{reloadCmdUncache1001, reloadCmdFlush1001}) {
		t.Errorf("then %q, want the flush", got)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}

// TestReloaderSettle checks the debounce: it waits for a quiet Debounce,
// but not past ten Debounces while changes keep coming.
func TestReloaderSettle(t *testing.T) {
	r, _ := newReloadTestReloader(&reloadFakeCommander{})
	r.cfg.Debounce = 40 * time.Millisecond
	start := time.Now()
	if err := r.settle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < r.cfg.Debounce {
		t.Errorf("settled after %v, want at least %v", d, r.cfg.Debounce)
	}

	// Changes every 5 ms for 3 s: settle must give up waiting at 400 ms.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			select {
			case r.wake <- struct{}{}:
			default:
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	start = time.Now()
	if err := r.settle(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("settled after %v under a stream of changes, want about %v", d, 10*r.cfg.Debounce)
	}
	cancel()
	if err := r.settle(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("settle with a cancelled context: %v", err)
	}
}

// TestReloaderFailures checks retries, give-ups and answers that need
// no retry.
func TestReloaderFailures(t *testing.T) {
	errDown := errors.New("freeswitch: not connected to the node")
	tests := []struct {
		name    string
		changes []provisioning.Change
		answer  func(cmd string, n int) (string, error)
		want    []string
		log     string // in the logs
	}{
		{"connection error, then success",
			[]provisioning.Change{reloadAccountChange(provisioning.OpDelete, 1, "1001", "acct-secret-1001", false)},
			func(cmd string, n int) (string, error) {
				if n < 2 {
					return "", errDown
				}
				return reloadFakeAnswer(cmd), nil
			},
			[]string{reloadCmdUncache1001, reloadCmdUncache1001, reloadCmdUncache1001, reloadCmdFlush1001, reloadCmdFlush1001, reloadCmdFlush1001}, "retrying"},
		{"-ERR answer, then success",
			[]provisioning.Change{reloadGatewayChange(provisioning.OpUpsert, 1, "gw1", reloadT0)},
			func(cmd string, n int) (string, error) {
				if cmd == reloadCmdRescan && n == 0 {
					return reloadAnsRescanNoConfig, nil
				}
				return reloadFakeAnswer(cmd), nil
			},
			[]string{reloadCmdReloadxml, reloadCmdRescan, reloadCmdRescan}, "cannot find config"},
		{"gives up after Attempts, then goes on",
			[]provisioning.Change{reloadAccountChange(provisioning.OpDelete, 1, "1001", "acct-secret-1001", false),
				reloadAccountChange(provisioning.OpDelete, 2, "1002", "acct-secret-1002", false)},
			func(cmd string, n int) (string, error) {
				if cmd == reloadCmdFlush1001 {
					return "", errDown
				}
				return reloadFakeAnswer(cmd), nil
			},
			[]string{reloadCmdUncache1001, reloadCmdUncache1002, reloadCmdFlush1001, reloadCmdFlush1001, reloadCmdFlush1001, reloadCmdFlush1002}, "giving up"},
		{"missing profile is a failure",
			[]provisioning.Change{reloadAccountChange(provisioning.OpDelete, 1, "1001", "acct-secret-1001", false)},
			func(cmd string, n int) (string, error) { return "Invalid Profile [internal]", nil },
			[]string{reloadCmdUncache1001, reloadCmdUncache1001, reloadCmdUncache1001, reloadCmdFlush1001, reloadCmdFlush1001, reloadCmdFlush1001}, "Invalid Profile"},
		{"killgw of a gateway already gone (answer)",
			[]provisioning.Change{reloadGatewayChange(provisioning.OpDelete, 1, "gw1", reloadT1)},
			func(cmd string, n int) (string, error) { return reloadAnsKillgwGone, nil },
			[]string{reloadKillgw("gw1")}, "already gone"},
		{"killgw of a gateway already gone (error)",
			[]provisioning.Change{reloadGatewayChange(provisioning.OpUpsert, 1, "gw1", reloadT1)},
			func(cmd string, n int) (string, error) {
				if strings.Contains(cmd, "killgw") {
					return "", fmt.Errorf("freeswitch: api: %s", strings.TrimSpace(reloadAnsKillgwGone))
				}
				return reloadFakeAnswer(cmd), nil
			},
			[]string{reloadCmdReloadxml, reloadKillgw("gw1"), reloadCmdRescan}, "already gone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fc := &reloadFakeCommander{answer: tc.answer}
			r, logs := newReloadTestReloader(fc)
			// A killgw that kills nothing must not wait for sofia's reaper.
			r.cfg.KillSettle = time.Hour
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, c := range tc.changes {
				r.Apply(ctx, c) //nolint:errcheck // never fails
			}
			r.round(ctx)
			if ctx.Err() != nil {
				t.Fatal("the round waited for nothing")
			}
			if got := fc.take(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("commands\n %q\nwant\n %q", got, tc.want)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("logs lack %q:\n%s", tc.log, logs)
			}
			for _, c := range tc.changes {
				for _, secret := range []string{reloadSecretOf(c), reloadHA1Of(c)} {
					if secret != "" && strings.Contains(logs.String(), secret) {
						t.Errorf("a secret is in the logs:\n%s", logs)
					}
				}
			}
		})
	}
}

func reloadSecretOf(c provisioning.Change) string {
	if c.Account != nil {
		return c.Account.Secret
	}
	return c.Gateway.Secret
}

func reloadHA1Of(c provisioning.Change) string {
	if c.Account != nil {
		return c.Account.HA1
	}
	return ""
}

// TestReloaderKillSettle checks the wait between a killgw that killed a
// gateway and the rescan, and that a cancelled context ends the round.
func TestReloaderKillSettle(t *testing.T) {
	fc := &reloadFakeCommander{}
	r, _ := newReloadTestReloader(fc)
	r.cfg.KillSettle = 100 * time.Millisecond
	r.Apply(context.Background(), reloadGatewayChange(provisioning.OpUpsert, 1, "gw1", reloadT1)) //nolint:errcheck // never fails
	r.round(context.Background())
	if fmt.Sprint(fc.cmds) != fmt.Sprint([]string{reloadCmdReloadxml, reloadKillgw("gw1"), reloadCmdRescan}) {
		t.Fatalf("commands %q", fc.cmds)
	}
	if gap := fc.at[2].Sub(fc.at[1]); gap < r.cfg.KillSettle {
		t.Errorf("rescan %v after killgw, want at least %v", gap, r.cfg.KillSettle)
	}

	fc.take()
	r.cfg.KillSettle = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r.Apply(ctx, reloadGatewayChange(provisioning.OpUpsert, 1, "gw1", reloadT1)) //nolint:errcheck // never fails
	start := time.Now()
	r.round(ctx)
	if time.Since(start) > 5*time.Second {
		t.Error("the round outlived its context")
	}
	if got := fc.take(); fmt.Sprint(got) != fmt.Sprint([]string{reloadCmdReloadxml, reloadKillgw("gw1")}) {
		t.Errorf("commands %q: no rescan once the context is done", got)
	}
}

// TestReloaderApplyNeverBlocks applies many changes with no worker.
func TestReloaderApplyNeverBlocks(t *testing.T) {
	r, _ := newReloadTestReloader(&reloadFakeCommander{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10000 {
			if err := r.Apply(context.Background(), reloadGatewayChange(provisioning.OpUpsert, int64(i%50), "gw", reloadT1)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Apply blocked without a worker")
	}
	if len(r.pending.kill) != 1 || !r.pending.rescan {
		t.Errorf("queued %+v, want one killgw and a rescan", r.pending)
	}
}

// TestReloaderWithService wires the Reloader as the sink of a real
// Service and checks the commands each provisioning operation leads to.
func TestReloaderWithService(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		fc := &reloadFakeCommander{}
		r, logs := newReloadTestReloader(fc)
		svc := provisioning.NewService(sqlstore.New(db), provisioning.WithSink(r), provisioning.WithBcryptCost(4),
			provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		admin := provisioning.AdminScope()
		tn := &provisioning.Tenant{Name: "t"}
		reloadMust(t, svc.CreateTenant(ctx, admin, tn))
		reloadMust(t, svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: tn.ID, Name: "pbx.example"}))
		a := &provisioning.Account{Domain: "pbx.example", Username: "1001", Secret: "first-secret"}
		g := &provisioning.Gateway{Name: "carrier", Host: "192.0.2.1", Username: "trunk", Secret: "gw-secret", Register: true}
		steps := []struct {
			name string
			op   func() error
			want []string
		}{
			{"create account", func() error { return svc.CreateAccount(ctx, admin, a) }, nil},
			{"change caller ID", func() error {
				_, err := svc.UpdateAccount(ctx, admin, a.ID, func(a *provisioning.Account) error { a.CallerIDName = "Reception"; return nil })
				return err
			}, []string{reloadCmdUncache1001}},
			{"change secret", func() error {
				_, err := svc.UpdateAccount(ctx, admin, a.ID, func(a *provisioning.Account) error { a.Secret = "second-secret"; return nil })
				return err
			}, []string{reloadCmdUncache1001, reloadCmdFlush1001}},
			{"delete account", func() error { return svc.DeleteAccount(ctx, admin, a.ID) }, []string{reloadCmdUncache1001, reloadCmdFlush1001}},
			{"create gateway", func() error { return svc.CreateGateway(ctx, admin, g) }, []string{reloadCmdReloadxml, reloadCmdRescan}},
			{"update gateway", func() error {
				_, err := svc.UpdateGateway(ctx, admin, g.ID, func(g *provisioning.Gateway) error { g.Port = 5080; return nil })
				return err
			}, []string{reloadCmdReloadxml, reloadKillgw("carrier"), reloadCmdRescan}},
			{"delete gateway", func() error { return svc.DeleteGateway(ctx, admin, g.ID) }, []string{reloadKillgw("carrier")}},
		}
		for _, s := range steps {
			reloadMust(t, s.op())
			r.round(ctx)
			if got := fc.take(); fmt.Sprint(got) != fmt.Sprint(s.want) {
				t.Errorf("%s: commands %q, want %q", s.name, got, s.want)
			}
		}
		for _, secret := range []string{"first-secret", "second-secret", "gw-secret"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("%s is in the logs", secret)
			}
		}
	})
}

func reloadMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReloadAnswerErr(t *testing.T) {
	for ans, failed := range map[string]bool{
		reloadAnsReloadxml:                        false,
		reloadAnsKillgw:                           false,
		reloadAnsRescan:                           false,
		reloadAnsFlush:                            false,
		reloadAnsFlushCache:                       false,
		"+OK cleared 0 entries\n":                 false,
		reloadAnsKillgwGone:                       true,
		reloadAnsRescanNoConfig:                   true,
		"Invalid Profile [internal]":              true,
		"Invalid Args!\n":                         true,
		"-ERR nosuchcommand Command not found!\n": true,
		"": false,
	} {
		if err := reloadAnswerErr(ans); (err != nil) != failed || (err != nil && !errors.Is(err, errReloadAnswer)) {
			t.Errorf("reloadAnswerErr(%q) = %v, want failed=%v", ans, err, failed)
		}
	}
}
