package asterisk

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// envLiveVerboseLog is a log file of the node that gets VERBOSE lines at
// level 3 (logger.conf `messages.log => notice,warning,error,verbose`,
// Asterisk started with -vvv): the listening test reads in it which
// prompts app_voicemail played to the caller ("<PJSIP/…> Playing
// 'vm-password.slin'") and the refused logins.
const envLiveVerboseLog = "SWITCHBOARD_TEST_ASTERISK_VERBOSE_LOG"

// vmRig is the routing rig with a voicemail include, the message
// indexer and one box of an extension whose phone is registered.
type vmRig struct {
	*routingRig
	boxDir  string
	phone   livePhone
	ears    *sipPhone // the phone's contact: MWI NOTIFYs
	box     *provisioning.VoicemailBox
	mailbox string
}

// startVoicemailNode starts the routing rig with the node's voicemail
// include and the message indexer running, skipping, with the
// variable's name, when the include or the spool is not given. box is
// the number the tests give their box (its spool directory boxDir is
// cleared before and after).
func startVoicemailNode(t *testing.T) (rr *routingRig, box, boxDir string) {
	t.Helper()
	file, spool := os.Getenv(envLiveVoicemailFile), os.Getenv(envLiveVoicemailSpool)
	if file == "" || spool == "" {
		t.Skipf("%s and %s are not set: the voicemail test needs the node's voicemail include and spool (see switch/asterisk/README.md)", envLiveVoicemailFile, envLiveVoicemailSpool)
	}
	rr = startRoutingRigWith(t, func(o *PushOptions, svc *provisioning.Service) { o.Mailboxes = ServiceMailboxes(svc) })
	if rr.node.cli == nil {
		t.Skipf("%s is not set: the voicemail test reads app_voicemail's users and the channels with the CLI", envLiveCLI)
	}
	plans := func(ctx context.Context) ([]*provisioning.Plan, error) {
		p, err := rr.svc.TenantPlan(ctx, rr.tenant.ID)
		return []*provisioning.Plan{p}, err
	}
	vc := NewVoicemailConf(VoicemailConfConfig{Node: liveSwitch, Path: file, Plans: plans, Client: rr.direct,
		Keeper: genfile.Config{Debounce: 20 * time.Millisecond, RetryMin: 100 * time.Millisecond}})
	ix := NewVoicemailIndexer(VoicemailIndexerConfig{Node: liveSwitch, Spool: spool, Plans: plans, Service: rr.svc})
	rr.svc.AddSink(vc)
	rr.svc.AddSink(ix)
	box = strconv.Itoa(liveUserBase + 99)
	boxDir = filepath.Join(spool, VoicemailContext(rr.tenant.ID), box)
	_ = os.RemoveAll(boxDir) // a box of that number left by an earlier run
	vctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = vc.Run(vctx) }()
	go func() { defer wg.Done(); _ = ix.Run(vctx) }()
	t.Cleanup(func() {
		stop()
		wg.Wait()
		_ = os.WriteFile(file, nil, 0o640)
		_ = rr.direct.ReloadModule(context.Background(), "app_voicemail")
		_ = os.RemoveAll(boxDir)
	})
	return rr, box, boxDir
}

// startVoicemailRig is startVoicemailNode with alice's phone registered
// and her extension's box (pin, no greeting) on the node.
func startVoicemailRig(t *testing.T, pin string) *vmRig {
	t.Helper()
	rr, box, boxDir := startVoicemailNode(t)
	ctx, admin := t.Context(), provisioning.AdminScope()
	v := &vmRig{routingRig: rr, boxDir: boxDir}
	p, a := rr.phone("alice")
	v.phone = p
	v.ears = startSIPPhone(t, p.port)
	x := &provisioning.Extension{RoutingMeta: rr.in, Number: strconv.Itoa(liveUserBase + 98), Name: "Alice", Destination: acctDest(a)}
	must(t, rr.svc.CreateExtension(ctx, admin, x))
	v.box = &provisioning.VoicemailBox{RoutingMeta: rr.in, Number: box, Name: "Alice", ExtensionID: &x.ID, PIN: pin, MaxMessageSecs: 60}
	must(t, rr.svc.CreateVoicemailBox(ctx, admin, v.box))
	v.mailbox = box + "@" + VoicemailContext(rr.tenant.ID)
	waitFor(t, 10*time.Second, "the box in app_voicemail", func() bool {
		out, _ := rr.node.runCLI(ctx, "voicemail show users for "+VoicemailContext(rr.tenant.ID))
		return strings.Contains(out, box)
	})
	waitFor(t, 10*time.Second, "mailboxes on the phone's endpoint", func() bool {
		fs, err := rr.direct.Get(ctx, ObjectRef{PJSIPEndpoint, p.user})
		return err == nil && slicesContainsField(fs, "mailboxes", v.mailbox)
	})
	return v
}

