// Package genfile keeps a file the daemon generates for a switch (a
// dialplan include) equal to what provisioning says, so that the switch
// can read it without Switchboard: at its start, on a reload, and while
// Switchboard is down.
//
// A file is written only when its content changes, and atomically: the
// new content goes to a temporary file in the same directory, which is
// synced and renamed over the old one, so the switch reads either the old
// file or the new one, never half of one (a switch reloading while a
// crash cut a write short would otherwise lose every route).
package genfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/switchboard-voip/switchboard/internal/debounce"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/internal/backoff"
)

// WriteIfChanged makes path hold data, with mode perm, and reports whether
// it wrote: a file that already holds data is left alone (its mode too).
// The write is atomic (temporary file, sync, rename, sync of the
// directory).
func WriteIfChanged(path string, data []byte, perm fs.FileMode) (bool, error) {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("genfile: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return false, fmt.Errorf("genfile: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return false, fmt.Errorf("genfile: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return false, fmt.Errorf("genfile: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return false, fmt.Errorf("genfile: syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("genfile: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("genfile: %w", err)
	}
	done = true
	if d, err := os.Open(dir); err == nil { // make the rename durable
		_ = d.Sync()
		d.Close()
	}
	return true, nil
}

// Config configures a Keeper.
type Config struct {
	// Path is the file kept.
	Path string
	// Perm is its mode; 0644 when zero.
	Perm fs.FileMode
	// Render returns the content the file must have now.
	Render func(ctx context.Context) ([]byte, error)
	// Write, instead of Path and Render, keeps a set of files (a
	// directory of sounds): it brings them up to date and reports
	// whether it changed any.
	Write func(ctx context.Context) (wrote bool, err error)
	// Reload tells the switch to read the file again; nil when it needs
	// no telling. It runs after every write, and once after start (the
	// daemon may have died between a write and its reload), and is
	// retried until it succeeds.
	Reload func(ctx context.Context) error
	// Debounce is how long a burst of Changed calls is waited out (no
	// call for that long, ten times that at most) before one render;
	// 200 ms when zero.
	Debounce time.Duration
	// Every re-renders this often even without a Changed call, so that a
	// change the daemon missed is caught up; 1 min when zero.
	Every time.Duration
	// RetryMin is the first wait after a failed render, write or reload;
	// it doubles up to 30 s. 1 s when zero.
	RetryMin time.Duration
	Logger   *slog.Logger
}

// Keeper keeps one generated file current: Changed asks for a new render,
// Run renders, writes when the content changed, and reloads the switch.
type Keeper struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}

	mu           sync.Mutex
	reloadNeeded bool
	writes       int
	reloads      int
}

// New returns a Keeper; it starts nothing: call Run.
func New(cfg Config) *Keeper {
	if cfg.Perm == 0 {
		cfg.Perm = 0o644
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 200 * time.Millisecond
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Keeper{cfg: cfg, log: log.With("file", cfg.Path), wake: make(chan struct{}, 1), reloadNeeded: cfg.Reload != nil}
}

// Changed asks for a new render; it never blocks.
func (k *Keeper) Changed() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// Counts returns how many times the file was written and the switch
// reloaded since start.
func (k *Keeper) Counts() (writes, reloads int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.writes, k.reloads
}

// Sync renders the file, writes it if its content changed, and reloads
// the switch if it was written or a reload is still owed.
func (k *Keeper) Sync(ctx context.Context) error {
	wrote, size, err := k.write(ctx)
	if err != nil {
		return err
	}
	k.mu.Lock()
	if wrote {
		k.writes++
		k.reloadNeeded = k.cfg.Reload != nil
	}
	need := k.reloadNeeded
	k.mu.Unlock()
	if wrote && size >= 0 {
		k.log.InfoContext(ctx, "generated file written", "bytes", size)
	}
	if !need {
		return nil
	}
	if err := k.cfg.Reload(ctx); err != nil {
		return fmt.Errorf("genfile: reloading after %s: %w", k.cfg.Path, err)
	}
	k.mu.Lock()
	k.reloadNeeded = false
	k.reloads++
	k.mu.Unlock()
	return nil
}

// write brings the file (or the Write's files) up to date; size is the
// file's, -1 for a Write.
func (k *Keeper) write(ctx context.Context) (wrote bool, size int, err error) {
	if k.cfg.Write != nil {
		wrote, err := k.cfg.Write(ctx)
		return wrote, -1, err
	}
	data, err := k.cfg.Render(ctx)
	if err != nil {
		return false, 0, fmt.Errorf("genfile: rendering %s: %w", k.cfg.Path, err)
	}
	wrote, err = WriteIfChanged(k.cfg.Path, data, k.cfg.Perm)
	return wrote, len(data), err
}

// Run keeps the file current until ctx ends, and returns ctx's error: at
// start, after every burst of Changed calls, and every Config.Every. A
// failure is retried with backoff (internal/backoff) and logged: at INFO
// the first time, since at daemon start the switch's connection is often
// not up yet when the first reload is tried, and at WARN when the retry
// fails too.
func (k *Keeper) Run(ctx context.Context) error {
	retry := backoff.New(k.cfg.RetryMin, 30*time.Second)
	tick := time.NewTicker(k.cfg.Every)
	defer tick.Stop()
	failures := 0
	for {
		if err := k.Sync(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			if failures == 1 {
				k.log.InfoContext(ctx, "generated file not applied yet; retrying", "err", err)
			} else {
				k.log.WarnContext(ctx, "keeping generated file", "err", err, "attempts", failures)
			}
			if !retry.Wait(ctx) {
				return ctx.Err()
			}
			continue
		}
		if failures > 1 {
			k.log.InfoContext(ctx, "generated file applied", "after_attempts", failures+1)
		}
		failures = 0
		retry.Reset()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-k.wake:
			if err := debounce.Settle(ctx, k.wake, k.cfg.Debounce); err != nil {
				return err
			}
		}
	}
}

// Path is the file kept.
func (k *Keeper) Path() string { return k.cfg.Path }
