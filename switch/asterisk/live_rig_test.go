package asterisk

import (
	"bytes"
	"cmp"
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	rand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// The names the live tests use on the shared node, chosen not to clash
// with anyone else's: the ARI application, the feed's switch name and the
// SIP domain. Account usernames are numbers (the phones context dials
// PJSIP/${EXTEN} with _X.), drawn at random from 79xxxxx per run and
// checked against the node: the ConfigPusher refuses to touch an object
// it did not create, so a clash fails the test instead of changing
// someone else's account.
const (
	liveApp    = "sblive"
	liveSwitch = "live"
	liveDomain = "live.example.com"
)

// liveUserBase and liveUserSeq number the accounts of one test binary.
var (
	liveUserBase = 7900000 + 100*rand.IntN(900)
	liveUserSeq  atomic.Int64
)

// liveRig is the adapter wired to the live node as cmd/switchboard's
// startSwitches wires it: the ConfigPusher runs and reconciles the node
// on every (re)connect, WatchPresence feeds a presence.View and
// StreamCDRs a CDR sink. Its connections go through a liveProxy, so the
// test can cut them.
type liveRig struct {
	t      *testing.T
	node   *liveNode
	proxy  *liveProxy
	a      *Adapter
	pusher *ConfigPusher
	view   *presence.View
	sink   *switchtest.CDRSink
	log    *liveLog
	owned  *MemoryOwnership // what the pusher created
	// direct reads the node's PJSIP objects without the proxy.
	direct *ConfigClient
	hc     *http.Client

	// cfg is the adapter's configuration, for restart.
	cfg Config
	// gateways, when a test stores a set, are the endpoints the adapter
	// takes for gateways (the daemon's provisioned gateway names); none by
	// default, so every leg of the other tests reads as it always did.
	gateways atomic.Pointer[map[string]bool]
	// run is the running adapter's (and backfill's) lifecycle: kill ends
	// it without flushing anything, restart starts a new adapter.
	run struct {
		cancel context.CancelFunc
		wg     sync.WaitGroup
	}
	// backfill, when set (startBackfill), tails this cel_custom or CDR
	// file through the running adapter's BackfillSink, as the daemon
	// does; its checkpoint survives kill.
	backfill struct {
		path, offset string
		poll         time.Duration // 250 ms when zero
	}

	mu      sync.Mutex
	arrived map[string]time.Time // when each leg's CDR first reached the sink
	desired map[int64]provisioning.Account
	users   []string // every account's username, deleted or not
}

// startLiveRig starts the adapter; tune, if set, changes its Config first.
// Everything is stopped, and every account it provisioned deleted from
// the node, when the test ends.
func startLiveRig(t *testing.T, n *liveNode, tune func(*Config)) *liveRig {
	t.Helper()
	return startLiveRigPush(t, n, tune, DefaultPushOptions())
}

// startLiveRigPush is startLiveRig with the rig pushing opts.
func startLiveRigPush(t *testing.T, n *liveNode, tune func(*Config), opts PushOptions) *liveRig {
	t.Helper()
	u, err := url.Parse(n.url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, u.Host)
	proxied := *u
	proxied.Host = proxy.Addr()
	hc := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	r := &liveRig{
		t: t, node: n, proxy: proxy, view: presence.New(), sink: &switchtest.CDRSink{},
		log:     newLiveLog(t),
		owned:   &MemoryOwnership{},
		direct:  NewConfigClient(n.url, n.user, n.password, hc),
		hc:      hc,
		desired: map[int64]provisioning.Account{},
		arrived: map[string]time.Time{},
	}
	logger := slog.New(r.log)
	r.pusher = NewConfigPusher(PusherConfig{
		Client:    NewConfigClient(proxied.String(), n.user, n.password, hc),
		Options:   opts,
		Ownership: r.owned,
		Logger:    logger,
		// As the daemon wires it: Asterisk drops a deleted account's
		// contacts without an event.
		EndpointDeleted: func(id string) { r.adapter().EndpointDeleted(id) },
	})
	cfg := Config{
		Name: liveSwitch, URL: proxied.String(), User: n.user, Password: n.password, App: liveApp,
		Domain: liveDomain, IsGateway: func(ep string) bool {
			m := r.gateways.Load()
			return m != nil && (*m)[ep]
		},
		ReconcileEvery: time.Minute,
		// Short keepalive and backoff: a dead socket is noticed, and a
		// reconnect made, within the test's patience.
		KeepAlive:  500 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		HTTPClient: hc,
		Logger:     logger,
		OnConnect: func(ctx context.Context) {
			// As the daemon does: memory-backed objects are gone after an
			// Asterisk restart, so reconcile the node on every connect.
			r.pusher.Invalidate()
			if err := r.pusher.Reconcile(ctx, r.accounts(), nil); err != nil && ctx.Err() == nil {
				logger.Warn("reconciling PJSIP objects", "err", err)
			}
		},
	}
	if tune != nil {
		tune(&cfg)
	}
	r.cfg = cfg
	r.restart()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.pusher.Run(ctx) })
	t.Cleanup(func() {
		r.kill()
		// Push what is still queued (a test's own cleanup, run before
		// this one, may have just queued a gateway's delete) before the
		// pusher stops: cancelled mid-request, its DELETE still runs on
		// the node while cleanNode deletes the same object directly, and
		// the loser of that race gets ARI's 403 "Could not delete object"
		// (the object was found, then gone by the time sorcery deleted
		// it), which failed TestLiveAuthz's cleanup now and then.
		fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
		r.pusher.Flush(fctx)
		fcancel()
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the adapter did not stop within 5 s of its context ending")
		}
		r.cleanNode()
		r.log.close()
		hc.CloseIdleConnections()
	})
	return r
}

