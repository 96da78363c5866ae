package freeswitch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/backoff"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// Config is one FreeSWITCH node.
type Config struct {
	// Name is the switch name of the node's presence and CDRs.
	Name string
	// Addr is the event socket, host:port (event_socket.conf.xml's
	// listen-ip and listen-port; 8021 by default).
	Addr     string
	Password string
	// Domain is the SIP domain of users whose events name none.
	Domain string
	// Profiles are the sofia profiles whose registrations are read on a
	// resync; empty means every profile `sofia xmlstatus` lists.
	Profiles []string
	// IsGateway reports whether a name is a provisioned gateway's.
	IsGateway func(name string) bool
	// GatewayProfile is the sofia profile calls from outside arrive on
	// (external when empty): its legs are inbound, gateway or not (see
	// LegRecord).
	GatewayProfile string
	// ReconcileEvery is how often registrations and gateways are re-read
	// while connected, because counts built from events alone drift; 1
	// minute when zero.
	ReconcileEvery time.Duration
	// KeepAlive is the heartbeat: `api status` every KeepAlive, each
	// allowed KeepAlive to answer, so a dead or silent node is noticed
	// within two intervals. 5 s when zero; negative disables it.
	KeepAlive time.Duration
	// DialTimeout bounds each connection attempt's probe and login;
	// RequestTimeout each resync command. 5 s and 15 s when zero.
	DialTimeout, RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the jittered, doubling wait between
	// connection attempts; 250 ms and 30 s when zero. A refused password
	// waits MaxBackoff: retrying sooner cannot help.
	MinBackoff, MaxBackoff time.Duration
	// ReorderWindow is how long an event is held to put events back in
	// Event-Sequence order (FreeSWITCH can deliver them slightly out of
	// order once several of its dispatch threads run); 20 ms when zero.
	ReorderWindow time.Duration
	// CDRAckTimeout bounds how long a mod_json_cdr POST waits for its
	// record to be accepted by the CDR sink before it is answered 503
	// (FreeSWITCH then retries it); 10 s when zero.
	CDRAckTimeout time.Duration
	// UserContext is the dialplan context an originated call's
	// destination is routed in ("default" when empty): the phones'.
	UserContext string
	// DeadLettersPerMinute is how many malformed mod_json_cdr bodies the
	// node's endpoint stores as dead letters, at once and then per minute;
	// beyond it a malformed body is answered 429 and not stored (FreeSWITCH
	// retries it, then keeps it in its err-log-dir). 10 when zero.
	DeadLettersPerMinute int
	// Registerer, when set, gets the adapter's metrics
	// (switchboard_freeswitch_*, labelled with Name).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnConnect, if set, runs after every (re)connect's resync, for as
	// long as that connection lasts.
	OnConnect func(ctx context.Context)
	// Voicemail, when set, gets the node's vm::maintenance events and
	// hears of every (re)connect (a VoicemailIndexer).
	Voicemail VoicemailListener
	// Fax, when set, gets mod_spandsp's spandsp::rxfaxresult events (a
	// FaxIndexer).
	Fax FaxListener
	// Recording, when set, gets the RECORD_STOP events (a
	// RecordingIndexer).
	Recording RecordingListener
}

// RecordingListener takes the ends of recordings; it may not block.
type RecordingListener interface {
	RecordingEvent(ev Event)
}

// FaxListener takes mod_spandsp's rxfax results; it may not block.
type FaxListener interface {
	FaxEvent(ev Event)
}

// VoicemailListener takes mod_voicemail's events; neither method may
// block.
type VoicemailListener interface {
	VoicemailEvent(ev Event)
	Reconnected()
}

