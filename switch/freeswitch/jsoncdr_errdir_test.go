package freeswitch

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// errLogFiles are mod_json_cdr's err-log-dir files recorded on 1.10.12
// (fidelity/3-json-cdr): a plain JSON one (encode=false) and the two legs
// of a call with encode=true and prefix-a-leg=true (URL-encoded, a_ prefix).
var errLogFiles = []string{
	"6b84be89-2096-4eb5-bf31-c9a5b1968141.cdr.json",
	"95eed0be-5810-42a0-b2f1-34a90efee886.cdr.json",
	"a_903d29e8-60b1-4bde-8262-3ec3d79dc055.cdr.json",
}

func readErrLogFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "err-log-dir", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// legOf is the uuid an err-log-dir file is named after.
func legOf(name string) string {
	return strings.TrimSuffix(strings.TrimPrefix(name, "a_"), ".cdr.json")
}

// TestParseJSONCDRFile reads each recorded file, and the plain one in
// every other form mod_json_cdr may write or a hand may save, as the
// leg the file is named after.
func TestParseJSONCDRFile(t *testing.T) {
	plain := readErrLogFile(t, errLogFiles[0])
	doc := strings.TrimSpace(string(plain))
	cases := []struct {
		name, leg string
		body      []byte
	}{
		{"plain (encode=false)", legOf(errLogFiles[0]), plain},
		{"url-encoded b leg (encode=true)", legOf(errLogFiles[1]), readErrLogFile(t, errLogFiles[1])},
		{"url-encoded a leg (encode=true, prefix-a-leg)", legOf(errLogFiles[2]), readErrLogFile(t, errLogFiles[2])},
		{"base64 (encode=base64)", legOf(errLogFiles[0]), []byte(base64.StdEncoding.EncodeToString([]byte(doc)) + "\n")},
		{"a saved POST body", legOf(errLogFiles[0]), []byte("cdr=" + url.QueryEscape(doc))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := ParseJSONCDRFile(tc.body, testOpt)
			if err != nil {
				t.Fatal(err)
			}
			if rec.CallID != tc.leg {
				t.Errorf("call id %q, want %q (the file's name)", rec.CallID, tc.leg)
			}
			checkRecord(t, rec, nil)
		})
	}
	for _, bad := range []string{"", "\n", "not a cdr", "%7Bnot json", "%zz"} {
		if _, err := ParseJSONCDRFile([]byte(bad), testOpt); !errors.Is(err, ErrMalformedCDR) {
			t.Errorf("ParseJSONCDRFile(%q) = %v, want ErrMalformedCDR", bad, err)
		}
	}
}

// FuzzParseJSONCDRFile feeds damaged err-log-dir files.
func FuzzParseJSONCDRFile(f *testing.F) {
	for _, n := range errLogFiles {
		f.Add(readErrLogFile(f, n))
	}
	f.Add([]byte("%7B%22variables%22%3A%7B%7D%7D"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := ParseJSONCDRFile(b, testOpt)
		checkRecord(t, rec, err)
	})
}

// errLogRig is an adapter whose err-log-dir importer runs on a temporary
// directory, polled every 10 ms.
type errLogRig struct {
	dir    string
	a      *Adapter
	sink   *recordingSink
	reg    *prometheus.Registry
	remove func(string) error
}

func newErrLogRig(t *testing.T) *errLogRig {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	a, sink, _ := startCDREndpoint(t, Config{Registerer: reg})
	return &errLogRig{dir: t.TempDir(), a: a, sink: sink, reg: reg}
}

