package freeswitch

// Reload signalling: FreeSWITCH reads accounts, gateways and DIDs live
// through mod_xml_curl, so a provisioning change needs a command only
// where FreeSWITCH holds on to what it read: registrations made with an
// old secret, and gateways, which sofia builds once from the directory.

import (
	"context"
	"errors"
	"fmt"
	"github.com/switchboard-voip/switchboard/internal/debounce"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/internal/backoff"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// Commander runs one ESL api command on the node (the adapter implements
// it). An answer FreeSWITCH marks as failed ("-ERR …") may come back as
// the answer or as an error; the Reloader handles both.
type Commander interface {
	API(ctx context.Context, cmd string) (string, error)
}

// ReloaderConfig configures a Reloader.
type ReloaderConfig struct {
	// PhoneProfile is the sofia profile phones register with; "internal"
	// when empty.
	PhoneProfile string
	// GatewayProfile is the sofia profile that carries the gateways;
	// "external" when empty.
	GatewayProfile string
	// Debounce is how long the worker waits for a burst of changes to end
	// (no change for that long, at most ten times that in all) before it
	// runs one round of commands for all of them; 200 ms when zero.
	Debounce time.Duration
	Logger   *slog.Logger
	// RetryBackoff is the first wait before a failed command is tried
	// again; it doubles on every failure, up to 30 s, each wait drawn from
	// the upper half of its step (internal/backoff). 500 ms when zero.
	RetryBackoff time.Duration
	// Attempts is how many times a command is tried before the Reloader
	// logs it as lost and goes on; 6 when zero (8 to 15 s with the default
	// backoff).
	Attempts int
	// KillSettle is the wait between killgw and rescan. killgw only marks
	// a gateway deleted; sofia's worker thread takes it out of the gateway
	// hash on its next tick (sofia_reg_check_gateway, once a second), and
	// a gateway rescanned before that is added to the profile but not to
	// the hash (sofia_reg_add_gateway), so calls to it fail. 2 s when
	// zero.
	KillSettle time.Duration
	// CheckGateways: after a round's rescan, ask sofia for each gateway
	// the round created or changed (`sofia xmlstatus gateway <name>`)
	// and record whether it exists (GatewayState). The daemon sets it;
	// without it a round sends only the commands above.
	CheckGateways bool
}

// Reloader is the provisioning.ConfigSink of one FreeSWITCH node. Apply
// decides at once what a change needs and queues it; Run's worker sends
// the commands, a burst of changes in one round:
//
//   - account created: nothing. FreeSWITCH asks xml_curl at the account's
//     first REGISTER, and its user cache holds only users found, never a
//     "not found" (recorded), so there is no stale miss to flush.
//   - account updated (any field: the cached user carries the caller ID
//     variables too), renamed or deleted: `xml_flush_cache id <user>
//     <domain>` for the old address, so that the next lookup asks
//     xml_curl again rather than use the user FreeSWITCH cached from a
//     cacheable answer (NodeConfig.DirectoryCacheMS). FreeSWITCH answers
//     "+OK cleared N entry|entries" whether or not anything was cached.
//     An account seen for the first time is taken as updated unless its
//     CreatedAt equals its UpdatedAt, as the store writes a creation. The
//     cache is flushed before the registrations below, so that the phones'
//     next REGISTER is checked against the new secret.
//   - account whose secret (HA1) or username changed, and account
//     deleted: `sofia profile <PhoneProfile> flush_inbound_reg
//     <user>@<domain>` for the old address, so that registrations made
//     with the old credentials end now rather than at their expiry. The
//     last HA1 and address of every account seen are remembered; the first
//     sight of an account is taken as its creation unless the change says
//     the secret changed (the Service sets SecretChanged on updates).
//   - gateway created or changed: `reloadxml`, `sofia profile
//     <GatewayProfile> killgw <name>` for a gateway FreeSWITCH may already
//     have (any gateway not known to be new; the old name of a renamed
//     one), then `sofia profile <GatewayProfile> rescan`, which re-reads
//     the gateways from xml_curl (see gatewaysDocument). A new gateway
//     (CreatedAt equal to UpdatedAt, as the store writes a creation) needs
//     no killgw. rescan reloads the XML itself ("Reload XML [Success]" in
//     its recorded answer), so reloadxml is belt and braces.
//   - gateway deleted: killgw.
//   - observed gateway (provisioning.Gateway.Observed, the operator's
//     own sofia gateway) created, changed or deleted: nothing. It is not
//     in xml_curl's answer, and a managed gateway turned observed is
//     handed over as it is: not killed.
//   - DIDs: nothing; the dialplan asks xml_curl on every call (DIDFallback,
//     a sink of its own, keeps the static copy for outages).
//
// A round sends one reloadxml and one rescan whatever the number of
// gateway changes. A command that fails is retried with backoff (see
// ReloaderConfig.Attempts); `killgw` answered "-ERR no such gateway." has
// nothing left to do and is not retried. The commands carry no secrets,
// and neither do the logs.
type Reloader struct {
	cmd  Commander
	cfg  ReloaderConfig
	log  *slog.Logger
	wake chan struct{}

	mu       sync.Mutex
	pending  reloadRound
	accounts map[int64]reloadAccount // by account ID
	gateways map[int64]string        // gateway ID → name FreeSWITCH knows
	// states are the managed gateways' push states since start, by ID
	// (GatewayState).
	states map[int64]GatewayPushState
}

var _ provisioning.ConfigSink = (*Reloader)(nil)

// reloadAccount is what the Reloader remembers of an account.
type reloadAccount struct{ aor, ha1, username, domain string }

// reloadRound is the work of one round: ordered sets of addresses to
// flush and gateways to kill, and whether to reload and rescan.
type reloadRound struct {
	uncache []string // "<user> <domain>"
	flush   []string
	kill    []string
	rescan  bool
	check   map[int64]string // gateways to look for after the rescan: ID → name
}

func (r *reloadRound) empty() bool {
	return len(r.uncache) == 0 && len(r.flush) == 0 && len(r.kill) == 0 && !r.rescan
}

func reloadAddOnce(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

// NewReloader returns a Reloader sending its commands through cmd; it
// starts nothing: call Run.
func NewReloader(cmd Commander, cfg ReloaderConfig) *Reloader {
	if cfg.PhoneProfile == "" {
		cfg.PhoneProfile = "internal"
	}
	if cfg.GatewayProfile == "" {
		cfg.GatewayProfile = "external"
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 200 * time.Millisecond
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 500 * time.Millisecond
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 6
	}
	if cfg.KillSettle <= 0 {
		cfg.KillSettle = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Reloader{
		cmd: cmd, cfg: cfg, log: log,
		wake:     make(chan struct{}, 1),
		accounts: make(map[int64]reloadAccount),
		gateways: make(map[int64]string),
		states:   make(map[int64]GatewayPushState),
	}
}

// Apply queues what c needs and returns at once; it never fails.
func (r *Reloader) Apply(_ context.Context, c provisioning.Change) error {
	r.mu.Lock()
	queued := false
	switch {
	case c.Account != nil:
		queued = r.applyAccount(c)
	case c.Gateway != nil:
		queued = r.applyGateway(c)
	}
	r.mu.Unlock()
	if queued {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// applyAccount queues the flush an account change needs; r.mu is held.
func (r *Reloader) applyAccount(c provisioning.Change) bool {
	a := c.Account
	prev, known := r.accounts[a.ID]
	uncache := func(username, domain string) {
		r.pending.uncache = reloadAddOnce(r.pending.uncache, username+" "+domain)
	}
	if c.Op == provisioning.OpDelete {
		delete(r.accounts, a.ID)
		uncache(a.Username, a.Domain)
		r.pending.flush = reloadAddOnce(r.pending.flush, a.AOR())
		if known && prev.aor != a.AOR() {
			uncache(prev.username, prev.domain)
			r.pending.flush = reloadAddOnce(r.pending.flush, prev.aor)
		}
		return true
	}
	r.accounts[a.ID] = reloadAccount{aor: a.AOR(), ha1: a.HA1, username: a.Username, domain: a.Domain}
	queued := false
	switch {
	case known:
		uncache(prev.username, prev.domain)
		queued = true
	case c.SecretChanged || !a.CreatedAt.Equal(a.UpdatedAt) || a.CreatedAt.IsZero():
		uncache(a.Username, a.Domain)
		queued = true
	}
	switch {
	case known && (prev.ha1 != a.HA1 || prev.aor != a.AOR()):
		r.pending.flush = reloadAddOnce(r.pending.flush, prev.aor)
	case c.SecretChanged: // an update of an account not seen since start
		r.pending.flush = reloadAddOnce(r.pending.flush, a.AOR())
	default:
		return queued
	}
	return true
}

// applyGateway queues the killgw and rescan a gateway change needs; r.mu
// is held.
func (r *Reloader) applyGateway(c provisioning.Change) bool {
	g := c.Gateway
	prev, known := r.gateways[g.ID]
	delete(r.pending.check, g.ID)
	if g.Observed { // the operator's: nothing to send, nothing to kill
		delete(r.gateways, g.ID)
		delete(r.states, g.ID)
		return false
	}
	if c.Op == provisioning.OpDelete {
		delete(r.gateways, g.ID)
		delete(r.states, g.ID)
		r.pending.kill = reloadAddOnce(r.pending.kill, g.Name)
		if known && prev != g.Name {
			r.pending.kill = reloadAddOnce(r.pending.kill, prev)
		}
		return true
	}
	r.gateways[g.ID] = g.Name
	switch {
	case known:
		r.pending.kill = reloadAddOnce(r.pending.kill, prev)
	case !g.CreatedAt.Equal(g.UpdatedAt) || g.CreatedAt.IsZero():
		r.pending.kill = reloadAddOnce(r.pending.kill, g.Name)
	}
	r.pending.rescan = true
	if r.cfg.CheckGateways {
		if r.pending.check == nil {
			r.pending.check = make(map[int64]string)
		}
		r.pending.check[g.ID] = g.Name
		r.setState(g.ID, GatewayPending, "")
	}
	return true
}

// Run sends the queued commands until ctx ends, and returns ctx's error.
func (r *Reloader) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.wake:
		}
		if err := r.settle(ctx); err != nil {
			return err
		}
		r.round(ctx)
	}
}

// round takes the queued work and sends its commands.
func (r *Reloader) round(ctx context.Context) {
	r.mu.Lock()
	w := r.pending
	r.pending = reloadRound{}
	r.mu.Unlock()
	if w.empty() {
		return
	}
	for _, key := range w.uncache {
		r.run(ctx, "xml_flush_cache id "+key)
	}
	for _, aor := range w.flush {
		r.run(ctx, "sofia profile "+r.cfg.PhoneProfile+" flush_inbound_reg "+aor)
	}
	if w.rescan {
		r.run(ctx, "reloadxml")
	}
	killed := false
	for _, name := range w.kill {
		ok, gone, _ := r.run(ctx, "sofia profile "+r.cfg.GatewayProfile+" killgw "+name)
		killed = killed || (ok && !gone)
	}
	if w.rescan {
		if killed && !backoff.Sleep(ctx, r.cfg.KillSettle) {
			return
		}
		ok, _, err := r.run(ctx, "sofia profile "+r.cfg.GatewayProfile+" rescan")
		r.checkGateways(ctx, w.check, ok, err)
	}
}

// run sends cmd until it succeeds, ctx ends or the attempts run out, and
// reports whether it succeeded and, for killgw, whether the gateway was
// already gone; err is the last failure.
func (r *Reloader) run(ctx context.Context, cmd string) (ok, gone bool, err error) {
	retry := backoff.New(r.cfg.RetryBackoff, 30*time.Second)
	for attempt := 1; ; attempt++ {
		var ans string
		ans, err = r.cmd.API(ctx, cmd)
		if strings.Contains(cmd, " killgw ") && reloadNoSuchGateway(ans, err) {
			r.log.DebugContext(ctx, "freeswitch: gateway already gone", "cmd", cmd)
			return true, true, nil
		}
		if err == nil {
			err = reloadAnswerErr(ans)
		}
		if err == nil {
			r.log.DebugContext(ctx, "freeswitch: reload command done", "cmd", cmd)
			return true, false, nil
		}
		if ctx.Err() != nil {
			return false, false, err
		}
		if attempt >= r.cfg.Attempts {
			r.log.ErrorContext(ctx, "freeswitch: reload command failed, giving up", "cmd", cmd, "attempts", attempt, "err", err)
			return false, false, err
		}
		wait := retry.Next()
		r.log.WarnContext(ctx, "freeswitch: reload command failed, retrying", "cmd", cmd, "attempt", attempt, "retry_in", wait, "err", err)
		if !backoff.Sleep(ctx, wait) {
			return false, false, err
		}
	}
}

// errReloadAnswer marks an answer in which FreeSWITCH reports a failure.
var errReloadAnswer = errors.New("freeswitch: command refused")

// reloadAnswerErr reports a failure in an api answer: a line starting
// with "-ERR" (rescan answers "Reload XML [Success]" first, then "+OK" or
// "-ERR"), or sofia's "Invalid Profile [name]" / "Invalid Args!", which
// carry no -ERR.
func reloadAnswerErr(ans string) error {
	s := strings.TrimSpace(ans)
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, "-ERR") {
			return fmt.Errorf("%w: %s", errReloadAnswer, strings.TrimSpace(line))
		}
	}
	if strings.HasPrefix(s, "Invalid ") {
		return fmt.Errorf("%w: %s", errReloadAnswer, s)
	}
	return nil
}

// reloadNoSuchGateway reports killgw's answer for a gateway sofia does
// not have ("-ERR no such gateway."), as an answer or inside an error.
func reloadNoSuchGateway(ans string, err error) bool {
	if strings.Contains(ans, "no such gateway") {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "no such gateway")
}

// settle waits out a burst of changes (debounce.Settle), so that a burst
// is one round.
func (r *Reloader) settle(ctx context.Context) error {
	return debounce.Settle(ctx, r.wake, r.cfg.Debounce)
}
