package asterisk

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestFaxIndexer: a complete sidecar is deposited with its TIFF (2
// pages, received, caller and station from the sidecar, the uniqueid as
// the switch ref) and both files go; a sidecar still being written
// (no end=1) waits; a failed call without a TIFF is listed as failed
// with FAXERROR; a sidecar for a box that is gone stays, for a later
// scan.
func TestFaxIndexer(t *testing.T) {
	ctx := context.Background()
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	box := &provisioning.FaxBox{RoutingMeta: provisioning.RoutingMeta{TenantID: f.tenant.ID}, Number: "3290", Name: "office fax"}
	must(t, svc.CreateFaxBox(ctx, provisioning.AdminScope(), box))
	tiff, err := os.ReadFile(filepath.Join("..", "..", "internal", "fax", "testdata", "send-2p.tif"))
	must(t, err)
	dir := t.TempDir()
	ix := NewFaxIndexer(FaxIndexerConfig{Node: "ast1", Dir: dir, Service: svc})

	ok := FaxBase(dir, f.tenant.ID, box.ID, "1796608800.11")
	must(t, os.WriteFile(ok+".tif", tiff, 0o644))
	must(t, os.WriteFile(ok+".done", []byte("status=SUCCESS\npages=2\nerror=OK\nstation=+1 514 555 0000 \ncaller=5145550000\nend=1\n"), 0o644))
	writing := FaxBase(dir, f.tenant.ID, box.ID, "1796608801.12")
	must(t, os.WriteFile(writing+".tif", tiff, 0o644))
	must(t, os.WriteFile(writing+".done", []byte("status=SUCCESS\npages=2\n"), 0o644))
	failed := FaxBase(dir, f.tenant.ID, box.ID, "1796608802.13")
	must(t, os.WriteFile(failed+".done", []byte("status=FAILED\npages=0\nerror=HANGUP\nstation=\ncaller=5145550001\nend=1\n"), 0o644))
	gone := FaxBase(dir, f.tenant.ID, box.ID+1000, "1796608803.14")
	must(t, os.WriteFile(gone+".done", []byte("status=SUCCESS\nend=1\n"), 0o644))

	must(t, ix.Scan(ctx))
	list, err := svc.Faxes(ctx, provisioning.AdminScope(), provisioning.FaxFilter{BoxID: box.ID})
	must(t, err)
	byRef := map[string]provisioning.Fax{}
	for _, x := range list {
		byRef[x.SwitchRef] = x
	}
	if len(list) != 2 {
		t.Fatalf("faxes: %+v", list)
	}
	got := byRef["1796608800.11"]
	if got.Switch != "ast1" || got.Pages != 2 || got.Status != provisioning.FaxReceived || got.CallerIDNumber != "5145550000" || got.RemoteStation != "+1 514 555 0000" || got.Error != "" {
		t.Errorf("received fax: %+v", got)
	}
	_, pdf, err := svc.FaxPDF(ctx, provisioning.AdminScope(), got.ID)
	must(t, err)
	if len(pdf) == 0 {
		t.Error("received fax: no PDF")
	}
	if bad := byRef["1796608802.13"]; bad.Status != provisioning.FaxFailed || bad.Pages != 0 || bad.Error != "FAILED HANGUP" || bad.CallerIDNumber != "5145550001" {
		t.Errorf("failed fax: %+v", bad)
	}
	for path, want := range map[string]bool{ok + ".tif": false, ok + ".done": false, failed + ".done": false,
		writing + ".tif": true, writing + ".done": true, gone + ".done": true} {
		_, err := os.Stat(path)
		if there := err == nil; there != want {
			t.Errorf("%s there: %v, want %v", filepath.Base(path), there, want)
		}
	}

	// The sidecar is completed: the next scan takes it.
	fh, err := os.OpenFile(writing+".done", os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = fh.WriteString("error=OK\nstation=X\ncaller=1\nend=1\n")
	must(t, errors.Join(err, fh.Close()))
	must(t, ix.Scan(ctx))
	list, err = svc.Faxes(ctx, provisioning.AdminScope(), provisioning.FaxFilter{BoxID: box.ID})
	must(t, err)
	if len(list) != 3 {
		t.Errorf("after completion: %d faxes", len(list))
	}
	if _, err := os.Stat(writing + ".done"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("completed sidecar still there: %v", err)
	}
}

// TestFaxIndexerNoDir: a missing fax_dir is an error, not an empty scan.
func TestFaxIndexerNoDir(t *testing.T) {
	ix := NewFaxIndexer(FaxIndexerConfig{Node: "ast1", Dir: filepath.Join(t.TempDir(), "nope"), Service: newRoutingService(t)})
	if err := ix.Scan(context.Background()); err == nil {
		t.Error("no error")
	}
}

// TestParseFaxOutcome: the first value of a key counts (a caller ID with
// a newline cannot replace the status); no end=1, not complete.
func TestParseFaxOutcome(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want FaxOutcome
		err  error
	}{
		{in: "status=SUCCESS\npages=2\nerror=OK\nstation=ST\ncaller=123\nend=1\n", want: FaxOutcome{Status: "SUCCESS", Pages: 2, Error: "OK", RemoteStation: "ST", CallerIDNumber: "123"}},
		{in: "status=FAILED\npages=1\nerror=\nstation=\ncaller=1\nstatus=SUCCESS\nend=1\n", want: FaxOutcome{Status: "FAILED", Pages: 1, CallerIDNumber: "1"}},
		{in: "status=SUCCESS\r\nend=1\r\n", want: FaxOutcome{Status: "SUCCESS"}},
		{in: "status=SUCCESS\npages=2\n", want: FaxOutcome{Status: "SUCCESS", Pages: 2}, err: errFaxIncomplete},
		{in: "", err: errFaxIncomplete},
	} {
		got, err := ParseFaxOutcome([]byte(tc.in))
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParseFaxOutcome(f *testing.F) {
	f.Add([]byte("status=SUCCESS\npages=2\nerror=OK\nstation=ST\ncaller=123\nend=1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := ParseFaxOutcome(b)
		if err != nil && !errors.Is(err, errFaxIncomplete) && !errors.Is(err, errFaxSidecar) {
			t.Errorf("unexpected error %v", err)
		}
		if err == nil && !bytes.Contains(b, []byte("end=")) {
			t.Errorf("complete without end: %q", b)
		}
	})
}
