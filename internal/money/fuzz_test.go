package money

import (
	"math/big"
	"testing"
)

// FuzzParse checks that whatever Parse accepts is the exact value of the
// text (against math/big) and prints back to a string that parses to the
// same Amount.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "-5", "0.0123", "100.50", ".5", "5.", "9223372036.854775807",
		"-9223372036.854775808", "0.0000000001", "1e3", "+-1", "00012.3400000000000"} {
		f.Add(s)
	}
	unit := new(big.Rat).SetInt64(int64(Unit))
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		want, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("Parse(%q) = %d but math/big refuses it", s, a)
		}
		got := new(big.Rat).Quo(new(big.Rat).SetInt64(int64(a)), unit)
		if got.Cmp(want) != 0 {
			t.Fatalf("Parse(%q) = %s, exact value %s", s, a, want.FloatString(12))
		}
		back, err := Parse(a.String())
		if err != nil || back != a {
			t.Fatalf("Parse(%q).String() = %q reparses to %d, %v", s, a.String(), back, err)
		}
		for n := 0; n <= Scale; n++ {
			if back, err := Parse(a.StringFixed(n)); err != nil || back != a {
				t.Fatalf("StringFixed(%d) of %d = %q reparses to %d, %v", n, a, a.StringFixed(n), back, err)
			}
		}
	})
}
