package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// An Asterisk node with voicemail_file and voicemail_spool (issue 14): a
// box created through the API reaches the voicemail include (0640,
// app_voicemail reloaded), its owner's endpoint gets it as mailboxes; a
// message app_voicemail leaves in the spool is listed through the API,
// and read through the API moves its files to Old.
func TestServeAsteriskVoicemail(t *testing.T) {
	vmFile := filepath.Join(t.TempDir(), "voicemail_switchboard.conf")
	spool := t.TempDir()
	srv, base, token, _, _ := startDialplanDaemon(t, "    routing: true\n    voicemail_file: "+vmFile+"\n    voicemail_spool: "+spool+"\n")
	code, m := do(t, "POST", base+"/api/v1/tenants", token, `{"name":"Acme"}`)
	if code != http.StatusCreated {
		t.Fatalf("tenant: %d %v", code, m)
	}
	tenant := m["id"]
	do(t, "POST", base+"/api/v1/domains", token, fmt.Sprintf(`{"tenant_id":%v,"name":"pbx.example.com"}`, tenant))
	_, m = do(t, "POST", base+"/api/v1/accounts", token, `{"domain":"pbx.example.com","username":"3001","secret":"s3cret-3001"}`)
	account := m["id"]
	_, m = do(t, "POST", base+"/api/v1/extensions", token, fmt.Sprintf(`{"tenant_id":%v,"number":"100","destination":{"type":"account","id":%v}}`, tenant, account))
	ext := m["id"]
	code, m = do(t, "POST", base+"/api/v1/voicemail-boxes", token, fmt.Sprintf(`{"tenant_id":%v,"number":"700","name":"Alice","extension_id":%v,"pin":"4321"}`, tenant, ext))
	if code != http.StatusCreated {
		t.Fatalf("box: %d %v", code, m)
	}
	ctxName := fmt.Sprintf("sb-t%v", tenant)
	within(t, 3*time.Second, "the box in the voicemail include", func() bool {
		b, _ := os.ReadFile(vmFile)
		return strings.Contains(string(b), "["+ctxName+"]\n700 => 4321,Alice,,,attach=no|maxsecs=180\n")
	})
	if st, err := os.Stat(vmFile); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("voicemail include: %v %v, want mode 0640", st, err)
	}
	switchtest.WaitFor(t, "app_voicemail reloaded", func() bool {
		for _, r := range srv.Requests() {
			if strings.Contains(r, "PUT") && strings.Contains(r, "/asterisk/modules/app_voicemail") {
				return true
			}
		}
		return false
	})
	switchtest.WaitFor(t, "the box as the owner's mailboxes", func() bool {
		ep, ok := srv.ConfigObject("endpoint", "3001")
		return ok && ep["mailboxes"] == "700@"+ctxName
	})

	// app_voicemail leaves a message: audio first, .txt last.
	inbox := filepath.Join(spool, ctxName, "700", "INBOX")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(inbox, "msg0000.wav"), toneWAV(8000, 5), 0o644))
	must(os.WriteFile(filepath.Join(inbox, "msg0000.txt"), []byte("[message]\ncallerid=\"Bob\" <+15145550111>\norigtime=1796608800\nmsg_id=1796608800-00000001\nduration=5\n"), 0o644))
	var msg map[string]any
	within(t, 5*time.Second, "the message listed", func() bool {
		code, m := do(t, "GET", base+"/api/v1/voicemail-messages", token, "")
		items, _ := m["items"].([]any)
		if code != http.StatusOK || len(items) != 1 {
			return false
		}
		msg, _ = items[0].(map[string]any)
		return msg != nil
	})
	if msg["duration_ms"] != float64(5000) || msg["caller_id_number"] != "+15145550111" || msg["switch"] != "ast1" || msg["read"] != false {
		t.Errorf("message: %v", msg)
	}
	if code, m := do(t, "PATCH", fmt.Sprintf("%s/api/v1/voicemail-messages/%v", base, msg["id"]), token, `{"read":true}`); code != http.StatusOK {
		t.Fatalf("read: %d %v", code, m)
	}
	within(t, 5*time.Second, "the message's files in Old", func() bool {
		_, errOld := os.Stat(filepath.Join(spool, ctxName, "700", "Old", "msg0000.txt"))
		_, errInbox := os.Stat(filepath.Join(inbox, "msg0000.txt"))
		return errOld == nil && errInbox != nil
	})
}
