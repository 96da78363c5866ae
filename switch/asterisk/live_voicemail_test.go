package asterisk

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/notify/notifytest"
)

// The variables of the live voicemail test (with those of the routing
// tests): the node's voicemail include, which its voicemail.conf
// #tryincludes (with pollmailboxes=yes), and app_voicemail's spool as
// this machine sees it.
const (
	envLiveVoicemailFile  = "SWITCHBOARD_TEST_ASTERISK_VOICEMAIL_FILE"
	envLiveVoicemailSpool = "SWITCHBOARD_TEST_ASTERISK_VOICEMAIL_SPOOL"
)

// livePCAP is sipp's G.711 A-law speech (Debian's sip-tester).
const livePCAP = "/usr/share/sip-tester/g711a.pcap"

// TestLiveVoicemail (issue 14) on a real Asterisk with app_voicemail: a
// carrier calls a DID whose extension's phone does not answer; the
// account's no-answer forward (5 s) sends the call to the extension's
// box, which plays its greeting (an uploaded sound) and records; the
// carrier talks 5 s of speech (sipp play_pcap_audio) and hangs up. The
// indexer deposits the message (duration 5 ± 1 s, audio not silent) and
// the phone gets an MWI NOTIFY (Messages-Waiting: yes); read through the
// Service moves the files to Old and the lamp goes off; delete removes
// them. The listening menu asks a phone of the box's extension for the
// PIN of its own box, anyone else for a box number.
func TestLiveVoicemail(t *testing.T) {
	if _, err := os.Stat(livePCAP); err != nil {
		t.Skipf("no %s (Debian's sip-tester has it): %v", livePCAP, err)
	}
	rr, box, boxDir := startVoicemailNode(t)
	ctx, admin := t.Context(), provisioning.AdminScope()
	results := map[string]string{}
	defer func() {
		for k, v := range results {
			t.Logf("RESULT %s: %s", k, v)
		}
	}()

	rr.carrierGateway("sblive-vm")
	p, a := rr.phone("alice")
	phone := startSIPPhone(t, p.port)
	x := &provisioning.Extension{RoutingMeta: rr.in, Number: strconv.Itoa(liveUserBase + 98), Name: "Alice", Destination: acctDest(a)}
	must(t, rr.svc.CreateExtension(ctx, admin, x))
	greeting := &provisioning.Sound{TenantID: rr.tenant.ID, Name: "vm greeting"}
	must(t, rr.svc.CreateSound(ctx, admin, greeting, bytes.NewReader(toneWAV(t, 1))))
	waitFor(t, 5*time.Second, "the greeting in sounds_dir", func() bool {
		_, err := os.Stat(filepath.Join(rr.sounds, SoundLayout(*greeting, 8000)))
		return err == nil
	})
	mails := notifytest.Start(t, rr.svc) // the box's owner is told by e-mail, through a loopback SMTP server
	vb := &provisioning.VoicemailBox{RoutingMeta: rr.in, Number: box, Name: "Alice", ExtensionID: &x.ID, PIN: "4321", UnavailableGreetingID: &greeting.ID, MaxMessageSecs: 60,
		Email: "alice@live.example"}
	must(t, rr.svc.CreateVoicemailBox(ctx, admin, vb))
	boxDest := provisioning.Destination{Kind: provisioning.DestVoicemail, ID: vb.ID}
	must(t, rr.svc.CreateForward(ctx, admin, &provisioning.Forward{AccountID: &a.ID, On: provisioning.ForwardNoAnswer, AfterSecs: 5, Destination: boxDest, Enabled: true}))
	mailbox := box + "@" + VoicemailContext(rr.tenant.ID)
	waitFor(t, 10*time.Second, "the box in app_voicemail", func() bool {
		out, _ := rr.node.runCLI(ctx, "voicemail show users for "+VoicemailContext(rr.tenant.ID))
		return strings.Contains(out, box)
	})
	waitFor(t, 10*time.Second, "mailboxes on the phone's endpoint", func() bool {
		fs, err := rr.direct.Get(ctx, ObjectRef{PJSIPEndpoint, p.user})
		return err == nil && slicesContainsField(fs, "mailboxes", mailbox)
	})
	did := rr.did(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID})
	rr.settled("VoiceMail(" + mailbox + ",s)")

	// The call: 5 s of ringing, the 1 s greeting, the beep, 5 s of talk.
	call := startSipp(t, "carrier_vm_uac.xml", []string{"GREETING_MS", "1500", "TALK_MS", "5000", "PCAP", livePCAP},
		rr.node.sip, "-key", "callee", did, "-i", "127.0.0.2", "-p", strconv.Itoa(freeUDPPort(t)), "-mp", strconv.Itoa(freeUDPPort(t)),
		"-m", "1", "-timeout", "40s", "-timeout_error")
	if err := call.wait(40 * time.Second); err != nil {
		t.Fatalf("the carrier's call: %v", err)
	}
	hungUp := time.Now()
	var msg provisioning.VoicemailMessage
	listed := waitFor(t, 15*time.Second, "the message listed", func() bool {
		ms, err := rr.svc.VoicemailMessages(ctx, admin, provisioning.VoicemailFilter{BoxID: vb.ID})
		if err != nil || len(ms) == 0 {
			return false
		}
		msg = ms[0]
		return true
	})
	_ = listed
	fromHangup := time.Since(hungUp)
	if phone.invites() == 0 {
		t.Errorf("the phone was not rung before the forward")
	}
	if msg.DurationMS < 4000 || msg.DurationMS > 6000 || msg.Switch != liveSwitch || msg.Read {
		t.Errorf("message %+v: want 5 ± 1 s, unread, from %s", msg, liveSwitch)
	}
	_, wav, err := rr.svc.VoicemailAudio(ctx, admin, msg.ID)
	must(t, err)
	clip, _, err := audio.Decode(bytes.NewReader(wav), audio.Limits{})
	must(t, err)
	if clip.Silent() {
		t.Errorf("the message's audio is silent")
	}
	results["deposit"] = fmt.Sprintf("listed %v after the carrier's BYE (indexer every 2 s), duration %d ms, caller %q, silent %v",
		fromHangup.Round(10*time.Millisecond), msg.DurationMS, msg.CallerIDNumber, clip.Silent())
	e := mails.Wait(t, "alice@live.example", 10*time.Second)
	if !bytes.Equal(e.Attachment, wav) || e.AttachmentType != "audio/wav" || !strings.Contains(e.Subject, "+15550001111") {
		t.Errorf("the e-mail: subject %q, attachment %s of %d bytes (the message's audio: %d bytes)", e.Subject, e.AttachmentType, len(e.Attachment), len(wav))
	}
	results["e-mail"] = fmt.Sprintf("%q received by the loopback SMTP server %v after the BYE, the message's WAV attached (%d bytes)",
		e.Subject, time.Since(hungUp).Round(10*time.Millisecond), len(e.Attachment))
	inbox := filepath.Join(boxDir, "INBOX", "msg0000.txt")
	if _, err := os.Stat(inbox); err != nil {
		t.Errorf("the message's file: %v", err)
	}
	on := waitForMWI(t, phone, "yes", 10*time.Second)
	results["mwi on"] = on

	// Read through the Service: the files go to Old, the lamp off.
	start := time.Now()
	_, err = rr.svc.MarkVoicemail(ctx, admin, msg.ID, true)
	must(t, err)
	waitFor(t, 10*time.Second, "the message in Old", func() bool {
		_, err := os.Stat(filepath.Join(boxDir, "Old", "msg0000.txt"))
		_, gone := os.Stat(inbox)
		return err == nil && gone != nil
	})
	moved := time.Since(start)
	off := waitForMWI(t, phone, "no", 10*time.Second)
	results["read"] = fmt.Sprintf("files in Old after %v; MWI %s", moved.Round(10*time.Millisecond), off)

	// Delete through the Service: the files go.
	must(t, rr.svc.DeleteVoicemail(ctx, admin, msg.ID))
	waitFor(t, 10*time.Second, "the message's files deleted", func() bool {
		ents, _ := os.ReadDir(filepath.Join(boxDir, "Old"))
		return len(ents) == 0
	})
	time.Sleep(3 * time.Second) // a scan after the delete deposits nothing again
	if ms, _ := rr.svc.VoicemailMessages(ctx, admin, provisioning.VoicemailFilter{BoxID: vb.ID}); len(ms) != 0 {
		t.Errorf("after delete: %+v", ms)
	}

	// The listening menu: alice's own box (its PIN asked), anyone else
	// a box number.
	menu := &provisioning.Extension{RoutingMeta: rr.in, Number: strconv.Itoa(liveUserBase + 97), Name: "Voicemail", Destination: provisioning.Destination{Kind: provisioning.DestVoicemailMain}}
	must(t, rr.svc.CreateExtension(ctx, admin, menu))
	rr.settled("VoiceMailMain(" + mailbox + ")")
	caller := p
	caller.port = freeUDPPort(t)
	for _, tc := range []struct {
		name string
		run  func() *sippRun
		want string
	}{
		{"from alice's phone", func() *sippRun { return rr.node.call(t, caller, menu.Number) }, "VoiceMailMain(" + mailbox + ")"},
		{"from elsewhere", func() *sippRun {
			_, err := rr.node.runCLI(ctx, "channel originate Local/"+menu.Number+"@"+TenantContext(rr.tenant.ID)+" application Wait 8")
			must(t, err)
			return nil
		}, "VoiceMailMain(@" + VoicemailContext(rr.tenant.ID) + ")"},
	} {
		s := tc.run()
		var seen []string
		ok := false
		deadline := time.Now().Add(8 * time.Second)
		for !ok && time.Now().Before(deadline) {
			seen = rr.channelApps(t)
			for _, c := range seen {
				ok = ok || strings.Contains(c, tc.want)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !ok {
			t.Errorf("%s: no channel runs %s; channels: %v", tc.name, tc.want, seen)
		}
		results["menu "+tc.name] = strings.Join(seen, "; ")
		if s != nil {
			stopped(s)
		}
	}
}

func slicesContainsField(fs []Field, name, value string) bool {
	for _, f := range fs {
		if f.Attribute == name && f.Value == value {
			return true
		}
	}
	return false
}

// waitForMWI waits for a NOTIFY of the phone saying Messages-Waiting:
// state and returns how it came.
func waitForMWI(t *testing.T, ph *sipPhone, state string, within time.Duration) string {
	t.Helper()
	start := time.Now()
	var got string
	for time.Since(start) < within {
		if body, ok := ph.lastNotify(); ok && strings.Contains(strings.ToLower(body), "messages-waiting: "+state) {
			got = strings.Join(strings.Fields(body), " ")
			return fmt.Sprintf("NOTIFY %q within %v", got, time.Since(start).Round(10*time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
	body, _ := ph.lastNotify()
	t.Errorf("no MWI NOTIFY with Messages-Waiting: %s within %v (last: %q)", state, within, body)
	return "none"
}

// sipPhone is a phone's UDP end for the voicemail test: it rings (180)
// on INVITE and never answers (the no-answer forward), answers CANCEL,
// and takes NOTIFYs (MWI), OPTIONS and BYE with 200. sipp would need one
// scenario per message order; this is the least SIP that does.
type sipPhone struct {
	conn *net.UDPConn
	mu   sync.Mutex
	inv  int
	body string
	note bool
}

func startSIPPhone(t *testing.T, port int) *sipPhone {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	ph := &sipPhone{conn: c}
	t.Cleanup(func() { c.Close() })
	go ph.serve()
	return ph
}

func (ph *sipPhone) invites() int { ph.mu.Lock(); defer ph.mu.Unlock(); return ph.inv }

func (ph *sipPhone) lastNotify() (string, bool) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return ph.body, ph.note
}

func (ph *sipPhone) serve() {
	buf := make([]byte, 65535)
	invites := map[string]string{} // Call-ID → the INVITE
	for {
		n, from, err := ph.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		msg := string(buf[:n])
		head, body, _ := strings.Cut(msg, "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		method, _, _ := strings.Cut(lines[0], " ")
		if strings.HasPrefix(lines[0], "SIP/2.0") {
			continue // a response
		}
		callID := sipHeader(lines, "Call-ID")
		reply := func(req []string, status string) {
			var b strings.Builder
			b.WriteString("SIP/2.0 " + status + "\r\n")
			for _, l := range req[1:] {
				name, _, _ := strings.Cut(l, ":")
				switch strings.ToLower(strings.TrimSpace(name)) {
				case "via", "v", "from", "f", "call-id", "i", "cseq":
					b.WriteString(l + "\r\n")
				case "to", "t":
					if !strings.Contains(l, "tag=") {
						l += ";tag=sbphone"
					}
					b.WriteString(l + "\r\n")
				}
			}
			b.WriteString("Content-Length: 0\r\n\r\n")
			_, _ = ph.conn.WriteToUDP([]byte(b.String()), from)
		}
		switch method {
		case "INVITE":
			ph.mu.Lock()
			ph.inv++
			ph.mu.Unlock()
			invites[callID] = head
			reply(lines, "180 Ringing")
		case "CANCEL":
			reply(lines, "200 OK")
			if inv, ok := invites[callID]; ok {
				reply(strings.Split(inv, "\r\n"), "487 Request Terminated")
			}
		case "NOTIFY":
			ph.mu.Lock()
			ph.body, ph.note = body, true
			ph.mu.Unlock()
			reply(lines, "200 OK")
		case "ACK":
		default:
			reply(lines, "200 OK")
		}
	}
}

func sipHeader(lines []string, name string) string {
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// carrierGateway creates a gateway of the tenant named prefix-<base>
// whose identify matches 127.0.0.2, where the carrier scenarios call
// from, and waits for it on the node; it is deleted when the test ends.
func (rr *routingRig) carrierGateway(prefix string) *provisioning.Gateway {
	t, ctx := rr.t, rr.t.Context()
	gw := &provisioning.Gateway{Name: fmt.Sprintf("%s-%d", prefix, liveUserBase), Host: "127.0.0.2", Port: freeUDPPort(t), TenantID: &rr.tenant.ID}
	must(t, rr.svc.CreateGateway(ctx, provisioning.AdminScope(), gw))
	t.Cleanup(func() {
		_ = rr.pusher.Apply(context.Background(), provisioning.Change{Op: provisioning.OpDelete, Gateway: gw})
	})
	waitFor(t, 10*time.Second, "the gateway on the node", func() bool {
		_, err := rr.direct.Get(ctx, ObjectRef{PJSIPEndpoint, gw.Name})
		return err == nil
	})
	return gw
}
