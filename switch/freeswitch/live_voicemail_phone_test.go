package freeswitch

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// withVoicemailScanEvery sets the indexer's periodic scan (the daemon's
// default is a minute): a test that must see the event path, not the
// scan, sets it long.
func withVoicemailScanEvery(d time.Duration) liveRigOption {
	return func(r *liveRig, _ *XMLCurlConfig) { r.vm.cfg.ScanEvery = d }
}

// eslWatch is a second ESL connection of the test that keeps the events
// it subscribed to (event plain …), in order.
type eslWatch struct {
	mu     sync.Mutex
	events []Event
	conn   net.Conn
}

// watchESL subscribes to events (e.g. "PLAYBACK_START CUSTOM
// vm::maintenance") until the test ends.
func watchESL(t *testing.T, node liveNode, events string) *eslWatch {
	t.Helper()
	c, err := net.DialTimeout("tcp", node.ESL, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := &eslWatch{conn: c}
	br := bufio.NewReader(c)
	frame := func() (map[string]string, []byte, error) {
		h := map[string]string{}
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return nil, nil, err
			}
			line = strings.TrimRight(line, "\n")
			if line == "" {
				break
			}
			k, v, _ := strings.Cut(line, ": ")
			h[k] = v
		}
		n, _ := strconv.Atoi(h["Content-Length"])
		body := make([]byte, n)
		_, err := io.ReadFull(br, body)
		return h, body, err
	}
	if _, _, err := frame(); err != nil { // auth/request
		t.Fatal(err)
	}
	fmt.Fprintf(c, "auth %s\n\n", node.Password)
	if h, _, err := frame(); err != nil || !strings.HasPrefix(h["Reply-Text"], "+OK") {
		t.Fatalf("ESL auth: %v %v", h, err)
	}
	fmt.Fprintf(c, "event plain %s\n\n", events)
	if h, _, err := frame(); err != nil || !strings.HasPrefix(h["Reply-Text"], "+OK") {
		t.Fatalf("ESL event plain %s: %v %v", events, h, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			h, body, err := frame()
			if err != nil {
				return
			}
			if h["Content-Type"] != "text/event-plain" {
				continue
			}
			if ev, err := ParsePlainEvent(body); err == nil {
				w.mu.Lock()
				w.events = append(w.events, ev)
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return w
}

// since returns the events from the n-th on, and how many there are.
func (w *eslWatch) since(n int) ([]Event, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Event(nil), w.events[min(n, len(w.events)):]...), len(w.events)
}

// mark is where the events of what follows begin.
func (w *eslWatch) mark() int { _, n := w.since(0); return n }

// played lists the files played (PLAYBACK_START) to channels whose
// caller is user since mark, with the channel's uuid.
func (w *eslWatch) played(mark int, user string) (uuid string, files []string) {
	evs, _ := w.since(mark)
	for _, ev := range evs {
		if ev.Name() != "PLAYBACK_START" || ev.Get("Caller-Username") != user {
			continue
		}
		uuid = ev.Get("Unique-ID")
		files = append(files, ev.Get("Playback-File-Path"))
	}
	return uuid, files
}

// stopped reports whether file was played to its end (PLAYBACK_STOP)
// since mark.
func (w *eslWatch) stopped(mark int, file string) bool {
	evs, _ := w.since(mark)
	for _, ev := range evs {
		if ev.Name() == "PLAYBACK_STOP" && strings.HasSuffix(ev.Get("Playback-File-Path"), filepath.Base(file)) {
			return true
		}
	}
	return false
}

// auths lists the vm::maintenance authentication results of box since
// mark.
func (w *eslWatch) auths(mark int, box string) []string {
	evs, _ := w.since(mark)
	var out []string
	for _, ev := range evs {
		if ev.Subclass() == vmEventMaintenance && ev.Get("VM-Action") == "authentication" && ev.Get("VM-User") == box {
			out = append(out, ev.Get("VM-Auth-Result"))
		}
	}
	return out
}

// vmPrompt is the PIN prompt mod_voicemail plays (phrase
// voicemail_enter_pass of lang/en/vm/sounds.xml), relative to the
// node's sound_prefix.
const vmPrompt = "voicemail/vm-enter_pass.wav"

// vmPrompts reports whether the node's sound_prefix holds
// mod_voicemail's prompts (FreeSWITCH's en/us/callie sounds, or any
// files under those names: README.md, Voicemail), which the tests read on
// this machine, and names the prefix.
func vmPrompts(t *testing.T, node liveNode) (string, bool) {
	t.Helper()
	prefix := strings.TrimSpace(eslBody(eslCommand(t, node, "api global_getvar sound_prefix")))
	for _, p := range []string{filepath.Join(prefix, vmPrompt), filepath.Join(prefix, "voicemail", "8000", filepath.Base(vmPrompt))} {
		if _, err := os.Stat(p); err == nil {
			return prefix, true
		}
	}
	return prefix, false
}

// requireVMPrompts skips the test, saying why, unless the node has
// mod_voicemail's prompts.
func requireVMPrompts(t *testing.T, node liveNode) {
	t.Helper()
	if prefix, ok := vmPrompts(t, node); !ok {
		t.Skipf("the node's sound_prefix %q has no %s: listening by phone needs mod_voicemail's prompts (see switch/freeswitch/README.md, Voicemail)", prefix, vmPrompt)
	}
}

// loginCall has phone user call number with an RTP ear and hang up
// after hold unless the switch does first; once the switch answers (its
// first RTP), the ear keys steps (RFC 4733) keysAfter later. It returns
// when the keys are sent, with the time of the answer.
func loginCall(t *testing.T, node liveNode, user, secret, number string, keysAfter, hold time.Duration, keys []switchtest.DTMFStep) (*livePhone, *switchtest.Ear, time.Time) {
	t.Helper()
	ear, err := switchtest.Listen("127.0.0.1")
	liveMust(t, err)
	t.Cleanup(func() { ear.Close() })
	dir := t.TempDir()
	scen, err := os.ReadFile(filepath.Join("testdata", "sipp", "phone_vm_login.xml"))
	liveMust(t, err)
	scenario := filepath.Join(dir, "phone_vm_login.xml")
	liveMust(t, os.WriteFile(scenario, []byte(strings.NewReplacer("EAR_PORT", strconv.Itoa(ear.Port()),
		"HOLD_MS", strconv.FormatInt(hold.Milliseconds(), 10)).Replace(string(scen))), 0o644))
	p := startPhone(t, user+" calls "+number, scenario, node.SIP, "-s", user, "-au", user, "-ap", secret,
		"-key", "callee", number, "-key", "domain", node.Domain, "-mp", strconv.Itoa(freeUDPPort(t)))
	waitFor(t, 15*time.Second, "the menu's answer (RTP to the ear)", ear.Answered)
	answered := time.Now()
	time.Sleep(keysAfter)
	liveMust(t, ear.Press(101, keys))
	return p, ear, answered
}

// vmPhoneTest is the set-up of the listening tests: a node with
// mod_voicemail and its prompts (skipped otherwise), the rig (routing
// on, and opts), the ESL watch, the box owner's account and extension,
// the box (pin) and the listening menu's number; results are logged
// when the test ends.
type vmPhoneTest struct {
	node    liveNode
	r       *liveRig
	tenant  int64
	dom     string // the tenant's voicemail domain
	results map[string]string
	watch   *eslWatch
	user    string // the owner's account
	secret  string
	acct    *provisioning.Account
	box     *provisioning.VoicemailBox
	menu    *provisioning.Extension
}

func startVMPhoneTest(t *testing.T, i int, pin string, opts ...liveRigOption) *vmPhoneTest {
	t.Helper()
	node := requireLiveNode(t)
	if ans := eslCommand(t, node, "api module_exists mod_voicemail"); !strings.Contains(ans, "true") {
		t.Skipf("mod_voicemail is not loaded on the node: %q", ans)
	}
	requireVMPrompts(t, node)
	r := newLiveRig(t, node, append([]liveRigOption{withRouting()}, opts...)...)
	r.waitConnected(t)
	ctx, sc := context.Background(), provisioning.AdminScope()
	v := &vmPhoneTest{node: node, r: r, tenant: r.tenantID(t), results: map[string]string{}}
	v.dom = VoicemailDomain(v.tenant)
	t.Cleanup(func() {
		for k, r := range v.results {
			t.Logf("RESULT %s: %s", k, r)
		}
	})
	v.watch = watchESL(t, node, "PLAYBACK_START PLAYBACK_STOP CUSTOM vm::maintenance")
	in := provisioning.RoutingMeta{TenantID: v.tenant}
	stamp := strconv.FormatInt(time.Now().UnixMilli()%100000, 10)
	v.user = liveUser(t, i)
	v.acct, v.secret = r.account(t, v.user)
	x := &provisioning.Extension{RoutingMeta: in, Number: "8" + stamp, Name: "box owner", Destination: provisioning.Destination{Kind: provisioning.DestAccount, ID: v.acct.ID}}
	liveMust(t, r.svc.CreateExtension(ctx, sc, x))
	v.box = &provisioning.VoicemailBox{RoutingMeta: in, Number: "9" + stamp, Name: "vm", ExtensionID: &x.ID, PIN: pin, MaxMessageSecs: 60}
	liveMust(t, r.svc.CreateVoicemailBox(ctx, sc, v.box))
	v.menu = &provisioning.Extension{RoutingMeta: in, Number: "6" + stamp, Name: "Voicemail", Destination: provisioning.Destination{Kind: provisioning.DestVoicemailMain}}
	liveMust(t, r.svc.CreateExtension(ctx, sc, v.menu))
	return v
}

// TestLiveVoicemailByPhone (issue 14) on a real FreeSWITCH with
// mod_voicemail and its prompts: the box's owner listens by phone. A
// message is left in the box (a loopback call into its number); the
// owner's phone dials the listening menu's number: mod_voicemail plays
// the PIN prompt (PLAYBACK_START of voicemail/vm-enter_pass.wav on the
// channel, and sound on the RTP before the keys), the phone keys the PIN
// as RFC 4733 DTMF, # and 1 (new messages): the message's file is
// played; mod_voicemail saves it (no key after it) and marks it read;
// the indexer, woken by mod_voicemail's mwi-update event (its periodic
// scan set to 10 minutes here), has it read in Switchboard, and the
// phone's lamp goes off. Before that, a wrong PIN is refused
// (authentication fail, vm-fail_auth), the message stays new. After
// it, a carrier's call to a DID of the menu is asked for the box
// number, then the PIN, and logs in.
func TestLiveVoicemailByPhone(t *testing.T) {
	const pin = "24680"
	v := startVMPhoneTest(t, 93, pin, withVoicemailScanEvery(10*time.Minute))
	node, r, tenant, results, watch, user, secret, box, menu, dom := v.node, v.r, v.tenant, v.results, v.watch, v.user, v.secret, v.box, v.menu, v.dom
	ctx, sc := context.Background(), provisioning.AdminScope()
	mwiUAS := startPhone(t, user+" phone_mwi.xml", "phone_mwi.xml", "", "-s", user, "-m", "100", "-timeout", "300s") // the whole test
	r.register(t, &livePhoneOf{acct: v.acct, secret: secret, uas: mwiUAS, port: mwiUAS.port})
	list := func() []vmMessage { return parseVMList(eslCommand(t, node, "api vm_list "+box.Number+"@"+dom)) }

	// A message: a loopback call into the box's number (the box's own
	// greeting phrase, the beep, then 14 s of tone less the greeting).
	eslCommand(t, node, "api originate loopback/"+box.Number+"/"+RoutingContext(tenant)+" &playback(tone_stream://%(14000,0,440))")
	var msg provisioning.VoicemailMessage
	waitFor(t, 40*time.Second, "the message in the Service", func() bool {
		ms, err := r.svc.VoicemailMessages(ctx, sc, provisioning.VoicemailFilter{BoxID: box.ID})
		if err != nil || len(ms) != 1 {
			return false
		}
		msg = ms[0]
		return true
	})
	results["deposit"] = fmt.Sprintf("message listed unread=%v, %d ms", !msg.Read, msg.DurationMS)
	if !waitForOK(10*time.Second, func() bool { return strings.Contains(strings.Join(mwiStates(mwiUAS), " "), "yes") }) {
		t.Errorf("no MWI yes to the owner's phone: %v", mwiStates(mwiUAS))
	}

	// A wrong PIN: refused, the message still new.
	mark := watch.mark()
	call, ear, start := loginCall(t, node, user, secret, menu.Number, 2500*time.Millisecond, 10*time.Second, switchtest.DTMFKeys("11111#", 250*time.Millisecond))
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	call.wait(cctx)
	cancel()
	_, files := watch.played(mark, user)
	auths := watch.auths(mark, box.Number)
	heard := switchtest.Spans(ear.Since(start))
	if len(auths) == 0 || auths[0] != "fail" || !hasSuffix(files, "voicemail/vm-fail_auth.wav") || len(files) == 0 || !strings.HasSuffix(files[0], vmPrompt) {
		t.Errorf("wrong PIN: authentication %v, prompts %v: want fail, %s first, then vm-fail_auth", auths, files, vmPrompt)
	}
	if !promptHeard(heard, 2500*time.Millisecond) {
		t.Errorf("wrong PIN: no PIN prompt heard before the keys; sound at %s", switchtest.SpanList(heard))
	}
	results["wrong pin"] = fmt.Sprintf("authentication %v; prompts %s; sound heard at %s", auths, strings.Join(files, " "), switchtest.SpanList(heard))
	if ms := list(); len(ms) != 1 || ms[0].Read {
		t.Errorf("after the wrong PIN: vm_list %+v, want the message unread", ms)
	}

	// The right PIN, then 1: the message is played; 2 saves it, and
	// mod_voicemail marks it read when the caller is back at the menu.
	mark = watch.mark()
	call, ear, start = loginCall(t, node, user, secret, menu.Number, 2500*time.Millisecond, 60*time.Second,
		append(switchtest.DTMFKeys(pin+"#", 250*time.Millisecond), switchtest.DTMFStep{Key: '1', After: 2500 * time.Millisecond}))
	var uuid string
	played := waitFor(t, 40*time.Second, "the message's file played", func() bool {
		uuid, files = watch.played(mark, user)
		return hasSuffix(files, filepath.Base(list0Path(list())))
	})
	// heard to its end: 2 saves it (save-file-key), as the menu after
	// a message offers
	msgFile := list0Path(list())
	waitFor(t, 30*time.Second, "the message's file played to its end", func() bool { return watch.stopped(mark, msgFile) })
	liveMust(t, ear.Press(101, switchtest.DTMFKeys("2", 300*time.Millisecond)))
	var readAt time.Time
	waitFor(t, 40*time.Second, "the message read on the switch", func() bool {
		ms := list()
		if len(ms) == 1 && ms[0].Read {
			readAt = time.Now()
			return true
		}
		return false
	})
	eslCommand(t, node, "api uuid_kill "+uuid)
	cctx, cancel = context.WithTimeout(ctx, 15*time.Second)
	call.wait(cctx)
	cancel()
	auths = watch.auths(mark, box.Number)
	heard = switchtest.Spans(ear.Since(start))
	if len(auths) == 0 || auths[0] != "success" || len(files) == 0 || !strings.HasSuffix(files[0], vmPrompt) {
		t.Errorf("authentication %v, prompts %v: want success, %s first", auths, files, vmPrompt)
	}
	if !promptHeard(heard, 2500*time.Millisecond) {
		t.Errorf("no PIN prompt heard before the keys; sound at %s", switchtest.SpanList(heard))
	}
	results["listen"] = fmt.Sprintf("message played %v after the keys; authentication %v; %d RTP packets; prompts %s; sound heard at %s",
		played.Round(10*time.Millisecond), auths, ear.Packets(), strings.Join(files, " "), switchtest.SpanList(heard))

	// Read in Switchboard from the mwi-update event, not the scan.
	waitFor(t, 5*time.Second, "the message read in the Service", func() bool {
		ms, err := r.svc.VoicemailMessages(ctx, sc, provisioning.VoicemailFilter{BoxID: box.ID})
		return err == nil && len(ms) == 1 && ms[0].Read
	})
	results["read"] = fmt.Sprintf("read in Switchboard %v after mod_voicemail marked it read (periodic scan: 10 min)", time.Since(readAt).Round(10*time.Millisecond))
	if !waitForOK(10*time.Second, func() bool {
		st := strings.Join(mwiStates(mwiUAS), " ")
		i := strings.Index(st, "yes")
		return i >= 0 && strings.Contains(st[i:], "no")
	}) {
		t.Errorf("MWI NOTIFYs to the owner's phone: %v, want yes then no", mwiStates(mwiUAS))
	}
	results["mwi"] = strings.Join(mwiStates(mwiUAS), ", ")

	// From elsewhere (a carrier's call to a DID of the menu on the
	// external profile): asked for the box number, then its PIN.
	did := "+1555" + box.Number[1:] + "91"
	vmMain := provisioning.Destination{Kind: provisioning.DestVoicemailMain}
	liveMust(t, r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: tenant, Number: did, Destination: &vmMain}))
	ear, err := switchtest.Listen("127.0.0.1")
	liveMust(t, err)
	t.Cleanup(func() { ear.Close() })
	scen, err := os.ReadFile(filepath.Join("testdata", "sipp", "carrier_vm_login.xml"))
	liveMust(t, err)
	scenario := filepath.Join(t.TempDir(), "carrier_vm_login.xml")
	liveMust(t, os.WriteFile(scenario, []byte(strings.NewReplacer("EAR_PORT", strconv.Itoa(ear.Port()), "HOLD_MS", "40000").Replace(string(scen))), 0o644))
	mark = watch.mark()
	carrier := startPhone(t, "carrier "+did, scenario, profileAddress(t, node, "external"), "-key", "callee", did, "-mp", strconv.Itoa(freeUDPPort(t)))
	waitFor(t, 15*time.Second, "the menu's answer (RTP to the ear)", ear.Answered)
	const caller = "+15550001111"
	for _, step := range []struct{ after, keys string }{{"voicemail/vm-enter_id.wav", box.Number + "#"}, {vmPrompt, pin + "#"}} {
		watch.waitPlayed(t, mark, caller, step.after, 30*time.Second)
		liveMust(t, ear.Press(101, switchtest.DTMFKeys(step.keys, 250*time.Millisecond)))
	}
	watch.waitPlayed(t, mark, caller, "voicemail/vm-you_have.wav", 30*time.Second)
	uuid, files = watch.played(mark, caller)
	eslCommand(t, node, "api uuid_kill "+uuid)
	cctx, cancel = context.WithTimeout(ctx, 15*time.Second)
	carrier.wait(cctx)
	cancel()
	if a := watch.auths(mark, box.Number); len(a) != 1 || a[0] != "success" {
		t.Errorf("the carrier's login: authentication %v, want success", a)
	}
	results["from elsewhere"] = "a DID's caller keyed the box number and the PIN: authentication success; prompts " + strings.Join(files, " ")
}

