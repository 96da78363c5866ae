package asterisk

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParseCEL feeds ParseCEL damaged cel_custom files: it must never
// panic, every leg it returns must be a storable Record, and every line
// it refuses comes back as a BadRow with a line number in range.
func FuzzParseCEL(f *testing.F) {
	for _, name := range celFiles {
		for _, ext := range []string{".csv", ".jsonl"} {
			b, err := os.ReadFile(filepath.Join("testdata", "cel", name+ext))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			if lines := strings.SplitAfter(string(b), "\n"); len(lines) > 3 {
				f.Add([]byte(strings.Join(lines[2:], "")))
			}
		}
	}
	f.Add([]byte(`"HANGUP","1796584928.2","1.2","1.2","","","","","","","","","","{""hangupcause"":""16""}"` + "\n"))
	f.Add([]byte(`{"eventtype":"CHAN_START","eventtime":1796584921,"uniqueid":"x"}` + "\n" + `{"eventtype":"CHAN_END","eventtime":1796584920,"uniqueid":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		opt := testOptions()
		opt.Location = time.FixedZone("X", 3600)
		recs, bad, err := ParseCEL(strings.NewReader(string(data)), opt)
		if err != nil {
			t.Fatalf("ParseCEL: %v", err)
		}
		lines := strings.Count(string(data), "\n") + 1
		last := 0
		for _, b := range bad {
			if b.Line <= last || b.Line > lines || b.Reason == "" {
				t.Errorf("bad row line %d (previous %d, %d lines): %q", b.Line, last, lines, b.Reason)
			}
			last = b.Line
		}
		for _, r := range recs {
			switch {
			case r.Switch != opt.Switch || r.CallID == "" || r.LinkedID == "":
				t.Errorf("record without keys: %+v", r)
			case r.Start.IsZero() || r.End.IsZero() || r.End.Before(r.Start):
				t.Errorf("times %v %v", r.Start, r.End)
			case r.Answer != nil && (r.Answer.Before(r.Start) || r.Answer.After(r.End)):
				t.Errorf("answer %v outside %v..%v", r.Answer, r.Start, r.End)
			case r.Duration < 0 || r.Billsec < 0 || r.Billsec > r.Duration:
				t.Errorf("seconds %d %d", r.Duration, r.Billsec)
			case r.Disposition == "" || r.Direction == "":
				t.Errorf("no disposition or direction: %+v", r)
			case !json.Valid(r.Raw):
				t.Errorf("raw is not JSON: %q", r.Raw)
			}
		}
	})
}
