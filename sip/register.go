package sip

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
)

// RegisterCheck is a synthetic registration check: a dedicated probe
// account REGISTERs with digest authentication on an interval, then
// un-REGISTERs (Expires: 0). It proves what OPTIONS cannot: that the
// switch's registrar, its authentication and its account store work.
type RegisterCheck struct {
	Name               string // the switch's name
	Registrar          string // request URI of the registrar, e.g. "sip:127.0.0.1:5060"
	Transport          Transport
	Domain             string // the account's domain (To/From host, digest realm expected)
	Username, Password string
	Interval           time.Duration // 0 = 60 s
	Expires            int           // seconds asked in the REGISTER; 0 = 60
}

// RegisterResult is the outcome of a switch's last registration check.
type RegisterResult struct {
	Name     string
	OK       bool
	Code     int // final SIP code of the REGISTER (after the digest retry); 0 on timeout
	Reason   string
	Duration time.Duration // time from the first REGISTER to the 200 OK (or to failure)
	Failures int           // consecutive failed checks
	At       time.Time     // when the last check ended; zero before the first
}

// regEntry is one check's configuration and state, under Prober.mu.
type regEntry struct {
	check  RegisterCheck
	res    RegisterResult
	cancel context.CancelFunc // stops the check's loop; nil while not running
	conn   siplib.Connection  // TCP/TLS connection to the registrar, closed by Run at its end
}

// SetRegisterChecks replaces the registration checks, identified by Name.
// A check whose configuration changed restarts on its new interval and
// keeps its last result; removed checks stop. Safe at any time, before or
// during Run.
func (p *Prober) SetRegisterChecks(cs []RegisterCheck) {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := make(map[string]bool, len(cs))
	for _, c := range cs {
		seen[c.Name] = true
		r := p.regs[c.Name]
		if r != nil && r.check == c {
			continue
		}
		if r == nil {
			r = &regEntry{res: RegisterResult{Name: c.Name}}
			p.regs[c.Name] = r
		} else if r.cancel != nil {
			r.cancel()
			r.cancel = nil
		}
		r.check = c
		if p.run != nil {
			p.startRegisterLocked(r)
		}
	}
	for name, r := range p.regs {
		if seen[name] {
			continue
		}
		if r.cancel != nil {
			r.cancel()
		}
		delete(p.regs, name)
	}
	p.notifyWatchersLocked()
}

// RegisterResults returns every check's last result, sorted by Name. A
// check not run yet has a zero At.
func (p *Prober) RegisterResults() []RegisterResult {
	p.mu.Lock()
	out := make([]RegisterResult, 0, len(p.regs))
	for _, r := range p.regs {
		out = append(out, r.res)
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b RegisterResult) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// startRegisterLocked starts r's loop. p.mu must be held and p.run set.
func (p *Prober) startRegisterLocked(r *regEntry) {
	rs := p.run
	ctx, cancel := context.WithCancel(rs.ctx)
	r.cancel = cancel
	c := r.check
	rs.probes.Add(1)
	go func() {
		defer rs.probes.Done()
		p.registerLoop(ctx, rs, r, c)
	}()
}

// registerLoop runs check c every interval, at the check's phase like the
// OPTIONS probes, until ctx ends.
func (p *Prober) registerLoop(ctx context.Context, rs *runState, r *regEntry, c RegisterCheck) {
	iv := c.Interval
	if iv <= 0 {
		iv = 60 * time.Second
	}
	ph := phase(key{"register", c.Name}, iv)
	due := firstDue(time.Now(), iv, ph)
	timer := time.NewTimer(time.Until(due))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		res, conn := p.registerOnce(ctx, rs, c, min(p.cfg.Timeout, iv))
		if ctx.Err() != nil {
			return
		}
		p.recordRegister(r, c, res, conn)
		due = nextDue(due, time.Now(), iv, ph)
		timer.Reset(time.Until(due))
	}
}

// recordRegister stores a check's result, unless the check was changed or
// removed meanwhile, and reports it.
func (p *Prober) recordRegister(r *regEntry, c RegisterCheck, res RegisterResult, conn siplib.Connection) {
	p.mu.Lock()
	if p.regs[c.Name] != r || r.check != c {
		p.mu.Unlock()
		return
	}
	if conn != nil {
		r.conn = conn
	}
	res.Failures = 0
	if !res.OK {
		res.Failures = r.res.Failures + 1
	}
	r.res = res
	p.notifyWatchersLocked()
	p.mu.Unlock()

	if res.OK {
		p.log.Debug("SIP registration check succeeded", "switch", c.Name, "duration", res.Duration)
	} else {
		p.metrics.registerFailure(c.Name, res.Code)
		p.log.Warn("SIP registration check failed", "switch", c.Name, "registrar", c.Registrar,
			"user", c.Username, "code", res.Code, "reason", res.Reason, "duration", res.Duration,
			"failures", res.Failures)
	}
	if p.cfg.OnRegisterResult != nil {
		p.cfg.OnRegisterResult(res)
	}
}

// registerOnce REGISTERs c's account, answering one digest challenge, and
// on success un-REGISTERs it. Each transaction gets timeout. Duration is
// the time to the REGISTER's final answer: the un-REGISTER is not timed.
func (p *Prober) registerOnce(ctx context.Context, rs *runState, c RegisterCheck, timeout time.Duration) (RegisterResult, siplib.Connection) {
	start := time.Now()
	res, req, spec, conn := p.register(ctx, rs, c, timeout)
	res.Name = c.Name
	res.Duration = time.Since(start)
	if res.OK {
		p.unregister(ctx, rs, c, req, spec, timeout)
	}
	res.At = p.cfg.Now()
	return res, conn
}

