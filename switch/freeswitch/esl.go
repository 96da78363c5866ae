package freeswitch

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// The ESL connection is our own client of the event socket protocol:
// one TCP connection, one goroutine reading its frames, commands written
// under a mutex and answered in order. It used to be eslgo v1.4.1 behind
// a relay of our own, whose reading of an event cost twice what this
// reader and ParsePlainEvent cost (issue 12 item 14, BenchmarkESLStream:
// textproto's header reader, then a second pass to decode, the frame
// copied from the node to eslgo over a Unix socket, a goroutine per
// event) and needed five workarounds for eslgo's flaws (no dial
// deadline; an unsafe Close; a dead TCP connection unnoticed; a timed-out
// command's late reply handed to the next command; events delivered out
// of order). The protocol is small:
//
//   - On connect the node sends auth/request (or text/rude-rejection, with
//     a body, when its ACL refuses the client and then closes).
//   - A command is a line (with header lines for bgapi's Job-UUID) and a
//     blank line. Its answer is one command/reply (Reply-Text: +OK…/-ERR…)
//     or, for api, one api/response with the result as body. The node
//     answers commands one by one in the order they came.
//   - Events are text/event-plain frames: the event's header lines,
//     URL-encoded, as the body (ParsePlainEvent).
//   - text/disconnect-notice comes before the node closes the connection:
//     on exit, on a refused login, on `reload mod_event_socket` and on
//     shutdown.
//
// A node that vanishes without closing the connection, or stops
// answering, is caught by the heartbeat (api status every KeepAlive, each
// bounded by KeepAlive) within two intervals. A command whose context
// ends gives up its place in the reply queue: its reply, when it comes,
// is dropped, never handed to the next command.

// ErrAuth is returned when the node refuses the ESL password: retrying
// fast cannot help, so the adapter waits its longest backoff.
var ErrAuth = errors.New("freeswitch: ESL password refused")

// DefaultPassword is event_socket.conf.xml's well-known default; the
// daemon warns about nodes that still use it.
const DefaultPassword = "ClueCon"

// eslOptions are a connection's limits.
type eslOptions struct {
	addr, password string
	dialTimeout    time.Duration // dial, login and subscription together
	keepAlive      time.Duration // heartbeat interval and bound; <0 disables
	window         time.Duration // reorder window
	// log reports an event frame that does not parse (it is skipped).
	log *slog.Logger
}

// eslConn is one authenticated, subscribed inbound ESL connection.
type eslConn struct {
	opt    eslOptions
	nc     net.Conn
	events chan Event    // in Event-Sequence order
	done   chan struct{} // closed once the connection is dead
	once   sync.Once
	errMu  sync.Mutex
	err    error
	cancel context.CancelFunc // the sequencer's context
	wg     sync.WaitGroup

	// wmu orders commands: a command is written and its waiter queued
	// under it, so the queue is in the order the node answers.
	wmu     sync.Mutex
	qmu     sync.Mutex
	waiters []chan eslFrame // oldest first; each buffered for one reply
}

// dialESL connects, authenticates and subscribes to events, all within
// the dial timeout. ctx bounds the dial only; the connection lives until
// Close.
func dialESL(ctx context.Context, opt eslOptions, events []string) (*eslConn, error) {
	if opt.log == nil {
		opt.log = slog.Default()
	}
	dctx, cancelDial := context.WithTimeout(ctx, opt.dialTimeout)
	defer cancelDial()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", opt.addr)
	if err != nil {
		return nil, fmt.Errorf("freeswitch: ESL %s: %w", opt.addr, err)
	}
	fr, err := login(dctx, nc, opt)
	if err != nil {
		nc.Close()
		return nil, err
	}
	connCtx, cancel := context.WithCancel(context.Background())
	e := &eslConn{opt: opt, nc: nc, done: make(chan struct{}), cancel: cancel}
	in := make(chan Event, 1024)
	e.events = make(chan Event, 1024)
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		err := e.read(connCtx, fr, in)
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("the node closed the ESL connection: %w", err)
		}
		e.close(fmt.Errorf("freeswitch: ESL %s: %w", e.opt.addr, err))
	}()
	go func() {
		defer e.wg.Done()
		sequence(connCtx, in, e.events, opt.window)
	}()
	reply, err := e.command(dctx, "event plain "+strings.Join(events, " "))
	if err == nil && !strings.HasPrefix(reply.replyText, "+OK") {
		err = fmt.Errorf("freeswitch: ESL %s: subscription refused: %q", opt.addr, reply.replyText)
	}
	if err != nil {
		e.Close()
		return nil, err
	}
	if opt.keepAlive > 0 {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.heartbeat(connCtx)
		}()
	}
	return e, nil
}

