package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// readBody checks the Content-Type of a request with a body and reads the
// body within the size limit.
func (s *server) readBody(r *http.Request) ([]byte, error) {
	return readJSONBody(r, s.d.BodyLimit())
}

// readJSONBody is readBody with an explicit limit, for the routes whose
// bodies are larger than any provisioning request (CDR submissions).
func readJSONBody(r *http.Request, limit int64) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
		return nil, &apiError{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
			Message: "Content-Type must be application/json"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, &apiError{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
			Message: "the body must be UTF-8 (charset=utf-8)"}
	}
	body, err := api.ReadBody(r, limit)
	if err != nil {
		return nil, err
	}
	return body, nil
}

// decodeJSON decodes body, a JSON object, into dst, a pointer to a struct
// of the fields an operation accepts. It is strict: unknown fields, wrong
// types, null for a field that cannot be null, trailing data and invalid
// UTF-8 are all refused, naming the field when there is one. Fields absent
// from body are left as they are in dst, which is what makes PATCH a
// partial update.
func decodeJSON(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return badBody(codeMalformedBody, "", "a JSON object body is required")
	}
	if !utf8.Valid(body) {
		field := invalidUTF8Field(body)
		return badBody(codeMalformedBody, field, "must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err, reflect.TypeOf(dst).Elem())
	}
	if _, err := dec.Token(); err != io.EOF {
		return badBody(codeMalformedBody, "", "unexpected data after the JSON object")
	}
	if trimmed[0] != '{' {
		return badBody(codeMalformedBody, "", "the body must be a JSON object")
	}
	return checkNulls(body, reflect.TypeOf(dst).Elem())
}

// jsonError turns an encoding/json error into the envelope.
func jsonError(err error, t reflect.Type) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return badBody(codeMalformedBody, "", "malformed JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badBody(codeMalformedBody, "", "malformed JSON: unexpected end of the body")
	case errors.As(err, &te):
		if te.Field == "" {
			return badBody(codeMalformedBody, "", "the body must be a JSON object (got %s)", te.Value)
		}
		return badBody(codeInvalid, te.Field, "must be %s (got %s)", describeType(te.Type), te.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, uerr := strconv.Unquote(name); uerr == nil {
			name = n
		}
		return badBody(codeUnknownField, name, "unknown or read-only field; accepted fields: %s", strings.Join(jsonFields(t), ", "))
	}
	return badBody(codeMalformedBody, "", "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// describeType names a Go type the way a JSON caller thinks of it.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// invalidUTF8Field returns the first top-level field whose value holds
// invalid UTF-8, or "".
func invalidUTF8Field(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return ""
		}
		if !utf8.Valid(raw) {
			return key
		}
	}
	return ""
}

// checkNulls refuses null for fields that are not nullable (pointers):
// encoding/json would silently ignore it, and a caller sending
// {"name": null} means something it would not get.
func checkNulls(body []byte, t reflect.Type) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return badBody(codeMalformedBody, "", "the body must be a JSON object")
	}
	for _, f := range reflect.VisibleFields(t) {
		name, ok := jsonName(f)
		if !ok || f.Type.Kind() == reflect.Pointer {
			continue
		}
		for k, v := range m {
			if strings.EqualFold(k, name) && string(bytes.TrimSpace(v)) == "null" {
				return badBody(codeInvalid, name, "must not be null")
			}
		}
	}
	return nil
}

// jsonName returns the JSON name of a struct field, false when the field is
// not marshalled.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() || f.Anonymous {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, true
}

// jsonFields lists the JSON names of t's fields, for error messages.
func jsonFields(t reflect.Type) []string {
	var out []string
	for _, f := range reflect.VisibleFields(t) {
		if name, ok := jsonName(f); ok {
			out = append(out, name)
		}
	}
	return out
}
