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

// wsConn is a client WebSocket. readMessage is for one goroutine; write
// and Close may be called from any.
type wsConn struct {
	rwc  io.ReadWriteCloser
	br   *bufio.Reader
	wmu  sync.Mutex
	once sync.Once
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
	return &wsConn{rwc: rwc, br: bufio.NewReader(rwc)}, nil
}

// Close closes the connection; a blocked readMessage returns.
func (c *wsConn) Close() error {
	var err error
	c.once.Do(func() { err = c.rwc.Close() })
	return err
}

// readMessage returns the next text or binary message, answering pings on
// the way.
func (c *wsConn) readMessage() ([]byte, error) {
	var msg []byte
	inMessage := false
	for {
		fin, op, payload, err := readFrame(c.br, maxEventSize-len(msg), false)
		if err != nil {
			return nil, err
		}
		switch op {
		case opPing:
			if err := c.write(opPong, payload); err != nil {
				return nil, err
			}
			continue
		case opPong:
			continue
		case opClose:
			_ = c.write(opClose, nil)
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
