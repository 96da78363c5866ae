package asterisk

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// touching lists the PUTs and DELETEs of requests whose object id is id.
func touching(reqs []fakeRequest, id string) []string {
	var out []string
	for _, m := range methods(reqs) {
		if (strings.HasPrefix(m, "PUT ") || strings.HasPrefix(m, "DELETE ")) && strings.HasSuffix(m, "/"+id) {
			out = append(out, m)
		}
	}
	return out
}

// TestObservedGatewayNeverPushed: an observed gateway costs the node no
// write, whether pjsip.conf defines the trunk or not, through Reconcile
// (twice, across a reconnect) and through Apply of its creation, update
// and deletion; nothing is logged at ERROR and nothing counted as a
// failure.
func TestObservedGatewayNeverPushed(t *testing.T) {
	for _, static := range []bool{true, false} {
		t.Run(map[bool]string{true: "in pjsip.conf", false: "not on the node"}[static], func(t *testing.T) {
			f := newFakeConfigARI(t)
			trunk := []Field{{"context", "from-gateway"}, {"aors", "pbx-trunk"}}
			if static {
				f.addStatic(ObjectRef{PJSIPEndpoint, "pbx-trunk"}, trunk)
			}
			var logs bytes.Buffer
			p := NewConfigPusher(PusherConfig{Client: NewConfigClient(f.URL(), "sb", "pw", nil), Options: recordingOptions(),
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), Switch: "ast1"})
			g := provisioning.Gateway{ID: 7, Name: "pbx-trunk", Observed: true}
			ctx := context.Background()
			for range 2 {
				p.Invalidate()
				if err := p.Reconcile(ctx, nil, []provisioning.Gateway{g}); err != nil {
					t.Fatalf("Reconcile: %v", err)
				}
			}
			withHost := g
			withHost.Host = "192.0.2.20"
			for _, c := range []provisioning.Change{{Op: provisioning.OpUpsert, Gateway: &g}, {Op: provisioning.OpUpsert, Gateway: &withHost},
				{Op: provisioning.OpDelete, Gateway: &withHost}} {
				_ = p.Apply(ctx, c)
				p.Flush(ctx)
			}
			if got := touching(f.takeRequests(), "pbx-trunk"); len(got) != 0 {
				t.Errorf("the observed gateway was written to the node: %v", got)
			}
			if fs, ok := f.object(ObjectRef{PJSIPEndpoint, "pbx-trunk"}); ok != static || static && !slices.Equal(fs, trunk) {
				t.Errorf("endpoint/pbx-trunk on the node: %v %v, want it as pjsip.conf has it (%v)", ok, fs, static)
			}
			if err := p.LastError(); err != nil {
				t.Errorf("LastError: %v", err)
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("ERROR logged for an observed gateway:\n%s", logs.String())
			}
			if n := counterValue(t, p.failures.WithLabelValues(kindGateway)); n != 0 {
				t.Errorf("push failures = %v, want 0", n)
			}
			if sts := p.States(); len(sts) != 0 {
				t.Errorf("States() = %+v, want nothing for an observed gateway", sts)
			}
		})
	}
}

