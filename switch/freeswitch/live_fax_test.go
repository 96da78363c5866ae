package freeswitch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// faxRelay is the live rig's Config.Fax: it hands the events to the
// FaxIndexer withFax starts, none before.
type faxRelay struct {
	mu   sync.Mutex
	ix   *FaxIndexer
	seen func(Event) // when set, called with each event (mu held)
}

func (f *faxRelay) FaxEvent(ev Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen != nil {
		f.seen(ev)
	}
	if f.ix != nil {
		f.ix.FaxEvent(ev)
	}
}

// withFax renders fax boxes into dir (the node's fax_dir: FreeSWITCH on
// this machine writes it) and runs a FaxIndexer on it.
func withFax(t *testing.T, dir string) liveRigOption {
	return func(r *liveRig, c *XMLCurlConfig) {
		c.FaxDir = dir
		ix := NewFaxIndexer(FaxIndexerConfig{Node: r.node.Name, Service: r.svc, Dir: dir})
		r.fax.mu.Lock()
		r.fax.ix = ix
		r.fax.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = ix.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
}

// liveFaxRig skips unless the live node and a fax TIFF it reads
// (SWITCHBOARD_TEST_FREESWITCH_FAX) are given and mod_spandsp is loaded,
// then starts a rig with routing and fax boxes receiving into dir.
func liveFaxRig(t *testing.T, dir string) (liveNode, string, *liveRig) {
	t.Helper()
	node := requireLiveNode(t)
	tif := os.Getenv("SWITCHBOARD_TEST_FREESWITCH_FAX")
	if tif == "" {
		t.Skip("set SWITCHBOARD_TEST_FREESWITCH_FAX to a fax TIFF the node reads")
	}
	if ans := eslCommand(t, node, "api module_exists mod_spandsp"); !strings.Contains(ans, "true") {
		t.Skipf("mod_spandsp is not loaded on the node: %q", ans)
	}
	r := newLiveRig(t, node, withRouting(), withFax(t, dir))
	r.waitConnected(t)
	return node, tif, r
}

// TestLiveFax (issue 14) on a real FreeSWITCH with mod_spandsp: txfax of
// a 2-page TIFF (SWITCHBOARD_TEST_FREESWITCH_FAX, e.g.
// /opt/fs-media/fax/send-2p.tif, a file the node reads) into a fax box's
// number over a loopback pair; the box's rxfax writes into fax_dir, the
// rxfaxresult event deposits it: listed received with 2 pages and a PDF.
func TestLiveFax(t *testing.T) {
	node, tif, r := liveFaxRig(t, t.TempDir())
	ctx, sc := context.Background(), provisioning.AdminScope()
	tenant := r.tenantID(t)
	box := &provisioning.FaxBox{RoutingMeta: provisioning.RoutingMeta{TenantID: tenant},
		Number: "6" + strconv.FormatInt(time.Now().UnixMilli()%100000, 10), Name: "live fax"}
	liveMust(t, r.svc.CreateFaxBox(ctx, sc, box))
	start := time.Now()
	// loopback has no T.38: the sender keeps to audio
	eslCommand(t, node, "bgapi originate {fax_enable_t38=false}loopback/"+box.Number+"/"+RoutingContext(tenant)+" &txfax("+tif+")")
	var got []provisioning.Fax
	waitFor(t, 120*time.Second, "the fax deposited", func() bool {
		got, _ = r.svc.Faxes(ctx, sc, provisioning.FaxFilter{BoxID: box.ID})
		return len(got) == 1
	})
	x := got[0]
	t.Logf("fax %s: status %s, %d pages, station %q, error %q, %v after the originate", x.SwitchRef, x.Status, x.Pages, x.RemoteStation, x.Error, time.Since(start))
	if x.Status != provisioning.FaxReceived || x.Pages != 2 {
		t.Errorf("fax: %+v", x)
	}
	if _, pdf, err := r.svc.FaxPDF(ctx, sc, x.ID); err != nil || len(pdf) == 0 {
		t.Errorf("PDF: %d bytes, %v", len(pdf), err)
	}
}

// TestLiveFaxDetect (issue 14) on a real FreeSWITCH with mod_spandsp:
// an extension that detects fax (10 s, to a fax box) rings a registered
// phone. A fax sent with txfax (SWITCHBOARD_TEST_FREESWITCH_FAX) over a
// SIP call to a DID of the extension is detected while the phone rings
// (the phone's INVITE is cancelled) and arrives in the box with its 2
// pages; a voice call (a carrier through a DID) to the same
// extension rings the phone, which answers and takes the caller's BYE.
func TestLiveFaxDetect(t *testing.T) {
	node, tif, r := liveFaxRig(t, t.TempDir())
	external := profileAddress(t, node, "external")
	ctx, sc := context.Background(), provisioning.AdminScope()
	tenant := r.tenantID(t)
	in := provisioning.RoutingMeta{TenantID: tenant}
	stamp := strconv.FormatInt(time.Now().UnixMilli()%100000, 10)
	var results []string
	t.Cleanup(func() {
		for _, x := range results {
			t.Logf("| %s |", x)
		}
	})
	box := &provisioning.FaxBox{RoutingMeta: in, Name: "detected faxes"}
	liveMust(t, r.svc.CreateFaxBox(ctx, sc, box))
	phone := r.routingPhone(t, 71, "phone_ring.xml")
	x := &provisioning.Extension{RoutingMeta: in, Number: "5" + stamp, Name: "fax or voice", Destination: phone.dest(),
		FaxDetect: &provisioning.FaxDetect{BoxID: box.ID, Seconds: 10}}
	liveMust(t, r.svc.CreateExtension(ctx, sc, x))

	did := "+1555" + stamp + "71"
	xd := provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}
	liveMust(t, r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: tenant, Number: did, Destination: &xd}))

	// a fax machine calls the DID over SIP (the node calls its own
	// external profile): detected while the phone rings. Not over a
	// loopback pair: txfax is SAF_NO_LOOPBACK, so mod_loopback bows out
	// and moves it onto the real channel the other half bridges, here
	// the ringing phone's (seen on fs-media: "BOWOUT Replacing loopback
	// channel with real channel: sofia/internal/<phone>", then txfax on
	// the phone's leg, T.30 result 49).
	start := time.Now()
	eslCommand(t, node, "bgapi originate {fax_enable_t38=false,absolute_codec_string=PCMU}sofia/external/"+did+"@"+external+" &txfax("+tif+")")
	if err := phone.finished(30 * time.Second); err != nil {
		t.Errorf("the phone was not rung then cancelled: %v", err)
	}
	rang := time.Since(start)
	var got []provisioning.Fax
	waitFor(t, 120*time.Second, "the fax deposited", func() bool {
		got, _ = r.svc.Faxes(ctx, sc, provisioning.FaxFilter{BoxID: box.ID})
		return len(got) == 1
	})
	f := got[0]
	if f.Status != provisioning.FaxReceived || f.Pages != 2 {
		t.Errorf("fax: %+v", f)
	}
	if _, pdf, err := r.svc.FaxPDF(ctx, sc, f.ID); err != nil || len(pdf) == 0 {
		t.Errorf("PDF: %d bytes, %v", len(pdf), err)
	}
	results = append(results, fmt.Sprintf("txfax to the extension: the phone rang and was cancelled %v after the originate (CNG detected), fax %s with %d pages listed %v after it",
		rang.Round(100*time.Millisecond), f.Status, f.Pages, time.Since(start).Round(100*time.Millisecond)))

	// a voice call: the phone rings and answers
	phone.restart(t, "phone_answer.xml")
	call := startPhone(t, "carrier "+did, "carrier_call.xml", external, "-s", "carrier", "-key", "dest", did, "-d", "3000")
	if err := phone.finished(30 * time.Second); err != nil {
		t.Errorf("the phone did not answer the voice call and get its BYE: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	liveMust(t, call.result(cctx))
	cancel()
	if got, _ := r.svc.Faxes(ctx, sc, provisioning.FaxFilter{BoxID: box.ID}); len(got) != 1 {
		t.Errorf("the voice call reached the fax box: %d faxes", len(got))
	}
	results = append(results, "voice call (carrier → DID → the extension): the phone rang, answered, and got the carrier's BYE; no fax")
}

// TestLiveFaxFailed (issue 14): a caller that is no fax machine (a
// loopback leg playing a tone for 6 s, then hanging up) calls a fax box:
// rxfax fails before its first page, writes no TIFF, and the fax is
// listed failed with the switch's reason, without a document.
func TestLiveFaxFailed(t *testing.T) {
	dir := t.TempDir()
	node, _, r := liveFaxRig(t, dir)
	ctx, sc := context.Background(), provisioning.AdminScope()
	tenant := r.tenantID(t)
	box := &provisioning.FaxBox{RoutingMeta: provisioning.RoutingMeta{TenantID: tenant},
		Number: "6" + strconv.FormatInt(time.Now().UnixMilli()%100000, 10), Name: "live fax failed"}
	liveMust(t, r.svc.CreateFaxBox(ctx, sc, box))
	start := time.Now()
	eslCommand(t, node, "bgapi originate {fax_enable_t38=false}loopback/"+box.Number+"/"+RoutingContext(tenant)+" &playback(tone_stream://%(6000,0,440))")
	var got []provisioning.Fax
	waitFor(t, 60*time.Second, "the failed fax listed", func() bool {
		got, _ = r.svc.Faxes(ctx, sc, provisioning.FaxFilter{BoxID: box.ID})
		return len(got) == 1
	})
	x := got[0]
	t.Logf("| a tone instead of a fax: listed %s, %d pages, error %q, %v after the originate |", x.Status, x.Pages, x.Error, time.Since(start).Round(100*time.Millisecond))
	if x.Status != provisioning.FaxFailed || x.Pages != 0 || x.Error == "" {
		t.Errorf("fax: %+v", x)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("files left in fax_dir: %v", left)
	}
}

// TestLiveFaxT38 (issue 14): a fax over T.38 to a DID of a fax box. The
// node calls a DID on its own external profile (as a carrier would),
// the sender asking for T.38 (fax_enable_t38_request): the box accepts
// the re-INVITE (fax_enable_t38) and receives the 2 pages over UDPTL.
func TestLiveFaxT38(t *testing.T) {
	node, tif, r := liveFaxRig(t, t.TempDir())
	external := profileAddress(t, node, "external")
	ctx, sc := context.Background(), provisioning.AdminScope()
	tenant := r.tenantID(t)
	stamp := strconv.FormatInt(time.Now().UnixMilli()%100000, 10)
	box := &provisioning.FaxBox{RoutingMeta: provisioning.RoutingMeta{TenantID: tenant}, Name: "t38 box"}
	liveMust(t, r.svc.CreateFaxBox(ctx, sc, box))
	did := "+1555" + stamp + "38"
	liveMust(t, r.svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: tenant, Number: did, Destination: &provisioning.Destination{Kind: provisioning.DestFax, ID: box.ID}}))
	var t38 []string
	r.fax.mu.Lock()
	r.fax.seen = func(ev Event) { t38 = append(t38, ev.Get("fax-t38-status")) }
	r.fax.mu.Unlock()
	start := time.Now()
	eslCommand(t, node, "bgapi originate {fax_enable_t38=true,fax_enable_t38_request=true,absolute_codec_string=PCMU}sofia/external/"+did+"@"+external+" &txfax("+tif+")")
	var got []provisioning.Fax
	waitFor(t, 120*time.Second, "the fax deposited", func() bool {
		got, _ = r.svc.Faxes(ctx, sc, provisioning.FaxFilter{BoxID: box.ID})
		return len(got) == 1
	})
	x := got[0]
	r.fax.mu.Lock()
	status := strings.Join(t38, ",")
	r.fax.mu.Unlock()
	t.Logf("| T.38 to a fax DID: %s, %d pages, fax-t38-status %q, %v after the originate |", x.Status, x.Pages, status, time.Since(start).Round(100*time.Millisecond))
	if x.Status != provisioning.FaxReceived || x.Pages != 2 {
		t.Errorf("fax: %+v", x)
	}
	if status != "negotiated" { // mod_spandsp: "off" over audio
		t.Errorf("fax-t38-status %q: the fax did not go over T.38", status)
	}
}
