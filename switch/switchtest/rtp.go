package switchtest

// RTP for the live media tests: a pcap of RFC 4733 DTMF events that
// sipp's play_pcap_audio sends (sipp keeps each packet's payload, RTP
// header included, and only rewrites addresses and ports, so a digit
// pressed twice needs its own timestamp and sequence numbers, which
// sipp's own dtmf_2833_N.pcap files cannot give: every one of them
// starts a new event at a fixed timestamp), and an Ear: the UDP port a
// scenario's SDP names as its media port, so that what the switch plays
// to the caller can be measured while sipp sends from its own port.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
)

// DTMFStep is one key press of a DTMF pcap: the key (0-9, *, #, A-D)
// and the pause since the previous key ended (ignored for the first:
// the pcap starts with it, and sipp plays it when the scenario says).
type DTMFStep struct {
	Key   byte
	After time.Duration
}

// DTMFKeys is keys pressed one after the other, gap apart.
func DTMFKeys(keys string, gap time.Duration) []DTMFStep {
	out := make([]DTMFStep, 0, len(keys))
	for i := range len(keys) {
		out = append(out, DTMFStep{Key: keys[i], After: gap})
	}
	return out
}

// dtmfEvent is RFC 4733's event code of a key.
func dtmfEvent(k byte) (byte, error) {
	switch {
	case k >= '0' && k <= '9':
		return k - '0', nil
	case k == '*':
		return 10, nil
	case k == '#':
		return 11, nil
	case k >= 'A' && k <= 'D':
		return 12 + k - 'A', nil
	}
	return 0, fmt.Errorf("switchtest: %q is no DTMF key", k)
}

// The shape of one key press: 160 ms of event packets every 20 ms,
// then three end packets (RFC 4733 §2.5.1.4), at 8 kHz.
const (
	dtmfPacket  = 20 * time.Millisecond
	dtmfPackets = 8
	dtmfEnds    = 3
)

// WriteDTMFPCAP writes steps as a pcap (Ethernet/IPv4/UDP, 127.0.0.1) of
// RFC 4733 packets of payload type pt, one SSRC, sequence numbers and
// timestamps running on across the keys, and returns when (from the
// first packet) each key ends.
func WriteDTMFPCAP(path string, pt byte, steps []DTMFStep) ([]time.Duration, error) {
	var b bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // Ethernet
	b.Write(hdr)
	start := time.Unix(1_700_000_000, 0)
	at := start
	seq, ts := uint16(1000), uint32(160000)
	var ends []time.Duration
	first := true
	for _, s := range steps {
		ev, err := dtmfEvent(s.Key)
		if err != nil {
			return nil, err
		}
		if !first {
			at = at.Add(s.After)
			ts += uint32(s.After.Milliseconds() * 8)
		}
		first = false
		evTS := ts
		for i := range dtmfPackets + dtmfEnds {
			dur := uint16(min(i+1, dtmfPackets) * 160)
			flags := byte(10) // volume -10 dBm0
			if i >= dtmfPackets {
				flags |= 0x80 // end
			}
			rtp := make([]byte, 16)
			rtp[0] = 0x80
			rtp[1] = pt
			if i == 0 {
				rtp[1] |= 0x80 // marker: a new event
			}
			binary.BigEndian.PutUint16(rtp[2:], seq)
			binary.BigEndian.PutUint32(rtp[4:], evTS)
			binary.BigEndian.PutUint32(rtp[8:], 0x5b0a4d21)
			rtp[12], rtp[13] = ev, flags
			binary.BigEndian.PutUint16(rtp[14:], dur)
			seq++
			writePCAPPacket(&b, at, rtp)
			if i < dtmfPackets {
				at = at.Add(dtmfPacket)
			}
		}
		ends = append(ends, at.Sub(start))
		ts = evTS + dtmfPackets*160
	}
	return ends, os.WriteFile(path, b.Bytes(), 0o644)
}

// writePCAPPacket appends one UDP datagram 127.0.0.1:6000 →
// 127.0.0.1:6002 (sipp replaces both) at time at.
func writePCAPPacket(b *bytes.Buffer, at time.Time, payload []byte) {
	le, be := binary.LittleEndian, binary.BigEndian
	frame := make([]byte, 14+20+8+len(payload))
	be.PutUint16(frame[12:], 0x0800)
	ip := frame[14:]
	ip[0] = 0x45
	be.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, 17
	copy(ip[12:], net.IPv4(127, 0, 0, 1).To4())
	copy(ip[16:], net.IPv4(127, 0, 0, 1).To4())
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(be.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	be.PutUint16(ip[10:], ^uint16(sum))
	udp := ip[20:]
	be.PutUint16(udp[0:], 6000)
	be.PutUint16(udp[2:], 6002)
	be.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(udp[8:], payload)
	rec := make([]byte, 16)
	le.PutUint32(rec[0:], uint32(at.Unix()))
	le.PutUint32(rec[4:], uint32(at.Nanosecond()/1000))
	le.PutUint32(rec[8:], uint32(len(frame)))
	le.PutUint32(rec[12:], uint32(len(frame)))
	b.Write(rec)
	b.Write(frame)
}

// Ear takes the RTP a switch sends to a caller: G.711 (payload types 0
// and 8) is decoded in arrival order, each packet's time kept, so that
// a test can tell when the switch spoke.
type Ear struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts []heard
	done chan struct{}
}

