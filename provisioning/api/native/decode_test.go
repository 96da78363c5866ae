package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// accountBody is a full account create body, the decoder's common case.
const accountBody = `{"domain_id":42,"domain":"a.example.com","username":"1001","secret":"s3cr3t-Pass",` +
	`"caller_id_name":"Alice Émilie","caller_id_number":"+15551234567","description":"front desk, 2nd floor","user_id":7}`

// BenchmarkDecodeAccount decodes an account body as a create does.
func BenchmarkDecodeAccount(b *testing.B) {
	body := []byte(accountBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeJSON(body, new(accountIn)); err != nil {
			b.Fatal(err)
		}
	}
}

// The strict check costs no allocation on a valid body: it adds one pass
// over the bytes, and nothing for the garbage collector.
func TestCheckJSONAllocates(t *testing.T) {
	body, sh := []byte(accountBody), shapeOf(reflect.TypeFor[accountIn]())
	if n := testing.AllocsPerRun(100, func() {
		if err := checkJSON(body, sh); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("checkJSON allocates %v times per body", n)
	}
}

// nested exercises the strict decoder below the top level.
type nested struct {
	Name  string                     `json:"name"`
	Inner nestedInner                `json:"inner"`
	Opt   *nestedInner               `json:"opt"`
	List  []nestedInner              `json:"list"`
	Tags  map[string]string          `json:"tags"`
	Raw   json.RawMessage            `json:"raw"`
	Any   any                        `json:"any"`
	ByKey map[string]json.RawMessage `json:"by_key"`
}

type nestedInner struct {
	Port int     `json:"port"`
	Note *string `json:"note"`
}

// decodeJSON refuses what encoding/json would let through, at any depth,
// naming the culprit, and accepts the JSON that only looks unusual.
func TestStrictJSON(t *testing.T) {
	many := func(dup bool) string { // an object of 20 keys, past keySet's in-place part
		var b strings.Builder
		b.WriteString(`{"tags":{`)
		for i := range 20 {
			fmt.Fprintf(&b, `"k%d":"v",`, i)
		}
		if dup {
			b.WriteString(`"k3":"again",`)
		}
		b.WriteString(`"last":"v"}}`)
		return b.String()
	}
	for _, c := range []struct {
		name        string
		body        string
		code, field string // code "" = accepted
	}{
		{"plain", `{"name":"x","inner":{"port":1},"list":[{"port":2}],"tags":{"a":"b"},"raw":{"x":[1,{"y":null}]}}`, "", ""},
		{"escaped key spelling a field", `{"n\u0061me":"x"}`, "", ""},
		{"surrogate pair", `{"name":"\ud83d\ude00"}`, "", ""},
		{"null where nullable", `{"opt":null,"raw":null,"any":null,"inner":{"note":null},"by_key":{"a":null}}`, "", ""},
		{"same key in sibling objects", `{"inner":{"port":1},"opt":{"port":1},"list":[{"port":1},{"port":2}]}`, "", ""},
		{"many keys", many(false), "", ""},
		{"whitespace", " \n\t{ \"name\" : \"x\" , \"inner\" : { } }\r\n", "", ""},

		{"duplicate", `{"name":"a","name":"b"}`, codeMalformedBody, "name"},
		{"duplicate, escaped", `{"name":"a","n\u0061me":"b"}`, codeMalformedBody, "name"},
		{"duplicate nested", `{"inner":{"port":1,"port":2}}`, codeMalformedBody, "inner.port"},
		{"duplicate in a list", `{"list":[{"port":1},{"port":1,"port":2}]}`, codeMalformedBody, "list[1].port"},
		{"duplicate in a map", `{"tags":{"a":"1","a":"2"}}`, codeMalformedBody, "tags.a"},
		{"duplicate in raw", `{"raw":{"a":{"b":[{"c":1,"c":1}]}}}`, codeMalformedBody, "raw.a.b[0].c"},
		{"duplicate in any", `{"any":{"role":"user","role":"admin"}}`, codeMalformedBody, "any.role"},
		{"duplicate among many", many(true), codeMalformedBody, "tags.k3"},
		{"upper case", `{"NAME":"x"}`, codeUnknownField, "NAME"},
		{"mixed case", `{"Name":"x"}`, codeUnknownField, "Name"},
		{"case nested", `{"inner":{"Port":1}}`, codeUnknownField, "inner.Port"},
		{"case in a list", `{"list":[{"port":1},{"PORT":1}]}`, codeUnknownField, "list[1].PORT"},
		{"Kelvin sign folds to k in encoding/json", `{"tags":{},"inner":{"port":1},"name":"x","raw":1,"\u212aey":1}`, codeUnknownField, "\u212aey"},
		{"unknown nested", `{"opt":{"bogus":1}}`, codeUnknownField, "opt.bogus"},
		{"null nested", `{"inner":{"port":null}}`, codeInvalid, "inner.port"},
		{"null in a list", `{"list":[null]}`, codeInvalid, "list[0]"},
		{"null map value", `{"tags":{"a":null}}`, codeInvalid, "tags.a"},
		{"invalid UTF-8 nested", "{\"inner\":{\"note\":\"\xff\"}}", codeMalformedBody, "inner.note"},
		{"invalid UTF-8 in raw", "{\"raw\":[\"ok\",\"\xc3\x28\"]}", codeMalformedBody, "raw[1]"},
		{"invalid UTF-8 in a key", "{\"tags\":{\"\xff\":\"x\"}}", codeMalformedBody, "tags"},
		{"lone high surrogate", `{"name":"\ud800"}`, codeMalformedBody, "name"},
		{"lone low surrogate", `{"name":"\udc00x"}`, codeMalformedBody, "name"},
		{"high then not low", `{"name":"\ud800\u0041"}`, codeMalformedBody, "name"},
		{"lone surrogate in a key", `{"tags":{"\ud800":"x"}}`, codeMalformedBody, "tags"},
		{"too deep", `{"raw":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`, codeMalformedBody, "raw" + strings.Repeat("[0]", maxJSONDepth-1)},
		{"trailing", `{"name":"x"} {}`, codeMalformedBody, ""},
		{"syntax after a clean part", `{"name":"x",}`, codeMalformedBody, ""},
		{"wrong type stays encoding/json's", `{"inner":{"port":"x"}}`, codeInvalid, "inner.port"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := decodeJSON([]byte(c.body), new(nested))
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want a %s refusal of %q", err, c.code, c.field)
			}
			if ae.Status != http.StatusBadRequest || ae.Code != c.code || ae.Field != c.field {
				t.Fatalf("got %d %s %q (%s), want 400 %s %q", ae.Status, ae.Code, ae.Field, ae.Message, c.code, c.field)
			}
		})
	}
}