// start runs the importer until the test ends.
func (r *errLogRig) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	cfg := ErrLogDirConfig{Dir: r.dir, Poll: 10 * time.Millisecond, Settle: time.Second, Rejects: r.sink}
	wg.Go(func() {
		w := &errLogWatch{a: r.a, cfg: cfg, kept: map[string]time.Time{}, remove: os.Remove}
		if r.remove != nil {
			w.remove = r.remove
		}
		for ctx.Err() == nil {
			w.scan(ctx)
			time.Sleep(cfg.Poll)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// put writes a file into the directory, aged so that it is settled
// unless fresh.
func (r *errLogRig) put(t *testing.T, name string, body []byte, fresh bool) {
	t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if !fresh {
		old := time.Now().Add(-time.Minute)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *errLogRig) exists(name string) bool {
	_, err := os.Stat(filepath.Join(r.dir, name))
	return err == nil
}

// TestImportErrLogDir: each record FreeSWITCH gave up posting is stored
// once and its file removed only after the sink accepted it; a sink that
// is down leaves every file for the next scan; a file still being written
// waits; a file that is not a CDR is a dead letter moved to rejected/.
func TestImportErrLogDir(t *testing.T) {
	r := newErrLogRig(t)
	r.sink.setFailing(true)
	for _, n := range errLogFiles {
		r.put(t, n, readErrLogFile(t, n), false)
	}
	r.put(t, "garbage.cdr.json", []byte("{not json"), false)
	r.put(t, "notes.txt", []byte("not a cdr file name"), false)
	r.start(t)

	// The sink refuses: nothing is acknowledged, nothing removed.
	time.Sleep(100 * time.Millisecond)
	for _, n := range errLogFiles {
		if !r.exists(n) {
			t.Fatalf("%s removed while the sink refused its record", n)
		}
	}
	r.sink.setFailing(false)
	waitFor(t, 5*time.Second, "every file imported", func() bool {
		for _, n := range errLogFiles {
			if r.exists(n) {
				return false
			}
		}
		return true
	})
	for _, n := range errLogFiles {
		if got := len(r.sink.byCall(legOf(n))); got != 1 {
			t.Errorf("%s: %d records stored, want 1", n, got)
		}
	}
	waitFor(t, 5*time.Second, "the garbage moved aside", func() bool { return !r.exists("garbage.cdr.json") })
	if _, err := os.Stat(filepath.Join(r.dir, errLogRejectedDir, "garbage.cdr.json")); err != nil {
		t.Errorf("garbage not in rejected/: %v", err)
	}
	r.sink.mu.Lock()
	dead := len(r.sink.dead)
	r.sink.mu.Unlock()
	if dead != 1 {
		t.Errorf("%d dead letters, want 1 (the garbage file)", dead)
	}
	if !r.exists("notes.txt") {
		t.Error("a file that is not *.cdr.json was touched")
	}

	// A file younger than Settle may be half written: it waits.
	fresh := errLogFiles[0]
	r.put(t, fresh, readErrLogFile(t, fresh), true)
	time.Sleep(200 * time.Millisecond)
	if !r.exists(fresh) {
		t.Fatal("a file written just now was read before it settled")
	}
	waitFor(t, 5*time.Second, "the settled file imported", func() bool { return !r.exists(fresh) })
	if got := r.sink.count(); got != len(errLogFiles)+1 {
		t.Errorf("%d records handed to the sink, want %d (the re-written file once more; the store keeps one)", got, len(errLogFiles)+1)
	}
	got := scrapeOutcomes(t, r.reg, "switchboard_freeswitch_json_cdr_err_log_files_total")
	if got["imported"] != 4 || got["dead_letter"] != 1 {
		t.Errorf("err_log_files_total = %v, want imported 4, dead_letter 1", got)
	}
}

// TestImportErrLogDirNotRemovable: a directory Switchboard may read but
// not write gets each record stored once per run, not once per scan.
func TestImportErrLogDirNotRemovable(t *testing.T) {
	r := newErrLogRig(t)
	r.remove = func(string) error { return os.ErrPermission }
	n := errLogFiles[0]
	r.put(t, n, readErrLogFile(t, n), false)
	r.start(t)
	waitFor(t, 5*time.Second, "the record stored", func() bool { return r.sink.count() == 1 })
	time.Sleep(100 * time.Millisecond) // ten more scans
	if got := r.sink.count(); got != 1 {
		t.Errorf("%d records handed to the sink, want 1", got)
	}
	if !r.exists(n) {
		t.Error("file removed although remove failed")
	}
}
