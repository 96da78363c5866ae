package asterisk

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// FuzzParseCSV feeds ParseCSV damaged CDR files: it must never panic, and
// whatever it accepts must be a storable Record while whatever it refuses
// comes back as a BadRow with a line number in range.
func FuzzParseCSV(f *testing.F) {
	for _, name := range []string{"master.csv", "cdr-custom-master.jsonl", "layouts.csv", "malformed.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", "cdr", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if lines := strings.SplitAfter(string(b), "\n"); len(lines) > 1 {
			f.Add([]byte(lines[0]))
		}
	}
	f.Add([]byte(`"a""b",,"c"` + "\n\"\n,,,\r\n"))
	f.Add([]byte(`{"uniqueid":"1.1","start":1795610108.5,"end":"1795610109","duration":"1.9","disposition":16}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		opt := testOptions()
		opt.Location = time.FixedZone("X", 3600)
		recs, bad, err := ParseCSV(strings.NewReader(string(data)), opt)
		if err != nil {
			t.Fatalf("ParseCSV: %v", err)
		}
		checkParsed(t, data, opt, recs, bad, true)
	})
}

// checkParsed holds a parser's output on fuzzed input to what the store
// and the dead letters need: bad rows with line numbers in range, in
// order, each with a reason; records with their keys, ordered times,
// seconds that are not negative, a disposition, a direction and JSON raw.
// unique also wants each uniqueid once.
func checkParsed(t *testing.T, data []byte, opt CSVOptions, recs []cdr.Record, bad []BadRow, unique bool) {
	t.Helper()
	lines := strings.Count(string(data), "\n") + 1
	last := 0
	for _, b := range bad {
		if b.Line <= last || b.Line > lines || b.Reason == "" {
			t.Errorf("bad row line %d (previous %d, %d lines): %q", b.Line, last, lines, b.Reason)
		}
		last = b.Line
	}
	seen := map[string]bool{}
	for _, r := range recs {
		switch {
		case r.Switch != opt.Switch || r.CallID == "" || r.LinkedID == "":
			t.Errorf("record without keys: %+v", r)
		case unique && seen[r.CallID]:
			t.Errorf("uniqueid %s twice", r.CallID)
		case r.Start.IsZero() || r.End.IsZero() || r.End.Before(r.Start):
			t.Errorf("times %v %v", r.Start, r.End)
		case r.Duration < 0 || r.Billsec < 0:
			t.Errorf("negative seconds %d %d", r.Duration, r.Billsec)
		case r.Disposition == "" || r.Direction == "":
			t.Errorf("no disposition or direction: %+v", r)
		case !json.Valid(r.Raw):
			t.Errorf("raw is not JSON: %q", r.Raw)
		}
		seen[r.CallID] = true
	}
}
