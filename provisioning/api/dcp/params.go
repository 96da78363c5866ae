package dcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// maxParams bounds how many parameters one request may carry. No verb takes
// more than nine; the bound keeps a body of a million empty fields cheap to
// refuse.
const maxParams = 64

// param is one parameter as the caller sent it. Problem is set when the
// value could not be taken as a string (a JSON object, array or bool, a
// repeated name); it is reported only after the token is checked, so that a
// caller without a valid token learns nothing but "Invalid token".
type param struct {
	Name    string
	Value   string
	Problem string
}

// params are a request's parameters from the query string and the body, in
// the order they were sent. A name may appear once.
type params struct {
	list   []param
	byName map[string]int
	n      int // occurrences, repeats included
}

func newParams() *params { return &params{byName: map[string]int{}} }

// add records a parameter; a repeated name marks the first occurrence as a
// problem rather than silently picking one of the values.
func (p *params) add(name, value, problem string) {
	p.n++
	if i, ok := p.byName[name]; ok {
		if p.list[i].Problem == "" {
			p.list[i].Problem = "is given more than once"
		}
		return
	}
	p.byName[name] = len(p.list)
	p.list = append(p.list, param{Name: name, Value: value, Problem: problem})
}

// lookup returns the parameter called name.
func (p *params) lookup(name string) (param, bool) {
	i, ok := p.byName[name]
	if !ok {
		return param{}, false
	}
	return p.list[i], true
}

// get returns a validated parameter's value; "" when absent.
func (p *params) get(name string) string {
	v, _ := p.lookup(name)
	return v.Value
}

// has reports whether name was sent at all, even with an empty value.
func (p *params) has(name string) bool {
	_, ok := p.byName[name]
	return ok
}

// parseRequest reads r's parameters. GET takes the query string only and
// never reads the body; POST merges the query string with the body, decoded
// by its Content-Type. Errors are *Error values (400, 413, 415).
func parseRequest(r *http.Request, limit int64) (*params, error) {
	if r.Method == http.MethodGet {
		return parseParams(r.URL.RawQuery, "", nil)
	}
	body, err := readBody(r, limit)
	if err != nil {
		return nil, err
	}
	return parseParams(r.URL.RawQuery, r.Header.Get("Content-Type"), body)
}

// parseParams decodes a query string and a body of the given Content-Type
// into params. It does no I/O, so tests and the fuzz target feed it
// strings directly.
func parseParams(rawQuery, contentType string, body []byte) (*params, error) {
	p := newParams()
	if err := addQuery(p, rawQuery, "query string"); err != nil {
		return nil, err
	}
	if len(body) == 0 && contentType == "" {
		return p, nil
	}
	mt, mp, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		return nil, &Error{Code: http.StatusUnsupportedMediaType,
			Message: "Unsupported Content-Type: use application/x-www-form-urlencoded, multipart/form-data or application/json"}
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		err = addQuery(p, string(body), "form body")
	case mt == "multipart/form-data":
		err = addMultipart(p, body, mp["boundary"])
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		err = addJSON(p, body)
	default:
		return nil, &Error{Code: http.StatusUnsupportedMediaType,
			Message: "Unsupported Content-Type " + strconv.Quote(mt) + ": use application/x-www-form-urlencoded, multipart/form-data or application/json"}
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

func malformed(what, reason string) error {
	return &Error{Code: http.StatusBadRequest, Message: "Invalid request: malformed " + what + ": " + reason}
}

var errTooMany = &Error{Code: http.StatusBadRequest, Message: "Invalid request: more than " + strconv.Itoa(maxParams) + " parameters"}

// addQuery adds the pairs of a URL-encoded string. url.ParseQuery is not
// used because it merges repeated names and loses their order.
func addQuery(p *params, s, what string) error {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			return malformed(what, "';' is not a separator")
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return malformed(what, "bad percent-encoding")
		}
		if p.n >= maxParams {
			return errTooMany
		}
		p.add(k, v, "")
	}
	return nil
}

// addMultipart adds the fields of a multipart/form-data body. File parts
// are refused: no verb takes a file.
func addMultipart(p *params, body []byte, boundary string) error {
	if boundary == "" {
		return malformed("multipart body", "no boundary in Content-Type")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return malformed("multipart body", "cannot read parts")
		}
		name := part.FormName()
		if name == "" {
			return malformed("multipart body", "a part has no name")
		}
		v, err := io.ReadAll(part)
		if err != nil {
			return malformed("multipart body", "cannot read parts")
		}
		if p.n >= maxParams {
			return errTooMany
		}
		problem := ""
		if part.FileName() != "" {
			problem = "must be a form field, not a file"
		}
		p.add(name, string(v), problem)
	}
}

