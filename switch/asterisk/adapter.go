package asterisk

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/backoff"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// Config is one Asterisk node.
type Config struct {
	// Name is the switch name of the node's presence and CDRs.
	Name string
	// URL is ARI's base URL, e.g. http://127.0.0.1:8088/ari.
	URL            string
	User, Password string
	// App is the ARI application the adapter registers; "switchboard"
	// when empty. Two adapters must not share one.
	App string
	// Domain is the SIP domain of endpoints whose id carries none.
	Domain string
	// IsGateway reports whether an endpoint id is a provisioned gateway.
	IsGateway func(endpoint string) bool
	// RegistrationGateway names the gateway of an outbound registration
	// from res_prometheus's labels (server and client URI); nil or "" falls
	// back to matching the server's host:port with a gateway's contact.
	RegistrationGateway func(serverURI, clientURI string) string
	// MetricsURL is res_prometheus's endpoint; empty means /metrics on
	// ARI's HTTP server, "-" disables it (outbound registrations are then
	// reported unknown).
	MetricsURL string
	// ReconcileEvery is how often presence is re-read over REST while
	// connected, because counts built from events alone drift; 1 minute
	// when zero.
	ReconcileEvery time.Duration
	// DialTimeout bounds the WebSocket handshake; RequestTimeout each
	// resync's REST reads. 5 s and 15 s when zero.
	DialTimeout, RequestTimeout time.Duration
	// KeepAlive is how often the event WebSocket is pinged; a connection
	// from which no frame at all (event or pong) arrives for twice as long
	// is taken for dead, closed and redialled. Without it a peer that
	// vanished without closing TCP is noticed only by the next reconcile
	// or the kernel's timeouts. 10 s when zero; negative disables it.
	KeepAlive time.Duration
	// MinBackoff and MaxBackoff bound the jittered, doubling wait between
	// connection attempts; 250 ms and 30 s when zero.
	MinBackoff, MaxBackoff time.Duration
	// HTTPClient is used for REST and the WebSocket (its Timeout, if
	// any, is dropped for the latter); nil means a fresh one with a
	// transport of its own. Its idle connections are closed whenever the
	// ARI connection is lost, so it should not be shared.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CDRHold is how long the CDR of a leg that ended while the ARI
	// connection was down (guessed at the reconnect: end = reconnect time,
	// no cause) waits for Asterisk's own record of the leg to come through
	// BackfillSink, which then replaces it (see legHold). Zero stores the
	// guess at once: right when no backfill runs for the node.
	CDRHold time.Duration
	// OnConnect, if set, runs after every (re)connect's resync, for as long
	// as that connection lasts: the daemon reconciles the node's PJSIP
	// objects with the store there, since memory-backed objects are gone
	// after an Asterisk restart.
	OnConnect func(ctx context.Context)
}

// DefaultCDRHold is the CDRHold the daemon gives a node whose CDR or CEL
// file it backfills: the backfill sees a row within a few polls (1 s
// each) of Asterisk writing it, and Asterisk writes it when the call
// ends, usually before the ARI connection is back.
const DefaultCDRHold = time.Minute

// aorConcurrency bounds the parallel AOR reads of a resync.
const aorConcurrency = 8

// Adapter supervises the ARI connection of one Asterisk node: it keeps the
// node's presence in a presence.Feed and hands the CDRs of finished legs
// to a cdr.Sink.
//
// On every (re)connect it dials the event WebSocket (app, subscribeAll)
// and makes no explicit endpoint:PJSIP subscription: on Asterisk 23.4.1 it
// adds nothing for a subscribeAll application (EndpointStateChange
// reaches one neither with nor without it; PeerStatusChange, which
// Presence reads, carries the same state), and a freshly started node
// whose PJSIP endpoints all come from Switchboard's push refuses it (422
// "Event source does not exist" until its first endpoint exists), which
// would keep the adapter from ever connecting and pushing one. It then
// resyncs: endpoints, the
// contacts of online endpoints (their AOR) and channels are read over REST
// and replace the node's presence; legs that vanished while disconnected
// are closed by Calls.Reset and their CDRs queued. Events are then applied
// in order. While connected, presence is re-read every ReconcileEvery and
// the socket is pinged every KeepAlive, so that a peer gone silent is
// noticed within two intervals. A lost connection marks the feed disconnected (its last state stays,
// stale) and the adapter reconnects with capped, jittered backoff.
//
// Events are read before the resync's REST reads, so none is lost between
// them; one raised in that window is applied after the snapshot that may
// already include it, which every handler tolerates. A channel that ends
// in that window gets the CDR Reset guesses for it (CauseTextDisconnected),
// not a second one; that guess, like those of every leg that ended while
// disconnected, is held for CDRHold in case Asterisk's own record of the
// leg comes through BackfillSink (see legHold).
type Adapter struct {
	cfg    Config
	rest   *restClient
	config *ConfigClient
	wsHC   *http.Client
	wsURL  string
	log    *slog.Logger

	watching sync.Mutex // one WatchPresence at a time: Calls is not shared

	outbox cdr.Outbox // produced, not yet accepted by a sink
	hold   *legHold   // guessed CDRs waiting for the switch's record

	deleted deletedEndpoints // EndpointDeleted's ids, for the running connection
	// resyncNow holds a token while a Resync is asked for.
	resyncNow chan struct{}
}

