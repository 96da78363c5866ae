package api

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 42, 1 << 40} {
		got, err := DecodeCursor(EncodeCursor(id))
		if err != nil || got != id {
			t.Errorf("DecodeCursor(EncodeCursor(%d)) = %d, %v", id, got, err)
		}
	}
	if EncodeCursor(0) != "" {
		t.Error("EncodeCursor(0) is not the first page")
	}
	for _, bad := range []string{"x", "aWQ6LTE", "aWQ6YQ", "%%%", "Y2RyOjE6Mg"} { // junk, id:-1, id:a, non-base64, a CDR cursor
		if _, err := DecodeCursor(bad); err == nil {
			t.Errorf("DecodeCursor(%q) accepted", bad)
		}
	}
	c := &cdr.Cursor{End: time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC), ID: 7}
	got, err := DecodeCDRCursor(EncodeCDRCursor(c))
	if err != nil || !got.End.Equal(c.End) || got.ID != c.ID {
		t.Errorf("CDR cursor round trip = %+v, %v", got, err)
	}
	if _, err := DecodeCDRCursor(EncodeCursor(5)); err == nil {
		t.Error("an ID cursor was accepted as a CDR cursor")
	}
}

func TestKeyCursorRoundTrip(t *testing.T) {
	for _, key := range [][]string{{"gateway", "gw-1"}, {"contact", "1001@a.example sip:1001@10.0.0.1:5060;ob"}, {"", ""}} {
		got, err := DecodeKeyCursor(EncodeKeyCursor(key...), 2)
		if err != nil || len(got) != 2 || got[0] != key[0] || got[1] != key[1] {
			t.Errorf("DecodeKeyCursor(EncodeKeyCursor(%q)) = %q, %v", key, got, err)
		}
	}
	if got, err := DecodeKeyCursor("", 2); got != nil || err != nil {
		t.Errorf(`DecodeKeyCursor("") = %q, %v, want the first page`, got, err)
	}
	for _, bad := range []string{"x", "%%%", EncodeCursor(5), EncodeKeyCursor("one"), EncodeKeyCursor("a", "b", "c")} {
		if _, err := DecodeKeyCursor(bad, 2); err == nil {
			t.Errorf("DecodeKeyCursor(%q) accepted", bad)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{"", EncodeCursor(9), EncodeCDRCursor(&cdr.Cursor{End: time.Unix(1, 0), ID: 3}), "aWQ6", "\xff", EncodeKeyCursor("gateway", "gw")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if parts, err := DecodeKeyCursor(s, 2); err == nil && s != "" {
			again, err := DecodeKeyCursor(EncodeKeyCursor(parts...), 2)
			if err != nil || again[0] != parts[0] || again[1] != parts[1] {
				t.Errorf("decoded %q to %q which does not round-trip: %q, %v", s, parts, again, err)
			}
		}
		if id, err := DecodeCursor(s); err == nil && id > 0 && EncodeCursor(id) == "" {
			t.Errorf("decoded %q to %d which does not encode back", s, id)
		}
		if c, err := DecodeCDRCursor(s); err == nil && s != "" && c == nil {
			t.Errorf("decoded %q to a nil cursor without an error", s)
		}
	})
}

func TestReadBody(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		length  int64 // -1: unknown (chunked)
		wantErr error
	}{
		{"small", "hello", 5, nil},
		{"at the limit", strings.Repeat("a", 16), 16, nil},
		{"declared too large", strings.Repeat("a", 17), 17, ErrBodyTooLarge},
		{"streamed too large", strings.Repeat("a", 10<<20), -1, ErrBodyTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", bytes.NewBufferString(tc.body))
			r.ContentLength = tc.length
			b, err := ReadBody(r, 16)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && string(b) != tc.body {
				t.Errorf("body = %q", b)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "": "", "Bearer": ""} {
		r := httptest.NewRequest("GET", "/", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		if got := BearerToken(r); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", h, got, want)
		}
	}
}
