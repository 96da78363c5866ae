package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// recordField is a field of cdr.Record as a submission names it.
type recordField struct {
	name  string
	index int
	typ   reflect.Type
}

// recordFields are the fields of a submission, in the struct's order.
var recordFields = func() []recordField {
	var out []recordField
	t := reflect.TypeFor[cdr.Record]()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name, ok := jsonName(f); ok {
			out = append(out, recordField{name: name, index: i, typ: f.Type})
		}
	}
	return out
}()

func recordFieldNames() string {
	names := make([]string, len(recordFields))
	for i, f := range recordFields {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// decodeCDRs decodes a submission: one CDR object or an array of at most
// maxCDRsPerPost. It is as strict as decodeJSON and names the culprit of
// a refusal as [index].field (field alone for a single object): unknown
// fields, keys given twice or in another case (also inside raw), wrong
// types, times that are not RFC 3339, null for a field that cannot be
// null, invalid UTF-8, and records validateCDR refuses. It returns every record
// or an error, never some of them. An id is accepted and dropped (the
// store assigns ids), so that a cdr.Record marshalled by a Go client, or
// a CDR read from this API, can be sent as it is.
func decodeCDRs(body []byte) ([]cdr.Record, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, badBody(codeMalformedBody, "", "a CDR object or an array of CDRs is required")
	}
	// Keys given twice or in another case, invalid text and nulls are
	// refused here, at every depth (raw included), naming the culprit;
	// syntax errors are left to the decoder below.
	sh := shapeOf(reflect.TypeFor[cdr.Record]())
	if trimmed[0] == '[' {
		sh = shapeOf(reflect.TypeFor[[]cdr.Record]())
	}
	if err := checkJSON(trimmed, sh); err != nil && !errors.Is(err, errJSONSyntax) {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	var recs []cdr.Record
	switch trimmed[0] {
	case '{':
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonError(err, reflect.TypeFor[cdr.Record]())
		}
		rec, err := decodeCDR(raw, "")
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	case '[':
		if _, err := dec.Token(); err != nil {
			return nil, jsonError(err, reflect.TypeFor[cdr.Record]())
		}
		for i := 0; dec.More(); i++ {
			if i == maxCDRsPerPost {
				return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeBodyTooLarge,
					Message: fmt.Sprintf("at most %d CDRs per request", maxCDRsPerPost)}
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, jsonError(err, reflect.TypeFor[cdr.Record]())
			}
			rec, err := decodeCDR(raw, fmt.Sprintf("[%d]", i))
			if err != nil {
				return nil, err
			}
			recs = append(recs, rec)
		}
		if _, err := dec.Token(); err != nil { // the closing ]
			return nil, badBody(codeMalformedBody, "", "malformed JSON: the array is not closed")
		}
	default:
		return nil, badBody(codeMalformedBody, "", "the body must be a CDR object or an array of CDRs")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badBody(codeMalformedBody, "", "unexpected data after the JSON value")
	}
	return recs, nil
}

// decodeCDR decodes one CDR object, field by field so that an error names
// its field (encoding/json does not say which field a bad time was in).
// at prefixes the field names of errors: "[3]" or "".
func decodeCDR(raw json.RawMessage, at string) (cdr.Record, error) {
	field := func(name string) string {
		switch {
		case at == "":
			return name
		case name == "":
			return at
		}
		return at + "." + name
	}
	var fields map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return cdr.Record{}, badBody(codeMalformedBody, field(""), "must be a CDR object")
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names) // the same error for the same body
	for _, k := range names {
		if !slices.ContainsFunc(recordFields, func(f recordField) bool { return f.name == k }) {
			return cdr.Record{}, badBody(codeUnknownField, field(k), "unknown field; accepted fields: %s", recordFieldNames())
		}
	}
	var rec cdr.Record
	v := reflect.ValueOf(&rec).Elem()
	for _, f := range recordFields {
		val, ok := fields[f.name]
		if !ok {
			continue
		}
		if string(val) == "null" {
			if f.typ.Kind() == reflect.Pointer || f.typ == rawMessageType {
				continue // none
			}
			return cdr.Record{}, badBody(codeInvalid, field(f.name), "must not be null")
		}
		if err := json.Unmarshal(val, v.Field(f.index).Addr().Interface()); err != nil {
			what := describeType(f.typ)
			if f.typ == reflect.TypeFor[time.Time]() || f.typ == reflect.TypeFor[*time.Time]() {
				what = "an RFC 3339 time such as \"2025-03-14T15:09:26Z\""
			}
			return cdr.Record{}, badBody(codeInvalid, field(f.name), "must be %s", what)
		}
	}
	rec.ID = 0
	if name, msg := validateCDR(&rec); msg != "" {
		return cdr.Record{}, badBody(codeInvalid, field(name), "%s", msg)
	}
	return rec, nil
}

// validateCDR checks a record with cdr.Record.Validate, the pipeline's
// own rule set, and the direction, which Validate leaves free. It returns
// the JSON name of the field at fault and the reason, or "".
func validateCDR(r *cdr.Record) (field, msg string) {
	if err := r.Validate(); err != nil {
		// Validate's errors read "cdr: invalid record: <field>: <reason>".
		rest := strings.TrimPrefix(err.Error(), cdr.ErrInvalidRecord.Error()+": ")
		if name, reason, ok := strings.Cut(rest, ": "); ok && slices.ContainsFunc(recordFields, func(f recordField) bool { return f.name == name }) {
			return name, reason
		}
		return "", rest
	}
	if r.Direction != "" && !slices.Contains(directions, r.Direction) {
		return "direction", "must be inbound, outbound, internal or empty"
	}
	return "", ""
}
