package asterisk

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/backoff"
)

// fakeSink records what it accepts; while fail is set it refuses.
type fakeSink struct {
	mu    sync.Mutex
	recs  []cdr.Record
	calls int
	fail  bool
}

func (s *fakeSink) Put(_ context.Context, recs ...cdr.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail {
		return errors.New("store down")
	}
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *fakeSink) setFail(v bool) { s.mu.Lock(); s.fail = v; s.mu.Unlock() }

func (s *fakeSink) snapshot() ([]cdr.Record, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]cdr.Record(nil), s.recs...), s.calls
}

// masterLines are the lines of the recorded Master.csv, each with its '\n'.
// Rows 3-4 (uniqueid .4, busy) and 5-6 (.6, no answer) are pairs.
func masterLines(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "cdr", "master.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) != 9 {
		t.Fatalf("master.csv has %d lines, want 9", len(lines))
	}
	return lines
}

// parsed is what ParseCSV makes of lines: the reference.
func parsed(t *testing.T, lines ...string) []cdr.Record {
	t.Helper()
	recs, bad, err := ParseCSV(strings.NewReader(strings.Join(lines, "")), testOptions())
	if err != nil || len(bad) > 0 {
		t.Fatalf("ParseCSV: %v %v", err, bad)
	}
	return recs
}

type backfillHarness struct {
	t      *testing.T
	dir    string
	path   string
	offset string
	sink   *fakeSink
	cancel context.CancelFunc
	done   chan error
	dead   chan BadRow
	refuse bool // the next start's sink refuses from the first Put
}

func newHarness(t *testing.T) *backfillHarness {
	dir := t.TempDir()
	return &backfillHarness{t: t, dir: dir, path: filepath.Join(dir, "Master.csv"),
		offset: filepath.Join(dir, "state", "master.offset"), dead: make(chan BadRow, 100)}
}

// start runs a new Backfill (as after a process restart) into a new sink.
func (h *backfillHarness) start(idlePolls int) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(h.offset), 0o755); err != nil {
		h.t.Fatal(err)
	}
	b, err := NewBackfill(BackfillConfig{
		Path: h.path, OffsetPath: h.offset, Options: testOptions(),
		Poll: 5 * time.Millisecond, Logger: quietLogger(),
		DeadLetter: func(_ context.Context, line int, reason, raw string) {
			h.dead <- BadRow{Line: line, Reason: reason, Raw: raw}
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	b.retry = backoff.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}
	b.idlePolls = idlePolls
	h.sink = &fakeSink{fail: h.refuse}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- b.Run(ctx, h.sink) }()
	h.t.Cleanup(h.stop)
}

// stop ends Run and checks it returned nil.
func (h *backfillHarness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		h.t.Fatal("Run did not return after cancel")
	}
}

func (h *backfillHarness) write(flag int, s string) {
	h.t.Helper()
	f, err := os.OpenFile(h.path, flag|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		h.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *backfillHarness) appendLines(lines ...string) {
	h.write(os.O_APPEND, strings.Join(lines, ""))
}

// waitRecords waits until the sink holds n records and checks it gets no
// more for a few polls.
func (h *backfillHarness) waitRecords(n int) []cdr.Record {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs, _ := h.sink.snapshot()
		if len(recs) > n {
			h.t.Fatalf("sink has %d records, want %d: %v", len(recs), n, callIDs(recs))
		}
		if len(recs) == n {
			time.Sleep(50 * time.Millisecond)
			if recs, _ = h.sink.snapshot(); len(recs) != n {
				h.t.Fatalf("sink has %d records, want %d: %v", len(recs), n, callIDs(recs))
			}
			return recs
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("sink has %d records after 5s, want %d", len(recs), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *backfillHarness) checkpoint() backfillCheckpoint {
	h.t.Helper()
	var cp backfillCheckpoint
	data, err := os.ReadFile(h.offset)
	if errors.Is(err, os.ErrNotExist) {
		return cp
	}
	if err != nil {
		h.t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cp); err != nil {
		h.t.Fatal(err)
	}
	return cp
}

func callIDs(recs []cdr.Record) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.CallID
	}
	return ids
}

func sameRecords(t *testing.T, got, want []cdr.Record) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) != string(w) {
		t.Errorf("records differ\n got: %s\nwant: %s", g, w)
	}
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestBackfillRecordedMaster: the recorded Master.csv, read from the start,
// gives the same 7 records as ParseCSV, and the checkpoint ends at its end.
func TestBackfillRecordedMaster(t *testing.T) {
	h := newHarness(t)
	lines := masterLines(t)
	h.appendLines(lines...)
	h.start(3)
	got := h.waitRecords(7)
	sameRecords(t, got, parsed(t, lines...))
	h.stop()
	if cp := h.checkpoint(); cp.Offset != fileSize(t, h.path) || cp.Line != 9 {
		t.Errorf("checkpoint = %+v, want offset %d line 9", cp, fileSize(t, h.path))
	}
}

