package switchtest

import (
	"encoding/binary"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
)

// TestEarPress plays the switch: it sends the ear RTP, and reads what
// the ear sends back from its SDP port: silence every 20 ms, a tone
// while it talks, and each
// key as one event with its own timestamp, marker on its first packet,
// three end packets with the full duration, sequence numbers running on
// across silence and events, and the pause between keys.
func TestEarPress(t *testing.T) {
	ear, err := Listen("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer ear.Close()
	sw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	if err := ear.Press(101, DTMFKeys("1", 0)); err == nil {
		t.Error("keys pressed before the switch sent anything")
	}
	pkt := make([]byte, 12+160)
	pkt[0] = 0x80
	if _, err := sw.WriteToUDP(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ear.Port()}); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the ear to hear the switch", ear.Answered)
	type got struct {
		at       time.Time
		pt       byte
		marker   bool
		seq      uint16
		ts       uint32
		event    byte
		end      bool
		duration uint16
		from     int
		loud     bool // audio that is not µ-law silence
	}
	var mu sync.Mutex
	var pkts []got
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := sw.ReadFromUDP(buf)
			if err != nil {
				return
			}
			g := got{at: time.Now(), pt: buf[1] & 0x7f, marker: buf[1]&0x80 != 0, seq: binary.BigEndian.Uint16(buf[2:]), ts: binary.BigEndian.Uint32(buf[4:]), from: from.Port}
			for _, b := range buf[12:n] {
				g.loud = g.loud || g.pt == 0 && b != 0xff && b != 0x7f
			}
			if g.pt == 101 && n >= 16 {
				g.event, g.end, g.duration = buf[12], buf[13]&0x80 != 0, binary.BigEndian.Uint16(buf[14:])
			}
			mu.Lock()
			pkts = append(pkts, g)
			mu.Unlock()
		}
	}()
	steps := append(DTMFKeys("11#", 100*time.Millisecond), DTMFStep{Key: '*', After: 500 * time.Millisecond})
	if err := ear.Press(101, steps); err != nil {
		t.Fatal(err)
	}
	ear.Talk(200 * time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	var events [][]got
	loud := 0
	for i, p := range pkts {
		if p.loud {
			loud++
			if len(events) < 4 {
				t.Errorf("packet %d: sound before Talk", i)
			}
		}
		if p.from != ear.Port() {
			t.Fatalf("packet %d from port %d, not the ear's %d", i, p.from, ear.Port())
		}
		if i > 0 && p.seq != pkts[i-1].seq+1 {
			t.Errorf("packet %d: seq %d after %d", i, p.seq, pkts[i-1].seq)
		}
		if p.pt == 101 {
			if p.marker {
				events = append(events, nil)
			}
			if len(events) == 0 {
				t.Fatalf("packet %d: an event packet before a marker", i)
			}
			events[len(events)-1] = append(events[len(events)-1], p)
		} else if p.pt != 0 {
			t.Errorf("packet %d: payload type %d", i, p.pt)
		}
	}
	if len(events) != 4 {
		t.Fatalf("%d events, want 4", len(events))
	}
	for k, ev := range events {
		if len(ev) != 11 {
			t.Errorf("key %d: %d packets, want 11", k, len(ev))
			continue
		}
		for i, p := range ev {
			want := uint16(min(i+1, 8) * 160)
			if p.event != []byte{1, 1, 11, 10}[k] || p.ts != ev[0].ts || p.end != (i >= 8) || p.duration != want {
				t.Errorf("key %d packet %d: %+v", k, i, p)
			}
		}
		if k > 0 && ev[0].ts <= events[k-1][10].ts {
			t.Errorf("key %d starts at timestamp %d, not after the previous key's", k, ev[0].ts)
		}
	}
	if gap := events[3][0].at.Sub(events[2][10].at); gap < 400*time.Millisecond || gap > 800*time.Millisecond {
		t.Errorf("pause before * was %v, want about 500 ms", gap)
	}
	if gap := events[3][0].ts - events[2][0].ts; gap != 8*160+4000 {
		t.Errorf("* starts %d samples after #, want %d", gap, 8*160+4000)
	}
	if loud < 7 || loud > 12 {
		t.Errorf("%d packets of tone for 200 ms of Talk, want about 10", loud)
	}
	if err := ear.Press(101, DTMFKeys("x", 0)); err == nil {
		t.Error("a key that is no DTMF key was pressed")
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