// login waits for auth/request and logs in, under ctx: a silent node is
// a timeout and a refused password is ErrAuth.
func login(ctx context.Context, nc net.Conn, opt eslOptions) (*frameReader, error) {
	if deadline, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	fail := func(format string, args ...any) error {
		err := fmt.Errorf(format, args...)
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (no answer within %s: %w)", err, opt.dialTimeout, ctx.Err())
		}
		return fmt.Errorf("freeswitch: ESL %s: %w", opt.addr, err)
	}
	fr := newFrameReader(nc)
	f, err := fr.next()
	switch {
	case err != nil:
		stop()
		return nil, fail("waiting for auth/request: %w", err)
	case f.contentType == ctRude:
		stop()
		return nil, fail("the node refused the connection: %q", bytes.TrimSpace(f.body))
	case f.contentType != ctAuthRequest:
		stop()
		return nil, fail("got %q, want auth/request (is this an event socket?)", f.contentType)
	}
	if _, err := io.WriteString(nc, "auth "+opt.password+"\n\n"); err != nil {
		stop()
		return nil, fail("%w", err)
	}
	f, err = fr.next()
	if !stop() || ctx.Err() != nil {
		return nil, fail("waiting for the login reply: %w", cmp.Or(err, ctx.Err()))
	}
	if err != nil {
		return nil, fail("waiting for the login reply: %w", err)
	}
	switch {
	case f.contentType == ctCommandReply && strings.HasPrefix(f.replyText, "+OK"):
		_ = nc.SetDeadline(time.Time{})
		return fr, nil
	case f.contentType == ctCommandReply && strings.HasPrefix(f.replyText, "-ERR"):
		return nil, fmt.Errorf("freeswitch: ESL %s: %q: %w", opt.addr, f.replyText, ErrAuth)
	default:
		return nil, fail("unexpected login reply %q %q", f.contentType, f.replyText)
	}
}

// read takes the node's frames until the connection fails: events go to
// in (to be sequenced), replies to the oldest waiting command. A
// disconnect notice ends it with ErrNodeDisconnected.
func (e *eslConn) read(ctx context.Context, fr *frameReader, in chan<- Event) error {
	for {
		f, err := fr.next()
		if err != nil {
			return err
		}
		switch f.contentType {
		case ctEventPlain:
			ev, err := parseOwnedPlainEvent(f.body) // f.body is the reader's fresh slice, never reused
			if err != nil {
				e.opt.log.Warn("freeswitch: ESL event skipped", "addr", e.opt.addr, "err", err)
				continue
			}
			select {
			case in <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		case ctCommandReply, ctAPIResponse:
			e.qmu.Lock()
			var w chan eslFrame
			if len(e.waiters) > 0 {
				w = e.waiters[0]
				e.waiters[0] = nil
				e.waiters = e.waiters[1:]
			}
			e.qmu.Unlock()
			if w != nil {
				w <- f // buffered: never blocks, even for a command that gave up
			}
		case ctDisconnect:
			return fmt.Errorf("%w: %q", ErrNodeDisconnected, bytes.TrimSpace(f.body))
		case ctRude:
			return fmt.Errorf("the node refused the connection: %q", bytes.TrimSpace(f.body))
		}
		// Anything else (log/data: never asked for) is dropped.
	}
}

// command sends one command (without its final blank line) and returns
// the node's reply. A command whose ctx ends gives up its place: the
// reply is dropped when it comes. A write that fails closes the
// connection.
func (e *eslConn) command(ctx context.Context, cmd string) (eslFrame, error) {
	if err := e.Err(); err != nil {
		return eslFrame{}, err
	}
	w := make(chan eslFrame, 1)
	e.wmu.Lock()
	e.qmu.Lock()
	e.waiters = append(e.waiters, w)
	e.qmu.Unlock()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(e.opt.dialTimeout)
	}
	_ = e.nc.SetWriteDeadline(deadline)
	_, err := io.WriteString(e.nc, cmd+"\n\n")
	e.wmu.Unlock()
	if err != nil {
		err = fmt.Errorf("freeswitch: ESL %s: %q: %w", e.opt.addr, commandName(cmd), err)
		e.close(err)
		return eslFrame{}, err
	}
	select {
	case f := <-w:
		return f, nil
	case <-e.done:
		return eslFrame{}, e.Err()
	case <-ctx.Done():
		return eslFrame{}, fmt.Errorf("freeswitch: ESL %s: %q: no reply: %w", e.opt.addr, commandName(cmd), ctx.Err())
	}
}

