package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// checkJSON is the strict half of decoding. encoding/json is lenient where
// an API must not be: it keeps the last of duplicate keys, matches keys to
// fields case-insensitively ("NAME" sets name), leaves a field as it was
// on null, and replaces invalid UTF-8 and lone UTF-16 surrogates with
// U+FFFD. Any of these lets two parties read one body differently (a proxy
// or an audit log sees the first "role", the API the last). checkJSON
// refuses them all, at every depth, before encoding/json decodes, and
// names the culprit ("name", "[3].raw.a"). It reports the first problem
// in document order.
//
// A valid body costs one pass over its bytes and no allocation
// (TestCheckJSONAllocates); a refused one a second pass that keeps track
// of the path, to name the culprit. Syntax errors are left to
// encoding/json, which describes them better: checkJSON returns
// errJSONSyntax and the caller decodes to get the message.
func checkJSON(data []byte, sh *shape) error {
	s := jsonScanner{data: data}
	err := s.value(sh)
	if errors.Is(err, errNeedPath) {
		// Again, keeping track of where it is, to name the culprit.
		s = jsonScanner{data: data, track: true}
		err = s.value(sh)
	}
	if err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return badBody(codeMalformedBody, "", "unexpected data after the JSON value")
	}
	return nil
}

var (
	// errJSONSyntax reports that checkJSON met a syntax error.
	errJSONSyntax = errors.New("native: JSON syntax error")
	// errNeedPath is a refusal found without track: the scan is run
	// again to name its field.
	errNeedPath = errors.New("native: JSON refused, path not tracked")
)

// maxJSONDepth bounds the nesting of objects and arrays. No body of this
// API nests beyond a few levels; a raw CDR of a switch, a dozen.
const maxJSONDepth = 1000

// shape is what checkJSON knows of the Go type a JSON value decodes into.
type shape struct {
	kind shapeKind
	// nullable: null is a value (a pointer, an interface, a raw JSON
	// value). Elsewhere encoding/json would ignore it, and a caller who
	// sends {"name": null} would not get what it means.
	nullable bool
	fields   *fieldSet // kind objectShape
	elem     *shape    // kind mapShape, listShape
}

// fieldSet is a struct's fields. It is shared by the shapes of T and *T,
// which may be built while T's fields are (recursive types).
type fieldSet struct {
	byName map[string]field // by their exact JSON names
	names  []string         // in struct order, for messages
}

type field struct {
	index int // in names
	shape *shape
}

type shapeKind uint8

const (
	anyShape    shapeKind = iota // a scalar, or free-form JSON: keys are only checked for duplicates
	objectShape                  // a struct: keys must be its fields, exactly
	mapShape                     // a map: any keys, values of elem's shape
	listShape                    // a slice or array of elem's shape
)

var (
	freeForm = &shape{kind: anyShape, nullable: true}
	shapes   sync.Map // reflect.Type → *shape
)

// shapeOf returns the shape of t, computed once per type.
func shapeOf(t reflect.Type) *shape {
	if sh, ok := shapes.Load(t); ok {
		return sh.(*shape)
	}
	sh := buildShape(t, map[reflect.Type]*shape{})
	shapes.Store(t, sh)
	return sh
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// buildShape follows encoding/json's rules: pointers are nullable, types
// with their own UnmarshalJSON (time.Time, json.RawMessage) decode any
// JSON value, []byte is a base64 string. seen breaks recursive types.
func buildShape(t reflect.Type, seen map[reflect.Type]*shape) *shape {
	if t.Kind() == reflect.Pointer {
		sh := *buildShape(t.Elem(), seen)
		sh.nullable = true
		return &sh
	}
	if sh, ok := seen[t]; ok {
		return sh
	}
	sh := &shape{kind: anyShape}
	seen[t] = sh
	switch {
	case t == rawMessageType:
		sh.nullable = true // null is the same as absent
	case t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType):
	case t.Kind() == reflect.Interface:
		sh.nullable = true
	case t.Kind() == reflect.Struct:
		sh.kind, sh.fields = objectShape, &fieldSet{byName: map[string]field{}}
		for _, f := range reflect.VisibleFields(t) {
			name, ok := jsonName(f)
			if !ok || len(f.Index) > 1 && shadowed(t, f) {
				continue
			}
			sh.fields.byName[name] = field{index: len(sh.fields.names), shape: buildShape(f.Type, seen)}
			sh.fields.names = append(sh.fields.names, name)
		}
	case t.Kind() == reflect.Map:
		sh.kind, sh.elem = mapShape, buildShape(t.Elem(), seen)
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() != reflect.Uint8:
		sh.kind, sh.elem = listShape, buildShape(t.Elem(), seen)
	}
	return sh
}

