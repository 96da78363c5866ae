package asterisk

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// controlAdapter returns an adapter of a fake node (which takes call
// control); nothing is dialled until a test starts WatchPresence.
func controlAdapter(t *testing.T) (*Adapter, *aritest.Server, Config) {
	t.Helper()
	cs := aritest.New(t)
	cfg := adapterConfig(cs)
	t.Cleanup(cfg.HTTPClient.CloseIdleConnections)
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, cs, cfg
}

// TestOriginateRequest checks the originate Asterisk is sent: the phone's
// endpoint first, then the destination in the phones context.
func TestOriginateRequest(t *testing.T) {
	tests := []struct {
		name     string
		req      presence.OriginateRequest
		query    map[string]string
		vars     map[string]string
		callerID bool
	}{
		{
			name: "on-net",
			req: presence.OriginateRequest{From: "1001@" + presDomain, To: "1002@" + presDomain,
				CallerNumber: "1002", CallerName: "Bob", Timeout: 19200 * time.Millisecond},
			query: map[string]string{"endpoint": "PJSIP/1001", "extension": "1002", "context": "phones",
				"priority": "1", "timeout": "20", "callerId": `"Bob" <1002>`},
			vars: nil,
		},
		{
			name: "number through a gateway",
			req: presence.OriginateRequest{From: "1001", To: "+15550100", Gateway: "gateway",
				CallerNumber: "+15550199", CallerName: `Evil "<x>"` + "\n"},
			query: map[string]string{"endpoint": "PJSIP/1001", "extension": "+15550100", "context": "phones",
				"priority": "1", "timeout": "30", "callerId": `"Evil x" <+15550199>`},
			vars: map[string]string{GatewayVar: "gateway"},
		},
		{
			name: "account of another domain keeps it, no caller id",
			req:  presence.OriginateRequest{From: "100@b.example", To: "101@b.example"},
			query: map[string]string{"endpoint": "PJSIP/100@b.example", "extension": "101@b.example", "context": "phones",
				"priority": "1", "timeout": "30"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, cs, _ := controlAdapter(t)
			id, err := a.Originate(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			got := cs.Originated()
			if len(got) != 1 {
				t.Fatalf("%d originates, want 1", len(got))
			}
			if got[0].ID != id || got[0].Query["channelId"] != id || !strings.HasPrefix(id, "sb-") {
				t.Errorf("returned id %q, sent channelId %q, channel %q", id, got[0].Query["channelId"], got[0].ID)
			}
			q := maps.Clone(got[0].Query)
			delete(q, "channelId")
			if !maps.Equal(q, tc.query) {
				t.Errorf("query %v\nwant %v", q, tc.query)
			}
			if len(got[0].Variables) != len(tc.vars) || !maps.Equal(got[0].Variables, tc.vars) {
				t.Errorf("variables %v, want %v", got[0].Variables, tc.vars)
			}
		})
	}
}

func TestOriginateErrors(t *testing.T) {
	a, cs, _ := controlAdapter(t)
	ctx := context.Background()
	for _, req := range []presence.OriginateRequest{{From: "", To: "1002"}, {From: "1001", To: ""}, {From: "a/b", To: "1"}} {
		if _, err := a.Originate(ctx, req); err == nil {
			t.Errorf("Originate(%+v) succeeded", req)
		}
	}
	if n := len(cs.Originated()); n != 0 {
		t.Errorf("%d invalid originates reached Asterisk", n)
	}
	cs.FailNext(http.StatusServiceUnavailable)
	_, err := a.Originate(ctx, presence.OriginateRequest{From: "1001", To: "1002"})
	var re *RequestError
	if !errors.As(err, &re) || re.Status != http.StatusServiceUnavailable || errors.Is(err, presence.ErrUnknownCall) {
		t.Errorf("originate answered 503: %v", err)
	}
}

// TestHangup ends an originated channel, then finds it gone, as Asterisk
// answers (recorded in rest/error-channel-not-found-404.http).
func TestHangup(t *testing.T) {
	a, cs, _ := controlAdapter(t)
	ctx := context.Background()
	id, err := a.Originate(ctx, presence.OriginateRequest{From: "1001", To: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Hangup(ctx, id); err != nil {
		t.Fatalf("Hangup(%q): %v", id, err)
	}
	if got := cs.HungUp(); len(got) != 1 || got[0] != (aritest.Hangup{ID: id, Reason: "normal"}) {
		t.Errorf("hangups %+v", got)
	}
	for _, gone := range []string{id, "1795610108.0", ""} {
		err := a.Hangup(ctx, gone)
		if !errors.Is(err, presence.ErrUnknownCall) {
			t.Errorf("Hangup(%q) of no channel: %v, want ErrUnknownCall", gone, err)
		}
		var re *RequestError
		if gone != "" && (!errors.As(err, &re) || re.Message != "Channel not found") {
			t.Errorf("Hangup(%q): %v, want Asterisk's 404 Channel not found", gone, err)
		}
	}
	cs.FailNext(http.StatusInternalServerError)
	if err := a.Hangup(ctx, id); err == nil || errors.Is(err, presence.ErrUnknownCall) {
		t.Errorf("hangup answered 500: %v", err)
	}
}

// TestCallControlThroughView drives the adapter through the presence
// view, as the self-care callback will: the originated call shows up
// live under the returned id, and the view's hangup ends it.
func TestCallControlThroughView(t *testing.T) {
	_, cs, cfg := controlAdapter(t)
	r := start(t, cfg)
	r.waitConnected(t)
	r.view.AttachController("ast1", r.a)
	ctx := context.Background()
	id, err := r.view.Originate(ctx, "ast1", presence.OriginateRequest{From: "1001@" + presDomain, To: "1002", CallerNumber: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	live := func() bool {
		for _, c := range r.view.Calls(presence.CallQuery{}) {
			if c.ID == id {
				return true
			}
		}
		return false
	}
	switchtest.WaitFor(t, "the originated call to be live", live)
	if err := r.view.Hangup(ctx, id); err != nil {
		t.Fatal(err)
	}
	switchtest.WaitFor(t, "the call to end", func() bool { return !live() })
	if err := r.view.Hangup(ctx, id); !errors.Is(err, presence.ErrUnknownCall) {
		t.Errorf("second hangup: %v, want ErrUnknownCall", err)
	}
	if n := len(cs.HungUp()); n != 1 {
		t.Errorf("%d hangups reached Asterisk, want 1", n)
	}
}