// adapter returns the running adapter.
func (r *liveRig) adapter() *Adapter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.a
}

// restart starts a new adapter (and backfill, when there is one), as a
// restarted Switchboard would: nothing of the previous one is kept but
// the backfill's checkpoint file.
func (r *liveRig) restart() {
	a, err := New(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.a = a
	r.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	r.run.cancel = cancel
	r.run.wg.Go(func() {
		if err := a.WatchPresence(ctx, r.view.Feed(liveSwitch)); err != nil {
			r.t.Errorf("WatchPresence: %v", err)
		}
	})
	r.run.wg.Go(func() {
		if err := a.StreamCDRs(ctx, timedSink{r}); err != nil {
			r.t.Errorf("StreamCDRs: %v", err)
		}
	})
	if r.backfill.path != "" {
		r.runBackfill(ctx, a)
	}
}

// kill stops the adapter (and backfill) at once: what its outbox holds
// is dropped, as a SIGKILL would drop it. It returns once they stopped.
func (r *liveRig) kill() {
	if r.run.cancel == nil {
		return
	}
	r.run.cancel()
	r.run.cancel = nil
	done := make(chan struct{})
	go func() { r.run.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		r.t.Error("the adapter did not stop within 5 s of its context ending")
	}
}

// startBackfill tails path (cel_custom or cdr_csv output) from its
// current end through the adapter's BackfillSink into the rig's sink,
// with its checkpoint in a directory of the test's, and restarts the
// adapter so that both run together. hold is the adapter's CDRHold.
func (r *liveRig) startBackfill(path string, hold time.Duration) {
	r.t.Helper()
	r.kill()
	r.backfill.path = path
	r.backfill.offset = filepath.Join(r.t.TempDir(), "backfill.offset")
	f, err := os.Open(path)
	if err != nil {
		r.t.Fatalf("%s: %v", envLiveCEL, err)
	}
	fi, err := f.Stat()
	if err != nil {
		r.t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		r.t.Fatal(err)
	}
	b = b[:fi.Size()]
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	check, err := checkpointHash(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		r.t.Fatal(err)
	}
	cp, _ := json.Marshal(backfillCheckpoint{Offset: int64(len(b)), Line: bytes.Count(b, []byte("\n")), Check: check})
	if err := os.WriteFile(r.backfill.offset, cp, 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.cfg.CDRHold = hold
	r.restart()
}

func (r *liveRig) runBackfill(ctx context.Context, a *Adapter) {
	bf, err := NewBackfill(BackfillConfig{
		Path: r.backfill.path, OffsetPath: r.backfill.offset,
		Options: CSVOptions{Switch: liveSwitch, Domain: liveDomain, IsGateway: r.cfg.IsGateway},
		Poll:    cmp.Or(r.backfill.poll, 250*time.Millisecond), Logger: a.log,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	sink := a.BackfillSink(timedSink{r})
	r.run.wg.Go(func() {
		if err := bf.Run(ctx, sink); err != nil {
			r.t.Errorf("Backfill: %v", err)
		}
	})
}

// timedSink hands CDRs to the rig's sink and notes when each leg's
// first arrived.
type timedSink struct{ r *liveRig }

func (s timedSink) Put(ctx context.Context, recs ...cdr.Record) error {
	if err := s.r.sink.Put(ctx, recs...); err != nil {
		return err
	}
	now := time.Now()
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	for _, rec := range recs {
		if _, ok := s.r.arrived[rec.CallID]; !ok {
			s.r.arrived[rec.CallID] = now
		}
	}
	return nil
}

// arrival returns when the CDR of leg callID reached the sink.
func (r *liveRig) arrival(callID string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.arrived[callID]
}

// accounts returns what the rig has provisioned.
func (r *liveRig) accounts() []provisioning.Account {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]provisioning.Account, 0, len(r.desired))
	for _, a := range r.desired {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b provisioning.Account) int { return int(a.ID - b.ID) })
	return out
}

// newPhone provisions a new account, as the provisioning service hands a
// created account to its sinks, and returns its phone; Contact port is a
// free UDP port.
func (r *liveRig) newPhone(name string) livePhone {
	r.t.Helper()
	seq := liveUserSeq.Add(1)
	secret := make([]byte, 12)
	_, _ = cryptorand.Read(secret)
	p := livePhone{
		user:   strconv.Itoa(liveUserBase + int(seq)),
		secret: hex.EncodeToString(secret),
		domain: liveDomain,
		port:   freeUDPPort(r.t),
	}
	r.mu.Lock()
	r.users = append(r.users, p.user)
	r.mu.Unlock()
	r.provision(provisioning.Account{ID: seq, Domain: liveDomain, Username: p.user, Secret: p.secret, CallerIDName: name})
	return p
}

// registeredPhone provisions a new account, waits for it on the node and
// registers its phone for 60 s.
func (r *liveRig) registeredPhone(name string) livePhone {
	r.t.Helper()
	p := r.newPhone(name)
	waitFor(r.t, 10*time.Second, "account "+p.user+" on the node", func() bool { return r.pushed(p) })
	r.register(p)
	return p
}

// register registers p for 60 s and waits for the view to list it.
func (r *liveRig) register(p livePhone) {
	r.t.Helper()
	r.node.register(r.t, p, 60)
	waitFor(r.t, 10*time.Second, p.contact()+" in the view", func() bool { _, ok := r.registration(p); return ok })
}

// provision creates or updates an account.
func (r *liveRig) provision(a provisioning.Account) {
	r.mu.Lock()
	r.desired[a.ID] = a
	r.mu.Unlock()
	_ = r.pusher.Apply(context.Background(), provisioning.Change{Op: provisioning.OpUpsert, Account: &a})
}

// deprovision deletes the account of p.
func (r *liveRig) deprovision(p livePhone) {
	r.mu.Lock()
	var a provisioning.Account
	for id, d := range r.desired {
		if d.Username == p.user {
			a = d
			delete(r.desired, id)
		}
	}
	r.mu.Unlock()
	_ = r.pusher.Apply(context.Background(), provisioning.Change{Op: provisioning.OpDelete, Account: &a})
}

// cleanNode hangs up the rig's calls and deletes its accounts from the
// node, and reports what it could not remove.
func (r *liveRig) cleanNode() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.mu.Lock()
	users := slices.Clone(r.users)
	r.mu.Unlock()
	rest := &restClient{base: r.node.url, user: r.node.user, password: r.node.password, hc: r.hc}
	if chs, err := rest.channels(ctx); err == nil {
		for _, ch := range chs {
			for _, u := range users {
				if strings.HasPrefix(ch.Name, "PJSIP/"+u+"-") {
					r.t.Logf("hanging up %s, left over by the test", ch.Name)
					_ = rest.do(ctx, http.MethodDelete, "/channels/"+url.PathEscape(ch.ID), nil, nil)
				}
			}
		}
	}
	r.mu.Lock()
	clear(r.desired)
	r.mu.Unlock()
	// Delete what this rig's pusher created, and only that, directly:
	// the proxy may have been left cut or dark by a failed test.
	refs, _ := r.owned.Owned(ctx)
	slices.SortFunc(refs, func(a, b ObjectRef) int { return typeRank(b.Type) - typeRank(a.Type) })
	for _, ref := range refs {
		err := r.direct.Delete(ctx, ref)
		if errors.Is(err, ErrConfigForbidden) {
			// 403 is also what a delete that lost a race with another
			// delete of the object gets (see the cleanup above): gone is
			// what was wanted.
			if _, gerr := r.direct.Get(ctx, ref); errors.Is(gerr, ErrConfigNotFound) {
				err = nil
			}
		}
		if err != nil && !errors.Is(err, ErrConfigNotFound) {
			r.t.Errorf("deleting the test's res_pjsip/%s from the node: %v", ref, err)
		}
	}
	for _, u := range users {
		for _, typ := range []ObjectType{PJSIPEndpoint, PJSIPAOR, PJSIPAuth} {
			if _, err := r.direct.Get(ctx, ObjectRef{typ, u}); !errors.Is(err, ErrConfigNotFound) {
				r.t.Errorf("res_pjsip/%s/%s is still on the node after the test (%v)", typ, u, err)
			}
		}
	}
}