// TestBackfillTail covers a missing file waited for, appended lines, a
// partial last line that waits for its end, and busy rows straddling polls.
func TestBackfillTail(t *testing.T) {
	h := newHarness(t)
	lines := masterLines(t)
	h.start(1000) // no idle flush: only another uniqueid releases a group
	time.Sleep(20 * time.Millisecond)
	h.appendLines(lines[0], lines[1])
	// .0 is released by .2; .2 is held back as the last group.
	got := h.waitRecords(1)
	sameRecords(t, got, parsed(t, lines[0]))

	// A partial line: nothing happens until it is complete.
	h.appendLines(lines[2][:40])
	time.Sleep(30 * time.Millisecond)
	h.waitRecords(1)
	h.appendLines(lines[2][40:])
	got = h.waitRecords(2) // .2 released by .3
	sameRecords(t, got[1:], parsed(t, lines[1]))

	// The busy pair of .4 straddles polls: its first row alone is held.
	h.appendLines(lines[3])
	got = h.waitRecords(3) // .3 released
	h.appendLines(lines[4][:10])
	time.Sleep(30 * time.Millisecond)
	h.waitRecords(3)
	h.appendLines(lines[4][10:])
	time.Sleep(30 * time.Millisecond)
	h.waitRecords(3)
	h.appendLines(lines[5])
	got = h.waitRecords(4)
	sameRecords(t, got, parsed(t, lines[:5]...))
	if len(got[3].Raw) == 0 || !strings.Contains(string(got[3].Raw), "Hangup") {
		t.Errorf(".4 not merged with its Hangup row: %s", got[3].Raw)
	}
	// The checkpoint stops before the held-back group (.6's first row).
	off := int64(len(strings.Join(lines[:5], "")))
	if cp := h.checkpoint(); cp.Offset != off || cp.Line != 5 {
		t.Errorf("checkpoint = %+v, want offset %d line 5", cp, off)
	}
}

// TestBackfillIdleFlush: the last group goes once the file is idle.
func TestBackfillIdleFlush(t *testing.T) {
	h := newHarness(t)
	lines := masterLines(t)
	h.appendLines(lines[3], lines[4])
	h.start(3)
	got := h.waitRecords(1)
	sameRecords(t, got, parsed(t, lines[3], lines[4]))
}

// TestBackfillRestart: a new Run resumes from the checkpoint; a group held
// back when the first Run ended is delivered by the second, once.
func TestBackfillRestart(t *testing.T) {
	h := newHarness(t)
	lines := masterLines(t)
	h.appendLines(lines[:4]...)
	h.start(3)
	h.waitRecords(4)
	h.stop()

	h.appendLines(lines[4:6]...)
	h.start(1000)
	// The second row of .4 arrives after .4 was flushed on idle: it comes
	// out as a record of its own (the store keeps the first), then .6's
	// first row is held back.
	got := h.waitRecords(1)
	if got[0].CallID != "1795610130.4" {
		t.Errorf("got %v, want the late .4 row", callIDs(got))
	}
	h.stop()

	h.appendLines(lines[6:]...)
	h.start(3)
	got = h.waitRecords(3) // .6 (both rows, first one re-read), .8, .9
	sameRecords(t, got, parsed(t, lines[5:]...))
}