// The input structs decode with the same strictness: a sample per kind.
func TestStrictInputs(t *testing.T) {
	for _, c := range []struct {
		dst         any
		body        string
		code, field string
	}{
		{new(accountIn), `{"username":"1001","username":"1002"}`, codeMalformedBody, "username"},
		{new(accountIn), `{"USERNAME":"1001"}`, codeUnknownField, "USERNAME"},
		{new(userIn), `{"role":"user","Role":"admin"}`, codeUnknownField, "Role"},
		{new(userIn), `{"role":"user","role":"admin"}`, codeMalformedBody, "role"},
		{new(gatewayIn), `{"port":null}`, "", ""},
		{new(tenantIn), `{"parent_id":null,"name":"x"}`, "", ""},
		{new(tenantIn), `{"name":null}`, codeInvalid, "name"},
	} {
		err := decodeJSON([]byte(c.body), c.dst)
		var ae *apiError
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%T %s: %v", c.dst, c.body, err)
		case c.code == "":
		case !errors.As(err, &ae) || ae.Code != c.code || ae.Field != c.field:
			t.Errorf("%T %s: %v, want %s %q", c.dst, c.body, err, c.code, c.field)
		}
	}
}

// FuzzCheckJSON holds the strict check to what it promises on any input:
// no panic; a syntax verdict exactly when encoding/json finds the body
// invalid; and a body it passes has no key twice in any object and, for a
// struct, only its exact field names.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{accountBody, `{"a":1,"a":2}`, `{"USERNAME":"x"}`, `{"raw":{"a":[1,{"b":2,"b":3}]}}`,
		`{"n\u0061me":1,"name":2}`, `"\ud800"`, "{\"a\":\"\xff\"}", `[1,2,[3,{"x":null}]]`, `{"user_id":null}`,
		`-0.5e+3`, `01`, `{"a":1,}`, `[`, `{"a"}`, `tru`, `"\u00"`, `{"port":1e99}`, ``} {
		f.Add([]byte(s))
	}
	account := shapeOf(reflect.TypeFor[accountIn]())
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, sh := range []*shape{freeForm, account} {
			err := checkJSON(body, sh)
			valid := json.Valid(body)
			if errors.Is(err, errJSONSyntax) == valid && (valid || err == nil) {
				t.Fatalf("checkJSON(%q) = %v but json.Valid = %v", body, err, valid)
			}
			if err != nil {
				if !errors.Is(err, errJSONSyntax) {
					var ae *apiError
					if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Message == "" {
						t.Fatalf("checkJSON(%q): %v is not a 400 envelope", body, err)
					}
				}
				continue
			}
			if dup := duplicateKey(t, body, sh == account); dup != "" {
				t.Fatalf("checkJSON(%q) passed %s", body, dup)
			}
		}
	})
}

