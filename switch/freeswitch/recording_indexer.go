package freeswitch

// The recording indexer: record_session writes a recorded call into
// recordings_dir as t<tenant>-<uuid>.wav (routing_recording.go); the
// indexer hands each complete file to provisioning (DepositRecording,
// once per switch and uuid) and removes it.
//
//   - On RECORD_STOP (ESL): FreeSWITCH fires it after closing the file
//     (switch_ivr_async.c record_callback, on the media bug's close at
//     hang-up), with Record-File-Path, the channel's headers and
//     variables (Caller-Channel-Bridged-Time: the recording starts at
//     the bridge, RECORD_BRIDGE_REQ; Answered-Time when there is none)
//     and Record-Completion-Cause. A call never answered leaves
//     an empty file that FreeSWITCH has already removed
//     (Record-Completion-Cause: empty-file): nothing to do.
//   - A scan of recordings_dir every ScanEvery takes the files whose
//     event was missed (Switchboard was away when the call ended): those
//     whose channel is gone (uuid_exists false), asked over the node's
//     ESL. While the ESL is down the scan waits: a file whose channel
//     may still be up is never taken (FreeSWITCH would go on writing
//     into a removed file).
//   - A deposit that fails keeps the file for the next scan; depositing
//     again is a no-op (once per switch ref). A file without a sample
//     (provisioning.ErrNoAudio: the call was not answered, and
//     FreeSWITCH did not discard it) is removed like a deposited one.

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// recordStopEvent is the event FreeSWITCH fires when a recording ends.
const recordStopEvent = "RECORD_STOP"

// RecordingService is what the indexer needs of provisioning (the
// Service).
type RecordingService interface {
	DepositRecording(ctx context.Context, r *provisioning.Recording, wav []byte) (bool, error)
}