var (
	_ presence.Source = (*Adapter)(nil)
	_ cdr.Source      = (*Adapter)(nil)
)

// New returns the adapter of one node; nothing is dialled before
// WatchPresence.
func New(cfg Config) (*Adapter, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("asterisk: node %q: bad ARI URL %q", cfg.Name, cfg.URL)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return nil, fmt.Errorf("asterisk: node %q: ARI URL %q: want http or https", cfg.Name, cfg.URL)
	}
	cfg.App = cmp.Or(cfg.App, "switchboard")
	cfg.ReconcileEvery = cmp.Or(cfg.ReconcileEvery, time.Minute)
	cfg.KeepAlive = cmp.Or(cfg.KeepAlive, 10*time.Second)
	cfg.DialTimeout = cmp.Or(cfg.DialTimeout, 5*time.Second)
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, 15*time.Second)
	cfg.MinBackoff = cmp.Or(cfg.MinBackoff, 250*time.Millisecond)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, 30*time.Second)
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.MetricsURL == "" {
		m := *u
		m.Path = strings.TrimSuffix(m.Path, "/ari") + "/metrics"
		cfg.MetricsURL = m.String()
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// A transport of its own: a lost connection drops the idle ones
		// (see WatchPresence), which must not be other packages'.
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	ws := *hc
	ws.Timeout = 0
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	base := u.String()
	q := url.Values{"app": {cfg.App}, "subscribeAll": {"true"}}
	a := &Adapter{
		cfg:    cfg,
		rest:   &restClient{base: base, user: cfg.User, password: cfg.Password, hc: hc},
		config: NewConfigClient(base, cfg.User, cfg.Password, hc),
		wsHC:   &ws,
		wsURL:  base + "/events?" + q.Encode(),
		log:    logger.With("switch", cfg.Name),

		deleted:   deletedEndpoints{ready: make(chan struct{}, 1)},
		resyncNow: make(chan struct{}, 1),
	}
	a.hold = newLegHold(cfg.CDRHold, a.log, a.enqueue)
	return a, nil
}

// BackfillSink wraps the sink of the node's Backfill, so that Asterisk's
// own record of a leg that ended while the ARI connection was down
// replaces the CDR guessed at the reconnect instead of being shut out by
// it (see legHold). The records are completed in place with what the
// adapter knew of the leg (codec, user agent, SIP status).
func (a *Adapter) BackfillSink(next cdr.Sink) cdr.Sink {
	return backfillSink{next: next, hold: a.hold}
}

func (a *Adapter) now() time.Time {
	if a.cfg.Now != nil {
		return a.cfg.Now().UTC()
	}
	return time.Now().UTC()
}

// WatchPresence runs the connection until ctx ends, then returns nil. It
// writes the node's presence into feed and queues the CDRs StreamCDRs
// delivers. Only one WatchPresence runs per Adapter at a time.
func (a *Adapter) WatchPresence(ctx context.Context, feed *presence.Feed) error {
	a.watching.Lock()
	defer a.watching.Unlock()
	s := &session{
		a:     a,
		feed:  feed,
		calls: NewCalls(CallOptions{Switch: a.cfg.Name, Domain: a.cfg.Domain, IsGateway: a.cfg.IsGateway, Now: a.cfg.Now}),
		pres:  NewPresence(PresenceOptions{Domain: a.cfg.Domain, IsGateway: a.cfg.IsGateway}),
	}
	return feed.Supervise(ctx, backoff.New(a.cfg.MinBackoff, a.cfg.MaxBackoff), s.run,
		func(err error, connected bool, wait time.Duration) time.Duration {
			a.log.Warn("asterisk: ARI connection lost", "err", err, "connected", connected, "retry_in", wait)
			// The REST connections kept alive in the pool went the way of
			// the socket: after a silent node (host gone, NAT state lost)
			// a request sent on one gets no answer and the next resync
			// would wait out RequestTimeout. Redial everything.
			a.rest.hc.CloseIdleConnections()
			return wait
		})
}

