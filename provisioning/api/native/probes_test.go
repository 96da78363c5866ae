package native

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// fakeProbes is a prober's results held in a slice.
type fakeProbes struct{ results []api.ProbeResult }

func (f *fakeProbes) ProbeResults() []api.ProbeResult { return slices.Clone(f.results) }

func (f *fakeProbes) ProbeResult(kind api.ProbeKind, name string) (api.ProbeResult, bool) {
	for _, r := range f.results {
		if r.Kind == kind && r.Name == name {
			return r, true
		}
	}
	return api.ProbeResult{}, false
}

// withProbes rebuilds e's handler with p as its probe results.
func (e *env) withProbes(p api.Probes) {
	e.deps.Probes = p
	e.h = New(e.deps)
}

// probeFixture is a result of every kind for the tree's objects, given
// out of order.
func probeFixture(tr *tree) *fakeProbes {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	return &fakeProbes{results: []api.ProbeResult{
		{Kind: api.ProbeSwitch, Name: "ast1", URI: "sip:127.0.0.1:5060", Status: api.ProbeReachable, Code: 200, Reason: "OK", RTT: 1500 * time.Microsecond, LastProbe: at, LastChange: at},
		{Kind: api.ProbeGateway, Name: "b-gw", URI: "sip:b.gw.example:5060;transport=udp", Transport: "udp", TenantID: &tr.b.tenant, Status: api.ProbeUnreachable, Reason: "timeout", Misses: 3, LastProbe: at},
		{Kind: api.ProbeGateway, Name: "a-gw", URI: "sip:a.gw.example:5060;transport=udp", Transport: "udp", TenantID: &tr.a.tenant, Status: api.ProbeReachable, Code: 200, Reason: "OK", RTT: 12500 * time.Microsecond, LastProbe: at, LastChange: at},
		{Kind: api.ProbeGateway, Name: "shared-gw", URI: "sip:shared.gw.example:5060", Status: api.ProbeLagged, Code: 200, Reason: "OK", RTT: 1200 * time.Millisecond, LastProbe: at},
		{Kind: api.ProbeGateway, Name: "unprovisioned-gw", URI: "sip:192.0.2.9", Status: api.ProbeUnknown},
		{Kind: api.ProbeContact, Name: "a-base@a.example.com sip:a-base@10.0.0.1:5060", URI: "sip:a-base@10.0.0.1:5060", Address: "198.51.100.7:40000", Transport: "udp", Domain: "a.example.com", Status: api.ProbeReachable, Code: 200, LastProbe: at},
		{Kind: api.ProbeContact, Name: "b-base@b.example.com sip:b-base@10.0.0.2:5060", URI: "sip:b-base@10.0.0.2:5060", Domain: "b.example.com", Status: api.ProbeUnreachable},
		{Kind: api.ProbeRegisterCheck, Name: "ast1", URI: "sip:127.0.0.1:5060", Domain: "a.example.com", Status: api.ProbeFailed, Code: 403, Reason: "Forbidden", Duration: 40 * time.Millisecond, Failures: 2, LastProbe: at},
	}}
}

func probeNames(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["kind"].(string)+"/"+strings.Fields(it["name"].(string))[0])
	}
	return out
}

