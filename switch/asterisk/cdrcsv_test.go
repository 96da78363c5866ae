package asterisk

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testOptions are the options of the recorded Asterisk: its gateway
// endpoint is called "gateway".
func testOptions() CSVOptions {
	return CSVOptions{
		Switch:    "ast1",
		Domain:    "pbx.example",
		IsGateway: func(ep string) bool { return ep == "gateway" },
	}
}

func parseFile(t *testing.T, name string, opt CSVOptions) ([]cdr.Record, []BadRow) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "cdr", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, bad, err := ParseCSV(f, opt)
	if err != nil {
		t.Fatalf("ParseCSV(%s): %v", name, err)
	}
	return recs, bad
}

// TestParseCSVGolden compares the Records parsed from every file in
// testdata/cdr with its .golden.json; -update rewrites them.
func TestParseCSVGolden(t *testing.T) {
	for _, name := range []string{"master.csv", "cdr-custom-master.jsonl", "layouts.csv", "malformed.csv"} {
		t.Run(name, func(t *testing.T) {
			recs, bad := parseFile(t, name, testOptions())
			checkGolden(t, filepath.Join("testdata", "cdr", name+".golden.json"), struct {
				Records []cdr.Record `json:"records"`
				Bad     []BadRow     `json:"bad"`
			}{recs, bad})
		})
	}
}

// TestParseCSVRecordedCalls checks the recorded CDRs field by field against
// what ../shared/testdata/asterisk/events/README.md says happened.
func TestParseCSVRecordedCalls(t *testing.T) {
	type want struct {
		dialed, destination string
		direction           cdr.Direction
		gateway             string
		disposition         cdr.Disposition
		duration, billsec   int
		answered            bool
		rows                int // CDR rows Asterisk wrote for the uniqueid
	}
	calls := map[string]want{
		// 1: answered after 1.5 s, caller BYE: 6/5.
		"1795610108.0": {"1002", "1002", cdr.DirectionInternal, "", cdr.Answered, 6, 5, true, 1},
		// 2: 1003 not registered, no callee channel: FAILED 0/0.
		"1795610117.2": {"1003", "1003", cdr.DirectionInternal, "", cdr.Failed, 0, 0, false, 1},
		// 3: echo, Asterisk hung up: ANSWERED 7/7, lastapp Echo.
		"1795610119.3": {"600", "Echo", cdr.DirectionInternal, "", cdr.Answered, 7, 7, true, 1},
		// 4: 486 from 1002: two BUSY rows, one record.
		"1795610130.4": {"1002", "1002", cdr.DirectionInternal, "", cdr.Busy, 0, 0, false, 2},
		// 5: rang 8 s: NO ANSWER rows 8/0 and 0/0, one record of 8/0.
		"1795610134.6": {"1002", "1002", cdr.DirectionInternal, "", cdr.NoAnswer, 8, 0, false, 2},
		// 6: Stasis app: ANSWERED 3/3.
		"1795610146.8": {"700", "recorder,fixture", cdr.DirectionInternal, "", cdr.Answered, 3, 3, true, 1},
		// 7: through the gateway: ANSWERED 4/3, dstchannel PJSIP/gateway-0000000a.
		"1795610153.9": {"9555", "555@gateway", cdr.DirectionOutbound, "gateway", cdr.Answered, 4, 3, true, 1},
	}
	for _, file := range []string{"master.csv", "cdr-custom-master.jsonl"} {
		t.Run(file, func(t *testing.T) {
			recs, bad := parseFile(t, file, testOptions())
			if len(bad) != 0 {
				t.Fatalf("bad rows in a recorded file: %v", bad)
			}
			if len(recs) != len(calls) {
				t.Fatalf("%d records, want %d (one per uniqueid)", len(recs), len(calls))
			}
			for _, r := range recs {
				w, ok := calls[r.CallID]
				if !ok {
					t.Errorf("unexpected uniqueid %s", r.CallID)
					continue
				}
				var rows []json.RawMessage
				if err := json.Unmarshal(r.Raw, &rows); err != nil {
					t.Fatalf("%s: raw is not a JSON array: %v", r.CallID, err)
				}
				got := want{r.Dialed, r.Destination, r.Direction, r.Gateway, r.Disposition, r.Duration, r.Billsec, r.Answer != nil, len(rows)}
				if got != w {
					t.Errorf("%s:\n got %+v\nwant %+v", r.CallID, got, w)
				}
				if r.Switch != "ast1" || r.Domain != "pbx.example" || r.Account != "1001" ||
					r.CallerNumber != "1001" || r.CallerName != "Alice" || r.LinkedID != r.CallID {
					t.Errorf("%s: parties %q %q %q %q %q %q", r.CallID, r.Switch, r.Domain, r.Account, r.CallerNumber, r.CallerName, r.LinkedID)
				}
				if r.Cause != 0 || r.SIPStatus != 0 {
					t.Errorf("%s: CSV has no cause or SIP status, got %d/%d", r.CallID, r.Cause, r.SIPStatus)
				}
				if r.Answer != nil && r.End.Sub(*r.Answer) > time.Duration(r.Billsec+1)*time.Second {
					t.Errorf("%s: answer %v end %v disagree with billsec %d", r.CallID, r.Answer, r.End, r.Billsec)
				}
			}
		})
	}
}