// session is the state one WatchPresence keeps across connections.
type session struct {
	a     *Adapter
	feed  *presence.Feed
	calls *Calls
	pres  *Presence
	// reads takes the REST reads the running connection's reader
	// goroutine makes beside the event loop (see runReads); nil outside
	// run.
	reads chan readJob
}

// readJob is a REST read made beside the event loop: it returns what to
// apply in the loop with its answer, or nil when there is nothing to.
type readJob func(ctx context.Context) (apply func())

// run is one connection: it returns why it ended and whether it got as
// far as a resync. Every goroutine it starts has returned when it does.
func (s *session) run(ctx context.Context) (connected bool, err error) {
	a := s.a
	dctx, cancel := context.WithTimeout(ctx, a.cfg.DialTimeout)
	ws, err := dialWS(dctx, a.wsHC, a.wsURL, a.cfg.User, a.cfg.Password)
	cancel()
	if err != nil {
		return false, err
	}
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		ws.Close()
		wg.Wait()
		// Whichever of the live legs ended during the outage, the
		// backfill may bring its switch record before the reconnect.
		a.hold.suspect(s.calls.extras())
	}()
	context.AfterFunc(ctx, func() { ws.Close() })

	msgs := make(chan []byte, 1024)
	readErr := make(chan error, 1)
	wg.Go(func() {
		for {
			m, err := ws.readMessage(ctx)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	})
	if a.cfg.KeepAlive > 0 {
		// Events still queued mean the loop below is behind (a slow
		// resync), not that Asterisk is silent.
		wg.Go(func() { ws.keepAlive(ctx, a.cfg.KeepAlive, func() bool { return len(msgs) > 0 }) })
	}

	// What events leave unsaid (a new contact's details, an answered
	// leg's codec) is read beside the event loop, which applies the
	// answers as they come.
	s.reads = make(chan readJob, 1024)
	readDone := make(chan func(), 64)
	wg.Go(func() { s.runReads(ctx, readDone) })

	// The resync below reads the node: deletions reported before it are
	// in what it reads.
	a.deleted.take()
	rctx, rcancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	err = s.resync(rctx, true)
	rcancel()
	if err != nil {
		return false, err
	}
	s.feed.SetConnected(true, nil)
	a.log.Info("asterisk: connected and resynced", "url", a.cfg.URL)
	if a.cfg.OnConnect != nil {
		// In the background, so events keep flowing while the switch's
		// configuration is reconciled; cancelled if the connection drops
		// (the next connect reconciles again).
		wg.Go(func() { a.cfg.OnConnect(ctx) })
	}

	tick := time.NewTicker(a.cfg.ReconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case m := <-msgs:
			s.handle(m)
		case err := <-readErr:
			s.drain(msgs) // what was read before the error
			return true, fmt.Errorf("asterisk: event socket: %w", err)
		case <-tick.C:
			if err := s.reconcile(ctx, msgs); err != nil {
				return true, err
			}
		case <-a.resyncNow:
			if err := s.reconcile(ctx, msgs); err != nil {
				return true, err
			}
		case apply := <-readDone:
			apply()
		case <-a.deleted.ready:
			// After the events already read, which may still name them.
			s.drain(msgs)
			for _, id := range a.deleted.take() {
				s.pres.Forget(id, s.feed)
			}
		}
	}
}

// reconcile re-reads presence over REST, after applying the events that
// have arrived, so that the REST view is not older than the events
// applied after it.
func (s *session) reconcile(ctx context.Context, msgs <-chan []byte) error {
	s.drain(msgs)
	rctx, rcancel := context.WithTimeout(ctx, s.a.cfg.RequestTimeout)
	defer rcancel()
	if err := s.resync(rctx, false); err != nil {
		return fmt.Errorf("asterisk: reconcile: %w", err)
	}
	return nil
}

