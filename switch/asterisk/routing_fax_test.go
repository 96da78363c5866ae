package asterisk

import (
	"context"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestRoutingFax: with fax_dir, a fax box's number and a DID sent to it
// reach its fN, which answers, pushes the fdone handler and receives
// into <fax_dir>/<tenant>-<box>-${UNIQUEID}.tif; fdone writes the
// outcome, trusted keys first and end=1 last. Without fax_dir the same
// calls hang up and nothing about faxes is rendered.
func TestRoutingFax(t *testing.T) {
	ctx := context.Background()
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	admin := provisioning.AdminScope()
	box := &provisioning.FaxBox{RoutingMeta: provisioning.RoutingMeta{TenantID: f.tenant.ID}, Number: "3290", Name: "office fax"}
	must(t, svc.CreateFaxBox(ctx, admin, box))
	d := provisioning.Destination{Kind: provisioning.DestFax, ID: box.ID}
	must(t, svc.CreateDID(ctx, admin, &provisioning.DID{TenantID: f.tenant.ID, Number: "+15145553290", Destination: &d}))
	p, err := svc.TenantPlan(ctx, f.tenant.ID)
	must(t, err)
	base := TenantContext(f.tenant.ID)
	fN := "f" + id(box.ID)
	prefix := FaxBase("/var/spool/asterisk/fax", f.tenant.ID, box.ID, "${UNIQUEID}")

	for _, tc := range []struct {
		name, dir string
		want      []string // lines the file must have
		not       []string
	}{
		{name: "fax_dir", dir: "/var/spool/asterisk/fax", want: []string{
			"exten => 3290,1,Gosub(" + base + "-cid,s,1)\n same => n,Gosub(" + base + "-obj," + fN + ",1)",
			"exten => " + fN + ",1,Answer()\n" +
				" same => n,Set(SBFAX=" + prefix + ")\n" +
				" same => n,Set(CHANNEL(hangup_handler_push)=" + base + "-obj,fdone,1)\n" +
				" same => n,ReceiveFAX(${SBFAX}.tif,f)\n" +
				" same => n,Hangup()\n",
			"exten => fdone,1,Set(FILE(${SBFAX}.done,,,al,u)=status=${FAXSTATUS})\n" +
				" same => n,Set(FILE(${SBFAX}.done,,,al,u)=pages=${FAXPAGES})\n" +
				" same => n,Set(FILE(${SBFAX}.done,,,al,u)=error=${FAXERROR})\n" +
				" same => n,Set(FILE(${SBFAX}.done,,,al,u)=station=${REMOTESTATIONID})\n" +
				" same => n,Set(FILE(${SBFAX}.done,,,al,u)=caller=${CALLERID(num)})\n" +
				" same => n,Set(FILE(${SBFAX}.done,,,al,u)=end=1)\n" +
				" same => n,Return()\n",
			"Gosub(" + base + "-obj," + fN + ",1)",
		}},
		{name: "no fax_dir", want: []string{
			"exten => 3290,1,Gosub(" + base + "-cid,s,1)\n same => n,Gosub(" + base + "-obj,hangup,1)",
		}, not: []string{"ReceiveFAX", "fdone", fN}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultPushOptions()
			o.FaxDir = tc.dir
			got := string(renderRouting("ast1", "extensions_switchboard.conf", o, nil, []*provisioning.Plan{p}))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing:\n%s", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("has %q", n)
				}
			}
			if t.Failed() {
				t.Logf("rendered:\n%s", got)
			}
		})
	}
}

// TestConfigFaxDir: fax_dir must be absolute and free of what dialplan
// arguments give a meaning to.
func TestConfigFaxDir(t *testing.T) {
	for dir, ok := range map[string]bool{
		"/var/spool/asterisk/fax": true, "": true, "fax": false, "/var/fax,x": false, "/var/${X}": false, "/var/f(x)": false, "/var/a;b": false,
	} {
		c := NodeConfig{URL: "http://127.0.0.1:8088/ari", User: "u", Password: "p", FaxDir: dir}
		c.SetDefaults()
		err := c.Validate()
		if (err == nil) != ok {
			t.Errorf("fax_dir %q: %v", dir, err)
		}
		if err != nil && !strings.Contains(err.Error(), "fax_dir") {
			t.Errorf("fax_dir %q: error does not name the key: %v", dir, err)
		}
	}
}
