package asterisk

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// TestAdapterFreshNode: a freshly started Asterisk whose PJSIP endpoints
// all come from Switchboard's push has no PJSIP endpoint when the adapter
// connects, and answers its endpoint:PJSIP subscription 422 "Event source
// does not exist" (seen on a real Asterisk 23.4.1; the technology endpoint
// is created with the first endpoint). The adapter must connect anyway —
// failing there would never let the push that creates the endpoints run —
// and subscribe once an endpoint exists, so that endpoint state events
// (sent to subscribers only) reach presence from then on.
func TestAdapterFreshNode(t *testing.T) {
	srv := aritest.New(t)
	srv.StartEmpty()
	cfg := adapterConfig(srv)
	cfg.SubscribeRetry = 20 * time.Millisecond
	r := start(t, cfg)
	r.waitConnected(t)
	if subs := srv.Subscriptions(cfg.App); len(subs) != 0 {
		t.Fatalf("subscriptions %v on a node without PJSIP endpoints, want none (Asterisk refuses them)", subs)
	}
	refused := func() int {
		n := 0
		for _, req := range srv.Requests() {
			if req == "POST /ari/applications/switchboard/subscription?eventSource=endpoint%3APJSIP" {
				n++
			}
		}
		return n
	}
	switchtest.WaitFor(t, "the subscription tried again", func() bool { return refused() >= 3 })
	if !r.state().Connected {
		t.Fatal("the adapter left the connection over a refused subscription")
	}

	// The first push creates an endpoint: the subscription then holds and
	// a phone registering to it is online.
	srv.SetEndpoints("offline", "1001")
	switchtest.WaitFor(t, "the endpoint subscription", func() bool {
		return slices.Contains(srv.Subscriptions(cfg.App), "endpoint:PJSIP")
	})
	if n := pushContacts(srv, "1001", "sip:1001@192.0.2.1:5060", time.Millisecond, false); n != 1 {
		t.Fatalf("the registration's events reached %d sockets, want 1", n)
	}
	want := []string{"1001@pbx.example sip:1001@192.0.2.1:5060 192.0.2.1:5060 udp reachable 1ms"}
	switchtest.WaitFor(t, "1001 online", func() bool { return slices.Equal(regLines(r.view), want) })
	tries := refused()
	time.Sleep(100 * time.Millisecond)
	if n := refused(); n != tries {
		t.Errorf("%d more subscription attempts after it held, want none", n-tries)
	}
}
