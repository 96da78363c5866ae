package freeswitch

import (
	"context"
	"testing"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
)

// TestAuthorizedCallCDR: the recorded legs of a call the xml_curl answer
// authorized for 5 s (routing_authz.go) and the node hung up then. The
// caller's leg must stay an outbound leg through its gateway, priced on
// the number the gateway got: when the limit was an application run on
// answer (execute_on_answer=sched_hangup) that application became the
// leg's last_app, the leg lost its gateway and was stored internal and
// free, and priced on the dialled 0033… it found no rate (both seen live
// on FreeSWITCH 1.10.12, TestLiveDaemonAuthzKill).
func TestAuthorizedCallCDR(t *testing.T) {
	const gw = "sblive-authz-kill-fs1-36589"
	opt := JSONCDROptions{Switch: "fs1", IsGateway: func(name string) bool { return name == gw }}
	var recs []cdr.Record
	for _, name := range []string{"authz-prepaid-a-leg.json", "authz-prepaid-b-leg.json"} {
		r, err := ParseJSONCDR(esltest.Recorded(name), opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		recs = append(recs, r)
	}
	a, b := recs[0], recs[1]
	if a.Direction != cdr.DirectionOutbound || a.Gateway != gw || a.Destination != "+33155501234@"+gw || a.Dialed != "0033155501234" ||
		a.Billsec != 5 || a.CauseText != "ALLOTTED_TIMEOUT" || a.LinkedID != a.CallID {
		t.Errorf("caller's leg: direction %q gateway %q destination %q dialed %q billsec %d cause %q linked %q",
			a.Direction, a.Gateway, a.Destination, a.Dialed, a.Billsec, a.CauseText, a.LinkedID)
	}
	if b.Direction != cdr.DirectionOutbound || b.Gateway != gw || b.LinkedID != a.CallID {
		t.Errorf("gateway's leg: direction %q gateway %q linked %q", b.Direction, b.Gateway, b.LinkedID)
	}

	tf := cdrtest.NewTariffs()
	tf.SetTenant(1, cdrtest.Tariff("retail", "EUR", "33=0.60"))
	tenant := int64(1)
	for i := range recs {
		recs[i].TenantID = &tenant
	}
	if err := cdr.PriceRecords(context.Background(), tf, recs); err != nil {
		t.Fatal(err)
	}
	if c := recs[0].Cost; c == nil || *c != money.MustParse("0.05") || recs[0].RatePrefix != "33" {
		t.Errorf("caller's leg priced %v (prefix %q, unpriced %q), want 0.05 at 33", c, recs[0].RatePrefix, recs[0].Unpriced)
	}
	if c := recs[1].Cost; c == nil || *c != 0 {
		t.Errorf("gateway's leg priced %v, want 0 (the call is charged once, on its caller's leg)", c)
	}
}
