package freeswitch

import (
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// TestFaxFileName: the names rxfax writes read back to tenant, box and
// uuid; anything else in fax_dir is left alone.
func TestFaxFileName(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tenant, box int64
		uuid        string
		ok          bool
	}{
		{faxFileName(3, 41, "0a1b2c3d-0000-4000-8000-000000000001"), 3, 41, "0a1b2c3d-0000-4000-8000-000000000001", true},
		{"t3-b41-x.tif", 3, 41, "x", true},
		{"t3-b41-.tif", 0, 0, "", false},
		{"t03-b41-x.tif", 0, 0, "", false},
		{"t3-b0-x.tif", 0, 0, "", false},
		{"t3-b41-x.tiff", 0, 0, "", false},
		{"send-2p.tif", 0, 0, "", false},
		{"t-b1-x.tif", 0, 0, "", false},
		{"t+3-b41-x.tif", 0, 0, "", false},
	} {
		tn, bx, u, ok := parseFaxFileName(tc.name)
		if tn != tc.tenant || bx != tc.box || u != tc.uuid || ok != tc.ok {
			t.Errorf("%q: got %d %d %q %v, want %d %d %q %v", tc.name, tn, bx, u, ok, tc.tenant, tc.box, tc.uuid, tc.ok)
		}
	}
}

// TestFaxBoxWithoutFaxDir: a node without fax_dir hangs up the boxes'
// calls (nowhere to write) and never runs rxfax.
func TestFaxBoxWithoutFaxDir(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		o := testRenderOptions
		o.FaxDir = ""
		r := renderPlan(f.plan, o)
		for _, b := range f.plan.Faxes {
			x := r.byKey[faxBoxLabel(b.ID)]
			if !strings.Contains(x, `application="hangup" data="CALL_REJECTED"`) || strings.Contains(x, "rxfax") {
				t.Errorf("box %d without fax_dir:\n%s", b.ID, x)
			}
		}
		with := renderPlan(f.plan, testRenderOptions)
		if x := with.byKey[faxBoxLabel(f.plan.Faxes[0].ID)]; !strings.Contains(x, "rxfax") {
			t.Errorf("with fax_dir: no rxfax:\n%s", x)
		}
	})
}