// TestManagedGatewayTurnedObservedIsHandedOver: a managed gateway that
// Switchboard pushed and that becomes observed is handed over to the
// operator: its objects stay on the node, Switchboard forgets it owned
// them, and no later Reconcile deletes them.
func TestManagedGatewayTurnedObservedIsHandedOver(t *testing.T) {
	for _, how := range []string{"reconcile", "apply"} {
		t.Run(how, func(t *testing.T) {
			f := newFakeConfigARI(t)
			own := &MemoryOwnership{}
			p := newTestPusher(t, f, own)
			ctx := context.Background()
			g := provisioning.Gateway{ID: 3, Name: "carrier", Host: "192.0.2.10", Port: 5060}
			if err := p.Reconcile(ctx, nil, []provisioning.Gateway{g}); err != nil {
				t.Fatal(err)
			}
			f.takeRequests()
			g.Observed = true
			if how == "apply" {
				_ = p.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Gateway: &g})
				p.Flush(ctx)
			}
			for range 2 {
				if err := p.Reconcile(ctx, nil, []provisioning.Gateway{g}); err != nil {
					t.Fatal(err)
				}
			}
			if got := touching(f.takeRequests(), "carrier"); len(got) != 0 {
				t.Errorf("the handed-over gateway was written or deleted: %v", got)
			}
			for _, typ := range []ObjectType{PJSIPAOR, PJSIPEndpoint, PJSIPIdentify} {
				if _, ok := f.object(ObjectRef{typ, "carrier"}); !ok {
					t.Errorf("%s/carrier was removed from the node", typ)
				}
			}
			if refs, _ := own.Owned(ctx); len(refs) != 0 {
				t.Errorf("still owned: %v", refs)
			}
			if sts := p.States(); len(sts) != 0 {
				t.Errorf("States() = %+v, want nothing of a handed-over gateway", sts)
			}
			if _, ok := p.GatewayState(g.ID); ok {
				t.Error("the observed gateway has a push state")
			}
			// Deleting it from Switchboard leaves the node alone too.
			_ = p.Apply(ctx, provisioning.Change{Op: provisioning.OpDelete, Gateway: &g})
			p.Flush(ctx)
			if err := p.Reconcile(ctx, nil, nil); err != nil {
				t.Fatal(err)
			}
			if got := touching(f.takeRequests(), "carrier"); len(got) != 0 {
				t.Errorf("deleting the observed gateway touched the node: %v", got)
			}
		})
	}
}

// TestGatewayConflictReportedOnce: a managed gateway whose name
// pjsip.conf already uses is a conflict: a state, a WARN when first seen,
// and neither an ERROR, a returned error nor a push failure, on the first
// Reconcile or on any reconnect after it.
func TestGatewayConflictReportedOnce(t *testing.T) {
	f := newFakeConfigARI(t)
	f.addStatic(ObjectRef{PJSIPEndpoint, "pbx-trunk"}, []Field{{"context", "from-gateway"}})
	var logs bytes.Buffer
	p := NewConfigPusher(PusherConfig{Client: NewConfigClient(f.URL(), "sb", "pw", nil), Options: recordingOptions(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Switch: "ast1"})
	g := provisioning.Gateway{ID: 7, Name: "pbx-trunk", Host: "192.0.2.20", Port: 5060}
	ctx := context.Background()
	for i := range 3 {
		p.Invalidate() // a reconnect
		if err := p.Reconcile(ctx, nil, []provisioning.Gateway{g}); err != nil {
			t.Fatalf("Reconcile %d: %v", i, err)
		}
	}
	_ = p.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Gateway: &g})
	p.Flush(ctx)
	if got := touching(f.takeRequests(), "pbx-trunk"); len(got) != 0 {
		t.Errorf("wrote to the operator's trunk: %v", got)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("ERROR logged for a conflict:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "endpoint/pbx-trunk") {
		t.Errorf("%d WARN lines, want 1 naming endpoint/pbx-trunk:\n%s", n, logs.String())
	}
	if err := p.LastError(); err != nil {
		t.Errorf("LastError: %v", err)
	}
	if n := counterValue(t, p.failures.WithLabelValues(kindGateway)); n != 0 {
		t.Errorf("push failures = %v, want 0 (a conflict is not a failed push)", n)
	}
	sts := p.States()
	i := slices.IndexFunc(sts, func(st ObjectState) bool { return st.Ref == ObjectRef{PJSIPEndpoint, "pbx-trunk"} })
	if i < 0 || sts[i].State != StateConflict {
		t.Errorf("States() = %+v, want endpoint/pbx-trunk in conflict", sts)
	}
}
