package sip

import (
	"cmp"
	"container/heap"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// Config configures a Prober. The zero value of every field has a working
// default.
type Config struct {
	Interval     time.Duration // default probe interval per target; 30 s when zero
	Timeout      time.Duration // one OPTIONS transaction; 5 s when zero (capped at Interval)
	Misses       int           // consecutive unanswered probes before unreachable; 3 when zero
	LagThreshold time.Duration // an answer slower than this is "lagged"; 0 = 1 s
	ListenAddr   string        // local IP for the sockets (one per transport), "" = 0.0.0.0, port chosen
	TLSConfig    *tls.Config   // client TLS for transport tls (nil = system roots)
	UserAgent    string        // "Switchboard" when empty
	Logger       *slog.Logger
	Now          func() time.Time
	OnChange     func(r Result) // called on every Status change (an "event"), never blocks the prober for long

	// OnRegisterResult is called after every synthetic registration check,
	// failed or not, on the check's own goroutine. Failures are also
	// logged at Warn and counted in
	// switchboard_sip_register_check_failures_total.
	OnRegisterResult func(RegisterResult)

	// MaxInFlight bounds the probes outstanding at once; 2000 when zero.
	// Probes that find no free slot wait, late, rather than burst. 10,000
	// targets every 30 s that all time out after 5 s need 1,667.
	MaxInFlight int
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = 30 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Misses <= 0 {
		c.Misses = 3
	}
	if c.LagThreshold <= 0 {
		c.LagThreshold = time.Second
	}
	if c.UserAgent == "" {
		c.UserAgent = "Switchboard"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 2000
	}
	return c
}

// Prober qualifies targets with OPTIONS and runs the synthetic registration
// checks. Create it with NewProber, give it targets with SetTargets (at any
// time) and start it with Run.
type Prober struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	entries  map[key]*entry
	infra    map[key]*entry // the gateways and switch listeners; WatchPresence publishes the gateways
	queue    probeQueue     // entries waiting for their next probe, by due time
	watchers map[chan struct{}]struct{}
	regs     map[string]*regEntry
	run      *runState // set while Run runs
	started  bool

	wake     chan struct{} // tells the scheduler the queue changed
	sem      chan struct{} // one token per probe in flight
	refusals refusals
}

type key struct {
	kind Kind
	name string
}

// entry is one target's state. Everything a probe changes is updated in
// place under Prober.mu.
type entry struct {
	res      Result
	spec     targetSpec
	specErr  error
	interval time.Duration
	phase    time.Duration
	due      time.Time // next probe, on the monotonic clock
	index    int       // position in queue; -1 while in flight or removed
	removed  bool
	version  uint64            // bumped by every probe; WatchPresence compares it
	conn     siplib.Connection // TCP/TLS connection of the last probe
}

// NewProber returns a Prober for cfg. It opens nothing: sockets are bound
// by Run.
func NewProber(cfg Config) (*Prober, error) {
	cfg = cfg.withDefaults()
	if cfg.ListenAddr != "" {
		if _, err := listenIP(cfg.ListenAddr); err != nil {
			return nil, err
		}
	}
	p := &Prober{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "sip"),
		entries:  map[key]*entry{},
		infra:    map[key]*entry{},
		watchers: map[chan struct{}]struct{}{},
		regs:     map[string]*regEntry{},
		wake:     make(chan struct{}, 1),
		sem:      make(chan struct{}, cfg.MaxInFlight),
	}
	p.refusals.m = map[netip.AddrPort]*refusal{}
	p.metrics = newMetrics(p)
	return p, nil
}

// interval is t's probe interval.
func (p *Prober) interval(t Target) time.Duration {
	if t.Interval > 0 {
		return t.Interval
	}
	return p.cfg.Interval
}

// timeout is one probe's timeout for a target probed every interval.
func (p *Prober) timeout(interval time.Duration) time.Duration {
	return min(p.cfg.Timeout, interval)
}

