package rating

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// equalRates compares rates with instants compared as instants (a
// decoded time carries the deck's zone, not the original's).
func equalRates(a, b []Rate) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d rates, want %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.EffectiveFrom.Equal(y.EffectiveFrom) || !x.EffectiveTo.Equal(y.EffectiveTo) {
			return fmt.Errorf("rate %d: effective %v–%v, want %v–%v", i+1, x.EffectiveFrom, x.EffectiveTo, y.EffectiveFrom, y.EffectiveTo)
		}
		x.EffectiveFrom, x.EffectiveTo, y.EffectiveFrom, y.EffectiveTo = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if x != y {
			return fmt.Errorf("rate %d: %+v, want %+v", i+1, x, y)
		}
	}
	return nil
}

// TestDeckRoundTrip reads the golden plan's deck, writes it back and
// compares with testdata/plan.export.golden; reading that gives the same
// rates and writing them again the same bytes.
func TestDeckRoundTrip(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	opt := DeckOptions{Location: ny}
	in, err := os.ReadFile(filepath.Join("testdata", "plan.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rates, err := ReadDeck(bytes.NewReader(in), opt)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteDeck(&out, rates, opt); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "plan.export.golden")
	if *update {
		os.WriteFile(golden, out.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("export differs from %s:\n%s", golden, diffLines(string(want), out.String()))
	}
	again, err := ReadDeck(bytes.NewReader(out.Bytes()), opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := equalRates(again, rates); err != nil {
		t.Fatal(err)
	}
	var out2 bytes.Buffer
	if err := WriteDeck(&out2, again, opt); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), out2.Bytes()) {
		t.Errorf("second export differs:\n%s", diffLines(out.String(), out2.String()))
	}
}

// TestDeckColumns reads decks whose columns come in another order, with
// only the required ones, with a spreadsheet's byte order mark, spaces and
// capitals in the header, and a window given by one bound.
func TestDeckColumns(t *testing.T) {
	tests := []struct {
		name, deck string
		want       Rate
	}{
		{"required only", "prefix,price_per_minute\n49,0.03\n",
			Rate{Prefix: "49", PricePerMinute: 30_000_000, FirstIncrement: 1, NextIncrement: 1}},
		{"any order, BOM, case and spaces", "\ufeffPrice_Per_Minute , days,Prefix,first_increment\n 0.5 ,sat-sun, 33 ,60\n",
			Rate{Prefix: "33", PricePerMinute: 500_000_000, FirstIncrement: 60, NextIncrement: 1, Days: 1<<time.Saturday | 1<<time.Sunday}},
		{"time_from alone runs to midnight", "prefix,price_per_minute,time_from\n1,0,18:00\n",
			Rate{Prefix: "1", FirstIncrement: 1, NextIncrement: 1, TimeFrom: 18 * 3600, TimeTo: endOfDay}},
		{"time_to alone from midnight", "prefix,price_per_minute,time_to\n1,0,06:00\n",
			Rate{Prefix: "1", FirstIncrement: 1, NextIncrement: 1, TimeTo: 6 * 3600}},
		{"00:00 to 24:00 is all day", "prefix,price_per_minute,time_from,time_to\n1,0,00:00,24:00\n",
			Rate{Prefix: "1", FirstIncrement: 1, NextIncrement: 1}},
		{"quoted name with a comma", "prefix,price_per_minute,destination\n1,0,\"USA, New York\"\n",
			Rate{Prefix: "1", FirstIncrement: 1, NextIncrement: 1, Destination: "USA, New York"}},
		{"RFC 3339 effective date", "prefix,price_per_minute,effective_from\n1,0,2026-03-01T12:00:00+01:00\n",
			Rate{Prefix: "1", FirstIncrement: 1, NextIncrement: 1, EffectiveFrom: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)}},
		{"semicolons and decimal commas", "prefix;destination;price_per_minute;connect_fee\n49;Deutschland, Festnetz;0,0123;0.05\n",
			Rate{Prefix: "49", Destination: "Deutschland, Festnetz", PricePerMinute: 12_300_000, ConnectFee: 50_000_000, FirstIncrement: 1, NextIncrement: 1}},
		{"tabs", "prefix\tprice_per_minute\n49\t0,5\n",
			Rate{Prefix: "49", PricePerMinute: 500_000_000, FirstIncrement: 1, NextIncrement: 1}},
	}
	for _, tt := range tests {
		got, err := ReadDeck(strings.NewReader(tt.deck), DeckOptions{})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if err := equalRates(got, []Rate{tt.want}); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// TestDeckErrors pairs bad decks with the exact error each must give: the
// line and the column named.
func TestDeckErrors(t *testing.T) {
	const head = "prefix,destination,price_per_minute,first_increment,time_from,time_to,effective_from,effective_to\n"
	const good = "49,Germany,0.03,60,,,,\n"
	tests := []struct {
		name, deck string
		is         error
		msg        string
	}{
		{"empty file", "", ErrDeck, "rating: invalid rate deck: empty file, no header row"},
		{"unknown column", "prefix,price,price_per_minute\n", ErrDeck,
			"rating: rate deck line 1, column price: rating: invalid rate deck: unknown column (known: prefix, destination, group, price_per_minute, connect_fee, first_increment, next_increment, minimum_seconds, free_seconds, days, time_from, time_to, effective_from, effective_to)"},
		{"column twice", "prefix,Prefix,price_per_minute\n", ErrDeck, "rating: rate deck line 1, column prefix: rating: invalid rate deck: column named twice"},
		{"no price column", "prefix,destination\n", ErrDeck, "rating: rate deck line 1, column price_per_minute: rating: invalid rate deck: required column missing"},
		{"bad price", head + good + "4930,Berlin,0,03,60,,,,\n", ErrDeck, "rating: rate deck line 3: rating: invalid rate deck: wrong number of fields"},
		{"price not a number", head + good + good + "4930,Berlin,abc,60,,,,\n", ErrInvalidRate,
			`rating: rate deck line 4, column price_per_minute: rating: invalid rate: money: invalid decimal: "abc"`},
		{"price too precise", head + "4930,Berlin,0.0000000001,60,,,,\n", ErrInvalidRate,
			`rating: rate deck line 2, column price_per_minute: rating: invalid rate: money: more than 9 decimals: "0.0000000001"`},
		{"empty price", head + "4930,Berlin,,60,,,,\n", ErrInvalidRate,
			"rating: rate deck line 2, column price_per_minute: rating: invalid rate: price_per_minute is empty"},
		{"negative price", head + "4930,Berlin,-0.01,60,,,,\n", ErrInvalidRate,
			"rating: rate deck line 2, column price_per_minute: rating: invalid rate: price_per_minute is negative"},
		{"prefix with a plus", head + "+4930,Berlin,0.01,60,,,,\n", ErrInvalidRate,
			`rating: rate deck line 2, column prefix: rating: invalid rate: prefix "+4930" is not all digits`},
		{"increment zero", head + "4930,Berlin,0.01,0,,,,\n", ErrInvalidRate,
			"rating: rate deck line 2, column first_increment: rating: invalid rate: first_increment must be 1 to 86400 seconds"},
		{"increment not a number", head + "4930,Berlin,0.01,1m,,,,\n", ErrInvalidRate,
			`rating: rate deck line 2, column first_increment: rating: invalid rate: "1m" is not a number of seconds 0 to 86400`},
		{"bad time", head + "4930,Berlin,0.01,60,8:00,,,\n", ErrInvalidRate,
			`rating: rate deck line 2, column time_from: rating: invalid rate: "8:00" is not HH:MM or HH:MM:SS`},
		{"empty window", head + "4930,Berlin,0.01,60,08:00,08:00,,\n", ErrInvalidRate,
			"rating: rate deck line 2, column time_to: rating: invalid rate: time_to equals time_from (leave both empty for all day)"},
		{"bad date", head + "4930,Berlin,0.01,60,,,2026-02-30,\n", ErrInvalidRate,
			`rating: rate deck line 2, column effective_from: rating: invalid rate: "2026-02-30" is not a date (YYYY-MM-DD)`},
		{"dates reversed", head + "4930,Berlin,0.01,60,,,2026-03-01,2026-02-01\n", ErrInvalidRate,
			"rating: rate deck line 2, column effective_to: rating: invalid rate: effective_to is not after effective_from"},
		{"bad days", "prefix,price_per_minute,days\n1,0,weekdays\n", ErrInvalidRate,
			`rating: rate deck line 2, column days: rating: invalid rate: days: "weekdays" is not a day (mon, tue, … sun)`},
		{"a field after a quoted line break is on the next line", head + "4930,\"Ber\nlin\",x,60,,,,\n", ErrInvalidRate,
			`rating: rate deck line 3, column price_per_minute: rating: invalid rate: money: invalid decimal: "x"`},
		{"a decimal comma in a comma-separated deck is a field count error", "prefix,price_per_minute\n49,0,5\n", ErrDeck,
			"rating: rate deck line 2: rating: invalid rate deck: wrong number of fields"},
		{"two commas in a price", "prefix;price_per_minute\n49;1,000,5\n", ErrInvalidRate,
			`rating: rate deck line 2, column price_per_minute: rating: invalid rate: money: invalid decimal: "1,000,5"`},
		{"bare quote", head + "4930,Ber\"lin,0.01,60,,,,\n", ErrDeck, `rating: rate deck line 2: rating: invalid rate deck: bare " in non-quoted-field`},
	}
	for _, tt := range tests {
		_, err := ReadDeck(strings.NewReader(tt.deck), DeckOptions{})
		if !errors.Is(err, tt.is) || err.Error() != tt.msg {
			t.Errorf("%s:\n got %v\nwant %s", tt.name, err, tt.msg)
		}
	}
}

// TestDeckProgress reads 2,500 rows and expects a report after each
// thousand and one at the end with every row and byte.
func TestDeckProgress(t *testing.T) {
	var deck bytes.Buffer
	deck.WriteString("prefix,price_per_minute\n")
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&deck, "%d,0.0%d\n", 100000+i, i%10)
	}
	var got []DeckProgress
	d := NewDeckDecoder(bytes.NewReader(deck.Bytes()), DeckOptions{Progress: func(p DeckProgress) { got = append(got, p) }})
	n := 0
	for {
		_, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if _, err := d.Next(); err != io.EOF || len(got) != 3 {
		t.Errorf("Next after the end = %v (progress reported %d times), want io.EOF", err, len(got))
	}
	if n != 2500 || len(got) != 3 || got[0].Rows != 1000 || got[1].Rows != 2000 || got[2].Rows != 2500 ||
		got[2].Bytes != int64(deck.Len()) || got[0].Bytes <= 0 || got[1].Bytes <= got[0].Bytes {
		t.Errorf("%d rows, progress %+v (deck %d bytes)", n, got, deck.Len())
	}
}

func TestDeckEmptyExport(t *testing.T) {
	var out bytes.Buffer
	if err := WriteDeck(&out, nil, DeckOptions{}); err != nil {
		t.Fatal(err)
	}
	if out.String() != strings.Join(deckColumns[:], ",")+"\n" {
		t.Errorf("empty deck = %q", out.String())
	}
	rates, err := ReadDeck(&out, DeckOptions{})
	if err != nil || len(rates) != 0 {
		t.Errorf("read back: %v, %v", rates, err)
	}
}

// TestDeckExportOffsetSeconds is the regression test for an export in a
// zone whose offset had seconds: RFC 3339 in that zone would have moved
// the instant by 30 s.
func TestDeckExportOffsetSeconds(t *testing.T) {
	monrovia, err := time.LoadLocation("Africa/Monrovia")
	if err != nil {
		t.Fatal(err)
	}
	opt := DeckOptions{Location: monrovia}
	r := []Rate{{Prefix: "231", FirstIncrement: 1, NextIncrement: 1, EffectiveFrom: time.Date(1960, 5, 1, 12, 0, 0, 0, time.UTC)}}
	var out bytes.Buffer
	if err := WriteDeck(&out, r, opt); err != nil {
		t.Fatal(err)
	}
	back, err := ReadDeck(&out, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := equalRates(back, r); err != nil {
		t.Error(err)
	}
}

// TestDeckSemicolonRoundTrip writes a deck with semicolons and reads it
// back with the separator given and with it sniffed.
func TestDeckSemicolonRoundTrip(t *testing.T) {
	rates := []Rate{{Prefix: "49", Destination: "Deutschland; Mobil", PricePerMinute: 12_300_000, FirstIncrement: 60, NextIncrement: 1}}
	var out bytes.Buffer
	if err := WriteDeck(&out, rates, DeckOptions{Comma: ';'}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "prefix;destination;") || !strings.Contains(out.String(), `"Deutschland; Mobil";;0.0123;`) {
		t.Errorf("deck = %q", out.String())
	}
	for _, comma := range []rune{';', 0} {
		back, err := ReadDeck(bytes.NewReader(out.Bytes()), DeckOptions{Comma: comma})
		if err != nil {
			t.Fatal(err)
		}
		if err := equalRates(back, rates); err != nil {
			t.Errorf("comma %q: %v", comma, err)
		}
	}
}

// failingReader returns its data, then an error: an upload cut off.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestDeckErrorsSticky checks that a deck's error is returned again by
// every later Next, and that a failing reader is not blamed on the deck.
func TestDeckErrorsSticky(t *testing.T) {
	d := NewDeckDecoder(strings.NewReader("prefix,price_per_minute\n1,x\n2,0.1\n"), DeckOptions{})
	_, first := d.Next()
	_, again := d.Next()
	if !errors.Is(first, ErrInvalidRate) || again != first {
		t.Errorf("errors %v then %v, want the same ErrInvalidRate twice", first, again)
	}
	cut := errors.New("connection reset")
	d = NewDeckDecoder(&failingReader{data: []byte("prefix,price_per_minute\n1,0.1\n2,0."), err: cut}, DeckOptions{})
	if r, err := d.Next(); err != nil || r.Prefix != "1" {
		t.Fatalf("first row: %+v, %v", r, err)
	}
	_, err := d.Next()
	if !errors.Is(err, cut) || errors.Is(err, ErrDeck) || errors.Is(err, ErrInvalidRate) {
		t.Errorf("cut upload: %v, want the reader's error and no deck error", err)
	}
}
