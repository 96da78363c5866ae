package provisioning

import (
	"regexp"
	"testing"
)

func TestDialPattern(t *testing.T) {
	cases := []struct {
		pattern string
		match   []string
		miss    []string
		err     bool
	}{
		{pattern: "1NXXNXXXXXX", match: []string{"15145550100"}, miss: []string{"11145550100", "1514555010", "151455501000"}},
		{pattern: "00.", match: []string{"0033123456789", "001"}, miss: []string{"00", "0133"}},
		{pattern: "9!", match: []string{"9", "9123"}, miss: []string{"8"}},
		{pattern: "911", match: []string{"911"}, miss: []string{"9111", "91"}},
		{pattern: "+1Z.", match: []string{"+15145550100"}, miss: []string{"+10145550100", "15145550100"}},
		{pattern: "[15-7]XX", match: []string{"100", "599", "700"}, miss: []string{"200", "800"}},
		{pattern: "*72X.", match: []string{"*721234"}, miss: []string{"721234"}},
		{pattern: "", err: true},
		{pattern: "1.2", err: true},
		{pattern: "1+", err: true},
		{pattern: "[1-", err: true},
		{pattern: "[]1", err: true},
		{pattern: "[a]", err: true},
		{pattern: "[9-1]", err: true},
		{pattern: "1a", err: true},
		{pattern: "_1X", err: true},
	}
	for _, tc := range cases {
		p := DialPattern(tc.pattern)
		_, err := p.Regexp()
		if (err != nil) != tc.err {
			t.Errorf("%q: err = %v, want error %v", tc.pattern, err, tc.err)
			continue
		}
		for _, n := range tc.match {
			if !p.Match(n) {
				t.Errorf("%q does not match %q", tc.pattern, n)
			}
		}
		for _, n := range tc.miss {
			if p.Match(n) {
				t.Errorf("%q matches %q", tc.pattern, n)
			}
		}
	}
}

// FuzzDialPattern: an accepted pattern is a valid, anchored expression.
func FuzzDialPattern(f *testing.F) {
	for _, s := range []string{"1NXXNXXXXXX", "00.", "[15-7]XX", "+1Z!", "[", "]", "..", "[-]"} {
		f.Add(s, "15145550100")
	}
	f.Fuzz(func(t *testing.T, p, number string) {
		expr, err := DialPattern(p).Regexp()
		if err != nil {
			return
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			t.Fatalf("%q gave %q, which does not compile: %v", p, expr, err)
		}
		if expr[0] != '^' || expr[len(expr)-1] != '$' {
			t.Fatalf("%q gave an unanchored %q", p, expr)
		}
		_ = re.MatchString(number)
	})
}