type heard struct {
	at      time.Time
	pt      byte
	payload []byte
}

// Listen starts an Ear on a free UDP port of ip (the caller's address:
// the SDP's c= line); Close stops it.
func Listen(ip string) (*Ear, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		return nil, fmt.Errorf("switchtest: rtp ear: %w", err)
	}
	e := &Ear{conn: c, done: make(chan struct{})}
	go e.read()
	return e, nil
}

// Port is the Ear's UDP port (an SDP's m=audio port; RTCP to Port+1 is
// not read).
func (e *Ear) Port() int { return e.conn.LocalAddr().(*net.UDPAddr).Port }

// Close stops listening.
func (e *Ear) Close() error {
	err := e.conn.Close()
	<-e.done
	return err
}

func (e *Ear) read() {
	defer close(e.done)
	buf := make([]byte, 2048)
	for {
		n, err := e.conn.Read(buf)
		if err != nil {
			return
		}
		if n < 12 || buf[0]>>6 != 2 {
			continue
		}
		cc := int(buf[0] & 0x0f)
		off := 12 + 4*cc
		if buf[0]&0x10 != 0 && n >= off+4 {
			off += 4 + 4*int(binary.BigEndian.Uint16(buf[off+2:]))
		}
		if off > n {
			continue
		}
		h := heard{at: time.Now(), pt: buf[1] & 0x7f, payload: bytes.Clone(buf[off:n])}
		e.mu.Lock()
		e.pkts = append(e.pkts, h)
		e.mu.Unlock()
	}
}

// Packets is how many RTP packets came.
func (e *Ear) Packets() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pkts)
}

// Since is the G.711 audio that came from t on, decoded (8 kHz), on
// the time line of its arrival: a switch sends no RTP while it only
// waits for keys, so a gap of more than 40 ms between packets is put
// back as silence, and a span of the clip is when it was heard.
func (e *Ear) Since(t time.Time) *audio.Clip {
	e.mu.Lock()
	defer e.mu.Unlock()
	var data []byte
	format := uint16(0)
	silence := byte(0xff) // µ-law's zero
	for _, p := range e.pkts {
		if p.at.Before(t) || (p.pt != 0 && p.pt != 8) {
			continue
		}
		if format == 0 {
			format = map[byte]uint16{0: 7, 8: 6}[p.pt] // WAVE_FORMAT_MULAW, _ALAW
			if p.pt == 8 {
				silence = 0xd5 // A-law's zero
			}
		}
		if at := int(p.at.Sub(t) * 8000 / time.Second); at-len(data) > 320 {
			data = append(data, bytes.Repeat([]byte{silence}, at-len(data)-len(p.payload))...)
		}
		data = append(data, p.payload...)
	}
	if format == 0 {
		return &audio.Clip{Rate: 8000}
	}
	clip, _, err := audio.Decode(bytes.NewReader(g711WAV(format, data)), audio.Limits{})
	if err != nil {
		return &audio.Clip{Rate: 8000}
	}
	return clip
}

// g711WAV wraps G.711 bytes in a WAV header of format (6 A-law, 7
// µ-law), for internal/audio's decoder.
func g711WAV(format uint16, data []byte) []byte {
	le := binary.LittleEndian
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], format)
	le.PutUint16(h[22:], 1)
	le.PutUint32(h[24:], 8000)
	le.PutUint32(h[28:], 8000)
	le.PutUint16(h[32:], 1)
	le.PutUint16(h[34:], 8)
	copy(h[36:], "data")
	le.PutUint32(h[40:], uint32(len(data)))
	return append(h, data...)
}

// Spans lists the stretches of clip louder than about -40 dBFS in 20 ms
// frames, joined across gaps shorter than 300 ms: where the switch
// spoke (a prompt, a message), as "start+length" in ms.
func Spans(clip *audio.Clip) []Span {
	const frame = 160
	var out []Span
	var cur *Span
	quiet := 0
	for i := 0; i+frame <= len(clip.Samples); i += frame {
		var peak int
		for _, s := range clip.Samples[i : i+frame] {
			peak = max(peak, abs(int(s)))
		}
		at := time.Duration(i) * time.Second / time.Duration(clip.Rate)
		if peak >= 328 { // -40 dBFS
			if cur == nil {
				out = append(out, Span{Start: at})
				cur = &out[len(out)-1]
			}
			cur.End = at + 20*time.Millisecond
			quiet = 0
			continue
		}
		if quiet++; cur != nil && quiet*20 >= 300 {
			cur = nil
		}
	}
	return out
}

// Span is a stretch of sound in a clip.
type Span struct{ Start, End time.Duration }

func (s Span) String() string {
	return fmt.Sprintf("%d+%dms", s.Start.Milliseconds(), (s.End - s.Start).Milliseconds())
}

// SpanList is spans as one line.
func SpanList(spans []Span) string {
	parts := make([]string, len(spans))
	for i, s := range spans {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
