package freeswitch

import (
	"context"
	"os"
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
	mu sync.Mutex
	ix *FaxIndexer
}

func (f *faxRelay) FaxEvent(ev Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
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

// TestLiveFax (issue 14) on a real FreeSWITCH with mod_spandsp: txfax of
// a 2-page TIFF (SWITCHBOARD_TEST_FREESWITCH_FAX, e.g.
// /opt/fs-media/fax/send-2p.tif, a file the node reads) into a fax box's
// number over a loopback pair; the box's rxfax writes into fax_dir, the
// rxfaxresult event deposits it: listed received with 2 pages and a PDF.
func TestLiveFax(t *testing.T) {
	node := requireLiveNode(t)
	tif := os.Getenv("SWITCHBOARD_TEST_FREESWITCH_FAX")
	if tif == "" {
		t.Skip("set SWITCHBOARD_TEST_FREESWITCH_FAX to a fax TIFF the node reads")
	}
	if ans := eslCommand(t, node, "api module_exists mod_spandsp"); !strings.Contains(ans, "true") {
		t.Skipf("mod_spandsp is not loaded on the node: %q", ans)
	}
	r := newLiveRig(t, node, withRouting(), withFax(t, t.TempDir()))
	r.waitConnected(t)
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