// RecordingIndexerConfig configures a RecordingIndexer.
type RecordingIndexerConfig struct {
	Node    string // the node's name: Recording.Switch
	Service RecordingService
	Dir     string // NodeConfig.RecordingsDir
	// ScanEvery is the scan's period; 1 minute when zero.
	ScanEvery time.Duration
	// Settle is how long a file must be left unchanged before the scan
	// takes it once its channel is gone (the switch closes it as the
	// channel goes); 2 seconds when zero.
	Settle time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// RecordingIndexer deposits one node's call recordings; see the file
// comment. Give it to the node's Adapter (Config.Recording) and Run it
// with the adapter (its ESL answers uuid_exists for the scan).
type RecordingIndexer struct {
	cfg    RecordingIndexerConfig
	log    *slog.Logger
	events indexQueue
}

// NewRecordingIndexer returns an indexer; call Run.
func NewRecordingIndexer(cfg RecordingIndexerConfig) *RecordingIndexer {
	cfg.ScanEvery = cmp.Or(cfg.ScanEvery, time.Minute)
	cfg.Settle = cmp.Or(cfg.Settle, 2*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &RecordingIndexer{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()), events: newIndexQueue()}
}

// RecordingEvent takes an event of the node (the Adapter hands it every
// RECORD_STOP); it never blocks: when the queue is full the event is
// dropped and its file waits for the scan.
func (ix *RecordingIndexer) RecordingEvent(ev Event) {
	if ev.Name() == recordStopEvent {
		ix.events.offer(ev)
	}
}

// Run deposits recordings until ctx ends: a scan at once, then events
// and a scan every ScanEvery. api asks the node whether a channel is
// up (the Adapter).
func (ix *RecordingIndexer) Run(ctx context.Context, api Commander) error {
	return ix.events.run(ctx, ix.cfg.ScanEvery, func(ev Event) { ix.event(ctx, ev) }, func() { ix.scan(ctx, api) })
}

// event deposits the file a RECORD_STOP names, if it is one of ours.
func (ix *RecordingIndexer) event(ctx context.Context, ev Event) {
	// the switch's path; the file is read from Dir as this daemon sees it
	name := filepath.Base(strings.ReplaceAll(ev.Get("Record-File-Path"), `\`, "/"))
	tenant, uuid, ok := parseRecordingFileName(name)
	if !ok {
		return // another recording (not the routing's)
	}
	var started time.Time
	for _, h := range []string{"Caller-Channel-Bridged-Time", "Caller-Channel-Answered-Time"} {
		if us, err := strconv.ParseInt(ev.Get(h), 10, 64); err == nil && us > 0 {
			started = time.UnixMicro(us).UTC()
			break
		}
	}
	ix.deposit(ctx, filepath.Join(ix.cfg.Dir, name), &provisioning.Recording{TenantID: tenant, Switch: ix.cfg.Node, SwitchRef: uuid, StartedAt: started}, time.Time{})
}

// scan deposits the files whose channel is gone: their event was
// missed.
func (ix *RecordingIndexer) scan(ctx context.Context, api Commander) {
	ents, err := os.ReadDir(ix.cfg.Dir)
	if err != nil {
		ix.log.Warn("freeswitch: recordings_dir unreadable", "node", ix.cfg.Node, "dir", ix.cfg.Dir, "err", err)
		return
	}
	for _, e := range ents {
		tenant, uuid, ok := parseRecordingFileName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || ix.cfg.Now().Sub(info.ModTime()) < ix.cfg.Settle {
			continue
		}
		up, err := channelExists(ctx, api, uuid)
		if err != nil {
			ix.log.Debug("freeswitch: recordings scan waits for the ESL", "node", ix.cfg.Node, "err", err)
			return
		}
		if up {
			continue
		}
		// it ended at its last write
		ix.deposit(ctx, filepath.Join(ix.cfg.Dir, e.Name()), &provisioning.Recording{TenantID: tenant, Switch: ix.cfg.Node, SwitchRef: uuid}, info.ModTime())
	}
}

// channelExists asks the node whether channel uuid is up.
func channelExists(ctx context.Context, api Commander, uuid string) (bool, error) {
	if api == nil {
		return false, errors.New("freeswitch: no ESL to ask")
	}
	ans, err := api.API(ctx, "uuid_exists "+uuid)
	if err != nil {
		return false, err
	}
	switch strings.TrimSpace(ans) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("freeswitch: uuid_exists answered " + strconv.Quote(ans))
}

// deposit hands one file to provisioning and removes it once kept (or
// found without audio). Without a start time, one is taken from ended
// (when the file was last written) less the audio's length.
func (ix *RecordingIndexer) deposit(ctx context.Context, path string, r *provisioning.Recording, ended time.Time) {
	wav, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return // discarded by the switch (never answered), or deposited by the other path
	}
	if err != nil {
		ix.log.Warn("freeswitch: recording unreadable", "node", ix.cfg.Node, "file", path, "err", err)
		return
	}
	if r.StartedAt.IsZero() && !ended.IsZero() {
		if wi, err := audio.ProbeWAV(wav); err == nil {
			r.StartedAt = ended.Add(-wi.Duration).UTC()
		}
	}
	created := false
	if len(wav) == 0 {
		err = provisioning.ErrNoAudio // not even a header: nothing was recorded
	} else {
		created, err = ix.cfg.Service.DepositRecording(ctx, r, wav)
	}
	switch {
	case errors.Is(err, provisioning.ErrNoAudio):
		ix.log.Debug("freeswitch: recording without audio removed", "node", ix.cfg.Node, "file", path)
	case err != nil:
		ix.log.Warn("freeswitch: recording not deposited (kept for the next scan)", "node", ix.cfg.Node, "file", path,
			"tenant", strconv.FormatInt(r.TenantID, 10), "err", err)
		return
	default:
		ix.log.Info("freeswitch: recording deposited", "node", ix.cfg.Node, "uuid", r.SwitchRef, "tenant", r.TenantID,
			"ms", r.DurationMS, "bytes", len(wav), "new", created)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		ix.log.Warn("freeswitch: deposited recording not removed", "node", ix.cfg.Node, "file", path, "err", err)
	}
}
