package native

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// fakeConfigStates answers every account and gateway with the states
// given for its name (username or gateway name).
type fakeConfigStates map[string][]api.ConfigState

func (f fakeConfigStates) AccountStates(a *provisioning.Account) []api.ConfigState {
	return f[a.Username]
}
func (f fakeConfigStates) GatewayStates(g *provisioning.Gateway) []api.ConfigState { return f[g.Name] }

// TestAppliedStates: every account and gateway answer (GET, list, POST,
// PATCH) carries "applied", one item per switch as the daemon's
// ConfigStates says; the switch's answer (error) is shown to admins
// only, as /api/v1/switches' last_error; without switches it is an empty
// array.
func TestAppliedStates(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tr := e.tree()
		since := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
		const refusal = `asterisk: PUT res_pjsip/registration/a-gw: 400 "Unable to create or update object" (dial 10.1.2.3)`
		e.deps.Config = fakeConfigStates{
			"a-gw": {{Switch: "ast1", Status: api.ConfigFailed, Error: refusal, Since: since},
				{Switch: "fs1", Status: api.ConfigApplied, Since: since}},
			"a-base": {{Switch: "ast1", Status: api.ConfigApplied, Since: since}, {Switch: "fs1", Status: api.ConfigOnDemand}},
		}
		e.h = New(e.deps)
		type applied struct {
			Switch, State, Error string
			Since                *time.Time
		}
		parse := func(t *testing.T, v any) []applied {
			t.Helper()
			b, _ := json.Marshal(v)
			var out []applied
			if err := json.Unmarshal(b, &out); err != nil || out == nil {
				t.Fatalf("applied = %s (%v), want an array", b, err)
			}
			return out
		}
		gwPath := path("gateways", tr.objs["a"]["gateways"])
		for _, tc := range []struct {
			who, tok  string
			wantError string
		}{{"admin", e.admin, refusal}, {"tenant admin", tr.tokA, ""}} {
			for _, r := range []resp{
				e.do("GET", gwPath, tc.tok, "").must(t, http.StatusOK),
				e.do("PATCH", gwPath, tc.tok, `{"description":"x"}`).must(t, http.StatusOK),
			} {
				got := parse(t, r.m["applied"])
				if len(got) != 2 || got[0].Switch != "ast1" || got[0].State != "failed" || got[0].Error != tc.wantError ||
					got[0].Since == nil || !got[0].Since.Equal(since) || got[1].State != "applied" {
					t.Errorf("%s: gateway applied = %+v", tc.who, got)
				}
				if tc.wantError == "" && strings.Contains(r.body, "10.1.2.3") {
					t.Errorf("%s sees the switch's answer: %s", tc.who, r.body)
				}
			}
			items := e.do("GET", "/api/v1/gateways?name=a-gw", tc.tok, "").must(t, http.StatusOK).items(t)
			if got := parse(t, items[0]["applied"]); len(got) != 2 || got[0].Error != tc.wantError {
				t.Errorf("%s: listed gateway applied = %+v", tc.who, got)
			}
		}
		acct := e.do("GET", path("accounts", tr.a.account), e.admin, "").must(t, http.StatusOK)
		if got := parse(t, acct.m["applied"]); len(got) != 2 || got[1] != (applied{"fs1", "on_demand", "", nil}) {
			t.Errorf("account applied = %+v", got)
		}
		created := e.do("POST", "/api/v1/gateways", e.admin, `{"name":"new-gw","host":"192.0.2.1"}`).must(t, http.StatusCreated)
		if got := parse(t, created.m["applied"]); len(got) != 0 {
			t.Errorf("a gateway no switch reports: applied = %+v, want []", got)
		}
	})
}
