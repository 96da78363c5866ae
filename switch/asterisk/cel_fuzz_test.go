package asterisk

import (
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
		// A uniqueid may come back in a later call of damaged input.
		checkParsed(t, data, opt, recs, bad, false)
		for _, r := range recs {
			if r.Billsec > r.Duration || r.Answer != nil && (r.Answer.Before(r.Start) || r.Answer.After(r.End)) {
				t.Errorf("answer %v, billsec %d outside %v..%v (%d s)", r.Answer, r.Billsec, r.Start, r.End, r.Duration)
			}
		}
	})
}