// subscribed are the events the adapter asks for. Not ALL: every api
// command adds an API event to an ALL subscription, and most of ALL is
// of no use here. Of the channel events, only those that change what
// the adapter produces: CHANNEL_CREATE (a leg rings), CHANNEL_ANSWER (it
// is up) and CHANNEL_HANGUP_COMPLETE (its CDR). CHANNEL_PROGRESS,
// _PROGRESS_MEDIA, _BRIDGE, _UNBRIDGE and _HANGUP, asked for until issue
// 12 item 14, changed no live call and no CDR of the recorded session
// (TestSubscriptionSameResult) and were half of a call's ESL bytes: each
// carries every channel variable (5–12 kB).
//
// RECORD_STOP (the end of a recording: its file is complete, for the
// call recordings) comes before CUSTOM: mod_event_socket takes every word
// after CUSTOM as a subclass.
var subscribed = []string{
	"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE",
	"BACKGROUND_JOB", recordStopEvent,
	"CUSTOM", "sofia::register", "sofia::unregister", "sofia::expire",
	"sofia::gateway_state", "sofia::gateway_add", "sofia::gateway_delete",
	"sofia::sip_user_state", vmEventMaintenance, faxEventResult,
}

// Adapter supervises the ESL connection of one FreeSWITCH node: it keeps
// the node's presence in a presence.Feed, hands the CDRs of finished legs
// to a cdr.Sink (from CHANNEL_HANGUP_COMPLETE and from mod_json_cdr's
// POSTs, see ServeHTTP in jsoncdr_http.go), runs api commands for the
// Reloader and places and ends calls.
//
// On every (re)connect it logs in, subscribes, then resyncs: the
// registrations of each profile (`sofia xmlstatus profile <p> reg`, the
// live table: `show registrations` lags behind expiries), the gateways
// (`sofia xmlstatus gateway`) and the channels (`show channels as json`)
// replace the node's presence; legs that vanished while disconnected
// leave the view (their CDRs come from mod_json_cdr). Events are then
// applied in order. While connected, registrations and gateways are
// re-read every ReconcileEvery.
type Adapter struct {
	cfg Config
	log *slog.Logger

	watching sync.Mutex // one WatchPresence at a time

	connMu sync.Mutex
	conn   *eslConn // the live connection, nil when down

	jobsMu    sync.Mutex
	jobs      map[string]*job // waiting bgapi jobs by Job-UUID
	byCall    map[string]*job // recent jobs by call uuid, for Job
	callOrder []string        // byCall's keys, oldest first

	outbox cdr.Outbox // CDRs of both sources until a sink takes them

	queuedMu    sync.Mutex
	queued      map[string]*queuedCDR // json_cdr records in outbox, by leg uuid (see submit)
	queuedSwept time.Time             // when queued was last rid of accepted records

	deadLetters *tokenBucket // the json_cdr endpoint's dead-letter budget
	metrics     *metrics
}

var (
	_ presence.Source = (*Adapter)(nil)
	_ cdr.Source      = (*Adapter)(nil)
	_ Commander       = (*Adapter)(nil)
)

// New returns the adapter of one node; nothing is dialled before
// WatchPresence.
func New(cfg Config) (*Adapter, error) {
	if cfg.Name == "" {
		return nil, errors.New("freeswitch: a node needs a name")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("freeswitch: node %q: ESL address %q: want host:port", cfg.Name, cfg.Addr)
	}
	if cfg.Password == "" {
		return nil, fmt.Errorf("freeswitch: node %q: ESL password is empty", cfg.Name)
	}
	cfg.ReconcileEvery = cmp.Or(cfg.ReconcileEvery, time.Minute)
	cfg.KeepAlive = cmp.Or(cfg.KeepAlive, 5*time.Second)
	cfg.DialTimeout = cmp.Or(cfg.DialTimeout, 5*time.Second)
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, 15*time.Second)
	cfg.MinBackoff = cmp.Or(cfg.MinBackoff, 250*time.Millisecond)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, 30*time.Second)
	cfg.ReorderWindow = cmp.Or(cfg.ReorderWindow, 20*time.Millisecond)
	cfg.CDRAckTimeout = cmp.Or(cfg.CDRAckTimeout, 10*time.Second)
	cfg.UserContext = cmp.Or(cfg.UserContext, "default")
	cfg.DeadLettersPerMinute = cmp.Or(cfg.DeadLettersPerMinute, 10)
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	m, err := newMetrics(cfg.Name, cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Adapter{
		cfg:         cfg,
		log:         logger.With("switch", cfg.Name),
		jobs:        map[string]*job{},
		byCall:      map[string]*job{},
		queued:      map[string]*queuedCDR{},
		deadLetters: newTokenBucket(cfg.DeadLettersPerMinute, cfg.Now),
		metrics:     m,
	}, nil
}

