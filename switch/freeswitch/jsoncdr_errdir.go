package freeswitch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// ErrLogDirConfig says where mod_json_cdr keeps the records it could not
// deliver and how that directory is watched.
type ErrLogDirConfig struct {
	// Dir is json_cdr.conf.xml's err-log-dir as Switchboard sees it (the
	// same host, or a shared mount). Required.
	Dir string
	// Poll is how often Dir is scanned; 10 s when zero.
	Poll time.Duration
	// Settle is how long a file must be left unmodified before it is
	// read: mod_json_cdr writes a file with open/write/close, not a
	// rename, so a younger file may be half written. 2 s when zero.
	Settle time.Duration
	// Rejects stores files that are not a CDR as dead letters (the file
	// is then moved to Dir/rejected/); when nil such files are left
	// where they are and logged.
	Rejects Rejecter
}

// errLogRejectedDir is the subdirectory of err-log-dir that receives the
// files which were not a CDR, once stored as dead letters, so that they
// are neither read again nor deleted.
const errLogRejectedDir = "rejected"

// ImportErrLogDir watches mod_json_cdr's err-log-dir until ctx ends and
// stores each record FreeSWITCH gave up posting, then deletes its file.
// FreeSWITCH writes a leg's record there only after its last attempt
// failed (retries+1 POSTs, `delay` apart), or at once when its queue is
// full (queue-capacity), and never looks at it again: without this the
// leg waits for an operator's `switchboard cdr import`. Recorded on
// 1.10.12 (fidelity/3-json-cdr): one `<uuid>.cdr.json` per leg
// (`a_<uuid>.cdr.json` with prefix-a-leg=true), the body that would have
// been posted plus a newline, URL-encoded with encode=true.
//
// A file is deleted only once the CDR sink acknowledged its record
// (durably committed or spooled), through the same outbox as the ESL and
// POSTed records, so a leg that also arrives another way is stored once.
// A sink that refuses leaves every file in place for the next scan. A
// file that is not a CDR becomes a dead letter and moves to
// err-log-dir/rejected/. A file Switchboard may read but not delete
// (err-log-dir not writable by its user) is imported once per run and
// reported; importing it again after a restart adds nothing.
func (a *Adapter) ImportErrLogDir(ctx context.Context, cfg ErrLogDirConfig) error {
	if cfg.Dir == "" {
		return errors.New("freeswitch: ErrLogDirConfig.Dir is required")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 10 * time.Second
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 2 * time.Second
	}
	w := &errLogWatch{a: a, cfg: cfg, kept: map[string]time.Time{}, remove: os.Remove}
	t := time.NewTicker(cfg.Poll)
	defer t.Stop()
	for {
		w.scan(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type errLogWatch struct {
	a        *Adapter
	cfg      ErrLogDirConfig
	kept     map[string]time.Time // imported but not deletable: name → mtime
	remove   func(string) error   // os.Remove; tests make it fail
	dirError string               // the last error about the directory itself, logged once
}

// scan imports every settled file of the directory once.
func (w *errLogWatch) scan(ctx context.Context) {
	entries, err := os.ReadDir(w.cfg.Dir)
	if err != nil {
		if msg := err.Error(); msg != w.dirError {
			w.dirError = msg
			w.a.log.Warn("freeswitch: cannot read json_cdr err-log-dir; records FreeSWITCH could not post stay there until it can", "dir", w.cfg.Dir, "err", err)
		}
		return
	}
	w.dirError = ""
	now := w.a.now()
	for _, e := range entries {
		if ctx.Err() != nil {
			return
		}
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".cdr.json") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		if now.Sub(info.ModTime()) < w.cfg.Settle {
			continue // perhaps still being written
		}
		if mt, ok := w.kept[name]; ok && mt.Equal(info.ModTime()) {
			continue
		}
		if err := w.importFile(ctx, name, info); err != nil {
			// The sink refused or is down: every later file would fail
			// alike; the next scan retries them all.
			w.a.log.Warn("freeswitch: err-log-dir record not stored yet; kept for the next scan", "file", name, "err", err)
			return
		}
	}
}

// importFile stores one file's record (or dead letter) and removes the
// file. An error means nothing was acknowledged and the file stays.
func (w *errLogWatch) importFile(ctx context.Context, name string, info fs.FileInfo) error {
	path := filepath.Join(w.cfg.Dir, name)
	body, err := readBounded(path, maxJSONCDRBody)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, errTooBig) {
			return err
		}
	}
	var rec cdr.Record
	if err == nil {
		rec, err = ParseJSONCDRFile(body, JSONCDROptions{Switch: w.a.cfg.Name, IsGateway: w.a.cfg.IsGateway, OutsideProfiles: w.a.outsideProfiles()})
	}
	if err != nil {
		return w.reject(ctx, name, info, body, err)
	}
	if err := w.a.submit(ctx, rec); err != nil {
		return err
	}
	w.a.metrics.errLog.WithLabelValues(errLogImported).Inc()
	if err := w.remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.kept[name] = info.ModTime()
		w.a.log.Warn("freeswitch: err-log-dir record stored but its file cannot be removed; give Switchboard's user write access to the directory", "file", name, "call", rec.CallID, "err", err)
		return nil
	}
	w.a.log.Info("freeswitch: stored a record FreeSWITCH could not post", "file", name, "call", rec.CallID)
	return nil
}

// reject keeps a file that is not a CDR as a dead letter and moves it
// aside.
func (w *errLogWatch) reject(ctx context.Context, name string, info fs.FileInfo, body []byte, perr error) error {
	if w.cfg.Rejects == nil {
		w.kept[name] = info.ModTime()
		w.a.log.Warn("freeswitch: err-log-dir file is not a CDR; left in place", "file", name, "err", perr)
		return nil
	}
	dl := cdr.DeadLetter{Source: "freeswitch:" + w.a.cfg.Name + " err-log-dir " + name, Reason: perr.Error(), Raw: string(body), ReceivedAt: w.a.now().UTC()}
	if err := w.cfg.Rejects.Reject(ctx, dl); err != nil {
		return fmt.Errorf("storing the dead letter: %w", err)
	}
	w.a.metrics.errLog.WithLabelValues(errLogDeadLetter).Inc()
	w.a.log.Warn("freeswitch: err-log-dir file is not a CDR; kept as a dead letter and moved aside", "file", name, "to", errLogRejectedDir, "err", perr)
	dst := filepath.Join(w.cfg.Dir, errLogRejectedDir)
	if err := os.MkdirAll(dst, 0o750); err == nil {
		err = os.Rename(filepath.Join(w.cfg.Dir, name), filepath.Join(dst, name))
		if err == nil {
			return nil
		}
	}
	w.kept[name] = info.ModTime() // the dead letter is stored: do not store it again this run
	return nil
}

var errTooBig = errors.New("freeswitch: file too big for a CDR")

// readBounded reads at most limit bytes of path; a longer file gives its
// first limit bytes and errTooBig.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("%w: over %d bytes", errTooBig, limit)
	}
	return b, nil
}
