package dcp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// render shows parsed params as "name=value" or "name!problem", in order.
func (p *params) render() string {
	var out []string
	for _, v := range p.list {
		if v.Problem != "" {
			out = append(out, v.Name+"!"+v.Problem)
		} else {
			out = append(out, v.Name+"="+v.Value)
		}
	}
	return strings.Join(out, " ")
}

func TestParseParams(t *testing.T) {
	const mp = "multipart/form-data; boundary=B"
	part := func(name, value string) string {
		return "--B\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
	}
	for _, tc := range []struct {
		name, query, ctype, body string
		want                     string // rendered params, or "error: <code> <message>"
	}{
		{"empty", "", "", "", ""},
		{"query", "token=t&accid=a%20b&dcp=", "", "", "token=t accid=a b dcp="},
		{"query order kept", "b=1&a=2", "", "", "b=1 a=2"},
		{"plus is a space", "firstname=Jean+Luc", "", "", "firstname=Jean Luc"},
		{"empty pairs skipped", "&&a=1&", "", "", "a=1"},
		{"name without value", "a", "", "", "a="},
		{"repeat", "a=1&a=2", "", "", "a!is given more than once"},
		{"query and form merge", "token=t", "application/x-www-form-urlencoded", "accid=x", "token=t accid=x"},
		{"form with charset", "", "application/x-www-form-urlencoded; charset=utf-8", "a=%C3%A9", "a=é"},
		{"JSON strings and numbers", "", "application/json", `{"accid":"x","phonenumber":84901234567,"limit":10,"f":1.5e3,"n":-2}`,
			"accid=x phonenumber=84901234567 limit=10 f=1.5e3 n=-2"},
		{"JSON null is empty", "", "application/json", `{"desc":null}`, "desc="},
		{"JSON wrong types", "", "application/json", `{"a":{"b":1},"c":[1],"d":true,"e":false}`,
			"a!must be a string or a number, not a JSON object c!must be a string or a number, not a JSON array d!must be a string or a number, not a JSON boolean e!must be a string or a number, not a JSON boolean"},
		{"JSON escapes", "", "application/json", `{"a":"\u00e9\n"}`, "a=é\n"},
		{"JSON repeat", "", "application/json", `{"a":"1","a":"2"}`, "a!is given more than once"},
		{"JSON vendor type", "", "application/vnd.api+json", `{"a":"1"}`, "a=1"},
		{"JSON empty body", "", "application/json", "  ", ""},
		{"JSON empty object", "", "application/json", "{}", ""},
		{"multipart", "", mp, part("a", "1") + part("b", "two words") + "--B--\r\n", "a=1 b=two words"},
		{"multipart file", "", mp, "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nx\r\n--B--\r\n", "f!must be a form field, not a file"},
		{"multipart without boundary", "", "multipart/form-data", "x", "error: 400 Invalid request: malformed multipart body: no boundary in Content-Type"},
		{"multipart part without name", "", mp, "--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--\r\n", "error: 400 Invalid request: malformed multipart body: a part has no name"},
		{"JSON scalar", "", "application/json", `"x"`, "error: 400 Invalid request: malformed JSON body: must be an object of parameters"},
		{"JSON truncated", "", "application/json", `{"a":`, "error: 400 Invalid request: malformed JSON body: not JSON"},
		{"JSON unterminated object", "", "application/json", `{"a":"1"`, "error: 400 Invalid request: malformed JSON body: not JSON"},
		{"JSON trailing garbage", "", "application/json", `{"a":"1"} x`, "error: 400 Invalid request: malformed JSON body: data after the object"},
		{"XML", "", "text/xml", "<a/>", `error: 415 Unsupported Content-Type "text/xml": use application/x-www-form-urlencoded, multipart/form-data or application/json`},
		{"bad escape", "a=%2", "", "", "error: 400 Invalid request: malformed query string: bad percent-encoding"},
		{"semicolon", "a=1;b=2", "", "", "error: 400 Invalid request: malformed query string: ';' is not a separator"},
		{"64 parameters", strings.Repeat("a=1&", 63) + "b=1", "", "", "a!is given more than once b=1"},
		{"65 parameters", strings.Repeat("a=1&", 65), "", "", "error: 400 Invalid request: more than 64 parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseParams(tc.query, tc.ctype, []byte(tc.body))
			got := ""
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %v is not an *Error", err)
				}
				got = fmt.Sprintf("error: %d %s", e.Code, e.Message)
			} else {
				got = p.render()
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	specs := map[string]spec{"a": {max: 3}, "n": {max: 4, check: checkLimit}, "p": pNewNum}
	for _, tc := range []struct {
		query, want string
	}{
		{"a=abc&n=5", ""},
		{"a=%C3%A9%C3%A9%C3%A9", ""}, // three characters, six bytes
		{"a=abcd", "Invalid parameter a: must be at most 3 characters (got 4)"},
		{"a=%ff", "Invalid parameter a: must be valid UTF-8"},
		{"a=%7f", "Invalid parameter a: must not contain control characters"},
		{"a=%c2%85", "Invalid parameter a: must not contain control characters"}, // NEL, a C1 control
		{"n=0", "Invalid parameter n: must be an integer from 1 to 1000"},
		{"n=", ""}, // empty: the default
		// Unknown parameters are ignored, whatever their value, and
		// reported by a name safe to show.
		{"_=1733000000000&a=1", "ignored: _"},
		{"a=1&zz=%ff%00&zz=2", "ignored: zz"},
		{"%ff=1", `ignored: "\xff"`},
		{strings.Repeat("x", 50) + "=1", `ignored: "` + strings.Repeat("x", 40) + `"`},
		{"_=1&a=abcd", "Invalid parameter a: must be at most 3 characters (got 4)"},
		// Phone numbers: a leading + is dropped before the length and the check.
		{"p=%2B841001", "p=841001"},
		{"p=841001", "p=841001"},
		{"p=%2B12345678901234567890", "p=12345678901234567890"},
		{"p=%2B", "Invalid parameter p: must be 2 to 20 digits, optionally after a +"},
		{"p=%2B%2B84", "Invalid parameter p: must be 2 to 20 digits, optionally after a +"},
		{"p=%2B123456789012345678901", "Invalid parameter p: must be at most 20 characters (got 21)"},
	} {
		p, err := parseParams(tc.query, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		ignored, err := p.validate(specs)
		switch {
		case err != nil:
			got = err.(*Error).Message
		case len(ignored) > 0:
			got = "ignored: " + strings.Join(ignored, ", ")
		case p.has("p"):
			got = "p=" + p.get("p")
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.query, got, tc.want)
		}
	}
}

// FuzzParseParams feeds arbitrary requests to the parser and the
// validator: neither may panic, every error must be a dialect *Error, and
// a parameter that passes validation is valid UTF-8 without control
// characters, within its length, under a known name.
func FuzzParseParams(f *testing.F) {
	f.Add("token=t&accid=a", "", []byte(nil))
	f.Add("", "application/x-www-form-urlencoded", []byte("accid=%E2%82%AC&password=x%00y"))
	f.Add("", "application/json", []byte(`{"accid":"a","phonenumber":84901234567,"x":[1],"y":{"z":null},"accid":true}`))
	f.Add("", "multipart/form-data; boundary=B", []byte("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--\r\n"))
	f.Add("a=1;b=2&%zz", "text/plain", []byte("\xff\xfe"))
	// What the document's clients send: jQuery's cache-buster, a submit
	// button, international phone numbers, e-mail alone.
	f.Add("_=1733912345678&phonenumber=%2B841001&user=alice&dcp=a.example.com", "", []byte(nil))
	f.Add("_=1", "application/x-www-form-urlencoded", []byte("email=a%40b.c&submit=Remove&phonenumber=%2B%2B84"))
	f.Add("", "application/json", []byte(`{"_":1733912345678,"phonenumber":"+","callback":"jQuery1_2"}`))
	all := map[string]spec{}
	for _, v := range verbs {
		for k, s := range v.allowed() {
			all[k] = s
		}
	}
	f.Fuzz(func(t *testing.T, query, ctype string, body []byte) {
		p, err := parseParams(query, ctype, body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code < 400 || e.Code > 499 {
				t.Fatalf("parse error %v is not a 4xx *Error", err)
			}
			return
		}
		if len(p.list) > maxParams || len(p.list) != len(p.byName) {
			t.Fatalf("%d params, %d names", len(p.list), len(p.byName))
		}
		ignored, err := p.validate(all)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != 400 || !utf8.ValidString(e.Field) || !utf8.ValidString(e.Message) {
				t.Fatalf("validate error %#v", err)
			}
			return
		}
		// Every unknown parameter is reported, by a name safe for a
		// response header; every known one passed its checks.
		unknown := 0
		for _, v := range p.list {
			s, ok := all[v.Name]
			if !ok {
				unknown++
				continue
			}
			if v.Problem != "" || !utf8.ValidString(v.Value) || utf8.RuneCountInString(v.Value) > s.max {
				t.Fatalf("accepted %+v", v)
			}
			if strings.IndexFunc(v.Value, unicode.IsControl) >= 0 {
				t.Fatalf("accepted a control character in %+v", v)
			}
		}
		if len(ignored) != unknown {
			t.Fatalf("%d unknown parameters, %d reported", unknown, len(ignored))
		}
		for _, name := range ignored {
			if strings.IndexFunc(name, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
				t.Fatalf("ignored name %q is not a valid header value", name)
			}
		}
	})
}

func TestParseTime(t *testing.T) {
	want := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, in := range []string{"2024-03-01T12:00:00Z", "2024-03-01T13:00:00+01:00", "2024-03-01 12:00:00", "1709294400"} {
		got, err := parseTime(in)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2024-03-01", "yesterday", "99999999999999999999", "2024-13-01 00:00:00", "1709294400.5"} {
		if _, err := parseTime(in); err == nil {
			t.Errorf("parseTime(%q) accepted", in)
		}
	}
}

func TestVerbName(t *testing.T) {
	for path, want := range map[string]string{
		"/user/create":          "user/create",
		"/user/create/":         "user/create",
		"/dcp/user/create":      "user/create",
		"/api/v2/cdr/list":      "cdr/list",
		"/list":                 "/list",
		"/":                     "",
		"":                      "",
		"user/create":           "user/create",
		"//phonenumber//remove": "/remove",
	} {
		if got := verbName(path); got != want {
			t.Errorf("verbName(%q) = %q, want %q", path, got, want)
		}
	}
}
