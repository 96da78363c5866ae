package genfile

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWriteIfChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "extensions_switchboard.conf")
	for _, step := range []struct {
		data  string
		wrote bool
	}{
		{"a\n", true},  // new file
		{"a\n", false}, // same content: left alone
		{"b\n", true},  // changed
		{"", true},     // emptied
		{"", false},
	} {
		wrote, err := WriteIfChanged(path, []byte(step.data), 0o640)
		if err != nil {
			t.Fatal(err)
		}
		if wrote != step.wrote {
			t.Errorf("writing %q: wrote = %v, want %v", step.data, wrote, step.wrote)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != step.data {
			t.Fatalf("file = %q, %v; want %q", got, err, step.data)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file (no temporary left)", len(entries))
	}
	if _, err := WriteIfChanged(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Error("write into a missing directory: no error")
	}
}

// TestWriteIfChangedReplacesAtomically: a reader never sees a file that
// is neither the old nor the new content, even while writes go on.
func TestWriteIfChangedReplacesAtomically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	old := make([]byte, 1<<16)
	newer := make([]byte, 1<<17)
	for i := range old {
		old[i] = 'a'
	}
	for i := range newer {
		newer[i] = 'b'
	}
	if _, err := WriteIfChanged(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			data := old
			if i%2 == 0 {
				data = newer
			}
			if _, err := WriteIfChanged(path, data, 0o644); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 300 {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(old) && string(got) != string(newer) {
			t.Fatalf("read a file of %d bytes that is neither version", len(got))
		}
	}
	stop.Store(true)
	wg.Wait()
}

// TestKeeper: the first sync writes and reloads; a change is written and
// reloaded once per burst; an unchanged render reloads nothing; a failed
// reload is retried until it succeeds.
func TestKeeper(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dids.xml")
	var mu sync.Mutex
	content := "v1"
	var failReloads int
	var reloads []string
	k := New(Config{
		Path: path,
		Render: func(context.Context) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			return []byte(content), nil
		},
		Reload: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			if failReloads > 0 {
				failReloads--
				return errors.New("switch unreachable")
			}
			b, _ := os.ReadFile(path)
			reloads = append(reloads, string(b))
			return nil
		},
		Debounce: 20 * time.Millisecond,
		RetryMin: 10 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	}()
	waitReloads := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			got := append([]string(nil), reloads...)
			mu.Unlock()
			if len(got) >= len(want) {
				if len(got) != len(want) {
					t.Fatalf("reloads = %q, want %q", got, want)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("reloads = %q, want %q", got, want)
					}
				}
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("reloads = %q, want %q", reloads, want)
	}
	waitReloads("v1")

	// A burst of changes: one write, one reload, after a failed reload.
	mu.Lock()
	content = "v2"
	failReloads = 2
	mu.Unlock()
	for range 5 {
		k.Changed()
	}
	waitReloads("v1", "v2")

	// Nothing changed: no write, no reload.
	k.Changed()
	time.Sleep(100 * time.Millisecond)
	waitReloads("v1", "v2")
	if w, r := k.Counts(); w != 2 || r != 2 {
		t.Errorf("Counts = %d writes, %d reloads; want 2, 2", w, r)
	}
}

// TestKeeperUnchangedAtStart: a file already right at start is not
// rewritten, but the switch is reloaded once (the daemon may have died
// between a write and its reload).
func TestKeeperUnchangedAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("same"), 0o644); err != nil {
		t.Fatal(err)
	}
	var reloads atomic.Int32
	k := New(Config{
		Path:   path,
		Render: func(context.Context) ([]byte, error) { return []byte("same"), nil },
		Reload: func(context.Context) error { reloads.Add(1); return nil },
	})
	if err := k.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := k.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w, _ := k.Counts(); w != 0 || reloads.Load() != 1 {
		t.Errorf("writes = %d, reloads = %d; want 0, 1", w, reloads.Load())
	}
}

// levelCounter counts log records by level.
type levelCounter struct {
	mu sync.Mutex
	n  map[slog.Level]int
}

func (c *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *levelCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[slog.Level]int{}
	}
	c.n[r.Level]++
	return nil
}
func (c *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *levelCounter) WithGroup(string) slog.Handler      { return c }
func (c *levelCounter) count(l slog.Level) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[l]
}

// TestKeeperLogsRepeatedFailures: a reload that fails once (the switch's
// connection not up yet at daemon start) is no warning; one that keeps
// failing is.
func TestKeeperLogsRepeatedFailures(t *testing.T) {
	for _, tc := range []struct {
		fails    int32
		warnings bool
	}{{1, false}, {3, true}} {
		logs := &levelCounter{}
		var calls atomic.Int32
		k := New(Config{
			Path:   filepath.Join(t.TempDir(), "f"),
			Render: func(context.Context) ([]byte, error) { return []byte("x"), nil },
			Reload: func(context.Context) error {
				if calls.Add(1) <= tc.fails {
					return errors.New("not connected to the node")
				}
				return nil
			},
			RetryMin: time.Millisecond,
			Logger:   slog.New(logs),
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- k.Run(ctx) }()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, r := k.Counts(); r == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("never reloaded")
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-done
		if got := logs.count(slog.LevelWarn) > 0; got != tc.warnings {
			t.Errorf("%d failed reloads: warnings logged %v, want %v", tc.fails, got, tc.warnings)
		}
	}
}
