package asterisk

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// The variable of the live recording test (with those of the routing
// tests): the node's recordings_dir, which Asterisk writes and this test
// reads (created 0777).
const envLiveRecordingsDir = "SWITCHBOARD_TEST_ASTERISK_RECORDINGS_DIR"

// TestLiveRecording (issue 14) on a real Asterisk with app_mixmonitor:
//
//   - a carrier calls a DID with Record whose extension's phone answers
//     and talks 5 s (sipp play_pcap_audio), then hangs up: one recording
//     of 5 ± 1 s, not silent, whose switch ref is the carrier leg's CDR
//     call_id (the linked_id of the phone's leg); the WAV's bytes per
//     minute and the time from the BYE to the listing are reported;
//   - the same DID to a busy phone: MixMonitor leaves a WAV of a header
//     only, which the indexer removes, and nothing is listed;
//   - a phone whose extension records calls an extension that records
//     too: one recording, named after the caller's channel.
func TestLiveRecording(t *testing.T) {
	dir := os.Getenv(envLiveRecordingsDir)
	if dir == "" {
		t.Skipf("%s is not set: the recording test needs a recordings_dir Asterisk writes (see switch/asterisk/README.md)", envLiveRecordingsDir)
	}
	if _, err := os.Stat(livePCAP); err != nil {
		t.Skipf("no %s (Debian's sip-tester has it): %v", livePCAP, err)
	}
	must(t, os.MkdirAll(dir, 0o777))
	must(t, os.Chmod(dir, 0o777))
	rr := startRoutingRigWith(t, func(o *PushOptions, _ *provisioning.Service) { o.RecordingsDir = dir })
	ctx, admin := t.Context(), provisioning.AdminScope()
	ix := NewRecordingIndexer(RecordingIndexerConfig{Node: liveSwitch, Dir: dir, Service: rr.svc})
	runLive(t, ix.Run)
	results := liveResults(t)
	recs := func() []provisioning.Recording {
		l, err := rr.svc.Recordings(ctx, admin, provisioning.RecordingFilter{TenantID: rr.tenant.ID})
		must(t, err)
		return l
	}
	tenantFiles := func() []string {
		m, _ := filepath.Glob(RecordingBase(dir, rr.tenant.ID, "*"))
		return m
	}

	rr.carrierGateway("sblive-rec")
	alice, aa := rr.phone("alice")
	bob, ab := rr.phone("bob")
	xa := &provisioning.Extension{RoutingMeta: rr.in, Number: strconv.Itoa(liveUserBase + 91), Name: "Alice", Destination: acctDest(aa)}
	must(t, rr.svc.CreateExtension(ctx, admin, xa))
	rr.settled("exten => " + xa.Number + ",1,")
	d := &provisioning.DID{TenantID: rr.tenant.ID, Number: fmt.Sprintf("+1558%d01", liveUserBase/100), Record: true,
		Destination: &provisioning.Destination{Kind: provisioning.DestExtension, ID: xa.ID}}
	must(t, rr.svc.CreateDID(ctx, admin, d))
	rec := "Gosub(" + TenantContext(rr.tenant.ID) + "-rec,s,1)"
	rr.settled("exten => " + d.Number + ",1,Gosub(" + fromContext + ",s,1)\n same => n," + rec)

	// 1. Answered: the phone talks 5 s and hangs up.
	phone := startSipp(t, "answer_talk_uas.xml", []string{"HOLD_MS", "5000", "PCAP", livePCAP},
		"-i", "127.0.0.1", "-p", strconv.Itoa(alice.port), "-mp", strconv.Itoa(freeUDPPort(t)), "-m", "1", "-timeout", "40s", "-timeout_error")
	waitUDPBound(t, phone, alice.port)
	call := rr.carrier(d.Number, "+15550001111")
	if err := call.wait(40 * time.Second); err != nil {
		t.Fatalf("the carrier's call: %v", err)
	}
	hungUp := time.Now()
	stopped(phone)
	var got provisioning.Recording
	waitFor(t, 15*time.Second, "the recording listed", func() bool {
		l := recs()
		if len(l) > 0 {
			got = l[0]
		}
		return len(l) > 0
	})
	latency := time.Since(hungUp)
	if got.DurationMS < 4000 || got.DurationMS > 6000 || got.Switch != liveSwitch {
		t.Errorf("recording %+v: want 5 ± 1 s from %s", got, liveSwitch)
	}
	_, wav, err := rr.svc.RecordingAudio(ctx, admin, got.ID)
	must(t, err)
	info, err := audio.ProbeWAV(wav)
	must(t, err)
	clip, _, err := audio.Decode(bytes.NewReader(wav), audio.Limits{})
	must(t, err)
	if clip.Silent() {
		t.Errorf("the recording is silent")
	}
	perMin := float64(len(wav)) / (float64(got.DurationMS) / 60000)
	results["answered"] = fmt.Sprintf("listed %v after the BYE (indexer every 2 s); %d ms, %d Hz %d-bit %d channel(s), %d bytes = %.0f bytes per minute; silent %v",
		latency.Round(10*time.Millisecond), got.DurationMS, info.Rate, info.Bits, info.Channels, len(wav), perMin, clip.Silent())
	// The switch ref is the carrier leg's CDR: its call_id, the phone
	// leg's linked_id.
	var legs []cdr.Record
	waitFor(t, 10*time.Second, "the call's CDRs", func() bool {
		legs = legs[:0]
		for _, r := range rr.sink.Records() {
			if r.CallID == got.SwitchRef || r.LinkedID == got.SwitchRef {
				legs = append(legs, r)
			}
		}
		return len(legs) >= 2
	})
	var aLeg, bLeg bool
	for _, r := range legs {
		if r.CallID == got.SwitchRef && r.Answer != nil {
			results["started_at"] = fmt.Sprintf("%s, the carrier leg answered at %s (%v apart)", got.StartedAt.Format(time.RFC3339Nano),
				r.Answer.UTC().Format(time.RFC3339Nano), got.StartedAt.Sub(*r.Answer).Round(time.Millisecond))
		}
		aLeg = aLeg || r.CallID == got.SwitchRef && r.CallerNumber == "+15550001111"
		bLeg = bLeg || r.CallID != got.SwitchRef && r.LinkedID == got.SwitchRef && r.Account == alice.user
	}
	if !aLeg || !bLeg {
		t.Errorf("recording %s: CDRs %+v, want the carrier's leg with that call_id and alice's with that linked_id", got.SwitchRef, legs)
	}
	results["cdr"] = fmt.Sprintf("switch_ref %s = the carrier leg's call_id and alice's leg's linked_id (%d legs)", got.SwitchRef, len(legs))
	if f := tenantFiles(); len(f) != 0 {
		t.Errorf("files left after the deposit: %v", f)
	}

	// 2. Unanswered: the phone is busy.
	busy := rr.uas(alice, "busy_uas.xml", 0)
	call = rr.carrier(d.Number, "+15550001112")
	_ = call.wait(40 * time.Second) // the carrier's scenario wants a 200: it fails, as it should
	stopped(busy)
	var seen []string
	waitFor(t, 10*time.Second, "the unanswered call's files removed", func() bool {
		f := tenantFiles()
		if len(f) > 0 {
			seen = f
		}
		return len(f) == 0
	})
	time.Sleep(2500 * time.Millisecond) // a scan after: still one recording
	if l := recs(); len(l) != 1 {
		t.Errorf("after the unanswered call: %d recordings", len(l))
	}
	results["unanswered"] = fmt.Sprintf("files seen before the scan: %v; nothing listed", seen)

	// 3. Internal: alice's extension records, and so does bob's.
	_, err = rr.svc.UpdateExtension(ctx, admin, xa.ID, func(x *provisioning.Extension) error { x.Record = true; return nil })
	must(t, err)
	xb := &provisioning.Extension{RoutingMeta: rr.in, Number: strconv.Itoa(liveUserBase + 92), Name: "Bob", Destination: acctDest(ab), Record: true}
	must(t, rr.svc.CreateExtension(ctx, admin, xb))
	rr.settled("exten => e-" + alice.user + ",1,Goto(s,1)")
	rr.settled("exten => " + xb.Number + ",1,")
	bobPhone := startSipp(t, "answer_talk_uas.xml", []string{"HOLD_MS", "3000", "PCAP", livePCAP},
		"-i", "127.0.0.1", "-p", strconv.Itoa(bob.port), "-mp", strconv.Itoa(freeUDPPort(t)), "-m", "1", "-timeout", "40s", "-timeout_error")
	waitUDPBound(t, bobPhone, bob.port)
	caller := alice
	caller.port = freeUDPPort(t)
	c := rr.node.call(t, caller, xb.Number)
	if err := c.wait(40 * time.Second); err != nil {
		t.Fatalf("alice's call: %v", err)
	}
	stopped(bobPhone)
	var internal []provisioning.Recording
	waitFor(t, 15*time.Second, "the internal call's recording", func() bool {
		internal = recs()
		return len(internal) >= 2
	})
	time.Sleep(2500 * time.Millisecond) // a second one would be there by now
	internal = recs()
	if len(internal) != 2 {
		t.Fatalf("recordings after the internal call: %+v", internal)
	}
	in := internal[1]
	if in.SwitchRef == got.SwitchRef {
		in = internal[0]
	}
	var callerLeg bool
	waitFor(t, 10*time.Second, "the internal call's CDRs", func() bool {
		for _, r := range rr.sink.Records() {
			callerLeg = callerLeg || r.CallID == in.SwitchRef && r.Account == alice.user
		}
		return callerLeg
	})
	results["internal"] = fmt.Sprintf("one recording (%s, %d ms), named after alice's leg", in.SwitchRef, in.DurationMS)
	if f := tenantFiles(); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
}

// liveResults is a test's figures, logged as RESULT lines when it ends.
func liveResults(t *testing.T) map[string]string {
	m := map[string]string{}
	t.Cleanup(func() {
		for k, v := range m {
			t.Logf("RESULT %s: %s", k, v)
		}
	})
	return m
}

// runLive runs fn (an indexer's Run) until the test ends.
func runLive(t *testing.T, fn func(context.Context) error) {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = fn(ctx) })
	t.Cleanup(func() { stop(); wg.Wait() })
}
