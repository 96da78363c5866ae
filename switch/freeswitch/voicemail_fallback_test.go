package freeswitch

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestVoicemailFallbackFile: the boxes of the fixture in the static
// file (golden testdata/voicemail/fallback.xml), each with its PIN and
// sip-forbid-register; the file is 0640 and follows a PIN change.
func TestVoicemailFallbackFile(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		dir := t.TempDir()
		fb := NewVoicemailFallback(VoicemailFallbackConfig{Node: "fs1", Dir: dir, Plans: ServicePlans(f.svc)})
		ctx := context.Background()
		if err := fb.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(fb.Path())
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "voicemail", "fallback.xml")
		if *update && db.Engine == sqldb.SQLite {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("fallback file differs from %s (-update rewrites it):\n%s", golden, got)
		}
		var doc struct {
			Domains []struct {
				Name  string `xml:"name,attr"`
				Users []struct {
					ID     string `xml:"id,attr"`
					Params []struct {
						Name  string `xml:"name,attr"`
						Value string `xml:"value,attr"`
					} `xml:"params>param"`
				} `xml:"groups>group>users>user"`
			} `xml:"domain"`
		}
		if err := xml.Unmarshal(got, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Domains) != 1 || doc.Domains[0].Name != VoicemailDomain(f.tenant.ID) || len(doc.Domains[0].Users) != 2 {
			t.Fatalf("domains %+v, want the tenant's voicemail domain with its 2 boxes", doc.Domains)
		}
		for _, u := range doc.Domains[0].Users {
			ps := map[string]string{}
			for _, p := range u.Params {
				ps[p.Name] = p.Value
			}
			if ps["sip-forbid-register"] != "true" || ps["vm-password"] == "" || ps["password"] != "" {
				t.Errorf("box %s: params %v", u.ID, ps)
			}
		}
		if fi, err := os.Stat(fb.Path()); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("mode %v %v, want 0640 (PINs)", fi.Mode(), err)
		}
		if _, err := f.svc.UpdateVoicemailBox(ctx, provisioning.AdminScope(), f.generalBox.ID, func(b *provisioning.VoicemailBox) error {
			b.PIN = "97531"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := fb.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(fb.Path()); !strings.Contains(string(got), `value="97531"`) {
			t.Errorf("the new PIN is not in the file:\n%s", got)
		}
	})
}
