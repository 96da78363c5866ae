package asterisk

import (
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestLiveFaxDetect (issue 14) on a real Asterisk with res_fax and
// res_fax_spandsp, through the routing the Service renders (the routing
// variables, and SWITCHBOARD_TEST_ASTERISK_FAX_DIR and _FAX_SEND): an
// extension with fax detection rings alice's phone, which never answers;
//
//   - a fax machine calls it (a Local channel's SendFAX, G.711 with CNG):
//     res_fax hears the CNG during the Dial, the call leaves the Dial for
//     the fax box, and the fax is listed with 2 pages and a PDF;
//   - a voice call (a carrier through a DID, no tones) to the same
//     extension is answered by Asterisk at once, rings the phone, and is
//     bridged when the phone answers.
func TestLiveFaxDetect(t *testing.T) {
	dir, send := os.Getenv(envFaxDir), os.Getenv(envFaxSend)
	if dir == "" || send == "" {
		t.Skipf("set %s and %s (with the routing variables) to run against a real Asterisk", envFaxDir, envFaxSend)
	}
	rr := startFaxRoutingRig(t, dir)
	ctx, admin := t.Context(), provisioning.AdminScope()
	results := liveResults(t)

	rr.carrierGateway("sblive-fd")
	alice, aa := rr.phone("alice")
	box := &provisioning.FaxBox{RoutingMeta: rr.in, Name: "detected faxes"}
	must(t, rr.svc.CreateFaxBox(ctx, admin, box))
	x := &provisioning.Extension{RoutingMeta: rr.in, Number: strconv.Itoa(liveUserBase + 81), Name: "Alice", Destination: acctDest(aa),
		FaxDetect: &provisioning.FaxDetect{BoxID: box.ID, Seconds: 20}}
	must(t, rr.svc.CreateExtension(ctx, admin, x))
	rr.settled("Set(FAXOPT(faxdetect)=yes,20)")

	// 1. A fax: the phone rings on and on; the CNG takes the call.
	ringing := rr.uas(alice, "ring_uas.xml", 0)
	start := time.Now()
	_, err := rr.node.runCLI(ctx, "channel originate Local/"+x.Number+"@"+TenantContext(rr.tenant.ID)+" application SendFAX "+send+",f")
	must(t, err)
	var list []provisioning.Fax
	waitFor(t, 120*time.Second, "the fax listed", func() bool {
		list, err = rr.svc.Faxes(ctx, admin, provisioning.FaxFilter{BoxID: box.ID})
		must(t, err)
		return len(list) > 0
	})
	// The detection ended the Dial: the phone was rung, then cancelled.
	if err := ringing.wait(10 * time.Second); err != nil || ringing.received("INVITE") != 1 || ringing.received("CANCEL") != 1 {
		t.Errorf("the phone: %v, %d INVITE, %d CANCEL; want rung and cancelled", err, ringing.received("INVITE"), ringing.received("CANCEL"))
	}
	got := list[0]
	if got.Status != provisioning.FaxReceived || got.Pages != 2 {
		t.Errorf("fax: %+v", got)
	}
	_, pdf, err := rr.svc.FaxPDF(ctx, admin, got.ID)
	must(t, err)
	if len(pdf) == 0 {
		t.Error("no PDF")
	}
	results["fax"] = fmt.Sprintf("%s, %d pages, PDF %d bytes, listed %v after the originate; the phone got %d INVITE and %d CANCEL",
		got.Status, got.Pages, len(pdf), time.Since(start).Round(100*time.Millisecond), ringing.received("INVITE"), ringing.received("CANCEL"))

	// 2. A voice call through a DID: answered by Asterisk at once; the
	// phone rings 3 s, answers, and hangs up after 3 s. The carrier's
	// audio goes to rtp, which hears what the caller heard meanwhile.
	did := rr.did(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID})
	phone := startSipp(t, "answer_uas.xml", []string{"HOLD_MS", "3000", `<pause milliseconds="200" />`, `<pause milliseconds="3000" />`},
		"-i", "127.0.0.1", "-p", strconv.Itoa(alice.port), "-m", "1", "-timeout", "40s", "-timeout_error")
	waitUDPBound(t, phone, alice.port)
	rtp := listenRTP(t, "127.0.0.2")
	start = time.Now()
	call := startSipp(t, "carrier_uac.xml", []string{"+15550001111", "+15550001113", "m=audio [media_port]", "m=audio " + strconv.Itoa(rtp.port)},
		rr.node.sip, "-key", "callee", did, "-i", "127.0.0.2", "-p", strconv.Itoa(freeUDPPort(t)), "-m", "1", "-timeout", "40s", "-timeout_error")
	if err := call.wait(40 * time.Second); err != nil {
		t.Fatalf("the voice call: %v", err)
	}
	if err := phone.wait(5 * time.Second); err != nil {
		t.Errorf("the phone's side of the voice call: %v", err)
	}
	if l, _ := rr.svc.Faxes(ctx, admin, provisioning.FaxFilter{BoxID: box.ID}); len(l) != 1 {
		t.Errorf("faxes after the voice call: %d", len(l))
	}
	// The ring tone (indications.conf us: 440+480 Hz, 2 s on, 4 s off)
	// while the phone rang: at least a second of packets carrying it.
	ring := rtp.tonePackets(440)
	if ring < 50 {
		t.Errorf("the caller heard %d packets of ring tone (of %d) while the phone rang, want ≥ 50", ring, rtp.packets())
	}
	results["voice"] = fmt.Sprintf("answered by Asterisk, the phone rang 3 s and answered, ended after %v; the caller got %d RTP packets, %d of them ring tone; no fax",
		time.Since(start).Round(100*time.Millisecond), rtp.packets(), ring)
}