// Resync asks the running connection to re-read presence over REST now,
// as its periodic reconcile does; it never blocks. The daemon calls it
// when the set of provisioned gateway names changes, so that an endpoint
// that became (or stopped being) a gateway, such as a pjsip.conf trunk
// declared as an observed gateway, is reported as such at once rather
// than at the next reconcile.
func (a *Adapter) Resync() {
	select {
	case a.resyncNow <- struct{}{}:
	default:
	}
}

// EndpointDeleted tells the adapter that endpoint id was deleted from the
// node; it returns at once. Asterisk (23.4.1, seen live) removes a deleted
// account's contacts without any event, not even a ContactStatusChange
// "Removed", so without this the registration would stay in presence until
// the next periodic reconcile. The daemon wires it to the ConfigPusher's
// PusherConfig.EndpointDeleted. The running connection drops the
// endpoint's registrations (or gateway) from presence; with none running,
// the next connect's resync reads the node anyway.
func (a *Adapter) EndpointDeleted(id string) { a.deleted.add(id) }

// deletedEndpoints is the queue of EndpointDeleted, drained by the
// connection's event loop (Presence is not safe for concurrent use).
type deletedEndpoints struct {
	mu    sync.Mutex
	ids   []string
	ready chan struct{} // holds a token while ids is not empty
}

func (d *deletedEndpoints) add(id string) {
	d.mu.Lock()
	d.ids = append(d.ids, id)
	d.mu.Unlock()
	select {
	case d.ready <- struct{}{}:
	default:
	}
}

func (d *deletedEndpoints) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := d.ids
	d.ids = nil
	return ids
}

func (s *session) drain(msgs <-chan []byte) {
	for {
		select {
		case m := <-msgs:
			s.handle(m)
		default:
			return
		}
	}
}

// handle applies one event to presence and calls, in that order. It is
// decoded once, by ParseEvent, for both; Presence reads Raw again only for
// the few presence events.
func (s *session) handle(m []byte) {
	ev, err := ParseEvent(m)
	if err != nil {
		s.a.log.Warn("asterisk: undecodable ARI event", "err", err)
		return
	}
	at := ev.Timestamp
	if at.IsZero() {
		at = s.a.now()
	}
	if _, err := s.pres.Apply(ev, at, s.feed); err != nil {
		s.a.log.Warn("asterisk: presence event", "type", ev.Type, "err", err)
	}
	for _, ref := range s.pres.TakeWanted() {
		s.read(func(ctx context.Context) func() {
			d, ok := s.readContact(ctx, ref)
			if !ok {
				return nil
			}
			return func() { s.pres.SetDetails(ref, d, s.feed) }
		})
	}
	upserts, ended, cdrs := s.calls.Apply(ev)
	if prov := s.calls.TakeProvisional(); len(prov) > 0 {
		var guessed []cdr.Record
		cdrs = slices.DeleteFunc(cdrs, func(r cdr.Record) bool {
			if slices.Contains(prov, r.CallID) {
				guessed = append(guessed, r)
				return true
			}
			return false
		})
		s.a.hold.guessed(guessed, s.a.now())
	}
	s.readCodecs()
	for _, c := range upserts {
		s.feed.PutCall(c)
	}
	for _, id := range ended {
		s.feed.EndCall(id)
	}
	s.a.enqueue(s.a.hold.settled(cdrs))
}

// resync reads the node over REST and replaces its presence. full (on a
// connect) also reads channels and closes the legs that vanished; the
// periodic reconcile leaves calls to the events, since a channel read
// over REST could race the events still in flight about it.
func (s *session) resync(ctx context.Context, full bool) error {
	a := s.a
	eps, err := a.rest.endpoints(ctx)
	if err != nil {
		return err
	}
	if full {
		chs, err := a.rest.channels(ctx)
		if err != nil {
			return err
		}
		s.readChannels(ctx, chs)
		a.hold.guessed(s.calls.Reset(chs), a.now())
		s.readCodecs() // of the legs up at the resync
	}
	aors, err := s.readAORs(ctx, eps, full)
	if err != nil {
		return err
	}
	for _, r := range s.readDetails(ctx, s.detailsToRead(eps, aors, full)) {
		s.pres.SetDetails(r.ref, r.d, nil)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := a.now()
	snap := s.pres.Snapshot(eps, aors, now)
	s.pres.SetRegistrations(a.outboundRegistrations(ctx, s.pres), now)
	for i := range snap.Gateways {
		snap.Gateways[i].Registration = s.pres.gateways[snap.Gateways[i].Name].Registration
	}
	snap.Calls = s.calls.Live()
	s.feed.Replace(snap)
	return nil
}

// readAORs reads the contacts of the online accounts' AORs (named as
// their endpoint, as Switchboard pushes them): all of them on a connect,
// only those no event named a contact for on a reconcile. An AOR that
// cannot be read is left out: its endpoint keeps what events said, or
// the placeholder contact.
func (s *session) readAORs(ctx context.Context, eps []Endpoint, all bool) (map[string][]string, error) {
	var ids []string
	for _, ep := range eps {
		if ep.State == "online" && strings.EqualFold(ep.Technology, "PJSIP") && !s.pres.isGateway(ep.Resource) &&
			(all || len(s.pres.contacts[ep.Resource]) == 0) {
			ids = append(ids, ep.Resource)
		}
	}
	out := make(map[string][]string, len(ids))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, aorConcurrency)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fs, err := s.a.config.Get(ctx, ObjectRef{Type: PJSIPAOR, ID: id})
			if err != nil {
				if !errors.Is(err, ErrConfigNotFound) && ctx.Err() == nil {
					s.a.log.Debug("asterisk: reading an AOR's contacts", "aor", id, "err", err)
				}
				return
			}
			mu.Lock()
			out[id] = aorContacts(fs)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out, ctx.Err()
}

