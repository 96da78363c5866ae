package asterisk

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The ARI event socket is a plain RFC 6455 WebSocket carrying one JSON
// event per text message. This file is the small client side of it that
// the adapter needs, on top of net/http: no module outside the standard
// library, the handshake bounded by the caller's context like any other
// request, and a connection that closing unblocks at once (the supervisor
// relies on that to never leak its reader).

// maxEventSize bounds one event message. ARI events are a few KiB; a
// bigger message means a broken peer, not an event to buffer.
const maxEventSize = 4 << 20

// wsGUID is RFC 6455's fixed handshake GUID.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// The frame opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// errSocketClosed is returned by readMessage once the peer sent a close
// frame.
var errSocketClosed = errors.New("asterisk: event socket closed by Asterisk")

// errDeadSocket is why keepAlive closed a connection: nothing came back,
// not even a pong, as when the peer vanished without a FIN.
var errDeadSocket = errors.New("keepalive: no frame from Asterisk")

// wsConn is a client WebSocket. readMessage is for one goroutine; write,
// keepAlive, fail and Close may be called from any.
type wsConn struct {
	rwc  io.ReadWriteCloser
	br   *bufio.Reader
	wmu  sync.Mutex
	once sync.Once

	// start is when the handshake ended, the origin of lastFrame (kept as
	// a monotonic offset, so a wall clock step cannot fake an idle socket).
	start     time.Time
	lastFrame atomic.Int64 // time.Since(start) of the last frame read, ns
	cause     atomic.Pointer[error]
}

// wsAccept is the Sec-WebSocket-Accept value for key.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// dialWS opens a WebSocket to url (http or https scheme) with basic auth.
// ctx bounds the handshake only; the connection lives until Close. The
// http.Client must not have a Timeout, which would cut the socket.
func dialWS(ctx context.Context, hc *http.Client, url, user, password string) (*wsConn, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("asterisk: event socket: %w", err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", key)
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asterisk: event socket: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		return nil, fmt.Errorf("asterisk: event socket: %w", responseError(resp))
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return nil, errors.New("asterisk: event socket: the HTTP transport gave no writable connection")
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		rwc.Close()
		return nil, errors.New("asterisk: event socket: bad WebSocket handshake answer")
	}
	return newWSConn(rwc), nil
}

func newWSConn(rwc io.ReadWriteCloser) *wsConn {
	return &wsConn{rwc: rwc, br: bufio.NewReader(rwc), start: time.Now()}
}

// Close closes the connection; a blocked readMessage returns.
func (c *wsConn) Close() error {
	var err error
	c.once.Do(func() { err = c.rwc.Close() })
	return err
}

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
// waiting to be handled: the reader is then held up by its consumer, not
// by the network, and silence proves nothing. It returns when ctx ends or
// the connection fails.
func (c *wsConn) keepAlive(ctx context.Context, interval time.Duration, busy func() bool) {
	dead := 2 * interval
	nextPing := interval // as an offset from start
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Since(c.start)
		if idle := c.idle(); idle >= dead && !busy() {
			c.fail(fmt.Errorf("%w for %v (pinged every %v)", errDeadSocket, idle.Round(time.Millisecond), interval))
			return
		}
		if now >= nextPing {
			if err := c.write(opPing, nil); err != nil {
				c.fail(fmt.Errorf("keepalive ping: %w", err))
				return
			}
			nextPing = now + interval
		}
		wait := min(nextPing, time.Duration(c.lastFrame.Load())+dead) - now
		if wait <= 0 { // overdue but busy: look again soon
			wait = interval / 4
		}
		t.Reset(wait)
	}
}

// readMessage returns the next text or binary message, answering pings on
// the way. Every frame read, control frames included, is proof of life for
// keepAlive. Once fail closed the connection it returns fail's cause.
func (c *wsConn) readMessage() ([]byte, error) {
	msg, err := c.readFrames()
	if err != nil {
		if cause := c.cause.Load(); cause != nil {
			return nil, *cause
		}
	}
	return msg, err
}

func (c *wsConn) readFrames() ([]byte, error) {
	var msg []byte
	inMessage := false
	for {
		fin, op, payload, err := readFrame(c.br, maxEventSize-len(msg), false)
		if err != nil {
			return nil, err
		}
		c.lastFrame.Store(int64(time.Since(c.start)))
		switch op {
		case opPing:
			if err := c.write(opPong, payload); err != nil {
				return nil, err
			}
			continue
		case opPong:
			continue
		case opClose:
			// Echo the status code, as RFC 6455 §5.5.1 asks.
			_ = c.write(opClose, payload[:min(len(payload), 2)])
			return nil, errSocketClosed
		case opText, opBinary:
			if inMessage {
				return nil, errors.New("asterisk: event socket: new message inside a fragmented one")
			}
			msg, inMessage = append(msg[:0], payload...), true
		case opContinuation:
			if !inMessage {
				return nil, errors.New("asterisk: event socket: continuation without a message")
			}
			msg = append(msg, payload...)
		default:
			return nil, fmt.Errorf("asterisk: event socket: unknown opcode %#x", op)
		}
		if fin {
			return msg, nil
		}
	}
}

// write sends one masked frame, as a client must.
func (c *wsConn) write(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	_, err := c.rwc.Write(appendFrame(nil, op, payload, &mask))
	return err
}

// readFrame reads one frame of at most limit payload bytes. wantMasked
// says which side this is: a server's frames must not be masked, a
// client's must.
func readFrame(r *bufio.Reader, limit int, wantMasked bool) (fin bool, op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return false, 0, nil, err
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	if h[0]&0x70 != 0 {
		return false, 0, nil, errors.New("asterisk: websocket: reserved bits set")
	}
	masked := h[1]&0x80 != 0
	if masked != wantMasked {
		return false, 0, nil, errors.New("asterisk: websocket: wrong masking")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if op >= opClose && (n > 125 || !fin) {
		return false, 0, nil, errors.New("asterisk: websocket: bad control frame")
	}
	if limit < 0 || n > uint64(limit) {
		return false, 0, nil, fmt.Errorf("asterisk: websocket: message over %d bytes", maxEventSize)
	}
	var mask [4]byte
	if masked {
		if _, err = io.ReadFull(r, mask[:]); err != nil {
			return false, 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return false, 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	return fin, op, payload, nil
}

// appendFrame appends a final frame; mask nil sends it unmasked.
func appendFrame(b []byte, op byte, payload []byte, mask *[4]byte) []byte {
	b = append(b, 0x80|op)
	var m byte
	if mask != nil {
		m = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if mask == nil {
		return append(b, payload...)
	}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}
