package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
)

// runState is what Run opens: the sipgo user agent and client, and the one
// UDP socket every UDP probe is sent from and answered to.
type runState struct {
	ctx      context.Context
	ua       *sipgo.UserAgent
	client   *sipgo.Client
	udp      *probeConn
	udpLaddr siplib.Addr // the UDP socket: set on each UDP request so sipgo reuses it
	streamIP net.IP      // ListenAddr for TCP and TLS dials; nil = any
	host     string      // the address put in Via, From and Contact
	udpPort  int
	udpDone  chan error
	probes   sync.WaitGroup // probe workers and registration checks
	workers  workerPool
}

// listenIP parses Config.ListenAddr: an IP, or IP:port to fix the UDP port.
func listenIP(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), 0), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, fmt.Errorf("sip: ListenAddr %q: want an IP address or IP:port", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// start binds the UDP socket and builds the sipgo stack on it.
func (p *Prober) start(ctx context.Context) (*runState, error) {
	lap, err := listenIP(p.cfg.ListenAddr)
	if err != nil {
		return nil, err
	}
	network := "udp4"
	if lap.Addr().Is6() {
		network = "udp6"
	}
	uc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(lap))
	if err != nil {
		return nil, fmt.Errorf("sip: listen UDP on %s: %w", lap, err)
	}
	local := uc.LocalAddr().(*net.UDPAddr)
	rs := &runState{
		udpLaddr: siplib.Addr{IP: local.IP, Port: local.Port},
		udpPort:  local.Port,
		host:     advertisedHost(lap.Addr()),
		udpDone:  make(chan error, 1),
	}
	rs.workers.wg = &rs.probes
	if !lap.Addr().IsUnspecified() {
		rs.streamIP = net.IP(lap.Addr().AsSlice())
	}
	rs.udp = newProbeConn(uc, p.refusals.refuse)

	// sipgo's own logs: its errors are ours, its chatter is debug.
	sipLog := p.log.With("lib", "sipgo")
	rs.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent(p.cfg.UserAgent),
		sipgo.WithUserAgentHostname(rs.host),
		sipgo.WithUserAgenTLSConfig(p.cfg.TLSConfig),
		sipgo.WithUserAgentTransportLayerOptions(siplib.WithTransportLayerLogger(sipLog)),
		sipgo.WithUserAgentTransactionLayerOptions(
			siplib.WithTransactionLayerLogger(sipLog),
			// A response after its probe timed out: already counted as a miss.
			siplib.WithTransactionLayerUnhandledResponseHandler(func(*siplib.Response) {}),
			// A TCP peer that closes the connection fails the probe now,
			// not at the timeout.
			siplib.WithTransactionLayerTerminateOnConnClose(),
		),
	)
	if err != nil {
		_ = uc.Close()
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	rs.ua.TransactionLayer().OnRequest(answerRequest)
	rs.client, err = sipgo.NewClient(rs.ua,
		sipgo.WithClientHostname(rs.host),
		sipgo.WithClientNAT(), // rport: answer to the address we sent from
		sipgo.WithClientLogger(sipLog),
	)
	if err != nil {
		_ = rs.ua.Close()
		_ = uc.Close()
		return nil, fmt.Errorf("sip: client: %w", err)
	}
	go func() { rs.udpDone <- rs.ua.TransportLayer().ServeUDP(rs.udp) }()

	// ServeUDP registers the socket in sipgo's pool as it starts; a probe
	// sent before that would make sipgo bind a second socket (and fail,
	// the port being taken). Wait for it.
	pool := rs.ua.TransportLayer().Pool("udp")
	laddr := rs.udpLaddr.String()
	for {
		if c := pool.Get(laddr); c != nil {
			_, _ = c.TryClose()
			break
		}
		select {
		case <-ctx.Done():
			rs.close()
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return rs, nil
}

// close releases what start opened. The UDP socket is closed here: sipgo
// treats a served socket as its caller's.
func (rs *runState) close() {
	_ = rs.ua.Close()
	_ = rs.udp.Close()
}

// closeStream closes a TCP or TLS connection of sipgo's, in the order
// sipgo's reference counting expects: an idle connection holds one
// reference for its reader and one to stay open while idle. Dropping the
// idle one and closing the socket lets the reader release the last one
// and clean up quietly. Closing sipgo's wrapper instead zeroes the count
// under the reader, which then warns "TCP ref went negative" (sipgo's own
// shutdown does that for every connection it still has).
func closeStream(c siplib.Connection) {
	tc, ok := c.(*siplib.TCPConnection)
	if !ok {
		_ = c.Close()
		return
	}
	if ref, _ := tc.TryClose(); ref > 0 {
		_ = tc.Conn.Close()
	}
}

// awaitStreamsClosed waits, at most max, for sipgo's readers of the
// connections closeStream closed to let go of them: sipgo's own shutdown,
// which follows, hard-closes whatever is still in its pools.
func (rs *runState) awaitStreamsClosed(max time.Duration) {
	tp := rs.ua.TransportLayer()
	deadline := time.Now().Add(max)
	for tp.Pool("tcp").Size()+tp.Pool("tls").Size() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// answerRequest answers a request a peer sends on one of the prober's TCP
// or TLS connections (UDP requests are dropped at the socket): a switch
// may qualify us back. OPTIONS gets 200, anything else 405.
func answerRequest(req *siplib.Request, tx *siplib.ServerTx) {
	if req.IsAck() {
		return
	}
	res := siplib.NewResponseFromRequest(req, 200, "OK", nil)
	if req.Method != siplib.OPTIONS {
		res = siplib.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
	}
	res.AppendHeader(siplib.NewHeader("Allow", "OPTIONS"))
	_ = tx.Respond(res)
}

// advertisedHost is the address put in Via and Contact: the listen IP, or
// for a wildcard listen the address of the default route. Peers answer to
// the packet's source anyway (rport, RFC 3581); this only keeps
// 0.0.0.0 out of the headers.
func advertisedHost(ip netip.Addr) string {
	if !ip.IsUnspecified() {
		return ip.String()
	}
	probe := "192.0.2.1:5060" // TEST-NET-1: connecting a UDP socket sends nothing
	network := "udp4"
	if ip.Is6() {
		probe, network = "[2001:db8::1]:5060", "udp6"
	}
	c, err := net.Dial(network, probe)
	if err != nil {
		if ip.Is6() {
			return "::1"
		}
		return "127.0.0.1"
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

// ProbeUser is the user of every probe's From URI. Asterisk identifies
// an out-of-dialog request by its From user (identify_by=username, the
// default) before res_pjsip answers OPTIONS, so a probe of a switch's own
// listener from no known endpoint is challenged (401) and logged as "No
// matching endpoint found" at every probe; an endpoint of this name on
// the switch (switch/asterisk/README.md, "SIP probe of the switch") makes
// the probe identified, answered 200 and silent.
const ProbeUser = "switchboard"

// options sends one OPTIONS as spec says and waits for its final response
// at most timeout. It returns the connection used for TCP and TLS.
func (p *Prober) options(ctx context.Context, rs *runState, spec targetSpec, timeout time.Duration) (outcome, siplib.Connection) {
	req := siplib.NewRequest(siplib.OPTIONS, spec.uri)
	req.SetTransport(spec.transport)
	req.SetDestination(spec.dest)
	udp := spec.transport == "UDP"
	if udp {
		req.Laddr = rs.udpLaddr
	} else if rs.streamIP != nil {
		req.Laddr = siplib.Addr{IP: rs.streamIP}
	}
	from := &siplib.FromHeader{Address: siplib.Uri{Scheme: "sip", User: ProbeUser, Host: rs.host}}
	from.Params.Add("tag", siplib.GenerateTagN(12))
	to := &siplib.ToHeader{Address: siplib.Uri{Scheme: spec.uri.Scheme, User: spec.uri.User, Host: spec.uri.Host, Port: spec.uri.Port}}
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(siplib.NewHeader("User-Agent", p.cfg.UserAgent))
	req.AppendHeader(siplib.NewHeader("Accept", "application/sdp"))

	pctx := ctx
	if udp && spec.destAP.IsValid() {
		rf := p.refusals.acquire(ctx, spec.destAP)
		defer p.refusals.release(spec.destAP, rf)
		pctx = rf.ctx
	}
	pctx, cancel := context.WithTimeout(pctx, timeout)
	defer cancel()

	start := time.Now()
	tx, err := rs.client.TransactionRequest(pctx, req)
	if err != nil {
		return failure(pctx, err), nil
	}
	var conn siplib.Connection
	if c, ok := tx.(interface{ Connection() siplib.Connection }); ok && !udp {
		conn = c.Connection()
	}
	res, err := finalResponse(pctx, tx)
	if err != nil {
		return failure(pctx, err), conn
	}
	return answered(res.StatusCode, reasonPhrase(res.StatusCode, res.Reason), time.Since(start)), conn
}

// finalResponse waits for tx's final response, then terminates tx.
//
// sipgo hands the final response over before its state machine arms the
// timer that absorbs retransmissions (Timer K, 32 s in sipgo for UDP), and
// Terminate only stops timers already armed: terminating at once, as
// sipgo's Client.Do does, leaves that timer, and the transaction it holds,
// alive for 32 s once in a few dozen probes. tx.Err takes the state
// machine's lock, so calling it first waits for the timer to be armed.
func finalResponse(ctx context.Context, tx siplib.ClientTransaction) (*siplib.Response, error) {
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode < 200 {
				continue
			}
			_ = tx.Err()
			return res, nil
		case <-tx.Done():
			return nil, tx.Err()
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// unreachableError is the cause a probe fails with when an ICMP error
// names its destination.
type unreachableError struct{ errno error }

func (e *unreachableError) Error() string { return e.errno.Error() }
func (e *unreachableError) Unwrap() error { return e.errno }

// failure classifies why a probe got no answer: silence is a timeout,
// anything else (ICMP, TCP refused, TLS handshake) an error.
func failure(ctx context.Context, err error) outcome {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) && !errors.Is(cause, context.Canceled) {
		err = cause // an ICMP error beat the transaction's own ending
	}
	var ue *unreachableError
	switch {
	case err == nil:
		return missed(resultError, "transaction ended without a response")
	case errors.As(err, &ue):
		return missed(resultError, ue.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, siplib.ErrTransactionTimeout):
		return missed(resultTimeout, reasonTimeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return missed(resultError, reasonRefused)
	}
	reason := rootCause(err).Error()
	if strings.Contains(err.Error(), "TLS handshake") {
		reason = "TLS handshake: " + reason
	}
	return missed(resultError, capReason(reason))
}

// rootCause is the innermost error of err's chain: "connection reset by
// peer" rather than sipgo's layers of context.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// refusals lets an ICMP error fail the UDP probes in flight to its
// destination. Each destination with probes in flight has a context, the
// parent of those probes' contexts, canceled with an unreachableError when
// an ICMP error names it.
type refusals struct {
	mu sync.Mutex
	m  map[netip.AddrPort]*refusal
}

type refusal struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	refs   int
}

func (r *refusals) acquire(parent context.Context, dest netip.AddrPort) *refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.m[dest]
	if f == nil {
		ctx, cancel := context.WithCancelCause(parent)
		f = &refusal{ctx: ctx, cancel: cancel}
		r.m[dest] = f
	}
	f.refs++
	return f
}

func (r *refusals) release(dest netip.AddrPort, f *refusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f.refs--
	if f.refs > 0 {
		return
	}
	if r.m[dest] == f {
		delete(r.m, dest)
	}
	f.cancel(nil)
}

// refuse fails the probes in flight to dest; it runs on the UDP read loop.
func (r *refusals) refuse(dest netip.AddrPort, errno error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.m[dest]
	if f == nil {
		return
	}
	delete(r.m, dest)
	f.cancel(&unreachableError{errno: errno})
}
