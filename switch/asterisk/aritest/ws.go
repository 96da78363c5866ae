package aritest

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// socket is one accepted event WebSocket (the server side of RFC 6455,
// just what ARI's event stream needs: unmasked text frames out, the
// client's close and pongs in).
type socket struct {
	app          string
	subscribeAll bool
	conn         net.Conn
	wmu          sync.Mutex
	closeOnce    sync.Once
	// stalled: the peer is gone but TCP stays open (StallSockets); frames
	// are still read, so the client's writes never block, but nothing is
	// answered.
	stalled atomic.Bool
	pings   *atomic.Int64 // the server's count of pings received
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// upgrade checks the handshake and hijacks the connection; the caller
// sends the 101 answer (accept) once it is ready for what the client does
// next.
func upgrade(w http.ResponseWriter, r *http.Request) (conn net.Conn, br *bufio.Reader, accept func() error, err error) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.Header.Get("Sec-WebSocket-Key") == "" {
		http.Error(w, `{"message":"expected a WebSocket upgrade"}`, http.StatusBadRequest)
		return nil, nil, nil, errors.New("not an upgrade")
	}
	h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + wsGUID))
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, nil, errors.New("aritest: cannot hijack")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, nil, err
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nServer: Asterisk/23.4.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"
	accept = func() error {
		_, err := conn.Write([]byte(resp))
		return err
	}
	return conn, brw.Reader, accept, nil
}

// send writes one text message; a socket that cannot take it within a
// second is closed, as a stuck peer would be by Asterisk.
func (s *socket) send(msg []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := s.conn.Write(frame(0x1, msg))
	if err != nil {
		s.close()
	}
	return err
}

func (s *socket) close() { s.closeOnce.Do(func() { s.conn.Close() }) }

// readLoop reads the client's frames until the connection ends, answering
// pings and a close frame, unless the socket is stalled.
func (s *socket) readLoop(br *bufio.Reader) {
	defer s.close()
	for {
		op, payload, err := readClientFrame(br)
		if err != nil {
			return
		}
		if op == 0x9 && s.pings != nil {
			s.pings.Add(1)
		}
		if s.stalled.Load() {
			continue
		}
		switch op {
		case 0x8:
			s.wmu.Lock()
			_, _ = s.conn.Write(frame(0x8, nil))
			s.wmu.Unlock()
			return
		case 0x9:
			s.wmu.Lock()
			_, _ = s.conn.Write(frame(0xA, payload))
			s.wmu.Unlock()
		}
	}
}

// frame is one final unmasked frame.
func frame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// readClientFrame reads one masked frame of at most 1 MiB.
func readClientFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 == 0 {
		return 0, nil, errors.New("aritest: unmasked client frame")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, errors.New("aritest: client frame too big")
	}
	var mask [4]byte
	if _, err = io.ReadFull(r, mask[:]); err != nil {
		return 0, nil, err
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	return h[0] & 0x0f, payload, nil
}
