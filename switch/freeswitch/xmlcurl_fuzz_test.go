package freeswitch

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// xmlEchoDirectory is a Directory that finds whatever it is asked for and
// builds the objects from the request's own strings, so that fuzzed input
// reaches the XML writer. (The fuzzer needs thousands of requests a
// second; the handler's reads of a real store are tested in
// xmlcurl_test.go.)
type xmlEchoDirectory struct{}

func (xmlEchoDirectory) AccountByUsername(_ context.Context, domain, username string) (*provisioning.Account, error) {
	if username == "missing" {
		return nil, provisioning.NotFound("account", username)
	}
	return &provisioning.Account{Username: username, Domain: domain, Secret: username + domain,
		HA1: provisioning.HA1(username, domain, "x"), CallerIDName: "${" + username + "}", CallerIDNumber: domain}, nil
}

func (xmlEchoDirectory) Gateways(context.Context) ([]provisioning.Gateway, error) {
	return []provisioning.Gateway{{Name: "gw&<\"$$", Host: "2001:db8::1", Username: "u\x01", Secret: "$${x}", QualifySecs: 1}}, nil
}

func (xmlEchoDirectory) RouteDID(_ context.Context, number string) (*provisioning.Account, error) {
	return &provisioning.Account{Username: number, Domain: "did.example"}, nil
}

func (xmlEchoDirectory) DomainExists(context.Context, string) (bool, error) { return true, nil }

// xmlCarried is what an attribute value becomes on its way through
// xmlEscape and an XML parser: control characters other than tab and
// line ends are dropped, invalid UTF-8 turns into U+FFFD.
func xmlCarried(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteRune(r)
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FuzzXMLCurlHandler feeds the handler arbitrary bodies: every answer is
// a refusal or one well-formed freeswitch/xml document, and a user's id
// survives the escaping.
func FuzzXMLCurlHandler(f *testing.F) {
	for _, name := range []string{"configuration.json", "directory.json", "dialplan.json"} {
		for _, e := range readXMLCurlEntries(f, name) {
			f.Add(e.Body)
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "xml-curl", "*.http"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if _, body, ok := strings.Cut(string(raw), "\r\n\r\n"); ok {
			f.Add(body)
		}
	}
	for _, s := range []string{
		"", "section=", "section=directory", "section=directory&domain=d&user=%00%01%ff",
		"section=directory&domain=%3C%22%26&user=%24%24%7Bx%7D&action=sip_auth&sip_auth_realm=other",
		"section=directory&purpose=gateways&profile=external", "section=dialplan&Caller-Context=%3C&Caller-Destination-Number=%2B15551230002",
		"section=directory;x=1", "a=%zz",
	} {
		f.Add(s)
	}
	h := NewXMLCurlHandler(XMLCurlConfig{Directory: xmlEchoDirectory{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/xml", strings.NewReader(body)))
		switch w.Code {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if strings.Contains(w.Body.String(), "<document") {
				t.Fatalf("a document with status %d", w.Code)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
		doc := parseXMLAnswer(t, w.Body.String())
		if strings.Contains(w.Body.String(), "$$") {
			t.Fatalf(`"$$" in the answer: %s`, w.Body.String())
		}
		form, err := url.ParseQuery(body)
		if err != nil {
			t.Fatalf("answered a body ParseQuery refuses: %v", err)
		}
		users := doc.find("section", "domain", "groups", "group", "users", "user")
		if len(users) == 1 {
			if got, want := users[0].attr("id"), xmlCarried(form.Get("user")); got != want {
				t.Fatalf("user id %q, want %q", got, want)
			}
		}
	})
}
