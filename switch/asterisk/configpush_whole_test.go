package asterisk

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestGatewayAppliedWholeOrNotAtAll: when Asterisk refuses one object of
// a gateway, the objects of it already on the node are deleted again, the
// failure is logged at ERROR once, counted in MetricPushFailures, and
// reported as a GatewayNotAppliedError wrapping Asterisk's refusal. Every
// way a gateway reaches the node is covered: Reconcile, and Apply (first
// push and an update of a gateway that was whole).
func TestGatewayAppliedWholeOrNotAtAll(t *testing.T) {
	carrier := provisioning.Gateway{ID: 1, Name: "carrier", Host: "192.0.2.10", Port: 5060,
		Username: "acct42", Secret: "s3cret", Register: true}
	objs, err := GatewayObjects(recordingOptions(), &carrier)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		refuse ObjectType
		// before: the gateway was pushed whole before the refusal.
		before bool
		push   func(p *ConfigPusher) error
	}{
		{name: "reconcile, registration refused", refuse: PJSIPRegistration, push: func(p *ConfigPusher) error {
			return p.Reconcile(context.Background(), nil, []provisioning.Gateway{carrier})
		}},
		{name: "reconcile, identify refused", refuse: PJSIPIdentify, push: func(p *ConfigPusher) error {
			return p.Reconcile(context.Background(), nil, []provisioning.Gateway{carrier})
		}},
		{name: "apply, endpoint refused", refuse: PJSIPEndpoint, push: applyGateway(carrier)},
		{name: "apply update of a whole gateway, registration refused", refuse: PJSIPRegistration, before: true,
			push: applyGateway(provisioning.Gateway{ID: 1, Name: "carrier", Host: "192.0.2.11", Port: 5060,
				Username: "acct42", Secret: "s3cret", Register: true})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeConfigARI(t)
			own := &MemoryOwnership{}
			var logs bytes.Buffer
			p := NewConfigPusher(PusherConfig{
				Client: NewConfigClient(f.URL(), "sb", "pw", nil), Options: recordingOptions(), Ownership: own,
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), Switch: "ast1",
			})
			if tt.before {
				if err := p.Reconcile(context.Background(), nil, []provisioning.Gateway{carrier}); err != nil {
					t.Fatalf("first push: %v", err)
				}
				logs.Reset()
			}
			f.mu.Lock()
			f.refuse[ObjectRef{tt.refuse, "carrier"}] = true
			f.mu.Unlock()

			err := tt.push(p)
			if err == nil {
				err = p.LastError() // Apply reports through LastError and the log
			}
			var gna *GatewayNotAppliedError
			if !errors.As(err, &gna) || gna.Gateway != "carrier" || !errors.Is(err, ErrConfigRejected) {
				t.Fatalf("err = %v, want a GatewayNotAppliedError for carrier wrapping ErrConfigRejected", err)
			}
			for _, o := range objs {
				if got, ok := f.object(o.Ref); ok {
					t.Errorf("res_pjsip/%s still on the node: %v", o.Ref, got)
				}
			}
			if refs, _ := own.Owned(context.Background()); len(refs) != 0 {
				t.Errorf("ownership still holds %v", refs)
			}
			if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
				t.Errorf("%d ERROR lines, want 1:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), "gateway=carrier") || strings.Contains(logs.String(), "s3cret") {
				t.Errorf("log does not name the gateway, or shows its secret:\n%s", logs.String())
			}
			if got := counterValue(t, p.failures.WithLabelValues(kindGateway)); got != 1 {
				t.Errorf("%s{kind=gateway} = %v, want 1", MetricPushFailures, got)
			}
			if got := counterValue(t, p.failures.WithLabelValues(kindAccount)); got != 0 {
				t.Errorf("%s{kind=account} = %v, want 0", MetricPushFailures, got)
			}

			// The API's view: the refused object failed with Asterisk's
			// answer, the others are not applied.
			states := p.States()
			if len(states) != len(objs) {
				t.Errorf("States() = %+v, want one per object of the gateway", states)
			}
			for _, st := range states {
				want := StateNotApplied
				if st.Ref.Type == tt.refuse {
					want = StateFailed
				}
				if st.State != want || !strings.Contains(st.Error, "400") || strings.Contains(st.Error, "s3cret") || st.Since.IsZero() {
					t.Errorf("state of %s = %+v, want %s with the 400 and no secret", st.Ref, st, want)
				}
			}

			// Once Asterisk accepts it, the next Reconcile pushes it whole.
			f.mu.Lock()
			clear(f.refuse)
			f.mu.Unlock()
			if err := p.Reconcile(context.Background(), nil, []provisioning.Gateway{carrier}); err != nil {
				t.Fatalf("Reconcile after the refusal ended: %v", err)
			}
			for _, o := range objs {
				if _, ok := f.object(o.Ref); !ok {
					t.Errorf("res_pjsip/%s missing after the retry", o.Ref)
				}
			}
			for _, st := range p.States() {
				if st.State != StateApplied || st.Error != "" {
					t.Errorf("state of %s after the retry = %+v, want applied", st.Ref, st)
				}
			}
			// Deleted on purpose: no longer listed.
			if err := p.Reconcile(context.Background(), nil, nil); err != nil {
				t.Fatal(err)
			}
			if st := p.States(); len(st) != 0 {
				t.Errorf("States() after the gateway was deleted = %+v, want none", st)
			}
		})
	}
}

func applyGateway(g provisioning.Gateway) func(p *ConfigPusher) error {
	return func(p *ConfigPusher) error {
		_ = p.Apply(context.Background(), provisioning.Change{Op: provisioning.OpUpsert, Gateway: &g})
		p.Flush(context.Background())
		return nil
	}
}

// TestPushFailuresCollector: the pusher's collector exports
// MetricPushFailures with the switch and kind labels, both kinds from the
// start, and pushers of two nodes register in one registry.
func TestPushFailuresCollector(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	for _, sw := range []string{"ast1", "ast2"} {
		p := NewConfigPusher(PusherConfig{Switch: sw, Logger: quietLogger()})
		if err := reg.Register(p.Collector()); err != nil {
			t.Fatalf("registering %s's collector: %v", sw, err)
		}
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range fams {
		if mf.GetName() != MetricPushFailures || mf.GetType() != dto.MetricType_COUNTER {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			got = append(got, strings.Join(ls, ",")+" "+strconv.FormatFloat(m.GetCounter().GetValue(), 'g', -1, 64))
		}
	}
	want := []string{"kind=account,switch=ast1 0", "kind=account,switch=ast2 0", "kind=gateway,switch=ast1 0", "kind=gateway,switch=ast2 0"}
	if !slices.Equal(got, want) {
		t.Errorf("%s series = %q, want %q", MetricPushFailures, got, want)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestStatesConflict: an object that exists on Asterisk and is not
// Switchboard's shows as a conflict; the account's other objects were
// never written and are not listed.
func TestStatesConflict(t *testing.T) {
	f := newFakeConfigARI(t)
	f.objects[ObjectRef{PJSIPEndpoint, "3001"}] = []Field{{"context", "other"}}
	p := newTestPusher(t, f, nil)
	err := p.Reconcile(context.Background(), []provisioning.Account{{ID: 10, Username: "3001", Secret: "x"}}, nil)
	if err != nil {
		t.Fatalf("err = %v, want none: a conflict is reported as a state", err)
	}
	got := p.States()
	if len(got) != 1 || got[0].Ref != (ObjectRef{PJSIPEndpoint, "3001"}) || got[0].State != StateConflict {
		t.Errorf("States() = %+v, want endpoint/3001 in conflict only", got)
	}
}
