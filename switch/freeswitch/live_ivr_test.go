package freeswitch

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/soundfiles"
)

// withSounds gives the node a sounds_dir kept by a soundfiles keeper, as
// cmd/switchboard wires sounds_dir.
func withSounds(t *testing.T, dir string) liveRigOption {
	return func(r *liveRig, c *XMLCurlConfig) {
		c.SoundsDir = dir
		k := soundfiles.New(soundfiles.Config{Node: r.node.Name, Dir: dir, Layout: SoundLayout, Source: r.svc, Debounce: 20 * time.Millisecond})
		r.svc.AddSink(k)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = k.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
}

// TestLiveIVR (issue 14) on a real FreeSWITCH: a DID answered by an IVR
// menu whose greeting is an uploaded sound, written by the keeper in the
// node's sounds_dir and played by play_and_get_digits; key 2 (SIP INFO)
// reaches the second phone, no key the timeout destination after the
// greeting and the wait, a key that is no option the invalid one.
func TestLiveIVR(t *testing.T) {
	node := requireLiveNode(t)
	dir := t.TempDir() // FreeSWITCH on this machine reads it
	r := newLiveRig(t, node, withRouting(), withSounds(t, dir))
	r.waitConnected(t)
	external := profileAddress(t, node, "external")
	ctx, sc := context.Background(), provisioning.AdminScope()
	must := liveMust
	tenant := r.tenantID(t)
	wav, err := os.Open(filepath.Join("..", "..", "testdata", "sounds", "welcome.wav"))
	must(t, err)
	defer wav.Close()
	greeting := &provisioning.Sound{TenantID: tenant, Name: "welcome"}
	must(t, r.svc.CreateSound(ctx, sc, greeting, wav))
	file := filepath.Join(dir, SoundLayout(*greeting, 8000))
	waitFor(t, 5*time.Second, "the greeting in sounds_dir", func() bool { _, err := os.Stat(file); return err == nil })
	var results []string
	t.Cleanup(func() {
		for _, x := range results {
			t.Logf("| %s |", x)
		}
	})
	for i, tc := range []struct {
		name string
		key  string // "" presses nothing
		want int    // the phone that answers: 0, 1, 2
		min  time.Duration
	}{
		{"key 2 reaches the second phone", "2", 1, 0},
		{"no key: the timeout destination", "", 2, 8 * time.Second}, // the 6 s greeting, then the 2 s wait
		{"a key that is no option: the invalid destination", "7", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var phones []*livePhoneOf
			for j := range 3 {
				phones = append(phones, r.routingPhone(t, 40+10*i+j, "phone_answer.xml"))
			}
			repeats := 0
			menu := &provisioning.IVRMenu{RoutingMeta: provisioning.RoutingMeta{TenantID: tenant}, Name: "main " + strconv.Itoa(i),
				GreetingSoundID: greeting.ID, TimeoutSecs: 2, Repeats: &repeats,
				Options: []provisioning.IVROption{{Digit: "1", Destination: phones[0].dest()}, {Digit: "2", Destination: phones[1].dest()}},
				Timeout: phones[2].dest(), Invalid: phones[0].dest()}
			must(t, r.svc.CreateIVRMenu(ctx, sc, menu))
			n := "+1555" + strconv.FormatInt(time.Now().UnixMilli()%1000000, 10) + strconv.Itoa(i)
			d := provisioning.Destination{Kind: provisioning.DestIVR, ID: menu.ID}
			must(t, r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: tenant, Number: n, Destination: &d}))
			start := time.Now()
			var call *livePhone
			if tc.key == "" {
				call = startPhone(t, "carrier "+n, "carrier_call.xml", external, "-s", "carrier", "-key", "dest", n, "-d", "12000")
			} else {
				call = startPhone(t, "carrier "+n, "carrier_ivr.xml", external, "-s", "carrier", "-key", "dest", n, "-key", "key", tc.key, "-d", "1000")
			}
			// Watch the node's channels: the menu playing its greeting, then
			// the leg to the phone the entry leads to (when it was rung).
			playing, rungAt := "", time.Time{}
			callee := phones[tc.want].acct.Username
			deadline := time.Now().Add(30 * time.Second)
			for rungAt.IsZero() && time.Now().Before(deadline) {
				for _, line := range strings.Split(eslCommand(t, node, "api show channels"), "\n") {
					if playing == "" && strings.Contains(line, "play_and_get_digits") && strings.Contains(line, filepath.Join(dir, "t")) {
						playing = line
					}
					if rungAt.IsZero() && strings.Contains(line, "sofia/internal/"+callee) {
						rungAt = time.Now()
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			if playing == "" {
				t.Errorf("no channel ran play_and_get_digits with the greeting under %s", dir)
			}
			if rungAt.IsZero() {
				t.Fatalf("phone %d (%s) was never rung", tc.want, callee)
			}
			must(t, phones[tc.want].finished(30*time.Second))
			took := rungAt.Sub(start)
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			call.wait(cctx)
			cancel()
			for j, p := range phones {
				if j != tc.want && p.finished(100*time.Millisecond) == nil {
					t.Errorf("phone %d was rung too", j)
				}
			}
			if took < tc.min {
				t.Errorf("phone %d was rung %v after the call started, want at least %v", tc.want, took, tc.min)
			}
			results = append(results, tc.name+" | phone "+strconv.Itoa(tc.want)+" rung "+took.Round(100*time.Millisecond).String()+" after the INVITE, answered; the menu ran play_and_get_digits of the greeting")
		})
	}
}
