package asterisk

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// The CEL recordings of Asterisk 23.4.1 (testdata/cel, copied from
// ../shared/testdata/asterisk/fidelity, whose README tells each call):
// one answered, one busy and one unanswered call from 1001 to 1002, made
// with no ARI client connected.
var celFiles = []string{"cel-answered-5s-no-ari", "cel-busy", "cel-noanswer"}

func parseCELFile(t *testing.T, name string) ([]cdr.Record, []BadRow) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cel", name))
	if err != nil {
		t.Fatal(err)
	}
	recs, bad, err := ParseCEL(bytes.NewReader(b), testOptions())
	if err != nil {
		t.Fatalf("ParseCEL(%s): %v", name, err)
	}
	return recs, bad
}

// TestParseCELGolden compares the legs folded from each recorded CEL file
// with its .golden.json (-update rewrites them); the CSV and the JSON
// lines of one call give the same legs but for Raw.
func TestParseCELGolden(t *testing.T) {
	for _, name := range celFiles {
		t.Run(name, func(t *testing.T) {
			recs, bad := parseCELFile(t, name+".jsonl")
			fromCSV, badCSV := parseCELFile(t, name+".csv")
			if len(bad)+len(badCSV) != 0 {
				t.Fatalf("bad rows: %v %v", bad, badCSV)
			}
			if len(recs) != 2 || len(fromCSV) != 2 {
				t.Fatalf("got %d legs from JSON and %d from CSV, want 2", len(recs), len(fromCSV))
			}
			for i := range recs {
				a, b := recs[i], fromCSV[i]
				a.Raw, b.Raw = nil, nil
				if !recordsEqual(a, b) {
					t.Errorf("leg %d: JSON %+v\nCSV %+v", i, a, b)
				}
			}
			checkGolden(t, filepath.Join("testdata", "cel", name+".golden.json"), recs)
		})
	}
}

