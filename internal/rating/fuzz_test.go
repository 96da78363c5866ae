package rating

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDeck feeds arbitrary bytes to the deck reader: it must either refuse
// them with a deck error (ErrDeck or ErrInvalidRate) or read rates that
// write back to a deck reading to the same rates, whose second writing is
// byte for byte the first; and whatever compiles must price without panic.
func FuzzDeck(f *testing.F) {
	plan, err := os.ReadFile(filepath.Join("testdata", "plan.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plan)
	for _, s := range []string{
		"prefix,price_per_minute\n49,0.03\n",
		"\ufeffPrice_Per_Minute , days,Prefix\n 0.5 ,fri-mon, 33\n",
		"prefix,price_per_minute,time_from,time_to,effective_from,effective_to\n1,0,22:00,06:00,2026-03-08,2026-11-01T01:30:00-04:00\n",
		"prefix,price_per_minute,destination\n1,0,\"USA, \"\"NY\"\"\nline\"\n",
		"prefix,price,price_per_minute\n",
		"prefix,price_per_minute\n1,-0\n2,+1.50\n",
	} {
		f.Add([]byte(s))
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	opt := DeckOptions{Location: ny}
	f.Fuzz(func(t *testing.T, deck []byte) {
		rates, err := ReadDeck(bytes.NewReader(deck), opt)
		if err != nil {
			if !errors.Is(err, ErrDeck) && !errors.Is(err, ErrInvalidRate) {
				t.Fatalf("error outside the deck errors: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := WriteDeck(&out, rates, opt); err != nil {
			t.Fatal(err)
		}
		again, err := ReadDeck(bytes.NewReader(out.Bytes()), opt)
		if err != nil {
			t.Fatalf("written deck does not read back: %v\n%s", err, out.Bytes())
		}
		if err := equalRates(again, rates); err != nil {
			t.Fatalf("round trip: %v\n%s", err, out.Bytes())
		}
		var out2 bytes.Buffer
		if err := WriteDeck(&out2, again, opt); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatalf("second export differs:\n%s\n%s", out.Bytes(), out2.Bytes())
		}
		tariff, err := Compile(Plan{Currency: "USD", TimeZone: "America/New_York", Rates: rates})
		if err != nil {
			if !errors.Is(err, ErrDuplicateRate) {
				t.Fatalf("a deck that reads does not compile: %v", err)
			}
			return
		}
		start := time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)
		for _, r := range rates {
			if _, err := tariff.Rate(r.Prefix+"5", start, 61); err != nil && !errors.Is(err, ErrNoRate) {
				t.Fatalf("Rate(%s5): %v", r.Prefix, err)
			}
		}
	})
}
