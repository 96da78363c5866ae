package asterisk

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// channelApps lists, per channel, the dialplan application it runs and
// its argument, from the CLI's core show channels concise (ARI's GET
// /channels answered [] for channels outside Stasis on 23.4.1).
func (rr *routingRig) channelApps(t *testing.T) []string {
	t.Helper()
	out, err := rr.node.runCLI(t.Context(), "core show channels concise")
	if err != nil {
		t.Fatal(err)
	}
	var apps []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "!")
		if len(f) > 6 {
			apps = append(apps, f[0]+" "+f[5]+"("+f[6]+")")
		}
	}
	return apps
}

// TestLiveIVR (issue 14): a DID answered by an IVR menu whose greeting is
// an uploaded sound: the menu answers and plays the greeting (the
// channel runs Background of the file the keeper wrote in sounds_dir),
// key 2 (SIP INFO) reaches bob, no key goes to the timeout destination
// after the greeting and the wait, a key that is no option to the
// invalid destination.
func TestLiveIVR(t *testing.T) {
	rr := startRoutingRig(t)
	if rr.node.cli == nil {
		t.Skipf("%s is not set: the IVR test reads the channels' applications with the CLI", envLiveCLI)
	}
	ctx, admin := t.Context(), provisioning.AdminScope()
	alice, aa := rr.phone("alice")
	bob, ab := rr.phone("bob")
	carol, ac := rr.phone("carol")
	rr.carrierGateway("sblive-ivr") // the carrier calls from 127.0.0.2
	wav, err := os.Open(filepath.Join("..", "..", "testdata", "sounds", "welcome.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer wav.Close()
	greeting := &provisioning.Sound{TenantID: rr.tenant.ID, Name: "welcome"}
	must(t, rr.svc.CreateSound(ctx, admin, greeting, wav))
	file := filepath.Join(rr.sounds, SoundLayout(*greeting, 8000))
	waitFor(t, 5*time.Second, "the greeting in sounds_dir", func() bool { _, err := os.Stat(file); return err == nil })
	repeats := 0
	menu := &provisioning.IVRMenu{RoutingMeta: rr.in, Number: "7800", Name: "main", GreetingSoundID: greeting.ID, TimeoutSecs: 2, Repeats: &repeats,
		Options: []provisioning.IVROption{{Digit: "1", Destination: acctDest(aa)}, {Digit: "2", Destination: acctDest(ab)}},
		Timeout: acctDest(ac), Invalid: acctDest(aa)}
	must(t, rr.svc.CreateIVRMenu(ctx, admin, menu))
	did := rr.did(provisioning.Destination{Kind: provisioning.DestIVR, ID: menu.ID})
	results := map[string]string{}
	defer func() {
		for k, v := range results {
			t.Logf("RESULT %s: %s", k, v)
		}
	}()
	press := func(key string, delay time.Duration) *sippRun {
		return startSipp(t, "carrier_ivr_uac.xml", []string{"DELAY_MS", strconv.FormatInt(delay.Milliseconds(), 10), "KEY", key},
			rr.node.sip, "-key", "callee", did, "-i", "127.0.0.2", "-p", strconv.Itoa(freeUDPPort(t)), "-m", "1", "-timeout", "40s", "-timeout_error")
	}
	phones := []livePhone{alice, bob, carol}
	names := []string{"alice", "bob", "carol"}
	rung := func(runs []*sippRun) string {
		var who []string
		for i, s := range runs {
			if s.received("INVITE") > 0 {
				who = append(who, names[i])
			}
		}
		return strings.Join(who, ",")
	}
	for _, tc := range []struct {
		name string
		key  string // "" presses nothing
		want string
		min  time.Duration
	}{
		{"key 2 reaches bob", "2", "bob", 0},
		{"no key: the timeout destination", "", "carol", 8 * time.Second}, // the 6 s greeting, then the 2 s wait
		{"a key that is no option: the invalid destination", "7", "alice", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs []*sippRun
			for _, p := range phones {
				runs = append(runs, rr.uas(p, "answer_uas.xml", 300*time.Millisecond))
			}
			start := time.Now()
			var call *sippRun
			if tc.key == "" {
				call = rr.carrier(did, "+15550001111")
			} else {
				call = press(tc.key, 2*time.Second)
			}
			playing, seen := "", []string(nil)
			deadline := time.Now().Add(5 * time.Second)
			for playing == "" && time.Now().Before(deadline) {
				seen = rr.channelApps(t)
				for _, c := range seen {
					if strings.Contains(strings.ToLower(c), "background("+strings.ToLower(strings.TrimSuffix(file, ".wav"))+")") {
						playing = c
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			if playing == "" {
				t.Errorf("no channel ran Background of %s; channels: %v", file, seen)
			}
			if err := call.wait(45 * time.Second); err != nil {
				t.Errorf("the call was not answered and ended: %v", err)
			}
			took := time.Since(start)
			time.Sleep(300 * time.Millisecond)
			stopped(runs...)
			if got := rung(runs); got != tc.want || took < tc.min {
				t.Errorf("rung %q after %v, want %q after at least %v", got, took, tc.want, tc.min)
			}
			results[tc.name] = fmt.Sprintf("%s answered (call %v); while the menu waited: %s", rung(runs), took.Round(100*time.Millisecond), playing)
		})
	}
}
