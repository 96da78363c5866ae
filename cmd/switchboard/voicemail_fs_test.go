package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/freeswitch"
)

// A FreeSWITCH node with voicemail_dir: a message mod_voicemail reports
// under its own storage path is read from the same place under
// voicemail_dir, deposited and listed in the API with its duration;
// read and delete through the API reach the switch (vm_read, vm_delete).
func TestServeIndexesFreeSWITCHVoicemail(t *testing.T) {
	dir := t.TempDir()
	n := startFSNodeWith(t, "esl-S3cret-fs1", "    voicemail_dir: "+dir+"\n")
	code, m := do(t, "POST", n.base+"/api/v1/tenants", n.token, `{"name":"Acme"}`)
	if code != http.StatusCreated {
		t.Fatalf("tenant: %d %v", code, m)
	}
	tenant := int64(m["id"].(float64))
	code, m = do(t, "POST", n.base+"/api/v1/voicemail-boxes", n.token, fmt.Sprintf(`{"tenant_id":%d,"number":"9000","name":"General Delivery","pin":"8642135"}`, tenant))
	if code != http.StatusCreated {
		t.Fatalf("box: %d %v", code, m)
	}
	dom := freeswitch.VoicemailDomain(tenant)
	rel := filepath.Join("default", dom, "9000", "msg_1.wav")
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rel), toneWAV(8000, 4), 0o644); err != nil {
		t.Fatal(err)
	}
	uuid := n.srv.LeaveVoicemail("9000", dom, "/var/lib/freeswitch/storage/voicemail/"+filepath.ToSlash(rel), "Bob", "+15145550142", 4, true)
	var msg map[string]any
	within(t, 5*time.Second, "the message listed", func() bool {
		code, m := do(t, "GET", n.base+"/api/v1/voicemail-messages", n.token, "")
		items, _ := m["items"].([]any)
		if code != http.StatusOK || len(items) != 1 {
			return false
		}
		msg = items[0].(map[string]any)
		return true
	})
	if msg["switch_ref"] != uuid || msg["duration_ms"].(float64) != 4000 || msg["caller_id_number"] != "+15145550142" {
		t.Errorf("listed %v", msg)
	}
	id := int64(msg["id"].(float64))
	if code, m := do(t, "PATCH", fmt.Sprintf("%s/api/v1/voicemail-messages/%d", n.base, id), n.token, `{"read":true}`); code != http.StatusOK {
		t.Fatalf("read: %d %v", code, m)
	}
	within(t, 5*time.Second, "vm_read on the switch", func() bool {
		vs := n.srv.Voicemail("9000", dom)
		return len(vs) == 1 && !vs[0].Read.IsZero()
	})
	if code, m := do(t, "DELETE", fmt.Sprintf("%s/api/v1/voicemail-messages/%d", n.base, id), n.token, ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %v", code, m)
	}
	within(t, 5*time.Second, "vm_delete on the switch", func() bool { return len(n.srv.Voicemail("9000", dom)) == 0 })
}

// A FreeSWITCH node with directory_fallback_dir: the daemon keeps the
// tenants' boxes there as static users.
func TestServeKeepsVoicemailFallback(t *testing.T) {
	dir := t.TempDir()
	n := startFSNodeWith(t, "esl-S3cret-fs1", "    directory_fallback_dir: "+dir+"\n")
	code, m := do(t, "POST", n.base+"/api/v1/tenants", n.token, `{"name":"Acme"}`)
	if code != http.StatusCreated {
		t.Fatalf("tenant: %d %v", code, m)
	}
	tenant := int64(m["id"].(float64))
	if code, m := do(t, "POST", n.base+"/api/v1/voicemail-boxes", n.token, fmt.Sprintf(`{"tenant_id":%d,"number":"9000","pin":"8642135"}`, tenant)); code != http.StatusCreated {
		t.Fatalf("box: %d %v", code, m)
	}
	within(t, 5*time.Second, "the box in the fallback file", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, freeswitch.VoicemailFallbackFile))
		return err == nil && strings.Contains(string(b), `<user id="9000">`) && strings.Contains(string(b), freeswitch.VoicemailDomain(tenant))
	})
}