// UsesDefaultPassword reports whether the node is configured with
// event_socket.conf.xml's well-known default password.
func (a *Adapter) UsesDefaultPassword() bool { return a.cfg.Password == DefaultPassword }

func (a *Adapter) now() time.Time {
	if a.cfg.Now != nil {
		return a.cfg.Now().UTC()
	}
	return time.Now().UTC()
}

// WatchPresence runs the connection until ctx ends, then returns nil.
func (a *Adapter) WatchPresence(ctx context.Context, feed *presence.Feed) error {
	a.watching.Lock()
	defer a.watching.Unlock()
	s := &fsSession{
		a:    a,
		feed: feed,
		calls: NewCalls(CallOptions{Switch: a.cfg.Name, Domain: a.cfg.Domain,
			IsGateway: a.cfg.IsGateway, OutsideProfiles: a.outsideProfiles(), Now: a.cfg.Now}),
		popt: PresenceOptions{Switch: a.cfg.Name, Domain: a.cfg.Domain, Now: a.cfg.Now},
	}
	return feed.Supervise(ctx, backoff.New(a.cfg.MinBackoff, a.cfg.MaxBackoff), s.run,
		func(err error, connected bool, wait time.Duration) time.Duration {
			if errors.Is(err, ErrAuth) {
				// Retrying sooner cannot help: wait the longest backoff.
				a.log.Error("freeswitch: ESL password refused; check the node's password", "addr", a.cfg.Addr, "retry_in", a.cfg.MaxBackoff)
				return a.cfg.MaxBackoff
			}
			a.log.Warn("freeswitch: ESL connection lost", "err", err, "connected", connected, "retry_in", wait)
			return wait
		})
}

// fsSession is the state one WatchPresence keeps across connections.
type fsSession struct {
	a     *Adapter
	feed  *presence.Feed
	calls *Calls
	popt  PresenceOptions
	// reread are the users whose registrations an event asked to re-read
	// (sofia::sip_user_state), done after the event by rereadUsers.
	reread []UserRef
}

// run is one connection: it returns why it ended and whether it got as
// far as a resync. Every goroutine it starts has returned when it does.
func (s *fsSession) run(ctx context.Context) (connected bool, err error) {
	a := s.a
	conn, err := dialESL(ctx, eslOptions{
		addr: a.cfg.Addr, password: a.cfg.Password,
		dialTimeout: a.cfg.DialTimeout, keepAlive: a.cfg.KeepAlive,
		window: a.cfg.ReorderWindow, log: a.log,
	}, subscribed)
	if err != nil {
		return false, err
	}
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		a.setConn(nil)
		stop()
		conn.Close()
		wg.Wait()
		a.failJobs(errors.New("freeswitch: the ESL connection was lost before the job ended"))
	}()
	context.AfterFunc(ctx, func() { conn.close(ctx.Err()) })

	rctx, rcancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	err = s.resync(rctx, conn, true)
	rcancel()
	if err != nil {
		return false, err
	}
	a.setConn(conn)
	s.feed.SetConnected(true, nil)
	a.log.Info("freeswitch: connected and resynced", "addr", a.cfg.Addr)
	if a.cfg.OnConnect != nil {
		wg.Go(func() { a.cfg.OnConnect(ctx) })
	}
	if a.cfg.Voicemail != nil {
		a.cfg.Voicemail.Reconnected()
	}

	tick := time.NewTicker(a.cfg.ReconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case ev, ok := <-conn.events:
			if !ok {
				return true, conn.Err()
			}
			s.handle(ev)
			if len(s.reread) > 0 {
				s.rereadUsers(ctx, conn)
			}
		case <-conn.done:
			s.drain(conn)
			return true, conn.Err()
		case <-tick.C:
			s.drain(conn)
			s.reread = s.reread[:0] // the resync reads every user
			rctx, rcancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
			err := s.resync(rctx, conn, false)
			rcancel()
			if err != nil {
				return true, fmt.Errorf("freeswitch: reconcile: %w", err)
			}
		}
	}
}

