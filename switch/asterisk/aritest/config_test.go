package aritest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// request sends body (none when "") with the fake's credentials and
// returns the status and the answer, trimmed.
func request(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.SetBasicAuth(User, Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestConfigObjects: the dynamic configuration keeps what is PUT (GET
// answers it, DELETE removes it), answers 404 for what it does not have,
// 403 to a change of a pjsip.conf object and 400 to a refused object,
// with Asterisk 23.4.1's messages naming the object; a DELETE that loses
// a race removes the object and answers 403 all the same.
func TestConfigObjects(t *testing.T) {
	srv := New(t)
	srv.AddStaticObject("endpoint", "pbx-trunk", map[string]string{"context": "from-gateway"})
	srv.RefuseObject("registration", "gw2")
	do := func(method, path, body string) (int, string) {
		t.Helper()
		return request(t, method, srv.URL+"/asterisk/config/dynamic/res_pjsip/"+path, body)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		answer             string
	}{
		{"GET", "endpoint/2001", "", 404, `{"message":"Object with id '2001' not found"}`},
		{"PUT", "endpoint/2001", `{"fields":[{"attribute":"context","value":"phones"}]}`, 200, `[{"attribute":"context","value":"phones"}]`},
		{"GET", "endpoint/2001", "", 200, `[{"attribute":"context","value":"phones"}]`},
		{"DELETE", "endpoint/2001", "", 204, ""},
		{"GET", "endpoint/2001", "", 404, `{"message":"Object with id '2001' not found"}`},
		{"GET", "endpoint/pbx-trunk", "", 200, `[{"attribute":"context","value":"from-gateway"}]`},
		{"PUT", "endpoint/pbx-trunk", `{"fields":[]}`, 403, `{"message":"Could not delete object with id 'pbx-trunk'"}`},
		{"DELETE", "endpoint/pbx-trunk", "", 403, `{"message":"Could not delete object with id 'pbx-trunk'"}`},
		{"PUT", "registration/gw2", `{"fields":[{"attribute":"line","value":"yes"}]}`, 400, `{"message":"Creation of object 'gw2' failed field value validation"}`},
		{"GET", "registration/gw2", "", 404, `{"message":"Object with id 'gw2' not found"}`},
		{"PUT", "endpoint/carrier-a", `{"fields":[{"attribute":"context","value":"from-gateway"}]}`, 200, `[{"attribute":"context","value":"from-gateway"}]`},
		{"LOSE", "endpoint/carrier-a", "", 0, ""},
		{"DELETE", "endpoint/carrier-a", "", 403, `{"message":"Could not delete object with id 'carrier-a'"}`},
		{"GET", "endpoint/carrier-a", "", 404, `{"message":"Object with id 'carrier-a' not found"}`},
		{"PUT", "endpoint/carrier-a", `{"fields":[]}`, 200, `[]`},
		{"DELETE", "endpoint/carrier-a", "", 204, ""}, // the race is lost once
	} {
		if tc.method == "LOSE" {
			typ, id, _ := strings.Cut(tc.path, "/")
			srv.LoseDeleteRace(typ, id)
			continue
		}
		status, answer := do(tc.method, tc.path, tc.body)
		if status != tc.status || answer != tc.answer {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, status, answer, tc.status, tc.answer)
		}
	}
	if f, ok := srv.ConfigObject("endpoint", "pbx-trunk"); !ok || f["context"] != "from-gateway" {
		t.Errorf("the pjsip.conf object changed: %v %v", f, ok)
	}
}
