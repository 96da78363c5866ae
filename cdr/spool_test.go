package cdr

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// spoolRecord is a record with every field set, Raw included.
func spoolRecord(callID string) Record {
	end := time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)
	answer := end.Add(-40 * time.Second)
	return Record{
		Switch: "fs1", CallID: callID, LinkedID: "l-" + callID, Direction: DirectionOutbound,
		Domain: "example.com", Account: "alice", Gateway: "carrier", CallerNumber: "+331",
		CallerName: "Alice \"A\"\n\t", Dialed: "0049", Destination: "+49", Start: end.Add(-time.Minute),
		Answer: &answer, End: end, Duration: 60, Billsec: 40, Disposition: Answered, Cause: 16,
		CauseText: "NORMAL_CLEARING", SIPStatus: 200, Codec: "PCMA", UserAgent: "UA",
		Raw: json.RawMessage(`{"variables":{"uuid":"` + callID + `","note":"line\nbreak"}}`),
	}
}

// readAll decodes a whole segment.
func readAll(t testing.TB, b []byte) (entries []spoolEntry, damage []*spoolDamage) {
	t.Helper()
	sr := newSegmentReader(bytes.NewReader(b))
	for {
		e, d, err := sr.next()
		if errors.Is(err, io.EOF) {
			return entries, damage
		}
		if err != nil {
			t.Fatal(err)
		}
		if d != nil {
			damage = append(damage, d)
		} else {
			entries = append(entries, e)
		}
	}
}

func TestSpoolLineRoundTrip(t *testing.T) {
	recs := []Record{spoolRecord("a"), {Switch: "s", CallID: "b", End: time.Unix(1, 0).UTC()}}
	dls := []DeadLetter{{Source: "json_cdr", Reason: "bad", Raw: "{\x00\n", ReceivedAt: time.Unix(2, 0).UTC()}}
	seg := SpoolLines(recs, dls)
	if n := bytes.Count(seg, []byte{'\n'}); n != 3 {
		t.Fatalf("%d lines for 3 entries:\n%s", n, seg)
	}
	entries, damage := readAll(t, seg)
	if len(damage) != 0 || len(entries) != 3 {
		t.Fatalf("%d entries, damage %v", len(entries), damage)
	}
	for i, r := range recs {
		if entries[i].rec == nil || !reflect.DeepEqual(*entries[i].rec, r) {
			t.Errorf("record %d: got %+v, want %+v", i, entries[i].rec, r)
		}
	}
	if entries[2].dl == nil || !reflect.DeepEqual(*entries[2].dl, dls[0]) {
		t.Errorf("dead letter: got %+v, want %+v", entries[2].dl, dls[0])
	}
}

// Damage of every kind is reported with its offset, and reading goes on
// at the next good line.
func TestSpoolReaderDamage(t *testing.T) {
	line := func(id string) []byte { return SpoolLines([]Record{spoolRecord(id)}, nil) }
	a, b, c := line("a"), line("b"), line("c")
	flip := func(l []byte, at int) []byte {
		l = bytes.Clone(l)
		l[at] ^= 0x20
		return l
	}
	cases := []struct {
		name     string
		segment  []byte
		want     []string // call ids read
		damageAt []int64
		reason   string
	}{
		{"intact", concat(a, b, c), []string{"a", "b", "c"}, nil, ""},
		{"torn last record", concat(a, b, c[:len(c)-7]), []string{"a", "b"}, []int64{int64(len(a) + len(b))}, "torn"},
		{"only the newline missing", concat(a, b, c[:len(c)-1]), []string{"a", "b", "c"}, nil, ""},
		{"torn in the header", concat(a, c[:5]), []string{"a"}, []int64{int64(len(a))}, "torn"},
		{"corrupt body in the middle", concat(a, flip(b, 40), c), []string{"a", "c"}, []int64{int64(len(a))}, "checksum mismatch"},
		{"corrupt checksum", concat(a, otherDigit(b, 3), c), []string{"a", "c"}, []int64{int64(len(a))}, "checksum mismatch"},
		{"newline lost", concat(a, b[:len(b)-1], c), []string{"a"}, []int64{int64(len(a))}, "checksum mismatch"},
		{"stray newline", concat(a, b[:30], []byte("\n"), b[30:], c), []string{"a", "c"}, []int64{int64(len(a)), int64(len(a) + 31)}, "checksum mismatch"},
		{"unknown kind", concat(a, flip(b, 0)), []string{"a"}, []int64{int64(len(a))}, "unknown kind"},
		{"empty line", concat(a, []byte("\n"), c), []string{"a", "c"}, []int64{int64(len(a))}, "malformed"},
		{"zeroes (a preallocated tail)", concat(a, make([]byte, 100)), []string{"a"}, []int64{int64(len(a))}, "torn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entries, damage := readAll(t, c.segment)
			var got []string
			for _, e := range entries {
				got = append(got, e.rec.CallID)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("read %v, want %v", got, c.want)
			}
			var at []int64
			for _, d := range damage {
				at = append(at, d.offset)
				if len(d.raw) == 0 {
					t.Errorf("damage at %d keeps no bytes", d.offset)
				}
			}
			if !reflect.DeepEqual(at, c.damageAt) {
				t.Errorf("damage at %v, want %v", at, c.damageAt)
			}
			if len(damage) > 0 && !strings.Contains(damage[0].reason, c.reason) {
				t.Errorf("reason %q, want it to mention %q", damage[0].reason, c.reason)
			}
		})
	}
}