// TestParseCELRecordedCalls checks every leg against what the recording's
// README and SIP traces say happened.
func TestParseCELRecordedCalls(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := parseCELTime(s, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	type leg struct {
		id, account              string
		start, answer, end       string
		duration, billsec, cause int
		disposition              cdr.Disposition
		causeText                string
	}
	tests := []struct {
		file string
		legs []leg
	}{
		{"cel-answered-5s-no-ari.jsonl", []leg{
			{"1796584921.2", "1001", "1796584921.753168", "1796584923.263357", "1796584928.271406", 6, 5, 16, cdr.Answered, "Normal Clearing"},
			{"1796584921.3", "1002", "1796584921.753816", "1796584923.263217", "1796584928.271720", 6, 5, 16, cdr.Answered, "Normal Clearing"},
		}},
		{"cel-busy.csv", []leg{
			{"1796584940.4", "1001", "1796584940.526608", "", "1796584940.530028", 0, 0, 17, cdr.Busy, "User busy"},
			{"1796584940.5", "1002", "1796584940.527480", "", "1796584940.529939", 0, 0, 17, cdr.Busy, "User busy"},
		}},
		{"cel-noanswer.jsonl", []leg{
			{"1796584945.6", "1001", "1796584945.973197", "", "1796584976.006024", 30, 0, 16, cdr.NoAnswer, "Normal Clearing"},
			{"1796584945.7", "1002", "1796584945.973919", "", "1796584976.005584", 30, 0, 0, cdr.NoAnswer, "Unknown"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			recs, _ := parseCELFile(t, tt.file)
			if len(recs) != len(tt.legs) {
				t.Fatalf("got %d legs, want %d", len(recs), len(tt.legs))
			}
			for i, w := range tt.legs {
				r := recs[i]
				var answer *time.Time
				if w.answer != "" {
					a := at(w.answer)
					answer = &a
				}
				linked := tt.legs[0].id
				if r.CallID != w.id || r.LinkedID != linked || r.Account != w.account ||
					r.CallerNumber != "1001" || r.CallerName != "Alice" || r.Dialed != "1002" || r.Destination != "1002" ||
					r.Direction != cdr.DirectionInternal || r.Domain != "pbx.example" ||
					!r.Start.Equal(at(w.start)) || !r.End.Equal(at(w.end)) || !timePtrEqual(r.Answer, answer) ||
					r.Duration != w.duration || r.Billsec != w.billsec || r.Disposition != w.disposition ||
					r.Cause != w.cause || r.CauseText != w.causeText || r.SIPStatus != 0 || r.Codec != "" {
					t.Errorf("leg %d = %s\nwant %+v", i, brief(r), w)
				}
			}
		})
	}
}

func timePtrEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// TestParseCELAgreesWithMasterCSV: the calling leg rebuilt from CEL has
// the values of the Master.csv row Asterisk wrote for the same call.
func TestParseCELAgreesWithMasterCSV(t *testing.T) {
	for _, name := range []string{"answered-5s-no-ari", "busy", "noanswer"} {
		t.Run(name, func(t *testing.T) {
			recs, _ := parseCELFile(t, "cel-"+name+".jsonl")
			b, err := os.ReadFile(filepath.Join("testdata", "cel", "cdr-"+name+".master.csv"))
			if err != nil {
				t.Fatal(err)
			}
			master, bad, err := ParseCSV(bytes.NewReader(b), testOptions())
			if err != nil || len(bad) != 0 || len(master) != 1 {
				t.Fatalf("Master.csv: %d records, %v, %v", len(master), bad, err)
			}
			m, c := master[0], recs[0]
			if c.CallID != m.CallID || c.LinkedID != m.LinkedID || c.CallerNumber != m.CallerNumber ||
				c.CallerName != m.CallerName || c.Dialed != m.Dialed || c.Destination != m.Destination ||
				c.Direction != m.Direction || c.Account != m.Account || c.Disposition != m.Disposition ||
				c.Duration != m.Duration || c.Billsec != m.Billsec ||
				!c.Start.Truncate(time.Second).Equal(m.Start) || !c.End.Truncate(time.Second).Equal(m.End) {
				t.Errorf("CEL caller leg %s\nMaster.csv     %s", brief(c), brief(m))
			}
		})
	}
}

// TestParseCELLine pins what a CEL row must have and the errors of the
// rest, as data.
func TestParseCELLine(t *testing.T) {
	tests := []struct {
		name, line string
		json       bool
		err        string
		check      func(celRow) bool
	}{
		{name: "csv hangup", line: `"HANGUP","1796584928.271406","1.2","1.2","PJSIP/1001-00000002","1001","Alice","1002","phones","","","","","{""hangupcause"":16,""hangupsource"":""x"",""dialstatus"":""ANSWER""}"`,
			check: func(r celRow) bool {
				return r.event == "HANGUP" && r.cause == 16 && r.dialstatus == "ANSWER" && r.at.Equal(time.Unix(1796584928, 271406000))
			}},
		{name: "unquoted csv", line: `CHAN_START,1796584921.5,1.2,,PJSIP/1001-00000002,1001,Alice,1002,phones,,,,,`,
			check: func(r celRow) bool { return r.linkedid == "1.2" && r.at.Nanosecond() == 500000000 }},
		{name: "json with a date", json: true, line: `{"eventtype":"ANSWER","eventtime":"2026-12-06 19:22:03","uniqueid":"1.3"}`,
			check: func(r celRow) bool { return r.at.Equal(time.Date(2026, 12, 6, 19, 22, 3, 0, time.UTC)) }},
		{name: "too few columns", line: `"CHAN_START","1796584921.753168","1.2"`, err: "3 columns"},
		{name: "no uniqueid", line: `"CHAN_START","1796584921.753168","","","","","","","","","","","",""`, err: "no uniqueid"},
		{name: "bad time", json: true, line: `{"eventtype":"ANSWER","eventtime":"soon","uniqueid":"1.3"}`, err: "eventtime"},
		{name: "no time", json: true, line: `{"eventtype":"ANSWER","uniqueid":"1.3"}`, err: "no eventtime"},
		{name: "bad extra", json: true, line: `{"eventtype":"HANGUP","eventtime":"1796584921","uniqueid":"1.3","eventextra":"{"}`, err: "eventextra"},
		{name: "bad cause", json: true, line: `{"eventtype":"HANGUP","eventtime":"1796584921","uniqueid":"1.3","eventextra":"{\"hangupcause\":-4}"}`, err: "hangupcause"},
		{name: "nested", json: true, line: `{"eventtype":"ANSWER","eventtime":"1796584921","uniqueid":{"a":1}}`, err: "not a string"},
		{name: "epoch out of range", line: `"CHAN_START","17.1","1.2","1.2","","","","","","","","","",""`, err: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseCELLine(tt.line, tt.json, time.UTC)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !tt.check(r) {
				t.Fatalf("got %+v, %v", r, err)
			}
		})
	}
}

// TestIsCELLine: the format of a backfilled file is told apart from its
// first line.
func TestIsCELLine(t *testing.T) {
	for line, want := range map[string]bool{
		`"CHAN_START","1796584921.753168","1.2"`:                             true,
		`{"eventtype":"CHAN_START"}`:                                         true,
		`"","1001","1002","phones","""Alice"" <1001>","PJSIP/1001-00000002"`: false,
		`{"uniqueid":"1.2","disposition":"ANSWERED"}`:                        false,
		`{broken`:             false,
		`"accountcode","src"`: false,
	} {
		if got := isCELLine(line); got != want {
			t.Errorf("isCELLine(%s) = %v, want %v", line, got, want)
		}
	}
}

// TestParseCELInterleaved: calls whose rows interleave (a burst) come out
// whole, each leg once; a call still open at the end is left out, and
// the tail of a call whose start is not in the file gives nothing.
func TestParseCELInterleaved(t *testing.T) {
	a := celLinesOf(t, "cel-answered-5s-no-ari.jsonl")
	b := celLinesOf(t, "cel-busy.jsonl")
	n := celLinesOf(t, "cel-noanswer.jsonl")
	var mixed []string
	for i := 0; i < len(a); i++ {
		mixed = append(mixed, a[i])
		if i < len(b) {
			mixed = append(mixed, b[i])
		}
	}
	mixed = append(mixed, n[:4]...) // still open at the end
	mixed = append(a[6:], mixed...) // the tail of a call begun earlier
	recs, bad, err := ParseCEL(strings.NewReader(strings.Join(mixed, "\n")), testOptions())
	if err != nil || len(bad) != 0 {
		t.Fatal(err, bad)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.CallID)
	}
	if got := strings.Join(ids, " "); got != "1796584940.4 1796584940.5 1796584921.2 1796584921.3" {
		t.Errorf("legs %s", got)
	}
}

