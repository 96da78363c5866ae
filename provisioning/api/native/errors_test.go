package native

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// Every error class answers the one envelope with the right status, code
// and field, and bad input writes nothing.
func TestErrors(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.base("acme", nil)
		child := e.create("tenants", e.admin, fmt.Sprintf(`{"name":"child","parent_id":%d}`, b.tenant))
		gw := e.create("gateways", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"gw","host":"gw.example"}`, b.tenant))
		userTok := e.token("reader", provisioning.RoleUser, &b.tenant)
		taTok := e.token("ta", provisioning.RoleTenantAdmin, &b.tenant)
		before := e.snapshot()

		const (
			none   = "-"
			ctJSON = "application/json"
		)
		cases := []struct {
			name         string
			method, path string
			token        string // "" = admin, none = no header
			ctype        string // "" = application/json when there is a body
			body         string
			status       int
			code, field  string
		}{
			{"no token", "GET", "/api/v1/tenants", none, "", "", 401, codeUnauthenticated, ""},
			{"unknown token", "GET", "/api/v1/tenants", "sbt_nope", "", "", 401, codeUnauthenticated, ""},
			{"no token on a write", "POST", "/api/v1/tenants", none, "", `{"name":"x"}`, 401, codeUnauthenticated, ""},
			{"read-only role writes", "POST", "/api/v1/tenants", userTok, "", fmt.Sprintf(`{"name":"x","parent_id":%d}`, b.tenant), 403, codeForbidden, ""},
			{"read-only role deletes", "DELETE", path("accounts", b.account), userTok, "", "", 403, codeForbidden, ""},
			{"tenant-admin deletes own tenant", "DELETE", path("tenants", b.tenant), taTok, "", "", 403, codeForbidden, ""},
			{"missing object", "GET", "/api/v1/tenants/999999", "", "", "", 404, codeNotFound, ""},
			{"missing object patch", "PATCH", "/api/v1/domains/999999", "", "", `{"description":"x"}`, 404, codeNotFound, ""},
			{"id not a number", "GET", "/api/v1/tenants/abc", "", "", "", 400, codeBadParameter, "id"},
			{"id zero", "GET", "/api/v1/users/0", "", "", "", 400, codeBadParameter, "id"},
			{"id negative", "DELETE", "/api/v1/dids/-3", "", "", "", 400, codeBadParameter, "id"},
			{"id overflow", "GET", "/api/v1/accounts/99999999999999999999", "", "", "", 400, codeBadParameter, "id"},
			{"unknown query parameter", "GET", "/api/v1/tenants?bogus=1", "", "", "", 400, codeBadParameter, "bogus"},
			{"query parameter on an item", "GET", path("tenants", b.tenant) + "?limit=1", "", "", "", 400, codeBadParameter, "limit"},
			{"repeated parameter", "GET", "/api/v1/tenants?limit=1&limit=2", "", "", "", 400, codeBadParameter, "limit"},
			{"limit zero", "GET", "/api/v1/tenants?limit=0", "", "", "", 400, codeBadParameter, "limit"},
			{"limit too big", "GET", "/api/v1/domains?limit=1001", "", "", "", 400, codeBadParameter, "limit"},
			{"limit not a number", "GET", "/api/v1/users?limit=ten", "", "", "", 400, codeBadParameter, "limit"},
			{"bad cursor", "GET", "/api/v1/accounts?cursor=not-a-cursor", "", "", "", 400, codeBadParameter, "cursor"},
			{"bad presence cursor", "GET", "/api/v1/registrations?cursor=%21%21", "", "", "", 400, codeBadParameter, "cursor"},
			{"bad filter id", "GET", "/api/v1/accounts?domain_id=x", "", "", "", 400, codeBadParameter, "domain_id"},
			{"malformed query", "GET", "/api/v1/tenants?name=%zz", "", "", "", 400, codeBadParameter, "name"},
			{"no content type", "POST", "/api/v1/tenants", "", none, `{"name":"x"}`, 415, codeUnsupportedMedia, ""},
			{"text/plain", "POST", "/api/v1/tenants", "", "text/plain", `{"name":"x"}`, 415, codeUnsupportedMedia, ""},
			{"form", "PATCH", path("tenants", b.tenant), "", "application/x-www-form-urlencoded", `name=x`, 415, codeUnsupportedMedia, ""},
			{"latin-1", "POST", "/api/v1/tenants", "", "application/json; charset=iso-8859-1", `{"name":"x"}`, 415, codeUnsupportedMedia, ""},
			{"empty body", "POST", "/api/v1/tenants", "", ctJSON, "", 400, codeMalformedBody, ""},
			{"truncated JSON", "POST", "/api/v1/tenants", "", "", `{"name":`, 400, codeMalformedBody, ""},
			{"syntax error", "POST", "/api/v1/tenants", "", "", `{"name" "x"}`, 400, codeMalformedBody, ""},
			{"array body", "POST", "/api/v1/tenants", "", "", `[{"name":"x"}]`, 400, codeMalformedBody, ""},
			{"null body", "POST", "/api/v1/tenants", "", "", `null`, 400, codeMalformedBody, ""},
			{"string body", "POST", "/api/v1/tenants", "", "", `"x"`, 400, codeMalformedBody, ""},
			{"wrong type", "POST", "/api/v1/tenants", "", "", `{"name":5}`, 400, codeInvalid, "name"},
			{"id as string", "POST", "/api/v1/domains", "", "", fmt.Sprintf(`{"tenant_id":"%d","name":"x.example"}`, b.tenant), 400, codeInvalid, "tenant_id"},
			{"fraction for integer", "POST", "/api/v1/gateways", "", "", `{"name":"g2","host":"h.example","port":5060.5}`, 400, codeInvalid, "port"},
			{"integer overflow", "POST", "/api/v1/gateways", "", "", `{"name":"g2","host":"h.example","port":1e30}`, 400, codeInvalid, "port"},
			{"bool as string", "PATCH", path("gateways", gw), "", "", `{"register":"yes"}`, 400, codeInvalid, "register"},
			{"unknown field", "POST", "/api/v1/tenants", "", "", `{"name":"x","bogus":1}`, 400, codeUnknownField, "bogus"},
			{"read-only field", "PATCH", path("gateways", gw), "", "", `{"id":5}`, 400, codeUnknownField, "id"},
			{"secret of a user", "POST", "/api/v1/users", "", "", fmt.Sprintf(`{"tenant_id":%d,"login":"z","password":"pw-123456","secret":"x"}`, b.tenant), 400, codeUnknownField, "secret"},
			{"trailing object", "POST", "/api/v1/tenants", "", "", `{"name":"x"}{"name":"y"}`, 400, codeMalformedBody, ""},
			{"trailing garbage", "POST", "/api/v1/tenants", "", "", `{"name":"x"} xyz`, 400, codeMalformedBody, ""},
			{"invalid UTF-8", "POST", "/api/v1/tenants", "", "", "{\"name\":\"a\xffb\"}", 400, codeMalformedBody, "name"},
			{"invalid UTF-8 in a later field", "POST", "/api/v1/domains", "", "", fmt.Sprintf("{\"tenant_id\":%d,\"name\":\"x.example\",\"description\":\"\xc3\x28\"}", b.tenant), 400, codeMalformedBody, "description"},
			{"null for a string", "POST", "/api/v1/tenants", "", "", `{"name":null}`, 400, codeInvalid, "name"},
			{"null for an integer", "PATCH", path("domains", b.domain), "", "", `{"tenant_id":null}`, 400, codeInvalid, "tenant_id"},
			{"validation", "POST", "/api/v1/tenants", "", "", `{"name":"  "}`, 400, codeInvalid, "name"},
			{"validation of a username", "POST", "/api/v1/accounts", "", "", fmt.Sprintf(`{"domain_id":%d,"username":"bad user"}`, b.domain), 400, codeInvalid, "username"},
			{"validation of a port", "PATCH", path("gateways", gw), "", "", `{"port":70000}`, 400, codeInvalid, "port"},
			{"validation of a secret", "POST", "/api/v1/accounts", "", "", fmt.Sprintf(`{"domain_id":%d,"username":"1009","secret":"a b"}`, b.domain), 400, codeInvalid, "secret"},
			{"short password", "PATCH", path("users", b.user), "", "", `{"password":"x"}`, 400, codeInvalid, "password"},
			{"domain of an account is fixed", "PATCH", path("accounts", b.account), "", "", `{"domain_id":999}`, 400, codeInvalid, "domain_id"},
			{"domain of an account by name", "PATCH", path("accounts", b.account), "", "", `{"domain":"other.example"}`, 400, codeInvalid, "domain_id"},
			{"tenant-admin root tenant", "POST", "/api/v1/tenants", taTok, "", `{"name":"root2"}`, 403, codeForbidden, "parent_id"},
			{"missing domain", "POST", "/api/v1/accounts", "", "", `{"domain_id":999999,"username":"1001"}`, 422, codeInvalidRef, "domain_id"},
			{"missing domain by name", "POST", "/api/v1/accounts", "", "", `{"domain":"nowhere.example","username":"1001"}`, 422, codeInvalidRef, "domain_id"},
			{"missing account", "POST", "/api/v1/dids", "", "", fmt.Sprintf(`{"tenant_id":%d,"number":"+15550001111","account_id":999999}`, b.tenant), 422, codeInvalidRef, "account_id"},
			{"missing parent", "PATCH", path("tenants", child), "", "", `{"parent_id":999999}`, 422, codeInvalidRef, "parent_id"},
			{"duplicate domain", "POST", "/api/v1/domains", "", "", fmt.Sprintf(`{"tenant_id":%d,"name":%q}`, b.tenant, b.domainName), 409, codeConflict, "name"},
			{"duplicate login", "POST", "/api/v1/users", "", "", fmt.Sprintf(`{"tenant_id":%d,"login":"acme-owner","password":"pw-123456"}`, b.tenant), 409, codeConflict, "login"},
			{"delete with children", "DELETE", path("tenants", b.tenant), "", "", "", 409, codeConflict, ""},
			{"delete a domain with accounts", "DELETE", path("domains", b.domain), "", "", "", 409, codeConflict, ""},
			{"method not allowed", "PUT", "/api/v1/tenants", "", "", `{"name":"x"}`, 405, codeMethodNotAllowed, ""},
			{"method not allowed on an item", "POST", path("tenants", b.tenant), "", "", `{"name":"x"}`, 405, codeMethodNotAllowed, ""},
			{"no such route", "GET", "/api/v1/nothing", "", "", "", 404, codeNotFound, ""},
			{"no such route, no token", "GET", "/api/v1/tenants/1/domains", none, "", "", 404, codeNotFound, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				req := httptest.NewRequest(tc.method, tc.path, body)
				switch {
				case tc.ctype == none:
				case tc.ctype != "":
					req.Header.Set("Content-Type", tc.ctype)
				case tc.body != "":
					req.Header.Set("Content-Type", ctJSON)
				}
				tok := tc.token
				switch tok {
				case none:
					tok = ""
				case "":
					tok = e.admin
				}
				r := e.send(req, tok)
				checkError(t, r, tc.status, tc.code, tc.field)
				switch tc.status {
				case 401:
					if h := r.hdr.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") {
						t.Errorf("WWW-Authenticate = %q", h)
					}
				case 405:
					if r.hdr.Get("Allow") == "" {
						t.Error("405 without Allow")
					}
				}
			})
		}
		if after := e.snapshot(); after != before {
			t.Errorf("refused requests changed the store:\nbefore %s\nafter  %s", before, after)
		}
		// A charset parameter naming UTF-8 is fine.
		req := httptest.NewRequest("POST", "/api/v1/tenants", strings.NewReader(fmt.Sprintf(`{"name":"utf8","parent_id":%d}`, b.tenant)))
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
		e.send(req, e.admin).must(t, http.StatusCreated)
	})
}

// checkError checks an error answer's status and envelope.
func checkError(t *testing.T, r resp, status int, code, field string) {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d; body %s", r.code, status, r.body)
	}
	if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	env := r.errOf(t)
	if env["status"] != float64(status) || env["code"] != code {
		t.Errorf("envelope %s, want status %d code %s", r.body, status, code)
	}
	if got, _ := env["field"].(string); got != field {
		t.Errorf("field = %q, want %q (%s)", got, field, r.body)
	}
	if msg, _ := env["message"].(string); msg == "" {
		t.Errorf("no message: %s", r.body)
	}
}

// snapshot renders every object the admin can list, to check that refused
// requests changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, kind := range []string{"tenants", "domains", "users", "accounts", "gateways", "dids"} {
		r := e.do("GET", "/api/v1/"+kind+"?limit=1000", e.admin, "")
		if r.code != http.StatusOK {
			e.t.Fatalf("snapshot %s: %d %s", kind, r.code, r.body)
		}
		b.WriteString(r.body)
	}
	return b.String()
}

// countingReader counts what the handler reads of an endless body.
type countingReader struct {
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n += int64(len(p))
	return len(p), nil
}

// A 10 MB body is refused with 413, whether its length is declared or
// not, and without reading it all.
func TestBodyTooLarge(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		big := `{"name":"` + strings.Repeat("a", 10<<20) + `"}`
		r := e.do("POST", "/api/v1/tenants", e.admin, big)
		checkError(t, r, http.StatusRequestEntityTooLarge, codeBodyTooLarge, "")

		cr := &countingReader{}
		req := httptest.NewRequest("PATCH", "/api/v1/tenants/1", io.LimitReader(cr, 10<<20))
		req.ContentLength = -1 // chunked: the length is not known up front
		req.Header.Set("Content-Type", "application/json")
		checkError(t, e.send(req, e.admin), http.StatusRequestEntityTooLarge, codeBodyTooLarge, "")
		if cr.n > 2<<20 {
			t.Errorf("read %d bytes of a body over the limit", cr.n)
		}
		if n := len(e.do("GET", "/api/v1/tenants", e.admin, "").must(t, http.StatusOK).items(t)); n != 0 {
			t.Errorf("%d tenants after refused creates", n)
		}
	})
}

// A failure outside every error class is a 500 with a generic message;
// the cause goes to the log.
func TestInternalError(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.db.Close()
		r := e.do("GET", "/api/v1/tenants", e.admin, "")
		checkError(t, r, http.StatusInternalServerError, codeInternal, "")
		if msg := r.errOf(t)["message"]; msg != "internal error" {
			t.Errorf("message = %q leaks the cause", msg)
		}
		if !strings.Contains(e.logs.String(), "native: internal error") {
			t.Errorf("the cause was not logged: %s", e.logs.String())
		}
		if strings.Contains(e.logs.String(), e.admin) {
			t.Error("the token reached the log")
		}
	})
}

// FuzzDecodeJSON feeds arbitrary bodies to the decoder: it must never
// panic, and must either decode or refuse with a 400 envelope.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"username":"1001","user_id":null}`, `{"domain_id":1}`, `[]`, `null`, `{"a":1}`,
		"{\"secret\":\"\xff\"}", `{"port":1e99}`, `{} {}`, `{"USERNAME":"x"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dst := range []any{new(accountIn), new(gatewayIn), new(tenantIn)} {
			err := decodeJSON(body, dst)
			if err == nil {
				if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
					t.Fatalf("accepted a non-object body %q", body)
				}
				continue
			}
			ae := toAPIError(err)
			if ae == nil || ae.Status != http.StatusBadRequest || ae.Message == "" {
				t.Fatalf("body %q: error %v is not a 400 envelope", body, err)
			}
		}
	})
}

// A panicking handler answers a 500 envelope and logs the panic.
func TestPanicIsAnEnvelope(t *testing.T) {
	logs := &syncBuffer{}
	s := newServer(api.Deps{Service: provisioning.NewService(nil), Log: slog.New(slog.NewTextHandler(logs, nil))})
	s.mux.Handle("GET /api/v1/panic", s.wrap(&route{public: true, handler: func(http.ResponseWriter, *http.Request, *call) error {
		panic("boom")
	}}))
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/panic", nil))
	checkError(t, resp{code: w.Code, hdr: w.Header(), body: w.Body.String(), m: decodeMap(t, w.Body.Bytes())}, http.StatusInternalServerError, codeInternal, "")
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return m
}
