package native

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// docServer is a server whose store is never reached: building the routes
// and the document needs none.
func docServer() *server {
	return newServer(api.Deps{Service: provisioning.NewService(nil)})
}

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"schemas"`
	} `json:"components"`
}

func fetchDoc(t *testing.T, h http.Handler) ([]byte, openAPIDoc) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/openapi.json", nil)) // no token
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET openapi.json: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	var doc openAPIDoc
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return w.Body.Bytes(), doc
}

// Every route the mux serves is in openapi.json with the same method, and
// every operation of openapi.json is served by the route it describes.
func TestOpenAPISync(t *testing.T) {
	s := docServer()
	_, doc := fetchDoc(t, s)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, item := range doc.Paths {
		for m := range item {
			if m == "parameters" {
				continue
			}
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	served := map[string]bool{}
	for _, p := range s.patterns {
		if served[p] {
			t.Errorf("pattern %q registered twice", p)
		}
		served[p] = true
		if !documented[p] {
			t.Errorf("the mux serves %q but openapi.json does not document it", p)
		}
	}
	for p := range documented {
		if !served[p] {
			t.Errorf("openapi.json documents %q but the mux does not serve it", p)
		}
		// The mux must route a concrete request to this very pattern
		// (not to a more specific one that shadows it).
		method, tmpl, _ := strings.Cut(p, " ")
		req := httptest.NewRequest(method, regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(tmpl, "1"), nil)
		if _, got := s.mux.Handler(req); got != p {
			t.Errorf("%s %s is routed to %q, want %q", method, req.URL.Path, got, p)
		}
	}
	if len(served) < 6*5+3 {
		t.Errorf("only %d routes", len(served))
	}
}

// The document is self-consistent: every $ref resolves, every path
// parameter is declared, operation ids are unique, and it matches the
// golden file (go test -update rewrites it).
func TestOpenAPIDocument(t *testing.T) {
	body, _ := fetchDoc(t, docServer())
	var tree map[string]any
	if err := json.Unmarshal(body, &tree); err != nil {
		t.Fatal(err)
	}
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					refs = append(refs, x.(string))
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(tree)
	for _, ref := range refs {
		var cur any = tree
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ := cur.(map[string]any)
			cur = m[part]
		}
		if cur == nil {
			t.Errorf("unresolved $ref %s", ref)
		}
	}
	ops := map[string]bool{}
	params := tree["components"].(map[string]any)["parameters"].(map[string]any)
	for p, item := range tree["paths"].(map[string]any) {
		for m, opv := range item.(map[string]any) {
			op := opv.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || ops[id] {
				t.Errorf("%s %s: operationId %q missing or duplicate", m, p, id)
			}
			ops[id] = true
			declared := map[string]bool{}
			for _, pv := range asSlice(op["parameters"]) {
				pm := pv.(map[string]any)
				if ref, ok := pm["$ref"].(string); ok {
					pm = params[strings.TrimPrefix(ref, "#/components/parameters/")].(map[string]any)
				}
				if pm["in"] == "path" {
					declared[pm["name"].(string)] = true
				}
			}
			for _, sub := range regexp.MustCompile(`\{([a-z_]+)\}`).FindAllStringSubmatch(p, -1) {
				if !declared[sub[1]] {
					t.Errorf("%s %s: path parameter %s not declared", m, p, sub[1])
				}
			}
			responses := op["responses"].(map[string]any)
			if responses["500"] == nil || responses["400"] == nil {
				t.Errorf("%s %s: error responses missing", m, p)
			}
		}
	}

	golden := filepath.Join("testdata", "openapi.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("openapi.json differs from %s; review the change and run go test -update", golden)
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// The schemas describe what the API actually answers: the fields of a
// real answer of each kind are exactly the schema's properties.
func TestOpenAPISchemasMatchAnswers(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		body, doc := fetchDoc(t, e.h)
		conf := newConformance(t, body)
		b := e.base("acme", nil)
		gw := e.do("POST", "/api/v1/gateways", e.admin, `{"name":"gw","host":"gw.example","secret":"gw-Secret-1"}`).must(t, http.StatusCreated)
		did := e.create("dids", e.admin, `{"tenant_id":`+jsonStr(b.tenant)+`,"number":"+15550101010"}`)
		acct := e.do("POST", "/api/v1/accounts", e.admin, `{"domain_id":`+jsonStr(b.domain)+`,"username":"x2"}`).must(t, http.StatusCreated)
		e.view.Feed("s1").PutRegistration(regFor("acme-base", b.domainName))

		check := func(schema string, answer map[string]any) {
			t.Helper()
			sc, ok := doc.Components.Schemas[schema]
			if !ok {
				t.Fatalf("no schema %s", schema)
			}
			var got, want []string
			for k := range answer {
				got = append(got, k)
			}
			for k := range sc.Properties {
				want = append(want, k)
			}
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s: answer fields %v, schema properties %v", schema, got, want)
			}
			for _, r := range sc.Required {
				if _, ok := answer[r]; !ok {
					t.Errorf("%s: required %s missing from the answer", schema, r)
				}
			}
			conf.check(t, schema, answer)
		}
		get := func(p string) map[string]any { return e.do("GET", p, e.admin, "").must(t, http.StatusOK).m }
		first := func(p string) map[string]any {
			items := e.do("GET", p, e.admin, "").must(t, http.StatusOK).items(t)
			if len(items) == 0 {
				t.Fatalf("%s: empty", p)
			}
			return items[0]
		}
		check("Tenant", get(path("tenants", b.tenant)))
		check("Domain", get(path("domains", b.domain)))
		check("User", get(path("users", b.user)))
		check("Account", get(path("accounts", b.account)))
		check("AccountCreated", acct.m)
		check("Gateway", get(path("gateways", gw.id())))
		check("Gateway", gw.m) // the 201 is the plain view: a supplied secret is never echoed
		check("DID", get(path("dids", did)))
		check("TenantList", e.do("GET", "/api/v1/tenants", e.admin, "").m)
		check("Registration", first("/api/v1/registrations"))
		check("GatewayStatus", first("/api/v1/gateways/status"))
		check("Error", e.do("GET", "/api/v1/tenants/0", e.admin, "").m)
		check("Error", e.do("POST", "/api/v1/tenants", e.admin, `{"name":"a","name":"b"}`).must(t, http.StatusBadRequest).m)
		check("Error", e.do("GET", "/api/v1/tenants?name=%ff", e.admin, "").must(t, http.StatusBadRequest).m)
		e.withProbes(&fakeProbes{results: []api.ProbeResult{
			{Kind: api.ProbeGateway, Name: "gw", URI: "sip:gw.example", Status: api.ProbeReachable},
			{Kind: api.ProbeRegisterCheck, Name: "ast1", URI: "sip:127.0.0.1", Status: api.ProbeOK},
		}})
		check("ProbeList", e.do("GET", "/api/v1/probes", e.admin, "").m)
		for _, it := range e.do("GET", "/api/v1/probes", e.admin, "").must(t, http.StatusOK).items(t) {
			check("Probe", it)
		}
	})
}

// TestOpenAPILint runs a real OpenAPI linter, Redocly CLI, with the
// repository's configuration (redocly.yaml: the recommended rules, every
// warning an error) over the document the code generates now, as CI does
// over the golden file. Without redocly the test is skipped on a
// workstation and fails under CI, where it must be installed
// (npm install --global @redocly/cli@2.77.0, as .ci/run does).
func TestOpenAPILint(t *testing.T) {
	redocly, err := exec.LookPath("redocly")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redocly is not installed (npm install --global @redocly/cli@2.77.0); CI must lint the OpenAPI document")
		}
		t.Skip("redocly is not installed (npm install --global @redocly/cli@2.77.0); CI runs this test")
	}
	body, _ := fetchDoc(t, docServer())
	doc := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(doc, body, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, redocly, "lint", "--config", "redocly.yaml", doc)
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("redocly lint: %v\n%s", err, out)
	}
}

// conformance checks decoded JSON answers against the schemas of the
// document the server serves: types, nullability, enums, date-times,
// required and undocumented properties, at every depth. It is what a
// client generated from the document relies on.
type conformance struct {
	tree map[string]any
}

func newConformance(t *testing.T, body []byte) conformance {
	t.Helper()
	var tree map[string]any
	if err := json.Unmarshal(body, &tree); err != nil {
		t.Fatal(err)
	}
	return conformance{tree: tree}
}

// check reports every way v does not conform to components.schemas[name].
func (c conformance) check(t *testing.T, name string, v any) {
	t.Helper()
	for _, p := range c.problems(ref("schemas", name), v, name) {
		t.Error(p)
	}
}

func (c conformance) problems(s obj, v any, at string) []string {
	if r, ok := s["$ref"].(string); ok {
		var cur any = c.tree
		for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		return c.problems(cur.(map[string]any), v, at)
	}
	if v == nil {
		if s["nullable"] == true || s["type"] == nil {
			return nil
		}
		return []string{at + ": null, but the schema is not nullable"}
	}
	var out []string
	if e, ok := s["enum"]; ok && !slices.ContainsFunc(asAnySlice(e), func(x any) bool { return x == v }) {
		out = append(out, fmt.Sprintf("%s: %v is not one of the enum %v", at, v, e))
	}
	switch s["type"] {
	case "string":
		str, ok := v.(string)
		if !ok {
			return append(out, fmt.Sprintf("%s: %v is not a string", at, v))
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				out = append(out, fmt.Sprintf("%s: %q is not a date-time", at, str))
			}
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			out = append(out, fmt.Sprintf("%s: %v is not an integer", at, v))
		}
	case "number":
		if _, ok := v.(float64); !ok {
			out = append(out, fmt.Sprintf("%s: %v is not a number", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			out = append(out, fmt.Sprintf("%s: %v is not a boolean", at, v))
		}
	case "array":
		items, ok := v.([]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: %v is not an array", at, v))
		}
		for i, it := range items {
			out = append(out, c.problems(s["items"].(map[string]any), it, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: %v is not an object", at, v))
		}
		props, _ := s["properties"].(map[string]any)
		for _, r := range asAnySlice(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				out = append(out, fmt.Sprintf("%s: required %s missing", at, r))
			}
		}
		for k, x := range m {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if props != nil {
					out = append(out, fmt.Sprintf("%s: %s is not in the schema", at, k))
				}
				continue
			}
			out = append(out, c.problems(ps, x, at+"."+k)...)
		}
	}
	return out
}

func asAnySlice(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	}
	return nil
}

// The conformance check finds what it is there to find.
func TestConformanceCatches(t *testing.T) {
	body, _ := fetchDoc(t, docServer())
	conf := newConformance(t, body)
	for _, c := range []struct {
		schema string
		answer string
		want   string
	}{
		{"Probe", `{"kind":"gateway","status":"bogus"}`, "enum"},
		{"Probe", `{"kind":"nope"}`, "enum"},
		{"Gateway", `{"port":"5060"}`, "not an integer"},
		{"Gateway", `{"transport":"sctp"}`, "enum"},
		{"Tenant", `{"id":1}`, "required name missing"},
		{"Tenant", `{"name":null}`, "not nullable"},
		{"Tenant", `{"created_at":"yesterday"}`, "not a date-time"},
		{"Tenant", `{"bogus":1}`, "not in the schema"},
		{"GatewayStatus", `{"switches":[{"state":"sideways"}]}`, "enum"},
	} {
		var v any
		if err := json.Unmarshal([]byte(c.answer), &v); err != nil {
			t.Fatal(err)
		}
		problems := conf.problems(ref("schemas", c.schema), v, c.schema)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%s %s: problems %q, want one about %q", c.schema, c.answer, problems, c.want)
		}
	}
}