// /api/v1/probes lists the results in scope, filtered and paged; a
// tenant never sees another tenant's gateways or contacts, nor the
// switches and register checks.
func TestProbes(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tr := e.tree()
		e.withProbes(probeFixture(tr))
		list := func(tok, query string) []string {
			t.Helper()
			return probeNames(e.do("GET", "/api/v1/probes"+query, tok, "").must(t, http.StatusOK).items(t))
		}
		for _, tc := range []struct {
			who, tok, query string
			want            []string
		}{
			{"admin", e.admin, "", []string{"contact/a-base@a.example.com", "contact/b-base@b.example.com",
				"gateway/a-gw", "gateway/b-gw", "gateway/shared-gw", "gateway/unprovisioned-gw", "register_check/ast1", "switch/ast1"}},
			{"A", tr.tokA, "", []string{"contact/a-base@a.example.com", "gateway/a-gw", "gateway/shared-gw"}},
			{"B", tr.tokB, "", []string{"contact/b-base@b.example.com", "gateway/b-gw", "gateway/shared-gw"}},
			{"root sees both children", tr.tokR, "?kind=gateway", []string{"gateway/a-gw", "gateway/b-gw", "gateway/shared-gw"}},
			{"A by kind", tr.tokA, "?kind=contact", []string{"contact/a-base@a.example.com"}},
			{"A asks for switches", tr.tokA, "?kind=switch", nil},
			{"admin by status", e.admin, "?status=unreachable", []string{"contact/b-base@b.example.com", "gateway/b-gw"}},
			{"admin by kind and status", e.admin, "?kind=gateway&status=lagged", []string{"gateway/shared-gw"}},
			{"admin register checks", e.admin, "?status=failed", []string{"register_check/ast1"}},
		} {
			if got := list(tc.tok, tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("%s %s: %v, want %v", tc.who, tc.query, got, tc.want)
			}
		}

		// The fields of each kind.
		r := e.do("GET", "/api/v1/probes?kind=gateway", tr.tokA, "").must(t, http.StatusOK)
		if r.m["probing"] != true {
			t.Errorf("probing = %v, want true", r.m["probing"])
		}
		gw := r.items(t)[0]
		if gw["name"] != "a-gw" || gw["status"] != "reachable" || gw["code"] != 200.0 || gw["rtt_ms"] != 12.5 || gw["misses"] != 0.0 ||
			gw["transport"] != "udp" || gw["tenant_id"] != float64(tr.a.tenant) || gw["last_probe"] != "2026-11-25T12:00:00Z" ||
			gw["ok"] != nil || gw["duration_ms"] != nil || gw["failures"] != nil {
			t.Errorf("a-gw: %s", jsonStr(gw))
		}
		var rc, contact map[string]any
		for _, it := range e.do("GET", "/api/v1/probes", e.admin, "").must(t, http.StatusOK).items(t) {
			switch it["kind"] {
			case "register_check":
				rc = it
			case "contact":
				if contact == nil {
					contact = it
				}
			}
		}
		if rc["ok"] != false || rc["code"] != 403.0 || rc["duration_ms"] != 40.0 || rc["failures"] != 2.0 || rc["rtt_ms"] != nil || rc["misses"] != nil || rc["last_change"] != nil {
			t.Errorf("register check: %s", jsonStr(rc))
		}
		if contact["address"] != "198.51.100.7:40000" || contact["domain"] != "a.example.com" || contact["last_change"] != nil {
			t.Errorf("contact: %s", jsonStr(contact))
		}

		// Paging by (kind, name), one by one, with a filter.
		var walked []string
		cursor := ""
		for range 10 {
			r := e.do("GET", "/api/v1/probes?kind=gateway&limit=1&cursor="+urlQuery(cursor), e.admin, "").must(t, http.StatusOK)
			walked = append(walked, probeNames(r.items(t))...)
			if cursor, _ = r.m["next_cursor"].(string); cursor == "" {
				break
			}
		}
		if want := []string{"gateway/a-gw", "gateway/b-gw", "gateway/shared-gw", "gateway/unprovisioned-gw"}; !slices.Equal(walked, want) {
			t.Errorf("walking gateways one by one: %v, want %v", walked, want)
		}
		if r := e.do("GET", "/api/v1/probes?limit=8", e.admin, "").must(t, http.StatusOK); r.m["next_cursor"] != "" {
			t.Errorf("a page holding the last result has a next_cursor: %v", r.m["next_cursor"])
		}

		for _, bad := range []struct{ query, field string }{
			{"?kind=phone", "kind"}, {"?status=up", "status"}, {"?cursor=bm9wZQ", "cursor"}, {"?limit=0", "limit"}, {"?switch=x", "switch"},
		} {
			if f := e.do("GET", "/api/v1/probes"+bad.query, e.admin, "").must(t, http.StatusBadRequest).errOf(t)["field"]; f != bad.field {
				t.Errorf("%s: error names %v, want %s", bad.query, f, bad.field)
			}
		}
		e.do("GET", "/api/v1/probes", "", "").must(t, http.StatusUnauthorized)
	})
}

// Without probing the list is empty and says so.
func TestProbesDisabled(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.do("GET", "/api/v1/probes", e.admin, "").must(t, http.StatusOK)
		if len(r.items(t)) != 0 || r.m["probing"] != false || r.m["next_cursor"] != "" {
			t.Errorf("probes without probing: %s", r.body)
		}
	})
}

// The prober's presence feed ("sip") is one more switch in
// /api/v1/gateways/status: its word on a gateway is listed beside the
// switches'.
func TestGatewayStatusWithProber(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tr := e.tree()
		e.view.Feed("s1").PutGateway(presence.Gateway{Name: "a-gw", State: presence.GatewayDown, Registration: presence.RegFailed})
		e.view.Feed("sip").PutGateway(presence.Gateway{Name: "a-gw", State: presence.GatewayUp, Registration: presence.RegUnknown, RTT: 7 * time.Millisecond, Detail: "200 OK"})
		var got map[string]any
		for _, it := range e.do("GET", "/api/v1/gateways/status?name=a-gw", tr.tokA, "").must(t, http.StatusOK).items(t) {
			got = it
		}
		sws, _ := got["switches"].([]any)
		if got["state"] != "up" || len(sws) != 2 {
			t.Fatalf("a-gw: %s", jsonStr(got))
		}
		if sip := sws[1].(map[string]any); sip["switch"] != "sip" || sip["state"] != "up" || sip["rtt_ms"] != 7.0 || sip["detail"] != "200 OK" {
			t.Errorf("the prober's word: %s", jsonStr(sip))
		}
	})
}
