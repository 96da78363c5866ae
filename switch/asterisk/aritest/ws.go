package aritest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The event WebSocket, served by github.com/coder/websocket as Asterisk's
// res_http_websocket does: the one subprotocol "ari" (echoed when the
// client asks for it, a 400 when it asks only for others), text frames of
// JSON out, the client's pings answered and its close echoed. Under the
// library sits the hijacked TCP connection, which the fake cuts
// (DropSockets) or turns into a black hole (StallSockets).

// ariSubprotocol is the one subprotocol Asterisk registers for ARI events.
const ariSubprotocol = "ari"

// socket is one accepted event WebSocket.
type socket struct {
	app          string
	subscribeAll bool
	ws           *websocket.Conn
	tcp          *holeConn
	// accepted is closed once the 101 is written (ws set) or the accept
	// failed (ws nil): no event goes out before the 101.
	accepted  chan struct{}
	closeOnce sync.Once
	// stalled: the peer is gone but TCP stays open (StallSockets); the
	// client's frames are still read, so its writes never block, but
	// nothing is answered.
	stalled atomic.Bool
}

// holeConn is the TCP connection under a socket. Once the socket is
// stalled it is a black hole: what the server writes vanishes, and the
// library closing it (after the client's close frame) is ignored; only
// the client closing its end, or the fake, ends it.
type holeConn struct {
	net.Conn
	stalled *atomic.Bool
	forget  func() // if set, run once it is really closed
}

func (c *holeConn) Write(b []byte) (int, error) {
	if c.stalled.Load() {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *holeConn) Close() error {
	if c.stalled.Load() {
		return nil
	}
	if c.forget != nil {
		c.forget()
	}
	return c.Conn.Close()
}

// trackListener wraps each accepted connection in a holeConn of its own
// and records it, so that StallNode can make it a black hole.
type trackListener struct {
	net.Listener
	s *Server
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	hc := &holeConn{Conn: c, stalled: new(atomic.Bool)}
	hc.forget = func() {
		l.s.mu.Lock()
		delete(l.s.conns, hc)
		l.s.mu.Unlock()
	}
	l.s.mu.Lock()
	l.s.conns[hc] = struct{}{}
	l.s.mu.Unlock()
	return hc, nil
}

// hijackWriter hands the library a holeConn instead of the bare TCP
// connection when it hijacks the request.
type hijackWriter struct {
	http.ResponseWriter
	so *socket
}

func (w hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.so.tcp = &holeConn{Conn: conn, stalled: &w.so.stalled}
	if err := brw.Writer.Flush(); err != nil { // empty: net/http flushed the 101 header
		conn.Close()
		return nil, nil, err
	}
	brw.Writer.Reset(w.so.tcp)
	return w.so.tcp, brw, nil
}

// offersARI reports whether a handshake may be accepted: it names no
// subprotocol, or "ari" among those it names.
func offersARI(r *http.Request) bool {
	var offered []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			offered = append(offered, strings.TrimSpace(p))
		}
	}
	return len(offered) == 0 || slices.Contains(offered, ariSubprotocol)
}

// accept upgrades the request; pings counts the client's pings.
func (so *socket) accept(w http.ResponseWriter, r *http.Request, pings *atomic.Int64) error {
	defer close(so.accepted)
	ws, err := websocket.Accept(hijackWriter{w, so}, r, &websocket.AcceptOptions{
		Subprotocols: []string{ariSubprotocol},
		OnPingReceived: func(context.Context, []byte) bool {
			pings.Add(1)
			return true
		},
	})
	if err != nil {
		return err
	}
	so.ws = ws
	return nil
}

// send writes one text message; a socket that cannot take it within a
// second is closed, as a stuck peer would be by Asterisk.
func (so *socket) send(msg []byte) error {
	<-so.accepted
	if so.ws == nil {
		return errors.New("aritest: socket not accepted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := so.ws.Write(ctx, websocket.MessageText, msg)
	if err != nil {
		so.close()
	}
	return err
}

// close cuts the TCP connection without a close frame, as a network
// failure or a crash would, stalled or not.
func (so *socket) close() {
	<-so.accepted
	so.closeOnce.Do(func() {
		if so.tcp != nil {
			so.tcp.Conn.Close()
		}
		if so.ws != nil {
			so.ws.CloseNow()
		}
	})
}

// readLoop reads the client's messages (the library answers its pings
// and its close frame) until the connection ends. A stalled socket whose
// client sent a close frame is drained until the client closes TCP.
func (so *socket) readLoop() {
	defer so.close()
	for {
		if _, _, err := so.ws.Read(context.Background()); err != nil {
			break
		}
	}
	if so.stalled.Load() {
		_, _ = io.Copy(io.Discard, so.tcp.Conn)
	}
}
