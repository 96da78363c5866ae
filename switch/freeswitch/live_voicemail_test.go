package freeswitch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/notify/notifytest"
)

// livePCAPEnv names a G.711 A-law RTP capture the carrier plays as its
// message; sipp's own sample by default.
const livePCAPEnv = "SWITCHBOARD_TEST_FREESWITCH_PCAP"

// TestLiveVoicemail (issue 14) on a real FreeSWITCH with mod_voicemail:
// a carrier calls a DID → an extension whose phone does not answer; its
// account's no-answer forward (5 s) sends the call to the extension's
// box; after the beep the carrier sends 5 s of speech (sipp
// play_pcap_audio) and hangs up. The message is deposited (event and
// file) with its duration and non-silent audio, the phone gets an MWI
// NOTIFY (yes); read through the Service → read on the switch; deleted
// → gone from vm_list and from the disk, and the phone's MWI goes off.
// The listening menu answers with `voicemail check` of the tenant's
// voicemail domain.
func TestLiveVoicemail(t *testing.T) {
	node := requireLiveNode(t)
	pcap := os.Getenv(livePCAPEnv)
	if pcap == "" {
		pcap = "/usr/share/sip-tester/g711a.pcap"
	}
	if _, err := os.Stat(pcap); err != nil {
		t.Skipf("no G.711 A-law pcap for the caller's message (%v): set %s", err, livePCAPEnv)
	}
	if ans := eslCommand(t, node, "api module_exists mod_voicemail"); !strings.Contains(ans, "true") {
		t.Skipf("mod_voicemail is not loaded on the node: %q", ans)
	}
	sounds := t.TempDir() // FreeSWITCH on this machine reads it
	r := newLiveRig(t, node, withRouting(), withSounds(t, sounds))
	r.waitConnected(t)
	external := profileAddress(t, node, "external")
	ctx, sc := context.Background(), provisioning.AdminScope()
	must := liveMust
	tenant := r.tenantID(t)
	in := provisioning.RoutingMeta{TenantID: tenant}
	var results []string
	t.Cleanup(func() {
		for _, x := range results {
			t.Logf("| %s |", x)
		}
	})

	// The phone rung (account A, extension x: no answer, forwarded after
	// 5 s to box) and the box's owner (account B, extension y, the box's
	// extension: its mwi-account). Two phones because sipp takes each
	// unsolicited NOTIFY (a Call-ID of its own) as a new call, which a
	// ringing UAS cannot take too: B's UAS only answers NOTIFYs.
	stamp := strconv.FormatInt(time.Now().UnixMilli()%100000, 10)
	userA := liveUser(t, 90)
	uas := startPhone(t, userA+" phone_ring.xml", "phone_ring.xml", "", "-s", userA)
	acctA, secretA := r.account(t, userA)
	phone := &livePhoneOf{acct: acctA, secret: secretA, uas: uas, port: uas.port}
	acctB, secretB := r.account(t, liveUser(t, 91))
	x := &provisioning.Extension{RoutingMeta: in, Number: "7" + stamp, Name: "vm phone", Destination: provisioning.Destination{Kind: provisioning.DestAccount, ID: acctA.ID}}
	must(t, r.svc.CreateExtension(ctx, sc, x))
	y := &provisioning.Extension{RoutingMeta: in, Number: "8" + stamp, Name: "box owner", Destination: provisioning.Destination{Kind: provisioning.DestAccount, ID: acctB.ID}}
	must(t, r.svc.CreateExtension(ctx, sc, y))
	mails := notifytest.Start(t, r.svc) // the box's owner is told by e-mail, through a loopback SMTP server
	box := &provisioning.VoicemailBox{RoutingMeta: in, Number: "9" + stamp, Name: "vm", ExtensionID: &y.ID, PIN: "24680", MaxMessageSecs: 30,
		Email: "owner@live.example"}
	must(t, r.svc.CreateVoicemailBox(ctx, sc, box))
	must(t, r.svc.CreateForward(ctx, sc, &provisioning.Forward{AccountID: &acctA.ID, On: provisioning.ForwardNoAnswer, AfterSecs: 5,
		Destination: provisioning.Destination{Kind: provisioning.DestVoicemail, ID: box.ID}, Enabled: true}))
	did := "+1555" + stamp + "90"
	xd := provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}
	must(t, r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: tenant, Number: did, Destination: &xd}))
	r.register(t, phone)
	mwiUAS := startPhone(t, acctB.Username+" phone_mwi.xml", "phone_mwi.xml", "", "-s", acctB.Username, "-m", "100")
	owner := &livePhoneOf{acct: acctB, secret: secretB, uas: mwiUAS, port: mwiUAS.port}
	r.register(t, owner)
	dom := VoicemailDomain(tenant)
	if reg := eslCommand(t, node, "api sofia xmlstatus profile internal user "+acctB.AOR()); !strings.Contains(reg, "<mwi-account>"+box.Number+"@"+dom+"</mwi-account>") {
		t.Errorf("the box owner's registration has not its box as mwi-account:\n%s", reg)
	}
	// the carrier's message: 1.2 s after the answer (the beep), 5 s of speech
	scen, err := os.ReadFile(filepath.Join("testdata", "sipp", "carrier_vm.xml"))
	must(t, err)
	scenario := filepath.Join(t.TempDir(), "carrier_vm.xml")
	// (on a node with mod_voicemail's prompts the box, which has no
	// greeting yet, says "the person at extension … is not available"
	// first: about 8 s)
	wait := "1200"
	if _, ok := vmPrompts(t, node); ok {
		wait = "10000"
	}
	must(t, os.WriteFile(scenario, []byte(strings.NewReplacer("WAIT_MS", wait, "TALK_MS", "5000", "PCAP_FILE", pcap).Replace(string(scen))), 0o644))
	call := startPhone(t, "carrier "+did, scenario, external, "-s", "carrier", "-key", "dest", did)
	must(t, phone.finished(20*time.Second)) // rung, cancelled after 5 s
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	call.wait(cctx)
	cancel()
	hungUp := call.endsAt
	var msg provisioning.VoicemailMessage
	listed := waitFor(t, 20*time.Second, "the message in the Service", func() bool {
		ms, err := r.svc.VoicemailMessages(ctx, sc, provisioning.VoicemailFilter{BoxID: box.ID})
		if err != nil || len(ms) == 0 {
			return false
		}
		msg = ms[0]
		return true
	})
	took := time.Since(hungUp)
	_ = listed
	if msg.DurationMS < 4000 || msg.DurationMS > 6000 {
		t.Errorf("message of %d ms, want 5 ± 1 s", msg.DurationMS)
	}
	if msg.CallerIDNumber != "+15550001111" || msg.Switch != node.Name || msg.Read {
		t.Errorf("message %+v", msg)
	}
	_, wav, err := r.svc.VoicemailAudio(ctx, sc, msg.ID)
	must(t, err)
	clip, _, err := audio.Decode(bytes.NewReader(wav), provisioning.VoicemailLimits)
	must(t, err)
	if clip.Silent() {
		t.Error("the message's audio is silent")
	}
	results = append(results, "message left: listed "+took.Round(10*time.Millisecond).String()+" after the carrier's BYE completed, "+
		strconv.FormatInt(msg.DurationMS, 10)+" ms, audio not silent")
	e := mails.Wait(t, "owner@live.example", 10*time.Second)
	if !bytes.Equal(e.Attachment, wav) || e.AttachmentType != "audio/wav" || !strings.Contains(e.Subject, "+15550001111") {
		t.Errorf("the e-mail: subject %q, attachment %s of %d bytes (the message's audio: %d bytes)", e.Subject, e.AttachmentType, len(e.Attachment), len(wav))
	}
	results = append(results, "e-mail: "+strconv.Quote(e.Subject)+" received by the loopback SMTP server "+
		time.Since(hungUp).Round(10*time.Millisecond).String()+" after the BYE, the message's WAV attached ("+strconv.Itoa(len(e.Attachment))+" bytes)")
	list := eslCommand(t, node, "api vm_list "+box.Number+"@"+dom)
	ms := parseVMList(list)
	if len(ms) != 1 || ms[0].UUID != msg.SwitchRef || ms[0].Read {
		t.Fatalf("vm_list: %q, want the message %s unread", list, msg.SwitchRef)
	}
	path := ms[0].Path

	// read through the Service: read on the switch
	start := time.Now()
	_, err = r.svc.MarkVoicemail(ctx, sc, msg.ID, true)
	must(t, err)
	waitFor(t, 10*time.Second, "vm_read on the switch", func() bool {
		ms := parseVMList(eslCommand(t, node, "api vm_list "+box.Number+"@"+dom))
		return len(ms) == 1 && ms[0].Read
	})
	results = append(results, "read through the Service: read in mod_voicemail after "+time.Since(start).Round(time.Millisecond).String())
	// the owner's lamp: on when the message came, off once it was read
	onOff := func() bool {
		st := strings.Join(mwiStates(mwiUAS), " ")
		i := strings.Index(st, "yes")
		return i >= 0 && strings.Contains(st[i:], "no")
	}
	if waitForOK(10*time.Second, onOff) {
		results = append(results, "MWI: the owner's phone got NOTIFY Messages-Waiting: "+strings.Join(mwiStates(mwiUAS), ", "))
	} else {
		t.Errorf("MWI NOTIFYs to the owner's phone: %v, want yes then no", mwiStates(mwiUAS))
	}

	// deleted through the Service: gone from vm_list and the disk
	start = time.Now()
	must(t, r.svc.DeleteVoicemail(ctx, sc, msg.ID))
	waitFor(t, 10*time.Second, "vm_delete on the switch", func() bool {
		return len(parseVMList(eslCommand(t, node, "api vm_list "+box.Number+"@"+dom))) == 0
	})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the message's file %s after the delete: %v", path, err)
	}
	results = append(results, "deleted through the Service: gone from vm_list and the disk after "+time.Since(start).Round(time.Millisecond).String())

	// the box's greeting and length: an uploaded greeting (6 s), played
	// from sounds_dir before the beep, and 10 s, bounding the message of
	// a caller (loopback) that plays a 21 s tone without a pause into the
	// box's number
	welcome, err := os.Open(filepath.Join("..", "..", "testdata", "sounds", "welcome.wav"))
	must(t, err)
	defer welcome.Close()
	greeting := &provisioning.Sound{TenantID: tenant, Name: "vm greeting"}
	must(t, r.svc.CreateSound(ctx, sc, greeting, welcome))
	waitFor(t, 5*time.Second, "the greeting in sounds_dir", func() bool {
		_, err := os.Stat(filepath.Join(sounds, SoundLayout(*greeting, 8000)))
		return err == nil
	})
	_, err = r.svc.UpdateVoicemailBox(ctx, sc, box.ID, func(b *provisioning.VoicemailBox) error {
		b.MaxMessageSecs = provisioning.MinVoicemailMaxSecs
		b.UnavailableGreetingID = &greeting.ID
		return nil
	})
	must(t, err)
	eslCommand(t, node, "api originate loopback/"+box.Number+"/"+RoutingContext(tenant)+" &playback(tone_stream://%(21000,0,440))")
	greetingPath := SoundPath(sounds, tenant, greeting.ID)
	if !waitForOK(5*time.Second, func() bool { return strings.Contains(eslCommand(t, node, "api show channels"), greetingPath) }) {
		t.Errorf("no channel played the box's greeting %s", greetingPath)
	}
	var long provisioning.VoicemailMessage
	waitFor(t, 30*time.Second, "the bounded message", func() bool {
		ms, err := r.svc.VoicemailMessages(ctx, sc, provisioning.VoicemailFilter{BoxID: box.ID})
		if err != nil || len(ms) == 0 {
			return false
		}
		long = ms[0]
		return true
	})
	if max := int64(provisioning.MinVoicemailMaxSecs) * 1000; long.DurationMS < max-1000 || long.DurationMS > max+1000 {
		t.Errorf("a 21 s tone in a box of %d s: %d ms", provisioning.MinVoicemailMaxSecs, long.DurationMS)
	}
	results = append(results, fmt.Sprintf("the box's greeting played from sounds_dir, then a 21 s tone into a box of %d s: message of %d ms (sched_hangup)", provisioning.MinVoicemailMaxSecs, long.DurationMS))
	must(t, r.svc.DeleteVoicemail(ctx, sc, long.ID))

	// the listening menu: a DID to voicemail_main, answered by voicemail
	// check, which asks for the box number (then its PIN). This node has
	// no prompts (sounds not installed): mod_voicemail, failing to play
	// vm-enter_id, says goodbye and hangs up; the switch ending the call
	// after answering it is what is checked.
	mainDID := "+1555" + stamp + "91"
	vmMain := provisioning.Destination{Kind: provisioning.DestVoicemailMain}
	must(t, r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: tenant, Number: mainDID, Destination: &vmMain}))
	listen := startPhone(t, "carrier "+mainDID, "carrier_hungup.xml", external, "-s", "carrier", "-key", "dest", mainDID)
	seen := waitForOK(10*time.Second, func() bool {
		return strings.Contains(eslCommand(t, node, "api show channels"), "check default "+dom)
	})
	// with prompts, mod_voicemail waits for the box number: end it
	eslCommand(t, node, "api hupall NORMAL_CLEARING sip_to_user "+strings.TrimPrefix(mainDID, "+"))
	eslCommand(t, node, "api hupall NORMAL_CLEARING sip_to_user "+mainDID)
	cctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	listen.wait(cctx) // answered (200), then hung up by the switch
	cancel()
	if !seen {
		t.Errorf("no channel ran voicemail check default %s", dom)
	}
	results = append(results, "listening menu: answered, ran voicemail check default "+dom+" (asks for the box number)")
}

// waitForOK polls cond until it holds or d passed.
func waitForOK(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
