package asterisk

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// The live fax test (opt-in, skipped unless all three are set):
//
//	SWITCHBOARD_TEST_ASTERISK_FAX_CLI='/opt/asterisk/sbin/asterisk -C /opt/ast-media/etc/asterisk.conf -rx'
//	SWITCHBOARD_TEST_ASTERISK_FAX_DIR=/tmp/sbfax   (Asterisk writes, the test reads; created 0777)
//	SWITCHBOARD_TEST_ASTERISK_FAX_SEND=/opt/ast-media/fax/send-2p.tif   (a 2-page TIFF Asterisk reads)
const (
	envFaxCLI  = "SWITCHBOARD_TEST_ASTERISK_FAX_CLI"
	envFaxDir  = "SWITCHBOARD_TEST_ASTERISK_FAX_DIR"
	envFaxSend = "SWITCHBOARD_TEST_ASTERISK_FAX_SEND"
)

// TestLiveFaxReceive: the rendered fN and fdone, loaded into the node
// with `dialplan add extension` (in the context they name), receive a
// 2-page fax a Local channel sends with SendFAX; the FaxIndexer finds
// the sidecar and deposits it: listed as received, 2 pages, with a PDF,
// and both files gone.
func TestLiveFaxReceive(t *testing.T) {
	cliCmd, dir, send := os.Getenv(envFaxCLI), os.Getenv(envFaxDir), os.Getenv(envFaxSend)
	if cliCmd == "" || dir == "" || send == "" {
		t.Skipf("set %s, %s and %s to run against a real Asterisk", envFaxCLI, envFaxDir, envFaxSend)
	}
	must(t, os.MkdirAll(dir, 0o777))
	must(t, os.Chmod(dir, 0o777))
	cli := func(cmd string) string {
		args := append(strings.Fields(cliCmd), cmd)
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", cmd, err, out)
		}
		return string(out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	box := &provisioning.FaxBox{RoutingMeta: provisioning.RoutingMeta{TenantID: f.tenant.ID}, Number: "3290", Name: "office fax"}
	must(t, svc.CreateFaxBox(ctx, provisioning.AdminScope(), box))
	p, err := svc.TenantPlan(ctx, f.tenant.ID)
	must(t, err)
	o := DefaultPushOptions()
	o.FaxDir = dir
	rendered := renderRouting("ast1", "extensions_switchboard.conf", o, nil, []*provisioning.Plan{p})
	obj := TenantContext(f.tenant.ID) + "-obj"
	fN := "f" + id(box.ID)
	for _, ext := range []string{fN, "fdone"} {
		steps := renderedSteps(t, rendered, ext)
		for i, s := range steps {
			cli("dialplan add extension " + ext + "," + id(int64(i+1)) + "," + s + " into " + obj + " replace")
		}
		t.Cleanup(func() {
			for i := len(steps); i >= 1; i-- {
				cli("dialplan remove extension " + ext + "@" + obj + " " + id(int64(i)))
			}
		})
	}
	ix := NewFaxIndexer(FaxIndexerConfig{Node: "ast1", Dir: dir, Service: svc, Every: 500 * time.Millisecond})
	go func() { _ = ix.Run(ctx) }()

	start := time.Now()
	cli("channel originate Local/" + fN + "@" + obj + " application SendFAX " + send + ",f")
	var list []provisioning.Fax
	for ctx.Err() == nil {
		list, err = svc.Faxes(ctx, provisioning.AdminScope(), provisioning.FaxFilter{BoxID: box.ID})
		must(t, err)
		if len(list) > 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(list) != 1 {
		t.Fatalf("faxes after %v: %+v", time.Since(start), list)
	}
	got := list[0]
	if got.Status != provisioning.FaxReceived || got.Pages != 2 || got.Switch != "ast1" || got.SwitchRef == "" {
		t.Errorf("fax: %+v", got)
	}
	_, pdf, err := svc.FaxPDF(ctx, provisioning.AdminScope(), got.ID)
	must(t, err)
	if len(pdf) == 0 {
		t.Error("no PDF")
	}
	base := FaxBase(dir, f.tenant.ID, box.ID, got.SwitchRef)
	for _, ext := range []string{".tif", ".done"} {
		if _, err := os.Stat(base + ext); !os.IsNotExist(err) {
			t.Errorf("%s%s still there: %v", base, ext, err)
		}
	}
	t.Logf("fax %s: %d pages, %s, PDF %d bytes, listed %v after the originate", got.SwitchRef, got.Pages, got.Status, len(pdf), time.Since(start).Round(time.Millisecond))
}

// renderedSteps are extension ext's applications in the rendered file,
// in priority order.
func renderedSteps(t *testing.T, file []byte, ext string) []string {
	t.Helper()
	var steps []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(string(file)))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "exten => "+ext+",1,"):
			in = true
			steps = append(steps, strings.TrimPrefix(l, "exten => "+ext+",1,"))
		case in && strings.HasPrefix(l, " same => n,"):
			steps = append(steps, strings.TrimPrefix(l, " same => n,"))
		default:
			in = false
		}
	}
	if len(steps) == 0 {
		t.Fatalf("no extension %s in:\n%s", ext, file)
	}
	return steps
}