// TestBackfillSinkErrors: a refusing sink is retried, the checkpoint does
// not move, and once it accepts every record arrives exactly once.
func TestBackfillSinkErrors(t *testing.T) {
	h := newHarness(t)
	lines := masterLines(t)
	h.appendLines(lines...)
	h.refuse = true // from Run's very first Put
	h.start(3)
	deadline := time.Now().Add(5 * time.Second)
	for _, calls := h.sink.snapshot(); calls < 5; _, calls = h.sink.snapshot() {
		if time.Now().After(deadline) {
			t.Fatalf("Put called %d times, want retries", calls)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if cp := h.checkpoint(); cp.Offset != 0 {
		t.Errorf("checkpoint moved to %+v while the sink refused", cp)
	}
	h.sink.setFail(false)
	got := h.waitRecords(7)
	sameRecords(t, got, parsed(t, lines...))
	time.Sleep(20 * time.Millisecond)
	if cp := h.checkpoint(); cp.Offset != fileSize(t, h.path) {
		t.Errorf("checkpoint = %+v, want the end of the file", cp)
	}
}

// TestBackfillTruncateAndRotate: a truncated file, one rewritten longer in
// place, and one renamed away and recreated are each read from the start,
// the old file's last lines first.
func TestBackfillTruncateAndRotate(t *testing.T) {
	h := newHarness(t)
	lines := masterLines(t)
	h.appendLines(lines[:3]...)
	h.start(3)
	h.waitRecords(3)

	// copytruncate: shorter.
	h.write(os.O_TRUNC, lines[7])
	got := h.waitRecords(4)
	sameRecords(t, got[3:], parsed(t, lines[7]))

	// Rewritten in place, longer than the offset.
	h.write(os.O_TRUNC, strings.Join(lines[:3], ""))
	got = h.waitRecords(7)
	sameRecords(t, got[4:], parsed(t, lines[:3]...))

	// Renamed away; a line lands in the old file, then a new file appears.
	if err := os.Rename(h.path, h.path+".1"); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(h.path+".1", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(lines[8])
	f.Close()
	time.Sleep(20 * time.Millisecond)
	h.appendLines(lines[3:5]...)
	got = h.waitRecords(9)
	sameRecords(t, got[7:], parsed(t, lines[8], lines[3], lines[4]))
	h.stop()
	if cp := h.checkpoint(); cp.Offset != fileSize(t, h.path) || cp.Line != 2 {
		t.Errorf("checkpoint = %+v, want the end of the new file", cp)
	}
}

// TestBackfillCheckpointOtherFile: a checkpoint taken in another file (the
// file was replaced while Switchboard was down) is not trusted.
func TestBackfillCheckpointOtherFile(t *testing.T) {
	h := newHarness(t)
	lines := masterLines(t)
	h.appendLines(lines[:3]...)
	h.start(3)
	h.waitRecords(3)
	h.stop()
	h.write(os.O_TRUNC, strings.Join(lines[7:], "")+lines[0])
	h.start(3)
	got := h.waitRecords(3)
	sameRecords(t, got, parsed(t, lines[7], lines[8], lines[0]))
}

// TestBackfillBadRows: malformed rows are dead-lettered with their line
// numbers in the file, also after a restart, and do not stop the tail.
func TestBackfillBadRows(t *testing.T) {
	h := newHarness(t)
	lines := masterLines(t)
	h.appendLines(lines[0], "not,a,cdr\n", "\n", lines[1])
	h.start(3)
	h.waitRecords(2)
	if b := <-h.dead; b.Line != 2 || b.Raw != "not,a,cdr" || b.Reason == "" {
		t.Errorf("dead letter = %+v, want line 2", b)
	}
	h.stop()
	h.appendLines("\"x\"\n", lines[2])
	h.start(3)
	h.waitRecords(1)
	if b := <-h.dead; b.Line != 5 {
		t.Errorf("dead letter after restart = %+v, want line 5", b)
	}
	select {
	case b := <-h.dead:
		t.Errorf("unexpected dead letter %+v", b)
	default:
	}
}

func TestNewBackfillValidates(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  BackfillConfig
	}{
		{"no switch", BackfillConfig{Path: "a", OffsetPath: "b"}},
		{"no path", BackfillConfig{OffsetPath: "b", Options: testOptions()}},
		{"no offset path", BackfillConfig{Path: "a", Options: testOptions()}},
		{"same paths", BackfillConfig{Path: "a", OffsetPath: "./a", Options: testOptions()}},
	} {
		if _, err := NewBackfill(c.cfg); err == nil {
			t.Errorf("%s: NewBackfill accepted %+v", c.name, c.cfg)
		}
	}
}
