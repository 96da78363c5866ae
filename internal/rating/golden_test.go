package rating

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
	_ "time/tzdata" // the golden table's zones do not depend on the host's zoneinfo

	"github.com/switchboard-voip/switchboard/internal/money"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenPlan is testdata/plan.csv as a plan in New York time, charged to
// a hundredth of a cent.
func goldenPlan(t testing.TB) *Tariff {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", "plan.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rates, err := ReadDeck(f, DeckOptions{Location: ny})
	if err != nil {
		t.Fatal(err)
	}
	tariff, err := Compile(Plan{Name: "golden", Currency: "USD", TimeZone: "America/New_York",
		ChargeStep: money.MustParse("0.0001"), Rates: rates})
	if err != nil {
		t.Fatal(err)
	}
	return tariff
}

// TestRatingGolden prices every call of testdata/calls.csv with the plan of
// testdata/plan.csv and compares the result with testdata/rating.golden:
// increments, minimums, free seconds, connection fees, time-of-day edges
// at midnight in New York, both DST changes of 2026, prefix ties and
// effective dates (each case says what it shows).
func TestRatingGolden(t *testing.T) {
	tariff := goldenPlan(t)
	in, err := os.ReadFile(filepath.Join("testdata", "calls.csv"))
	if err != nil {
		t.Fatal(err)
	}
	calls, err := csv.NewReader(bytes.NewReader(in)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	w.Write([]string{"case", "destination", "start", "seconds", "prefix", "rate", "billed", "increments", "free", "cost"})
	for _, c := range calls[1:] {
		start, err := time.Parse(time.RFC3339, c[2])
		if err != nil {
			t.Fatalf("%s: %v", c[0], err)
		}
		secs, err := strconv.Atoi(c[3])
		if err != nil {
			t.Fatalf("%s: %v", c[0], err)
		}
		row := append([]string(nil), c[:4]...)
		ch, err := tariff.Rate(c[1], start, secs)
		if err != nil {
			row = append(row, "", "", "", "", "", "error: "+err.Error())
		} else {
			row = append(row, ch.Rate.Prefix, ch.Rate.Destination, strconv.Itoa(ch.BilledSeconds),
				strconv.Itoa(ch.Increments), strconv.Itoa(ch.FreeSeconds), ch.Cost.String()+" "+string(ch.Currency))
		}
		w.Write(row)
	}
	w.Flush()
	golden := filepath.Join("testdata", "rating.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("rating table differs from %s (go test -update to accept):\n%s", golden, diffLines(string(want), out.String()))
	}
}

func diffLines(want, got string) string {
	wl, gl := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	var b bytes.Buffer
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			fmt.Fprintf(&b, "line %d\n- %s\n+ %s\n", i+1, w, g)
		}
	}
	return b.String()
}
