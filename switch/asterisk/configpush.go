package asterisk

// Configuration push: provisioning changes become PJSIP objects through
// ARI's dynamic configuration, /ari/asterisk/config/dynamic/res_pjsip/{type}/{id}.
//
// The REST calls are made with net/http rather than ari/v6's
// Asterisk().Config(): that client takes no context (no deadline, no
// cancellation on shutdown), needs a connected native client (a
// websocket) to exist, decodes a GET's error body as the object and so
// reports a 404 as a decoding failure, and drops Asterisk's message from
// 400 and 403 answers, which is the only way to tell the cases apart.
//
// Ownership. Switchboard updates and deletes only objects it created. It
// cannot mark them in their id (see pjsip.go), and ARI lists no config
// objects, so the ids it created are recorded in an Ownership store. An
// object that exists on Asterisk but is not in the store (pjsip.conf,
// another tool) is never overwritten: the pusher reports a conflict and
// leaves it. Asterisk itself refuses to change pjsip.conf objects with
// 403; that is a conflict too. A conflict is the operator's to resolve,
// not a failure that retrying could fix: it is logged at WARN once, when
// it is first seen, kept as the object's state (States), and left out of
// the errors Reconcile and Flush return and of MetricPushFailures, so
// that a reconnect does not report it again.
//
// Observed gateways (provisioning.Gateway.Observed) are the operator's
// trunks: the pusher writes nothing for them and deletes nothing of
// their name. Objects of that name Switchboard owned (the gateway was
// managed before) are handed over: forgotten, left on the node.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/provisioning"
)

var _ provisioning.ConfigSink = (*ConfigPusher)(nil)

// Errors of the configuration client; callers test them with errors.Is.
var (
	// ErrConfigNotFound: Asterisk has no such object (404).
	ErrConfigNotFound = errors.New("asterisk: config object not found")
	// ErrConfigForbidden: Asterisk refused to change or delete the object
	// (403), which it does for objects that come from pjsip.conf.
	ErrConfigForbidden = errors.New("asterisk: config object is static (pjsip.conf)")
	// ErrConfigRejected: Asterisk refused the fields (400).
	ErrConfigRejected = errors.New("asterisk: config fields rejected")
	// ErrConfigConflict: the object exists on Asterisk and Switchboard did
	// not create it, so it is left alone.
	ErrConfigConflict = errors.New("asterisk: config object exists and is not Switchboard's")
)

// GatewayNotAppliedError is a gateway that could not be pushed whole: one
// of its objects failed, so the pusher removed the gateway's objects from
// the node rather than leave half a gateway there (an endpoint and
// identify without the registration that makes the carrier send calls,
// say). Err holds the failure and any failure to remove.
type GatewayNotAppliedError struct {
	Gateway string      // the gateway's name, which its objects' ids are
	Removed []ObjectRef // what was (or was tried to be) removed
	Err     error
}

func (e *GatewayNotAppliedError) Error() string {
	return fmt.Sprintf("asterisk: gateway %s not applied (its objects were removed from the node): %v", e.Gateway, e.Err)
}

func (e *GatewayNotAppliedError) Unwrap() error { return e.Err }

// MetricPushFailures counts the accounts and gateways (label kind) whose
// push to a node (label switch) failed; see ConfigPusher.Collector.
const MetricPushFailures = "switchboard_config_push_failures_total"

// ConfigError is a refused configuration request: the method, the object,
// Asterisk's status and message, and for a 400 the attributes that
// Asterisk 23 does not have (Asterisk's message names none).
type ConfigError struct {
	Method  string
	Ref     ObjectRef
	Status  int
	Message string
	// Sent lists the attributes sent with a refused PUT.
	Sent []string
	// Unknown lists the sent attributes Asterisk 23 does not have.
	Unknown []string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "asterisk: %s res_pjsip/%s: %d", e.Method, e.Ref, e.Status)
	if e.Message != "" {
		fmt.Fprintf(&b, " %q", e.Message)
	}
	if len(e.Unknown) > 0 {
		fmt.Fprintf(&b, "; unknown attribute(s): %s", strings.Join(e.Unknown, ", "))
	} else if len(e.Sent) > 0 {
		fmt.Fprintf(&b, "; an invalid value in: %s", strings.Join(e.Sent, ", "))
	}
	return b.String()
}

// Unwrap maps the status onto the package's sentinel errors.
func (e *ConfigError) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return ErrConfigNotFound
	case http.StatusForbidden:
		return ErrConfigForbidden
	case http.StatusBadRequest:
		return ErrConfigRejected
	}
	return nil
}

// ConfigClient speaks ARI's dynamic configuration for res_pjsip.
type ConfigClient struct {
	base     string // ".../ari"
	user     string
	password string
	hc       *http.Client
}