func celLinesOf(t *testing.T, name string) []string {
	b, err := os.ReadFile(filepath.Join("testdata", "cel", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestParseCSVReadsCEL: ParseCSV (switchboard cdr import) hands a
// cel_custom file to ParseCEL.
func TestParseCSVReadsCEL(t *testing.T) {
	for _, name := range []string{"cel-busy.csv", "cel-answered-5s-no-ari.jsonl"} {
		b, err := os.ReadFile(filepath.Join("testdata", "cel", name))
		if err != nil {
			t.Fatal(err)
		}
		got, bad, err := ParseCSV(bytes.NewReader(append([]byte("\n"), b...)), testOptions())
		if err != nil || len(bad) != 0 {
			t.Fatal(err, bad)
		}
		want, _ := parseCELFile(t, name)
		sameRecords(t, got, want)
	}
}

// TestCELFolderLongCall: a call that stays open keeps the checkpoint at
// its first line but not the calls finished after it in memory.
func TestCELFolderLongCall(t *testing.T) {
	f := newCELFolder()
	row := func(event, id, linked string) celRow {
		return celRow{event: event, uniqueid: id, linkedid: linked, at: time.Unix(1796584921, 0)}
	}
	f.add(row("CHAN_START", "1.0", "1.0"), 0, 1)
	for i := 1; i <= 100; i++ {
		id := fmt.Sprintf("1.%d", i)
		off := int64(i * 100)
		for j, ev := range []string{"CHAN_START", "HANGUP", "CHAN_END", "LINKEDID_END"} {
			f.add(row(ev, id, id), off+int64(j*10), 2+4*(i-1)+j)
		}
	}
	if got := len(f.take(&CSVOptions{Switch: "ast1"})); got != 100 {
		t.Fatalf("%d legs taken, want 100", got)
	}
	off, line := f.safePoint(99999, 999)
	if off != 0 || line != 0 || len(f.order) != 1 || len(f.byLeg) != 1 {
		t.Errorf("safe point %d line %d, %d calls in order, %d legs indexed; want 0, 0, 1, 1", off, line, len(f.order), len(f.byLeg))
	}
}
