package asterisk

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

const testRecordingsDir = "/var/spool/asterisk/recordings"

// mediaFixture is the routing fixture with a DID and extension 100
// recorded, and extension 102 detecting faxes for a fax box.
func mediaFixture(t *testing.T) (*routingFixture, *provisioning.FaxBox) {
	t.Helper()
	ctx, admin := context.Background(), provisioning.AdminScope()
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	dids, err := svc.DIDs(ctx, admin, provisioning.DIDFilter{TenantID: f.tenant.ID, NumberPrefix: "+15145550101"})
	must(t, err)
	if len(dids) != 1 {
		t.Fatalf("DIDs +15145550101: %+v", dids)
	}
	_, err = svc.UpdateDID(ctx, admin, dids[0].ID, func(d *provisioning.DID) error { d.Record = true; return nil })
	must(t, err)
	_, err = svc.UpdateExtension(ctx, admin, f.objects["100"].ID, func(x *provisioning.Extension) error { x.Record = true; return nil })
	must(t, err)
	box := &provisioning.FaxBox{RoutingMeta: provisioning.RoutingMeta{TenantID: f.tenant.ID}, Number: "3290", Name: "office fax"}
	must(t, svc.CreateFaxBox(ctx, admin, box))
	_, err = svc.UpdateExtension(ctx, admin, f.objects["102"].ID, func(x *provisioning.Extension) error {
		x.FaxDetect = &provisioning.FaxDetect{BoxID: box.ID, Seconds: 8}
		return nil
	})
	must(t, err)
	return f, box
}

// TestRoutingMediaGolden renders the media fixture with recordings_dir
// and fax_dir: held by testdata/dialplan/routing_media.conf.
func TestRoutingMediaGolden(t *testing.T) {
	f, _ := mediaFixture(t)
	p, err := f.svc.TenantPlan(context.Background(), f.tenant.ID)
	must(t, err)
	o := DefaultPushOptions()
	o.SoundsDir, o.FaxDir, o.RecordingsDir = testSoundsDir, "/var/spool/asterisk/fax", testRecordingsDir
	checkDialplanGolden(t, "routing_media.conf", renderRouting("ast1", "extensions_switchboard.conf", o, nil, []*provisioning.Plan{p}))
}

