package freeswitch

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestXMLCurlVoicemail answers mod_voicemail's lookup (the form
// FreeSWITCH 1.10.12 sent, testdata/voicemail) with the box, its PIN and
// no e-mail (golden file); a PIN changed is answered at once (nothing
// cacheable); a sip_auth, a number-alias lookup, an unknown box and
// another tenant's number get no user; bob's phone gets its box as
// mwi-account, a phone without a box none.
func TestXMLCurlVoicemail(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		h := routingHandler(f)
		raw, err := os.ReadFile(filepath.Join("testdata", "voicemail", "directory-voicemail-lookup.form"))
		if err != nil {
			t.Fatal(err)
		}
		recorded, err := url.ParseQuery(strings.TrimSpace(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		dom := VoicemailDomain(f.tenant.ID)
		lookup := func(user string, change func(url.Values)) string {
			t.Helper()
			form := url.Values{}
			for k, v := range recorded {
				form[k] = v
			}
			form.Set("user", user)
			form.Set("domain", dom)
			form.Set("key_value", dom)
			if change != nil {
				change(form)
			}
			w := askXMLCurl(h, form)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			return w.Body.String()
		}
		got := lookup("9100", nil)
		golden := filepath.Join("testdata", "voicemail", "box.xml")
		if *update && db.Engine == sqldb.SQLite {
			if err := os.WriteFile(golden, []byte(strings.ReplaceAll(got, dom, "TENANT_VOICEMAIL_DOMAIN")), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got != strings.ReplaceAll(string(want), "TENANT_VOICEMAIL_DOMAIN", dom) {
			t.Errorf("box answer differs from %s (-update rewrites it):\n%s", golden, got)
		}
		if strings.Contains(got, "cacheable") || strings.Contains(got, "mailto") {
			t.Errorf("a box answer must not be cacheable nor carry an e-mail:\n%s", got)
		}
		if _, err := f.svc.UpdateVoicemailBox(context.Background(), provisioning.AdminScope(), f.bobBox.ID, func(b *provisioning.VoicemailBox) error {
			b.PIN = "86420"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got := lookup("9100", nil); !strings.Contains(got, `name="vm-password" value="86420"`) {
			t.Errorf("the new PIN is not answered at once:\n%s", got)
		}
		for name, change := range map[string]func(url.Values){
			"sip_auth":     func(v url.Values) { v.Set("action", "sip_auth") },
			"number-alias": func(v url.Values) { v.Set("key", "number-alias") },
			"unknown box":  func(v url.Values) { v.Set("user", "9999") },
			"an extension": func(v url.Values) { v.Set("user", "101") },
			"other tenant": func(v url.Values) {
				v.Set("domain", VoicemailDomain(f.tenant.ID+1))
				v.Set("key_value", v.Get("domain"))
			},
		} {
			got := lookup("9100", change)
			if strings.Contains(got, "<user") || strings.Contains(got, "vm-password") {
				t.Errorf("%s: a user was answered:\n%s", name, got)
			}
		}
		auth := func(a *provisioning.Account) string {
			return askXMLCurl(h, url.Values{"section": {"directory"}, "action": {"sip_auth"}, "user": {a.Username}, "domain": {a.Domain}, "sip_auth_realm": {a.Domain}}).Body.String()
		}
		if got := auth(f.accounts[1]); !strings.Contains(got, `<param name="mwi-account" value="9100@`+dom+`"/>`) {
			t.Errorf("bob's phone (202) without its box as mwi-account:\n%s", got)
		}
		if got := auth(f.accounts[0]); strings.Contains(got, "mwi-account") || !strings.Contains(got, `<variable name="send-message-query-on-register" value="false"/>`) {
			t.Errorf("201 has no box: no mwi-account and no MWI at REGISTER, got:\n%s", got)
		}
		if got := auth(f.accounts[1]); strings.Contains(got, "send-message-query-on-register") {
			t.Errorf("bob's phone keeps sofia's MWI at REGISTER:\n%s", got)
		}
	})
}

func TestVoicemailDomainTenant(t *testing.T) {
	for _, tc := range []struct {
		in string
		id int64
		ok bool
	}{
		{VoicemailDomain(7), 7, true},
		{"T12" + strings.ToUpper(VoicemailDomainSuffix), 12, true},
		{"t0" + VoicemailDomainSuffix, 0, false},
		{"t07" + VoicemailDomainSuffix, 0, false},
		{"t-1" + VoicemailDomainSuffix, 0, false},
		{"t" + VoicemailDomainSuffix, 0, false},
		{"acme.example", 0, false},
		{"x7" + VoicemailDomainSuffix, 0, false},
	} {
		id, ok := voicemailDomainTenant(tc.in)
		if id != tc.id || ok != tc.ok {
			t.Errorf("%q: %d %v, want %d %v", tc.in, id, ok, tc.id, tc.ok)
		}
	}
}