// TestCSVAndJSONLinesAgree: Master.csv and the cdr_custom JSON lines of the
// same calls give the same Records, apart from Raw.
func TestCSVAndJSONLinesAgree(t *testing.T) {
	csv, _ := parseFile(t, "master.csv", testOptions())
	jsonl, _ := parseFile(t, "cdr-custom-master.jsonl", testOptions())
	byID := map[string]cdr.Record{}
	for _, r := range jsonl {
		byID[r.CallID] = r
	}
	if len(csv) != len(jsonl) {
		t.Fatalf("%d records from CSV, %d from JSON lines", len(csv), len(jsonl))
	}
	for _, c := range csv {
		j, ok := byID[c.CallID]
		if !ok {
			t.Errorf("%s only in the CSV", c.CallID)
			continue
		}
		c.Raw, j.Raw = nil, nil
		if !recordsEqual(c, j) {
			t.Errorf("%s:\n csv  %+v\n json %+v", c.CallID, c, j)
		}
	}
}

func recordsEqual(a, b cdr.Record) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// row builds an 18-column cdr_csv row.
func row(channel, dstchannel, lastapp, lastdata, start, answer, end string, duration, billsec int, disposition, uniqueid string) string {
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	date := func(s string) string {
		if s == "" {
			return ""
		}
		return q(s)
	}
	return strings.Join([]string{
		q(""), q("1001"), q("1002"), q("phones"), q(`"Alice" <1001>`), q(channel), q(dstchannel),
		q(lastapp), q(lastdata), date(start), date(answer), date(end),
		fmt.Sprint(duration), fmt.Sprint(billsec), q(disposition), q("DOCUMENTATION"), q(uniqueid), q(""),
	}, ",")
}