// duplicateKey walks a valid body with encoding/json's tokenizer, an
// independent reader, and returns a key given twice in one object, or for
// an account body a top-level key that is not exactly a field.
func duplicateKey(t *testing.T, body []byte, account bool) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	fields := map[string]bool{}
	for _, n := range jsonFields(reflect.TypeFor[accountIn]()) {
		fields[n] = true
	}
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // the next string is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return ""
		}
		if err != nil {
			t.Fatalf("tokenize %q: %v", body, err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if key, ok := tok.(string); ok && top != nil && top.object && top.expect {
			if top.keys[key] {
				return "duplicate key " + key
			}
			if account && len(stack) == 1 && !fields[key] {
				return "unknown key " + key
			}
			top.keys[key], top.expect = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expect = true // a value ended: a key comes next
		}
	}
}

// Over HTTP: each leniency of item 10 is refused with a 400 naming the
// field or parameter, and writes nothing; the presence rules of port and
// domain hold on create and update.
func TestStrictAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.base("acme", nil)
		other := e.create("domains", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"other.example.com"}`, b.tenant))
		gw := e.create("gateways", e.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"gw","host":"gw.example","port":5080}`, b.tenant))
		did := e.create("dids", e.admin, fmt.Sprintf(`{"tenant_id":%d,"number":"+15550001111"}`, b.tenant))
		const rlo = `evil\u202Egnp.exe`
		before := e.snapshot()
		for _, c := range []struct {
			name, method, path, body string
			status                   int
			code, field              string
		}{
			{"duplicate key", "POST", "/api/v1/tenants", fmt.Sprintf(`{"name":"a","parent_id":%d,"name":"b"}`, b.tenant), 400, codeMalformedBody, "name"},
			{"duplicate key on update", "PATCH", path("users", b.user), `{"role":"user","role":"admin"}`, 400, codeMalformedBody, "role"},
			{"upper-case key", "POST", "/api/v1/tenants", `{"NAME":"x"}`, 400, codeUnknownField, "NAME"},
			{"mixed-case key on update", "PATCH", path("accounts", b.account), `{"Description":"x"}`, 400, codeUnknownField, "Description"},
			{"domain and domain_id disagree", "POST", "/api/v1/accounts", fmt.Sprintf(`{"domain_id":%d,"domain":"other.example.com","username":"1001"}`, b.domain), 400, codeInvalid, "domain"},
			{"domain and domain_id disagree on update", "PATCH", path("accounts", b.account), fmt.Sprintf(`{"domain_id":%d,"domain":"other.example.com"}`, b.domain), 400, codeInvalid, "domain_id"},
			{"domain_id moved, domain kept", "PATCH", path("accounts", b.account), fmt.Sprintf(`{"domain_id":%d,"domain":%q}`, other, b.domainName), 400, codeInvalid, "domain_id"},
			{"gateway port 0", "POST", "/api/v1/gateways", `{"name":"g0","host":"h.example","port":0}`, 400, codeInvalid, "port"},
			{"gateway port 0 on update", "PATCH", path("gateways", gw), `{"port":0}`, 400, codeInvalid, "port"},
			{"bidi in a tenant name", "POST", "/api/v1/tenants", `{"name":"` + rlo + `"}`, 400, codeInvalid, "name"},
			{"bidi in a domain description", "PATCH", path("domains", b.domain), `{"description":"` + rlo + `"}`, 400, codeInvalid, "description"},
			{"bidi in a first name", "PATCH", path("users", b.user), `{"first_name":"` + rlo + `"}`, 400, codeInvalid, "first_name"},
			{"zero-width space in a caller-ID name", "PATCH", path("accounts", b.account), `{"caller_id_name":"Ali\u200bce"}`, 400, codeInvalid, "caller_id_name"},
			{"bidi in a gateway description", "PATCH", path("gateways", gw), `{"description":"` + rlo + `"}`, 400, codeInvalid, "description"},
			{"BOM in a DID description", "PATCH", path("dids", did), `{"description":"\ufeffmain"}`, 400, codeInvalid, "description"},
			{"invalid UTF-8 in a query", "GET", "/api/v1/tenants?name=%ff", "", 400, codeBadParameter, "name"},
			{"truncated UTF-8 in a query", "GET", "/api/v1/accounts?username=1001%e2%80", "", 400, codeBadParameter, "username"},
			{"bidi in a query", "GET", "/api/v1/tenants?name=a%e2%80%aeb", "", 400, codeBadParameter, "name"},
			{"NUL in a query", "GET", "/api/v1/domains?name=a%00", "", 400, codeBadParameter, "name"},
			{"newline in a query", "GET", "/api/v1/cdrs?caller=1%0a2", "", 400, codeBadParameter, "caller"},
			{"control in a later parameter", "GET", "/api/v1/users?limit=5&login=x%1b", "", 400, codeBadParameter, "login"},
			{"invalid UTF-8 in a parameter name", "GET", "/api/v1/tenants?%ff=1", "", 400, codeBadParameter, "\uFFFD"},
			{"bad escape in a parameter name", "GET", "/api/v1/tenants?%zz=1", "", 400, codeBadParameter, "%zz"},
			{"semicolon", "GET", "/api/v1/tenants?name=a;limit=1", "", 400, codeBadParameter, "name"},
		} {
			t.Run(c.name, func(t *testing.T) {
				checkError(t, e.do(c.method, c.path, e.admin, c.body), c.status, c.code, c.field)
			})
		}
		if after := e.snapshot(); after != before {
			t.Errorf("refused requests changed the store:\nbefore %s\nafter  %s", before, after)
		}

		// What is accepted: both domain fields naming one domain (in
		// another case too), a port left out (the default), null (back
		// to the default), visible Unicode, encoded UTF-8 in a query.
		e.do("POST", "/api/v1/accounts", e.admin, fmt.Sprintf(`{"domain_id":%d,"domain":%q,"username":"1002"}`, b.domain, strings.ToUpper(b.domainName))).must(t, http.StatusCreated)
		if p := e.do("POST", "/api/v1/gateways", e.admin, `{"name":"g1","host":"h.example"}`).must(t, http.StatusCreated).m["port"]; p != 5060.0 {
			t.Errorf("port left out = %v, want 5060", p)
		}
		if p := e.do("POST", "/api/v1/gateways", e.admin, `{"name":"g2","host":"h.example","transport":"tls"}`).must(t, http.StatusCreated).m["port"]; p != 5061.0 {
			t.Errorf("tls port left out = %v, want 5061", p)
		}
		if p := e.do("PATCH", path("gateways", gw), e.admin, `{"description":"x"}`).must(t, http.StatusOK).m["port"]; p != 5080.0 {
			t.Errorf("port after an update without it = %v, want 5080 kept", p)
		}
		if p := e.do("PATCH", path("gateways", gw), e.admin, `{"port":null}`).must(t, http.StatusOK).m["port"]; p != 5060.0 {
			t.Errorf("port null = %v, want the default 5060", p)
		}
		e.do("POST", "/api/v1/tenants", e.admin, fmt.Sprintf(`{"name":"Équipe 👩\u200d💻","parent_id":%d}`, b.tenant)).must(t, http.StatusCreated)
		if n := len(e.do("GET", "/api/v1/tenants?name="+urlQuery("Équipe 👩\u200d💻"), e.admin, "").must(t, http.StatusOK).items(t)); n != 1 {
			t.Errorf("tenant by its Unicode name: %d found", n)
		}
	})
}

// The query checks are the route's: an undeclared parameter is named even
// when its value is bad, a declared one's value is checked.
func TestCheckQuery(t *testing.T) {
	declared := []param{{name: "name"}, {name: "limit"}}
	for _, c := range []struct {
		raw, field string // field "-" = accepted
		want       string // the decoded name value when accepted
	}{
		{"", "-", ""},
		{"name=a+b", "-", "a b"},
		{"name=%C3%A9&limit=5", "-", "é"},
		{"&&name=x&", "-", "x"},
		{"name=%E2%80%8Db", "name", ""}, // a joiner with nothing visible before it
		{"bogus=%ff", "bogus", ""},
		{"name=x&name=y", "name", ""},
		{"name=%", "name", ""},
		{"name=%7f", "name", ""},
		{"name=%c2%85", "name", ""},
	} {
		q, err := checkQuery(c.raw, declared)
		if c.field == "-" {
			if err != nil || q.Get("name") != c.want {
				t.Errorf("%q: %v %v, want name %q", c.raw, q, err, c.want)
			}
			continue
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.Code != codeBadParameter || ae.Field != c.field {
			t.Errorf("%q: %v, want bad_parameter %q", c.raw, err, c.field)
		}
	}
}
