package asterisk

import (
	"context"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestRoutingDialplanAuthz renders the fixture's plan with authorization
// on, for each fail policy: the routes ask the endpoint before their
// first Dial, which gets S(); emergency routes do not ask. The files are
// held by testdata/dialplan/routing-authz-{open,closed}.conf.
func TestRoutingDialplanAuthz(t *testing.T) {
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	p, err := svc.TenantPlan(context.Background(), f.tenant.ID)
	must(t, err)
	for _, closed := range []bool{false, true} {
		o := DefaultPushOptions()
		o.SoundsDir = testSoundsDir
		o.Authz = AuthzOptions{URL: "http://127.0.0.1:8080/authz", Switch: "ast1", FailClosed: closed}
		got := renderRouting("ast1", "extensions_switchboard.conf", o, nil, []*provisioning.Plan{p})
		name := map[bool]string{false: "routing-authz-open.conf", true: "routing-authz-closed.conf"}[closed]
		checkDialplanGolden(t, name, got)
		text := string(got)
		for _, want := range []string{
			"Set(SB_AUTHZ=${CURL(http://127.0.0.1:8080/authz/authorize?switch=ast1&tenant=",
			"&dest=${URIENCODE(${SB_OUT})}&call=${URIENCODE(${UNIQUEID})}&account=${URIENCODE(${CHANNEL(endpoint)})})})",
			",,${SB_AUTHZ_OPT})",
			map[bool]string{false: "Goto(authz-dial)", true: "Hangup(42)"}[closed],
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: no %q", name, want)
			}
		}
	}
	// without a URL nothing changes
	o := DefaultPushOptions()
	o.SoundsDir = testSoundsDir
	if got := string(renderRouting("ast1", "extensions_switchboard.conf", o, nil, []*provisioning.Plan{p})); strings.Contains(got, "SB_AUTHZ") {
		t.Error("authorization rendered without a URL")
	}
}
