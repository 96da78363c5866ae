package asterisk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// RecordingService is what the recording indexer needs of
// provisioning.Service.
type RecordingService interface {
	DepositRecording(ctx context.Context, r *provisioning.Recording, wav []byte) (created bool, err error)
}

var _ RecordingService = (*provisioning.Service)(nil)

// RecordingIndexerConfig configures a RecordingIndexer.
type RecordingIndexerConfig struct {
	// Node is the switch's name: the Switch of its recordings.
	Node string
	// Dir is the node's recordings_dir (NodeConfig.RecordingsDir).
	Dir     string
	Service RecordingService
	// Every is the time between scans; 2 s when zero.
	Every time.Duration
	// OrphanAfter is how long a WAV without .done is left untouched
	// before the indexer takes it as it is (DefaultOrphanAfter when
	// zero): Asterisk stopped during the call, and MixMonitor never ran
	// its command.
	OrphanAfter time.Duration
	Logger      *slog.Logger
}

// DefaultOrphanAfter: a day. MixMonitor writes every 20 ms while the
// call is bridged, but nothing while it is not (b): a call parked or in
// a queue for hours leaves its WAV untouched that long.
const DefaultOrphanAfter = 24 * time.Hour

// RecordingIndexer hands the calls Asterisk recorded
// (routing_recording.go) to Switchboard: every scan deposits each
// <tenant>-<uniqueid>.wav whose .done MixMonitor's command created once
// the file was closed, then removes both. A WAV without audio (the call
// was never answered: ErrNoAudio) is removed too. A deposit that fails
// otherwise leaves the files for a later scan, less and less often;
// DepositRecording keeps one recording per uniqueid, so files left by a
// crash between deposit and removal add nothing the second time.
//
// StartedAt is when the audio began: the .done's time (MixMonitor
// closed the file at hang-up) less the WAV's length, since MixMonitor's
// b option writes only while the call is bridged, from answer on.
type RecordingIndexer struct {
	cfg RecordingIndexerConfig
	sc  *sidecarScan
}

// NewRecordingIndexer returns an indexer; it starts nothing: call Run.
func NewRecordingIndexer(cfg RecordingIndexerConfig) *RecordingIndexer {
	if cfg.OrphanAfter <= 0 {
		cfg.OrphanAfter = DefaultOrphanAfter
	}
	return &RecordingIndexer{cfg: cfg, sc: newSidecarScan(cfg.Dir, cfg.Every, "recording", "recordings_dir", cfg.Logger)}
}

// Run scans until ctx ends.
func (x *RecordingIndexer) Run(ctx context.Context) error { return x.sc.run(ctx, x.Scan) }

// Scan deposits every complete recording once. Run calls it; tests call
// it directly.
func (x *RecordingIndexer) Scan(ctx context.Context) error {
	x.adoptOrphans()
	return x.sc.scan(ctx, x.deposit)
}

// adoptOrphans writes the .done of each WAV that has none and was not
// written for OrphanAfter, dated when it was last written, so that the
// scan takes it. Asterisk writes the WAV header's sizes only when it
// closes the file; audio.ProbeWAV reads a data chunk of size 0 to the end
// of the file, so the audio of a call cut by a crash is kept.
func (x *RecordingIndexer) adoptOrphans() {
	wavs, _ := filepath.Glob(filepath.Join(x.cfg.Dir, "*.wav"))
	for _, w := range wavs {
		base := strings.TrimSuffix(w, ".wav")
		st, err := os.Stat(w)
		if err != nil || time.Since(st.ModTime()) < x.cfg.OrphanAfter {
			continue
		}
		if _, err := os.Stat(base + ".done"); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		x.sc.log.Warn("asterisk: a recording without .done, untouched since "+st.ModTime().UTC().Format(time.RFC3339)+": taken as it is", "file", w)
		err = os.WriteFile(base+".done", nil, 0o644)
		if err == nil {
			err = os.Chtimes(base+".done", st.ModTime(), st.ModTime())
		}
		if err != nil {
			x.sc.log.Warn("asterisk: adopting a recording", "file", w, "err", err)
		}
	}
}

// errRecordingName: a file in recordings_dir not named as the dialplan
// names recordings.
var errRecordingName = errors.New("asterisk: not a recording's name")

// deposit hands one recording over and removes its files.
func (x *RecordingIndexer) deposit(ctx context.Context, base string) error {
	tenant, ref, err := parseRecordingName(filepath.Base(base))
	if err != nil {
		return err
	}
	done, err := os.Stat(base + ".done")
	if err != nil {
		return err
	}
	st, err := os.Stat(base + ".wav")
	if errors.Is(err, os.ErrNotExist) {
		// MixMonitor could not create the file (it logged why): there
		// is nothing to keep.
		x.sc.log.Warn("asterisk: a recording's .done without its WAV", "file", base)
		return os.Remove(base + ".done")
	}
	if err != nil {
		return err
	}
	if st.Size() > provisioning.MaxRecordingBytes {
		return fmt.Errorf("asterisk: recording %s: %d bytes, more than %d", base, st.Size(), provisioning.MaxRecordingBytes)
	}
	wav, err := os.ReadFile(base + ".wav")
	if err != nil {
		return err
	}
	r := &provisioning.Recording{TenantID: tenant, Switch: x.cfg.Node, SwitchRef: ref}
	if info, err := audio.ProbeWAV(wav); err == nil {
		r.StartedAt = done.ModTime().Add(-info.Duration).UTC()
	}
	_, err = x.cfg.Service.DepositRecording(ctx, r, wav)
	if err != nil && !errors.Is(err, provisioning.ErrNoAudio) {
		return err
	}
	return errors.Join(removeIfThere(base+".wav"), os.Remove(base+".done"))
}

// parseRecordingName splits <tenant>-<uniqueid> (RecordingBase).
func parseRecordingName(name string) (tenant int64, ref string, err error) {
	t, ref, ok := strings.Cut(name, "-")
	if ok && ref != "" {
		if tenant, err := strconv.ParseInt(t, 10, 64); err == nil && tenant > 0 {
			return tenant, ref, nil
		}
	}
	return 0, "", fmt.Errorf("%w: %q is not <tenant>-<uniqueid>", errRecordingName, name)
}
