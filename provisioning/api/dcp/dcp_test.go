package dcp_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/provisioning/api/dcp"
)

// TestDCP runs the whole dialect on each engine: the error table first (it
// relies on the fixture as built), then the flows that create and remove.
func TestDCP(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		t.Run("errors", func(t *testing.T) { testErrors(t, f) })
		t.Run("body", func(t *testing.T) { testBody(t, f) })
		t.Run("lifecycle", func(t *testing.T) { testLifecycle(t, f) })
		t.Run("document", func(t *testing.T) { testDocument(t, f) })
		t.Run("user/create targets", func(t *testing.T) { testUserCreateTargets(t, f) })
		t.Run("allocation", func(t *testing.T) { testAllocation(t, f) })
		t.Run("lists", func(t *testing.T) { testLists(t, f) })
		t.Run("onlinephone", func(t *testing.T) { testOnline(t, f) })
		t.Run("gateway", func(t *testing.T) { testGateways(t, f) })
		t.Run("cdr", func(t *testing.T) { testCDRs(t, f) })
		t.Run("auth", func(t *testing.T) { testAuth(t, f) })
		if logs := f.logs.String(); strings.Contains(logs, "request failed") {
			t.Errorf("the handler logged failures (a 500 somewhere):\n%s", logs)
		}
		for name, secret := range f.tok {
			if strings.Contains(f.logs.String(), secret) {
				t.Errorf("token %s appears in the log", name)
			}
		}
	})
}

// errCase is one request that must be refused and change nothing.
type errCase struct {
	name   string
	verb   string
	tok    string         // fixture token name; "" sends none
	params map[string]any // besides the token
	encs   []enc          // nil: every encoding
	code   int
	field  string
	msg    string // the message, or a prefix of it ending in "…"
}

func long(n int) string { return strings.Repeat("x", n) }