func TestSpoolReaderLongLine(t *testing.T) {
	long := bytes.Repeat([]byte("x"), maxSpoolLine+10)
	seg := concat(SpoolLines([]Record{spoolRecord("a")}, nil), long, []byte("\n"), SpoolLines([]Record{spoolRecord("b")}, nil))
	entries, damage := readAll(t, seg)
	if len(entries) != 2 || entries[0].rec.CallID != "a" || entries[1].rec.CallID != "b" {
		t.Errorf("entries %d, want a and b", len(entries))
	}
	if len(damage) != 1 || len(damage[0].raw) != maxDamageRaw || !strings.Contains(damage[0].reason, "longer") {
		t.Errorf("damage %d (%v)", len(damage), damage)
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// otherDigit returns l with the hex digit at i replaced by another.
func otherDigit(l []byte, i int) []byte {
	l = bytes.Clone(l)
	if l[i] == '0' {
		l[i] = '1'
	} else {
		l[i] = '0'
	}
	return l
}

// openTestSpool opens a spool in a fresh directory.
func openTestSpool(t *testing.T, dir string) *spool {
	t.Helper()
	s, err := openSpool(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSpoolSegments(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir)
	if ok, err := s.append(SpoolLines([]Record{spoolRecord("x")}, nil), 1, false); ok || err != nil {
		t.Fatalf("append while not spooling: %v, %v", ok, err)
	}
	for _, id := range []string{"a", "b"} {
		if ok, err := s.append(SpoolLines([]Record{spoolRecord(id)}, nil), 1, true); !ok || err != nil {
			t.Fatalf("forced append: %v, %v", ok, err)
		}
	}
	st := s.stats()
	if !st.spooling || st.records != 2 || st.segments != 1 || st.bytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	// The drainer seals the active segment; later appends start another.
	seg, ok := s.next()
	if !ok || seg.records != 2 {
		t.Fatalf("next: %+v, %v", seg, ok)
	}
	if ok, err := s.append(SpoolLines([]Record{spoolRecord("c")}, nil), 1, false); !ok || err != nil {
		t.Fatalf("append while spooling: %v, %v", ok, err)
	}
	if err := s.remove(seg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(seg.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("drained segment still there: %v", err)
	}
	// A second spool on the same directory is refused while this one is
	// open; reopened after close, it finds the segment left.
	if _, err := openSpool(dir, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a second spool opened the same directory")
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	s = openTestSpool(t, dir)
	defer s.close()
	st = s.stats()
	if !st.spooling || st.records != 1 || st.segments != 1 {
		t.Errorf("reopened: %+v", st)
	}
	seg, _ = s.next()
	b, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := readAll(t, b); len(entries) != 1 || entries[0].rec.CallID != "c" {
		t.Errorf("left segment holds %v", entries)
	}
	if err := s.remove(seg); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.next(); ok || s.isSpooling() {
		t.Error("an empty spool is still in use")
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix)); len(names) != 0 {
		t.Errorf("segments left: %v", names)
	}
}

// FuzzSpoolDecode feeds the segment reader arbitrary bytes: it must never
// panic or loop, must account for every byte (as entries or damage), and
// what it decodes must encode back to a line that decodes the same.
func FuzzSpoolDecode(f *testing.F) {
	good := SpoolLines([]Record{spoolRecord("a"), {Switch: "s", CallID: "b"}}, []DeadLetter{{Source: "x", Raw: "\xff"}})
	f.Add(good)
	f.Add(good[:len(good)-9])
	f.Add([]byte("r 00000000 {}\n"))
	f.Add([]byte("d 12345678 null\n\n\nr"))
	f.Add([]byte("r zzzzzzzz {\"call_id\":1}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sr := newSegmentReader(bytes.NewReader(b))
		for lines := 0; ; lines++ {
			if lines > len(b) {
				t.Fatalf("more results than bytes")
			}
			e, d, err := sr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if d != nil {
				if d.offset < 0 || d.offset >= int64(len(b)) || len(d.raw) > maxDamageRaw {
					t.Fatalf("damage %+v out of bounds", d)
				}
				continue
			}
			if (e.rec == nil) == (e.dl == nil) {
				t.Fatalf("entry %+v is neither or both", e)
			}
			line, err := appendSpoolLine(nil, e)
			if err != nil {
				// A record decoded from a foreign line may hold what
				// encoding/json cannot write back (Raw that is not
				// JSON): the pipeline then stores it as a dead letter.
				continue
			}
			again, err := decodeSpoolLine(line[:len(line)-1])
			if err != nil {
				t.Fatalf("re-encoded line does not decode: %v\n%s", err, line)
			}
			if !reflect.DeepEqual(again, e) {
				t.Fatalf("round trip changed the entry: %+v != %+v", again, e)
			}
		}
		if sr.off != int64(len(b)) {
			t.Fatalf("read %d of %d bytes", sr.off, len(b))
		}
	})
}
