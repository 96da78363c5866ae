package presence

import (
	"encoding/base64"
	"encoding/binary"
)

// regKey is the sort key of a registration: the position a cursor names.
type regKey struct {
	Domain, User, Contact, Switch string
}

// encodeCursor returns the opaque cursor naming r's key: its four fields,
// each prefixed by its length, in URL-safe base64. It is opaque to clients
// and safe in a query string.
func encodeCursor(r *Registration) string {
	fields := [4]string{r.Domain, r.User, r.Contact, r.Switch}
	n := 0
	for _, f := range fields {
		n += len(f) + binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses a cursor made by encodeCursor. Cursors come from
// clients, so anything else is reported, never trusted.
func decodeCursor(s string) (regKey, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return regKey{}, false
	}
	var fields [4]string
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return regKey{}, false
		}
		fields[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return regKey{}, false
	}
	return regKey{Domain: fields[0], User: fields[1], Contact: fields[2], Switch: fields[3]}, true
}

// ValidCursor reports whether after is "" or a cursor Registrations could
// have returned, so that an API can answer 400 to a mangled one instead of
// an empty page.
func ValidCursor(after string) bool {
	if after == "" {
		return true
	}
	_, ok := decodeCursor(after)
	return ok
}