// message waits for the box's only message and returns it.
func (v *vmRig) message(within time.Duration, ok func(provisioning.VoicemailMessage) bool) provisioning.VoicemailMessage {
	v.t.Helper()
	var msg provisioning.VoicemailMessage
	waitFor(v.t, within, "the box's message", func() bool {
		ms, err := v.svc.VoicemailMessages(v.t.Context(), provisioning.AdminScope(), provisioning.VoicemailFilter{BoxID: v.box.ID})
		if err != nil || len(ms) != 1 {
			return false
		}
		msg = ms[0]
		return ok(msg)
	})
	return msg
}

// verboseLog follows a node's log file from its end at the time of
// the call.
type verboseLog struct {
	path string
	off  int64
}

func followLog(t *testing.T, path string) *verboseLog {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%s: %v", envLiveVerboseLog, err)
	}
	return &verboseLog{path: path, off: st.Size()}
}

// lines are the log's lines written since followLog.
func (l *verboseLog) lines() []string {
	f, err := os.Open(l.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(l.off, io.SeekStart); err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// playedRe is file.c's line for a file played to a channel.
var playedRe = regexp.MustCompile(`<([^>]+)> Playing '([^']+)\.[a-z0-9]+' \(language`)

// played lists the files played to channels of endpoint ep since the
// log was followed, in order, and the channel's name.
func (l *verboseLog) played(ep string) (channel string, files []string) {
	return l.playedOn("PJSIP/" + ep + "-")
}

// playedOn lists the files played to channels whose name begins with
// prefix since the log was followed, in order, and the last channel's
// name.
func (l *verboseLog) playedOn(prefix string) (channel string, files []string) {
	for _, line := range l.lines() {
		m := playedRe.FindStringSubmatch(line)
		if m == nil || !strings.HasPrefix(m[1], prefix) {
			continue
		}
		channel = m[1]
		files = append(files, m[2])
	}
	return channel, files
}

// loginCall has the phone call the menu number with an RTP ear and
// hang up after hold unless the switch does first; once the switch
// answers (its first RTP), the ear keys steps (RFC 4733) keysAfter
// later. It returns when the keys are sent, with the time of the
// answer.
func (v *vmRig) loginCall(menu string, keysAfter, hold time.Duration, keys []switchtest.DTMFStep) (*sippRun, *switchtest.Ear, time.Time) {
	v.t.Helper()
	ear, err := switchtest.Listen("127.0.0.1")
	must(v.t, err)
	v.t.Cleanup(func() { ear.Close() })
	caller := v.phone
	caller.port = freeUDPPort(v.t)
	s := startSipp(v.t, "vm_login_uac.xml", []string{"EAR_PORT", strconv.Itoa(ear.Port()), "HOLD_MS", strconv.FormatInt(hold.Milliseconds(), 10)}, v.node.sip,
		"-s", caller.user, "-au", caller.user, "-ap", caller.secret, "-key", "callee", menu, "-key", "domain", caller.domain,
		"-p", strconv.Itoa(caller.port), "-mp", strconv.Itoa(freeUDPPort(v.t)), "-m", "1", "-timeout", "60s", "-timeout_error")
	waitFor(v.t, 15*time.Second, "the menu's answer (RTP to the ear)", ear.Answered)
	answered := time.Now()
	time.Sleep(keysAfter)
	must(v.t, ear.Press(101, keys))
	return s, ear, answered
}

// startMenuTest is the set-up of the listening tests: the verbose log
// (skipped without it), the voicemail rig with the box's PIN, and the
// listening menu's number; results are logged when the test ends.
func startMenuTest(t *testing.T, pin string) (v *vmRig, logPath string, menu *provisioning.Extension, results map[string]string) {
	t.Helper()
	logPath = os.Getenv(envLiveVerboseLog)
	if logPath == "" {
		t.Skipf("%s is not set: the test reads the prompts app_voicemail plays in the node's verbose log (see switch/asterisk/README.md)", envLiveVerboseLog)
	}
	v = startVoicemailRig(t, pin)
	results = map[string]string{}
	t.Cleanup(func() {
		for k, r := range results {
			t.Logf("RESULT %s: %s", k, r)
		}
	})
	menu = &provisioning.Extension{RoutingMeta: v.in, Number: strconv.Itoa(liveUserBase + 97), Name: "Voicemail", Destination: provisioning.Destination{Kind: provisioning.DestVoicemailMain}}
	must(t, v.svc.CreateExtension(t.Context(), provisioning.AdminScope(), menu))
	v.settled("VoiceMailMain(" + v.mailbox + ")")
	return v, logPath, menu, results
}

// TestLiveVoicemailByPhone (issue 14): the box's owner listens by phone.
// A message is left in the box (a Local channel into the box's number);
// the owner's phone dials the listening menu's number, hears the PIN
// prompt (app_voicemail plays vm-password, the RTP the switch sends is
// not silent), keys the PIN as RFC 4733 DTMF, # and 1 (new messages):
// the message is played; after the hang-up app_voicemail has moved it
// to Old, the indexer syncs it read in Switchboard and the phone's lamp
// goes off. Before that, a wrong PIN is refused: vm-incorrect, no
// login, the message stays new. After it, a carrier's call to a DID of
// the menu is asked for the box number, then the PIN, and logs in.
func TestLiveVoicemailByPhone(t *testing.T) {
	const pin = "4321"
	v, logPath, menu, results := startMenuTest(t, pin)
	ctx := t.Context()

	// A message: a Local channel dials the box's number and plays a
	// prompt into it (Asterisk's own "the person at extension ... is
	// unavailable" first: the box has no greeting).
	_, err := v.node.runCLI(ctx, "channel originate Local/"+v.box.Number+"@"+TenantContext(v.tenant.ID)+" application Playback vm-intro&vm-intro&vm-intro")
	must(t, err)
	msg := v.message(30*time.Second, func(m provisioning.VoicemailMessage) bool { return !m.Read })
	results["deposit"] = fmt.Sprintf("message %d listed unread, %d ms", msg.ID, msg.DurationMS)
	results["mwi on"] = waitForMWI(t, v.ears, "yes", 10*time.Second)

	// A wrong PIN: refused, nothing heard, the message still new.
	log := followLog(t, logPath)
	s, ear, start := v.loginCall(menu.Number, 2500*time.Millisecond, 7*time.Second, switchtest.DTMFKeys("9999#", 250*time.Millisecond))
	if err := s.wait(30 * time.Second); err != nil {
		t.Fatalf("the wrong PIN's call: %v", err)
	}
	_, files := log.played(v.phone.user)
	refused := false
	for _, l := range log.lines() {
		refused = refused || strings.Contains(l, "Incorrect password") && strings.Contains(l, "'"+v.box.Number+"'")
	}
	if !refused || !contains(files, "vm-incorrect") || contains(files, "vm-youhave") || len(files) == 0 || files[0] != "vm-password" {
		t.Errorf("wrong PIN: refused %v, prompts %v: want vm-password, then vm-incorrect and no vm-youhave", refused, files)
	}
	heard := switchtest.Spans(ear.Since(start))
	if !promptHeard(heard, 2500*time.Millisecond) {
		t.Errorf("wrong PIN: no PIN prompt heard before the keys; sound at %v", switchtest.SpanList(heard))
	}
	results["wrong pin"] = fmt.Sprintf("refused (%q in the log); prompts %v; sound heard at %s", "Incorrect password", files, switchtest.SpanList(heard))
	time.Sleep(3 * time.Second) // a scan after the call
	if m := v.message(time.Second, func(provisioning.VoicemailMessage) bool { return true }); m.Read {
		t.Errorf("after the wrong PIN the message is read")
	}
	if _, err := os.Stat(filepath.Join(v.boxDir, "INBOX", "msg0000.txt")); err != nil {
		t.Errorf("after the wrong PIN the message left INBOX: %v", err)
	}

	// The right PIN, then 1: the message is played.
	log = followLog(t, logPath)
	s, ear, start = v.loginCall(menu.Number, 2500*time.Millisecond, 45*time.Second,
		append(switchtest.DTMFKeys(pin+"#", 250*time.Millisecond), switchtest.DTMFStep{Key: '1', After: 2500 * time.Millisecond}))
	var channel string
	played := waitFor(t, 45*time.Second, "the message played, then the menu after it", func() bool {
		var fs []string
		channel, fs = log.played(v.phone.user)
		files = fs
		i := indexOf(fs, filepath.Join(v.boxDir, "INBOX", "msg0000"))
		return i >= 0 && i < len(fs)-1
	})
	_, err = v.node.runCLI(ctx, "channel request hangup "+channel)
	must(t, err)
	if err := s.wait(15 * time.Second); err != nil {
		t.Errorf("the listening call: %v", err)
	}
	if len(files) == 0 || files[0] != "vm-password" || !contains(files, "vm-youhave") {
		t.Errorf("prompts %v: want vm-password first, then vm-youhave", files)
	}
	heard = switchtest.Spans(ear.Since(start))
	if !promptHeard(heard, 2500*time.Millisecond) {
		t.Errorf("no PIN prompt (vm-password: 1.1 s of speech) heard before the PIN was keyed 2.5 s after the answer; sound at %v", switchtest.SpanList(heard))
	}
	results["listen"] = fmt.Sprintf("message played %v after the keys; %d RTP packets; prompts %s; sound heard at %s", played.Round(10*time.Millisecond),
		ear.Packets(), strings.Join(files, " "), switchtest.SpanList(heard))

	// Hung up: app_voicemail moved it to Old; Switchboard has it read,
	// the lamp goes off.
	hungUp := time.Now()
	msg = v.message(15*time.Second, func(m provisioning.VoicemailMessage) bool { return m.Read })
	results["read"] = fmt.Sprintf("message read in Switchboard %v after the hang-up", time.Since(hungUp).Round(10*time.Millisecond))
	if _, err := os.Stat(filepath.Join(v.boxDir, "Old", "msg0000.txt")); err != nil {
		t.Errorf("the message is not in Old: %v", err)
	}
	results["mwi off"] = waitForMWI(t, v.ears, "no", 10*time.Second)

	// From elsewhere (a carrier's call to a DID of the menu): asked for
	// the box number (vm-login), then its PIN.
	gw := v.carrierGateway("sblive-vmm")
	did := v.did(provisioning.Destination{Kind: provisioning.DestVoicemailMain})
	log = followLog(t, logPath)
	ear, err = switchtest.Listen("127.0.0.2")
	must(t, err)
	t.Cleanup(func() { ear.Close() })
	s = startSipp(t, "carrier_vm_login_uac.xml", []string{"EAR_PORT", strconv.Itoa(ear.Port()), "HOLD_MS", "40000"}, v.node.sip,
		"-key", "callee", did, "-i", "127.0.0.2", "-p", strconv.Itoa(freeUDPPort(t)), "-mp", strconv.Itoa(freeUDPPort(t)), "-m", "1", "-timeout", "60s", "-timeout_error")
	waitFor(t, 15*time.Second, "the menu's answer (RTP to the ear)", ear.Answered)
	for _, step := range []struct{ after, keys string }{{"vm-login", v.box.Number + "#"}, {"vm-password", pin + "#"}} {
		waitFor(t, 20*time.Second, step.after+" played to the carrier", func() bool { _, fs := log.played(gw.Name); return contains(fs, step.after) })
		must(t, ear.Press(101, switchtest.DTMFKeys(step.keys, 250*time.Millisecond)))
	}
	waitFor(t, 20*time.Second, "the carrier logged in (vm-youhave)", func() bool { _, fs := log.played(gw.Name); return contains(fs, "vm-youhave") })
	channel, files = log.played(gw.Name)
	_, err = v.node.runCLI(ctx, "channel request hangup "+channel)
	must(t, err)
	if err := s.wait(15 * time.Second); err != nil {
		t.Errorf("the carrier's call: %v", err)
	}
	results["from elsewhere"] = "a DID's caller keyed the box number and the PIN: prompts " + strings.Join(files, " ")
}

// promptHeard reports whether the first sound the caller heard was a
// prompt of 0.5–2 s (vm-password is 1.1 s) that began before keys.
func promptHeard(heard []switchtest.Span, keys time.Duration) bool {
	if len(heard) == 0 {
		return false
	}
	p := heard[0]
	return p.Start < keys && p.End-p.Start >= 500*time.Millisecond && p.End-p.Start <= 2*time.Second
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// TestLiveVoicemailGreetingByPhone (issue 14): the box's owner records
// the unavailable greeting by phone (VoiceMailMain: 0 options, 1
// unavailable, talks, #, 1 accepts: unavail.wav in the box's spool); a
// caller to the box, which has no uploaded greeting, hears it
// (VoiceMail's u option, s: no instructions after it, only the beep);
// once the box is given an uploaded greeting the
// caller hears the upload (Playback, then VoiceMail with s); when the
// upload is taken off the box, the phone recording (kept by
// app_voicemail) plays again. FreeSWITCH follows the same rule.
func TestLiveVoicemailGreetingByPhone(t *testing.T) {
	const pin = "1357"
	v, logPath, menu, results := startMenuTest(t, pin)
	ctx, admin := t.Context(), provisioning.AdminScope()

	log := followLog(t, logPath)
	s, ear, _ := v.loginCall(menu.Number, 2500*time.Millisecond, 90*time.Second, switchtest.DTMFKeys(pin+"#", 250*time.Millisecond))
	waitPlayed := func(file string) {
		t.Helper()
		waitFor(t, 30*time.Second, file+" played to the phone", func() bool { _, fs := log.played(v.phone.user); return contains(fs, file) })
	}
	press := func(after, keys string) {
		t.Helper()
		waitPlayed(after)
		must(t, ear.Press(101, switchtest.DTMFKeys(keys, 300*time.Millisecond)))
	}
	press("vm-youhave", "0") // the mailbox options
	press("vm-options", "1") // record the unavailable greeting
	waitPlayed("beep")
	time.Sleep(500 * time.Millisecond)
	ear.Talk(4 * time.Second)
	must(t, ear.Press(101, switchtest.DTMFKeys("#", 100*time.Millisecond)))
	press("vm-review", "1") // accept it
	waitPlayed("vm-msgsaved")
	channel, files := log.played(v.phone.user)
	_, err := v.node.runCLI(ctx, "channel request hangup "+channel)
	must(t, err)
	if err := s.wait(15 * time.Second); err != nil {
		t.Errorf("the recording call: %v", err)
	}
	recorded := filepath.Join(v.boxDir, "unavail")
	st, err := os.Stat(recorded + ".wav")
	must(t, err)
	results["recorded"] = fmt.Sprintf("%s.wav (%d bytes); prompts %s", recorded, st.Size(), strings.Join(files, " "))

	// A caller to the box (a Local channel into its number): what
	// greeting plays?
	// (the greeting, then the beep: its first files show which greeting
	// it was).
	greetingOf := func() []string {
		t.Helper()
		log := followLog(t, logPath)
		start := time.Now()
		_, err := v.node.runCLI(ctx, "channel originate Local/"+v.box.Number+"@"+TenantContext(v.tenant.ID)+" application Wait 8")
		must(t, err)
		var files []string
		waitFor(t, 20*time.Second, "the box's greeting, then the beep", func() bool {
			_, files = log.playedOn("Local/" + v.box.Number + "@")
			return contains(files, "beep")
		})
		time.Sleep(time.Until(start.Add(9 * time.Second))) // the Local channel hangs up
		return files
	}
	if g := greetingOf(); !contains(g, recorded) || contains(g, "vm-intro") {
		t.Errorf("no upload: the caller heard %v, want the phone recording %s", g, recorded)
	} else {
		results["no upload"] = "caller heard " + strings.Join(g, " ")
	}
	upload := &provisioning.Sound{TenantID: v.tenant.ID, Name: "vm greeting"}
	must(t, v.svc.CreateSound(ctx, admin, upload, bytes.NewReader(toneWAV(t, 1))))
	waitFor(t, 5*time.Second, "the greeting in sounds_dir", func() bool {
		_, err := os.Stat(filepath.Join(v.sounds, SoundLayout(*upload, 8000)))
		return err == nil
	})
	_, err = v.svc.UpdateVoicemailBox(ctx, admin, v.box.ID, func(b *provisioning.VoicemailBox) error { b.UnavailableGreetingID = &upload.ID; return nil })
	must(t, err)
	uploaded := SoundPath(v.sounds, v.tenant.ID, upload.ID)
	v.settled("Playback(" + uploaded + ")")
	if g := greetingOf(); !contains(g, uploaded) || contains(g, recorded) {
		t.Errorf("uploaded greeting: the caller heard %v, want %s and not the phone recording", g, uploaded)
	} else {
		results["upload"] = "caller heard " + strings.Join(g, " ")
	}
	_, err = v.svc.UpdateVoicemailBox(ctx, admin, v.box.ID, func(b *provisioning.VoicemailBox) error { b.UnavailableGreetingID = nil; return nil })
	must(t, err)
	v.settled("VoiceMail(" + v.mailbox + ",us)")
	if g := greetingOf(); !contains(g, recorded) {
		t.Errorf("upload taken off: the caller heard %v, want the phone recording %s again", g, recorded)
	} else {
		results["upload removed"] = "caller heard " + strings.Join(g, " ")
	}
}
