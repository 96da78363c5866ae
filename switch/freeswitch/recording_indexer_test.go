package freeswitch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// testRecordingWAV is a call recording as record_session writes it:
// 8 kHz mono 16-bit PCM, secs of a tone (no samples for 0).
func testRecordingWAV(t testing.TB, secs float64) []byte {
	t.Helper()
	c := &audio.Clip{Rate: 8000, Samples: make([]int16, int(secs*8000))}
	for i := range c.Samples {
		c.Samples[i] = int16(6000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var b bytes.Buffer
	if err := c.WriteWAV(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// recordStop is a RECORD_STOP as switch_ivr_async.c (FreeSWITCH 1.10.12)
// fires it: the channel's headers, the file as the switch sees it.
func recordStop(uuid, path string, answered time.Time) Event {
	h := map[string]string{"Event-Name": recordStopEvent, "Unique-ID": uuid, "Record-File-Path": path,
		"Caller-Channel-Answered-Time": "0"}
	if !answered.IsZero() {
		h["Caller-Channel-Answered-Time"] = strconv.FormatInt(answered.UnixMicro(), 10)
	}
	return NewEvent(h, nil)
}

// uuidExists is a Commander that answers uuid_exists from a set of live
// channels, or fails (the ESL down).
type uuidExists struct {
	mu   sync.Mutex
	up   map[string]bool
	down bool
}

func (u *uuidExists) API(_ context.Context, cmd string) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.down {
		return "", errors.New("esl down")
	}
	uuid, ok := strings.CutPrefix(cmd, "uuid_exists ")
	if !ok {
		return "-ERR " + cmd + " Command not found!\n", nil
	}
	return strconv.FormatBool(u.up[uuid]), nil
}

// TestRecordingIndexer: RECORD_STOP deposits its file (named by the
// switch's path, read from the indexer's dir) with its length and the
// answer time as its start, and removes it; a file without samples
// (never answered) is removed without a recording; a file that fails to
// deposit stays; the scan takes a file whose event was missed once its
// channel is gone, never while it is up, not while the ESL is down,
// not while it is still being written; other files are left alone.
func TestRecordingIndexer(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		ctx := context.Background()
		tenant := f.tenant.ID
		dir := t.TempDir()
		now := time.Now()
		ix := NewRecordingIndexer(RecordingIndexerConfig{Node: "fs1", Service: f.svc, Dir: dir, Now: func() time.Time { return now },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		write := func(uuid string, b []byte, mod time.Time) string {
			p := filepath.Join(dir, recordingFileName(tenant, uuid))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mod, mod); err != nil {
				t.Fatal(err)
			}
			return p
		}
		get := func(uuid string) (provisioning.Recording, bool) {
			rs, err := f.svc.Recordings(ctx, provisioning.AdminScope(), provisioning.RecordingFilter{Switch: "fs1", Refs: []string{uuid}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 {
				return provisioning.Recording{}, false
			}
			return rs[0], true
		}
		gone := func(p string) bool { _, err := os.Stat(p); return os.IsNotExist(err) }
		old := now.Add(-time.Minute)

		answered := now.Add(-6 * time.Second).Truncate(time.Microsecond)
		ok := write("u-ok", testRecordingWAV(t, 5), old)
		ix.event(ctx, recordStop("u-ok", "/var/lib/freeswitch/recordings/"+recordingFileName(tenant, "u-ok"), answered))
		if r, found := get("u-ok"); !found || r.DurationMS != 5000 || r.TenantID != tenant || !r.StartedAt.Equal(answered) || r.Bytes != int64(len(testRecordingWAV(t, 5))) {
			t.Errorf("u-ok: %+v (found %v), want 5000 ms from %s", r, found, answered)
		}
		if !gone(ok) {
			t.Error("a deposited file was kept")
		}
		if _, wav, err := f.svc.RecordingAudio(ctx, provisioning.AdminScope(), mustRecording(t, get, "u-ok").ID); err != nil || len(wav) == 0 {
			t.Errorf("audio: %d bytes, %v", len(wav), err)
		}

		empty := write("u-empty", testRecordingWAV(t, 0), old)
		ix.event(ctx, recordStop("u-empty", empty, time.Time{}))
		if _, found := get("u-empty"); found || !gone(empty) {
			t.Errorf("a file without audio: listed %v, removed %v", found, gone(empty))
		}
		// discarded by the switch itself (empty-file): no file, no error
		ix.event(ctx, recordStop("u-discarded", filepath.Join(dir, recordingFileName(tenant, "u-discarded")), time.Time{}))

		broken := write("u-broken", []byte("RIFF not a wav"), old)
		ix.event(ctx, recordStop("u-broken", broken, now))
		if gone(broken) {
			t.Error("a file that failed to deposit was removed")
		}
		other := filepath.Join(dir, "voicemail-greeting.wav") // not the routing's
		if err := os.WriteFile(other, testRecordingWAV(t, 1), 0o644); err != nil {
			t.Fatal(err)
		}
		ix.event(ctx, recordStop("u-other", other, now))

		// the scan
		missed := write("u-missed", testRecordingWAV(t, 3), old)
		live := write("u-live", testRecordingWAV(t, 2), old)
		writing := write("u-writing", testRecordingWAV(t, 2), now)
		esl := &uuidExists{up: map[string]bool{"u-live": true}, down: true}
		ix.scan(ctx, esl)
		if _, found := get("u-missed"); found {
			t.Error("the scan took a file while it could not ask the switch")
		}
		esl.down = false
		ix.scan(ctx, esl)
		r, found := get("u-missed")
		// it ended at its last write: started 3 s before
		if !found || r.DurationMS != 3000 || r.StartedAt.Sub(old.Add(-3*time.Second)).Abs() > time.Millisecond {
			t.Errorf("u-missed after the scan: %+v (found %v)", r, found)
		}
		if !gone(missed) || gone(live) || gone(writing) {
			t.Errorf("after the scan: missed removed %v, live kept %v, being written kept %v", gone(missed), !gone(live), !gone(writing))
		}
		for _, u := range []string{"u-live", "u-writing"} {
			if _, found := get(u); found {
				t.Errorf("%s deposited while its channel is up or its file is being written", u)
			}
		}
		if gone(other) || !gone(ok) {
			t.Error("the scan touched a file that is not a recording of the routing")
		}
		// the broken file is tried again at each scan, and kept
		if gone(broken) {
			t.Error("the broken file went")
		}
	})
}

func mustRecording(t *testing.T, get func(string) (provisioning.Recording, bool), uuid string) provisioning.Recording {
	t.Helper()
	r, ok := get(uuid)
	if !ok {
		t.Fatalf("no recording %s", uuid)
	}
	return r
}

// recordingEvents is a RecordingListener that keeps what it is given.
type recordingEvents chan Event

func (c recordingEvents) RecordingEvent(ev Event) { c <- ev }

// TestAdapterRecordingEvent: the adapter subscribes to RECORD_STOP and
// hands it, as FreeSWITCH frames it over the esltest fake, to
// Config.Recording. (Listed after CUSTOM in the subscription, it was
// taken as a custom subclass and never sent, as mod_event_socket does.)
func TestAdapterRecordingEvent(t *testing.T) {
	got := make(recordingEvents, 4)
	r := newRig(t, func(c *Config) { c.Recording = got })
	r.waitConnected(t)
	if !r.srv.WaitConnected(5 * time.Second) {
		t.Fatal("no subscription")
	}
	r.srv.Push([]byte("Event-Name: RECORD_STOP\nCore-UUID: c1\nUnique-ID: u-42\n" +
		"Record-File-Path: %2Fvar%2Fspool%2Ft3-u-42.wav\nRecord-Completion-Cause: success-silence\n"))
	select {
	case ev := <-got:
		if ev.Get("Unique-ID") != "u-42" || ev.Get("Record-File-Path") != "/var/spool/t3-u-42.wav" {
			t.Errorf("event: %v", ev.Headers())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no RECORD_STOP reached Config.Recording")
	}
}
