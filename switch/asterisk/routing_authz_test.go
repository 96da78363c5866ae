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

// TestCustomAuthz: a custom destination that dials its gateway itself is
// authorized as a route's number is when it is a number or a URI of a
// phone number; a URI of a name, or a node without authorization, is not.
func TestCustomAuthz(t *testing.T) {
	gw := int64(1)
	on := &routingRenderer{o: PushOptions{Authz: AuthzOptions{URL: "http://127.0.0.1:8080/authz", Switch: "ast1"}}, p: &provisioning.Plan{Tenant: &provisioning.Tenant{ID: 7}}}
	off := &routingRenderer{o: PushOptions{}, p: on.p}
	for _, tc := range []struct {
		name string
		r    *routingRenderer
		u    provisioning.CustomDestination
		out  string // SB_OUT; "": not authorized
	}{
		{"number", on, provisioning.CustomDestination{Number: "15145550142", GatewayID: &gw}, "15145550142"},
		{"URI of a number", on, provisioning.CustomDestination{URI: "sip:+15145550166@carrier.example;user=phone", GatewayID: &gw}, "+15145550166"},
		{"URI of a name", on, provisioning.CustomDestination{URI: "sip:sales@partner.example", GatewayID: &gw}, ""},
		{"node without authorization", off, provisioning.CustomDestination{Number: "15145550142", GatewayID: &gw}, ""},
	} {
		steps, opts := tc.r.customAuthz(&tc.u)
		if tc.out == "" {
			if steps != nil || opts != "" {
				t.Errorf("%s: authorized: %v %q", tc.name, steps, opts)
			}
			continue
		}
		if len(steps) < 2 || steps[0] != "Set(SB_OUT="+tc.out+")" || !strings.Contains(strings.Join(steps, "\n"), "tenant=7") || opts != ",,${SB_AUTHZ_OPT}" {
			t.Errorf("%s: %v %q", tc.name, steps, opts)
		}
	}
}