// state is the feed's SwitchState.
func (r *liveRig) state() presence.SwitchState {
	for _, s := range r.view.Switches() {
		if s.Name == liveSwitch {
			return s
		}
	}
	return presence.SwitchState{}
}

// waitFor polls cond every 5 ms for up to limit, fails the test if it
// does not hold by then, and returns how long it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// registration returns p's registration in the view, if any.
func (r *liveRig) registration(p livePhone) (presence.Registration, bool) {
	regs, _ := r.view.Registrations(presence.RegistrationQuery{Domain: p.domain, User: p.user, Limit: presence.MaxLimit})
	for _, reg := range regs {
		if reg.Contact == p.contact() {
			return reg, true
		}
	}
	return presence.Registration{}, false
}

// pushed reports whether the node holds p's endpoint, aor and auth.
func (r *liveRig) pushed(p livePhone) bool {
	for _, typ := range []ObjectType{PJSIPAuth, PJSIPAOR, PJSIPEndpoint} {
		if _, err := r.direct.Get(r.t.Context(), ObjectRef{typ, p.user}); err != nil {
			return false
		}
	}
	return true
}

// cli runs one Asterisk CLI command.
func (n *liveNode) runCLI(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := append(slices.Clone(n.cli[1:]), command)
	out, err := exec.CommandContext(ctx, n.cli[0], args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %q: %w: %s", strings.Join(n.cli, " "), command, err, out)
	}
	return string(out), nil
}