func mustParse(t *testing.T, input string, opt CSVOptions) []cdr.Record {
	t.Helper()
	recs, bad, err := ParseCSV(strings.NewReader(input), opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 0 {
		t.Fatalf("bad rows: %v", bad)
	}
	return recs
}

// TestParseCSVMerge covers the rule that rows sharing a uniqueid make one
// Record.
func TestParseCSVMerge(t *testing.T) {
	const d = "2026-11-25 12:35:"
	type out struct {
		id          string
		start, end  string // seconds of 12:35
		answer      string // "" when unanswered
		duration    int
		billsec     int
		disposition cdr.Disposition
		destination string
		rows        int
	}
	tests := []struct {
		name  string
		lines []string
		want  []out
	}{{
		name: "busy: Dial and Hangup rows are one record",
		lines: []string{
			row("PJSIP/1001-04", "PJSIP/1002-05", "Dial", "PJSIP/1002,8", d+"30", "", d+"30", 0, 0, "BUSY", "1.4"),
			row("PJSIP/1001-04", "", "Hangup", "", d+"30", "", d+"30", 0, 0, "BUSY", "1.4"),
		},
		want: []out{{"1.4", "30", "30", "", 0, 0, cdr.Busy, "1002", 2}},
	}, {
		name: "no answer: 8/0 then 0/0 keeps the first row's parties and the largest duration",
		lines: []string{
			row("PJSIP/1001-06", "PJSIP/1002-07", "Dial", "PJSIP/1002,8", d+"34", "", d+"42", 8, 0, "NO ANSWER", "1.6"),
			row("PJSIP/1001-06", "", "Hangup", "", d+"42", "", d+"42", 0, 0, "NO ANSWER", "1.6"),
		},
		want: []out{{"1.6", "34", "42", "", 8, 0, cdr.NoAnswer, "1002", 2}},
	}, {
		name: "earliest start, latest end, earliest answer, largest billsec, first disposition",
		lines: []string{
			row("PJSIP/1001-01", "PJSIP/1002-02", "Dial", "PJSIP/1002,8", d+"20", d+"25", d+"30", 10, 5, "ANSWERED", "1.1"),
			row("PJSIP/1001-01", "PJSIP/1003-03", "Dial", "PJSIP/1003,8", d+"10", d+"12", d+"40", 30, 28, "NO ANSWER", "1.1"),
		},
		want: []out{{"1.1", "10", "40", "12", 30, 28, cdr.Answered, "1002", 2}},
	}, {
		name: "interleaved calls keep the order of first appearance",
		lines: []string{
			row("PJSIP/1001-01", "", "Dial", "PJSIP/1002,8", d+"01", "", d+"02", 1, 0, "BUSY", "1.1"),
			row("PJSIP/1001-02", "", "Echo", "", d+"03", d+"03", d+"09", 6, 6, "ANSWERED", "1.2"),
			row("PJSIP/1001-01", "", "Hangup", "", d+"02", "", d+"05", 0, 0, "BUSY", "1.1"),
		},
		want: []out{
			{"1.1", "01", "05", "", 1, 0, cdr.Busy, "1002", 2},
			{"1.2", "03", "09", "03", 6, 6, cdr.Answered, "Echo", 1},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := mustParse(t, strings.Join(tt.lines, "\n")+"\n", testOptions())
			var got []out
			for _, r := range recs {
				var rows []json.RawMessage
				if err := json.Unmarshal(r.Raw, &rows); err != nil {
					t.Fatal(err)
				}
				o := out{r.CallID, r.Start.Format("05"), r.End.Format("05"), "", r.Duration, r.Billsec, r.Disposition, r.Destination, len(rows)}
				if r.Answer != nil {
					o.answer = r.Answer.Format("05")
				}
				got = append(got, o)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}

	t.Run("linkedid from a later row when the first has none", func(t *testing.T) {
		recs := mustParse(t, `{"uniqueid":"1.1","start":"2026-11-25 12:00:00","end":"2026-11-25 12:00:01","disposition":"BUSY"}
{"uniqueid":"1.1","linkedid":"1.0","start":"2026-11-25 12:00:00","end":"2026-11-25 12:00:02","disposition":"BUSY"}
`, testOptions())
		if len(recs) != 1 || recs[0].LinkedID != "1.0" || recs[0].Duration != 2 {
			t.Errorf("got %+v", recs)
		}
	})
}

// TestParseCSVTimeZones: Asterisk writes local time unless usegmtime=yes.
func TestParseCSVTimeZones(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	newYork := time.FixedZone("EST", -5*3600)
	base := row("PJSIP/1001-01", "PJSIP/1002-02", "Dial", "PJSIP/1002,8", "2026-11-25 12:35:08", "2026-11-25 12:35:10", "2026-11-25 12:35:15", 7, 5, "ANSWERED", "1.1")
	tests := []struct {
		name  string
		input string
		loc   *time.Location
		start string // RFC 3339 in UTC
		ans   string
	}{
		{"nil location is UTC", base, nil, "2026-11-25T12:35:08Z", "2026-11-25T12:35:10Z"},
		{"UTC+1", base, paris, "2026-11-25T11:35:08Z", "2026-11-25T11:35:10Z"},
		{"UTC-5", base, newYork, "2026-11-25T17:35:08Z", "2026-11-25T17:35:10Z"},
		{"fractional seconds", strings.Replace(base, "12:35:08", "12:35:08.250", 1), paris, "2026-11-25T11:35:08.25Z", "2026-11-25T11:35:10Z"},
		{"epoch int64 ignores the location",
			`{"uniqueid":"1.1","start":1795610108,"answer":1795610110,"end":1795610115,"disposition":"ANSWERED"}`,
			paris, "2026-11-25T12:35:08Z", "2026-11-25T12:35:10Z"},
		{"epoch double, unset answer as 0",
			`{"uniqueid":"1.1","start":"1795610108.5","answer":0,"end":1795610115,"disposition":"NO ANSWER"}`,
			paris, "2026-11-25T12:35:08.5Z", ""},
		{"own offset wins over the location",
			`{"uniqueid":"1.1","start":"2026-11-25T13:35:08+0100","end":"2026-11-25T13:35:15+01:00","disposition":"FAILED"}`,
			newYork, "2026-11-25T12:35:08Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := testOptions()
			opt.Location = tt.loc
			recs := mustParse(t, tt.input, opt)
			if len(recs) != 1 {
				t.Fatalf("%d records", len(recs))
			}
			r := recs[0]
			if got := r.Start.Format(time.RFC3339Nano); got != tt.start {
				t.Errorf("start %s, want %s", got, tt.start)
			}
			var ans string
			if r.Answer != nil {
				ans = r.Answer.Format(time.RFC3339Nano)
			}
			if ans != tt.ans {
				t.Errorf("answer %q, want %q", ans, tt.ans)
			}
			if r.Start.Location() != time.UTC || r.End.Location() != time.UTC {
				t.Errorf("times not in UTC: %v %v", r.Start, r.End)
			}
		})
	}
}

// TestParseCSVDirection covers the classification of channels.
func TestParseCSVDirection(t *testing.T) {
	gws := map[string]bool{"gateway": true, "carrier-a": true}
	isGW := func(ep string) bool { return gws[ep] }
	const s, e = "2026-11-25 12:00:00", "2026-11-25 12:00:05"
	tests := []struct {
		name                       string
		channel, dst, app, data    string
		isGateway                  func(string) bool
		direction                  cdr.Direction
		account, gateway, destined string
	}{
		{"local to local", "PJSIP/1001-00000001", "PJSIP/1002-00000002", "Dial", "PJSIP/1002,20", isGW, cdr.DirectionInternal, "1001", "", "1002"},
		{"local to gateway", "PJSIP/1001-00000001", "PJSIP/gateway-0000000a", "Dial", "PJSIP/555@gateway,20", isGW, cdr.DirectionOutbound, "1001", "gateway", "555@gateway"},
		{"gateway with a dash in its name", "PJSIP/1001-00000001", "PJSIP/carrier-a-0000000b", "Dial", "PJSIP/carrier-a/sip:555@203.0.113.9", isGW, cdr.DirectionOutbound, "1001", "carrier-a", "carrier-a/sip:555@203.0.113.9"},
		{"gateway to local", "PJSIP/gateway-00000003", "PJSIP/1002-00000004", "Dial", "PJSIP/1002,20", isGW, cdr.DirectionInbound, "1002", "gateway", "1002"},
		{"gateway to an app", "PJSIP/gateway-00000003", "", "VoiceMail", "1002@default", isGW, cdr.DirectionInbound, "", "gateway", "1002@default"},
		{"no callee channel, Dial to a gateway", "PJSIP/1001-00000001", "", "Dial", "PJSIP/555@gateway,20", isGW, cdr.DirectionOutbound, "1001", "gateway", "555@gateway"},
		{"nil IsGateway: nothing is a gateway", "PJSIP/1001-00000001", "PJSIP/gateway-0000000a", "Dial", "PJSIP/555@gateway,20", nil, cdr.DirectionInternal, "1001", "", "555@gateway"},
		{"chan_sip", "SIP/1001-0000abcd", "SIP/gateway-0000abce", "Dial", "SIP/gateway/555", isGW, cdr.DirectionOutbound, "1001", "gateway", "gateway/555"},
		{"Local channel is no account", "Local/600@phones-00000001;2", "PJSIP/1002-00000002", "Dial", "PJSIP/1002", isGW, cdr.DirectionInternal, "", "", "1002"},
		{"gateway to gateway counts as inbound", "PJSIP/carrier-a-00000001", "PJSIP/gateway-00000002", "Dial", "PJSIP/555@gateway", isGW, cdr.DirectionInbound, "", "carrier-a", "555@gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := testOptions()
			opt.IsGateway = tt.isGateway
			recs := mustParse(t, row(tt.channel, tt.dst, tt.app, tt.data, s, s, e, 5, 5, "ANSWERED", "1.1"), opt)
			r := recs[0]
			if r.Direction != tt.direction || r.Account != tt.account || r.Gateway != tt.gateway || r.Destination != tt.destined {
				t.Errorf("got %s account=%q gateway=%q destination=%q, want %s %q %q %q",
					r.Direction, r.Account, r.Gateway, r.Destination, tt.direction, tt.account, tt.gateway, tt.destined)
			}
		})
	}
}

// TestParseCSVLayouts covers the column sets cdr_csv writes with its
// options, and cdr_custom's sample mapping.
func TestParseCSVLayouts(t *testing.T) {
	base := `"acc","1001","1002","phones","""Alice"" <1001>","PJSIP/1001-01","PJSIP/1002-02","Dial","PJSIP/1002,8","2026-11-25 12:35:08","2026-11-25 12:35:10","2026-11-25 12:35:15",7,5,"ANSWERED","DOCUMENTATION"`
	tests := []struct {
		name     string
		line     string
		linkedid string // "" when the row must be refused
		reason   string
	}{
		{"16 columns: no uniqueid", base, "", "no uniqueid column"},
		{"17 with uniqueid", base + `,"1795610108.0"`, "1795610108.0", ""},
		{"17 with uniqueid and systemname", base + `,"pbx1-1795610108.0"`, "pbx1-1795610108.0", ""},
		{"17 with userfield only", base + `,"vip"`, "", "no uniqueid column"},
		{"18", base + `,"1795610108.0","vip"`, "1795610108.0", ""},
		{"19 newcdrcolumns without uniqueid", base + `,"","1795610100.0",3`, "", "no uniqueid column"},
		{"20 uniqueid and newcdrcolumns", base + `,"1795610108.0","","1795610100.0",3`, "1795610100.0", ""},
		{"21 everything", base + `,"1795610108.0","vip","peer","1795610100.0",3`, "1795610100.0", ""},
		{"19 cdr_custom sample", `"""Alice"" <1001>","1001","1002","phones","PJSIP/1001-01","PJSIP/1002-02","Dial","PJSIP/1002,8","2026-11-25 12:35:08","2026-11-25 12:35:10","2026-11-25 12:35:15","7","5","ANSWERED","DOCUMENTATION","acc","1795610108.0","vip",0`, "1795610108.0", ""},
		{"15 columns", `"","1001","1002","phones","","PJSIP/1001-01","","Dial","","2026-11-25 12:35:08",,"2026-11-25 12:35:15",7,5,"ANSWERED"`, "", "15 columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, bad, err := ParseCSV(strings.NewReader(tt.line), testOptions())
			if err != nil {
				t.Fatal(err)
			}
			if tt.reason != "" {
				if len(recs) != 0 || len(bad) != 1 || !strings.Contains(bad[0].Reason, tt.reason) {
					t.Fatalf("got %v / %v, want one bad row %q", recs, bad, tt.reason)
				}
				return
			}
			if len(bad) != 0 || len(recs) != 1 {
				t.Fatalf("got %v / %v", recs, bad)
			}
			r := recs[0]
			if r.LinkedID != tt.linkedid || r.CallerName != "Alice" || r.Dialed != "1002" || r.Billsec != 5 ||
				r.Duration != 7 || r.Account != "1001" || r.Disposition != cdr.Answered {
				t.Errorf("got %+v", r)
			}
		})
	}
}

// TestParseCSVBadRows: malformed and truncated rows come back with their
// line numbers, never dropped and never stopping the rest.
func TestParseCSVBadRows(t *testing.T) {
	good := func(id string) string {
		return row("PJSIP/1001-01", "", "Echo", "", "2026-11-25 12:00:00", "2026-11-25 12:00:00", "2026-11-25 12:00:03", 3, 3, "ANSWERED", id)
	}
	lines := []string{
		good("1.1"), // 1
		"",          // 2: blank, skipped
		`"","1001","1002","phones","""Alice"" <10`,                                         // 3: cut inside a quoted field
		strings.Replace(good("1.4"), `"2026-11-25 12:00:00"`, `"2026-13-45 99:00:00"`, 1),  // 4
		strings.Replace(good("1.5"), ",3,3,", ",x,3,", 1),                                  // 5
		strings.Replace(good("1.6"), `"ANSWERED"`, `"MAYBE"`, 1),                           // 6
		strings.Replace(good("1.7"), `"1.7"`, `""`, 1),                                     // 7
		`"","1001","1002","phones"`,                                                        // 8: truncated between fields
		strings.Replace(good("1.9"), `"Echo"`, `"Ec"ho"`, 1),                               // 9
		strings.Replace(good("1.10"), ",3,3,", ",-1,3,", 1),                                // 10
		strings.Replace(good("1.11"), `"2026-11-25 12:00:03"`, `"2026-11-25 11:00:00"`, 1), // 11
		strings.Replace(good("1.12"), `"2026-11-25 12:00:00",`, `,`, 1),                    // 12: no start
		"\x00\x01garbage", // 13
		good("1.14"),      // 14
		good("1.15")[:60], // 15: truncated last line, no newline
	}
	input := strings.Join(lines, "\r\n")
	recs, bad, err := ParseCSV(strings.NewReader(input), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.CallID)
	}
	if fmt.Sprint(ids) != "[1.1 1.14]" {
		t.Errorf("records %v, want [1.1 1.14]", ids)
	}
	want := map[int]string{
		3:  "unterminated quoted field",
		4:  "start:",
		5:  "duration:",
		6:  `unknown disposition "MAYBE"`,
		7:  "empty uniqueid",
		8:  "4 columns",
		9:  "after the closing quote",
		10: "duration: -1 out of range",
		11: "end before start",
		12: "no start time",
		13: "1 columns",
		15: "6 columns",
	}
	if len(bad) != len(want) {
		t.Errorf("%d bad rows, want %d: %v", len(bad), len(want), bad)
	}
	for _, b := range bad {
		w, ok := want[b.Line]
		if !ok || !strings.Contains(b.Reason, w) {
			t.Errorf("line %d: reason %q, want %q", b.Line, b.Reason, w)
		}
		if b.Raw != lines[b.Line-1] {
			t.Errorf("line %d: raw %q, want %q", b.Line, b.Raw, lines[b.Line-1])
		}
	}
}

