package switchtest

// RTP for the live media tests: an Ear, the caller's media end. A
// scenario's SDP names the Ear's UDP port as its media port (sipp does
// the SIP only); the Ear takes what the switch plays to the caller, so
// that a test can tell when the switch spoke, and sends what a phone
// sends back, from that same port: 20 ms packets of G.711 µ-law silence
// and, when the test presses keys, RFC 4733 DTMF events. It sends from
// the SDP's address because FreeSWITCH drops RTP from any other once the
// call's auto-adjust window closed (switch_rtp.c: "ignore packets not
// meant for us"); a sipp play_pcap_audio sent from sipp's own media port
// lost every key after the first two there (seen live), while Asterisk
// took them all.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net"
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

// Ear is the caller's media end: it takes the RTP a switch sends (G.711,
// payload types 0 and 8, decoded in arrival order, each packet's time
// kept) and, once the switch's first packet told it where the switch
// listens, sends back a phone's stream: silence every 20 ms, and the
// keys Press asks for.
type Ear struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts []heard
	to   *net.UDPAddr // where the switch sends from: its RTP port
	pt   byte         // the telephone-event payload type of the keys
	tone time.Time    // until when the phone sends a tone, not silence
	keys chan []DTMFStep
	sent chan error
	done chan struct{}
	wg   sync.WaitGroup
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
	e := &Ear{conn: c, keys: make(chan []DTMFStep), sent: make(chan error), done: make(chan struct{})}
	e.wg.Add(2)
	go e.read()
	go e.send()
	return e, nil
}

// Port is the Ear's UDP port (an SDP's m=audio port; RTCP to Port+1 is
// not read).
func (e *Ear) Port() int { return e.conn.LocalAddr().(*net.UDPAddr).Port }

// Close stops listening and sending.
func (e *Ear) Close() error {
	close(e.done)
	err := e.conn.Close()
	e.wg.Wait()
	return err
}

func (e *Ear) read() {
	defer e.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := e.conn.ReadFromUDP(buf)
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
		if e.to == nil {
			e.to = from
		}
		e.mu.Unlock()
	}
}

// Answered reports whether the switch has sent RTP (the Ear knows where
// to send).
func (e *Ear) Answered() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.to != nil
}

// Press sends steps as RFC 4733 events of payload type pt (each key's
// After of silence first, the first key's included) and returns once
// the last key's end packets are sent; it fails if the switch has sent
// nothing yet or the Ear is closed.
func (e *Ear) Press(pt byte, steps []DTMFStep) error {
	for _, s := range steps {
		if _, err := dtmfEvent(s.Key); err != nil {
			return err
		}
		if s.Key == 0 {
			return fmt.Errorf("switchtest: no key")
		}
	}
	if !e.Answered() {
		return fmt.Errorf("switchtest: no RTP from the switch yet: nowhere to send keys")
	}
	e.mu.Lock()
	e.pt = pt
	e.mu.Unlock()
	select {
	case e.keys <- steps:
	case <-e.done:
		return net.ErrClosed
	}
	select {
	case err := <-e.sent:
		return err
	case <-e.done:
		return net.ErrClosed
	}
}

// Talk sends a 440 Hz tone at -12 dBFS instead of silence for d (a
// caller who speaks: a greeting or a message being recorded) and
// returns when it is over.
func (e *Ear) Talk(d time.Duration) {
	e.mu.Lock()
	e.tone = time.Now().Add(d)
	e.mu.Unlock()
	select {
	case <-time.After(d):
	case <-e.done:
	}
}

// toneFrame is 20 ms of the Talk tone in µ-law (440 Hz: 11 periods in
// 200 samples, so any 20 ms frame is the same up to phase; the phase is
// kept by the sample count).
func toneFrame(n int) []byte {
	b := make([]byte, 160)
	for i := range b {
		v := 8000 * math.Sin(2*math.Pi*440*float64(n+i)/8000)
		b[i] = linearToMulaw(int16(v))
	}
	return b
}

// linearToMulaw is G.711 µ-law's encoder.
func linearToMulaw(s int16) byte {
	const bias, clip = 0x84, 32635
	v := int(s)
	sign := 0
	if v < 0 {
		v, sign = -v, 0x80
	}
	v = min(v, clip) + bias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}

// send is the phone's stream: one packet every 20 ms (silence, or the
// current key's event), one SSRC, sequence numbers and timestamps
// running on.
func (e *Ear) send() {
	defer e.wg.Done()
	tick := time.NewTicker(dtmfPacket)
	defer tick.Stop()
	seq, ts := uint16(1000), uint32(160000)
	var queue []DTMFStep
	var wait, n int // silence packets before the key; packets of the key sent
	var evTS uint32
	packet := func(to *net.UDPAddr, pt byte, marker bool, timestamp uint32, payload []byte) error {
		rtp := make([]byte, 12, 12+len(payload))
		rtp[0], rtp[1] = 0x80, pt
		if marker {
			rtp[1] |= 0x80
		}
		binary.BigEndian.PutUint16(rtp[2:], seq)
		binary.BigEndian.PutUint32(rtp[4:], timestamp)
		binary.BigEndian.PutUint32(rtp[8:], 0x5b0a4d21)
		seq++
		_, err := e.conn.WriteToUDP(append(rtp, payload...), to)
		return err
	}
	for {
		select {
		case <-e.done:
			return
		case steps := <-e.keys:
			queue, n = steps, 0
			wait = int(queue[0].After / dtmfPacket)
			continue
		case <-tick.C:
		}
		e.mu.Lock()
		to, pt, talking := e.to, e.pt, time.Now().Before(e.tone)
		e.mu.Unlock()
		if to == nil {
			continue
		}
		if len(queue) == 0 || wait > 0 {
			wait--
			frame := bytes.Repeat([]byte{0xff}, 160)
			if talking {
				frame = toneFrame(int(ts))
			}
			if err := packet(to, 0, false, ts, frame); err != nil && len(queue) > 0 {
				queue = nil
				e.sent <- err
			}
			ts += 160
			continue
		}
		if n == 0 {
			evTS = ts
		}
		ev, _ := dtmfEvent(queue[0].Key)
		var err error
		if n < dtmfPackets-1 {
			dur := uint16((n + 1) * 160)
			err = packet(to, pt, n == 0, evTS, []byte{ev, 10, byte(dur >> 8), byte(dur)})
			n++
		} else {
			// the last duration, then the end three times (volume -10 dBm0)
			dur := uint16(dtmfPackets * 160)
			for i := range 1 + dtmfEnds {
				flags := byte(10)
				if i > 0 {
					flags |= 0x80
				}
				if err = packet(to, pt, false, evTS, []byte{ev, flags, byte(dur >> 8), byte(dur)}); err != nil {
					break
				}
			}
			ts = evTS + dtmfPackets*160
			queue, n = queue[1:], 0
			if len(queue) > 0 {
				wait = int(queue[0].After / dtmfPacket)
			}
		}
		if err != nil {
			queue = nil
		}
		if err != nil || len(queue) == 0 && n == 0 && wait <= 0 {
			e.sent <- err
			wait = 0
		}
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
