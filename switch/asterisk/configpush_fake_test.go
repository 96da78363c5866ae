package asterisk

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
)

// fakeConfigARI is a loopback Asterisk for /ari/asterisk/config/dynamic:
// it answers with the status codes and bodies recorded from Asterisk
// 23.4.1 in testdata/rest, keeps objects like the sorcery memory wizard,
// and refuses to change objects that "come from pjsip.conf".
type fakeConfigARI struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	objects map[ObjectRef][]Field
	static  map[ObjectRef]bool
	// refuse makes a PUT of these objects fail with Asterisk's 400.
	refuse map[ObjectRef]bool
	// loseRace makes the next DELETE of these objects answer as one that
	// lost a race with another delete does on Asterisk 23.4.1: the
	// object is gone, the answer 403 "Could not delete object".
	loseRace map[ObjectRef]bool
	requests []fakeRequest
	record   bool
	// reloads are the modules reloaded (PUT /asterisk/modules/{name}).
	reloads []string

	templates map[ObjectType][]Field
	errors    map[int]recordedHTTP // by status: 400, 403, 404
}

type fakeRequest struct {
	Method string
	Path   string
	Body   string
}

type recordedHTTP struct {
	Status int
	Body   string
}

// readRecordedHTTP parses a recorded raw HTTP answer (status line, headers,
// blank line, body) of testdata/rest, or of aritest's recordings (the
// configuration errors its fake serves too, stored there once).
func readRecordedHTTP(t testing.TB, name string) recordedHTTP {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "rest", name))
	if errors.Is(err, fs.ErrNotExist) {
		raw, err = aritest.Recorded(name), nil
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return recordedHTTP{resp.StatusCode, string(body)}
}

func readFields(t testing.TB, name string) []Field {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "rest", name))
	if err != nil {
		t.Fatal(err)
	}
	var fs []Field
	if err := json.Unmarshal(raw, &fs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return fs
}

func newFakeConfigARI(t testing.TB) *fakeConfigARI {
	f := &fakeConfigARI{
		t:        t,
		objects:  make(map[ObjectRef][]Field),
		static:   make(map[ObjectRef]bool),
		refuse:   make(map[ObjectRef]bool),
		loseRace: make(map[ObjectRef]bool),
		record:   true,
		templates: map[ObjectType][]Field{
			PJSIPEndpoint:     readFields(t, "config-put-endpoint-2001.response.json"),
			PJSIPAuth:         readFields(t, "config-put-auth-2001.response.json"),
			PJSIPAOR:          readFields(t, "config-put-aor-2001.response.json"),
			PJSIPRegistration: registrationDefaults(t),
			PJSIPIdentify: {{"endpoint", ""}, {"match", ""}, {"srv_lookups", "true"},
				{"match_header", ""}, {"match_request_uri", ""}},
		},
		errors: map[int]recordedHTTP{
			400: readRecordedHTTP(t, "error-config-put-bad-attribute-400.http"),
			// A registration naming an endpoint without line=yes.
			http.StatusUnprocessableEntity: readRecordedHTTP(t, "config-put-registration-gw2-no-line-400.http"),
			403:                            readRecordedHTTP(t, "error-config-delete-static-endpoint-403.http"),
			404:                            readRecordedHTTP(t, "error-config-object-not-found-404.http"),
		},
	}
	// 1001 as pjsip.conf defines it in the recording.
	f.addStatic(ObjectRef{PJSIPEndpoint, "1001"}, readFields(t, "config-res-pjsip-endpoint-1001.json"))
	f.addStatic(ObjectRef{PJSIPAOR, "1001"}, readFields(t, "config-res-pjsip-aor-1001.json"))
	f.addStatic(ObjectRef{PJSIPAuth, "1001"}, readFields(t, "config-res-pjsip-auth-1001.json"))
	f.addStatic(ObjectRef{PJSIPRegistration, "gateway-reg"}, readFields(t, "config-res-pjsip-registration-gateway-reg.json"))
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeConfigARI) addStatic(ref ObjectRef, fs []Field) {
	f.objects[ref] = fs
	f.static[ref] = true
}

// URL is the ARI base URL (ending in /ari).
func (f *fakeConfigARI) URL() string { return f.srv.URL + "/ari" }

func (f *fakeConfigARI) takeRequests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.requests
	f.requests = nil
	return r
}

func (f *fakeConfigARI) object(ref ObjectRef) ([]Field, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fs, ok := f.objects[ref]
	return fs, ok
}

