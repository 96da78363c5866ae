package asterisk

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// envFaxT38Send is a shell command that sends a 2-page fax over T.38 to
// the DID number in place of {did}, from a carrier whose endpoint's
// context includes switchboard-dids, e.g. (fs-media as the carrier, its
// calls landing in ast-media's from-fs-media):
//
//	/opt/freeswitch/bin/fs_cli -H 127.0.0.1 -P 8025 -p sb-live-esl-secret -x 'originate {fax_enable_t38=true,fax_enable_t38_request=true,absolute_codec_string=PCMU}sofia/external/{did}@127.0.0.1:5090 &txfax(/opt/fs-media/fax/send-2p.tif)'
const envFaxT38Send = "SWITCHBOARD_TEST_ASTERISK_FAX_T38_SEND"

// TestLiveFaxT38 (issue 14): a fax from a carrier over T.38 to a DID
// routed to a fax box, and to a DID routed to an extension with fax
// detection whose phone rings, is received by the box (2 pages, a PDF);
// `fax show stats` counts a T.38 success for each.
func TestLiveFaxT38(t *testing.T) {
	dir, send := os.Getenv(envFaxDir), os.Getenv(envFaxT38Send)
	if dir == "" || send == "" {
		t.Skipf("set %s and %s (with the routing variables and the CLI) to run against a real Asterisk", envFaxDir, envFaxT38Send)
	}
	rr := startFaxRoutingRig(t, dir)
	ctx, admin := t.Context(), provisioning.AdminScope()
	results := liveResults(t)
	t38Successes := func() int {
		out, err := rr.node.runCLI(ctx, "fax show stats")
		must(t, err)
		_, t38, _ := strings.Cut(out, "T.38")
		for _, l := range strings.Split(t38, "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "Success" {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				return n
			}
		}
		return -1
	}

	alice, aa := rr.phone("alice")
	box := &provisioning.FaxBox{RoutingMeta: rr.in, Name: "t38 faxes"}
	must(t, rr.svc.CreateFaxBox(ctx, admin, box))
	x := &provisioning.Extension{RoutingMeta: rr.in, Number: strconv.Itoa(liveUserBase + 71), Name: "Alice", Destination: acctDest(aa),
		FaxDetect: &provisioning.FaxDetect{BoxID: box.ID, Seconds: 20}}
	must(t, rr.svc.CreateExtension(ctx, admin, x))
	for i, tc := range []struct {
		name string
		dest provisioning.Destination
	}{
		{"DID to the box", provisioning.Destination{Kind: provisioning.DestFax, ID: box.ID}},
		{"DID to an extension with fax detection", provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}},
	} {
		did := rr.did(tc.dest)
		var ringing *sippRun
		if tc.dest.Kind == provisioning.DestExtension {
			ringing = rr.uas(alice, "ring_uas.xml", 0)
		}
		before := t38Successes()
		start := time.Now()
		cmd := strings.ReplaceAll(send, "{did}", strings.TrimPrefix(did, "+"))
		if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", cmd, err, out)
		}
		var list []provisioning.Fax
		waitFor(t, 120*time.Second, tc.name+": the fax listed", func() bool {
			var err error
			list, err = rr.svc.Faxes(ctx, admin, provisioning.FaxFilter{BoxID: box.ID})
			must(t, err)
			time.Sleep(200 * time.Millisecond)
			return len(list) > i
		})
		if ringing != nil {
			stopped(ringing)
		}
		got := list[i]
		if got.Status != provisioning.FaxReceived || got.Pages != 2 {
			t.Errorf("%s: fax %+v", tc.name, got)
		}
		after := t38Successes()
		if after != before+1 {
			t.Errorf("%s: T.38 successes %d → %d, want one more", tc.name, before, after)
		}
		results[tc.name] = fmt.Sprintf("%s, %d pages, listed %v after the originate; T.38 successes %d → %d",
			got.Status, got.Pages, time.Since(start).Round(100*time.Millisecond), before, after)
	}
}
