package asterisk

import (
	"fmt"
	"os"
	"strconv"
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

	// 2. A voice call through a DID: answered by Asterisk, the phone
	// rings and answers, then hangs up after 3 s.
	did := rr.did(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID})
	phone := rr.uas(alice, "answer_uas.xml", 3*time.Second)
	start = time.Now()
	call := rr.carrier(did, "+15550001113")
	if err := call.wait(40 * time.Second); err != nil {
		t.Fatalf("the voice call: %v", err)
	}
	if err := phone.wait(5 * time.Second); err != nil {
		t.Errorf("the phone's side of the voice call: %v", err)
	}
	if l, _ := rr.svc.Faxes(ctx, admin, provisioning.FaxFilter{BoxID: box.ID}); len(l) != 1 {
		t.Errorf("faxes after the voice call: %d", len(l))
	}
	results["voice"] = fmt.Sprintf("answered by the phone, ended after %v; no fax", time.Since(start).Round(100*time.Millisecond))
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