// jsonScanner walks one JSON document.
type jsonScanner struct {
	data  []byte
	pos   int
	depth int
	// track keeps path, where the scanner is: object keys (raw, as in
	// the body) and array indexes. A valid body is scanned without it,
	// which costs nothing; a refused one again with it (errNeedPath).
	track bool
	path  []pathStep
}

type pathStep struct {
	key     []byte // nil for an array element
	escaped bool   // key holds escapes
	index   int
}

func (s *jsonScanner) push(st pathStep) {
	if s.track {
		s.path = append(s.path, st)
	}
}

func (s *jsonScanner) pop() {
	if s.track {
		s.path = s.path[:len(s.path)-1]
	}
}

// fail is a 400 naming the current path, or errNeedPath without track.
func (s *jsonScanner) fail(code, format string, args ...any) error {
	if !s.track {
		return errNeedPath
	}
	var b strings.Builder
	for _, st := range s.path {
		if st.key == nil {
			b.WriteString("[" + strconv.Itoa(st.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(unescapeKey(st.key, st.escaped))
	}
	return badBody(code, b.String(), format, args...)
}

func (s *jsonScanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value checks the value at s.pos, which decodes into sh.
func (s *jsonScanner) value(sh *shape) error {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return errJSONSyntax
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(sh)
	case c == '[':
		return s.array(sh)
	case c == '"':
		_, _, err := s.str()
		if p, ok := err.(badString); ok {
			return s.fail(codeMalformedBody, "%s", p)
		}
		return err
	case c == 'n':
		if !s.literal("null") {
			return errJSONSyntax
		}
		if !sh.nullable {
			return s.fail(codeInvalid, "must not be null")
		}
		return nil
	case c == 't':
		return s.expect(s.literal("true"))
	case c == 'f':
		return s.expect(s.literal("false"))
	case c == '-' || c >= '0' && c <= '9':
		return s.expect(s.number())
	}
	return errJSONSyntax
}

func (s *jsonScanner) expect(ok bool) error {
	if !ok {
		return errJSONSyntax
	}
	return nil
}

func (s *jsonScanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return false
	}
	s.pos += len(lit)
	return true
}

// number scans -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?.
func (s *jsonScanner) number() bool {
	if s.data[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case !s.digits():
		return false
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if !s.digits() {
			return false
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits scans one or more decimal digits.
func (s *jsonScanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

func (s *jsonScanner) enter() error {
	s.depth++
	if s.depth > maxJSONDepth {
		return s.fail(codeMalformedBody, "nested deeper than %d levels", maxJSONDepth)
	}
	return nil
}

func (s *jsonScanner) object(sh *shape) error {
	if empty, err := s.open('}'); empty || err != nil {
		return err
	}
	var (
		seen       keySet // the keys so far
		seenFields uint64 // of a struct, the first 64 fields so far, by index
	)
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return errJSONSyntax
		}
		raw, escaped, err := s.str()
		if p, ok := err.(badString); ok {
			return s.fail(codeMalformedBody, "a key %s", p)
		} else if err != nil {
			return err
		}
		s.push(pathStep{key: raw, escaped: escaped})
		key := raw
		if escaped {
			key = []byte(unescapeKey(raw, true))
		}
		child, dup := freeForm, false
		switch sh.kind {
		case objectShape:
			f, ok := sh.fields.byName[string(key)]
			if !ok {
				return s.unknownField(sh, string(key))
			}
			if f.index < 64 {
				dup = seenFields&(1<<f.index) != 0
				seenFields |= 1 << f.index
			} else {
				dup = seen.add(key)
			}
			child = f.shape
		case mapShape:
			child, dup = sh.elem, seen.add(key)
		default:
			dup = seen.add(key)
		}
		if dup {
			return s.fail(codeMalformedBody, "given more than once; each key may appear once")
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return errJSONSyntax
		}
		s.pos++
		if err := s.value(child); err != nil {
			return err
		}
		s.pop()
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

// unknownField refuses key, which is not a field of sh. A key that is a
// field but for its case gets a hint: encoding/json would have taken it.
func (s *jsonScanner) unknownField(sh *shape, key string) error {
	for _, name := range sh.fields.names {
		if strings.EqualFold(name, key) {
			return s.fail(codeUnknownField, "unknown field: field names are case-sensitive; did you mean %q?", name)
		}
	}
	return s.fail(codeUnknownField, "unknown or read-only field; accepted fields: %s", strings.Join(sh.fields.names, ", "))
}

func (s *jsonScanner) array(sh *shape) error {
	if empty, err := s.open(']'); empty || err != nil {
		return err
	}
	elem := freeForm
	if sh.kind == listShape {
		elem = sh.elem
	}
	for i := 0; ; i++ {
		s.push(pathStep{index: i})
		if err := s.value(elem); err != nil {
			return err
		}
		s.pop()
		if done, err := s.next(']'); done || err != nil {
			return err
		}
	}
}

// open enters the object or array at s.pos, whose closing byte is end,
// and reports whether it is empty (and so already left).
func (s *jsonScanner) open(end byte) (empty bool, err error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	s.pos++ // { or [
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == end {
		s.pos++
		s.depth--
		return true, nil
	}
	return false, nil
}

// next scans what follows a member or element: a comma, or end, which
// closes the object or array (done).
func (s *jsonScanner) next(end byte) (done bool, err error) {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return false, errJSONSyntax
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return false, nil
	case end:
		s.pos++
		s.depth--
		return true, nil
	}
	return false, errJSONSyntax
}

// badString is what is wrong with a string that is valid JSON syntax but
// not valid text; the caller says whose string it is.
type badString string

func (b badString) Error() string { return string(b) }

// str scans the string at s.pos and returns its content as written
// (between the quotes) and whether it holds escapes. It refuses invalid
// UTF-8 and escapes of lone UTF-16 surrogates, which encoding/json would
// silently turn into U+FFFD, with a badString.
func (s *jsonScanner) str() (raw []byte, escaped bool, err error) {
	s.pos++ // "
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return s.data[start : s.pos-1], escaped, nil
		case c == '\\':
			escaped = true
			if err := s.escape(); err != nil {
				return nil, false, err
			}
		case c < 0x20:
			return nil, false, errJSONSyntax
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, badString("must be valid UTF-8")
			}
			s.pos += size
		}
	}
	return nil, false, errJSONSyntax
}

// escape scans the escape sequence at s.pos (the backslash).
func (s *jsonScanner) escape() error {
	s.pos++
	if s.pos >= len(s.data) {
		return errJSONSyntax
	}
	switch s.data[s.pos] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.pos++
		return nil
	case 'u':
	default:
		return errJSONSyntax
	}
	r, ok := hex4(s.data[s.pos+1:])
	if !ok {
		return errJSONSyntax
	}
	s.pos += 5
	if !utf16.IsSurrogate(r) {
		return nil
	}
	if r < 0xdc00 && bytes.HasPrefix(s.data[s.pos:], []byte(`\u`)) {
		if lo, ok := hex4(s.data[s.pos+2:]); ok && lo >= 0xdc00 && lo <= 0xdfff {
			s.pos += 6
			return nil
		}
	}
	return badString(fmt.Sprintf("must be valid Unicode: \\u%04X is half of a UTF-16 surrogate pair", r))
}

// hex4 decodes the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescapeKey returns the key a raw key stands for. str has validated it.
func unescapeKey(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	var k string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k); err != nil {
		return string(raw)
	}
	return k
}

// keySet is the keys of one object so far. Objects of this API are small:
// up to eight keys are compared in place, more go to a map, so that a
// body of a hundred thousand keys is not quadratic.
type keySet struct {
	small [8][]byte
	n     int
	big   map[string]struct{}
}

// add adds key and reports whether it was already there.
func (k *keySet) add(key []byte) (dup bool) {
	if k.big != nil {
		if _, ok := k.big[string(key)]; ok {
			return true
		}
		k.big[string(key)] = struct{}{}
		return false
	}
	for _, old := range k.small[:k.n] {
		if bytes.Equal(old, key) {
			return true
		}
	}
	if k.n < len(k.small) {
		k.small[k.n] = key
		k.n++
		return false
	}
	k.big = make(map[string]struct{}, 2*len(k.small))
	for _, old := range k.small {
		k.big[string(old)] = struct{}{}
	}
	k.big[string(key)] = struct{}{}
	return false
}