// NewConfigClient returns a client for the ARI at baseURL (the URL ending
// in /ari, e.g. http://127.0.0.1:8088/ari). hc nil means a client with a
// 10 s timeout and a transport of its own; deadlines should come from the
// caller's context anyway. A request that fails in transport drops hc's
// idle connections (see do), so hc should not be shared with other nodes.
func NewConfigClient(baseURL, user, password string, hc *http.Client) *ConfigClient {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &ConfigClient{base: strings.TrimRight(baseURL, "/"), user: user, password: password, hc: hc}
}

func (c *ConfigClient) url(ref ObjectRef) string {
	return c.base + "/asterisk/config/dynamic/res_pjsip/" + url.PathEscape(string(ref.Type)) + "/" + url.PathEscape(ref.ID)
}

// Get returns every attribute of the object; ErrConfigNotFound if there is
// none.
func (c *ConfigClient) Get(ctx context.Context, ref ObjectRef) ([]Field, error) {
	var fs []Field
	err := c.do(ctx, http.MethodGet, ref, nil, &fs)
	return fs, err
}

// Put creates or updates the object with the given fields and returns the
// object as Asterisk now holds it.
func (c *ConfigClient) Put(ctx context.Context, ref ObjectRef, fields []Field) ([]Field, error) {
	var out []Field
	err := c.do(ctx, http.MethodPut, ref, fields, &out)
	return out, err
}

// Delete removes the object. An object already gone is not an error.
func (c *ConfigClient) Delete(ctx context.Context, ref ObjectRef) error {
	err := c.do(ctx, http.MethodDelete, ref, nil, nil)
	if errors.Is(err, ErrConfigNotFound) {
		return nil
	}
	return err
}

