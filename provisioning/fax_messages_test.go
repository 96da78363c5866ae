package provisioning_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestFaxes: a fax box is a routing object (a number of the plan, a
// destination); a fax a switch received is kept once as a PDF with its
// page count; one of which no page arrived is listed as failed without
// a PDF; a TIFF that is no fax is refused; a deposit is a change (for
// the mailer).
func TestFaxes(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		sc, in := f.tenantAdmin, provisioning.RoutingMeta{TenantID: f.t.ID}
		box := &provisioning.FaxBox{RoutingMeta: in, Number: "3290", Name: "office fax", Email: "fax@acme.example"}
		must(t, e.svc.CreateFaxBox(e.ctx, sc, box))
		p, err := e.svc.RoutingPlan(e.ctx, sc, f.t.ID)
		must(t, err)
		if d, ok := p.Number("3290"); !ok || d.Kind != provisioning.DestFax {
			t.Errorf("3290 in the plan: %v %v", d, ok)
		}
		if got := steps(p.Trace(dest{Kind: provisioning.DestFax, ID: box.ID}, time.Now(), "")); got != "fax 3290\n" {
			t.Errorf("trace: %q", got)
		}
		tiff, err := os.ReadFile(filepath.Join("..", "internal", "fax", "testdata", "send-2p.tif"))
		must(t, err)
		e.sink.take()
		fx := &provisioning.Fax{BoxID: box.ID, Switch: "fs1", SwitchRef: "uuid-fax-1", CallerIDNumber: "+15145550111", RemoteStation: "+1 514 555 0111"}
		created, err := e.svc.DepositFax(e.ctx, fx, tiff)
		must(t, err)
		if !created || fx.Pages != 2 || fx.Status != provisioning.FaxReceived || fx.TenantID != f.t.ID {
			t.Fatalf("deposit: %v %+v", created, fx)
		}
		var changes int
		for _, c := range e.sink.take() {
			if c.Fax != nil && c.Fax.ID == fx.ID {
				changes++
			}
		}
		if changes != 1 {
			t.Errorf("%d changes for the deposit", changes)
		}
		_, pdf, err := e.svc.FaxPDF(e.ctx, sc, fx.ID)
		must(t, err)
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf, []byte("/Count 2")) {
			t.Errorf("the PDF does not hold 2 pages (%d bytes)", len(pdf))
		}
		if again, _ := e.svc.DepositFax(e.ctx, &provisioning.Fax{BoxID: box.ID, Switch: "fs1", SwitchRef: "uuid-fax-1"}, tiff); again {
			t.Error("the same fax deposited twice")
		}
		failed := &provisioning.Fax{BoxID: box.ID, Switch: "fs1", SwitchRef: "uuid-fax-2", Error: "no fax tones (T.30 timeout)"}
		_, err = e.svc.DepositFax(e.ctx, failed, nil)
		must(t, err)
		if failed.Status != provisioning.FaxFailed || failed.Pages != 0 {
			t.Errorf("a fax without pages: %+v", failed)
		}
		if _, _, err := e.svc.FaxPDF(e.ctx, sc, failed.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("the PDF of a failed fax: %v", err)
		}
		if _, err := e.svc.DepositFax(e.ctx, &provisioning.Fax{BoxID: box.ID, Switch: "fs1", SwitchRef: "uuid-fax-3"}, []byte("II*\x00garbage")); err == nil {
			t.Error("a TIFF that is no fax was taken")
		}
		list, err := e.svc.Faxes(e.ctx, sc, provisioning.FaxFilter{BoxID: box.ID})
		must(t, err)
		if len(list) != 2 {
			t.Errorf("%d faxes listed, want 2", len(list))
		}
		must(t, e.svc.DeleteFax(e.ctx, sc, fx.ID))
		if again, _ := e.svc.DepositFax(e.ctx, &provisioning.Fax{BoxID: box.ID, Switch: "fs1", SwitchRef: "uuid-fax-1"}, tiff); again {
			t.Error("a deleted fax deposited again")
		}
		other := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: f.other.ID, Path: f.other.Path}
		if _, err := e.svc.Fax(e.ctx, other, failed.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("another tenant read the fax: %v", err)
		}
	})
}
