package native

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestIVRMenusAPI: a menu over HTTP plays an uploaded sound; the trace
// follows the caller's entries (input); bad menus are 4xx naming the
// field; a played sound cannot be deleted.
func TestIVRMenusAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"acme"}`)
		ta := e.token("acme-admin", "tenant-admin", ptr(tn))
		dom := e.create("domains", ta, fmt.Sprintf(`{"tenant_id":%d,"name":"acme.example"}`, tn))
		phone := e.create("accounts", ta, fmt.Sprintf(`{"domain_id":%d,"username":"201","secret":"secret-201"}`, dom))
		snd := e.upload("POST", fmt.Sprintf("/api/v1/sounds?tenant_id=%d&name=greeting", tn), ta, "audio/wav", testWAV(8000, 1, 1, 0.4), nil).must(t, http.StatusCreated).id()
		x := e.create("extensions", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"100","destination":{"type":"account","id":%d}}`, tn, phone))
		menu := e.do("POST", "/api/v1/ivr-menus", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"800","name":"main","greeting_sound_id":%d,
			"options":[{"digit":"1","destination":{"type":"extension","id":%d}}],"timeout":{"type":"busy"}}`, tn, snd, x)).must(t, http.StatusCreated)
		if menu.m["repeats"] != float64(2) {
			t.Errorf("repeats written back as %v, want the default 2", menu.m["repeats"])
		}
		for _, tc := range []struct{ input, want string }{
			{"", `"do":"busy"`},
			{"1", `"targets":["201@acme.example"]`},
		} {
			r := e.do("GET", fmt.Sprintf("/api/v1/tenants/%d/routing/trace?number=800&input=%s", tn, tc.input), ta, "").must(t, http.StatusOK)
			if !strings.Contains(r.body, `"do":"menu"`) || !strings.Contains(r.body, fmt.Sprintf(`"sound_id":%d`, snd)) || !strings.Contains(r.body, tc.want) {
				t.Errorf("trace with input %q: %s", tc.input, r.body)
			}
		}
		for _, tc := range []struct {
			name, body string
			status     int
			field      string
		}{
			{"a two-key option", fmt.Sprintf(`{"tenant_id":%d,"name":"x","greeting_sound_id":%d,"options":[{"digit":"11","destination":{"type":"busy"}}]}`, tn, snd), 400, "options[0].digit"},
			{"no sound", fmt.Sprintf(`{"tenant_id":%d,"name":"x","options":[{"digit":"1","destination":{"type":"busy"}}]}`, tn), 400, "greeting_sound_id"},
			{"a missing sound", fmt.Sprintf(`{"tenant_id":%d,"name":"x","greeting_sound_id":999,"options":[{"digit":"1","destination":{"type":"busy"}}]}`, tn), 422, "greeting_sound_id"},
		} {
			r := e.do("POST", "/api/v1/ivr-menus", ta, tc.body)
			if r.code != tc.status || r.errOf(t)["field"] != tc.field {
				t.Errorf("%s: %d %s, want %d on %s", tc.name, r.code, r.body, tc.status, tc.field)
			}
		}
		if r := e.do("DELETE", path("sounds", snd), ta, ""); r.code != http.StatusConflict || !strings.Contains(r.body, "ivr") {
			t.Errorf("deleting a played sound: %d %s, want 409 naming the menu", r.code, r.body)
		}
	})
}

// TestVoicemailBoxesAPI: a box's PIN is write-only (never in an answer,
// a list or the document's schema); bad boxes are 4xx naming the field.
func TestVoicemailBoxesAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"acme"}`)
		ta := e.token("acme-admin", "tenant-admin", ptr(tn))
		created := e.do("POST", "/api/v1/voicemail-boxes", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"9000","name":"General Delivery","pin":"8642135","email":"desk@acme.example"}`, tn)).must(t, http.StatusCreated)
		list := e.do("GET", "/api/v1/voicemail-boxes", ta, "").must(t, http.StatusOK)
		patched := e.do("PATCH", path("voicemail-boxes", created.id()), ta, `{"max_message_seconds":60}`).must(t, http.StatusOK)
		for _, r := range []resp{created, list, patched, e.do("GET", path("voicemail-boxes", created.id()), ta, "")} {
			if strings.Contains(r.body, "8642135") || strings.Contains(r.body, `"pin"`) || !strings.Contains(r.body, `"has_pin":true`) {
				t.Errorf("an answer shows the PIN, or not has_pin: %s", r.body)
			}
		}
		if patched.m["max_message_seconds"] != float64(60) || patched.m["email"] != "desk@acme.example" {
			t.Errorf("patched: %s", patched.body)
		}
		if r := e.do("POST", "/api/v1/voicemail-boxes", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"9001","pin":"12"}`, tn)); r.code != 400 || r.errOf(t)["field"] != "pin" {
			t.Errorf("a short PIN: %d %s", r.code, r.body)
		}
		if strings.Contains(e.logs.String(), "8642135") {
			t.Error("the PIN reached the log")
		}
	})
}
