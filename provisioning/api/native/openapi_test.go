package native

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

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
		_, doc := fetchDoc(t, e.h)
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
		check("GatewayCreated", gw.m)
		check("DID", get(path("dids", did)))
		check("TenantList", e.do("GET", "/api/v1/tenants", e.admin, "").m)
		check("Registration", first("/api/v1/registrations"))
		check("GatewayStatus", first("/api/v1/gateways/status"))
		check("Error", e.do("GET", "/api/v1/tenants/0", e.admin, "").m)
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