// addJSON adds the members of a JSON object. Strings are taken as they
// are, numbers by their literal text (legacy clients send phone numbers as
// numbers, and 84901234567 must not turn into 8.4901234567e+10), null as
// an empty value. Objects, arrays and booleans are recorded as a
// problem naming the member.
func addJSON(p *params, body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		return malformed("JSON body", "not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return malformed("JSON body", "not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return malformed("JSON body", "must be an object of parameters")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed("JSON body", "not JSON")
		}
		name, _ := tok.(string) // object keys are always strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return malformed("JSON body", "not JSON")
		}
		if p.n >= maxParams {
			return errTooMany
		}
		raw = bytes.TrimSpace(raw)
		switch raw[0] {
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return malformed("JSON body", "not JSON")
			}
			p.add(name, s, "")
		case 'n': // null is an empty value
			p.add(name, "", "")
		case '{':
			p.add(name, "", "must be a string or a number, not a JSON object")
		case '[':
			p.add(name, "", "must be a string or a number, not a JSON array")
		case 't', 'f':
			p.add(name, "", "must be a string or a number, not a JSON boolean")
		default: // a number
			p.add(name, string(raw), "")
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return malformed("JSON body", "not JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return malformed("JSON body", "data after the object")
	}
	return nil
}

// spec describes one parameter a verb accepts: its longest value (in
// characters), an optional rewrite into the form the model stores
// (normalize, applied before the length and the check) and an optional
// check of its form.
type spec struct {
	max       int
	normalize func(v string) string
	check     func(v string) string // returns a reason, or ""
}

// paramName shows a parameter name in a message: as it is when it is a
// plain name, quoted (and cut short) otherwise, so that a hostile name
// cannot put control characters or invalid UTF-8 in a response.
func paramName(name string) string {
	if plainName.MatchString(name) {
		return name
	}
	if len(name) > 40 {
		name = name[:40]
	}
	return strconv.QuoteToASCII(name)
}

var plainName = regexp.MustCompile(`^[A-Za-z0-9_.\[\]-]{1,40}$`)

// validate checks the parameters the verb knows against its specs:
// values that were not strings, invalid UTF-8, control characters,
// over-long values and values of the wrong form are refused with a 400
// naming the parameter, in the order the parameters were sent. Parameters
// the verb does not know are ignored, whatever their value, as the web
// APIs the dialect comes from did (jQuery's "_" cache-buster, a form's
// submit button, a field of another verb): they are returned, by name as
// paramName shows it, for the X-Ignored-Parameters header. Known values
// are normalised in place.
func (p *params) validate(specs map[string]spec) (ignored []string, err error) {
	for i := range p.list {
		v := &p.list[i]
		s, ok := specs[v.Name]
		if !ok {
			ignored = append(ignored, paramName(v.Name))
			continue
		}
		if v.Problem != "" {
			return nil, badParam(v.Name, "%s", v.Problem)
		}
		if !utf8.ValidString(v.Value) {
			return nil, badParam(v.Name, "must be valid UTF-8")
		}
		for _, r := range v.Value {
			if unicode.IsControl(r) {
				return nil, badParam(v.Name, "must not contain control characters")
			}
		}
		if s.normalize != nil {
			v.Value = s.normalize(v.Value)
		}
		if n := utf8.RuneCountInString(v.Value); n > s.max {
			return nil, badParam(v.Name, "must be at most %d characters (got %d)", s.max, n)
		}
		if s.check != nil && v.Value != "" {
			if reason := s.check(v.Value); reason != "" {
				return nil, badParam(v.Name, "%s", reason)
			}
		}
	}
	return ignored, nil
}

// readBody reads the body within limit, mapping an over-long one to 413.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := api.ReadBody(r, limit)
	if err != nil {
		if errors.Is(err, api.ErrBodyTooLarge) {
			return nil, &Error{Code: http.StatusRequestEntityTooLarge,
				Message: "Request body too large: at most " + strconv.FormatInt(limit, 10) + " bytes"}
		}
		return nil, malformed("body", "cannot read it")
	}
	return b, nil
}
