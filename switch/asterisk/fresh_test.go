package asterisk

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// TestAdapterFreshNode: a freshly started Asterisk whose PJSIP endpoints
// all come from Switchboard's push has no PJSIP endpoint when the adapter
// connects, and refuses a subscription to endpoint:PJSIP with 422 "Event
// source does not exist" (seen on a real Asterisk 23.4.1, which creates
// the technology's endpoint with its first endpoint). The adapter once
// made that subscription on every connect, so it never connected to such
// a node, and never pushed the endpoint that would have let it. It must
// connect, and see a phone register once an endpoint exists.
func TestAdapterFreshNode(t *testing.T) {
	srv := aritest.New(t)
	srv.StartEmpty()
	cfg := adapterConfig(srv)
	r := start(t, cfg)
	r.waitConnected(t)
	for _, req := range srv.Requests() {
		if strings.Contains(req, "/subscription") {
			t.Errorf("request %q: the adapter needs no explicit subscription", req)
		}
	}

	srv.SetEndpoints("offline", "1001") // the first push
	pushContacts(srv, "1001", "sip:1001@192.0.2.1:5060", time.Millisecond, false)
	want := []string{"1001@pbx.example sip:1001@192.0.2.1:5060 192.0.2.1:5060 udp reachable 1ms"}
	switchtest.WaitFor(t, "1001 online", func() bool { return slices.Equal(regLines(r.view), want) })
}
