package freeswitch

import (
	"bufio"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"
)

// The ESL connection. eslgo v1.4.1 does the framing, authentication and
// command/reply matching, but has five flaws its user must work around,
// each handled here by the piece named. None is fixed upstream: after
// v1.4.1 (2021-05-27) eslgo's v1 branch has dependency bumps and one
// change to connection.go, 318fde8 (2023-08-22, "command linger
// support"), which leaves Dial, Close and the receive loop as they were.
//
//   - Dial has no deadline: net.Dial without a timeout, then an unbounded
//     wait for auth/request (inbound.go reads the channel with no timeout
//     or context), and a refused password comes back as an untyped
//     "failed to auth %#v". So probeESL first logs in on a connection of
//     its own (dial, auth/request, auth, exit) under the dial timeout: a
//     silent node is a timeout and a refused password is ErrAuth before
//     eslgo is involved. eslgo's own dial then runs under the same
//     deadline; one that overruns is abandoned to a goroutine, which ends
//     when eslgo's auth times out (AuthTimeout), or never if the node
//     accepted the connection and sent no auth/request (eslgo waits for it
//     for good), which the probe just before makes unlikely.
//   - Close is unsafe and is the only thing that closes eslgo's socket.
//     close() deletes the keys of the response-channel map under its
//     mutex, but authLoop and disconnectLoop (started by Dial) read that
//     map without the mutex: a data race, and a possible fatal
//     "concurrent map read and map write". close() also waits for the
//     write lock, which every SendCommand in flight holds (read-locked)
//     until its reply or its own context ends (the reply cannot come: the
//     receive loop queues behind the waiting writer). And nothing else
//     closes the socket: the receive loop stops on a read error without
//     closing it, and a cancelled Options.Context stops it only after the
//     next message arrives. So eslgo never owns the TCP connection: the adapter dials
//     FreeSWITCH itself and hands eslgo the far end of a private relay (a
//     Unix socket in a 0700 directory, eslgo dialling "unix"). Ending a
//     connection cancels eslgo's context and closes both sockets, and
//     eslgo's goroutines all return by themselves without Close ever
//     running. eslgo also calls Close itself when a text/disconnect-notice
//     arrives (disconnectLoop), which FreeSWITCH sends every client when
//     mod_event_socket is reloaded and when it shuts down: the relay
//     forwards frame by frame and keeps that notice from eslgo, ending the
//     connection itself (forwardFrames).
//   - It does not notice a dead TCP connection: its reader stops on an
//     error without telling anyone. The relay sees the node close the
//     connection at once; a node that vanishes without closing it, or
//     stops answering, is caught by the heartbeat (api status every
//     KeepAlive, each bounded by KeepAlive) within two intervals.
//   - A command whose context ends leaves its reply in flight, and eslgo
//     hands that late reply to the next command (replies share one
//     channel). So a command that times out closes the connection: nothing
//     after it can be misattributed.
//   - Its event listeners run each event in a goroutine of its own
//     (callEventListener: go listener(event)), so events arrive out of
//     order. The sequencer puts them back in Event-Sequence order, holding
//     each for a short window.

// ErrAuth is returned when the node refuses the ESL password: retrying
// fast cannot help, so the adapter waits its longest backoff.
var ErrAuth = errors.New("freeswitch: ESL password refused")

// DefaultPassword is event_socket.conf.xml's well-known default; the
// daemon warns about nodes that still use it.
const DefaultPassword = "ClueCon"

// eslOptions are a connection's limits.
type eslOptions struct {
	addr, password string
	dialTimeout    time.Duration // probe and eslgo dial, each
	keepAlive      time.Duration // heartbeat interval and bound; <0 disables
	window         time.Duration // reorder window
}

// eslConn is one authenticated, subscribed inbound ESL connection.
type eslConn struct {
	c      *eslgo.Conn
	opt    eslOptions
	tcp    net.Conn      // to FreeSWITCH, ours
	relay  net.Conn      // our end of eslgo's socket
	events chan Event    // in Event-Sequence order
	done   chan struct{} // closed once the connection is dead
	once   sync.Once
	errMu  sync.Mutex
	err    error
	cancel context.CancelFunc // eslgo's context and the sequencer's
	wg     sync.WaitGroup
}

