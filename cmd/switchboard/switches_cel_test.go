package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// A daemon whose Asterisk node's cdr_file is cel_custom's file: the
// recorded call's two legs come back from it, and a call that ends while
// the ARI socket is down is stored with Asterisk's values (cause, end)
// from the CEL rows written after the reconnect, not with the
// reconnect-time guess: the backfill runs through the adapter's
// BackfillSink, which the guess waits for (cdrHold).
func TestServeWithAsteriskCEL(t *testing.T) {
	srv := aritest.New(t)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "sb.db")
	conf := filepath.Join(t.TempDir(), "switchboard.yaml")
	recorded, err := os.ReadFile("../../switch/asterisk/testdata/cel/cel-answered-5s-no-ari.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	celFile := filepath.Join(t.TempDir(), "cel.jsonl")
	if err := os.WriteFile(celFile, recorded, 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("switches:\n  - name: ast1\n    type: asterisk\n    url: %s\n    user: %s\n    password: %s\n    domain: pbx.example.com\n    metrics_url: \"-\"\n    cdr_file: %s\n",
		srv.URL, aritest.User, aritest.Password, celFile)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, dsn, "--config", conf)
	token := createToken(t, dsn)
	base := "http://" + d.addr
	if !srv.WaitSocket(10 * time.Second) {
		t.Fatal("the daemon did not open ARI's event socket")
	}
	cdrs := func() map[string]map[string]any {
		_, m := do(t, "GET", base+"/api/v1/cdrs?switch=ast1&limit=100", token, "")
		items, _ := m["items"].([]any)
		out := map[string]map[string]any{}
		for _, it := range items {
			if c, ok := it.(map[string]any); ok {
				out[fmt.Sprint(c["call_id"])] = c
			}
		}
		return out
	}
	switchtest.WaitFor(t, "both recorded legs from the CEL file", func() bool {
		got := cdrs()
		return got["1796584921.2"] != nil && got["1796584921.3"] != nil
	})
	if c := cdrs()["1796584921.3"]; c["linked_id"] != "1796584921.2" || c["caller_number"] != "1001" || c["dialed"] != "1002" ||
		c["account"] != "1002" || c["billsec"] != float64(5) || c["cause"] != float64(16) {
		t.Errorf("the callee leg from CEL: %v", c)
	}

	end := time.Now().Add(500 * time.Millisecond)
	events, caller, callee := aritest.CallEvents("1001", "1002", 3*time.Second, end)
	hangup := slices.IndexFunc(events, func(b []byte) bool { return bytes.Contains(b, []byte(`"type":"ChannelHangupRequest"`)) })
	srv.Push(events[:hangup]...)
	time.Sleep(300 * time.Millisecond)
	srv.FailNext(503, 503) // the reconnect waits while the call ends
	srv.DropSockets()
	if n := srv.Push(events[hangup:]...); n != 0 {
		t.Fatalf("the hang-up reached %d sockets during the gap", n)
	}
	// Asterisk's rows come after the reconnect, when the legs have been
	// guessed already.
	switchtest.WaitFor(t, "the reconnect", func() bool { return srv.Connects() >= 2 && srv.Sockets() >= 1 })
	time.Sleep(300 * time.Millisecond)
	appendCEL(t, celFile, caller, callee, end.Add(-5*time.Second), end.Add(-3*time.Second), end)
	switchtest.WaitFor(t, "both legs of the call that ended in the gap", func() bool {
		got := cdrs()
		return got[caller] != nil && got[callee] != nil
	})
	time.Sleep(1500 * time.Millisecond) // a second CDR would show by now
	got := cdrs()
	for _, id := range []string{caller, callee} {
		c := got[id]
		// Compared as times: JSON drops a trailing zero of the
		// microseconds (…28.13404Z for …28.134040).
		gotEnd, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(c["end"]))
		if c["cause"] != float64(16) || c["cause_text"] != "Normal Clearing" || c["billsec"] != float64(3) ||
			!gotEnd.Equal(end.UTC().Truncate(time.Microsecond)) {
			t.Errorf("leg %s: %v; want CEL's values (cause 16, billsec 3, end %v)", id, c, end)
		}
	}
}

// appendCEL appends the cel_custom JSON lines of an answered call from
// 1001 to 1002 (caller and callee uniqueids) that Asterisk writes.
func appendCEL(t *testing.T, path, caller, callee string, start, answer, end time.Time) {
	t.Helper()
	at := func(tm time.Time) string { return fmt.Sprintf("%d.%06d", tm.Unix(), tm.Nanosecond()/1000) }
	row := func(event, id string, tm time.Time, name, num, extra string) string {
		b, _ := json.Marshal(map[string]string{
			"eventtype": event, "eventtime": at(tm), "uniqueid": id, "linkedid": caller,
			"channame": name, "num": num, "name": "", "exten": "1002", "context": "phones",
			"appname": "", "appdata": "", "peer": "", "userfield": "", "eventextra": extra,
		})
		return string(b) + "\n"
	}
	a, b := "PJSIP/1001-000000a0", "PJSIP/1002-000000a1"
	hang := `{"hangupcause":16,"hangupsource":"PJSIP/1001-000000a0","dialstatus":"ANSWER"}`
	lines := []string{
		row("CHAN_START", caller, start, a, "1001", ""), row("CHAN_START", callee, start, b, "1002", ""),
		row("ANSWER", callee, answer, b, "1002", ""), row("ANSWER", caller, answer, a, "1001", ""),
		row("HANGUP", caller, end, a, "1001", hang), row("CHAN_END", caller, end, a, "1001", ""),
		row("HANGUP", callee, end, b, "1002", strings.Replace(hang, `"ANSWER"`, `""`, 1)),
		row("CHAN_END", callee, end, b, "1002", ""), row("LINKEDID_END", callee, end, b, "1002", ""),
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "")); err != nil {
		t.Fatal(err)
	}
}