// restart forgets every dynamic object, as Asterisk's memory wizard does.
func (f *fakeConfigARI) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for r := range f.objects {
		if !f.static[r] {
			delete(f.objects, r)
		}
	}
}

func (f *fakeConfigARI) fail(w http.ResponseWriter, status int, id string) {
	rec := f.errors[status]
	body := rec.Body
	for _, old := range []string{"'2001'", "'1001'", "'9999'"} {
		body = strings.Replace(body, old, "'"+id+"'", 1)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeConfigARI) serve(w http.ResponseWriter, r *http.Request) {
	const prefix = "/ari/asterisk/config/dynamic/res_pjsip/"
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.record {
		f.requests = append(f.requests, fakeRequest{r.Method, r.URL.EscapedPath(), string(body)})
	}
	if mod, ok := strings.CutPrefix(r.URL.Path, "/ari/asterisk/modules/"); ok && r.Method == http.MethodPut {
		f.reloads = append(f.reloads, mod)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	typ, id, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || id == "" {
		http.Error(w, `{"message":"Invalid method"}`, http.StatusNotFound)
		return
	}
	ref := ObjectRef{ObjectType(typ), id}
	cur, exists := f.objects[ref]
	switch r.Method {
	case http.MethodGet:
		if !exists {
			f.fail(w, 404, id)
			return
		}
		writeJSON(w, cur)
	case http.MethodDelete:
		switch {
		case !exists:
			f.fail(w, 404, id)
		case f.static[ref]:
			f.fail(w, 403, id)
		case f.loseRace[ref]:
			delete(f.loseRace, ref)
			delete(f.objects, ref)
			f.fail(w, 403, id)
		default:
			delete(f.objects, ref)
			w.WriteHeader(http.StatusNoContent)
		}
	case http.MethodPut:
		var in struct {
			Fields []Field `json:"fields"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, `{"message":"bad json"}`, http.StatusBadRequest)
			return
		}
		if f.static[ref] {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"message":"Could not create or update object '%s'"}`, id)
			return
		}
		if len(unknownAttributes(ref.Type, in.Fields)) > 0 {
			f.fail(w, 400, id)
			return
		}
		base := cur
		if !exists {
			base = f.templates[ref.Type]
		}
		if f.refuse[ref] {
			f.fail(w, 400, id)
			return
		}
		obj := slices.Clone(base)
		for _, sent := range in.Fields {
			if sent.Attribute == "disallow" {
				continue // write-only, as in Asterisk
			}
			v := asteriskValue(sent)
			i := slices.IndexFunc(obj, func(g Field) bool { return g.Attribute == sent.Attribute })
			if i < 0 {
				obj = append(obj, Field{sent.Attribute, v})
			} else {
				obj[i].Value = v
			}
		}
		if ref.Type == PJSIPRegistration && fieldValue(obj, "endpoint") != "" && fieldValue(obj, "line") != "true" {
			// Asterisk 23.4.1 answers 400 and creates nothing.
			rec := f.errors[http.StatusUnprocessableEntity]
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Status)
			io.WriteString(w, strings.Replace(rec.Body, "'gw2'", "'"+id+"'", 1))
			return
		}
		f.objects[ref] = obj
		writeJSON(w, obj)
	default:
		http.Error(w, `{"message":"Invalid method"}`, http.StatusMethodNotAllowed)
	}
}

// asteriskValue rewrites a sent value the way Asterisk echoes it back.
func asteriskValue(f Field) string {
	switch f.Attribute {
	case "allow":
		return "(" + strings.ReplaceAll(f.Value, ",", "|") + ")"
	case "match":
		return f.Value + "/255.255.255.255"
	}
	switch f.Value {
	case "yes":
		return "true"
	case "no":
		return "false"
	}
	return f.Value
}

// registrationDefaults is a new registration as Asterisk 23.4.1 fills it
// in (the body of the recorded 200), with line and endpoint back at their
// defaults (off, none), so that a PUT without line=yes is refused as
// Asterisk refuses it.
func registrationDefaults(t testing.TB) []Field {
	t.Helper()
	rec := readRecordedHTTP(t, "config-put-registration-gw2-line-yes-200.http")
	var fs []Field
	if err := json.Unmarshal([]byte(rec.Body), &fs); err != nil {
		t.Fatal(err)
	}
	for i := range fs {
		switch fs[i].Attribute {
		case "line":
			fs[i].Value = "false"
		case "endpoint", "client_uri", "server_uri", "outbound_auth":
			fs[i].Value = ""
		}
	}
	return fs
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
