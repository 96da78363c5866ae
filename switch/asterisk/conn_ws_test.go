package asterisk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 300000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		for _, masked := range []bool{false, true} {
			var mask *[4]byte
			if masked {
				mask = &[4]byte{1, 2, 3, 4}
			}
			b := appendFrame(nil, opText, payload, mask)
			fin, op, got, err := readFrame(bufio.NewReader(bytes.NewReader(b)), maxEventSize, masked)
			if err != nil || !fin || op != opText || !bytes.Equal(got, payload) {
				t.Errorf("n=%d masked=%v: fin %v op %d len %d err %v", n, masked, fin, op, len(got), err)
			}
		}
	}
	// Over the limit, wrong masking, reserved bits.
	big := appendFrame(nil, opText, make([]byte, 200), nil)
	if _, _, _, err := readFrame(bufio.NewReader(bytes.NewReader(big)), 100, false); err == nil {
		t.Error("a frame over the limit was read")
	}
	if _, _, _, err := readFrame(bufio.NewReader(bytes.NewReader(big)), maxEventSize, true); err == nil {
		t.Error("an unmasked frame was read where masking is required")
	}
	bad := append([]byte{0xC1}, big[1:]...)
	if _, _, _, err := readFrame(bufio.NewReader(bytes.NewReader(bad)), maxEventSize, false); err == nil {
		t.Error("a frame with reserved bits was read")
	}
}

// FuzzReadFrame feeds the frame reader what a broken or hostile peer
// could send: it must fail cleanly, never panic or allocate past the limit.
func FuzzReadFrame(f *testing.F) {
	f.Add(appendFrame(nil, opText, []byte(`{"type":"Dial"}`), nil))
	f.Add(appendFrame(nil, opPing, []byte("p"), nil))
	f.Add([]byte{0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, p, err := readFrame(bufio.NewReader(bytes.NewReader(b)), 1<<16, false)
		if err == nil && len(p) > 1<<16 {
			t.Errorf("payload of %d bytes over the limit", len(p))
		}
	})
}

// pipePeer is the server end of a wsConn over net.Pipe: it reads every
// client frame (net.Pipe blocks a writer until the other end reads) and
// hands the opcodes to ops.
type pipePeer struct {
	conn net.Conn
	ops  chan byte
	wmu  sync.Mutex
}

func newPipe(t *testing.T, answerPings bool) (*wsConn, *pipePeer) {
	t.Helper()
	cli, srv := net.Pipe()
	p := &pipePeer{conn: srv, ops: make(chan byte, 1024)}
	var wg sync.WaitGroup
	wg.Go(func() {
		br := bufio.NewReader(srv)
		for {
			_, op, payload, err := readFrame(br, 125, true)
			if err != nil {
				return
			}
			select {
			case p.ops <- op:
			default:
			}
			if op == opPing && answerPings {
				p.send(opPong, payload)
			}
		}
	})
	t.Cleanup(func() { cli.Close(); srv.Close(); wg.Wait() })
	return newWSConn(cli), p
}

func (p *pipePeer) send(op byte, payload []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.conn.Write(appendFrame(nil, op, payload, nil))
	return err
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
			c, peer := newPipe(t, tc.answerPings)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); c.Close(); wg.Wait() }()
			readErr := make(chan error, 1)
			wg.Go(func() {
				for {
					if _, err := c.readMessage(); err != nil {
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
							if peer.send(opText, []byte(`{"type":"Ping"}`)) != nil {
								return
							}
						}
					}
				})
			}
			start := time.Now()
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
			pings := 0
			for len(peer.ops) > 0 {
				if <-peer.ops == opPing {
					pings++
				}
			}
			// Dead at two intervals: only the first ping went out.
			if want := map[bool]int{true: 1, false: 2}[tc.wantDead]; pings < want {
				t.Errorf("%d pings sent, want at least %d", pings, want)
			}
		})
	}
}

// TestReadMessageControlFrames checks that the reader answers a ping with
// a pong of the same payload, skips pongs, and answers a close with its
// status code.
func TestReadMessageControlFrames(t *testing.T) {
	c, peer := newPipe(t, false)
	go func() {
		_ = peer.send(opPing, []byte("hi"))
		_ = peer.send(opPong, []byte("x"))
		_ = peer.send(opText, []byte(`{"type":"A"}`))
		_ = peer.send(opClose, []byte{0x03, 0xe8, 'b', 'y', 'e'})
	}()
	m, err := c.readMessage()
	if err != nil || string(m) != `{"type":"A"}` {
		t.Fatalf("readMessage: %q, %v", m, err)
	}
	if _, err := c.readMessage(); !errors.Is(err, errSocketClosed) {
		t.Fatalf("after a close frame: %v, want errSocketClosed", err)
	}
	// The peer's reader records a frame just after the write returns:
	// wait for both answers rather than look at what arrived so far.
	var got []byte
	for len(got) < 2 {
		select {
		case op := <-peer.ops:
			got = append(got, op)
		case <-time.After(5 * time.Second):
			t.Fatalf("client answered opcodes %v, want pong then close", got)
		}
	}
	if !bytes.Equal(got, []byte{opPong, opClose}) {
		t.Errorf("client answered opcodes %v, want pong then close", got)
	}
}
