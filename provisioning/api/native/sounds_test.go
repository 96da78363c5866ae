package native

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// testWAV is secs seconds of a 440 Hz tone (amp 0: silence) as a 16-bit
// PCM WAV at rate with channels.
func testWAV(rate, channels int, secs float64, amp float64) []byte {
	n := int(float64(rate) * secs)
	var b bytes.Buffer
	data := n * channels * 2
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+data))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(channels), uint32(rate), uint32(rate * channels * 2), uint16(channels * 2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(data))
	for i := range n {
		v := int16(amp * 32767 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		for range channels {
			_ = binary.Write(&b, binary.LittleEndian, v)
		}
	}
	return b.Bytes()
}

// upload sends body as a sound upload to path, raw with contentType or,
// when contentType is "multipart", as a form with fields and the file.
func (e *env) upload(method, path, token, contentType string, body []byte, fields map[string]string) resp {
	e.t.Helper()
	if contentType == "multipart" {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, v := range fields {
			_ = mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("file", "greeting.wav")
		_, _ = fw.Write(body)
		_ = mw.Close()
		body, contentType = b.Bytes(), mw.FormDataContentType()
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	return e.send(req, token)
}

// TestSoundsAPI uploads, lists, fetches, replaces and deletes sound
// files as a tenant admin; bad uploads answer 4xx naming the field and
// write nothing.
func TestSoundsAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tn := e.create("tenants", e.admin, `{"name":"acme"}`)
		other := e.create("tenants", e.admin, `{"name":"globex"}`)
		ta := e.token("acme-admin", "tenant-admin", ptr(tn))
		user := e.token("acme-user", "user", ptr(tn))
		wav := testWAV(44100, 2, 1, 0.5)
		q := fmt.Sprintf("/api/v1/sounds?tenant_id=%d&name=", tn)

		created := e.upload("POST", q+"welcome", ta, "audio/wav", wav, nil).must(t, http.StatusCreated)
		if created.m["source_format"] != "wav" || created.m["name"] != "welcome" || created.hdr.Get("Location") != path("sounds", created.id()) {
			t.Errorf("created %s (Location %s)", created.body, created.hdr.Get("Location"))
		}
		if d := created.m["duration_ms"].(float64); math.Abs(d-1000) > 2 {
			t.Errorf("duration_ms %v, want 1000", d)
		}
		form := e.upload("POST", "/api/v1/sounds", ta, "multipart", testWAV(8000, 1, 0.5, 0.3),
			map[string]string{"tenant_id": fmt.Sprint(tn), "name": "menu"}).must(t, http.StatusCreated)
		if form.m["name"] != "menu" {
			t.Errorf("multipart upload: %s", form.body)
		}

		// The converted audio at both rates, with its ETag.
		for _, tc := range []struct {
			rate  string
			bytes int
		}{{"", 44 + 8000*2}, {"8000", 44 + 8000*2}, {"16000", 44 + 16000*2}} {
			p := path("sounds", created.id()) + "/audio"
			if tc.rate != "" {
				p += "?rate=" + tc.rate
			}
			r := e.do("GET", p, ta, "").must(t, http.StatusOK)
			if r.hdr.Get("Content-Type") != "audio/wav" || len(r.body) != tc.bytes || !strings.HasPrefix(r.body, "RIFF") {
				t.Errorf("rate %q: %s, %d bytes, want audio/wav of %d", tc.rate, r.hdr.Get("Content-Type"), len(r.body), tc.bytes)
			}
			rate := binary.LittleEndian.Uint32([]byte(r.body[24:28]))
			if want := map[string]uint32{"": 8000, "8000": 8000, "16000": 16000}[tc.rate]; rate != want {
				t.Errorf("rate %q: WAV header says %d Hz", tc.rate, rate)
			}
			req := httptest.NewRequest("GET", p, nil)
			req.Header.Set("If-None-Match", r.hdr.Get("ETag"))
			if got := e.send(req, ta); got.code != http.StatusNotModified {
				t.Errorf("rate %q: If-None-Match %s answered %d, want 304", tc.rate, r.hdr.Get("ETag"), got.code)
			}
		}

		count := func() int { return len(e.do("GET", "/api/v1/sounds", e.admin, "").must(t, http.StatusOK).items(t)) }
		before := count()
		huge := append(testWAV(8000, 1, 0.1, 0.5), make([]byte, 21<<20)...)
		for _, tc := range []struct {
			name        string
			method, url string
			token, ct   string
			body        []byte
			status      int
			field       string
		}{
			{"not audio", "POST", q + "x", ta, "application/octet-stream", []byte("this is not a WAV file at all"), 400, "file"},
			{"silence", "POST", q + "x", ta, "audio/wav", testWAV(8000, 1, 1, 0), 400, "file"},
			{"empty", "POST", q + "x", ta, "audio/wav", nil, 400, "file"},
			{"no name", "POST", q, ta, "audio/wav", wav, 400, "name"},
			{"name taken", "POST", q + "welcome", ta, "audio/wav", wav, 409, "name"},
			{"no tenant", "POST", "/api/v1/sounds?name=x", ta, "audio/wav", wav, 400, "tenant_id"},
			{"another tenant's", "POST", fmt.Sprintf("/api/v1/sounds?tenant_id=%d&name=x", other), ta, "audio/wav", wav, 422, "tenant_id"},
			{"a text body", "POST", q + "x", ta, "text/plain", wav, 415, ""},
			{"over 20 MiB", "POST", q + "x", ta, "audio/wav", huge, 413, "file"},
			{"read-only role", "POST", q + "x", user, "audio/wav", wav, 403, ""},
			{"replace with garbage", "PUT", path("sounds", created.id()) + "/audio", ta, "audio/mpeg", []byte("ID3 but not really"), 400, "file"},
			{"multipart without a file", "POST", q + "x", ta, "multipart", nil, 400, "file"},
		} {
			var r resp
			if tc.ct == "multipart" {
				var b bytes.Buffer
				mw := multipart.NewWriter(&b)
				_ = mw.WriteField("other", "x")
				_ = mw.Close()
				r = e.upload(tc.method, tc.url, tc.token, mw.FormDataContentType(), b.Bytes(), nil)
			} else {
				r = e.upload(tc.method, tc.url, tc.token, tc.ct, tc.body, nil)
			}
			if r.code != tc.status {
				t.Errorf("%s: %d %s, want %d", tc.name, r.code, r.body, tc.status)
				continue
			}
			if f, _ := r.errOf(t)["field"].(string); f != tc.field {
				t.Errorf("%s: field %q (%s), want %q", tc.name, f, r.body, tc.field)
			}
		}
		if n := count(); n != before {
			t.Errorf("bad uploads wrote: %d sounds, want %d", n, before)
		}
		if got := e.do("GET", path("sounds", created.id()), ta, "").must(t, http.StatusOK); got.m["sha256"] != created.m["sha256"] {
			t.Errorf("a refused replacement changed the sound: %s", got.body)
		}
		if r := e.do("GET", path("sounds", created.id())+"/audio?rate=11025", ta, ""); r.code != 400 || r.errOf(t)["field"] != "rate" {
			t.Errorf("rate 11025: %d %s, want 400 on rate", r.code, r.body)
		}
		if r := e.do("GET", path("sounds", created.id()), e.token("globex-admin", "tenant-admin", ptr(other)), ""); r.code != 404 {
			t.Errorf("another tenant read the sound: %d", r.code)
		}

		// A new file keeps id and name, changes the audio.
		repl := e.upload("PUT", path("sounds", created.id())+"/audio", ta, "audio/wav", testWAV(16000, 1, 2, 0.5), nil).must(t, http.StatusOK)
		if repl.id() != created.id() || repl.m["sha256"] == created.m["sha256"] || repl.m["duration_ms"].(float64) != 2000 {
			t.Errorf("replaced: %s (was %s)", repl.body, created.body)
		}

		e.do("DELETE", path("sounds", created.id()), ta, "").must(t, http.StatusNoContent)
		e.do("GET", path("sounds", created.id()), ta, "").must(t, http.StatusNotFound)
		e.do("GET", path("sounds", created.id())+"/audio", ta, "").must(t, http.StatusNotFound)
	})
}