// rtpSink takes the RTP of one call (PCMU) and keeps its payloads.
type rtpSink struct {
	port int
	mu   sync.Mutex
	pay  [][]byte
}

func listenRTP(t *testing.T, ip string) *rtpSink {
	t.Helper()
	c, err := net.ListenPacket("udp4", ip+":0")
	must(t, err)
	t.Cleanup(func() { c.Close() })
	s := &rtpSink{port: c.LocalAddr().(*net.UDPAddr).Port}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if n > 12 && buf[1]&0x7f == 0 { // PCMU
				s.mu.Lock()
				s.pay = append(s.pay, append([]byte(nil), buf[12:n]...))
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *rtpSink) packets() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.pay) }

// tonePackets counts the packets whose power at hz (Goertzel) is most
// of their power: a tone there, not silence or speech.
func (s *rtpSink) tonePackets(hz float64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.pay {
		x := make([]float64, len(p))
		var total float64
		for i, u := range p {
			x[i] = float64(ulawLinear(u))
			total += x[i] * x[i]
		}
		if total < float64(len(p))*100*100 {
			continue // silence
		}
		k := 2 * math.Cos(2*math.Pi*hz/8000)
		var s1, s2 float64
		for _, v := range x {
			s1, s2 = v+k*s1-s2, s1
		}
		power := (s1*s1 + s2*s2 - k*s1*s2) * 2 / float64(len(p))
		if power > total/4 {
			n++
		}
	}
	return n
}

// ulawLinear is G.711 µ-law decoding.
func ulawLinear(u byte) int16 {
	u = ^u
	t := (int(u&0x0f)<<3 + 0x84) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

// startFaxRoutingRig is the routing rig with fax_dir (made 0777 for
// Asterisk) and a FaxIndexer on it; the fax tests need the CLI too.
func startFaxRoutingRig(t *testing.T, dir string) *routingRig {
	must(t, os.MkdirAll(dir, 0o777))
	must(t, os.Chmod(dir, 0o777))
	rr := startRoutingRigWith(t, func(o *PushOptions, _ *provisioning.Service) { o.FaxDir = dir })
	if rr.node.cli == nil {
		t.Skipf("%s is not set: the fax tests originate and read fax show stats with the CLI", envLiveCLI)
	}
	ix := NewFaxIndexer(FaxIndexerConfig{Node: liveSwitch, Dir: dir, Service: rr.svc, Every: 500 * time.Millisecond})
	runLive(t, ix.Run)
	return rr
}