// SetTargets replaces the target set: new targets are phased across their
// interval (no burst), removed ones stop, kept ones keep their state and
// schedule. Safe at any time, before or during Run. Targets are identified
// by (Kind, Name); of two with the same identity the last wins. A kept
// target whose interval changed is re-phased on the new interval.
func (p *Prober) SetTargets(ts []Target) {
	now := time.Now()
	var closeConns []siplib.Connection
	p.mu.Lock()
	seen := make(map[key]struct{}, len(ts))
	for _, t := range ts {
		k := key{t.Kind, t.Name}
		seen[k] = struct{}{}
		iv := p.interval(t)
		e := p.entries[k]
		if e == nil {
			e = &entry{res: Result{Target: t, Status: StatusUnknown}, index: -1}
			e.spec, e.specErr = parseTarget(t.URI, t.Addr, t.Transport)
			e.interval, e.phase = iv, phase(k, iv)
			e.due = firstDue(now, iv, e.phase)
			p.entries[k] = e
			if t.Kind != KindContact {
				p.infra[k] = e
			}
			heap.Push(&p.queue, e)
			continue
		}
		if e.res.URI != t.URI || e.res.Addr != t.Addr || e.res.Transport != t.Transport {
			e.spec, e.specErr = parseTarget(t.URI, t.Addr, t.Transport)
		}
		e.res.Target = t
		if iv != e.interval {
			e.interval, e.phase = iv, phase(k, iv)
			if e.index >= 0 {
				e.due = firstDue(now, iv, e.phase)
				heap.Fix(&p.queue, e.index)
			}
		}
	}
	var kept map[siplib.Connection]bool
	for k, e := range p.entries {
		if _, ok := seen[k]; ok {
			continue
		}
		e.removed = true
		if e.index >= 0 {
			heap.Remove(&p.queue, e.index)
		}
		delete(p.entries, k)
		delete(p.infra, k)
		if e.conn == nil {
			continue
		}
		if kept == nil {
			kept = map[siplib.Connection]bool{}
			for _, o := range p.entries {
				if o.conn != nil {
					kept[o.conn] = true
				}
			}
		}
		if !kept[e.conn] {
			closeConns = append(closeConns, e.conn)
			kept[e.conn] = true // close once
		}
	}
	p.notifyWatchersLocked()
	p.mu.Unlock()
	// A connection no remaining target uses would otherwise stay open
	// until its peer closes it: with contacts coming and going, for ever.
	for _, c := range closeConns {
		closeStream(c)
	}
	p.poke()
}

// Results returns every target's result, sorted by Kind then Name.
func (p *Prober) Results() []Result {
	p.mu.Lock()
	out := make([]Result, 0, len(p.entries))
	for _, e := range p.entries {
		out = append(out, e.res)
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b Result) int {
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Name, b.Name))
	})
	return out
}

// Result returns one target's result.
func (p *Prober) Result(kind Kind, name string) (Result, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[key{kind, name}]
	if e == nil {
		return Result{}, false
	}
	return e.res, true
}

// poke wakes the scheduler to look at the queue again.
func (p *Prober) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// phase is k's fixed offset within an interval: spread uniformly by the
// hash, and the same after a restart or a SetTargets.
func phase(k key, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(k.kind))
	h.Write([]byte{0})
	h.Write([]byte(k.name))
	return time.Duration(h.Sum64() % uint64(interval))
}

// firstDue is the first time at or after now whose offset in the interval
// grid (counted from the Unix epoch) is phase.
func firstDue(now time.Time, interval, phase time.Duration) time.Time {
	off := time.Duration(now.UnixNano() % int64(interval))
	d := phase - off
	if d < 0 {
		d += interval
	}
	return now.Add(d)
}

// nextDue is the probe after one due at due that ended at now: one
// interval later, on the same grid. A probe that overran by more than an
// interval (the prober was starved) skips the slots it missed instead of
// catching up in a burst.
func nextDue(due, now time.Time, interval, phase time.Duration) time.Time {
	next := due.Add(interval)
	if next.Before(now.Add(-interval)) {
		return firstDue(now, interval, phase)
	}
	return next
}

// Run probes until ctx ends, then returns nil. It binds the UDP socket
// first and returns an error if it cannot (Run may then be called again),
// or if the socket fails while running. Otherwise Run may be called once.
func (p *Prober) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("sip: Prober.Run called twice")
	}
	p.started = true
	p.mu.Unlock()

	rs, err := p.start(ctx)
	if err != nil {
		p.mu.Lock()
		p.started = false // nothing ran: the caller may retry
		p.mu.Unlock()
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs.ctx = runCtx

	p.mu.Lock()
	p.run = rs
	for _, r := range p.regs {
		p.startRegisterLocked(r)
	}
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { p.schedule(runCtx, rs) })

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-rs.udpDone:
		if err == nil {
			err = errors.New("read loop ended") // sipgo logged why
		}
		runErr = fmt.Errorf("sip: UDP socket stopped: %w", err)
		cancel()
	}
	wg.Wait()
	p.mu.Lock()
	p.run = nil
	for _, r := range p.regs {
		if r.cancel != nil {
			r.cancel()
			r.cancel = nil
		}
	}
	p.mu.Unlock()
	rs.probes.Wait()
	// Close the TCP and TLS connections before sipgo does: see closeStream.
	conns := map[siplib.Connection]bool{}
	p.mu.Lock()
	for _, e := range p.entries {
		if e.conn != nil {
			conns[e.conn] = true
			e.conn = nil
		}
	}
	for _, r := range p.regs {
		if r.conn != nil {
			conns[r.conn] = true
			r.conn = nil
		}
	}
	p.mu.Unlock()
	for c := range conns {
		closeStream(c)
	}
	rs.awaitStreamsClosed(200 * time.Millisecond)
	rs.close()
	return runErr
}

