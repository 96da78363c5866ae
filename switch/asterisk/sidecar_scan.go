package asterisk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// sidecarScan is the scan FaxIndexer and RecordingIndexer share: every
// <base>.done in dir is handed to deposit once it is due, a failure
// waits longer and longer (from every, up to 10 minutes) before the base
// is tried again, and is logged the first time only. deposit returns
// errNotYet for a file Asterisk is still writing, which is tried at the
// next scan without counting as a failure.
type sidecarScan struct {
	dir   string
	every time.Duration
	what  string // "fax", "recording": for the log
	log   *slog.Logger
	retry map[string]retryState // owned by the scanning goroutine
}

// newSidecarScan scans dir every interval (2 s when zero), logging to
// log (slog.Default when nil) with the directory under key.
func newSidecarScan(dir string, every time.Duration, what, key string, log *slog.Logger) *sidecarScan {
	if every <= 0 {
		every = 2 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &sidecarScan{dir: dir, every: every, what: what, log: log.With(key, dir), retry: map[string]retryState{}}
}

// errNotYet: the files are not complete yet.
var errNotYet = errors.New("asterisk: not complete yet")

func (s *sidecarScan) scan(ctx context.Context, deposit func(ctx context.Context, base string) error) error {
	names, err := filepath.Glob(filepath.Join(s.dir, "*.done"))
	if err != nil {
		return fmt.Errorf("asterisk: %s dir: %w", s.what, err)
	}
	if _, err := os.Stat(s.dir); err != nil {
		return fmt.Errorf("asterisk: %s dir: %w", s.what, err)
	}
	seen := map[string]bool{}
	for _, done := range names {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		base := strings.TrimSuffix(done, ".done")
		seen[base] = true
		if r := s.retry[base]; time.Now().Before(r.next) {
			continue
		}
		err := deposit(ctx, base)
		if errors.Is(err, errNotYet) {
			continue
		}
		if err != nil {
			r := s.retry[base]
			r.tries++
			r.next = time.Now().Add(min(s.every<<min(r.tries, 10), 10*time.Minute))
			s.retry[base] = r
			if r.tries == 1 {
				s.log.Warn("asterisk: depositing "+s.what, "file", base, "err", err)
			}
			continue
		}
		delete(s.retry, base)
	}
	for base := range s.retry {
		if !seen[base] {
			delete(s.retry, base)
		}
	}
	return nil
}

// run scans every s.every until ctx ends.
func (s *sidecarScan) run(ctx context.Context, scan func(context.Context) error) error {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		if err := scan(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("asterisk: "+s.what+" scan", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