// api runs an api command and returns its body; a "-ERR" answer is an
// error (the connection stays up). A command with a line break is refused
// unsent: it would be read as more than one.
func (e *eslConn) api(ctx context.Context, cmd string) (string, error) {
	if strings.ContainsAny(cmd, "\r\n") {
		return "", fmt.Errorf("freeswitch: ESL command %q has a line break", commandName(cmd))
	}
	f, err := e.command(ctx, "api "+cmd)
	if err != nil {
		return "", err
	}
	if f.contentType != ctAPIResponse {
		return "", fmt.Errorf("freeswitch: ESL %s: %q: got %s %q, want an api/response", e.opt.addr, commandName(cmd), f.contentType, f.replyText)
	}
	return APIResult(f.body)
}

// commandName is a command's first line, without secrets, for errors.
func commandName(s string) string {
	if strings.HasPrefix(s, "auth ") {
		return "auth"
	}
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// heartbeat runs api status every keepAlive, each bounded by keepAlive,
// and closes the connection on the first miss.
func (e *eslConn) heartbeat(ctx context.Context) {
	t := time.NewTicker(e.opt.keepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.done:
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, e.opt.keepAlive)
		_, err := e.command(hctx, "api status")
		cancel()
		if err != nil && ctx.Err() == nil {
			e.close(fmt.Errorf("freeswitch: ESL %s: heartbeat unanswered within %s: %w", e.opt.addr, e.opt.keepAlive, err))
			return
		}
	}
}

// close ends the connection once, recording why: the sequencer's context
// ends and the socket closes, so every goroutine returns.
func (e *eslConn) close(err error) {
	e.once.Do(func() {
		e.errMu.Lock()
		if err == nil {
			err = errors.New("freeswitch: ESL connection closed")
		}
		e.err = err
		e.errMu.Unlock()
		close(e.done)
		e.cancel()
		e.nc.Close()
	})
}

// Close closes the connection and waits for its goroutines.
func (e *eslConn) Close() {
	e.close(nil)
	e.wg.Wait()
}

// Err is why the connection died, nil while it lives.
func (e *eslConn) Err() error {
	select {
	case <-e.done:
		e.errMu.Lock()
		defer e.errMu.Unlock()
		return e.err
	default:
		return nil
	}
}

// sequence forwards events from in to out in Event-Sequence order. Each
// event is held until it is window old, so that one overtaken by a later
// one is put back before it: FreeSWITCH numbers events as they are fired
// but delivers them from several dispatch threads once its event queue
// is busy, so a listener can get them slightly out of order.
// Gaps in the sequence are normal (it counts every event of the node,
// subscribed or not), so nothing waits for a missing number. An event
// older than the last one released (held up longer than the window) is
// released at once: Calls and presence tolerate it.
func sequence(ctx context.Context, in <-chan Event, out chan<- Event, window time.Duration) {
	defer close(out)
	var h seqHeap
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var last uint64
	release := func(now time.Time) bool {
		for h.Len() > 0 && (window <= 0 || now.Sub(h[0].at) >= window) {
			it := heap.Pop(&h).(seqItem)
			if it.seq > last {
				last = it.seq
			}
			select {
			case out <- it.ev:
			case <-ctx.Done():
				return false
			}
		}
		if h.Len() > 0 {
			timer.Reset(window - time.Since(h[0].at))
		}
		return true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-in:
			now := time.Now()
			s := ev.Seq()
			if s != 0 && s < last {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
				continue
			}
			heap.Push(&h, seqItem{ev: ev, seq: s, at: now})
			if !release(now) {
				return
			}
		case <-timer.C:
			if !release(time.Now()) {
				return
			}
		}
	}
}

// seqItem is an event held by the sequencer, with its Event-Sequence
// read once: the heap compares it on every push and pop, and reading it
// from the event each time was 6 % of the adapter's CPU (issue 12 item
// 14).
type seqItem struct {
	ev  Event
	seq uint64
	at  time.Time
}

type seqHeap []seqItem

func (h seqHeap) Len() int { return len(h) }
func (h seqHeap) Less(i, j int) bool {
	a, b := h[i].seq, h[j].seq
	if a != b {
		return a < b
	}
	return h[i].at.Before(h[j].at)
}
func (h seqHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *seqHeap) Push(x any)   { *h = append(*h, x.(seqItem)) }
func (h *seqHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
