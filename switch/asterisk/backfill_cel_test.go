package asterisk

import (
	"github.com/switchboard-voip/switchboard/cdr"
	"strings"
	"testing"
)

// celFileRecords is what ParseCEL makes of a recorded CEL file.
func celFileRecords(t *testing.T, name string) []string {
	t.Helper()
	recs, _ := parseCELFile(t, name)
	return callIDs(recs)
}

// TestBackfillCEL tails a cel_custom file of two interleaved calls: no
// leg goes before its call ends (LINKEDID_END), the checkpoint stays at
// the first line of the oldest call still open, and a restart from it
// delivers the rest of that call whole and nothing of the call delivered
// before (whose first rows lie before the checkpoint).
func TestBackfillCEL(t *testing.T) {
	h := newHarness(t)
	h.path = strings.TrimSuffix(h.path, "Master.csv") + "cel.jsonl"
	busy := celLinesOf(t, "cel-busy.jsonl")                   // 7 rows
	answered := celLinesOf(t, "cel-answered-5s-no-ari.jsonl") // 13 rows
	var first []string                                        // b0 a0 b1 a1 b2 a2 b3 a3
	for i := 0; i < 4; i++ {
		first = append(first, busy[i]+"\n", answered[i]+"\n")
	}
	h.appendLines(first...)
	h.start(1000) // never idle: only LINKEDID_END finishes a call
	h.waitRecords(0)
	if cp := h.checkpoint(); cp.Offset != 0 {
		t.Errorf("checkpoint %+v with both calls open, want 0", cp)
	}

	h.appendLines(busy[4]+"\n", busy[5]+"\n", busy[6]+"\n")
	got := h.waitRecords(2)
	sameRecords(t, got, mustParseCEL(t, "cel-busy.jsonl"))
	want := int64(len(busy[0]) + 1) // the answered call's first line
	waitFor(t, 5e9, "checkpoint at the open call", func() bool { return h.checkpoint().Offset == want })
	if cp := h.checkpoint(); cp.Line != 1 {
		t.Errorf("checkpoint %+v, want line 1", cp)
	}

	h.stop()
	rest := make([]string, 0, 9)
	for _, l := range answered[4:] {
		rest = append(rest, l+"\n")
	}
	h.appendLines(rest...)
	h.start(1000)
	got = h.waitRecords(2)
	sameRecords(t, got, mustParseCEL(t, "cel-answered-5s-no-ari.jsonl"))
	if ids := celFileRecords(t, "cel-answered-5s-no-ari.jsonl"); strings.Join(callIDs(got), " ") != strings.Join(ids, " ") {
		t.Errorf("legs %v, want %v", callIDs(got), ids)
	}
	h.stop()
	if cp := h.checkpoint(); cp.Offset != fileSize(t, h.path) || cp.Line != 20 {
		t.Errorf("checkpoint %+v, want the end (line 20)", cp)
	}
}

// TestBackfillCELWithoutLinkedidEnd: with LINKEDID_END left out of
// cel.conf, a call goes once the file has been idle and all its legs have
// ended; a call with a leg still up waits.
func TestBackfillCELWithoutLinkedidEnd(t *testing.T) {
	h := newHarness(t)
	h.path = strings.TrimSuffix(h.path, "Master.csv") + "cel.csv"
	var lines []string
	for _, name := range []string{"cel-noanswer.csv", "cel-answered-5s-no-ari.csv"} {
		for _, l := range celLinesOf(t, name) {
			if !strings.HasPrefix(l, `"LINKEDID_END"`) {
				lines = append(lines, l+"\n")
			}
		}
	}
	h.appendLines(lines[:len(lines)-1]...) // the callee's CHAN_END missing
	h.start(2)
	got := h.waitRecords(2)
	sameRecords(t, got, stripLinkedidEnd(t, "cel-noanswer.csv"))
	h.appendLines(lines[len(lines)-1])
	got = h.waitRecords(4)
	sameRecords(t, got[2:], stripLinkedidEnd(t, "cel-answered-5s-no-ari.csv"))
}

func mustParseCEL(t *testing.T, name string) []cdr.Record {
	t.Helper()
	recs, _ := parseCELFile(t, name)
	return recs
}

func stripLinkedidEnd(t *testing.T, name string) []cdr.Record {
	t.Helper()
	var keep []string
	for _, l := range celLinesOf(t, name) {
		if !strings.HasPrefix(l, `"LINKEDID_END"`) {
			keep = append(keep, l)
		}
	}
	recs, bad, err := ParseCEL(strings.NewReader(strings.Join(keep, "\n")), testOptions())
	if err != nil || len(bad) != 0 {
		t.Fatal(err, bad)
	}
	return recs
}
