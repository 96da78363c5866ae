package soundfiles

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// fakeSource is provisioning's side in memory: sounds and their audio
// (the audio says which sound, version and rate it is).
type fakeSource struct {
	sounds map[int64]provisioning.Sound
	reads  int
}

func (f *fakeSource) AllSounds(context.Context) ([]provisioning.Sound, error) {
	var out []provisioning.Sound
	for _, s := range f.sounds {
		out = append(out, s)
	}
	return out, nil
}

func (f *fakeSource) SoundAudio(_ context.Context, _ provisioning.Scope, id int64, rate int) (*provisioning.Sound, []byte, error) {
	s, ok := f.sounds[id]
	if !ok {
		return nil, nil, provisioning.NotFound("sound", id)
	}
	f.reads++
	return &s, []byte(fmt.Sprintf("%d %s %d", id, s.SHA256, rate)), nil
}

func layout(s provisioning.Sound, rate int) string {
	return fmt.Sprintf("t%d/%d/s%d.wav", s.TenantID, rate, s.ID)
}

// TestSync: files appear for every sound and rate, are rewritten when a
// sound's audio changes or a file goes missing, disappear with their
// sound; files the keeper did not write are left alone; a sync with
// nothing to do reads no audio and changes nothing.
func TestSync(t *testing.T) {
	dir := t.TempDir()
	src := &fakeSource{sounds: map[int64]provisioning.Sound{
		1: {ID: 1, TenantID: 7, SHA256: "aaa"},
		2: {ID: 2, TenantID: 8, SHA256: "bbb"},
	}}
	k := New(Config{Node: "n1", Dir: dir, Layout: layout, Source: src})
	ctx := context.Background()
	foreign := filepath.Join(dir, "t7", "8000", "operator.wav")
	must(t, os.MkdirAll(filepath.Dir(foreign), 0o755))
	must(t, os.WriteFile(foreign, []byte("mine"), 0o644))

	content := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return "missing"
		}
		return string(b)
	}
	sync := func(wantChanged bool) {
		t.Helper()
		changed, err := k.Sync(ctx)
		must(t, err)
		if changed != wantChanged {
			t.Fatalf("Sync changed = %v, want %v", changed, wantChanged)
		}
	}
	sync(true)
	for _, tc := range []struct{ rel, want string }{
		{"t7/8000/s1.wav", "1 aaa 8000"}, {"t7/16000/s1.wav", "1 aaa 16000"},
		{"t8/8000/s2.wav", "2 bbb 8000"}, {"t8/16000/s2.wav", "2 bbb 16000"},
	} {
		if got := content(tc.rel); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.rel, got, tc.want)
		}
	}

	reads := src.reads
	sync(false)
	if src.reads != reads {
		t.Errorf("a sync with nothing to do read %d files", src.reads-reads)
	}

	// A new upload, a deleted sound, a file removed by hand.
	src.sounds[1] = provisioning.Sound{ID: 1, TenantID: 7, SHA256: "ccc"}
	delete(src.sounds, 2)
	sync(true)
	if got := content("t7/8000/s1.wav"); got != "1 ccc 8000" {
		t.Errorf("after a new upload: %q", got)
	}
	if got := content("t8/16000/s2.wav"); got != "missing" {
		t.Errorf("a deleted sound's file is still there: %q", got)
	}
	must(t, os.Remove(filepath.Join(dir, "t7", "16000", "s1.wav")))
	sync(true)
	if got := content("t7/16000/s1.wav"); got != "1 ccc 16000" {
		t.Errorf("a file removed by hand was not written again: %q", got)
	}
	if got := content("t7/8000/operator.wav"); got != "mine" {
		t.Errorf("a file the keeper did not write changed: %q", got)
	}

	// A damaged manifest: every file written again, nothing removed.
	must(t, os.WriteFile(filepath.Join(dir, ManifestName), []byte("{not json"), 0o644))
	sync(true)
	if got := content("t7/8000/operator.wav"); got != "mine" {
		t.Errorf("after a damaged manifest: the operator's file %q", got)
	}
}

// TestApply: only sound changes start a sync.
func TestApply(t *testing.T) {
	dir := t.TempDir()
	src := &fakeSource{sounds: map[int64]provisioning.Sound{3: {ID: 3, TenantID: 1, SHA256: "x"}}}
	k := New(Config{Node: "n1", Dir: dir, Layout: layout, Source: src, Debounce: 1, Every: 3600e9})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitWrites := func(n int) {
		t.Helper()
		for range 500 {
			if k.Counts() >= n {
				return
			}
			sleep()
		}
		t.Fatalf("%d syncs that changed files, want %d", k.Counts(), n)
	}
	waitWrites(1)
	src.sounds[4] = provisioning.Sound{ID: 4, TenantID: 1, SHA256: "y"}
	_ = k.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Account: &provisioning.Account{}})
	sleepN(20)
	if k.Counts() != 1 {
		t.Errorf("an account change synced the sounds")
	}
	_ = k.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Sound: &provisioning.Sound{ID: 4}})
	waitWrites(2)
	if _, err := os.Stat(filepath.Join(dir, "t1", "8000", "s"+strconv.Itoa(4)+".wav")); err != nil {
		t.Errorf("sound 4 not written: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sleep()       { sleepN(1) }
func sleepN(n int) { time.Sleep(time.Duration(n) * 10 * time.Millisecond) }
