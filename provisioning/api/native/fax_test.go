package native

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestFaxesAPI: a fax box over HTTP; a received fax listed with its
// pages and served as a PDF; deleted; another tenant sees nothing.
func TestFaxesAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"acme"}`)
		other := e.create("tenants", e.admin, `{"name":"globex"}`)
		ta := e.token("acme-admin", "tenant-admin", ptr(tn))
		box := e.create("fax-boxes", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"3290","name":"office fax","email":"fax@acme.example"}`, tn))
		if r := e.do("POST", "/api/v1/fax-boxes", ta, fmt.Sprintf(`{"tenant_id":%d,"name":"x","email":"not an address"}`, tn)); r.code != 400 || r.errOf(t)["field"] != "email" {
			t.Errorf("a bad e-mail: %d %s", r.code, r.body)
		}
		tiff, err := os.ReadFile(filepath.Join("..", "..", "..", "internal", "fax", "testdata", "send-2p.tif"))
		if err != nil {
			t.Fatal(err)
		}
		fx := &provisioning.Fax{BoxID: box, Switch: "ast1", SwitchRef: "1733561400.42", CallerIDNumber: "+15145550111"}
		if _, err := e.svc.DepositFax(context.Background(), fx, tiff); err != nil {
			t.Fatal(err)
		}
		list := e.do("GET", fmt.Sprintf("/api/v1/faxes?box_id=%d", box), ta, "").must(t, http.StatusOK).items(t)
		if len(list) != 1 || list[0]["pages"] != float64(2) || list[0]["status"] != "received" {
			t.Fatalf("list: %v", list)
		}
		pdf := e.do("GET", path("faxes", fx.ID)+"/pdf", ta, "").must(t, http.StatusOK)
		if pdf.hdr.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.body, "%PDF-") {
			t.Errorf("pdf: %s %q", pdf.hdr.Get("Content-Type"), pdf.body[:min(8, len(pdf.body))])
		}
		if r := e.do("GET", path("faxes", fx.ID), e.token("globex-admin", "tenant-admin", ptr(other)), ""); r.code != 404 {
			t.Errorf("another tenant read the fax: %d", r.code)
		}
		e.do("DELETE", path("faxes", fx.ID), ta, "").must(t, http.StatusNoContent)
		e.do("GET", path("faxes", fx.ID)+"/pdf", ta, "").must(t, http.StatusNotFound)
	})
}