// drain applies the events already sequenced.
func (s *fsSession) drain(conn *eslConn) {
	for {
		select {
		case ev, ok := <-conn.events:
			if !ok {
				return
			}
			s.handle(ev)
		default:
			return
		}
	}
}

// handle applies one event to presence, calls and jobs.
func (s *fsSession) handle(ev Event) {
	if ev.Name() == "BACKGROUND_JOB" {
		s.a.finishJob(ev)
		return
	}
	if ev.Name() == recordStopEvent {
		if s.a.cfg.Recording != nil {
			s.a.cfg.Recording.RecordingEvent(ev)
		}
		return
	}
	if ev.Subclass() == faxEventResult {
		if s.a.cfg.Fax != nil {
			s.a.cfg.Fax.FaxEvent(ev)
		}
		return
	}
	if ev.Subclass() == vmEventMaintenance {
		if s.a.cfg.Voicemail != nil {
			s.a.cfg.Voicemail.VoicemailEvent(ev)
		}
		return
	}
	if ch, ok := PresenceFromEvent(ev, s.popt); ok {
		for _, r := range ch.Put {
			s.feed.PutRegistration(r)
		}
		for _, k := range ch.Delete {
			s.deleteRegistration(k)
		}
		for _, g := range ch.Gateways {
			s.feed.PutGateway(g)
		}
		for _, n := range ch.DeletedGateways {
			s.feed.DeleteGateway(n)
		}
		s.reread = append(s.reread, ch.Reread...)
		return
	}
	upserts, ended, cdrs := s.calls.Apply(ev)
	for _, c := range upserts {
		s.feed.PutCall(c)
	}
	for _, id := range ended {
		s.feed.EndCall(id)
	}
	s.a.outbox.Add(cdrs, nil)
}

// rereadUsers reads the registrations of the users events asked for
// (`sofia xmlstatus profile <p> user <user>@<host>`, the rows of the
// table a resync reads) and puts them. A failure leaves them to the next
// reconcile.
func (s *fsSession) rereadUsers(ctx context.Context, conn *eslConn) {
	refs := s.reread
	s.reread = nil
	for _, u := range refs {
		rctx, cancel := context.WithTimeout(ctx, s.a.cfg.RequestTimeout)
		body, err := conn.api(rctx, "sofia xmlstatus profile "+u.Profile+" user "+u.User+"@"+u.Domain)
		cancel()
		var regs []presence.Registration
		if err == nil {
			regs, err = ParseXMLStatusReg([]byte(body), s.popt)
		}
		if err != nil {
			s.a.log.Warn("freeswitch: re-reading a user's registrations", "user", u.User, "domain", u.Domain, "err", err)
			continue
		}
		for _, r := range regs {
			s.feed.PutRegistration(r)
		}
	}
}

// deleteRegistration removes one contact, or every contact of the user
// when the event names none (sofia::expire names only user and host).
func (s *fsSession) deleteRegistration(k RegKey) {
	if k.Contact != "" {
		s.feed.DeleteRegistration(k.Domain, k.User, k.Contact)
		return
	}
	s.feed.DeleteRegistration(k.Domain, k.User, "")
}