// TestRoutingRecording: which entry points start the recording, and
// that nothing is rendered without recordings_dir or without a flag.
func TestRoutingRecording(t *testing.T) {
	ctx := context.Background()
	f, _ := mediaFixture(t)
	p, err := f.svc.TenantPlan(ctx, f.tenant.ID)
	must(t, err)
	base := TenantContext(f.tenant.ID)
	rec := base + "-rec"
	start := "Gosub(" + rec + ",s,1)"
	phone := "Gosub(" + rec + ",p,1)"
	alice := f.accounts["alice"].Username
	wav := RecordingBase(testRecordingsDir, f.tenant.ID, "${UNIQUEID}")

	all := *p
	all.Recording = &provisioning.RecordingPolicy{All: true}
	none := *p
	none.DIDs = slices.Clone(p.DIDs)
	for i := range none.DIDs {
		none.DIDs[i].Record = false
	}
	none.Extensions = nil
	for _, x := range p.Extensions {
		y := *x
		y.Record = false
		none.Extensions = append(none.Extensions, &y)
	}
	for _, tc := range []struct {
		name string
		dir  string
		plan *provisioning.Plan
		// want: context → extension → its first steps.
		want map[string]map[string][]string
		// noRec: no step anywhere names the rec context.
		noRec bool
	}{
		{name: "flags", dir: testRecordingsDir, plan: p, want: map[string]map[string][]string{
			DIDContext: {
				"+15145550101": {"Gosub(" + fromContext + ",s,1)", start, "Gosub(" + base + "-obj,x" + id(f.objects["101"].ID) + ",1)"},
				"15145550101":  {"Gosub(" + fromContext + ",s,1)", start},
				"+15145550102": {"Gosub(" + fromContext + ",s,1)", "Gosub(" + base + "-obj,x" + id(f.objects["102"].ID) + ",1)"},
			},
			base: {
				"100":  {"Gosub(" + base + "-cid,s,1)", phone, "Gosub(" + base + "-obj,x" + id(f.objects["100"].ID) + ",1)"},
				"_00.": {"Gosub(" + base + "-cid,s,1)", phone, "Gosub(" + base + "-out,${EXTEN},1)"},
				"500":  {"Gosub(" + base + "-cid,s,1)", phone},
			},
			base + "-obj": {
				"x" + id(f.objects["100"].ID): {start},
				"x" + id(f.objects["104"].ID): {"GotoIf($[" + deviceBusy("PJSIP/"+f.accounts["dave"].Username) + "]?" + base + "-obj,x" + id(f.objects["100"].ID) + ",1)"},
			},
			rec: {
				"s":          {`GotoIf($["${SB_REC}"!=""]?done)`, "Set(__SB_REC=${UNIQUEID})", "MixMonitor(" + wav + ".wav,b,: > " + wav + ".done)", "Return()"},
				"p":          {"GotoIf(${DIALPLAN_EXISTS(" + rec + ",e-${CHANNEL(endpoint)},1)}?s,1)", "Return()"},
				"e-" + alice: {"Goto(s,1)"},
			},
		}},
		{name: "all", dir: testRecordingsDir, plan: &all, want: map[string]map[string][]string{
			DIDContext: {"+15145550102": {"Gosub(" + fromContext + ",s,1)", start}},
			base:       {"104": {"Gosub(" + base + "-cid,s,1)", start}},
			base + "-obj": {
				"x" + id(f.objects["104"].ID): {start},
			},
		}},
		{name: "no recordings_dir", plan: p, noRec: true},
		{name: "nothing flagged", dir: testRecordingsDir, plan: &none, noRec: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultPushOptions()
			o.RecordingsDir = tc.dir
			text := renderRouting("ast1", "extensions_switchboard.conf", o, nil, []*provisioning.Plan{tc.plan})
			got := parseDialplan(t, text)
			for c, exts := range tc.want {
				for e, steps := range exts {
					have := got[c][e]
					if len(have) < len(steps) || !slices.Equal(have[:len(steps)], steps) {
						t.Errorf("[%s] %s: %q, want it to start %q", c, e, have, steps)
					}
				}
			}
			if tc.name == "all" && got[rec]["p"] != nil {
				t.Errorf("all: p rendered: %q", got[rec]["p"])
			}
			if tc.noRec && (strings.Contains(string(text), rec) || strings.Contains(string(text), "MixMonitor")) {
				t.Errorf("recording rendered:\n%s", text)
			}
		})
	}
}

// TestRoutingFaxDetect: extension 102 answers, arms res_fax's detector
// for its seconds and plays ringing before ringing its phone; the fax
// extension res_fax jumps to is in every context a Dial runs in, and in
// the IVR menus' (an extension may send its calls to one). Without
// fax_dir nothing of it is rendered.
func TestRoutingFaxDetect(t *testing.T) {
	f, box := mediaFixture(t)
	p, err := f.svc.TenantPlan(context.Background(), f.tenant.ID)
	must(t, err)
	base := TenantContext(f.tenant.ID)
	x102 := "x" + id(f.objects["102"].ID)
	for _, tc := range []struct {
		dir  string
		want bool
	}{{"/var/spool/asterisk/fax", true}, {"", false}} {
		o := DefaultPushOptions()
		o.FaxDir = tc.dir
		got := parseDialplan(t, renderRouting("ast1", "extensions_switchboard.conf", o, nil, []*provisioning.Plan{p}))
		steps := got[base+"-obj"][x102]
		detect := []string{"Answer()", "Set(SB_FAXBOX=" + id(box.ID) + ")", "Set(FAXOPT(faxdetect)=yes,8)", "TryExec(Playtones(ring))"}
		if has := len(steps) > 4 && slices.Equal(steps[:4], detect); has != tc.want {
			t.Errorf("fax_dir %q: %s is %q, detection %v", tc.dir, x102, steps, tc.want)
		}
		for _, c := range []string{base + "-obj", base + "-out", base + "-ivr" + id(f.objects["800"].ID)} {
			fax := got[c]["fax"]
			if want := []string{"Goto(" + base + "-obj,f${SB_FAXBOX},1)"}; tc.want && !slices.Equal(fax, want) || !tc.want && fax != nil {
				t.Errorf("fax_dir %q: [%s] fax is %q", tc.dir, c, fax)
			}
		}
		if tc.want && got[base+"-obj"]["f"+id(box.ID)] == nil {
			t.Errorf("the box's f%d is not rendered", box.ID)
		}
	}
}
