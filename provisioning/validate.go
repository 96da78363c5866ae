package provisioning

import (
	"net"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field limits. They are part of the API contract and are documented in the
// README; changing one is a breaking change.
const (
	MaxNameLen        = 100 // tenant names, first/last names, caller-ID names
	MaxDescriptionLen = 255
	MaxLoginLen       = 64
	MaxEmailLen       = 254
	MinPasswordLen    = 6
	MaxPasswordLen    = 128
	MinSecretLen      = 4
	MaxSecretLen      = 80
	MaxUsernameLen    = 64
	MaxDomainLen      = 253
)

var (
	loginRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`)
	usernameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	callerNum  = regexp.MustCompile(`^\+?[0-9*#]{1,32}$`)
	e164Re     = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	gwNameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// observedNameRe also takes dots: the switch named the trunk (sofia
	// gateways are often named after the carrier's domain, as FreeSWITCH's
	// own example.com).
	observedNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	labelRe        = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// checkText validates a free-text field a person reads (a name, a
// description): valid UTF-8, no hidden characters (HiddenRune), at most max
// characters, and at least one when required.
func checkText(field, v string, max int, required bool) error {
	if !utf8.ValidString(v) {
		return Invalid(field, "must be valid UTF-8")
	}
	if required && strings.TrimSpace(v) == "" {
		return Invalid(field, "is required")
	}
	if n := utf8.RuneCountInString(v); n > max {
		return Invalid(field, "must be at most %d characters (got %d)", max, n)
	}
	if r, at, ok := HiddenRune(v); ok {
		return Invalid(field, "%s (%U at character %d)", HiddenRuneRule, r, at)
	}
	return nil
}

// HiddenRuneRule is the reason given when HiddenRune finds a character.
const HiddenRuneRule = "must not contain control, bidirectional or invisible formatting characters"

// HiddenRune returns the first character of s that a person reading s would
// not see, or would see other than it is, with its 1-based position:
//
//   - control characters (Cc), and the line and paragraph separators
//     (U+2028, U+2029), which break the lines of logs and listings;
//   - format characters (Cf): the bidirectional controls (U+202A–U+202E,
//     U+2066–U+2069, U+200E, U+200F, U+061C) that reorder what follows
//     them ("Trojan Source"), and invisible ones such as U+200B, U+2060
//     or U+FEFF that make two different names look the same;
//   - the other default-ignorable characters (Hangul fillers, U+034F...),
//     which render as nothing and make names that look empty.
//
// The zero-width joiner and non-joiner (U+200D, U+200C) are the exception:
// Persian, the Indic scripts and emoji sequences need them to spell words,
// so they are allowed between two visible characters, though not at either
// end, doubled, or next to a space, where they only hide something.
//
// The provisioning text fields use it (checkText), and the API dialects
// apply it to query parameters, so that every dialect refuses the same.
func HiddenRune(s string) (r rune, at int, found bool) {
	afterVisible := false // the previous character may precede a joiner
	for i, c := range s {
		at++
		switch {
		case c == zwnj || c == zwj:
			next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(c):])
			if !afterVisible || !joinable(next) {
				return c, at, true
			}
			afterVisible = false // no joiner after a joiner
		case hidden(c):
			return c, at, true
		default:
			afterVisible = joinable(c)
		}
	}
	return 0, 0, false
}

const (
	zwnj = '\u200c'
	zwj  = '\u200d'
)

// hidden reports whether c is never visible text (see HiddenRune).
func hidden(c rune) bool {
	return unicode.IsControl(c) || c == '\u2028' || c == '\u2029' ||
		unicode.Is(unicode.Cf, c) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, c)
}

// joinable reports whether c may stand next to a joiner: a visible,
// non-space character.
func joinable(c rune) bool {
	return c != utf8.RuneError && c != zwnj && c != zwj && !hidden(c) && !unicode.IsSpace(c)
}

