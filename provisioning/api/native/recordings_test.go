package native

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestRecordingsAPI: the record flags and the policy over HTTP; a
// recording listed, found from both legs' CDRs, served as a WAV with
// ranges, deleted; another tenant sees none of it; bad input names its
// field.
func TestRecordingsAPI(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		tn := ce.create("tenants", ce.admin, `{"name":"acme"}`)
		other := ce.create("tenants", ce.admin, `{"name":"globex"}`)
		ce.create("domains", ce.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"acme.example"}`, tn))
		ta := ce.token("acme-admin", "tenant-admin", ptr(tn))
		tb := ce.token("globex-admin", "tenant-admin", ptr(other))

		box := ce.create("fax-boxes", ta, fmt.Sprintf(`{"tenant_id":%d,"name":"office fax"}`, tn))
		acct := ce.create("accounts", ta, `{"domain":"acme.example","username":"alice","secret":"s3cret-pass"}`)
		ext := ce.do("POST", "/api/v1/extensions", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"100","destination":{"type":"account","id":%d},"record":true,"fax_detect":{"box_id":%d}}`, tn, acct, box)).must(t, http.StatusCreated)
		if ext.m["record"] != true || ext.m["fax_detect"].(map[string]any)["box_id"] != float64(box) {
			t.Errorf("extension: %s", ext.body)
		}
		if r := ce.do("POST", "/api/v1/extensions", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"101","destination":{"type":"account","id":%d},"fax_detect":{"box_id":%d,"seconds":1}}`, tn, acct, box)); r.code != 400 || r.errOf(t)["field"] != "fax_detect.seconds" {
			t.Errorf("a 1 s fax detection: %d %s", r.code, r.body)
		}
		did := ce.do("POST", "/api/v1/dids", ta, fmt.Sprintf(`{"tenant_id":%d,"number":"+15145550100","destination":{"type":"extension","id":%d},"record":true}`, tn, int64(ext.m["id"].(float64)))).must(t, http.StatusCreated)
		if did.m["record"] != true {
			t.Errorf("DID: %s", did.body)
		}
		ce.create("recording-policies", ta, fmt.Sprintf(`{"tenant_id":%d,"all":true,"retention_days":30}`, tn))
		if r := ce.do("POST", "/api/v1/recording-policies", ta, fmt.Sprintf(`{"tenant_id":%d}`, tn)); r.code != http.StatusConflict {
			t.Errorf("a second policy: %d %s", r.code, r.body)
		}
		if r := ce.do("POST", "/api/v1/recording-policies", tb, fmt.Sprintf(`{"tenant_id":%d,"retention_days":4000}`, other)); r.code != 400 || r.errOf(t)["field"] != "retention_days" {
			t.Errorf("a 4000-day retention: %d %s", r.code, r.body)
		}

		// The call: leg A (the caller's channel, recorded) and leg B.
		wav := testWAV(8000, 1, 2, 0.3)
		rec := &provisioning.Recording{TenantID: tn, Switch: "s1", SwitchRef: "1741964966.7", StartedAt: t0}
		if _, err := ce.svc.DepositRecording(context.Background(), rec, wav); err != nil {
			t.Fatal(err)
		}
		ce.insert(
			leg("1741964966.7", "acme.example", 1, func(r *cdr.Record) { r.LinkedID = "1741964966.7" }),
			leg("1741964966.8", "acme.example", 1, func(r *cdr.Record) { r.LinkedID = "1741964966.7" }),
			leg("1741964999.9", "acme.example", 2),
		)
		cdrs := ce.do("GET", "/api/v1/cdrs", ta, "").must(t, http.StatusOK).items(t)
		if len(cdrs) != 3 {
			t.Fatalf("%d CDRs", len(cdrs))
		}
		for _, c := range cdrs {
			got := ce.do("GET", fmt.Sprintf("/api/v1/cdrs/%d/recordings", int64(c["id"].(float64))), ta, "").must(t, http.StatusOK).items(t)
			want := 1
			if c["call_id"] == "1741964999.9" {
				want = 0
			}
			if len(got) != want || want == 1 && got[0]["id"] != float64(rec.ID) {
				t.Errorf("CDR %s: recordings %v", c["call_id"], got)
			}
			if r := ce.do("GET", fmt.Sprintf("/api/v1/cdrs/%d/recordings", int64(c["id"].(float64))), tb, ""); r.code != 404 {
				t.Errorf("another tenant read a CDR's recordings: %d", r.code)
			}
		}
		list := ce.do("GET", "/api/v1/recordings?switch=s1&call_id=1741964966.7", ta, "").must(t, http.StatusOK).items(t)
		if len(list) != 1 || list[0]["duration_ms"] != float64(2000) || list[0]["bytes"] != float64(len(wav)) {
			t.Errorf("by call id: %v", list)
		}
		if r := ce.do("GET", "/api/v1/recordings?call_id=1741964966.7", ta, ""); r.code != 400 || r.errOf(t)["field"] != "switch" {
			t.Errorf("call_id without switch: %d %s", r.code, r.body)
		}
		if got := ce.do("GET", "/api/v1/recordings", tb, "").must(t, http.StatusOK).items(t); len(got) != 0 {
			t.Errorf("another tenant lists %v", got)
		}

		audioResp := ce.do("GET", path("recordings", rec.ID)+"/audio", ta, "").must(t, http.StatusOK)
		if audioResp.hdr.Get("Content-Type") != "audio/wav" || audioResp.body != string(wav) {
			t.Errorf("audio: %s, %d bytes", audioResp.hdr.Get("Content-Type"), len(audioResp.body))
		}
		req := httptest.NewRequest("GET", path("recordings", rec.ID)+"/audio", nil)
		req.Header.Set("Range", "bytes=44-99")
		part := ce.send(req, ta).must(t, http.StatusPartialContent)
		if part.body != string(wav[44:100]) {
			t.Errorf("range: %d bytes", len(part.body))
		}
		if r := ce.do("GET", path("recordings", rec.ID)+"/audio", tb, ""); r.code != 404 {
			t.Errorf("another tenant fetched the audio: %d", r.code)
		}
		user := ce.token("acme-user", "user", ptr(tn))
		if r := ce.do("DELETE", path("recordings", rec.ID), user, ""); r.code != 403 {
			t.Errorf("a user deleted a recording: %d", r.code)
		}
		ce.do("DELETE", path("recordings", rec.ID), ta, "").must(t, http.StatusNoContent)
		ce.do("GET", path("recordings", rec.ID), ta, "").must(t, http.StatusNotFound)
	})
}
