package asterisk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The ARI event socket is an RFC 6455 WebSocket carrying one JSON event
// per text message. The framing, the handshake, the answers to pings and
// the close handshake are github.com/coder/websocket's; this file adds
// what the adapter needs on top: the handshake bounded by the caller's
// context and made with our HTTP client and basic auth, a size limit, and
// a keepalive that treats every frame read (event, ping or pong) as proof
// of life, which the library's blocking Ping alone cannot.

// maxEventSize bounds one event message. ARI events are a few KiB; a
// bigger message means a broken peer, not an event to buffer.
const maxEventSize = 4 << 20

// ariSubprotocol is the one WebSocket subprotocol Asterisk registers on
// /ari/events. Asterisk accepts a client that names none too, but naming
// it is what RFC 6455 asks and still works if Asterisk ever adds another.
const ariSubprotocol = "ari"

// errSocketClosed is returned by readMessage once the peer sent a close
// frame (the library has then answered it with the same status code).
var errSocketClosed = errors.New("asterisk: event socket closed by Asterisk")

// errDeadSocket is why keepAlive closed a connection: nothing came back,
// not even a pong, as when the peer vanished without a FIN.
var errDeadSocket = errors.New("keepalive: no frame from Asterisk")

// wsConn is the client end of the event socket. readMessage is for one
// goroutine; keepAlive, fail and Close may be called from any.
type wsConn struct {
	ws *websocket.Conn

	// start is when the handshake began, the origin of lastFrame (kept as
	// a monotonic offset, so a wall clock step cannot fake an idle socket).
	start     time.Time
	lastFrame atomic.Int64 // time.Since(start) of the last frame read, ns
	cause     atomic.Pointer[error]
}

// dialWS opens the event socket at url (http, https, ws or wss) with
// basic auth. ctx bounds the handshake only; the connection lives until
// Close. A refusal (401, 503…) is a *RequestError carrying ARI's message.
func dialWS(ctx context.Context, hc *http.Client, url, user, password string) (*wsConn, error) {
	c := &wsConn{start: time.Now()}
	seen := func(context.Context, []byte) { c.sawFrame() }
	opts := &websocket.DialOptions{
		HTTPClient:     hc,
		HTTPHeader:     http.Header{},
		Subprotocols:   []string{ariSubprotocol},
		OnPingReceived: func(ctx context.Context, b []byte) bool { seen(ctx, b); return true },
		OnPongReceived: seen,
	}
	if user != "" || password != "" {
		(&http.Request{Header: opts.HTTPHeader}).SetBasicAuth(user, password) // sets opts.HTTPHeader's Authorization
	}
	ws, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, fmt.Errorf("asterisk: event socket: %w", responseError(resp))
		}
		return nil, fmt.Errorf("asterisk: event socket: %w", err)
	}
	ws.SetReadLimit(maxEventSize)
	c.ws = ws
	c.sawFrame() // the handshake's answer
	return c, nil
}

// sawFrame records that a frame was just read.
func (c *wsConn) sawFrame() { c.lastFrame.Store(int64(time.Since(c.start))) }

// Close drops the connection without a close handshake (which would wait
// seconds for a peer that may be gone); a blocked readMessage returns.
func (c *wsConn) Close() error { return c.ws.CloseNow() }

// fail closes the connection for cause, which a blocked or later
// readMessage returns instead of the bare "use of closed connection". The
// first cause wins.
func (c *wsConn) fail(cause error) {
	c.cause.CompareAndSwap(nil, &cause)
	c.Close()
}

// idle is how long ago the last frame (of any kind) was read; the
// handshake counts as one.
func (c *wsConn) idle() time.Duration {
	return time.Since(c.start) - time.Duration(c.lastFrame.Load())
}

// keepAlive pings the peer every interval and fails the connection with
// errDeadSocket once no frame at all (event, pong, ping) has been read for
// two intervals: a peer that vanished without closing TCP (host down,
// NAT or firewall state lost) is otherwise noticed only when the kernel
// gives up, which can take many minutes. Asterisk answers pings with
// pongs, as RFC 6455 requires. busy reports that read messages are still
// waiting to be handled: the reader is then held up by its consumer (and
// reads no pong), not by the network, and silence proves nothing. It
// returns when ctx ends or the connection fails.
func (c *wsConn) keepAlive(ctx context.Context, interval time.Duration, busy func() bool) {
	dead := 2 * interval
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := time.Now().Add(interval)
		// Wait for the pong until the socket would count as dead (a pong,
		// like any frame, moves lastFrame through the reader), and at
		// least a quarter interval: this also bounds the ping's write, and
		// the library closes a connection whose write times out.
		pctx, cancel := context.WithTimeout(ctx, max(dead-c.idle(), interval/4))
		err := c.ws.Ping(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			c.fail(fmt.Errorf("keepalive ping: %w", err))
			return
		}
		if idle := c.idle(); idle >= dead {
			if !busy() {
				c.fail(fmt.Errorf("%w for %v (pinged every %v)", errDeadSocket, idle.Round(time.Millisecond), interval))
				return
			}
			// Overdue but busy: look again soon.
			if soon := time.Now().Add(interval / 4); soon.Before(next) {
				next = soon
			}
		}
		t.Reset(time.Until(next))
	}
}

// readMessage returns the next text or binary message; pings are answered
// and pongs recorded on the way. Once fail closed the connection it
// returns fail's cause.
func (c *wsConn) readMessage(ctx context.Context) ([]byte, error) {
	_, msg, err := c.ws.Read(ctx)
	if err == nil {
		c.sawFrame()
		return msg, nil
	}
	if cause := c.cause.Load(); cause != nil {
		return nil, *cause
	}
	if websocket.CloseStatus(err) != -1 {
		return nil, fmt.Errorf("%w: %w", errSocketClosed, err)
	}
	return nil, err
}
