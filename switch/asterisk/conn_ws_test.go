package asterisk

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
)

// wsPeer is a loopback WebSocket server standing in for Asterisk: it
// reads the client's frames (answering pings when answerPings) and hands
// the test its end of the connection to send from.
type wsPeer struct {
	pings atomic.Int64
	conn  *websocket.Conn
}

func newPeer(t *testing.T, answerPings bool) (*wsConn, *wsPeer) {
	t.Helper()
	p := &wsPeer{}
	accepted := make(chan *websocket.Conn, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			OnPingReceived: func(context.Context, []byte) bool { p.pings.Add(1); return answerPings },
		})
		if err != nil {
			return
		}
		accepted <- ws
		<-ws.CloseRead(context.Background()).Done()
	}))
	c, err := dialWS(context.Background(), hs.Client(), hs.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	p.conn = <-accepted
	t.Cleanup(func() { c.Close(); p.conn.CloseNow(); hs.Close() })
	return c, p
}

// TestKeepAlive checks what keeps a connection alive (a pong, an event)
// and that silence kills it within two intervals, the reader then
// returning errDeadSocket.
func TestKeepAlive(t *testing.T) {
	const interval = 40 * time.Millisecond
	tests := []struct {
		name        string
		answerPings bool
		events      bool // the peer sends an event every interval/2
		busy        bool // messages are waiting for the consumer
		wantDead    bool
	}{
		{name: "pongs", answerPings: true},
		{name: "events without pongs", events: true},
		{name: "silent", wantDead: true},
		{name: "silent but the consumer is behind", busy: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now() // the handshake is the last frame before silence
			c, peer := newPeer(t, tc.answerPings)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); c.Close(); wg.Wait() }()
			readErr := make(chan error, 1)
			wg.Go(func() {
				for {
					if _, err := c.readMessage(ctx); err != nil {
						readErr <- err
						return
					}
				}
			})
			if tc.events {
				wg.Go(func() {
					tick := time.NewTicker(interval / 2)
					defer tick.Stop()
					for {
						select {
						case <-ctx.Done():
							return
						case <-tick.C:
							if peer.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"Ping"}`)) != nil {
								return
							}
						}
					}
				})
			}
			wg.Go(func() { c.keepAlive(ctx, interval, func() bool { return tc.busy }) })
			select {
			case err := <-readErr:
				if !tc.wantDead {
					t.Fatalf("the connection failed after %v: %v", time.Since(start), err)
				}
				if !errors.Is(err, errDeadSocket) {
					t.Fatalf("reader error %v, want errDeadSocket", err)
				}
				if d := time.Since(start); d < 2*interval {
					t.Errorf("declared dead after %v, before two intervals", d)
				}
			case <-time.After(8 * interval):
				if tc.wantDead {
					t.Fatal("a silent peer was not declared dead")
				}
			}
			// Dead at two intervals: only the first ping went out.
			if want := map[bool]int64{true: 1, false: 2}[tc.wantDead]; peer.pings.Load() < want {
				t.Errorf("%d pings sent, want at least %d", peer.pings.Load(), want)
			}
		})
	}
}

// TestReadMessageControlFrames checks that the reader answers a ping
// with a pong of the same payload (the peer's Ping returns only then),
// passes text messages on, and answers a close with its status code (the
// peer's Close succeeds only on the matching echo), then reports
// errSocketClosed.
func TestReadMessageControlFrames(t *testing.T) {
	c, peer := newPeer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peerDone := make(chan error, 1)
	go func() {
		if err := peer.conn.Ping(ctx); err != nil {
			peerDone <- err
			return
		}
		if err := peer.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"A"}`)); err != nil {
			peerDone <- err
			return
		}
		peerDone <- peer.conn.Close(websocket.StatusNormalClosure, "bye")
	}()
	m, err := c.readMessage(ctx)
	if err != nil || string(m) != `{"type":"A"}` {
		t.Fatalf("readMessage: %q, %v", m, err)
	}
	if _, err := c.readMessage(ctx); !errors.Is(err, errSocketClosed) || websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after a close frame: %v, want errSocketClosed with status 1000", err)
	}
	if err := <-peerDone; err != nil {
		t.Errorf("the peer's ping or close handshake: %v", err)
	}
}

// TestReadMessageLimit checks that a message over maxEventSize ends the
// connection instead of being buffered.
func TestReadMessageLimit(t *testing.T) {
	c, peer := newPeer(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _ = peer.conn.Write(ctx, websocket.MessageText, make([]byte, maxEventSize+1)) }()
	if m, err := c.readMessage(ctx); err == nil {
		t.Fatalf("read a message of %d bytes over the limit", len(m))
	}
}

// TestDialWS checks the handshake against the fake ARI: basic auth, the
// "ari" subprotocol, Asterisk's refusals as *RequestError, and the
// caller's context bounding it.
func TestDialWS(t *testing.T) {
	srv := aritest.New(t)
	url := srv.URL + "/events?app=t&subscribeAll=true"
	hc := &http.Client{}
	c, err := dialWS(context.Background(), hc, url, aritest.User, aritest.Password)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ws.Subprotocol(); got != ariSubprotocol {
		t.Errorf("subprotocol %q, want %q", got, ariSubprotocol)
	}
	c.Close()

	tests := []struct {
		name     string
		password string
		setup    func()
		status   int
		message  string
	}{
		{name: "bad password", password: "wrong", status: 401, message: "Authentication required"},
		{name: "refused", password: aritest.Password, setup: func() { srv.FailNext(503) }, status: 503, message: "Service Unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			_, err := dialWS(context.Background(), hc, url, aritest.User, tc.password)
			var re *RequestError
			if !errors.As(err, &re) || re.Status != tc.status || re.Message != tc.message {
				t.Fatalf("error %v, want a %d %q RequestError", err, tc.status, tc.message)
			}
		})
	}

	srv.Delay(time.Second)
	defer srv.Delay(0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := dialWS(ctx, hc, url, aritest.User, aritest.Password); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a slow handshake: %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("the handshake outlived its context by %v", d)
	}
}
