package asterisk

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// toneWAVSecs is secs of a 440 Hz tone as MixMonitor writes it (8 kHz
// 16-bit mono).
func toneWAVSecs(t *testing.T, secs float64) []byte {
	t.Helper()
	c := &audio.Clip{Rate: 8000, Samples: make([]int16, int(8000*secs))}
	for i := range c.Samples {
		c.Samples[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var b bytes.Buffer
	must(t, c.WriteWAV(&b))
	return b.Bytes()
}

// TestRecordingIndexer: a WAV with its .done is deposited for its tenant
// with the uniqueid as the switch ref, its length, and a start time of
// the .done's time less that length, and both files go; a WAV without
// .done (MixMonitor still writing) stays; an unanswered call's WAV (the
// 44-byte header MixMonitor wrote on a real Asterisk) is removed and not listed; a .done without WAV is
// removed; a file of a name the dialplan does not write stays; files of
// a call deposited already add nothing.
func TestRecordingIndexer(t *testing.T) {
	ctx := context.Background()
	admin := provisioning.AdminScope()
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	dir := t.TempDir()
	ix := NewRecordingIndexer(RecordingIndexerConfig{Node: "ast1", Dir: dir, Service: svc})
	put := func(base string, wav []byte, done bool, at time.Time) {
		t.Helper()
		if wav != nil {
			must(t, os.WriteFile(base+".wav", wav, 0o644))
		}
		if done {
			must(t, os.WriteFile(base+".done", nil, 0o644))
			must(t, os.Chtimes(base+".done", at, at))
		}
	}
	hungUp := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	ok := RecordingBase(dir, f.tenant.ID, "1796608800.11")
	put(ok, toneWAVSecs(t, 5), true, hungUp)
	writing := RecordingBase(dir, f.tenant.ID, "1796608801.12")
	put(writing, toneWAVSecs(t, 2), false, time.Time{})
	// What MixMonitor (b) left for a call never bridged, on Asterisk
	// 23.4.1: a 44-byte header whose data chunk is empty.
	header, err := os.ReadFile(filepath.Join("testdata", "recording", "unanswered.wav"))
	must(t, err)
	unanswered := RecordingBase(dir, f.tenant.ID, "1796608802.13")
	put(unanswered, header, true, hungUp)
	noWAV := RecordingBase(dir, f.tenant.ID, "1796608803.14")
	put(noWAV, nil, true, hungUp)
	odd := filepath.Join(dir, "x-1796608804.15")
	put(odd, toneWAVSecs(t, 1), true, hungUp)

	must(t, ix.Scan(ctx))
	list, err := svc.Recordings(ctx, admin, provisioning.RecordingFilter{TenantID: f.tenant.ID})
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("recordings: %+v", list)
	}
	got := list[0]
	if got.Switch != "ast1" || got.SwitchRef != "1796608800.11" || got.TenantID != f.tenant.ID || got.DurationMS != 5000 ||
		!got.StartedAt.Equal(hungUp.Add(-5*time.Second)) || got.Bytes != int64(len(toneWAVSecs(t, 5))) {
		t.Errorf("recording: %+v", got)
	}
	_, wav, err := svc.RecordingAudio(ctx, admin, got.ID)
	must(t, err)
	if !bytes.Equal(wav, toneWAVSecs(t, 5)) {
		t.Errorf("audio: %d bytes, not the file", len(wav))
	}
	for path, want := range map[string]bool{ok + ".wav": false, ok + ".done": false, writing + ".wav": true,
		unanswered + ".wav": false, unanswered + ".done": false, noWAV + ".done": false, odd + ".wav": true, odd + ".done": true} {
		_, err := os.Stat(path)
		if there := err == nil; there != want {
			t.Errorf("%s there: %v, want %v", filepath.Base(path), there, want)
		}
	}

	// The same call's files again (a crash after the deposit): nothing
	// new, and they go.
	put(ok, toneWAVSecs(t, 5), true, hungUp)
	must(t, ix.Scan(ctx))
	list, err = svc.Recordings(ctx, admin, provisioning.RecordingFilter{TenantID: f.tenant.ID})
	must(t, err)
	if len(list) != 1 {
		t.Errorf("after a second deposit: %d recordings", len(list))
	}
	if _, err := os.Stat(ok + ".wav"); err == nil {
		t.Error("the second copy is still there")
	}
}

// TestRecordingIndexerNoDir: a missing recordings_dir is an error, not
// an empty scan.
func TestRecordingIndexerNoDir(t *testing.T) {
	ix := NewRecordingIndexer(RecordingIndexerConfig{Node: "ast1", Dir: filepath.Join(t.TempDir(), "nope"), Service: newRoutingService(t)})
	if err := ix.Scan(context.Background()); err == nil {
		t.Error("no error")
	}
}

// TestParseRecordingName: <tenant>-<uniqueid>, the tenant a positive
// number.
func TestParseRecordingName(t *testing.T) {
	for name, want := range map[string]struct {
		tenant int64
		ref    string
	}{
		"3-1796608800.11": {3, "1796608800.11"}, "3-a-b": {3, "a-b"},
		"x-1.2": {}, "0-1.2": {}, "-1.2": {}, "3-": {}, "3": {},
	} {
		tenant, ref, err := parseRecordingName(name)
		if tenant != want.tenant || ref != want.ref || (err == nil) != (want.tenant != 0) {
			t.Errorf("%q: %d %q %v", name, tenant, ref, err)
		}
	}
}

// TestConfigRecordingsDir: recordings_dir must be absolute and free of
// what dialplan arguments and the shell give a meaning to.
func TestConfigRecordingsDir(t *testing.T) {
	for dir, ok := range map[string]bool{
		"/var/spool/asterisk/recordings": true, "": true, "rec": false, "/var/r,x": false, "/var/${X}": false,
		"/var/r x": false, "/var/a;b": false, "/var/a>b": false, "/var/a`b`": false,
	} {
		c := NodeConfig{URL: "http://127.0.0.1:8088/ari", User: "u", Password: "p", RecordingsDir: dir}
		c.SetDefaults()
		err := c.Validate()
		if (err == nil) != ok {
			t.Errorf("recordings_dir %q: %v", dir, err)
		}
		if err != nil && !bytes.Contains([]byte(err.Error()), []byte("recordings_dir")) {
			t.Errorf("recordings_dir %q: error does not name the key: %v", dir, err)
		}
		if ok && c.PushOptions().RecordingsDir != dir {
			t.Errorf("recordings_dir %q: not in the push options", dir)
		}
	}
}

// TestRecordingIndexerOrphan: a WAV without .done untouched for
// OrphanAfter (Asterisk stopped mid-call) is deposited as it is, its
// header's sizes still 0 as format_wav leaves them until it closes the
// file, dated from its last write; a younger one waits.
func TestRecordingIndexerOrphan(t *testing.T) {
	ctx := context.Background()
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	dir := t.TempDir()
	ix := NewRecordingIndexer(RecordingIndexerConfig{Node: "ast1", Dir: dir, Service: svc, OrphanAfter: time.Hour})
	wav := toneWAVSecs(t, 3)
	binary.LittleEndian.PutUint32(wav[4:8], 0)   // RIFF size
	binary.LittleEndian.PutUint32(wav[40:44], 0) // data size
	cut := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	old := RecordingBase(dir, f.tenant.ID, "1796608800.11")
	must(t, os.WriteFile(old+".wav", wav, 0o644))
	must(t, os.Chtimes(old+".wav", cut, cut))
	young := RecordingBase(dir, f.tenant.ID, "1796608801.12")
	must(t, os.WriteFile(young+".wav", wav, 0o644))
	must(t, ix.Scan(ctx))
	list, err := svc.Recordings(ctx, provisioning.AdminScope(), provisioning.RecordingFilter{TenantID: f.tenant.ID})
	must(t, err)
	if len(list) != 1 || list[0].SwitchRef != "1796608800.11" || list[0].DurationMS != 3000 || !list[0].StartedAt.Equal(cut.Add(-3*time.Second).UTC()) {
		t.Fatalf("recordings: %+v", list)
	}
	if _, err := os.Stat(young + ".wav"); err != nil {
		t.Errorf("the young WAV: %v", err)
	}
	if _, err := os.Stat(young + ".done"); err == nil {
		t.Error("the young WAV was given a .done")
	}
}

// FuzzParseRecordingName: a name it accepts names a tenant and a
// uniqueid that RecordingBase writes back to a name it reads the same.
func FuzzParseRecordingName(f *testing.F) {
	for _, s := range []string{"3-1796608800.11", "x-1.2", "0-1", "-", "+3-1", "03-a-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		tenant, ref, err := parseRecordingName(name)
		if err != nil {
			if !errors.Is(err, errRecordingName) {
				t.Fatalf("%q: %v", name, err)
			}
			return
		}
		if tenant <= 0 || ref == "" {
			t.Fatalf("%q: tenant %d, ref %q", name, tenant, ref)
		}
		t2, ref2, err := parseRecordingName(filepath.Base(RecordingBase("/d", tenant, ref)))
		if strings.Contains(ref, "/") {
			return // not a file name Asterisk could write
		}
		if err != nil || t2 != tenant || ref2 != ref {
			t.Fatalf("%q: %d %q, written back and read: %d %q %v", name, tenant, ref, t2, ref2, err)
		}
	})
}