// list0Path is the first message's file ("" none).
func list0Path(ms []vmMessage) string {
	if len(ms) == 0 {
		return "\x00"
	}
	return ms[0].Path
}

// hasSuffix reports whether a file of files ends with suffix.
func hasSuffix(files []string, suffix string) bool {
	for _, f := range files {
		if strings.HasSuffix(f, suffix) {
			return true
		}
	}
	return false
}

// promptHeard reports whether the first sound the caller heard began
// before the keys and lasted 0.5–4 s (a prompt, not the message).
func promptHeard(heard []switchtest.Span, keys time.Duration) bool {
	if len(heard) == 0 {
		return false
	}
	p := heard[0]
	return p.Start < keys && p.End-p.Start >= 500*time.Millisecond && p.End-p.Start <= 4*time.Second
}

// mwiStates is what a phone_mwi.xml UAS was told (Messages-Waiting), in
// order.
func mwiStates(uas *livePhone) []string {
	logs, _ := filepath.Glob(filepath.Join(uas.dir, "*_messages.log"))
	var out []string
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Messages-Waiting: "); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// waitPlayed waits for a PLAYBACK_START since mark of a file ending in
// suffix (to a caller user, or any channel when user is "") and
// returns its path.
func (w *eslWatch) waitPlayed(t *testing.T, mark int, user, suffix string, within time.Duration) string {
	t.Helper()
	var path string
	waitFor(t, within, "PLAYBACK_START of …"+suffix, func() bool {
		evs, _ := w.since(mark)
		for _, ev := range evs {
			if ev.Name() == "PLAYBACK_START" && (user == "" || ev.Get("Caller-Username") == user) && strings.HasSuffix(ev.Get("Playback-File-Path"), suffix) {
				path = ev.Get("Playback-File-Path")
				return true
			}
		}
		return false
	})
	return path
}

// TestLiveVoicemailGreetingByPhone (issue 14) on a real FreeSWITCH with
// mod_voicemail's prompts: the box's owner records a greeting by phone
// (menu 5, 1, greeting 1, talks, #, 2 saves it); a caller to the box,
// which has no uploaded greeting, hears that recording; once the box
// is given an uploaded greeting, callers hear the upload instead; when
// the upload is taken off the box, the phone recording (kept by
// mod_voicemail) plays again. Asterisk's app_voicemail follows the same
// rule (README, Voicemail).
func TestLiveVoicemailGreetingByPhone(t *testing.T) {
	const pin = "13579"
	sounds := t.TempDir() // FreeSWITCH on this machine reads it
	v := startVMPhoneTest(t, 94, pin, withSounds(t, sounds))
	node, r, tenant, results, watch, user, secret, box, menu, dom := v.node, v.r, v.tenant, v.results, v.watch, v.user, v.secret, v.box, v.menu, v.dom
	ctx, sc := context.Background(), provisioning.AdminScope()

	// Record greeting 1 by phone.
	mark := watch.mark()
	call, ear, _ := loginCall(t, node, user, secret, menu.Number, 2500*time.Millisecond, 90*time.Second, switchtest.DTMFKeys(pin+"#", 250*time.Millisecond))
	press := func(after, keys string) {
		t.Helper()
		watch.waitPlayed(t, mark, user, after, 30*time.Second)
		liveMust(t, ear.Press(101, switchtest.DTMFKeys(keys, 300*time.Millisecond)))
	}
	press("voicemail/vm-listen_new.wav", "5")             // the main menu: 5, the options
	press("voicemail/vm-to_record_greeting.wav", "1")     // 1 records a greeting
	press("voicemail/vm-choose_greeting_choose.wav", "1") // number 1
	prompt := watch.waitPlayed(t, mark, user, "voicemail/vm-record_greeting.wav", 30*time.Second)
	waitFor(t, 20*time.Second, "the end of "+prompt, func() bool { return watch.stopped(mark, prompt) })
	time.Sleep(1500 * time.Millisecond) // the beep
	ear.Talk(4 * time.Second)
	liveMust(t, ear.Press(101, switchtest.DTMFKeys("#", 100*time.Millisecond)))
	press("voicemail/vm-save_recording.wav", "2") // 2 saves it
	var recorded string
	waitFor(t, 20*time.Second, "the record-greeting event", func() bool {
		evs, _ := watch.since(mark)
		for _, ev := range evs {
			if ev.Subclass() == vmEventMaintenance && ev.Get("VM-Action") == "record-greeting" && ev.Get("VM-User") == box.Number {
				recorded = ev.Get("VM-Greeting-Path")
				return true
			}
		}
		return false
	})
	eslCommand(t, node, "api hupall NORMAL_CLEARING sip_from_user "+user)
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	_ = call.result(cctx)
	cancel()
	prefs := strings.TrimSpace(eslBody(eslCommand(t, node, "api vm_prefs default/"+box.Number+"@"+dom+"|greeting_path")))
	if prefs != recorded {
		t.Errorf("vm_prefs greeting_path %q, want the recorded %q", prefs, recorded)
	}
	st, err := os.Stat(recorded)
	liveMust(t, err)
	results["recorded"] = fmt.Sprintf("greeting recorded by phone: %s (%d bytes)", recorded, st.Size())

	// A caller to the box: what greeting plays?
	greetingOf := func() string {
		t.Helper()
		m := watch.mark()
		eslCommand(t, node, "api originate loopback/"+box.Number+"/"+RoutingContext(tenant)+" &playback(tone_stream://%(8000,0,440))")
		var got string
		waitFor(t, 20*time.Second, "the greeting played to the caller", func() bool {
			evs, _ := watch.since(m)
			for _, ev := range evs {
				f := ev.Get("Playback-File-Path")
				if ev.Name() == "PLAYBACK_START" && !strings.HasPrefix(f, "tone_stream") {
					got = f
					return true
				}
			}
			return false
		})
		time.Sleep(9 * time.Second) // the caller's message ends
		return got
	}
	if g := greetingOf(); g != recorded {
		t.Errorf("no upload: the caller heard %q, want the phone recording %q", g, recorded)
	} else {
		results["no upload"] = "caller heard the phone recording " + g
	}
	welcome, err := os.Open(filepath.Join("..", "..", "testdata", "sounds", "welcome.wav"))
	liveMust(t, err)
	defer welcome.Close()
	upload := &provisioning.Sound{TenantID: tenant, Name: "vm greeting"}
	liveMust(t, r.svc.CreateSound(ctx, sc, upload, welcome))
	waitFor(t, 5*time.Second, "the greeting in sounds_dir", func() bool {
		_, err := os.Stat(filepath.Join(sounds, SoundLayout(*upload, 8000)))
		return err == nil
	})
	_, err = r.svc.UpdateVoicemailBox(ctx, sc, box.ID, func(b *provisioning.VoicemailBox) error { b.UnavailableGreetingID = &upload.ID; return nil })
	liveMust(t, err)
	if g, want := greetingOf(), SoundPath(sounds, tenant, upload.ID); g != want {
		t.Errorf("uploaded greeting: the caller heard %q, want %q", g, want)
	} else {
		results["upload"] = "caller heard the upload " + g
	}
	_, err = r.svc.UpdateVoicemailBox(ctx, sc, box.ID, func(b *provisioning.VoicemailBox) error { b.UnavailableGreetingID = nil; return nil })
	liveMust(t, err)
	if g := greetingOf(); g != recorded {
		t.Errorf("upload taken off: the caller heard %q, want the phone recording %q again", g, recorded)
	} else {
		results["upload removed"] = "caller heard the phone recording again " + g
	}
}
