package asterisk

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestUnitStates: an account's or gateway's state sums up its objects: not
// known before it reaches the pusher, pending while its change is
// queued, applied when every object is, failed with Asterisk's answer
// when one was refused (a gateway's other objects not_applied), a
// conflict naming the object that is not Switchboard's.
func TestUnitStates(t *testing.T) {
	f := newFakeConfigARI(t)
	f.objects[ObjectRef{PJSIPEndpoint, "pbx"}] = []Field{{"context", "other"}}
	p := newTestPusher(t, f, nil)
	ctx := context.Background()
	carrier := provisioning.Gateway{ID: 1, Name: "carrier", Host: "192.0.2.10", Port: 5060, Username: "acct42", Secret: "s3cret", Register: true}
	if _, ok := p.GatewayState(1); ok {
		t.Error("a gateway never given has a state")
	}
	_ = p.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Gateway: &carrier})
	if u, ok := p.GatewayState(1); !ok || u.State != StatePending {
		t.Errorf("queued: %+v %v, want pending", u, ok)
	}
	p.Flush(ctx)
	if u, _ := p.GatewayState(1); u.State != StateApplied || u.Error != "" || len(u.Objects) != 5 || u.Since.IsZero() {
		t.Errorf("pushed: %+v, want applied with its 5 objects", u)
	}

	f.mu.Lock()
	f.refuse[ObjectRef{PJSIPRegistration, "carrier"}] = true
	f.mu.Unlock()
	carrier.Host = "192.0.2.11"
	_ = p.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Gateway: &carrier})
	p.Flush(ctx)
	u, _ := p.GatewayState(1)
	if u.State != StateFailed || !strings.Contains(u.Error, "res_pjsip/registration/carrier: 400") {
		t.Errorf("refused: %+v, want failed with Asterisk's answer", u)
	}
	for _, o := range u.Objects {
		if o.Ref.Type != PJSIPRegistration && o.State != StateNotApplied {
			t.Errorf("%s: %s, want not_applied", o.Ref, o.State)
		}
	}

	if err := p.Reconcile(ctx, []provisioning.Account{{ID: 5, Username: "pbx", Secret: "x"}, {ID: 6, Username: "2002", Secret: "y"}}, nil); err != nil {
		t.Fatal(err)
	}
	if u, _ := p.AccountState(5); u.State != StateConflict || !strings.Contains(u.Error, "res_pjsip/endpoint/pbx exists on the switch") {
		t.Errorf("clash: %+v, want a conflict naming endpoint/pbx", u)
	}
	if u, _ := p.AccountState(6); u.State != StateApplied {
		t.Errorf("account 2002: %+v, want applied", u)
	}

	// MetricPushStates counts them, every kind and state present. The
	// Reconcile gave no gateway: carrier's source is gone.
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(p.Collector()); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range fams {
		if mf.GetName() != MetricPushStates {
			continue
		}
		for _, m := range mf.GetMetric() {
			ls := map[string]string{}
			for _, l := range m.GetLabel() {
				ls[l.GetName()] = l.GetValue()
			}
			got[ls["kind"]+"/"+ls["state"]] = m.GetGauge().GetValue()
		}
	}
	if len(got) != 10 || got["account/conflict"] != 1 || got["account/applied"] != 1 || got["gateway/failed"] != 0 {
		t.Errorf("%s = %v, want 10 series, one account in conflict and one applied", MetricPushStates, got)
	}
}