// marshalPutBody renders the PUT body Asterisk takes,
// {"fields":[{"attribute":…,"value":…}]} (ari/v6's ConfigTupleList),
// without Go's HTML escaping, so that a caller ID reads "Dave" <2001> as
// in the body Asterisk accepted.
func marshalPutBody(fields []Field) ([]byte, error) {
	tuples := make([]ari.ConfigTuple, len(fields))
	for i, f := range fields {
		tuples[i] = ari.ConfigTuple(f)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ari.ConfigTupleList{Fields: tuples}); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func (c *ConfigClient) do(ctx context.Context, method string, ref ObjectRef, fields []Field, out *[]Field) error {
	var body io.Reader
	if method == http.MethodPut {
		b, err := marshalPutBody(fields)
		if err != nil {
			return fmt.Errorf("asterisk: %s res_pjsip/%s: %w", method, ref, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(ref), body)
	if err != nil {
		return fmt.Errorf("asterisk: %s res_pjsip/%s: %w", method, ref, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// A node that went silent leaves its kept-alive connections dead
		// (seen live): each would cost the next requests a whole timeout.
		c.hc.CloseIdleConnections()
		return fmt.Errorf("asterisk: %s res_pjsip/%s: %w", method, ref, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("asterisk: %s res_pjsip/%s: reading the answer: %w", method, ref, err)
	}
	if resp.StatusCode/100 != 2 {
		ce := &ConfigError{Method: method, Ref: ref, Status: resp.StatusCode}
		var msg struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &msg) == nil {
			ce.Message = msg.Message
		}
		if resp.StatusCode == http.StatusBadRequest {
			for _, f := range fields {
				ce.Sent = append(ce.Sent, f.Attribute)
			}
			ce.Unknown = unknownAttributes(ref.Type, fields)
		}
		return ce
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("asterisk: %s res_pjsip/%s: decoding the answer: %w", method, ref, err)
		}
	}
	return nil
}

// configAPI is what the pusher needs of the client; tests may fake it.
type configAPI interface {
	Get(ctx context.Context, ref ObjectRef) ([]Field, error)
	Put(ctx context.Context, ref ObjectRef, fields []Field) ([]Field, error)
	Delete(ctx context.Context, ref ObjectRef) error
}

// Ownership records which PJSIP objects Switchboard created on a node, so
// that it deletes only those. It must survive restarts for deletions made
// while Switchboard was down to reach Asterisk; MemoryOwnership does not.
type Ownership interface {
	Owned(ctx context.Context) ([]ObjectRef, error)
	Own(ctx context.Context, ref ObjectRef) error
	Disown(ctx context.Context, ref ObjectRef) error
}

// MemoryOwnership is an Ownership kept in memory, for tests and for nodes
// whose Asterisk keeps dynamic objects in memory only (sorcery "memory"
// wizard): both forget on restart.
type MemoryOwnership struct {
	mu   sync.Mutex
	refs map[ObjectRef]struct{}
}

// Owned returns the owned refs.
func (m *MemoryOwnership) Owned(context.Context) ([]ObjectRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ObjectRef, 0, len(m.refs))
	for r := range m.refs {
		out = append(out, r)
	}
	return out, nil
}

// Own records ref as Switchboard's.
func (m *MemoryOwnership) Own(_ context.Context, ref ObjectRef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refs == nil {
		m.refs = make(map[ObjectRef]struct{})
	}
	m.refs[ref] = struct{}{}
	return nil
}

// Disown forgets ref.
func (m *MemoryOwnership) Disown(_ context.Context, ref ObjectRef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.refs, ref)
	return nil
}

// ConfigPusher keeps one Asterisk node's PJSIP objects equal to
// provisioning. Apply queues changes (never blocks) for Run's worker;
// Reconcile brings the whole node in line, at start and after every
// reconnect.
type ConfigPusher struct {
	api   configAPI
	opts  PushOptions
	owned Ownership
	log   *slog.Logger
	// endpointDeleted is PusherConfig.EndpointDeleted.
	endpointDeleted func(id string)
	// Concurrency is how many accounts/gateways Reconcile pushes at once.
	concurrency int

	opMu sync.Mutex // one Reconcile or queued batch at a time

	mu      sync.Mutex
	applied map[ObjectRef][]Field  // fields Asterisk is known to hold
	foreign map[ObjectRef]bool     // objects known to be someone else's
	sources map[string][]ObjectRef // "account:ID" → the objects it produced
	pending map[string]provisioning.Change
	order   []string
	// mwiStale: an endpoint's mailboxes changed since res_pjsip_mwi was
	// last reloaded (reloadMWI).
	mwiStale bool
	// accounts are the accounts last pushed, for a push again when
	// their mailboxes (PushOptions.Mailboxes) may have changed.
	accounts map[int64]*provisioning.Account
	wake     chan struct{}
	lastErr  error

	failures   *prometheus.CounterVec // MetricPushFailures, by kind
	states     map[ObjectRef]ObjectState
	switchName string // PusherConfig.Switch
}

// PusherConfig configures a ConfigPusher.
type PusherConfig struct {
	Client      *ConfigClient
	Options     PushOptions
	Ownership   Ownership    // nil: a MemoryOwnership
	Logger      *slog.Logger // nil: slog.Default()
	Concurrency int          // 0: 8
	// Switch is the node's name: the switch label of the pusher's
	// metrics.
	Switch string
	// EndpointDeleted, if set, is called with the id of every endpoint
	// the pusher deleted from the node. Asterisk drops the contacts of a
	// deleted account without telling ARI clients, so the daemon tells
	// the node's adapter here (Adapter.EndpointDeleted).
	EndpointDeleted func(id string)
}

// NewConfigPusher returns a pusher; it starts nothing: call Run.
func NewConfigPusher(cfg PusherConfig) *ConfigPusher {
	return newConfigPusher(cfg.Client, cfg)
}

func newConfigPusher(api configAPI, cfg PusherConfig) *ConfigPusher {
	p := &ConfigPusher{
		api:             api,
		opts:            cfg.Options,
		owned:           cfg.Ownership,
		log:             cfg.Logger,
		concurrency:     cfg.Concurrency,
		endpointDeleted: cfg.EndpointDeleted,
		applied:         make(map[ObjectRef][]Field),
		foreign:         make(map[ObjectRef]bool),
		sources:         make(map[string][]ObjectRef),
		pending:         make(map[string]provisioning.Change),
		accounts:        make(map[int64]*provisioning.Account),
		wake:            make(chan struct{}, 1),
		states:          make(map[ObjectRef]ObjectState),
		switchName:      cfg.Switch,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        MetricPushFailures,
			Help:        "Accounts and gateways whose push of PJSIP objects to the switch failed (each attempt counts once; a conflict with an object that is not Switchboard's is a state, not a failure).",
			ConstLabels: prometheus.Labels{"switch": cfg.Switch},
		}, []string{"kind"}),
	}
	// Both series exist from the start, so that a rate() sees the first
	// failure.
	p.failures.WithLabelValues(kindAccount)
	p.failures.WithLabelValues(kindGateway)
	if p.owned == nil {
		p.owned = &MemoryOwnership{}
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.concurrency <= 0 {
		p.concurrency = 8
	}
	return p
}

// Collector exports MetricPushFailures and MetricPushStates for this
// pusher's node. The daemon registers it with its registry next to the
// node's other collectors; pushers of several nodes can share one
// registry (their switch labels differ).
func (p *ConfigPusher) Collector() prometheus.Collector {
	return pusherCollector{p: p, states: prometheus.NewDesc(MetricPushStates,
		"Accounts and gateways on the switch by push state: applied, pending, failed, not_applied (part of a gateway failed, so none of it was left), conflict (an object of that name is not Switchboard's).",
		[]string{"kind", "state"}, prometheus.Labels{"switch": p.switchName})}
}

// The kinds of source a pusher pushes: the prefix of a source key and the
// kind label of MetricPushFailures.
const (
	kindAccount = "account"
	kindGateway = "gateway"
)