// contactRead is the details of a contact as read over REST.
type contactRead struct {
	ref ContactRef
	d   ContactDetails
}

// detailsToRead lists the contacts of online accounts whose contact
// object is to be read: all on a connect; on a reconcile, those whose
// details are not known or whose registration expired since they were
// read (a refresh moves the expiry without an event).
func (s *session) detailsToRead(eps []Endpoint, aors map[string][]string, all bool) []ContactRef {
	now := s.a.now()
	var refs []ContactRef
	for _, ep := range eps {
		id := ep.Resource
		if ep.State != "online" || !strings.EqualFold(ep.Technology, "PJSIP") || s.pres.isGateway(id) {
			continue
		}
		uris, ok := aors[id]
		if !ok {
			for u := range s.pres.contacts[id] {
				uris = append(uris, u)
			}
		}
		for _, u := range uris {
			ref := ContactRef{Endpoint: id, URI: u}
			if all || !s.pres.HasDetails(ref, now) {
				refs = append(refs, ref)
			}
		}
	}
	return refs
}

// readDetails reads the contact objects of refs, aorConcurrency at a
// time. A contact that cannot be read (gone since, or a failure) is left
// out: its registration lacks the details until the next read.
func (s *session) readDetails(ctx context.Context, refs []ContactRef) []contactRead {
	out := make([]contactRead, 0, len(refs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, aorConcurrency)
	for _, ref := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d, ok := s.readContact(ctx, ref)
			if !ok {
				return
			}
			mu.Lock()
			out = append(out, contactRead{ref, d})
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func (s *session) readContact(ctx context.Context, ref ContactRef) (ContactDetails, bool) {
	fs, err := s.a.config.Get(ctx, ObjectRef{Type: PJSIPContact, ID: ContactID(ref.Endpoint, ref.URI)})
	if err != nil {
		if !errors.Is(err, ErrConfigNotFound) && ctx.Err() == nil {
			s.a.log.Debug("asterisk: reading a contact", "aor", ref.Endpoint, "uri", ref.URI, "err", err)
		}
		return ContactDetails{}, false
	}
	return parseContactDetails(fs), true
}

// read queues job for runReads; a full queue (or no connection) drops
// it: a contact's details are read again at the next reconcile, and a
// leg keeps the dialplan's codec.
func (s *session) read(job readJob) {
	select {
	case s.reads <- job:
	default:
	}
}

// readCodecs queues the read of the negotiated codec of each leg seen up
// since the last call: CHANNEL(audionativeformat) once up is the codec
// chosen, "(ulaw)"; the dialplan's VarCodec, set before the answer, is
// the set on offer, and a dialled leg runs no dialplan to set it.
func (s *session) readCodecs() {
	for _, id := range s.calls.TakeAnswered() {
		s.read(func(ctx context.Context) func() {
			v, err := s.a.rest.channelVar(ctx, id, "CHANNEL(audionativeformat)")
			if err != nil {
				if ctx.Err() == nil {
					s.a.log.Debug("asterisk: reading a leg's codec", "channel", id, "err", err)
				}
				return nil
			}
			return func() { s.calls.SetCodec(id, v) }
		})
	}
}

// runReads makes the reads queued, one at a time, each bounded by
// RequestTimeout, and hands what to apply to the event loop through out.
func (s *session) runReads(ctx context.Context, out chan<- func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-s.reads:
			rctx, cancel := context.WithTimeout(ctx, s.a.cfg.RequestTimeout)
			apply := job(rctx)
			cancel()
			if apply == nil {
				continue
			}
			select {
			case out <- apply:
			case <-ctx.Done():
				return
			}
		}
	}
}

