package freeswitch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/provisioning"
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
	r := newLiveRig(t, node, withRouting())
	r.waitConnected(t)
	external := profileAddress(t, node, "external")
	ctx, sc := context.Background(), provisioning.AdminScope()
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ts, err := r.svc.Tenants(ctx, sc, provisioning.TenantFilter{})
	must(t, err)
	tenant := ts[0].ID
	in := provisioning.RoutingMeta{TenantID: tenant}
	var results []string
	t.Cleanup(func() {
		for _, x := range results {
			t.Logf("| %s |", x)
		}
	})

	// the phone, its extension, its box (made before the phone
	// registers: the box is its mwi-account) and the no-answer forward
	user := liveUser(t, 90)
	acct, secret := r.account(t, user)
	stamp := strconv.FormatInt(time.Now().UnixMilli()%100000, 10)
	x := &provisioning.Extension{RoutingMeta: in, Number: "7" + stamp, Name: "vm phone", Destination: provisioning.Destination{Kind: provisioning.DestAccount, ID: acct.ID}}
	must(t, r.svc.CreateExtension(ctx, sc, x))
	box := &provisioning.VoicemailBox{RoutingMeta: in, Number: "9" + stamp, Name: "vm", ExtensionID: &x.ID, PIN: "24680", MaxMessageSecs: 30}
	must(t, r.svc.CreateVoicemailBox(ctx, sc, box))
	must(t, r.svc.CreateForward(ctx, sc, &provisioning.Forward{AccountID: &acct.ID, On: provisioning.ForwardNoAnswer, AfterSecs: 5,
		Destination: provisioning.Destination{Kind: provisioning.DestVoicemail, ID: box.ID}, Enabled: true}))
	did := "+1555" + stamp + "90"
	xd := provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}
	must(t, r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: tenant, Number: did, Destination: &xd}))
	uas := startPhone(t, user+" phone_ring_mwi.xml", "phone_ring_mwi.xml", "", "-s", user)
	phone := &livePhoneOf{acct: acct, secret: secret, uas: uas, port: uas.port}
	r.register(t, phone)
	dom := VoicemailDomain(tenant)
	if reg := eslCommand(t, node, "api sofia xmlstatus profile internal user "+acct.AOR()); !strings.Contains(reg, "<mwi-account>"+box.Number+"@"+dom+"</mwi-account>") {
		t.Errorf("the phone's registration has not its box as mwi-account:\n%s", reg)
	}

	// the carrier's message: 1.2 s after the answer (the beep), 5 s of speech
	scen, err := os.ReadFile(filepath.Join("testdata", "sipp", "carrier_vm.xml"))
	must(t, err)
	scenario := filepath.Join(t.TempDir(), "carrier_vm.xml")
	must(t, os.WriteFile(scenario, []byte(strings.NewReplacer("WAIT_MS", "1200", "TALK_MS", "5000", "PCAP_FILE", pcap).Replace(string(scen))), 0o644))
	call := startPhone(t, "carrier "+did, scenario, external, "-s", "carrier", "-key", "dest", did)
	must(t, phone.finished(20*time.Second)) // rung, cancelled after 5 s
	mwi := startPhoneOn(t, user+" phone_mwi.xml", phone.port, "phone_mwi.xml", "", "-s", user)
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
	results = append(results, "read through the Service: read in mod_voicemail after "+time.Since(start).Round(10*time.Millisecond).String())
	// the phone's lamp: on when the message came, off once it was read
	if err := mwi.result(timeoutCtx(t, 15*time.Second)); err != nil {
		t.Errorf("MWI NOTIFYs (yes, then no) to the phone: %v", err)
	} else {
		results = append(results, "MWI: the phone got NOTIFY Messages-Waiting yes, then no after the read")
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
	results = append(results, "deleted through the Service: gone from vm_list and the disk after "+time.Since(start).Round(10*time.Millisecond).String())

	// the listening menu: a DID to voicemail_main, answered by voicemail check
	mainDID := "+1555" + stamp + "91"
	vmMain := provisioning.Destination{Kind: provisioning.DestVoicemailMain}
	must(t, r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: tenant, Number: mainDID, Destination: &vmMain}))
	listen := startPhone(t, "carrier "+mainDID, "carrier_call.xml", external, "-s", "carrier", "-key", "dest", mainDID, "-d", "4000")
	running := ""
	waitFor(t, 10*time.Second, "voicemail check on a channel", func() bool {
		for _, line := range strings.Split(eslCommand(t, node, "api show channels"), "\n") {
			if strings.Contains(line, "check default "+dom) {
				running = line
				return true
			}
		}
		return false
	})
	cctx, cancel = context.WithTimeout(ctx, 20*time.Second)
	listen.wait(cctx) // answered (200), held 4 s, hung up
	cancel()
	results = append(results, "listening menu: answered, running voicemail check default "+dom+" (asks for the box, then its PIN)")
	_ = running
}

func timeoutCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