// checkPattern validates a required token-like field against re.
func checkPattern(field, v string, max int, re *regexp.Regexp, what string) error {
	if !utf8.ValidString(v) {
		return Invalid(field, "must be valid UTF-8")
	}
	if v == "" {
		return Invalid(field, "is required")
	}
	if len(v) > max {
		return Invalid(field, "must be at most %d characters (got %d)", max, len(v))
	}
	if !re.MatchString(v) {
		return Invalid(field, "must be %s", what)
	}
	return nil
}

// ValidateHost accepts a DNS hostname (letters, digits, hyphens, dots), an
// IPv4 address or an IPv6 address (without brackets).
func ValidateHost(field, h string) error {
	if h == "" {
		return Invalid(field, "is required")
	}
	if !utf8.ValidString(h) {
		return Invalid(field, "must be valid UTF-8")
	}
	if strings.ContainsAny(h, "[]") {
		return Invalid(field, "must be a hostname or an IP address; write IPv6 addresses without brackets")
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	return validateHostname(field, h)
}

func validateHostname(field, h string) error {
	if len(h) > MaxDomainLen {
		return Invalid(field, "must be at most %d characters (got %d)", MaxDomainLen, len(h))
	}
	h = strings.TrimSuffix(h, ".")
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return Invalid(field, "must be a hostname (lower-case letters, digits, hyphens and dots) or an IP address")
		}
	}
	return nil
}

// ValidateDomainName checks a SIP domain: a lower-case hostname or an IPv4
// address, as Asterisk and FreeSWITCH use it as a realm.
func ValidateDomainName(name string) error {
	if name == "" {
		return Invalid("name", "is required")
	}
	if ip := net.ParseIP(name); ip != nil && ip.To4() != nil {
		return nil
	}
	return validateHostname("name", name)
}

