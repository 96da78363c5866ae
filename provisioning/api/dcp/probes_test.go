package dcp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/provisioning/api/dcp"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// fakeProbes answers ProbeResult from a map keyed by gateway name.
type fakeProbes map[string]api.ProbeResult

func (f fakeProbes) ProbeResults() []api.ProbeResult {
	out := []api.ProbeResult{}
	for _, r := range f {
		out = append(out, r)
	}
	return out
}

func (f fakeProbes) ProbeResult(kind api.ProbeKind, name string) (api.ProbeResult, bool) {
	r, ok := f[name]
	return r, ok && kind == api.ProbeGateway
}

// gateway/list's status and rtt_ms are the prober's word when it probes
// the gateway, the switches' otherwise; registration stays the switches'.
func TestGatewayListWithProbes(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		// The prober's presence feed, as the daemon wires it.
		f.view.Feed(api.ProbeFeed).PutGateway(presence.Gateway{Name: "gw-a", State: presence.GatewayDown, Detail: "408 timeout"})
		f.view.Feed(api.ProbeFeed).PutGateway(presence.Gateway{Name: "gw-shared", State: presence.GatewayUp, RTT: 8 * time.Millisecond, Detail: "200 OK"})
		probes := fakeProbes{
			// gw-a: ast1 has it up, the prober has not heard from it.
			"gw-a": {Kind: api.ProbeGateway, Name: "gw-a", Status: api.ProbeUnreachable, Misses: 3},
			// gw-b: probed, but no answer yet: the switches' word stands.
			"gw-b": {Kind: api.ProbeGateway, Name: "gw-b", Status: api.ProbeUnknown},
			// gw-shared: no switch reports it, the prober has it lagged.
			"gw-shared": {Kind: api.ProbeGateway, Name: "gw-shared", Status: api.ProbeLagged, RTT: 1500 * time.Millisecond},
		}
		f.handler = dcp.New(api.Deps{Service: f.svc, Presence: f.view, Probes: probes})
		mux := http.NewServeMux()
		mux.Handle("/dcp/", http.StripPrefix("/dcp", f.handler))
		f.mux = mux

		var gws []map[string]any
		ok(t, f.call(t, "", encGET, "gateway/list", "admin", nil)).data(t, &gws)
		byName := map[string]map[string]any{}
		for _, g := range gws {
			byName[g["name"].(string)] = g
		}
		for _, tc := range []struct {
			name, status, registration, sw string
			rtt                            any
			switches                       int
		}{
			{"gw-a", "down", "registered", "sip", nil, 3},
			{"gw-b", "up", "unknown", "ast1", nil, 1},
			{"gw-shared", "up", "unknown", "sip", 1500.0, 1},
		} {
			g := byName[tc.name]
			if g["status"] != tc.status || g["registration"] != tc.registration || g["switch"] != tc.sw || g["rtt_ms"] != tc.rtt ||
				len(g["switches"].([]any)) != tc.switches {
				t.Errorf("%s: %v, want status %s registration %s switch %s rtt %v and %d switches",
					tc.name, g, tc.status, tc.registration, tc.sw, tc.rtt, tc.switches)
			}
		}
	})
}