// outboundRegistrations reads res_prometheus; nil (all unknown) when it is
// disabled, off or failing.
func (a *Adapter) outboundRegistrations(ctx context.Context, p *Presence) map[string]presence.RegistrationState {
	if a.cfg.MetricsURL == "-" {
		return nil
	}
	text, err := a.rest.metrics(ctx, a.cfg.MetricsURL)
	if err != nil {
		if !errors.Is(err, errMetricsOff) {
			a.log.Debug("asterisk: reading res_prometheus", "err", err)
		}
		return nil
	}
	regs, err := ParseOutboundRegistrations(text)
	if err != nil {
		a.log.Warn("asterisk: res_prometheus", "err", err)
		return nil
	}
	return registrationsByGateway(regs, a.cfg.RegistrationGateway, p.GatewayHosts())
}

// enqueue queues CDRs for StreamCDRs.
func (a *Adapter) enqueue(recs []cdr.Record) { a.outbox.Add(recs, nil) }

// Pending returns how many CDRs wait for a sink.
func (a *Adapter) Pending() int { return a.outbox.Pending() }

// StreamCDRs hands the CDRs of finished legs to sink until ctx ends, then
// returns nil. A refused Put is retried with backoff, never dropped; what
// is not yet accepted when ctx ends stays queued for the next StreamCDRs.
// CDRs are produced only while WatchPresence runs.
func (a *Adapter) StreamCDRs(ctx context.Context, sink cdr.Sink) error {
	return a.outbox.Stream(ctx, sink, a.log)
}

// readChannels reads, for each channel a resync sees for the first time
// (Switchboard restarted mid-call), what its JSON lacks: its linkedid
// (CHANNEL(linkedid): a dialled leg carries its caller's), its start as
// Asterisk's CDR engine dates it (CDR(start,u), which Master.csv and CEL
// also use, and which can be later than creationtime: 1.2 s was seen
// live in a burst) and, when it is Up, its answer time (CDR(answer,u));
// both to the microsecond, from the channel's own CDR object, which
// answers on both legs (seen on 23.4.1). None is taken from the local
// clock. A read that fails leaves the field as it was: Calls then falls
// back to what it can see (the leg's own id, creationtime, the resync
// time).
func (s *session) readChannels(ctx context.Context, chs []Channel) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, aorConcurrency)
	for _, i := range s.calls.Unseen(chs) {
		ch := &chs[i]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if v, err := s.a.rest.channelVar(ctx, ch.ID, "CHANNEL(linkedid)"); err == nil {
				ch.LinkedID = strings.TrimSpace(v)
			} else if ctx.Err() == nil {
				s.a.log.Debug("asterisk: reading a channel's linkedid", "channel", ch.ID, "err", err)
			}
			v, err := s.a.rest.channelVar(ctx, ch.ID, "CDR(start,u)")
			var start time.Time
			if err == nil {
				start, err = parseCDRTime(v)
			}
			switch {
			case err == nil && !start.IsZero():
				ch.CreationTime = start
			case err != nil && ctx.Err() == nil:
				s.a.log.Debug("asterisk: reading a channel's start", "channel", ch.ID, "err", err)
			}
			if !strings.EqualFold(ch.State, "Up") {
				return
			}
			v, err = s.a.rest.channelVar(ctx, ch.ID, "CDR(answer,u)")
			if err == nil {
				ch.AnswerTime, err = parseCDRTime(v)
			}
			if err != nil && ctx.Err() == nil {
				s.a.log.Debug("asterisk: reading a channel's answer time", "channel", ch.ID, "err", err)
			}
		})
	}
	wg.Wait()
}

// parseCDRTime reads CDR(answer,u) or CDR(start,u): "<epoch>.<µs>"; ""
// or an epoch of 0 when the CDR has no such time (not answered).
func parseCDRTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.Trim(v, "0.") == "" {
		return time.Time{}, nil
	}
	t, err := parseCELTime(v, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("CDR time %q: %w", v, err)
	}
	return t, nil
}