// resync reads the node and replaces its presence. full (on a connect)
// also reads the channels; the periodic reconcile leaves calls to the
// events, since a channel list could race the events in flight about it.
func (s *fsSession) resync(ctx context.Context, conn *eslConn, full bool) error {
	profiles := s.a.cfg.Profiles
	if len(profiles) == 0 {
		body, err := conn.api(ctx, "sofia xmlstatus")
		if err != nil {
			return fmt.Errorf("freeswitch: sofia xmlstatus: %w", err)
		}
		if profiles, err = ParseXMLStatusProfiles([]byte(body)); err != nil {
			return fmt.Errorf("freeswitch: sofia xmlstatus: %w", err)
		}
	}
	var snap presence.Snapshot
	for _, p := range profiles {
		body, err := conn.api(ctx, "sofia xmlstatus profile "+p+" reg")
		if err != nil {
			return fmt.Errorf("freeswitch: registrations of profile %s: %w", p, err)
		}
		regs, err := ParseXMLStatusReg([]byte(body), s.popt)
		if err != nil {
			return fmt.Errorf("freeswitch: registrations of profile %s: %w", p, err)
		}
		snap.Registrations = append(snap.Registrations, regs...)
	}
	body, err := conn.api(ctx, "sofia xmlstatus gateway")
	if err != nil {
		return fmt.Errorf("freeswitch: sofia xmlstatus gateway: %w", err)
	}
	if snap.Gateways, err = ParseXMLStatusGateways([]byte(body), s.popt); err != nil {
		return fmt.Errorf("freeswitch: sofia xmlstatus gateway: %w", err)
	}
	if full {
		body, err := conn.api(ctx, "show channels as json")
		if err != nil {
			return fmt.Errorf("freeswitch: show channels: %w", err)
		}
		rows, err := ParseShowChannels([]byte(body))
		if err != nil {
			return fmt.Errorf("freeswitch: show channels: %w", err)
		}
		s.calls.Reset(rows)
	}
	snap.Calls = s.calls.Live()
	s.feed.Replace(snap)
	return nil
}

// outsideProfiles is JSONCDROptions.OutsideProfiles: the gateway
// profile, nil (external) by default.
func (a *Adapter) outsideProfiles() []string {
	if a.cfg.GatewayProfile == "" {
		return nil
	}
	return []string{a.cfg.GatewayProfile}
}

func (a *Adapter) setConn(c *eslConn) {
	a.connMu.Lock()
	a.conn = c
	a.connMu.Unlock()
}

// ErrNotConnected is returned by commands while the node is down.
var ErrNotConnected = errors.New("freeswitch: not connected to the node")

// API runs one api command on the node and returns its answer; a "-ERR"
// answer is an error. It is the Reloader's Commander.
func (a *Adapter) API(ctx context.Context, cmd string) (string, error) {
	c, ctx, cancel, err := a.live(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	return c.api(ctx, cmd)
}

// live returns the connection commands go through, and ctx bounded by
// RequestTimeout unless it has a deadline of its own.
func (a *Adapter) live(ctx context.Context) (*eslConn, context.Context, context.CancelFunc, error) {
	a.connMu.Lock()
	c := a.conn
	a.connMu.Unlock()
	if c == nil {
		return nil, ctx, func() {}, ErrNotConnected
	}
	if _, ok := ctx.Deadline(); ok {
		return c, ctx, func() {}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	return c, ctx, cancel, nil
}

// Pending returns how many CDRs wait for a sink.
func (a *Adapter) Pending() int { return a.outbox.Pending() }

// StreamCDRs hands the CDRs of finished legs (from the event stream and
// from mod_json_cdr's POSTs) to sink until ctx ends, then returns nil. A
// refused Put is retried with backoff, never dropped; what is not yet
// accepted when ctx ends stays queued for the next StreamCDRs.
func (a *Adapter) StreamCDRs(ctx context.Context, sink cdr.Sink) error {
	return a.outbox.Stream(ctx, sink, a.log)
}

// String names the node for logs.
func (a *Adapter) String() string {
	return "freeswitch " + a.cfg.Name + " (" + strings.TrimSpace(a.cfg.Addr) + ")"
}
