package cdr

import (
	"strings"
	"unicode/utf8"
)

// MendText returns s as every store can keep it: valid UTF-8 without NUL
// bytes, each invalid byte or NUL replaced by U+FFFD. A caller name in
// Latin-1 off a SIP header, or a torn spool line, must not make a record
// or dead letter unstorable (PostgreSQL refuses both in text columns).
func MendText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