func TestParseCSVBadJSONLines(t *testing.T) {
	input := strings.Join([]string{
		`{"uniqueid":"1.1","start":"2026-11-25 12:00:00","end":"2026-11-25 12:00:01","disposition":"ANSWERED","answer":"2026-11-25 12:00:00","billsec":1,"duration":1}`,
		`{"uniqueid":"1.2","start":"2026-11-25 12:00:00",`,
		`["not","an","object"]`,
		`null`,
		`{"uniqueid":{"nested":1},"start":"2026-11-25 12:00:00","end":"2026-11-25 12:00:01","disposition":"BUSY"}`,
		`{"uniqueid":"1.6","start":"2026-11-25 12:00:00","end":"2026-11-25 12:00:01","disposition":"BUSY"} trailing`,
		`{"uniqueid":"1.7","start":"2026-11-25 12:00:00","end":"2026-11-25 12:00:01","disposition":"BUSY","userfield":{"free":"form"}}`,
	}, "\n")
	recs, bad, err := ParseCSV(strings.NewReader(input), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].CallID != "1.1" || recs[1].CallID != "1.7" {
		t.Errorf("records %+v", recs)
	}
	want := map[int]string{2: "not a JSON object", 3: "not a JSON object", 4: "not a JSON object: null", 5: `field "uniqueid"`, 6: "not a JSON object"}
	if len(bad) != len(want) {
		t.Errorf("bad rows %v", bad)
	}
	for _, b := range bad {
		if !strings.Contains(b.Reason, want[b.Line]) {
			t.Errorf("line %d: %q, want %q", b.Line, b.Reason, want[b.Line])
		}
	}
}

