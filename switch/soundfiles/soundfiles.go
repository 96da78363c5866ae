// Package soundfiles keeps a switch's copy of the tenants' sound files
// in a directory the switch reads (the node's sounds_dir), in the layout
// that switch plays them from. The files are the switch's own: an IVR
// greeting plays while Switchboard is down or restarting, and the first
// caller never waits for a fetch. Switchboard runs beside the switch and
// already shares its configuration directory (the generated dialplan),
// so a directory costs nothing more; a switch on another machine mounts
// it.
//
// The keeper writes only files it manages, named in a manifest in the
// directory (.switchboard-sounds.json) with the checksum of what each
// holds: a new upload rewrites its files, a deleted sound loses them,
// anything else in the directory is left alone. Files are written
// atomically, so a switch never plays half a file.
package soundfiles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// Source is what the keeper reads from provisioning (the Service).
type Source interface {
	AllSounds(ctx context.Context) ([]provisioning.Sound, error)
	SoundAudio(ctx context.Context, sc provisioning.Scope, id int64, rate int) (*provisioning.Sound, []byte, error)
}

// Layout names the file of sound s at rate, relative to the directory,
// with slashes; "" leaves that rate out.
type Layout func(s provisioning.Sound, rate int) string

// ManifestName is the keeper's record of the files it wrote.
const ManifestName = ".switchboard-sounds.json"

// Config configures a Keeper.
type Config struct {
	Node   string
	Dir    string
	Layout Layout
	Source Source
	// Debounce, Every and RetryMin are genfile.Config's.
	Debounce, Every, RetryMin time.Duration
	Logger                    *slog.Logger
}

// Keeper keeps one node's sound directory. It is a provisioning
// ConfigSink: a sound change starts a sync.
type Keeper struct {
	cfg  Config
	log  *slog.Logger
	keep *genfile.Keeper
	mu   sync.Mutex // one sync at a time
}

// New returns a Keeper; Run starts it.
func New(cfg Config) *Keeper {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	k := &Keeper{cfg: cfg, log: log.With("switch", cfg.Node, "what", "sounds")}
	k.keep = genfile.New(genfile.Config{Path: cfg.Dir, Write: k.Sync, Debounce: cfg.Debounce, Every: cfg.Every,
		RetryMin: cfg.RetryMin, Logger: k.log})
	return k
}

// Run keeps the directory until ctx ends: at start, on every sound
// change, every minute, retrying with backoff.
func (k *Keeper) Run(ctx context.Context) error { return k.keep.Run(ctx) }

// Apply starts a sync after a sound change; it never blocks.
func (k *Keeper) Apply(_ context.Context, c provisioning.Change) error {
	if c.Sound != nil {
		k.keep.Changed()
	}
	return nil
}

// Counts is how many syncs changed files.
func (k *Keeper) Counts() (writes int) { w, _ := k.keep.Counts(); return w }

// Sync brings the directory up to date and reports whether it changed a
// file.
func (k *Keeper) Sync(ctx context.Context) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	sounds, err := k.cfg.Source.AllSounds(ctx)
	if err != nil {
		return false, fmt.Errorf("soundfiles: list sounds: %w", err)
	}
	type file struct {
		id   int64
		rate int
		sum  string
	}
	want := map[string]file{}
	for _, s := range sounds {
		for _, rate := range provisioning.SoundRates {
			if rel := k.cfg.Layout(s, rate); rel != "" {
				want[rel] = file{s.ID, rate, s.SHA256 + "/" + strconv.Itoa(rate)}
			}
		}
	}
	have, err := k.manifest()
	if err != nil {
		return false, err
	}
	changed := false
	defer func() {
		if changed {
			// The manifest says what is on disk, even when a later file failed.
			if err := k.writeManifest(have); err != nil {
				k.log.WarnContext(ctx, "sound manifest not written", "err", err)
			}
		}
	}()
	for _, rel := range slices.Sorted(maps.Keys(want)) {
		f := want[rel]
		path := filepath.Join(k.cfg.Dir, filepath.FromSlash(rel))
		if have[rel] == f.sum {
			if _, err := os.Stat(path); err == nil {
				continue
			}
		}
		_, wav, err := k.cfg.Source.SoundAudio(ctx, provisioning.AdminScope(), f.id, f.rate)
		if errors.Is(err, provisioning.ErrNotFound) {
			continue // deleted meanwhile: the next sync drops it
		}
		if err != nil {
			return changed, fmt.Errorf("soundfiles: audio of sound %d: %w", f.id, err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return changed, fmt.Errorf("soundfiles: %w", err)
		}
		if _, err := genfile.WriteIfChanged(path, wav, 0o644); err != nil {
			return changed, err
		}
		have[rel] = f.sum
		changed = true
	}
	for _, rel := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[rel]; ok {
			continue
		}
		err := os.Remove(filepath.Join(k.cfg.Dir, filepath.FromSlash(rel)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return changed, fmt.Errorf("soundfiles: %w", err)
		}
		delete(have, rel)
		changed = true
	}
	return changed, nil
}

func (k *Keeper) manifest() (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(k.cfg.Dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("soundfiles: %w", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		// A damaged manifest: every file is written again, none removed.
		return map[string]string{}, nil
	}
	return m, nil
}

func (k *Keeper) writeManifest(m map[string]string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(k.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("soundfiles: %w", err)
	}
	_, err = genfile.WriteIfChanged(filepath.Join(k.cfg.Dir, ManifestName), append(b, '\n'), 0o644)
	return err
}
