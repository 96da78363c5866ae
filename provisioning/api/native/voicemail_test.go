package native

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestVoicemailMessagesAPI: a deposited message is listed (unread
// filter), served as WAV, marked read, deleted; a patch without read is
// 400 on read; another tenant sees nothing.
func TestVoicemailMessagesAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"acme"}`)
		other := e.create("tenants", e.admin, `{"name":"globex"}`)
		ta := e.token("acme-admin", "tenant-admin", ptr(tn))
		box := e.create("voicemail-boxes", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"9000","pin":"1234"}`, tn))
		m := &provisioning.VoicemailMessage{BoxID: box, Switch: "fs1", SwitchRef: "6d1e0f58-9a7b-4c1e-8f3a-1f2e3d4c5b6a", CallerIDNumber: "+15145550111"}
		if _, err := e.svc.DepositVoicemail(context.Background(), m, bytes.NewReader(testWAV(8000, 1, 3, 0.3))); err != nil {
			t.Fatal(err)
		}
		list := e.do("GET", fmt.Sprintf("/api/v1/voicemail-messages?box_id=%d&unread=true", box), ta, "").must(t, http.StatusOK).items(t)
		if len(list) != 1 || list[0]["duration_ms"] != float64(3000) || list[0]["caller_id_number"] != "+15145550111" {
			t.Fatalf("list: %v", list)
		}
		audio := e.do("GET", path("voicemail-messages", m.ID)+"/audio", ta, "").must(t, http.StatusOK)
		if audio.hdr.Get("Content-Type") != "audio/wav" || len(audio.body) != 44+3*8000*2 {
			t.Errorf("audio: %s, %d bytes", audio.hdr.Get("Content-Type"), len(audio.body))
		}
		if r := e.do("PATCH", path("voicemail-messages", m.ID), ta, `{}`); r.code != 400 || r.errOf(t)["field"] != "read" {
			t.Errorf("patch without read: %d %s", r.code, r.body)
		}
		if r := e.do("PATCH", path("voicemail-messages", m.ID), ta, `{"read":true}`).must(t, http.StatusOK); r.m["read"] != true {
			t.Errorf("patched: %s", r.body)
		}
		if n := len(e.do("GET", "/api/v1/voicemail-messages?unread=true", ta, "").must(t, http.StatusOK).items(t)); n != 0 {
			t.Errorf("%d unread after reading", n)
		}
		if r := e.do("GET", path("voicemail-messages", m.ID), e.token("globex-admin", "tenant-admin", ptr(other)), ""); r.code != 404 {
			t.Errorf("another tenant read the message: %d", r.code)
		}
		e.do("DELETE", path("voicemail-messages", m.ID), ta, "").must(t, http.StatusNoContent)
		if r := e.do("GET", path("voicemail-messages", m.ID)+"/audio", ta, ""); r.code != 404 || !strings.Contains(r.body, "not found") {
			t.Errorf("deleted message's audio: %d %s", r.code, r.body)
		}
	})
}