// ValidatePassword checks an API login password before it is hashed.
func ValidatePassword(field, p string) error {
	if !utf8.ValidString(p) {
		return Invalid(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(p); n < MinPasswordLen || n > MaxPasswordLen {
		return Invalid(field, "must be %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// ValidateSecret checks a SIP secret: printable ASCII without spaces or
// quotes, because it ends up in switch configuration files and digest
// computations on phones that know nothing else.
func ValidateSecret(field, s string) error {
	if len(s) < MinSecretLen || len(s) > MaxSecretLen {
		return Invalid(field, "must be %d to %d characters", MinSecretLen, MaxSecretLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == '"' || c == '\'' || c == '\\' {
			return Invalid(field, "must be printable ASCII without spaces, quotes or backslashes")
		}
	}
	return nil
}

// Validate checks a tenant.
func (t *Tenant) Validate() error {
	return checkText("name", t.Name, MaxNameLen, true)
}

// Validate checks a domain.
func (d *Domain) Validate() error {
	if d.TenantID <= 0 {
		return Invalid("tenant_id", "is required")
	}
	if err := ValidateDomainName(d.Name); err != nil {
		return err
	}
	return checkText("description", d.Description, MaxDescriptionLen, false)
}

// Validate checks a user (not its password, which is validated in
// SetPassword before hashing).
func (u *User) Validate() error {
	if u.TenantID <= 0 {
		return Invalid("tenant_id", "is required")
	}
	if err := checkPattern("login", u.Login, MaxLoginLen, loginRe, "letters, digits and . _ @ + - (starting with a letter or digit)"); err != nil {
		return err
	}
	if u.Email != "" {
		if err := checkText("email", u.Email, MaxEmailLen, false); err != nil {
			return err
		}
		a, err := mail.ParseAddress(u.Email)
		if err != nil || a.Address != u.Email || a.Name != "" {
			return Invalid("email", "must be a plain e-mail address like name@example.com")
		}
	}
	if err := checkText("first_name", u.FirstName, MaxNameLen, false); err != nil {
		return err
	}
	if err := checkText("last_name", u.LastName, MaxNameLen, false); err != nil {
		return err
	}
	switch u.Role {
	case RoleAdmin, RoleTenantAdmin, RoleUser:
	default:
		return Invalid("role", "must be one of admin, tenant-admin, user")
	}
	if u.PasswordHash == "" {
		return Invalid("password", "is required")
	}
	return nil
}

// Validate checks an account. Secret must already be set (the Service
// generates one when the caller gives none).
func (a *Account) Validate() error {
	if a.DomainID <= 0 {
		return Invalid("domain_id", "is required")
	}
	if err := checkPattern("username", a.Username, MaxUsernameLen, usernameRe, "letters, digits and . _ + - (starting with a letter or digit)"); err != nil {
		return err
	}
	if err := ValidateSecret("secret", a.Secret); err != nil {
		return err
	}
	if err := checkText("caller_id_name", a.CallerIDName, MaxNameLen, false); err != nil {
		return err
	}
	if strings.ContainsAny(a.CallerIDName, `"<>`) {
		return Invalid("caller_id_name", `must not contain " < or >`)
	}
	if a.CallerIDNumber != "" && !callerNum.MatchString(a.CallerIDNumber) {
		return Invalid("caller_id_number", "must be 1 to 32 digits, * or #, optionally after a leading +")
	}
	return checkText("description", a.Description, MaxDescriptionLen, false)
}

// Validate checks a gateway and fills defaults (port 5060, or 5061 for TLS;
// transport udp). An observed gateway needs only its name: its host, when
// given, is for Switchboard's own OPTIONS probes, and it has no
// credentials, since Switchboard never pushes it (they would sit in the
// store unused, and look as if they mattered).
func (g *Gateway) Validate() error {
	if g.Observed {
		if err := checkPattern("name", g.Name, 63, observedNameRe, "lower-case letters, digits, . _ and - (starting with a letter or digit): the trunk's name on the switch"); err != nil {
			return err
		}
		if err := g.validateObserved(); err != nil {
			return err
		}
	} else if err := checkPattern("name", g.Name, 63, gwNameRe, "lower-case letters, digits, _ and - (starting with a letter or digit)"); err != nil {
		return err
	}
	probeOnly := g.Observed && g.Host == "" // nothing to probe or push
	if !probeOnly {
		if err := ValidateHost("host", g.Host); err != nil {
			return err
		}
	}
	switch g.Transport {
	case "":
		g.Transport = TransportUDP
	case TransportUDP, TransportTCP, TransportTLS:
	default:
		return Invalid("transport", "must be one of udp, tcp, tls")
	}
	switch {
	case probeOnly && g.Port != 0:
		return Invalid("host", "is required with port")
	case probeOnly:
	case g.Port == 0:
		g.Port = 5060
		if g.Transport == TransportTLS {
			g.Port = 5061
		}
		fallthrough
	default:
		if g.Port < 1 || g.Port > 65535 {
			return Invalid("port", "must be between 1 and 65535")
		}
	}
	if g.Username != "" {
		if err := checkPattern("username", g.Username, MaxUsernameLen, usernameRe, "letters, digits and . _ + -"); err != nil {
			return err
		}
	}
	if g.Register && g.Username == "" {
		return Invalid("username", "is required when register is true")
	}
	if g.Secret != "" {
		if err := ValidateSecret("secret", g.Secret); err != nil {
			return err
		}
	}
	if g.QualifySecs < 0 || g.QualifySecs > 3600 {
		return Invalid("qualify_seconds", "must be between 0 and 3600")
	}
	return checkText("description", g.Description, MaxDescriptionLen, false)
}

// validateObserved refuses what only a pushed gateway uses: the switch's
// own definition holds the trunk's credentials and registration.
func (g *Gateway) validateObserved() error {
	const why = "must be empty for an observed gateway (managed false): the switch's own definition holds it"
	switch {
	case g.Username != "":
		return Invalid("username", why)
	case g.Secret != "":
		return Invalid("secret", why)
	case g.Register:
		return Invalid("register", "must be false for an observed gateway (managed false): the switch's own definition registers it")
	}
	return nil
}

// Validate checks a DID.
func (d *DID) Validate() error {
	if d.TenantID <= 0 {
		return Invalid("tenant_id", "is required")
	}
	if !utf8.ValidString(d.Number) {
		return Invalid("number", "must be valid UTF-8")
	}
	if !e164Re.MatchString(d.Number) {
		return Invalid("number", "must be an E.164 number: + then 7 to 15 digits, not starting with 0")
	}
	return checkText("description", d.Description, MaxDescriptionLen, false)
}
