package freeswitch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestXMLCurlOwnedDomainHidesStaticUsers checks issue 12 item 17: a user
// lookup that finds no account in a domain Switchboard owns is answered
// with the domain and no user, never not found, so that FreeSWITCH does
// not fall back to its static directory (stock users 1000-1019, password
// 1234). On FreeSWITCH 1.10.12 the REGISTER of static user 1000 with
// password 1234 in Switchboard's domain 127.0.0.1 got 200 OK with the
// not-found answer and 403 Forbidden with this one ("Can't find user
// [1000@127.0.0.1]"); see testdata/xml-curl/README.md.
func TestXMLCurlOwnedDomainHidesStaticUsers(t *testing.T) {
	eachXMLFixture(t, func(t *testing.T, fx *xmlFixture) {
		var auth, call xmlCurlEntry
		for _, e := range readXMLCurlEntries(t, "directory.json") {
			switch e.get("action") {
			case "sip_auth":
				auth = e
			case "user_call":
				call = e
			}
		}
		if auth.Seq == 0 || call.Seq == 0 {
			t.Fatal("directory.json has no sip_auth or no user_call request")
		}
		cases := []struct{ name, body string }{
			{"REGISTER of stock user 1000", auth.bodyWith(map[string]string{"user": "1000", "sip_auth_username": "1000"})},
			{"REGISTER of a deleted account", auth.bodyWith(map[string]string{"user": "4242", "sip_auth_username": "4242"})},
			{"user_call of an unknown user", call.bodyWith(map[string]string{"user": "4242"})},
			{"user of another Switchboard domain", call.bodyWith(map[string]string{"user": "alice"})},
			{"lookup by number-alias", call.bodyWith(map[string]string{"key": "number-alias"})},
		}
		var out strings.Builder
		for _, c := range cases {
			w := fx.post(t, call.Path, c.body)
			doc := checkXMLAnswer(t, w)
			domains := doc.find("section", "domain")
			if len(domains) != 1 || domains[0].attr("name") != "127.0.0.1" {
				t.Fatalf("%s: answered\n%s\nwant the domain 127.0.0.1", c.name, w.Body.String())
			}
			if users := doc.find("section", "domain", "groups"); len(users) != 0 {
				t.Errorf("%s: the answer has users:\n%s", c.name, w.Body.String())
			}
			fmt.Fprintf(&out, "=== %s\n%s\n", c.name, w.Body.String())
		}
		xmlGolden(t, "owned-domain-no-user.golden", out.String())
	})
}

// shadowDirectory is a Directory of function fields for the error paths.
type shadowDirectory struct {
	Directory
	domainExists func(ctx context.Context, domain string) (bool, error)
}

func (d shadowDirectory) AccountByUsername(context.Context, string, string) (*provisioning.Account, error) {
	return nil, provisioning.NotFound("account", "x")
}

func (d shadowDirectory) DomainExists(ctx context.Context, domain string) (bool, error) {
	return d.domainExists(ctx, domain)
}

// TestXMLCurlUnknownUserDomainError checks that a store failure while
// deciding whether the domain is Switchboard's is a 500 (FreeSWITCH then
// falls back or retries), never a guess either way.
func TestXMLCurlUnknownUserDomainError(t *testing.T) {
	h := NewXMLCurlHandler(XMLCurlConfig{Directory: shadowDirectory{domainExists: func(context.Context, string) (bool, error) {
		return false, errors.New("store down")
	}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w := (&xmlFixture{h: h}).post(t, "/xml", "section=directory&tag_name=domain&key_name=name&key_value=127.0.0.1&domain=127.0.0.1&user=1000&key=id&action=sip_auth")
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d (%s), want 500", w.Code, w.Body.String())
	}
}
