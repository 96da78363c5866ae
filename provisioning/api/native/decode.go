package native

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

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
// of the fields an operation accepts. It is strict (checkJSON): unknown
// fields, keys given twice or in another case, wrong types, null for a
// field that cannot be null, trailing data, invalid UTF-8 and lone
// surrogates are all refused, naming the field. Fields absent from body
// are left as they are in dst, which is what makes PATCH a partial update.
func decodeJSON(body []byte, dst any) error {
	t := reflect.TypeOf(dst).Elem()
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return badBody(codeMalformedBody, "", "a JSON object body is required")
	}
	if trimmed[0] != '{' {
		return badBody(codeMalformedBody, "", "the body must be a JSON object")
	}
	err := checkJSON(trimmed, shapeOf(t))
	if err != nil && !errors.Is(err, errJSONSyntax) {
		return err
	}
	if err == nil {
		resetPresent(trimmed, dst)
	}
	// checkJSON has refused every unknown field, so Unmarshal (which
	// cannot) is as strict as a Decoder with DisallowUnknownFields, and
	// does not copy the body.
	if uerr := json.Unmarshal(trimmed, dst); uerr != nil {
		return jsonError(uerr, t)
	}
	if err != nil { // checkJSON saw a syntax error that encoding/json did not: refuse rather than trust half a check
		return badBody(codeMalformedBody, "", "malformed JSON")
	}
	return nil
}

// resetPresent zeroes the fields of *dst that body sets, so that a field
// given in a PATCH replaces the stored value instead of being decoded
// over it: encoding/json reuses a slice's elements and a pointer's or a
// struct's fields, so a hunt group's members sent without ring_seconds
// would keep each old member's, and a destination sent without an id the
// old one. Absent fields keep their value (the partial update).
func resetPresent(body []byte, dst any) {
	var keys map[string]json.RawMessage
	if json.Unmarshal(body, &keys) != nil {
		return
	}
	v := reflect.ValueOf(dst).Elem()
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" {
			name = t.Field(i).Name
		}
		if _, ok := keys[name]; ok && v.Field(i).CanSet() {
			v.Field(i).SetZero()
		}
	}
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
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) && t.Kind() != reflect.Struct {
		return "a string" // money.Amount: a decimal string such as "0.0123"
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