// scheduleSlack is how early a probe may start: at 10,000 probes a second
// the next one is always due within microseconds, and sleeping until each
// exactly would cost a timer and a wake-up per probe.
const scheduleSlack = 2 * time.Millisecond

// schedule starts each entry's probe when it is due, with at most
// MaxInFlight probes outstanding.
func (p *Prober) schedule(ctx context.Context, rs *runState) {
	run := func(ctx context.Context, job probeJob) {
		p.runProbe(ctx, rs, job)
		<-p.sem
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p.mu.Lock()
		empty := len(p.queue) == 0
		var wait time.Duration
		if !empty {
			wait = time.Until(p.queue[0].due)
		}
		p.mu.Unlock()
		if empty || wait > scheduleSlack {
			if empty {
				timer.Stop()
			} else {
				timer.Reset(wait)
			}
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
			case <-timer.C:
			}
			continue
		}
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		p.mu.Lock()
		if len(p.queue) == 0 || time.Until(p.queue[0].due) > scheduleSlack {
			p.mu.Unlock()
			<-p.sem
			continue
		}
		e := heap.Pop(&p.queue).(*entry)
		job := probeJob{e: e, spec: e.spec, specErr: e.specErr, timeout: p.timeout(e.interval)}
		p.mu.Unlock()
		rs.workers.dispatch(ctx, job, run)
	}
}

// probeJob is what a probe needs, copied from its entry under the lock.
type probeJob struct {
	e       *entry
	spec    targetSpec
	specErr error
	timeout time.Duration
}

// runProbe probes one entry and records the outcome.
func (p *Prober) runProbe(ctx context.Context, rs *runState, job probeJob) {
	var o outcome
	var conn siplib.Connection
	if job.specErr != nil {
		o = missed(resultError, capReason(job.specErr.Error()))
	} else {
		o, conn = p.options(ctx, rs, job.spec, job.timeout)
	}
	if ctx.Err() != nil {
		// Stopped mid-probe: the silence is ours, not the target's.
		return
	}
	p.record(job.e, o, conn)
}

// record applies a probe's outcome to its entry and schedules the next.
func (p *Prober) record(e *entry, o outcome, conn siplib.Connection) {
	now := p.cfg.Now()
	var closeConn siplib.Connection
	p.mu.Lock()
	if e.removed {
		p.mu.Unlock()
		return
	}
	changed := e.res.apply(o, now, p.cfg.Misses, p.cfg.LagThreshold)
	e.version++
	if conn != nil && o.answered {
		e.conn = conn // only a connection that just carried an answer is known alive
	}
	if !o.answered && e.res.Misses >= p.cfg.Misses && e.conn != nil {
		// A TCP connection whose peer vanished can stay "open" for many
		// minutes; once the target is unreachable, dial afresh next time.
		// Other targets on the same connection forget it too, so that it
		// is closed once.
		closeConn = e.conn
		for _, other := range p.entries {
			if other.conn == closeConn {
				other.conn = nil
			}
		}
	}
	e.due = nextDue(e.due, time.Now(), e.interval, e.phase)
	heap.Push(&p.queue, e)
	first := e.index == 0 // due before whatever the scheduler waits for
	res := e.res
	if e.res.Kind != KindContact {
		p.notifyWatchersLocked()
	}
	p.mu.Unlock()
	if first {
		p.poke()
	}
	if closeConn != nil {
		closeStream(closeConn)
	}

	p.metrics.probe(res.Kind, o.kind, o.rtt)
	if !changed {
		return
	}
	p.metrics.statusChange(res.Kind)
	level := slog.LevelInfo
	if res.Status == StatusUnreachable {
		level = slog.LevelWarn
	}
	if res.Kind == KindContact {
		level = slog.LevelDebug // thousands of phones: the metric counts them
	}
	p.log.Log(context.Background(), level, "SIP target status changed",
		"kind", res.Kind, "target", res.Name, "status", res.Status,
		"code", res.Code, "reason", res.Reason, "rtt", res.RTT, "misses", res.Misses)
	if p.cfg.OnChange != nil {
		p.cfg.OnChange(res)
	}
}

// notifyWatchersLocked wakes every WatchPresence loop. p.mu must be held.
func (p *Prober) notifyWatchersLocked() {
	for ch := range p.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// probeQueue is a min-heap of entries by due time.
type probeQueue []*entry

func (q probeQueue) Len() int           { return len(q) }
func (q probeQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q probeQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *probeQueue) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *probeQueue) Pop() any {
	old := *q
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.index = -1
	*q = old[:n-1]
	return e
}
