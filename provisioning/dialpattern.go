package provisioning

import (
	"fmt"
	"regexp"
	"strings"
)

// dialNumberRe is a number a call can be sent to: digits, * and #, and
// an optional leading + (E.164).
var dialNumberRe = regexp.MustCompile(`^\+?[0-9*#]{1,32}$`)

// DialPattern is a pattern of dialled numbers in the syntax VoIP
// engineers know from Asterisk extensions, without the leading '_':
//
//	0-9 * # +   themselves
//	X           any digit          Z   1-9          N   2-9
//	[15-7]      one of the digits listed (ranges allowed)
//	.           one or more characters, only at the end
//	!           zero or more characters, only at the end
//
// "1NXXNXXXXXX" is a North American number, "00." any international
// call, "911" exactly 911. It compiles to an anchored regular expression
// (Regexp) that both switches' renderers and Switchboard itself use.
type DialPattern string

// Regexp returns the anchored regular expression the pattern means, or an
// error naming the position of what is wrong.
func (p DialPattern) Regexp() (string, error) {
	s := string(p)
	if s == "" {
		return "", fmt.Errorf("empty pattern")
	}
	if len(s) > 64 {
		return "", fmt.Errorf("longer than 64 characters")
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c == '*', c == '#':
			if c == '*' {
				b.WriteString(`\*`)
			} else {
				b.WriteByte(c)
			}
		case c == '+':
			if i != 0 {
				return "", fmt.Errorf("'+' only at the start (position %d)", i+1)
			}
			b.WriteString(`\+`)
		case c == 'X' || c == 'x':
			b.WriteString("[0-9]")
		case c == 'Z' || c == 'z':
			b.WriteString("[1-9]")
		case c == 'N' || c == 'n':
			b.WriteString("[2-9]")
		case c == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return "", fmt.Errorf("'[' at position %d is not closed", i+1)
			}
			set := s[i+1 : i+end]
			if err := checkDigitSet(set); err != nil {
				return "", fmt.Errorf("set at position %d: %w", i+1, err)
			}
			b.WriteString("[" + set + "]")
			i += end
		case c == '.' || c == '!':
			if i != len(s)-1 {
				return "", fmt.Errorf("'%c' only at the end (position %d)", c, i+1)
			}
			if c == '.' {
				b.WriteString(`[0-9*#]+`)
			} else {
				b.WriteString(`[0-9*#]*`)
			}
		default:
			return "", fmt.Errorf("%q at position %d is not a digit, *, #, +, X, Z, N, [set], . or !", c, i+1)
		}
	}
	b.WriteString("$")
	return b.String(), nil
}

// checkDigitSet checks the inside of [..]: digits and ranges a-b.
func checkDigitSet(set string) error {
	if set == "" {
		return fmt.Errorf("empty")
	}
	for i := 0; i < len(set); i++ {
		c := set[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(set)-1 && set[i-1] <= set[i+1]:
		default:
			return fmt.Errorf("%q: only digits and ranges like 5-7", set)
		}
	}
	return nil
}

// Match reports whether number matches the pattern; an invalid pattern
// matches nothing.
func (p DialPattern) Match(number string) bool {
	re, err := p.compile()
	return err == nil && re.MatchString(number)
}

func (p DialPattern) compile() (*regexp.Regexp, error) {
	expr, err := p.Regexp()
	if err != nil {
		return nil, err
	}
	return regexp.Compile(expr)
}
