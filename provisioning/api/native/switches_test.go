package native

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestSwitchesAdminOnly: the switches are the operator's and their
// last_error names internal addresses, so only an admin lists them (and
// keeps last_error); tenant-admin and user tokens get 403 forbidden with
// nothing of the switches in the answer.
func TestSwitchesAdminOnly(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tr := e.tree()
		const leak = "dial tcp 10.20.30.40:8088: connect: connection refused"
		e.view.Feed("asterisk-1").SetConnected(false, errors.New(leak))
		user := e.token("a-user", provisioning.RoleUser, &tr.a.tenant)
		for _, tc := range []struct {
			who, tok string
			want     int
		}{
			{"admin", e.admin, http.StatusOK},
			{"tenant-admin", tr.tokA, http.StatusForbidden},
			{"user", user, http.StatusForbidden},
			{"no token", "", http.StatusUnauthorized},
		} {
			r := e.do("GET", "/api/v1/switches", tc.tok, "")
			if r.code != tc.want {
				t.Errorf("%s: %d %s, want %d", tc.who, r.code, r.body, tc.want)
				continue
			}
			switch tc.want {
			case http.StatusOK:
				items := r.items(t)
				if len(items) != 1 || items[0]["last_error"] != leak {
					t.Errorf("admin: last_error missing: %s", r.body)
				}
			case http.StatusForbidden:
				if code := r.errOf(t)["code"]; code != "forbidden" {
					t.Errorf("%s: code %v, want forbidden", tc.who, code)
				}
			}
			if tc.want != http.StatusOK && (strings.Contains(r.body, "10.20.30.40") || strings.Contains(r.body, "asterisk-1")) {
				t.Errorf("%s: the refusal shows the switches: %s", tc.who, r.body)
			}
		}
	})
}