func errCases() []errCase {
	jsonOnly := []enc{encJSON}
	formish := []enc{encGET, encForm, encMultipart}
	return []errCase{
		// Authentication.
		{name: "no token", verb: "domain/list", code: 403, msg: "Invalid token"},
		{name: "no token on a write", verb: "user/create", params: map[string]any{"accid": "x1", "password": "secret1"}, code: 403, msg: "Invalid token"},
		{name: "unknown token", verb: "domain/list", params: map[string]any{"token": "sbt_nope"}, code: 403, msg: "Invalid token"},
		{name: "revoked token", verb: "user/remove", tok: "revoked", params: map[string]any{"accid": "amy"}, code: 403, msg: "Invalid token"},
		{name: "token as a bool", verb: "domain/list", params: map[string]any{"token": true}, encs: jsonOnly, code: 403, msg: "Invalid token"},
		{name: "read-only token writes", verb: "user/remove", tok: "userA", params: map[string]any{"accid": "amy"}, code: 403, msg: "Permission denied"},
		{name: "read-only token creates", verb: "phonenumber/create", tok: "userA", params: map[string]any{"user": "alice", "dcp": "a.example.com"}, code: 403, msg: "Permission denied"},

		// Missing and mistyped parameters (unknown ones are ignored:
		// testDocument), also next to an unknown one.
		{name: "malformed known value beside an ignored one", verb: "phonenumber/create", tok: "A", params: map[string]any{"_": "1733000000000", "user": "amy", "dcp": "a.example.com", "secret": "two words"}, code: 400, field: "secret", msg: "Invalid parameter secret: must be printable ASCII without spaces, quotes or backslashes"},
		{name: "missing accid", verb: "user/create", tok: "A", params: map[string]any{"password": "secret1"}, code: 400, field: "accid", msg: "Invalid parameter accid: is required"},
		{name: "empty accid", verb: "user/update", tok: "A", params: map[string]any{"accid": "", "email": "a@b.c"}, code: 400, field: "accid", msg: "Invalid parameter accid: is required"},
		{name: "missing password", verb: "user/create", tok: "A", params: map[string]any{"accid": "newbie"}, code: 400, field: "password", msg: "Invalid parameter password: is required"},
		{name: "admin without dcp", verb: "user/create", tok: "admin", params: map[string]any{"accid": "newbie", "password": "secret1"}, code: 400, field: "dcp", msg: "Invalid parameter dcp: is required with an admin token when there is not exactly one tenant (or give tenant; dcp.default_domain sets a default)"},
		{name: "dcp and tenant", verb: "user/create", tok: "admin", params: map[string]any{"accid": "newbie", "password": "secret1", "dcp": "a.example.com", "tenant": "1"}, code: 400, field: "tenant", msg: "Invalid parameter tenant: give either dcp or tenant, not both"},
		{name: "tenant not a number", verb: "user/create", tok: "admin", params: map[string]any{"accid": "newbie", "password": "secret1", "tenant": "one"}, code: 400, field: "tenant", msg: "Invalid parameter tenant: must be a positive integer"},
		{name: "unknown tenant", verb: "user/create", tok: "admin", params: map[string]any{"accid": "newbie", "password": "secret1", "tenant": "999999"}, code: 400, field: "tenant", msg: "Invalid parameter tenant: tenant not found"},
		{name: "accid as an object", verb: "user/create", tok: "A", params: map[string]any{"accid": map[string]any{"$ne": ""}, "password": "secret1"}, encs: jsonOnly, code: 400, field: "accid", msg: "Invalid parameter accid: must be a string or a number, not a JSON object"},
		{name: "accid as an array", verb: "user/remove", tok: "A", params: map[string]any{"accid": []string{"amy"}}, encs: jsonOnly, code: 400, field: "accid", msg: "Invalid parameter accid: must be a string or a number, not a JSON array"},
		{name: "dcp as a bool", verb: "phonenumber/list", tok: "A", params: map[string]any{"dcp": false}, encs: jsonOnly, code: 400, field: "dcp", msg: "Invalid parameter dcp: must be a string or a number, not a JSON boolean"},
		{name: "nothing to update", verb: "user/update", tok: "A", params: map[string]any{"accid": "amy"}, code: 400, msg: "Nothing to update: give at least one of password, email, firstname, lastname"},
		{name: "nothing to update on a number", verb: "phonenumber/update", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com"}, code: 400, msg: "Nothing to update: give at least one of secret, desc, callerid_name, callerid_number"},
		{name: "remove without accid or email", verb: "user/remove", tok: "A", params: map[string]any{"_": "1"}, code: 400, field: "accid", msg: "Invalid parameter accid: is required (or give email)"},
		{name: "a plus alone", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "phonenumber": "+"}, code: 400, field: "phonenumber", msg: "Invalid parameter phonenumber: must be 2 to 20 digits, optionally after a +"},
		{name: "two pluses", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "phonenumber": "++841001"}, code: 400, field: "phonenumber", msg: "Invalid parameter phonenumber: must be 2 to 20 digits, optionally after a +"},
		{name: "a plus and a space", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "phonenumber": "+84 1001"}, code: 400, field: "phonenumber", msg: "Invalid parameter phonenumber: must be 2 to 20 digits, optionally after a +"},

		// Values the model refuses, named by the caller's parameter.
		{name: "over-long accid", verb: "user/create", tok: "A", params: map[string]any{"accid": long(65), "password": "secret1"}, code: 400, field: "accid", msg: "Invalid parameter accid: must be at most 64 characters (got 65)"},
		{name: "over-long firstname", verb: "user/update", tok: "A", params: map[string]any{"accid": "amy", "firstname": strings.Repeat("é", 101)}, code: 400, field: "firstname", msg: "Invalid parameter firstname: must be at most 100 characters (got 101)"},
		{name: "over-long desc", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "desc": long(256)}, code: 400, field: "desc", msg: "Invalid parameter desc: must be at most 255 characters (got 256)"},
		{name: "over-long dcp", verb: "phonenumber/list", tok: "A", params: map[string]any{"dcp": long(254)}, code: 400, field: "dcp", msg: "Invalid parameter dcp: must be at most 253 characters (got 254)"},
		{name: "over-long token", verb: "domain/list", params: map[string]any{"token": long(201)}, code: 403, msg: "Invalid token"},
		{name: "invalid UTF-8", verb: "user/create", tok: "A", params: map[string]any{"accid": "bad\xff", "password": "secret1"}, encs: formish, code: 400, field: "accid", msg: "Invalid parameter accid: must be valid UTF-8"},
		{name: "control character", verb: "user/update", tok: "A", params: map[string]any{"accid": "amy", "lastname": "a\x00b"}, code: 400, field: "lastname", msg: "Invalid parameter lastname: must not contain control characters"},
		{name: "newline in a password", verb: "user/update", tok: "A", params: map[string]any{"accid": "amy", "password": "pass\nword"}, code: 400, field: "password", msg: "Invalid parameter password: must not contain control characters"},
		{name: "short password", verb: "user/update", tok: "A", params: map[string]any{"accid": "amy", "password": "123"}, code: 400, field: "password", msg: "Invalid parameter password: must be 6 to 128 characters"},
		{name: "empty password", verb: "user/update", tok: "A", params: map[string]any{"accid": "amy", "password": ""}, code: 400, field: "password", msg: "Invalid parameter password: must be 6 to 128 characters"},
		{name: "bad email", verb: "user/update", tok: "A", params: map[string]any{"accid": "amy", "email": "Amy <amy@example.com>"}, code: 400, field: "email", msg: "Invalid parameter email: must be a plain e-mail address like name@example.com"},
		{name: "SQL in accid", verb: "user/create", tok: "A", params: map[string]any{"accid": "x'; DROP TABLE users;--", "password": "secret1"}, code: 400, field: "accid", msg: "Invalid parameter accid: must be letters, digits and . _ @ + - (starting with a letter or digit)"},
		{name: "SQL in dcp", verb: "phonenumber/list", tok: "admin", params: map[string]any{"dcp": "a.example.com' OR '1'='1"}, code: 501, field: "dcp", msg: "DCP not found"},
		{name: "SQL in user", verb: "phonenumber/list", tok: "admin", params: map[string]any{"user": "alice' OR '1'='1"}, code: 502, field: "user", msg: "User not found"},
		{name: "SQL in phonenumber", verb: "phonenumber/remove", tok: "admin", params: map[string]any{"user": "alice", "dcp": "a.example.com", "phonenumber": "1000' OR '1'='1"}, code: 503, field: "phonenumber", msg: "Phone number not found"},
		{name: "letters in a new number", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "phonenumber": "12a4"}, code: 400, field: "phonenumber", msg: "Invalid parameter phonenumber: must be 2 to 20 digits, optionally after a +"},
		{name: "one-digit number", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "phonenumber": 7}, code: 400, field: "phonenumber", msg: "Invalid parameter phonenumber: must be 2 to 20 digits, optionally after a +"},
		{name: "fractional number", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "phonenumber": 1234.5}, encs: jsonOnly, code: 400, field: "phonenumber", msg: "Invalid parameter phonenumber: must be 2 to 20 digits, optionally after a +"},
		{name: "secret with a space", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "secret": "two words"}, code: 400, field: "secret", msg: "Invalid parameter secret: must be printable ASCII without spaces, quotes or backslashes"},
		{name: "empty secret on update", verb: "phonenumber/update", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "secret": ""}, code: 400, field: "secret", msg: "Invalid parameter secret: must be 4 to 80 characters"},
		{name: "bad caller id number", verb: "phonenumber/update", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "callerid_number": "12ab"}, code: 400, field: "callerid_number", msg: "Invalid parameter callerid_number: must be 1 to 32 digits, * or #, optionally after a leading +"},
		{name: "quote in caller id name", verb: "phonenumber/update", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "callerid_name": `Amy "A"`}, code: 400, field: "callerid_name", msg: `Invalid parameter callerid_name: must not contain " < or >`},
		{name: "limit zero", verb: "user/list", tok: "A", params: map[string]any{"limit": 0}, code: 400, field: "limit", msg: "Invalid parameter limit: must be an integer from 1 to 1000"},
		{name: "limit too big", verb: "domain/list", tok: "A", params: map[string]any{"limit": 1001}, code: 400, field: "limit", msg: "Invalid parameter limit: must be an integer from 1 to 1000"},
		{name: "limit not a number", verb: "cdr/list", tok: "A", params: map[string]any{"limit": "ten"}, code: 400, field: "limit", msg: "Invalid parameter limit: must be an integer from 1 to 1000"},
		{name: "forged cursor", verb: "phonenumber/list", tok: "A", params: map[string]any{"cursor": "' OR 1=1"}, code: 400, field: "cursor", msg: "Invalid parameter cursor: is not a cursor this API returned"},
		{name: "forged cdr cursor", verb: "cdr/list", tok: "A", params: map[string]any{"cursor": api.EncodeCursor(5)}, code: 400, field: "cursor", msg: "Invalid parameter cursor: is not a cursor this API returned"},
		{name: "forged presence cursor", verb: "onlinephone/list", tok: "A", params: map[string]any{"cursor": "!!"}, code: 400, field: "cursor", msg: "Invalid parameter cursor: is not a cursor this API returned"},
		{name: "bad from", verb: "cdr/list", tok: "A", params: map[string]any{"from": "yesterday"}, code: 400, field: "from", msg: "Invalid parameter from: must be an RFC 3339 time, YYYY-MM-DD HH:MM:SS (UTC) or unix seconds"},
		{name: "from after to", verb: "cdr/list", tok: "A", params: map[string]any{"from": "2024-03-02 00:00:00", "to": "2024-03-01T00:00:00Z"}, code: 400, field: "from", msg: "Invalid parameter from: must be before to"},
		{name: "bad disposition", verb: "cdr/list", tok: "A", params: map[string]any{"disposition": "HUNG"}, code: 400, field: "disposition", msg: "Invalid parameter disposition: must be one of ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION"},

		// Unknown and out-of-scope objects.
		{name: "unknown dcp", verb: "phonenumber/create", tok: "admin", params: map[string]any{"user": "alice", "dcp": "nowhere.example.com"}, code: 501, field: "dcp", msg: "DCP not found"},
		{name: "unknown user", verb: "user/update", tok: "admin", params: map[string]any{"accid": "nobody", "email": "n@example.com"}, code: 502, field: "accid", msg: "User not found"},
		{name: "unknown owner", verb: "phonenumber/create", tok: "admin", params: map[string]any{"user": "nobody", "dcp": "a.example.com"}, code: 502, field: "user", msg: "User not found"},
		{name: "owner of another tenant", verb: "phonenumber/create", tok: "admin", params: map[string]any{"user": "bob", "dcp": "a.example.com"}, code: 502, field: "user", msg: "User not found"},
		{name: "unknown number", verb: "phonenumber/remove", tok: "admin", params: map[string]any{"user": "alice", "dcp": "a.example.com", "phonenumber": "1999"}, code: 503, field: "phonenumber", msg: "Phone number not found"},
		{name: "number of another user", verb: "phonenumber/remove", tok: "A", params: map[string]any{"user": "alice", "dcp": "a.example.com", "phonenumber": "1500"}, code: 503, field: "phonenumber", msg: "Phone number not found"},
		{name: "update a user without numbers", verb: "phonenumber/update", tok: "A", params: map[string]any{"user": "amy", "dcp": "a2.example.com", "desc": "x"}, code: 503, field: "phonenumber", msg: "Phone number not found"},
		{name: "remove with the wrong email", verb: "user/remove", tok: "A", params: map[string]any{"accid": "amy", "email": "someone@example.com"}, code: 502, field: "email", msg: "User not found"},
		{name: "remove by an unknown email", verb: "user/remove", tok: "A", params: map[string]any{"email": "someone@example.com"}, code: 502, field: "email", msg: "User not found"},
		{name: "remove by the email of another tenant's user", verb: "user/remove", tok: "A", params: map[string]any{"email": "bob@example.com"}, code: 502, field: "email", msg: "User not found"},
		{name: "unknown number after a plus", verb: "phonenumber/remove", tok: "A", params: map[string]any{"user": "alice", "dcp": "a.example.com", "phonenumber": "+841999"}, code: 503, field: "phonenumber", msg: "Phone number not found"},

		// Conflicts.
		{name: "duplicate accid", verb: "user/create", tok: "A", params: map[string]any{"accid": "alice", "password": "secret1"}, code: 409, field: "accid", msg: "accid alice already exists"},
		{name: "duplicate accid across tenants", verb: "user/create", tok: "B", params: map[string]any{"accid": "alice", "password": "secret1"}, code: 409, field: "accid", msg: "accid alice already exists"},
		{name: "duplicate number", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "phonenumber": "1000"}, code: 409, field: "phonenumber", msg: "phonenumber 1000 already exists in dcp a.example.com"},
		{name: "remove a user who owns numbers", verb: "user/remove", tok: "A", params: map[string]any{"accid": "amy"}, code: 409, msg: "user … still owns 1 SIP account"},
		{name: "remove a number a DID routes to", verb: "phonenumber/remove", tok: "A", params: map[string]any{"user": "amy", "dcp": "a.example.com", "phonenumber": "1500"}, code: 409, msg: "account … still has 1 DID routed to it"},

		// A tenant-admin of A naming B's objects.
		{name: "cross-tenant user/create dcp", verb: "user/create", tok: "A", params: map[string]any{"accid": "spy", "password": "secret1", "dcp": "b.example.com"}, code: 501, field: "dcp", msg: "DCP not found"},
		{name: "cross-tenant user/create tenant", verb: "user/create", tok: "A", params: map[string]any{"accid": "spy", "password": "secret1", "tenant": "$B"}, code: 400, field: "tenant", msg: "Invalid parameter tenant: tenant not found"},
		{name: "cross-tenant user/update", verb: "user/update", tok: "A", params: map[string]any{"accid": "bob", "password": "hijacked"}, code: 502, field: "accid", msg: "User not found"},
		{name: "cross-tenant user/remove", verb: "user/remove", tok: "A", params: map[string]any{"accid": "bob"}, code: 502, field: "accid", msg: "User not found"},
		{name: "cross-tenant user/list", verb: "user/list", tok: "A", params: map[string]any{"dcp": "b.example.com"}, code: 501, field: "dcp", msg: "DCP not found"},
		{name: "cross-tenant phonenumber/create", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "bob", "dcp": "b.example.com"}, code: 501, field: "dcp", msg: "DCP not found"},
		{name: "cross-tenant owner", verb: "phonenumber/create", tok: "A", params: map[string]any{"user": "bob", "dcp": "a.example.com"}, code: 502, field: "user", msg: "User not found"},
		{name: "cross-tenant phonenumber/remove", verb: "phonenumber/remove", tok: "A", params: map[string]any{"user": "bob", "dcp": "b.example.com", "phonenumber": "2000"}, code: 501, field: "dcp", msg: "DCP not found"},
		{name: "cross-tenant phonenumber/update", verb: "phonenumber/update", tok: "A", params: map[string]any{"user": "bob", "dcp": "a.example.com", "secret": "stolen1"}, code: 502, field: "user", msg: "User not found"},
		{name: "cross-tenant phonenumber/list", verb: "phonenumber/list", tok: "A", params: map[string]any{"user": "bob"}, code: 502, field: "user", msg: "User not found"},
		{name: "cross-tenant onlinephone/list", verb: "onlinephone/list", tok: "A", params: map[string]any{"dcp": "b.example.com"}, code: 501, field: "dcp", msg: "DCP not found"},
		{name: "cross-tenant cdr/list", verb: "cdr/list", tok: "B", params: map[string]any{"dcp": "a.example.com"}, code: 501, field: "dcp", msg: "DCP not found"},
	}
}

