package asterisk

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// envLiveTrunk names an endpoint the live node defines in pjsip.conf (an
// operator's trunk); TestLiveObservedTrunk skips without it.
const envLiveTrunk = "SWITCHBOARD_TEST_ASTERISK_TRUNK"

// recordingConfig records the writes a pusher sends to the node.
type recordingConfig struct {
	*ConfigClient
	mu     sync.Mutex
	writes []string
}

func (r *recordingConfig) Put(ctx context.Context, ref ObjectRef, fs []Field) ([]Field, error) {
	r.mu.Lock()
	r.writes = append(r.writes, "PUT "+ref.String())
	r.mu.Unlock()
	return r.ConfigClient.Put(ctx, ref, fs)
}

func (r *recordingConfig) Delete(ctx context.Context, ref ObjectRef) error {
	r.mu.Lock()
	r.writes = append(r.writes, "DELETE "+ref.String())
	r.mu.Unlock()
	return r.ConfigClient.Delete(ctx, ref)
}

func (r *recordingConfig) touching(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, w := range r.writes {
		if strings.HasSuffix(w, "/"+id) {
			out = append(out, w)
		}
	}
	return out
}

// TestLiveObservedTrunk, against a real node with a pjsip.conf trunk:
// a managed gateway of the trunk's name is a conflict (a state, one WARN,
// no ERROR, no error returned, no failure counted) on the first reconcile
// and after a reconnect; the same gateway declared observed costs the node
// no write; a tls gateway on a node without transport-tls is refused by
// Asterisk and reported failed with its answer and counted.
//
//	SWITCHBOARD_TEST_ASTERISK_TRUNK=pbx-trunk SWITCHBOARD_TEST_ASTERISK=… go test ./switch/asterisk -run TestLiveObservedTrunk -v
func TestLiveObservedTrunk(t *testing.T) {
	n := requireLiveNode(t)
	trunk := os.Getenv(envLiveTrunk)
	if trunk == "" {
		t.Skipf("%s is not set: name an endpoint of the node's pjsip.conf", envLiveTrunk)
	}
	ctx := t.Context()
	rec := &recordingConfig{ConfigClient: NewConfigClient(n.url, n.user, n.password, nil)}
	if _, err := rec.Get(ctx, ObjectRef{PJSIPEndpoint, trunk}); err != nil {
		t.Fatalf("the node has no endpoint %s: %v", trunk, err)
	}
	var logs bytes.Buffer
	p := newConfigPusher(rec, PusherConfig{Options: DefaultPushOptions(), Switch: "live",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	managed := provisioning.Gateway{ID: 1, Name: trunk, Host: "192.0.2.60", Port: 5060}
	for range 2 {
		p.Invalidate() // a reconnect
		if err := p.Reconcile(ctx, nil, []provisioning.Gateway{managed}); err != nil {
			t.Fatalf("Reconcile with a clashing gateway: %v", err)
		}
	}
	u, _ := p.GatewayState(1)
	t.Logf("managed gateway %s: %s %q", trunk, u.State, u.Error)
	if u.State != StateConflict {
		t.Errorf("managed gateway %s: %s, want conflict", trunk, u.State)
	}
	if strings.Contains(logs.String(), "level=ERROR") || strings.Count(logs.String(), "level=WARN") != 1 {
		t.Errorf("want one WARN and no ERROR:\n%s", logs.String())
	}

	observed := provisioning.Gateway{ID: 1, Name: trunk, Observed: true}
	_ = p.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Gateway: &observed})
	p.Flush(ctx)
	p.Invalidate()
	if err := p.Reconcile(ctx, nil, []provisioning.Gateway{observed}); err != nil {
		t.Fatalf("Reconcile with the observed gateway: %v", err)
	}
	if w := rec.touching(trunk); len(w) != 0 {
		t.Errorf("writes to the operator's trunk: %v", w)
	}
	if n := counterValue(t, p.failures.WithLabelValues(kindGateway)); n != 0 {
		t.Errorf("push failures = %v, want 0 so far", n)
	}

	if _, err := rec.Get(ctx, ObjectRef{"transport", "transport-tls"}); err == nil {
		t.Log("the node has transport-tls: the refused push is not tried")
		return
	}
	tlsgw := provisioning.Gateway{ID: 2, Name: "sblive-tlsgw", Host: "127.0.0.1", Port: 5061, Transport: provisioning.TransportTLS,
		Username: "u1", Secret: "tls-S3cret", Register: true}
	t.Cleanup(func() { _ = p.Reconcile(context.Background(), nil, nil) })
	_ = p.Reconcile(ctx, nil, []provisioning.Gateway{tlsgw})
	u, _ = p.GatewayState(2)
	t.Logf("tls gateway without transport-tls: %s %q", u.State, u.Error)
	if u.State != StateFailed || !strings.Contains(u.Error, ": 400 ") {
		t.Errorf("tls gateway: %s %q, want failed with Asterisk's 400", u.State, u.Error)
	}
	if n := counterValue(t, p.failures.WithLabelValues(kindGateway)); n != 1 {
		t.Errorf("push failures = %v, want 1", n)
	}
}
