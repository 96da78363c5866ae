package switchtest

import (
	"encoding/binary"
	"math"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
)

// TestWriteDTMFPCAP reads the pcap back: every key is one event with its
// own timestamp, marker on its first packet, three end packets with the
// full duration, sequence numbers running on, and the pause between
// keys in the packets' times.
func TestWriteDTMFPCAP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.pcap")
	steps := append(DTMFKeys("11#", 250*time.Millisecond), DTMFStep{Key: '*', After: 2 * time.Second})
	ends, err := WriteDTMFPCAP(path, 101, steps)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Fatalf("pcap header % x", b[:24])
	}
	type pkt struct {
		at           time.Duration
		marker       bool
		seq          uint16
		ts           uint32
		event        byte
		end          bool
		duration     uint16
		pt           byte
		srcIP, dstIP net.IP
	}
	var pkts []pkt
	var first time.Time
	for off := 24; off < len(b); {
		sec, usec, n := binary.LittleEndian.Uint32(b[off:]), binary.LittleEndian.Uint32(b[off+4:]), int(binary.LittleEndian.Uint32(b[off+8:]))
		at := time.Unix(int64(sec), int64(usec)*1000)
		if first.IsZero() {
			first = at
		}
		frame := b[off+16 : off+16+n]
		off += 16 + n
		ip := frame[14:]
		rtp := ip[28:]
		pkts = append(pkts, pkt{at: at.Sub(first), marker: rtp[1]&0x80 != 0, pt: rtp[1] & 0x7f, seq: binary.BigEndian.Uint16(rtp[2:]),
			ts: binary.BigEndian.Uint32(rtp[4:]), event: rtp[12], end: rtp[13]&0x80 != 0, duration: binary.BigEndian.Uint16(rtp[14:]),
			srcIP: net.IP(ip[12:16]), dstIP: net.IP(ip[16:20])})
	}
	if len(pkts) != 4*11 {
		t.Fatalf("%d packets, want 4 keys of 11", len(pkts))
	}
	wantEvents := []byte{1, 1, 11, 10}
	for k := range 4 {
		ev := pkts[k*11 : k*11+11]
		for i, p := range ev {
			if p.event != wantEvents[k] || p.ts != ev[0].ts || p.marker != (i == 0) || p.end != (i >= 8) || p.pt != 101 {
				t.Errorf("key %d packet %d: %+v", k, i, p)
			}
			if want := uint16(min(i+1, 8) * 160); p.duration != want {
				t.Errorf("key %d packet %d: duration %d, want %d", k, i, p.duration, want)
			}
		}
		if k > 0 && ev[0].ts <= pkts[k*11-1].ts {
			t.Errorf("key %d starts at timestamp %d, not after the previous key's %d", k, ev[0].ts, pkts[k*11-1].ts)
		}
	}
	for i := 1; i < len(pkts); i++ {
		if pkts[i].seq != pkts[i-1].seq+1 {
			t.Errorf("packet %d: seq %d after %d", i, pkts[i].seq, pkts[i-1].seq)
		}
	}
	// The 2 s pause: in the times (sipp's pacing) and in the timestamps.
	if gap := pkts[33].at - pkts[32].at; gap != 2*time.Second {
		t.Errorf("pause before * is %v in the capture's times", gap)
	}
	if gap := pkts[33].ts - pkts[22].ts; gap != 8*160+16000 {
		t.Errorf("* starts %d samples after #, want %d", gap, 8*160+16000)
	}
	if len(ends) != 4 || ends[3] != pkts[43].at {
		t.Errorf("ends %v, last packet at %v", ends, pkts[43].at)
	}
	if _, err := WriteDTMFPCAP(path, 101, DTMFKeys("1x", time.Second)); err == nil {
		t.Error("a key that is no DTMF key was written")
	}
}

// TestEarSpans sends the ear what a switch sends: a prompt, nothing while
// it waits for keys, another prompt; the spans are where the sound was
// on the time line of arrival, the silent wait included.
func TestEarSpans(t *testing.T) {
	ear, err := Listen("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer ear.Close()
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ear.Port()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	seq := uint16(0)
	send := func(n int, loud bool) {
		for range n {
			pkt := make([]byte, 12+160)
			pkt[0], pkt[1] = 0x80, 0 // PCMU
			binary.BigEndian.PutUint16(pkt[2:], seq)
			seq++
			for i := range 160 {
				v := 0.0
				if loud {
					v = 8000 * math.Sin(2*math.Pi*440*float64(i)/8000)
				}
				pkt[12+i] = linearToMulaw(int16(v))
			}
			if _, err := c.Write(pkt); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	send(25, true)                     // 0.5 s prompt
	time.Sleep(700 * time.Millisecond) // no RTP: waiting for keys
	send(25, true)
	send(5, false)
	time.Sleep(100 * time.Millisecond)
	if ear.Packets() != 55 {
		t.Fatalf("%d packets, want 55", ear.Packets())
	}
	spans := Spans(ear.Since(start))
	if len(spans) != 2 {
		t.Fatalf("spans %s, want 2", SpanList(spans))
	}
	near := func(got, want time.Duration) bool {
		return got > want-150*time.Millisecond && got < want+250*time.Millisecond
	}
	if !near(spans[0].Start, 0) || !near(spans[0].End, 500*time.Millisecond) || !near(spans[1].Start, 1200*time.Millisecond) || !near(spans[1].End, 1700*time.Millisecond) {
		t.Errorf("spans %s, want about 0+500ms 1200+500ms", SpanList(spans))
	}
	if later := ear.Since(time.Now()); len(later.Samples) != 0 {
		t.Errorf("audio after the last packet: %d samples", len(later.Samples))
	}
	if quiet := Spans(&audio.Clip{Rate: 8000, Samples: make([]int16, 8000)}); len(quiet) != 0 {
		t.Errorf("silence has spans %s", SpanList(quiet))
	}
}

// linearToMulaw is G.711 µ-law's encoder (the ear's decoder is
// internal/audio's).
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