func testErrors(t *testing.T, f *fixture) {
	for _, tc := range errCases() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.params["tenant"] == "$B" {
				tc.params["tenant"] = fmt.Sprint(f.tenantB)
			}
			before := f.dump(t)
			encs := tc.encs
			if encs == nil {
				encs = allEncs
			}
			for i, e := range encs {
				mount := mounts[i%2]
				res := f.call(t, mount, e, tc.verb, tc.tok, tc.params)
				if res.Code != tc.code || res.Field != tc.field || !matches(res.Message, tc.msg) {
					t.Errorf("%s at %q: got %d field %q %q, want %d field %q %q", e, mount, res.Code, res.Field, res.Message, tc.code, tc.field, tc.msg)
				}
				if res.Data != nil {
					t.Errorf("%s: an error carries data: %s", e, res.Raw)
				}
			}
			if after := f.dump(t); after != before {
				t.Errorf("the store changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// matches compares a message with want, where "…" in want stands for any
// text (ids differ between engines and runs).
func matches(got, want string) bool {
	parts := strings.Split(want, "…")
	if !strings.HasPrefix(got, parts[0]) {
		return false
	}
	got = got[len(parts[0]):]
	for _, p := range parts[1:] {
		i := strings.Index(got, p)
		if i < 0 {
			return false
		}
		got = got[i+len(p):]
	}
	return len(parts) > 1 || got == ""
}

// testBody covers what is wrong with a request as a whole: routing,
// methods, content types, malformed and oversized bodies.
func testBody(t *testing.T, f *fixture) {
	tokA := f.tok["A"]
	tenMB := bytes.Repeat([]byte("a"), 10<<20)
	cases := []struct {
		name         string
		method, path string
		ctype        string
		body         string
		code         int
		field, msg   string
	}{
		{"unknown verb", "GET", "/user/delete?token=" + tokA, "", "", 404, "", "Unknown API verb"},
		{"unknown verb under the mount", "POST", "/dcp/users/list", "", "", 404, "", "Unknown API verb"},
		{"root path", "GET", "/", "", "", 404, "", "Unknown API verb"},
		{"verb in upper case", "GET", "/User/List?token=" + tokA, "", "", 404, "", "Unknown API verb"},
		{"PUT", "PUT", "/user/list?token=" + tokA, "", "", 405, "", "Method not allowed: use GET or POST"},
		{"DELETE under the mount", "DELETE", "/dcp/user/remove?token=" + tokA + "&accid=amy", "", "", 405, "", "Method not allowed: use GET or POST"},
		{"HEAD", "HEAD", "/domain/list?token=" + tokA, "", "", 405, "", "Method not allowed: use GET or POST"},
		{"text/plain", "POST", "/user/list", "text/plain", "token=" + tokA, 415, "", "Unsupported Content-Type \"text/plain\"…"},
		{"body without a Content-Type", "POST", "/user/list", "", "token=" + tokA, 415, "", "Unsupported Content-Type: use…"},
		{"garbled Content-Type", "POST", "/user/list", "multipart/form-data; boundary", "x", 415, "", "Unsupported Content-Type…"},
		{"malformed JSON", "POST", "/user/list", "application/json", `{"token":`, 400, "", "Invalid request: malformed JSON body: not JSON"},
		{"JSON array", "POST", "/user/list", "application/json", `["` + tokA + `"]`, 400, "", "Invalid request: malformed JSON body: must be an object of parameters"},
		{"two JSON objects", "POST", "/user/list", "application/json", `{"token":"` + tokA + `"}{}`, 400, "", "Invalid request: malformed JSON body: data after the object"},
		{"JSON with invalid UTF-8", "POST", "/user/list", "application/json", "{\"token\":\"" + tokA + "\",\"dcp\":\"\xff\"}", 400, "", "Invalid request: malformed JSON body: not valid UTF-8"},
		{"repeated JSON member", "POST", "/user/remove", "application/json", `{"token":"` + tokA + `","accid":"amy","accid":"alice"}`, 400, "accid", "Invalid parameter accid: is given more than once"},
		{"JSON null is empty", "POST", "/user/remove", "application/json", `{"token":"` + tokA + `","accid":null}`, 400, "accid", "Invalid parameter accid: is required (or give email)"},
		{"repeated query parameter", "GET", "/user/remove?token=" + tokA + "&accid=amy&accid=alice", "", "", 400, "accid", "Invalid parameter accid: is given more than once"},
		{"parameter in query and body", "POST", "/user/remove?accid=amy", "application/x-www-form-urlencoded", "token=" + tokA + "&accid=alice", 400, "accid", "Invalid parameter accid: is given more than once"},
		{"bad percent-encoding", "GET", "/user/list?token=" + tokA + "&dcp=%zz", "", "", 400, "", "Invalid request: malformed query string: bad percent-encoding"},
		{"semicolon separator", "POST", "/user/list", "application/x-www-form-urlencoded", "token=" + tokA + ";dcp=x", 400, "", "Invalid request: malformed form body: ';' is not a separator"},
		{"too many parameters", "GET", "/user/list?token=" + tokA + strings.Repeat("&a=1", 64), "", "", 400, "", "Invalid request: more than 64 parameters"},
		{"multipart file", "POST", "/user/create", "multipart/form-data; boundary=XX",
			"--XX\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n" + tokA +
				"\r\n--XX\r\nContent-Disposition: form-data; name=\"accid\"; filename=\"a.txt\"\r\n\r\nmallory\r\n--XX--\r\n",
			400, "accid", "Invalid parameter accid: must be a form field, not a file"},
		{"truncated multipart", "POST", "/user/list", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nabc", 400, "", "Invalid request: malformed multipart body: cannot read parts"},
		{"10 MB form", "POST", "/user/create", "application/x-www-form-urlencoded", "token=" + tokA + "&accid=" + string(tenMB), 413, "", "Request body too large: at most 1048576 bytes"},
		{"10 MB JSON under the mount", "POST", "/dcp/user/create", "application/json", `{"accid":"` + string(tenMB) + `"}`, 413, "", "Request body too large…"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.dump(t)
			var r *http.Request
			if tc.body == "" {
				r = httptest.NewRequest(tc.method, tc.path, nil)
			} else {
				r = httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			}
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			res := f.serve(t, r)
			if res.Code != tc.code || res.Field != tc.field || !matches(res.Message, tc.msg) {
				t.Errorf("got %d field %q %q, want %d field %q %q", res.Code, res.Field, res.Message, tc.code, tc.field, tc.msg)
			}
			if tc.code == 405 && res.Allow != "GET, POST" {
				t.Errorf("Allow %q, want GET, POST", res.Allow)
			}
			if after := f.dump(t); after != before {
				t.Errorf("the store changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	// A 10 MB body of unknown length (chunked) is refused after reading
	// just past the limit, and one with a Content-Length without reading
	// it at all.
	for _, length := range []int64{-1, int64(len(tenMB))} {
		body := &countingReader{r: bytes.NewReader(tenMB)}
		r := httptest.NewRequest(http.MethodPost, "/user/create", body)
		r.ContentLength = length
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+tokA)
		if res := f.serve(t, r); res.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("length %d: status %d, want 413", length, res.Code)
		}
		if max := int64(api.DefaultMaxBodyBytes + 64<<10); body.n > max {
			t.Errorf("length %d: read %d bytes of a 10 MB body, want at most %d", length, body.n, max)
		}
	}
}

// names returns the value of key in each item of a list response.
func names(t *testing.T, res response, key string) []string {
	t.Helper()
	var items []map[string]any
	res.data(t, &items)
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = fmt.Sprint(it[key])
	}
	return out
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// TestInternalError checks that failures the dialect cannot explain
// answer a generic 500 envelope and are logged without parameters.
func TestInternalError(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		logs := &syncBuffer{}
		f.handler = dcp.New(api.Deps{Service: f.svc, Log: slog.New(slog.NewTextHandler(logs, nil))}) // no presence, no CDR store
		for _, verb := range []string{"cdr/list", "onlinephone/list", "gateway/list"} {
			res := f.call(t, "", encGET, verb, "A", map[string]any{"limit": 5})
			if res.Code != 500 || res.Message != "Internal error" || res.Field != "" || res.Data != nil {
				t.Errorf("%s: %s", verb, res.Raw)
			}
		}
		// The database goes away under a request that passed validation.
		tok := f.tok["A"]
		must(t, db.Close())
		res := f.call(t, "", encJSON, "user/update", "", map[string]any{"token": tok, "accid": "amy", "password": "very-secret-pw"})
		if res.Code != 500 || res.Message != "Internal error" {
			t.Errorf("closed database: %s", res.Raw)
		}
		log := logs.String()
		if strings.Count(log, "dcp: request failed") != 4 || !strings.Contains(log, "verb=cdr/list") {
			t.Errorf("log:\n%s", log)
		}
		for _, secret := range []string{tok, "very-secret-pw"} {
			if strings.Contains(log, secret) {
				t.Errorf("the log shows a secret:\n%s", log)
			}
		}
	})
}
