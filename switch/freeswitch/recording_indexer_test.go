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

// TestRecordingIndexerRecorded replays the RECORD_STOP events recorded
// on fs-media (FreeSWITCH 1.10.12, testdata/recording: a carrier's call
// to a DID that records, answered 3 s after it came, 4.73 s of audio;
// and a call nobody answered, whose empty file FreeSWITCH removed,
// Record-Completion-Cause empty-file) through the esltest fake, the
// adapter and a running indexer: the first is listed with its length
// and its answer time as its start, the second leaves nothing. Then the
// scan over the fake's ESL: a file whose channel is up (a call in the
// fake) stays until the call ends (uuid_exists false).
func TestRecordingIndexerRecorded(t *testing.T) {
	answered, err := os.ReadFile("testdata/recording/record_stop.event")
	if err != nil {
		t.Fatal(err)
	}
	empty, err := os.ReadFile("testdata/recording/record_stop_empty.event")
	if err != nil {
		t.Fatal(err)
	}
	const uuid = "e0393685-8c7e-4ba6-a2d7-4e2840c0582e" // the recording's Unique-ID
	// (the files are younger than Settle: the event, not the scan, takes
	// the recorded one)
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		if f.tenant.ID != 1 {
			t.Fatalf("the recorded file is of tenant 1, the fixture's is %d", f.tenant.ID)
		}
		dir := t.TempDir()
		// the switch wrote 37840 samples (variable_record_samples)
		wav := testRecordingWAV(t, 37840.0/8000)
		path := filepath.Join(dir, recordingFileName(1, uuid))
		if err := os.WriteFile(path, wav, 0o644); err != nil {
			t.Fatal(err)
		}
		ix := NewRecordingIndexer(RecordingIndexerConfig{Node: "fs1", Service: f.svc, Dir: dir, ScanEvery: 50 * time.Millisecond,
			Settle: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		r := newRig(t, func(c *Config) { c.Recording = ix })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		r.waitConnected(t)
		// a call in progress, recorded: its file must wait for its end
		caller, _ := r.srv.StartCall("1001", "1002")
		live := filepath.Join(dir, recordingFileName(1, caller))
		if err := os.WriteFile(live, wav, 0o644); err != nil {
			t.Fatal(err)
		}
		go func() { done <- ix.Run(ctx, r.a) }()
		defer func() { cancel(); <-done }()
		r.srv.Push(answered, empty)
		list := func() []provisioning.Recording {
			rs, _ := f.svc.Recordings(context.Background(), provisioning.AdminScope(), provisioning.RecordingFilter{TenantID: 1})
			return rs
		}
		waitFor(t, 10*time.Second, "the recording deposited", func() bool { return len(list()) >= 1 })
		got := list()
		if len(got) != 1 {
			t.Fatalf("recordings: %+v (the live call's file was taken, or the empty one listed)", got)
		}
		// Caller-Channel-Answered-Time: 1796615024242621
		if x := got[0]; x.SwitchRef != uuid || x.DurationMS != 4730 || !x.StartedAt.Equal(time.UnixMicro(1796615024242621)) || x.Switch != "fs1" {
			t.Errorf("recording: %+v", x)
		}
		waitFor(t, 5*time.Second, "the file removed", func() bool { _, err := os.Stat(path); return os.IsNotExist(err) })
		time.Sleep(1500 * time.Millisecond) // scans past the settling time
		if _, err := os.Stat(live); err != nil {
			t.Fatalf("the scan took the file of a call in progress: %v", err)
		}
		r.srv.EndCall(caller)
		waitFor(t, 5*time.Second, "the ended call's file deposited by the scan", func() bool { return len(list()) == 2 })
	})
}