// dialESL connects, authenticates and subscribes to events. ctx bounds
// the dial only; the connection lives until Close.
func dialESL(ctx context.Context, opt eslOptions, events []string) (*eslConn, error) {
	if err := probeESL(ctx, opt); err != nil {
		return nil, err
	}
	dctx, cancelDial := context.WithTimeout(ctx, opt.dialTimeout)
	defer cancelDial()
	var d net.Dialer
	tcp, err := d.DialContext(dctx, "tcp", opt.addr)
	if err != nil {
		return nil, fmt.Errorf("freeswitch: ESL %s: %w", opt.addr, err)
	}
	connCtx, cancel := context.WithCancel(context.Background())
	e := &eslConn{opt: opt, tcp: tcp, done: make(chan struct{}), cancel: cancel}
	path, ln, err := relayListener()
	if err != nil {
		tcp.Close()
		cancel()
		return nil, err
	}
	type result struct {
		c   *eslgo.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		o := eslgo.DefaultInboundOptions
		o.Network = "unix"
		o.Password = opt.password
		o.AuthTimeout = opt.dialTimeout
		o.Context = connCtx
		o.Logger = eslgo.NilLogger{}
		c, err := o.Dial(path)
		ch <- result{c, err}
	}()
	relay, err := acceptRelay(dctx, ln, path)
	if err != nil {
		tcp.Close()
		cancel()
		abandon(ch)
		return nil, fmt.Errorf("freeswitch: ESL %s: %w", opt.addr, err)
	}
	e.relay = relay
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		err := forwardFrames(relay, tcp)
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("the node closed the ESL connection: %w", err)
		}
		e.close(fmt.Errorf("freeswitch: ESL %s: %w", e.opt.addr, err))
	}()
	go func() { defer e.wg.Done(); e.pipe(tcp, relay, "eslgo closed its socket") }()
	select {
	case r := <-ch:
		if r.err != nil {
			e.close(nil)
			e.wg.Wait()
			return nil, fmt.Errorf("freeswitch: ESL %s: %w", opt.addr, r.err)
		}
		e.c = r.c
	case <-dctx.Done():
		e.close(nil)
		e.wg.Wait()
		abandon(ch)
		return nil, fmt.Errorf("freeswitch: ESL %s: no answer to the login within %s: %w", opt.addr, opt.dialTimeout, dctx.Err())
	}
	in := make(chan Event, 1024)
	e.events = make(chan Event, 1024)
	e.c.RegisterEventListener(eslgo.EventListenAll, func(ev *eslgo.Event) {
		select {
		case in <- EventFromHeaders(ev.Headers, ev.Body):
		case <-connCtx.Done():
		}
	})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		sequence(connCtx, in, e.events, opt.window)
	}()
	if _, err := e.command(ctx, command.Event{Format: "plain", Listen: events}); err != nil {
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

// abandon waits, in the background, for an eslgo dial given up on; its
// socket is already closed, so it ends when eslgo's auth times out (see
// the package notes for the one case it does not).
func abandon[T any](ch <-chan T) { go func() { <-ch }() }

// relayListener listens on a Unix socket in a fresh 0700 directory, so
// that only this user can connect to it.
func relayListener() (string, net.Listener, error) {
	dir, err := os.MkdirTemp("", "switchboard-esl-")
	if err != nil {
		return "", nil, fmt.Errorf("freeswitch: ESL relay: %w", err)
	}
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("freeswitch: ESL relay: %w", err)
	}
	return path, ln, nil
}

// acceptRelay takes eslgo's one connection and removes the socket.
func acceptRelay(ctx context.Context, ln net.Listener, path string) (net.Conn, error) {
	defer os.RemoveAll(filepath.Dir(path))
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	c, err := ln.Accept()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("relay: eslgo did not connect: %w", ctx.Err())
		}
		return nil, fmt.Errorf("relay: %w", err)
	}
	return c, nil
}

// pipe copies src to dst until either fails, then ends the connection.
func (e *eslConn) pipe(dst, src net.Conn, why string) {
	_, err := io.Copy(dst, src)
	if err == nil {
		err = io.EOF
	}
	e.close(fmt.Errorf("freeswitch: ESL %s: %s: %w", e.opt.addr, why, err))
}

