package freeswitch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// rxfaxResultEvent is a spandsp::rxfaxresult event as mod_spandsp_fax.c
// (FreeSWITCH 1.10.12) fires it: the channel's headers and variables
// (the file rxfax was given, in the box's dir as the switch sees it).
func rxfaxResultEvent(uuid, success, text, pages string, tenant, box int64) Event {
	return NewEvent(map[string]string{
		"Event-Name": "CUSTOM", "Event-Subclass": faxEventResult,
		"Unique-ID": uuid, "Caller-Caller-ID-Number": "+15146340001",
		"fax-success": success, "fax-result-code": "0", "fax-result-text": text,
		"fax-document-transferred-pages": pages, "fax-document-total-pages": "2",
		"fax-remote-station-id": "+1 514 634 0001", "fax-ecm-used": "on", "fax-t38-status": "off",
		"variable_fax_filename": "/var/spool/freeswitch/fax/" + faxFileName(tenant, box, uuid),
	}, nil)
}

// TestFaxIndexer: the result event deposits its call's file (a real
// 2-page TIFF) with the sender and outcome, and the file goes; a failed
// transfer is partial with the switch's reason; a fax that failed before
// its first page (no file) is listed failed, named by variable_fax_filename;
// a file whose event was
// missed is taken by the scan once stale, not before; a deposit that
// fails keeps the file.
func TestFaxIndexer(t *testing.T) {
	tiff, err := os.ReadFile("../../internal/fax/testdata/2p.tif")
	if err != nil {
		t.Fatal(err)
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		ctx := context.Background()
		box := f.plan.Faxes[0]
		dir := t.TempDir()
		now := time.Now()
		ix := NewFaxIndexer(FaxIndexerConfig{Node: "fs1", Service: f.svc, Dir: dir, Now: func() time.Time { return now }})
		write := func(uuid string, b []byte) string {
			p := filepath.Join(dir, faxFileName(f.tenant.ID, box.ID, uuid))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		list := func() map[string]provisioning.Fax {
			fs, err := f.svc.Faxes(ctx, provisioning.AdminScope(), provisioning.FaxFilter{BoxID: box.ID})
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]provisioning.Fax{}
			for _, x := range fs {
				m[x.SwitchRef] = x
			}
			return m
		}

		ok := write("u-ok", tiff)
		bad := write("u-bad", tiff)
		other := filepath.Join(dir, "send-2p.tif") // not a box's: left alone
		if err := os.WriteFile(other, tiff, 0o644); err != nil {
			t.Fatal(err)
		}
		ix.event(ctx, rxfaxResultEvent("u-ok", "1", "OK", "2", f.tenant.ID, box.ID))
		ix.event(ctx, rxfaxResultEvent("u-bad", "0", "Far end cannot receive at the resolution of the image", "1", f.tenant.ID, box.ID))
		ix.event(ctx, rxfaxResultEvent("u-none", "0", "Disconnected after permitted retries", "0", f.tenant.ID, box.ID))
		// another rxfax of the switch (not a box's file): nothing
		ix.event(ctx, NewEvent(map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": faxEventResult, "Unique-ID": "u-elsewhere",
			"fax-success": "0", "fax-result-text": "Disconnected after permitted retries", "variable_fax_filename": "/tmp/rx-u-elsewhere.tif"}, nil))
		got := list()
		if x := got["u-ok"]; x.Status != provisioning.FaxReceived || x.Pages != 2 || x.RemoteStation != "+1 514 634 0001" ||
			x.CallerIDNumber != "+15146340001" || x.Switch != "fs1" || x.TenantID != f.tenant.ID {
			t.Errorf("u-ok: %+v", x)
		}
		if x := got["u-bad"]; x.Status != provisioning.FaxPartial || x.Error != "Far end cannot receive at the resolution of the image" {
			t.Errorf("u-bad: %+v", x)
		}
		// failed before its first page: no file, listed failed with the reason
		if x, ok := got["u-none"]; !ok || x.Status != provisioning.FaxFailed || x.Pages != 0 || x.Error != "Disconnected after permitted retries" || len(got) != 3 {
			t.Errorf("faxes: %v", got)
		}
		for _, p := range []string{ok, bad} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s not removed after its deposit: %v", p, err)
			}
		}
		if _, _, err := f.svc.FaxPDF(ctx, provisioning.AdminScope(), got["u-ok"].ID); err != nil {
			t.Error(err)
		}

		missed := write("u-missed", tiff)
		ix.scan(ctx)
		if _, ok := list()["u-missed"]; ok {
			t.Error("the scan took a file rxfax may still be writing")
		}
		now = now.Add(6 * time.Minute)
		ix.scan(ctx)
		if x, ok := list()["u-missed"]; !ok || x.Status != provisioning.FaxPartial || x.Pages != 2 || x.Error == "" {
			t.Errorf("u-missed after the scan: %+v %v", x, ok)
		}
		if _, err := os.Stat(missed); !os.IsNotExist(err) {
			t.Errorf("missed file not removed: %v", err)
		}
		if _, err := os.Stat(other); err != nil {
			t.Errorf("a file not of a box was touched: %v", err)
		}

		broken := write("u-broken", []byte("not a tiff"))
		ix.event(ctx, rxfaxResultEvent("u-broken", "1", "OK", "2", f.tenant.ID, box.ID))
		if _, err := os.Stat(broken); err != nil {
			t.Errorf("a file that failed to deposit was removed: %v", err)
		}
	})
}

// faxEvents is a FaxListener that keeps what it is given.
type faxEvents chan Event