func sourceKey(c provisioning.Change) string {
	switch {
	case c.Account != nil:
		return kindAccount + ":" + strconv.FormatInt(c.Account.ID, 10)
	case c.Gateway != nil:
		return kindGateway + ":" + strconv.FormatInt(c.Gateway.ID, 10)
	}
	return ""
}

// Apply queues an account or gateway change for Run and returns at once.
// Changes to one object coalesce: only the latest is pushed. DIDs are not
// PJSIP objects and are ignored here.
func (p *ConfigPusher) Apply(_ context.Context, c provisioning.Change) error {
	if p.mailboxesMove(c) {
		return nil
	}
	key := sourceKey(c)
	if key == "" {
		return nil
	}
	p.mu.Lock()
	p.queueLocked(key, c)
	// Known from the moment it is queued: a box given meanwhile must
	// find it (its push may be under way with the mailboxes of before).
	if c.Account != nil {
		if c.Op == provisioning.OpDelete {
			delete(p.accounts, c.Account.ID)
		} else {
			p.accounts[c.Account.ID] = c.Account
		}
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

func (p *ConfigPusher) queueLocked(key string, c provisioning.Change) {
	if _, ok := p.pending[key]; !ok {
		p.order = append(p.order, key)
	}
	p.pending[key] = c
}

// mailboxesMove queues the tenant's accounts again after a change of a
// voicemail box or an extension (which may make an account a box's
// owner or no longer) on a node with Mailboxes; it reports whether c was
// such a change.
func (p *ConfigPusher) mailboxesMove(c provisioning.Change) bool {
	r := c.Routing
	if p.opts.Mailboxes == nil || r == nil || r.Kind != provisioning.KindVoicemail && r.Kind != provisioning.KindExtension {
		return false
	}
	p.mu.Lock()
	n := 0
	for _, a := range p.accounts {
		if a.TenantID == r.TenantID {
			p.queueLocked(sourceKey(provisioning.Change{Account: a}), provisioning.Change{Op: provisioning.OpUpsert, Account: a})
			n++
		}
	}
	p.mu.Unlock()
	if n > 0 {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// Run pushes queued changes until ctx ends. A change that fails is logged
// and left to the next Reconcile: the store is the source of truth.
func (p *ConfigPusher) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		}
		p.Flush(ctx)
	}
}

// Flush pushes every queued change now and returns when done.
func (p *ConfigPusher) Flush(ctx context.Context) {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	for ctx.Err() == nil {
		p.mu.Lock()
		if len(p.order) == 0 {
			p.mu.Unlock()
			p.reloadMWI(ctx)
			return
		}
		key := p.order[0]
		p.order = p.order[1:]
		c := p.pending[key]
		delete(p.pending, key)
		p.mu.Unlock()
		if err := p.pushChange(ctx, key, c); err != nil && !onlyConflicts(err) {
			p.setErr(err)
			var gna *GatewayNotAppliedError
			if !errors.As(err, &gna) { // that one was logged when it happened
				p.log.Error("asterisk: config push failed", "object", key, "err", err)
			}
		}
	}
}

// LastError returns the latest push failure (nil after a clean Reconcile).
func (p *ConfigPusher) LastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

func (p *ConfigPusher) setErr(err error) {
	p.mu.Lock()
	p.lastErr = err
	p.mu.Unlock()
}

// Invalidate forgets what Asterisk is known to hold, so that the next
// Reconcile reads every object back. Call it after a reconnect: Asterisk
// may have restarted and lost its in-memory objects.
func (p *ConfigPusher) Invalidate() {
	p.mu.Lock()
	p.applied = make(map[ObjectRef][]Field)
	p.foreign = make(map[ObjectRef]bool)
	p.mu.Unlock()
}

func (p *ConfigPusher) pushChange(ctx context.Context, key string, c provisioning.Change) error {
	if c.Gateway != nil && c.Gateway.Observed {
		return p.observe(ctx, key, c.Gateway)
	}
	var want []PJSIPObject
	if c.Op == provisioning.OpUpsert {
		var err error
		if c.Account != nil {
			want, err = AccountObjects(p.opts, c.Account)
		} else {
			want, err = GatewayObjects(p.opts, c.Gateway)
		}
		if err != nil {
			return err
		}
	}
	owned, err := p.ownedSet(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	prev := p.sources[key]
	p.mu.Unlock()
	if c.Op == provisioning.OpDelete && prev == nil {
		// Not seen since start: delete what the object maps to.
		if c.Account != nil {
			prev = refsOf(AccountObjects(p.opts, c.Account))
		} else {
			prev = refsOf(GatewayObjects(p.opts, c.Gateway))
		}
	}
	err = p.pushUnit(ctx, key, want, owned)
	var stale []ObjectRef
	for _, r := range prev {
		if !slices.ContainsFunc(want, func(o PJSIPObject) bool { return o.Ref == r }) {
			stale = append(stale, r)
		}
	}
	err = errors.Join(err, p.deleteOwned(ctx, stale, owned))
	p.mu.Lock()
	if c.Op == provisioning.OpDelete {
		delete(p.sources, key)
	} else {
		p.sources[key] = refsOf(want, nil)
	}
	p.mu.Unlock()
	return err
}

// observe handles a change of an observed gateway (its creation, update
// or deletion alike): nothing is written to the node or deleted from it;
// what Switchboard owned under the gateway's name, or under the name it
// had while managed, is handed over.
func (p *ConfigPusher) observe(ctx context.Context, key string, g *provisioning.Gateway) error {
	owned, err := p.ownedSet(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	refs := slices.Concat(p.sources[key], gatewayRefs(g.Name))
	delete(p.sources, key)
	p.mu.Unlock()
	return p.release(ctx, refs, owned)
}

// gatewayRefs are the ids a gateway called name has on a node, of every
// type GatewayObjects makes.
func gatewayRefs(name string) []ObjectRef {
	return []ObjectRef{{PJSIPAuth, name}, {PJSIPAOR, name}, {PJSIPEndpoint, name}, {PJSIPIdentify, name}, {PJSIPRegistration, name}}
}

// release forgets refs without touching the node: their ownership, what
// they were known to hold and their state. owned is read-only here.
func (p *ConfigPusher) release(ctx context.Context, refs []ObjectRef, owned map[ObjectRef]bool) error {
	var errs []error
	for _, r := range refs {
		p.mu.Lock()
		delete(p.applied, r)
		delete(p.states, r)
		delete(p.foreign, r)
		p.mu.Unlock()
		if !owned[r] {
			continue
		}
		p.log.Info("asterisk: PJSIP object handed over to the operator (its gateway is observed); left on the node", "object", r.String())
		if err := p.owned.Disown(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("asterisk: forgetting ownership of %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}

// onlyConflicts reports whether err is made of conflicts alone (objects
// that are not Switchboard's), which are reported through States and
// logged once, not returned as failures.
func onlyConflicts(err error) bool {
	if err == nil {
		return false
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !onlyConflicts(e) {
				return false
			}
		}
		return true
	}
	var gna *GatewayNotAppliedError
	if errors.As(err, &gna) {
		return onlyConflicts(gna.Err)
	}
	return errors.Is(err, ErrConfigConflict) || errors.Is(err, ErrConfigForbidden)
}

func refsOf(objs []PJSIPObject, err error) []ObjectRef {
	if err != nil {
		return nil
	}
	out := make([]ObjectRef, len(objs))
	for i, o := range objs {
		out[i] = o.Ref
	}
	return out
}

func (p *ConfigPusher) ownedSet(ctx context.Context) (map[ObjectRef]bool, error) {
	refs, err := p.owned.Owned(ctx)
	if err != nil {
		return nil, fmt.Errorf("asterisk: reading owned objects: %w", err)
	}
	m := make(map[ObjectRef]bool, len(refs))
	for _, r := range refs {
		m[r] = true
	}
	return m, nil
}

// pushUnit pushes the objects of the account or gateway key and counts a
// failure in MetricPushFailures. A gateway is applied whole or not at
// all: when one of its objects fails, every object of it that
// Switchboard owns (written in this attempt or before) is deleted again,
// the failure is logged at ERROR here, once, and returned as a
// *GatewayNotAppliedError. An account is left as it is: the next
// Reconcile completes it. owned is read-only here.
func (p *ConfigPusher) pushUnit(ctx context.Context, key string, objs []PJSIPObject, owned map[ObjectRef]bool) error {
	tried, err := p.pushSource(ctx, objs, owned)
	if err == nil {
		return nil
	}
	conflict := onlyConflicts(err)
	kind, _, _ := strings.Cut(key, ":")
	if !conflict {
		p.failures.WithLabelValues(kind).Inc()
	}
	if kind != kindGateway || len(objs) == 0 {
		return err
	}
	mine := make(map[ObjectRef]bool, len(objs))
	var refs []ObjectRef
	for _, o := range objs {
		if owned[o.Ref] || slices.Contains(tried, o.Ref) {
			mine[o.Ref] = true
			refs = append(refs, o.Ref)
		}
	}
	gna := &GatewayNotAppliedError{Gateway: objs[0].Ref.ID, Removed: refs, Err: err}
	p.mu.Lock()
	prev := make(map[ObjectRef]ObjectState, len(objs))
	for _, o := range objs {
		prev[o.Ref] = p.states[o.Ref]
	}
	p.mu.Unlock()
	if derr := p.deleteOwned(ctx, refs, mine); derr != nil {
		gna.Err = errors.Join(err, fmt.Errorf("asterisk: removing the rest of gateway %s: %w", gna.Gateway, derr))
	}
	p.mu.Lock()
	for _, o := range objs {
		// The object that failed keeps its own answer.
		if st := prev[o.Ref]; st.State == StateFailed || st.State == StateConflict {
			p.states[o.Ref] = st
		} else {
			p.setStateLocked(o.Ref, StateNotApplied, gna.Err)
		}
	}
	p.mu.Unlock()
	removed := make([]string, len(refs))
	for i, r := range refs {
		removed[i] = r.String()
	}
	if conflict { // logged once, when the conflict was seen
		if len(refs) > 0 {
			p.log.Warn("asterisk: gateway not applied (a conflict); its objects were removed from the node",
				"gateway", gna.Gateway, "removed", strings.Join(removed, " "), "err", gna.Err)
		}
		return gna
	}
	p.log.Error("asterisk: gateway not applied; its objects were removed from the node",
		"gateway", gna.Gateway, "removed", strings.Join(removed, " "), "err", gna.Err)
	return gna
}

// pushSource brings the objects of one account or gateway, in creation
// order, onto Asterisk, and returns the refs it wrote or tried to (a
// refused PUT leaves the ref recorded as owned). It first reads
// back every object it does not know the state of; if any of them exists
// and is not Switchboard's, it writes none of them, so a clash leaves no
// half-made account. owned is read-only here.
func (p *ConfigPusher) pushSource(ctx context.Context, objs []PJSIPObject, owned map[ObjectRef]bool) (tried []ObjectRef, err error) {
	p.mu.Lock()
	for _, o := range objs {
		if p.foreign[o.Ref] {
			p.mu.Unlock()
			return nil, fmt.Errorf("%w: res_pjsip/%s", ErrConfigConflict, o.Ref)
		}
	}
	p.mu.Unlock()
	var todo []PJSIPObject
	for _, o := range objs {
		p.mu.Lock()
		cached, known := p.applied[o.Ref]
		p.mu.Unlock()
		if known {
			if !slices.Equal(cached, o.Fields) {
				todo = append(todo, o)
			}
			continue
		}
		got, err := p.api.Get(ctx, o.Ref)
		switch {
		case errors.Is(err, ErrConfigNotFound):
			todo = append(todo, o)
		case err != nil:
			p.setState(o.Ref, StateFailed, err)
			return nil, err
		case !owned[o.Ref]:
			if p.markForeign(o.Ref) {
				p.log.Warn("asterisk: PJSIP object exists and is not Switchboard's (pjsip.conf or another tool); left alone: "+
					"rename one of them, or declare the gateway observed (managed false)", "object", o.Ref.String())
			}
			return nil, fmt.Errorf("%w: res_pjsip/%s", ErrConfigConflict, o.Ref)
		case sameFields(o.Fields, got):
			p.remember(o)
		default:
			todo = append(todo, o)
		}
	}
	var errs []error
	for _, o := range todo {
		err := p.putObject(ctx, o, owned[o.Ref])
		if errors.Is(err, ErrConfigForbidden) {
			errs = append(errs, err) // putObject disowned it
			continue
		}
		tried = append(tried, o.Ref)
		if err != nil {
			errs = append(errs, err)
			break // the later objects name this one
		}
	}
	return tried, errors.Join(errs...)
}

func (p *ConfigPusher) putObject(ctx context.Context, o PJSIPObject, owned bool) error {
	if !owned {
		// Record before creating: a crash between the two leaves an
		// owned id with no object, which a delete treats as gone.
		if err := p.owned.Own(ctx, o.Ref); err != nil {
			return fmt.Errorf("asterisk: recording ownership of %s: %w", o.Ref, err)
		}
	}
	if _, err := p.api.Put(ctx, o.Ref, o.Fields); err != nil {
		if !errors.Is(err, ErrConfigForbidden) {
			p.setState(o.Ref, StateFailed, err)
		} else {
			if p.markForeign(o.Ref) {
				p.log.Warn("asterisk: PJSIP object is static (pjsip.conf); skipped", "object", o.Ref.String())
			}
			if derr := p.owned.Disown(ctx, o.Ref); derr != nil {
				err = errors.Join(err, derr)
			}
		}
		return err
	}
	p.remember(o)
	return nil
}

// PushState is what the pusher last saw of one PJSIP object on its node.
type PushState string

// The states of ObjectState.
const (
	// StateApplied: Asterisk holds the object as Switchboard wants it.
	StateApplied PushState = "applied"
	// StateFailed: Asterisk refused the object or could not be reached.
	StateFailed PushState = "failed"
	// StateNotApplied: another object of the same gateway failed, so
	// this one was removed again (a gateway is applied whole or not).
	StateNotApplied PushState = "not_applied"
	// StateConflict: an object of that id exists on Asterisk and is not
	// Switchboard's (pjsip.conf, another tool); it was left alone.
	StateConflict PushState = "conflict"
)

// ObjectState is one object's push state on the pusher's node, for the
// API to show per switch. Error is Asterisk's answer (never a secret:
// ConfigError carries attribute names, not values).
type ObjectState struct {
	Ref   ObjectRef
	State PushState
	Error string
	Since time.Time // when the state last changed
}

// States returns the push state of every object the pusher has tried to
// put on its node since start, sorted by id and creation order; objects
// it deleted on purpose are not listed.
func (p *ConfigPusher) States() []ObjectState {
	p.mu.Lock()
	out := make([]ObjectState, 0, len(p.states))
	for _, st := range p.states {
		out = append(out, st)
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b ObjectState) int {
		if c := strings.Compare(a.Ref.ID, b.Ref.ID); c != 0 {
			return c
		}
		return typeRank(a.Ref.Type) - typeRank(b.Ref.Type)
	})
	return out
}

func (p *ConfigPusher) setState(ref ObjectRef, st PushState, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setStateLocked(ref, st, err)
}

// setStateLocked records ref's state and reports whether it changed.
func (p *ConfigPusher) setStateLocked(ref ObjectRef, st PushState, err error) bool {
	s := ObjectState{Ref: ref, State: st}
	if err != nil {
		s.Error = err.Error()
	}
	if old, ok := p.states[ref]; ok && old.State == s.State && old.Error == s.Error {
		return false
	}
	s.Since = time.Now()
	p.states[ref] = s
	return true
}

// markForeign remembers, until Invalidate, that ref is not Switchboard's,
// so that later pushes report the clash without asking Asterisk again,
// and reports whether the conflict is news (the state was another), so
// that it is logged once rather than on every reconnect.
func (p *ConfigPusher) markForeign(ref ObjectRef) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.foreign[ref] = true
	return p.setStateLocked(ref, StateConflict, nil)
}

func (p *ConfigPusher) remember(o PJSIPObject) {
	p.mu.Lock()
	if o.Ref.Type == PJSIPEndpoint && fieldValue(p.applied[o.Ref], "mailboxes") != fieldValue(o.Fields, "mailboxes") {
		p.mwiStale = true
	}
	p.applied[o.Ref] = slices.Clone(o.Fields)
	p.setStateLocked(o.Ref, StateApplied, nil)
	p.mu.Unlock()
}

// deleteOwned deletes, in reverse creation order, the refs Switchboard
// owns; the others are not touched.
func (p *ConfigPusher) deleteOwned(ctx context.Context, refs []ObjectRef, owned map[ObjectRef]bool) error {
	refs = slices.Clone(refs)
	slices.SortStableFunc(refs, func(a, b ObjectRef) int { return typeRank(b.Type) - typeRank(a.Type) })
	var errs []error
	for _, r := range refs {
		if !owned[r] {
			continue
		}
		err := p.api.Delete(ctx, r)
		if errors.Is(err, ErrConfigForbidden) {
			// 403 is a pjsip.conf object, or a delete that lost a race
			// with another delete of the object (ARI found it, then
			// sorcery found it gone: "Could not delete object", seen on
			// Asterisk 23.4.1): read it back to tell them apart.
			if _, gerr := p.api.Get(ctx, r); !errors.Is(gerr, ErrConfigNotFound) {
				p.log.Warn("asterisk: PJSIP object is static (pjsip.conf); not deleted", "object", r.String())
			}
			err = nil
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.mu.Lock()
		delete(p.applied, r)
		delete(p.states, r)
		p.mu.Unlock()
		if r.Type == PJSIPEndpoint && p.endpointDeleted != nil {
			p.endpointDeleted(r.ID)
		}
		if err := p.owned.Disown(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("asterisk: forgetting ownership of %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}

// Reconcile makes the node hold exactly the PJSIP objects of desired and
// gateways among those Switchboard owns: it creates what is missing,
// updates what differs, deletes what it owns and no longer wants, and
// never touches an object it did not create. Objects already known to be
// right cost no request, so a second Reconcile sends none. It returns
// every failure joined; one bad account does not stop the others.
func (p *ConfigPusher) Reconcile(ctx context.Context, desired []provisioning.Account, gateways []provisioning.Gateway) error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	return p.reconcile(ctx, desired, gateways)
}

// ReconcileFrom is Reconcile of what load returns, read while no change
// is being pushed. A desired state read before the lock would be stale
// by the time it is pushed if changes were pushed meanwhile: a delete
// made through the API just after a reconnect was pushed, then the
// reconnect's older list put the account back (seen live, the daemon
// restarted after an outage). Read under the lock, the list holds every
// change pushed before it, and every change after it is queued and
// pushed after the reconcile.
func (p *ConfigPusher) ReconcileFrom(ctx context.Context, load func(context.Context) ([]provisioning.Account, []provisioning.Gateway, error)) error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	desired, gateways, err := load(ctx)
	if err != nil {
		return fmt.Errorf("asterisk: reading the desired configuration: %w", err)
	}
	return p.reconcile(ctx, desired, gateways)
}

func (p *ConfigPusher) reconcile(ctx context.Context, desired []provisioning.Account, gateways []provisioning.Gateway) error {

	type unit struct {
		key  string
		objs []PJSIPObject
	}
	var units []unit
	var errs []error
	claimed := make(map[ObjectRef]string)
	add := func(key string, objs []PJSIPObject, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, o := range objs {
			if other, ok := claimed[o.Ref]; ok {
				errs = append(errs, fmt.Errorf("asterisk: res_pjsip/%s wanted by %s and %s; %s skipped", o.Ref, other, key, key))
				return
			}
		}
		for _, o := range objs {
			claimed[o.Ref] = key
		}
		units = append(units, unit{key, objs})
	}
	accounts := make(map[int64]*provisioning.Account, len(desired))
	for i := range desired {
		accounts[desired[i].ID] = &desired[i]
	}
	p.mu.Lock()
	for _, c := range p.pending { // queued after the desired list was read
		if c.Account != nil && c.Op == provisioning.OpUpsert {
			accounts[c.Account.ID] = c.Account
		}
	}
	p.accounts = accounts
	p.mu.Unlock()
	for i := range desired {
		a := &desired[i]
		objs, err := AccountObjects(p.opts, a)
		add(kindAccount+":"+strconv.FormatInt(a.ID, 10), objs, err)
	}
	observed := make(map[string]bool)
	for i := range gateways {
		g := &gateways[i]
		if g.Observed {
			observed[g.Name] = true
			continue
		}
		objs, err := GatewayObjects(p.opts, g)
		add(kindGateway+":"+strconv.FormatInt(g.ID, 10), objs, err)
	}

	owned, err := p.ownedSet(ctx)
	if err != nil {
		return err
	}

	// Push the units with bounded concurrency.
	work := make(chan unit)
	errc := make(chan error, p.concurrency)
	var wg sync.WaitGroup
	for range p.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []error
			for u := range work {
				if err := p.pushUnit(ctx, u.key, u.objs, owned); err != nil && !onlyConflicts(err) {
					local = append(local, err)
				}
			}
			errc <- errors.Join(local...)
		}()
	}
feed:
	for _, u := range units {
		select {
		case work <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errc)
	for e := range errc {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if ctx.Err() != nil {
		return errors.Join(append(errs, ctx.Err())...)
	}

	// The ids of observed gateways are the operator's: what Switchboard
	// owned or knew of them is forgotten, never deleted.
	var stale, handed []ObjectRef
	for name := range observed {
		for _, r := range gatewayRefs(name) {
			if _, ok := claimed[r]; !ok {
				handed = append(handed, r)
			}
		}
	}
	for r := range owned {
		if _, ok := claimed[r]; !ok && !slices.Contains(handed, r) {
			stale = append(stale, r)
		}
	}
	slices.SortFunc(stale, func(a, b ObjectRef) int { return strings.Compare(a.ID, b.ID) })
	errs = append(errs, p.release(ctx, handed, owned), p.deleteOwned(ctx, stale, owned))

	p.mu.Lock()
	p.sources = make(map[string][]ObjectRef, len(units))
	for _, u := range units {
		p.sources[u.key] = refsOf(u.objs, nil)
	}
	p.lastErr = errors.Join(errs...)
	p.mu.Unlock()
	p.reloadMWI(ctx)
	return errors.Join(errs...)
}

func fieldValue(fs []Field, name string) string {
	for _, f := range fs {
		if f.Attribute == name {
			return f.Value
		}
	}
	return ""
}

// moduleReloader is the part of ConfigClient that reloads a module.
type moduleReloader interface {
	ReloadModule(ctx context.Context, name string) error
}

// reloadMWI has res_pjsip_mwi rebuild its unsolicited subscriptions
// after an endpoint's mailboxes changed: it reads them only at its load
// and reload and when a phone registers (checked in res_pjsip_mwi.c of
// 23.4.1), so a box given to an already registered phone would stay
// dark until its next REGISTER. The reload subscribes every endpoint
// with mailboxes again and sends each phone its current state. Asterisk
// runs one module reload at a time (409 "Another reload is currently in
// progress"): a few tries, then the next change or reconcile tries
// again.
func (p *ConfigPusher) reloadMWI(ctx context.Context) {
	p.mu.Lock()
	stale := p.mwiStale
	p.mu.Unlock()
	r, ok := p.api.(moduleReloader)
	if !stale || !ok {
		return
	}
	var err error
	for try := range 5 {
		if err = r.ReloadModule(ctx, "res_pjsip_mwi"); err == nil {
			p.mu.Lock()
			p.mwiStale = false
			p.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(try+1) * 200 * time.Millisecond):
		}
	}
	p.log.Warn("asterisk: reloading res_pjsip_mwi after a change of mailboxes", "err", err)
}
