package provisioning_test

import (
	"errors"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// HiddenRune finds what a reader would not see, and lets through what
// real names in real scripts need.
func TestHiddenRune(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		r    rune // 0: accepted
		at   int
	}{
		{"plain", "Acme Corp", 0, 0},
		{"accents", "Émilie Müller-Łukasiewicz", 0, 0},
		{"CJK", "株式会社 テスト", 0, 0},
		{"Arabic", "شركة الاتصالات", 0, 0},
		{"Hebrew with digits", "חברה 123", 0, 0},
		{"emoji with variation selector", "Support ☎️", 0, 0},
		{"emoji ZWJ sequence", "Team 👩\u200d💻", 0, 0},
		{"Persian ZWNJ", "می\u200cخواهم", 0, 0},
		{"Devanagari ZWJ", "क्\u200dष", 0, 0},
		{"empty", "", 0, 0},

		{"NUL", "a\x00b", 0, 2},
		{"newline", "a\nb", '\n', 2},
		{"escape", "\x1b[31mred", 0x1b, 1},
		{"DEL", "a\x7f", 0x7f, 2},
		{"C1 control", "a\u0085b", 0x85, 2},
		{"line separator", "a\u2028b", 0x2028, 2},
		{"paragraph separator", "a\u2029b", 0x2029, 2},
		{"RLO", "invoice\u202Etxt.exe", 0x202E, 8},
		{"LRO", "\u202Dabc", 0x202D, 1},
		{"RLE", "a\u202Bb", 0x202B, 2},
		{"LRE", "a\u202Ab", 0x202A, 2},
		{"PDF", "a\u202Cb", 0x202C, 2},
		{"RLI", "a\u2067b", 0x2067, 2},
		{"LRI", "a\u2066b", 0x2066, 2},
		{"FSI", "a\u2068b", 0x2068, 2},
		{"PDI", "a\u2069b", 0x2069, 2},
		{"LRM", "a\u200Eb", 0x200E, 2},
		{"RLM", "a\u200Fb", 0x200F, 2},
		{"Arabic letter mark", "a\u061Cb", 0x061C, 2},
		{"zero-width space", "ad\u200Bmin", 0x200B, 3},
		{"word joiner", "ad\u2060min", 0x2060, 3},
		{"BOM", "\uFEFFname", 0xFEFF, 1},
		{"soft hyphen", "ad\u00ADmin", 0xAD, 3},
		{"Mongolian vowel separator", "a\u180Eb", 0x180E, 2},
		{"tag character", "a\U000E0041b", 0xE0041, 2},
		{"Hangul filler", "\u3164", 0x3164, 1},
		{"halfwidth Hangul filler", "a\uFFA0", 0xFFA0, 2},
		{"combining grapheme joiner", "a\u034Fb", 0x034F, 2},
		{"ZWJ at the start", "\u200dabc", 0x200D, 1},
		{"ZWJ at the end", "abc\u200d", 0x200D, 4},
		{"ZWNJ alone", "\u200c", 0x200C, 1},
		{"ZWJ doubled", "a\u200d\u200db", 0x200D, 2},
		{"ZWJ before a space", "a\u200d b", 0x200D, 2},
		{"ZWJ after a space", "a \u200db", 0x200D, 3},
		{"ZWJ next to a bidi control", "a\u200d\u202Eb", 0x200D, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, at, found := provisioning.HiddenRune(c.in)
			if c.at == 0 {
				if found {
					t.Fatalf("HiddenRune(%q) = %U at %d, want none", c.in, r, at)
				}
				return
			}
			if !found || at != c.at || c.r != 0 && r != c.r {
				t.Fatalf("HiddenRune(%q) = %U at %d (%v), want %U at %d", c.in, r, at, found, c.r, c.at)
			}
		})
	}
}

// Every human-visible text field of every kind refuses hidden
// characters, whatever dialect the object comes through, naming the
// field.
func TestValidateRefusesHiddenCharacters(t *testing.T) {
	const rlo = "evil\u202Egnp.exe"
	for _, c := range []struct {
		name  string
		v     interface{ Validate() error }
		field string
	}{
		{"tenant name", &provisioning.Tenant{Name: rlo}, "name"},
		{"domain description", &provisioning.Domain{TenantID: 1, Name: "a.example", Description: rlo}, "description"},
		{"user first name", &provisioning.User{TenantID: 1, Login: "bob", Role: provisioning.RoleUser, PasswordHash: "x", FirstName: rlo}, "first_name"},
		{"user last name", &provisioning.User{TenantID: 1, Login: "bob", Role: provisioning.RoleUser, PasswordHash: "x", LastName: "a\u200bb"}, "last_name"},
		{"user email", &provisioning.User{TenantID: 1, Login: "bob", Role: provisioning.RoleUser, PasswordHash: "x", Email: "bob\u202E@example.com"}, "email"},
		{"account caller-ID name", &provisioning.Account{DomainID: 1, Username: "1001", Secret: "good-secret", CallerIDName: rlo}, "caller_id_name"},
		{"account description", &provisioning.Account{DomainID: 1, Username: "1001", Secret: "good-secret", Description: "\uFEFFdesk"}, "description"},
		{"gateway description", &provisioning.Gateway{Name: "gw", Host: "gw.example", Description: rlo}, "description"},
		{"DID description", &provisioning.DID{TenantID: 1, Number: "+15551234567", Description: "line\u2028two"}, "description"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.v.Validate()
			var fe *provisioning.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, provisioning.ErrInvalid) || fe.Field != c.field {
				t.Fatalf("Validate() = %v, want an invalid %s", err, c.field)
			}
		})
	}
	// The same objects with visible text are valid: the refusal is the
	// character's, not the fixture's.
	for _, v := range []interface{ Validate() error }{
		&provisioning.Tenant{Name: "Acme 👩\u200d💻"},
		&provisioning.Account{DomainID: 1, Username: "1001", Secret: "good-secret", CallerIDName: "می\u200cخواهم"},
		&provisioning.DID{TenantID: 1, Number: "+15551234567", Description: "front desk"},
	} {
		if err := v.Validate(); err != nil {
			t.Errorf("%+v: %v", v, err)
		}
	}
}