// register sends c's REGISTER and returns the result and the request (for
// the un-REGISTER).
func (p *Prober) register(ctx context.Context, rs *runState, c RegisterCheck, timeout time.Duration) (RegisterResult, *siplib.Request, targetSpec, siplib.Connection) {
	var res RegisterResult
	spec, err := parseTarget(c.Registrar, "", c.Transport)
	if err != nil {
		res.Reason = capReason(err.Error())
		return res, nil, spec, nil
	}
	req := p.registerRequest(rs, c, spec)
	resp, conn, err := p.registerTransaction(ctx, rs, req, c, spec, timeout)
	if err != nil {
		res.Reason = failure(ctx, err).reason
		return res, req, spec, nil
	}
	res.Code = resp.StatusCode
	res.Reason = reasonPhrase(resp.StatusCode, resp.Reason)
	res.OK = resp.StatusCode >= 200 && resp.StatusCode < 300
	return res, req, spec, conn
}

// unregister removes the binding register made, in the same Call-ID with
// the next CSeq: the binding is a probe's and must not outlive it. A
// failure is logged, not reported: the check itself succeeded.
func (p *Prober) unregister(ctx context.Context, rs *runState, c RegisterCheck, req *siplib.Request, spec targetSpec, timeout time.Duration) {
	req.RemoveHeader("Via")
	req.RemoveHeader("Authorization")
	req.RemoveHeader("Proxy-Authorization")
	if cseq := req.CSeq(); cseq != nil {
		cseq.SeqNo++
	}
	exp := siplib.ExpiresHeader(0)
	req.ReplaceHeader(&exp)
	un, _, err := p.registerTransaction(ctx, rs, req, c, spec, timeout)
	if err == nil && un.StatusCode < 300 {
		return
	}
	code, reason := 0, ""
	if err != nil {
		reason = failure(ctx, err).reason
	} else {
		code, reason = un.StatusCode, un.Reason
	}
	p.log.Warn("SIP registration check: un-REGISTER failed; the probe binding stays until it expires",
		"switch", c.Name, "code", code, "reason", reason)
}

// registerTransaction sends req and, if it is challenged (401 or 407),
// sends it again with digest credentials. It returns the final response
// and, over TCP or TLS, the connection it came on. Over UDP an ICMP error
// from the registrar ends it at once, as for OPTIONS.
func (p *Prober) registerTransaction(ctx context.Context, rs *runState, req *siplib.Request, c RegisterCheck, spec targetSpec, timeout time.Duration) (*siplib.Response, siplib.Connection, error) {
	if spec.transport == "UDP" && spec.destAP.IsValid() {
		rf := p.refusals.acquire(ctx, spec.destAP)
		defer p.refusals.release(spec.destAP, rf)
		ctx = rf.ctx
	}
	var conn siplib.Connection
	await := func(ctx context.Context, tx siplib.ClientTransaction, err error) (*siplib.Response, error) {
		if err != nil {
			return nil, err
		}
		if c, ok := tx.(interface{ Connection() siplib.Connection }); ok && spec.transport != "UDP" {
			conn = c.Connection()
		}
		return finalResponse(ctx, tx)
	}
	res, err := doTimeout(ctx, timeout, func(ctx context.Context) (*siplib.Response, error) {
		tx, err := rs.client.TransactionRequest(ctx, req)
		return await(ctx, tx, err)
	})
	if err != nil || (res.StatusCode != 401 && res.StatusCode != 407) {
		return res, conn, err
	}
	auth := sipgo.DigestAuth{Username: c.Username, Password: c.Password}
	res, err = doTimeout(ctx, timeout, func(ctx context.Context) (*siplib.Response, error) {
		tx, err := rs.client.TransactionDigestAuth(ctx, req, res, auth)
		return await(ctx, tx, err)
	})
	return res, conn, err
}

// doTimeout runs one transaction with its own timeout.
func doTimeout(ctx context.Context, timeout time.Duration, do func(context.Context) (*siplib.Response, error)) (*siplib.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return do(ctx)
}

// registerRequest builds the REGISTER of c's account. Its Contact is the
// prober's UDP socket: nothing should call the probe account, and the
// prober drops requests there anyway.
func (p *Prober) registerRequest(rs *runState, c RegisterCheck, spec targetSpec) *siplib.Request {
	ruri := spec.uri
	ruri.User = "" // RFC 3261 10.2: no userinfo in a REGISTER's request URI
	req := siplib.NewRequest(siplib.REGISTER, ruri)
	req.SetTransport(spec.transport)
	req.SetDestination(spec.dest)
	if spec.transport == "UDP" {
		req.Laddr = rs.udpLaddr
	} else if rs.streamIP != nil {
		req.Laddr = siplib.Addr{IP: rs.streamIP}
	}
	domain := c.Domain
	if domain == "" {
		domain = spec.uri.Host
	}
	aor := siplib.Uri{Scheme: "sip", User: c.Username, Host: domain}
	from := &siplib.FromHeader{Address: aor}
	from.Params.Add("tag", siplib.GenerateTagN(12))
	to := &siplib.ToHeader{Address: aor}
	contact := &siplib.ContactHeader{Address: siplib.Uri{Scheme: "sip", User: c.Username, Host: rs.host, Port: rs.udpPort}}
	if spec.transport != "UDP" {
		contact.Address.UriParams = siplib.HeaderParams{{K: "transport", V: strings.ToLower(spec.transport)}}
	}
	expires := c.Expires
	if expires <= 0 {
		expires = 60
	}
	exp := siplib.ExpiresHeader(expires)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(contact)
	req.AppendHeader(&exp)
	req.AppendHeader(siplib.NewHeader("User-Agent", p.cfg.UserAgent))
	return req
}