// probeESL logs in on a connection of its own, under the dial timeout,
// and logs out: it turns a silent node into a timeout and a wrong
// password into ErrAuth before eslgo, which can do neither, is dialled.
func probeESL(ctx context.Context, opt eslOptions) error {
	ctx, cancel := context.WithTimeout(ctx, opt.dialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", opt.addr)
	if err != nil {
		return fmt.Errorf("freeswitch: ESL %s: %w", opt.addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	tp := textproto.NewReader(bufio.NewReader(conn))
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return fmt.Errorf("freeswitch: ESL %s: waiting for auth/request: %w", opt.addr, err)
	}
	if ct := h.Get("Content-Type"); ct != "auth/request" {
		return fmt.Errorf("freeswitch: ESL %s: got %q, want auth/request (is this an event socket?)", opt.addr, ct)
	}
	if _, err := fmt.Fprintf(conn, "auth %s\n\n", opt.password); err != nil {
		return fmt.Errorf("freeswitch: ESL %s: %w", opt.addr, err)
	}
	h, err = tp.ReadMIMEHeader()
	if err != nil {
		return fmt.Errorf("freeswitch: ESL %s: waiting for the login reply: %w", opt.addr, err)
	}
	reply := h.Get("Reply-Text")
	switch {
	case strings.HasPrefix(reply, "+OK"):
		_, _ = fmt.Fprint(conn, "exit\n\n")
		return nil
	case strings.HasPrefix(reply, "-ERR"):
		return fmt.Errorf("freeswitch: ESL %s: %q: %w", opt.addr, reply, ErrAuth)
	default:
		return fmt.Errorf("freeswitch: ESL %s: unexpected login reply %q", opt.addr, reply)
	}
}

// command sends one command; an error or a timeout closes the connection
// (see the package notes: a late reply would be handed to the next one).
func (e *eslConn) command(ctx context.Context, cmd command.Command) (*eslgo.RawResponse, error) {
	if err := e.Err(); err != nil {
		return nil, err
	}
	resp, err := e.c.SendCommand(ctx, cmd)
	if err != nil {
		err = fmt.Errorf("freeswitch: ESL %q: %w", commandName(cmd), err)
		e.close(err)
		return nil, err
	}
	return resp, nil
}

// api runs an api command and returns its body; a "-ERR" answer is an
// error (the connection stays up).
func (e *eslConn) api(ctx context.Context, cmd string) (string, error) {
	name, args, _ := strings.Cut(cmd, " ")
	resp, err := e.command(ctx, command.API{Command: name, Arguments: args})
	if err != nil {
		return "", err
	}
	return APIResult(resp.Body)
}

// commandName is a command's first words, without secrets, for errors.
func commandName(cmd command.Command) string {
	s := cmd.BuildMessage()
	if strings.HasPrefix(s, "auth ") {
		return "auth"
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
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
		_, err := e.c.SendCommand(hctx, command.API{Command: "status"})
		cancel()
		if err != nil && ctx.Err() == nil {
			e.close(fmt.Errorf("freeswitch: ESL %s: heartbeat unanswered within %s: %w", e.opt.addr, e.opt.keepAlive, err))
			return
		}
	}
}

// close ends the connection once, recording why: eslgo's context ends and
// both sockets close, so every goroutine of eslgo and of ours returns
// (eslgo's own Close is never called, see the package notes).
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
		e.tcp.Close()
		if e.relay != nil {
			e.relay.Close()
		}
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
// one (eslgo delivers each in its own goroutine) is put back before it.
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
			if s := it.ev.Seq(); s > last {
				last = s
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
			if s := ev.Seq(); s != 0 && s < last {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
				continue
			}
			heap.Push(&h, seqItem{ev: ev, at: now})
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

type seqItem struct {
	ev Event
	at time.Time
}

type seqHeap []seqItem

func (h seqHeap) Len() int { return len(h) }
func (h seqHeap) Less(i, j int) bool {
	a, b := h[i].ev.Seq(), h[j].ev.Seq()
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