func (c faxEvents) FaxEvent(ev Event) { c <- ev }

// TestAdapterFaxEvent: the adapter subscribes to spandsp::rxfaxresult
// and hands it (as mod_spandsp frames it, over the esltest fake) to
// Config.Fax, and nothing else.
func TestAdapterFaxEvent(t *testing.T) {
	got := make(faxEvents, 4)
	r := newRig(t, func(c *Config) { c.Fax = got })
	r.waitConnected(t)
	r.srv.Push([]byte("Event-Name: CUSTOM\nCore-UUID: c1\nEvent-Subclass: spandsp%3A%3Arxfaxresult\nUnique-ID: u-42\n" +
		"Caller-Caller-ID-Number: %2B15146340001\nfax-success: 1\nfax-result-code: 0\nfax-result-text: OK\n" +
		"fax-document-transferred-pages: 2\nfax-remote-station-id: %2B1%20514%20634%200001\n"))
	select {
	case ev := <-got:
		if ev.Get("Unique-ID") != "u-42" || ev.Get("fax-remote-station-id") != "+1 514 634 0001" || ev.Get("fax-success") != "1" {
			t.Errorf("event: %v", ev.Headers())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no rxfaxresult event reached Config.Fax")
	}
}

// replayFax runs a FaxIndexer on dir for the fixture's Service, fed by
// an adapter over the esltest fake, and pushes the recorded events.
func replayFax(t *testing.T, f *routingFixture, dir string, events ...[]byte) {
	t.Helper()
	ix := NewFaxIndexer(FaxIndexerConfig{Node: "fs1", Service: f.svc, Dir: dir})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	r := newRig(t, func(c *Config) { c.Fax = ix })
	r.waitConnected(t)
	r.srv.Push(events...)
}

// TestFaxIndexerRecorded replays the spandsp::rxfaxresult event and the
// TIFF recorded on fs-media (FreeSWITCH 1.10.12, txfax of a 2-page test
// chart over a loopback pair into rxfax, testdata/fax) through the
// esltest fake, the adapter and a running indexer: the fax is listed
// received, with 2 pages, the sender's station and a PDF.
func TestFaxIndexerRecorded(t *testing.T) {
	raw, err := os.ReadFile("testdata/fax/rxfaxresult.event")
	if err != nil {
		t.Fatal(err)
	}
	tiff, err := os.ReadFile("testdata/fax/rx-2p.tif")
	if err != nil {
		t.Fatal(err)
	}
	const uuid = "2b64aa80-5f97-4ef3-ab65-621cd34b420c" // the recording's Unique-ID
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		box := f.plan.Faxes[0]
		dir := t.TempDir()
		path := filepath.Join(dir, faxFileName(f.tenant.ID, box.ID, uuid))
		if err := os.WriteFile(path, tiff, 0o644); err != nil {
			t.Fatal(err)
		}
		replayFax(t, f, dir, raw)
		var got []provisioning.Fax
		waitFor(t, 10*time.Second, "the fax deposited", func() bool {
			got, _ = f.svc.Faxes(context.Background(), provisioning.AdminScope(), provisioning.FaxFilter{BoxID: box.ID})
			return len(got) == 1
		})
		x := got[0]
		if x.Status != provisioning.FaxReceived || x.Pages != 2 || x.SwitchRef != uuid || x.RemoteStation != "SpanDSP Fax Ident" || x.CallerIDNumber != "0000000000" {
			t.Errorf("fax: %+v", x)
		}
		if _, pdf, err := f.svc.FaxPDF(context.Background(), provisioning.AdminScope(), x.ID); err != nil || len(pdf) == 0 {
			t.Errorf("PDF: %d bytes, %v", len(pdf), err)
		}
		waitFor(t, 5*time.Second, "the file removed", func() bool { _, err := os.Stat(path); return os.IsNotExist(err) })
	})
}

// TestFaxIndexerRecordedFailure replays the spandsp::rxfaxresult event
// recorded on fs-media when a caller that was no fax machine (a tone,
// then hang-up) reached a box: result 49, no page, no TIFF written. The
// event names the box's file in variable_fax_filename (as the switch
// sees it, another directory): the fax is listed failed with the
// switch's reason and no document.
func TestFaxIndexerRecordedFailure(t *testing.T) {
	raw, err := os.ReadFile("testdata/fax/rxfaxresult_failed.event")
	if err != nil {
		t.Fatal(err)
	}
	const uuid = "2dea5ad1-998e-49dc-b2ca-cfe03467dbbc" // the recording's Unique-ID
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		box := f.plan.Faxes[0]
		// the recorded box was tenant 1's box 1: the fixture's instead
		ev := bytes.ReplaceAll(raw, []byte("/t1-b1-"), fmt.Appendf(nil, "/t%d-b%d-", f.tenant.ID, box.ID))
		replayFax(t, f, t.TempDir(), ev)
		var got []provisioning.Fax
		waitFor(t, 10*time.Second, "the failed fax listed", func() bool {
			got, _ = f.svc.Faxes(context.Background(), provisioning.AdminScope(), provisioning.FaxFilter{BoxID: box.ID})
			return len(got) == 1
		})
		if x := got[0]; x.Status != provisioning.FaxFailed || x.Pages != 0 || x.SwitchRef != uuid || x.Error != "The call dropped prematurely" {
			t.Errorf("fax: %+v", x)
		}
		if _, _, err := f.svc.FaxPDF(context.Background(), provisioning.AdminScope(), got[0].ID); err == nil {
			t.Error("a failed fax has a PDF")
		}
	})
}