func TestParseCSVLongLine(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes+10)
	good := row("PJSIP/1001-01", "", "Echo", "", "2026-11-25 12:00:00", "", "2026-11-25 12:00:03", 3, 0, "NO ANSWER", "1.1")
	recs, bad, err := ParseCSV(strings.NewReader(long+"\n"+good+"\n"), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || len(bad) != 1 || bad[0].Line != 1 || len(bad[0].Raw) != maxLineBytes {
		t.Fatalf("recs %d bad %v", len(recs), len(bad))
	}
}

func TestParseCSVErrors(t *testing.T) {
	if _, _, err := ParseCSV(strings.NewReader(""), CSVOptions{}); !errors.Is(err, ErrNoSwitch) {
		t.Errorf("no switch: %v", err)
	}
	recs, bad, err := ParseCSV(strings.NewReader(""), testOptions())
	if err != nil || recs != nil || bad != nil {
		t.Errorf("empty input: %v %v %v", recs, bad, err)
	}
	// A read error returns what was parsed before it.
	good := row("PJSIP/1001-01", "", "Echo", "", "2026-11-25 12:00:00", "", "2026-11-25 12:00:03", 3, 0, "NO ANSWER", "1.1")
	boom := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader(good+"\n"), errReader{boom})
	recs, _, err = ParseCSV(r, testOptions())
	if !errors.Is(err, boom) || len(recs) != 1 {
		t.Errorf("read error: %d records, %v", len(recs), err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestCallerName(t *testing.T) {
	tests := []struct{ clid, src, name, number string }{
		{`"Alice" <1001>`, "1001", "Alice", "1001"},
		{`Bob Smith <+3312345>`, "+3312345", "Bob Smith", "+3312345"},
		{`"" <1001>`, "1001", "", "1001"},
		{`<1001>`, "1001", "", "1001"},
		{`1001`, "1001", "", ""},
		{`"Carol"`, "", "Carol", ""},
		{`"Say \"hi\"" <1>`, "1", `Say "hi"`, "1"},
		{``, "", "", ""},
	}
	for _, tt := range tests {
		if got := callerName(tt.clid, tt.src); got != tt.name {
			t.Errorf("callerName(%q) = %q, want %q", tt.clid, got, tt.name)
		}
		if got := callerNumber(tt.clid); got != tt.number {
			t.Errorf("callerNumber(%q) = %q, want %q", tt.clid, got, tt.number)
		}
	}
}