// liveLog is the adapter's logger in the live tests: it counts the
// adapter's connects and keeps every line, logged if the test fails.
type liveLog struct {
	t     *testing.T
	attrs []slog.Attr
	s     *liveLogState
}

type liveLogState struct {
	mu       sync.Mutex
	connects []time.Time
	losses   []time.Time
	lines    []string
}

func newLiveLog(t *testing.T) *liveLog { return &liveLog{t: t, s: &liveLogState{}} }

func (l *liveLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *liveLog) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", rec.Time.Format("15:04:05.000"), rec.Level, rec.Message)
	for _, a := range l.attrs {
		fmt.Fprintf(&b, " %s", a)
	}
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s", a)
		return true
	})
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	switch rec.Message {
	case "asterisk: connected and resynced":
		l.s.connects = append(l.s.connects, rec.Time)
	case "asterisk: ARI connection lost":
		l.s.losses = append(l.s.losses, rec.Time)
	}
	l.s.lines = append(l.s.lines, b.String())
	return nil
}

func (l *liveLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &liveLog{t: l.t, attrs: append(slices.Clone(l.attrs), as...), s: l.s}
}

func (l *liveLog) WithGroup(string) slog.Handler { return l }

// connects returns when the adapter connected, in order.
func (l *liveLog) connects() []time.Time {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	return slices.Clone(l.s.connects)
}

// losses returns when the adapter lost its connection, in order.
func (l *liveLog) losses() []time.Time {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	return slices.Clone(l.s.losses)
}

// close logs the adapter's lines if the test failed.
func (l *liveLog) close() {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.t.Failed() {
		l.t.Logf("adapter log:\n%s", strings.Join(l.s.lines, "\n"))
	}
}
