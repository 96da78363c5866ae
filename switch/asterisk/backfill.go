package asterisk

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/backoff"
)

// Backfill is a cdr.Source-like runner: it hands sink every record of
// the CDR file Asterisk appends to, so that calls which ended while
// Switchboard was down or disconnected from ARI still reach the store.
var _ interface {
	Run(context.Context, cdr.Sink) error
} = (*Backfill)(nil)

// BackfillConfig says which file to tail and where to checkpoint it.
type BackfillConfig struct {
	// Path is the file Asterisk appends to: cdr_csv's Master.csv, a
	// cdr_custom file (CSV or JSON lines), or a cel_custom file (CSV or
	// JSON lines, the fields README.md lists), the only one that gives
	// every leg of a call. The format is told from the first line.
	// Required.
	Path string
	// OffsetPath is where the checkpoint is kept: the byte offset just
	// past the last line whose record the sink accepted, written to a
	// temporary file, fsynced and renamed over. Required.
	OffsetPath string
	// Options are passed to the parser; Options.Switch is required.
	Options CSVOptions
	// Poll is how often the file is looked at for new lines; 1s when zero.
	Poll time.Duration
	// Logger gets rotation, waiting and retry notices; slog.Default when nil.
	Logger *slog.Logger
	// DeadLetter, when set, receives every row that cannot be parsed, with
	// its 1-based line number in the file; when nil such rows are logged.
	// Like records, a row may be handed over again after a restart.
	DeadLetter func(ctx context.Context, line int, reason, raw string)
}

// Backfill tails an Asterisk CDR file into a cdr.Sink. Delivery is at
// least once: the store keeps one row per (switch, uniqueid), so a record
// handed over twice costs nothing, whereas a record skipped is a call
// never billed. Hence a Put that fails is retried with backoff until it
// succeeds or ctx ends, and the checkpoint only ever moves past lines
// whose records Put accepted.
//
// Busy and unanswered calls make Asterisk write two rows with one
// uniqueid (see ParseCSV), and the store keeps the FIRST record it gets
// for a uniqueid, so a record made of the first row alone would stay
// wrong forever. Backfill therefore holds back the rows of the last
// uniqueid it read until a row with another uniqueid follows, or the file
// has been idle for a few polls (Asterisk writes both rows together, so a
// few seconds is ample), or the file is rotated. The held-back rows are
// not covered by the checkpoint, so a restart re-reads rather than loses
// them. Consecutive rows of one uniqueid are merged exactly as ParseCSV
// merges them, as are rows of one uniqueid within one delivered batch.
//
// A cel_custom file (CEL) is folded differently: its rows are grouped by
// call (linkedid) and a call's legs are delivered once its LINKEDID_END is
// read, or, when cel.conf leaves that event out, once every leg has its
// CHAN_END and the file has been idle for a few polls (see celFolder for
// the mapping). Rows of concurrent calls interleave, so the checkpoint
// stays at the first line of the oldest call still open: a restart reads
// again from there, delivers the calls that were open whole, and ignores
// the tails of calls delivered before (their calling leg's CHAN_START lies
// before the checkpoint). A call open across a rotation is carried into
// the new file; if Switchboard also restarts before it ends, it is lost to
// the backfill (the live adapter still records it when connected).
//
// Only complete lines (ending in '\n') are read: a line Asterisk is still
// writing waits for the next poll. The file is read in chunks of lines
// and delivered in batches of at most backfillBatch records, so memory
// does not grow with the file.
//
// Rotation: when Path names a new file (another inode), the old one is
// read to its end first, then the new one from its start. When the bytes
// just before the offset change (copytruncate, or a file replaced while
// Switchboard was down, which the checkpoint's checksum detects), the
// file is read again from its start: duplicates are harmless. A missing
// file is waited for.
//
// Restart: Run resumes from the checkpoint. Nothing accepted by the sink
// is delivered again, unless the process died between Put returning and
// the checkpoint being renamed into place, in which case the last batch
// is. Dead-lettered rows follow the same rule.
type Backfill struct {
	cfg BackfillConfig
	log *slog.Logger

	// Tunables; tests shorten them.
	retry     backoff.Backoff // a refused Put's policy; each batch starts from a copy
	idlePolls int             // polls without a new line before the held-back group goes
	batch     int             // records (and bad rows) per Put

	running atomic.Bool
}

// Defaults of the Backfill tunables.
const (
	backfillBatch     = 256
	backfillIdlePolls = 3
	// backfillGroupMax bounds the rows merged under one uniqueid: Asterisk
	// writes two, so a long run of one uniqueid is not a call being written.
	backfillGroupMax = 64
	// backfillCheckBytes is how many bytes before the offset the
	// checkpoint's checksum covers: the end of the last delivered line,
	// which holds its uniqueid.
	backfillCheckBytes = 128
	// backfillReadBuf is the read chunk.
	backfillReadBuf = 64 << 10
)

// ErrBackfillRunning is returned by Run when another Run of the same
// Backfill has not returned: two would race on the checkpoint.
var ErrBackfillRunning = errors.New("asterisk: backfill already running")

// NewBackfill checks cfg and returns a Backfill; nothing is opened before
// Run.
func NewBackfill(cfg BackfillConfig) (*Backfill, error) {
	switch {
	case cfg.Options.Switch == "":
		return nil, ErrNoSwitch
	case cfg.Path == "":
		return nil, errors.New("asterisk: backfill: Path is required")
	case cfg.OffsetPath == "":
		return nil, errors.New("asterisk: backfill: OffsetPath is required")
	case filepath.Clean(cfg.Path) == filepath.Clean(cfg.OffsetPath):
		return nil, errors.New("asterisk: backfill: OffsetPath must differ from Path")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Backfill{
		cfg:       cfg,
		log:       log.With("cdr_file", cfg.Path),
		retry:     backoff.Backoff{Min: 250 * time.Millisecond, Max: 30 * time.Second},
		idlePolls: backfillIdlePolls,
		batch:     backfillBatch,
	}, nil
}

// backfillCheckpoint is the content of OffsetPath.
type backfillCheckpoint struct {
	// Offset is the byte offset just past the last delivered line.
	Offset int64 `json:"offset"`
	// Line is the number of lines before Offset, so that dead-lettered
	// rows keep their line numbers across restarts.
	Line int `json:"line"`
	// Check is a hash of the bytes just before Offset: when they differ,
	// the file is not the one the offset was taken in.
	Check string `json:"check,omitempty"`
}

// Run delivers the records of the file from the checkpoint to its end,
// then those of every line appended, until ctx ends; it then returns nil.
// Records not yet accepted when ctx ends are delivered by the next Run.
// Errors are returned only for what waiting cannot fix: an unreadable
// checkpoint file or a second concurrent Run.
func (b *Backfill) Run(ctx context.Context, sink cdr.Sink) error {
	if !b.running.CompareAndSwap(false, true) {
		return ErrBackfillRunning
	}
	defer b.running.Store(false)

	cp, err := b.loadCheckpoint()
	if err != nil {
		return err
	}
	t := &tail{b: b, sink: sink, saved: cp, resume: &cp}
	defer t.close()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if err := t.poll(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			b.log.Warn("asterisk: backfill: reading CDR file", "err", err)
		}
		timer.Reset(b.cfg.Poll)
	}
}

// loadCheckpoint reads OffsetPath. A missing file means the start of the
// file; a corrupt one is reported and also means the start, since reading
// again only costs duplicates.
func (b *Backfill) loadCheckpoint() (backfillCheckpoint, error) {
	var cp backfillCheckpoint
	data, err := os.ReadFile(b.cfg.OffsetPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return cp, nil
	case err != nil:
		return cp, fmt.Errorf("asterisk: backfill: read checkpoint: %w", err)
	}
	if err := json.Unmarshal(data, &cp); err != nil || cp.Offset < 0 || cp.Line < 0 {
		b.log.Warn("asterisk: backfill: corrupt checkpoint, reading the CDR file from its start",
			"checkpoint", b.cfg.OffsetPath, "err", err)
		return backfillCheckpoint{}, nil
	}
	return cp, nil
}

// saveCheckpoint writes cp to OffsetPath atomically and durably.
func (b *Backfill) saveCheckpoint(cp backfillCheckpoint) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("asterisk: backfill: encode checkpoint: %w", err)
	}
	dir, base := filepath.Split(b.cfg.OffsetPath)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".tmp*")
	if err != nil {
		return fmt.Errorf("asterisk: backfill: save checkpoint: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(append(data, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("asterisk: backfill: save checkpoint: %w", err)
	}
	if err := os.Rename(tmp, b.cfg.OffsetPath); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("asterisk: backfill: save checkpoint: %w", err)
	}
	// The rename is durable once the directory is; some systems cannot
	// sync a directory, and the worst outcome is a batch delivered twice.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// tail is the state of one Run: the open file, what was read of it and
// what is waiting to be delivered.
type tail struct {
	b    *Backfill
	sink cdr.Sink

	f       *os.File
	fi      os.FileInfo
	waiting bool                // "waiting for file" was logged
	resume  *backfillCheckpoint // the checkpoint to resume from at the first open

	readOff   int64  // just past the last complete line read
	readLine  int    // lines before readOff
	readCheck string // checkpointHash at readOff, to notice a rewritten file
	idle      int    // polls in a row without a new line

	isJSON, seen bool // the format, fixed by the first non-blank line read
	// cel folds the rows of a cel_custom file (its first line is a CEL
	// row); nil for a CDR file. It outlives a rotation: a call's rows may
	// continue in the next file.
	cel *celFolder
	// ready are the CEL legs of finished calls, not yet delivered.
	ready []cdr.Record

	// group holds the rows of the last uniqueid read, not yet in batch.
	// Its lines are not covered by batchOff.
	group struct {
		uid  string
		rows []cdrRow
		bad  []BadRow
	}
	// batch holds what is read and complete, up to batchOff (and
	// batchLine lines): where the checkpoint goes once it is delivered.
	batch     merger
	batchBad  []BadRow
	batchOff  int64
	batchLine int

	saved backfillCheckpoint
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// poll opens the file if needed, reads every complete line appended since
// the last poll, delivers what is complete and handles rotation.
func (t *tail) poll(ctx context.Context) error {
	if t.f == nil {
		if err := t.open(); err != nil || t.f == nil {
			return err
		}
	}
	if t.readOff > 0 {
		if h, err := checkpointHash(t.f, t.readOff); err != nil || h != t.readCheck {
			// Truncated or rewritten in place (copytruncate).
			t.b.log.Info("asterisk: backfill: CDR file truncated or rewritten, reading it from its start")
			return t.restart(ctx, t.f, t.fi)
		}
	}
	n, err := t.read(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		t.idle = 0
	} else {
		t.idle++
	}
	if t.idle >= t.b.idlePolls && t.group.uid != "" {
		t.closeGroup()
	}
	if t.idle >= t.b.idlePolls && t.cel != nil {
		t.closeCalls()
	}
	if err := t.deliver(ctx); err != nil {
		return err
	}
	return t.checkRotation(ctx)
}

// open opens Path and positions the read at the checkpoint when it still
// describes this file, else at the start.
func (t *tail) open() error {
	f, err := os.Open(t.b.cfg.Path)
	if errors.Is(err, os.ErrNotExist) {
		if !t.waiting {
			t.b.log.Info("asterisk: backfill: waiting for the CDR file to appear")
			t.waiting = true
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("asterisk: backfill: open CDR file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("asterisk: backfill: open CDR file: %w", err)
	}
	t.waiting = false
	t.f, t.fi = f, fi
	t.resetRead()
	if cp := t.resume; cp != nil {
		t.resume = nil
		if h, err := checkpointHash(f, cp.Offset); err == nil && h == cp.Check {
			t.readOff, t.readLine, t.readCheck = cp.Offset, cp.Line, cp.Check
			t.batchOff, t.batchLine = cp.Offset, cp.Line
		} else if cp.Offset > 0 {
			t.b.log.Info("asterisk: backfill: CDR file differs from the checkpoint, reading it from its start",
				"offset", cp.Offset)
		}
	}
	return nil
}

// resetRead positions the read at the start of the file.
func (t *tail) resetRead() {
	t.readOff, t.readLine, t.readCheck = 0, 0, ""
	t.batchOff, t.batchLine = 0, 0
	t.seen, t.isJSON, t.idle = false, false, 0
}

// checkRotation switches to a new file at Path once the old one is read
// to its end. A Path that vanished is a rotation in progress: the old
// file is kept until the new one appears.
func (t *tail) checkRotation(ctx context.Context) error {
	fi, err := os.Stat(t.b.cfg.Path)
	if err != nil || os.SameFile(fi, t.fi) {
		return nil
	}
	// Lines appended between the read and the stat.
	if _, err := t.read(ctx); err != nil {
		return err
	}
	t.b.log.Info("asterisk: backfill: CDR file rotated, reading the new one")
	f, err := os.Open(t.b.cfg.Path)
	if err != nil {
		return nil // retried at the next poll
	}
	nfi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil
	}
	return t.restart(ctx, f, nfi)
}

// restart delivers everything read from the current file, the held-back
// rows included since no more will come, then reads f from its start.
func (t *tail) restart(ctx context.Context, f *os.File, fi os.FileInfo) error {
	t.closeGroup()
	if t.cel != nil {
		t.closeCalls()
		t.cel.rebase()
	}
	// No checkpoint in the old file: the one of the new file follows.
	if err := t.put(ctx); err != nil {
		if f != t.f {
			f.Close()
		}
		return err
	}
	if f != t.f {
		t.f.Close()
	}
	t.f, t.fi = f, fi
	t.resetRead()
	return t.save(backfillCheckpoint{})
}

// read consumes the complete lines after readOff and returns how many.
// Full batches are delivered on the way, which keeps memory bounded.
func (t *tail) read(ctx context.Context) (int, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(t.f, t.readOff, math.MaxInt64-t.readOff), backfillReadBuf)
	var (
		n   int
		buf []byte
	)
	for {
		line, size, tooLong, complete, err := nextLine(br, buf[:0])
		buf = line[:0]
		if err != nil {
			return n, fmt.Errorf("asterisk: backfill: read CDR file: %w", err)
		}
		if !complete {
			break
		}
		t.line(line, tooLong, t.readOff, t.readLine+1)
		t.readOff += size
		t.readLine++
		n++
		switch {
		case t.cel != nil:
			// Legs of finished calls go now; the checkpoint stays at the
			// first line of the oldest call still open.
			t.ready = append(t.ready, t.cel.take(&t.b.cfg.Options)...)
			t.batchOff, t.batchLine = t.cel.safePoint(t.readOff, t.readLine)
		case t.group.uid == "":
			// A blank or bad line outside a group: the batch covers it.
			t.batchOff, t.batchLine = t.readOff, t.readLine
		}
		if len(t.batch.entries)+len(t.batchBad)+len(t.ready) >= t.b.batch {
			if err := t.deliver(ctx); err != nil {
				return n, err
			}
		}
	}
	if n > 0 {
		h, err := checkpointHash(t.f, t.readOff)
		if err != nil {
			return n, fmt.Errorf("asterisk: backfill: read CDR file: %w", err)
		}
		t.readCheck = h
	}
	return n, nil
}

// nextLine reads one line into buf. complete is false when the input ends
// before a '\n' (the line is still being written); nothing then counts as
// consumed. A line longer than maxLineBytes is cut, its rest skipped.
func nextLine(br *bufio.Reader, buf []byte) (line []byte, size int64, tooLong, complete bool, err error) {
	for {
		chunk, rerr := br.ReadSlice('\n')
		size += int64(len(chunk))
		if len(buf)+len(chunk) > maxLineBytes+1 {
			if !tooLong {
				buf = append(buf, chunk[:max(0, maxLineBytes-len(buf))]...)
				buf = buf[:min(len(buf), maxLineBytes)]
			}
			tooLong = true
		} else if !tooLong {
			buf = append(buf, chunk...)
		}
		switch {
		case rerr == nil:
			if !tooLong {
				buf = buf[:len(buf)-1]
			}
			return buf, size, tooLong, true, nil
		case errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case errors.Is(rerr, io.EOF):
			return buf, 0, false, false, nil
		default:
			return buf, 0, false, false, rerr
		}
	}
}

// line handles one complete line starting at off, line number lineNo.
func (t *tail) line(raw []byte, tooLong bool, off int64, lineNo int) {
	s := string(raw)
	if off == 0 {
		s = strings.TrimPrefix(s, "\uFEFF")
	}
	s = strings.TrimSuffix(s, "\r")
	var bad *BadRow
	switch {
	case tooLong:
		bad = &BadRow{Line: lineNo, Reason: fmt.Sprintf("line longer than %d bytes", maxLineBytes), Raw: s}
	case strings.TrimSpace(s) == "":
		return
	default:
		if !t.seen {
			t.seen = true
			t.isJSON = strings.HasPrefix(strings.TrimSpace(s), "{")
			switch {
			case !isCELLine(s):
				t.cel = nil
			case t.cel == nil:
				t.cel = newCELFolder()
			}
		}
		if t.cel != nil {
			row, err := parseCELLine(s, t.isJSON, t.loc())
			if err != nil {
				// Dead-lettered with the next batch; the checkpoint may stay
				// before it while an older call is open, so a restart may
				// hand it over again, as the Backfill doc allows.
				t.batchBad = append(t.batchBad, BadRow{Line: lineNo, Reason: err.Error(), Raw: s})
				return
			}
			t.cel.add(row, off, lineNo)
			return
		}
		var (
			row cdrRow
			err error
		)
		if t.isJSON {
			row, err = parseJSONLine(s, t.loc())
		} else {
			row, err = parseCSVLine(s, t.loc())
		}
		if err != nil {
			bad = &BadRow{Line: lineNo, Reason: err.Error(), Raw: s}
			break
		}
		if t.group.uid != row.uniqueid || len(t.group.rows) >= backfillGroupMax {
			t.closeGroup() // the batch now ends where this line starts
			t.group.uid = row.uniqueid
		}
		t.group.rows = append(t.group.rows, row)
		return
	}
	if t.group.uid != "" {
		// Kept with the group so the checkpoint never passes it
		// before the group is delivered.
		t.group.bad = append(t.group.bad, *bad)
		return
	}
	t.batchBad = append(t.batchBad, *bad)
}

func (t *tail) loc() *time.Location {
	if t.b.cfg.Options.Location != nil {
		return t.b.cfg.Options.Location
	}
	return time.UTC
}

// closeGroup moves the held-back rows into the batch.
func (t *tail) closeGroup() {
	g := &t.group
	if g.uid == "" {
		return
	}
	if t.batch.byID == nil {
		t.batch.byID = map[string]int{}
	}
	for _, r := range g.rows {
		t.batch.add(r)
	}
	t.batchBad = append(t.batchBad, g.bad...)
	// The batch now reaches the end of what was read (line is called
	// before readOff passes the line being handled).
	t.batchOff, t.batchLine = t.readOff, t.readLine
	g.uid, g.rows, g.bad = "", nil, nil
}

// deliver delivers the batch and saves the checkpoint past it.
func (t *tail) deliver(ctx context.Context) error {
	if err := t.put(ctx); err != nil {
		return err
	}
	if t.batchOff == t.saved.Offset && t.batchLine == t.saved.Line {
		return nil
	}
	h, err := checkpointHash(t.f, t.batchOff)
	if err != nil {
		return fmt.Errorf("asterisk: backfill: read CDR file: %w", err)
	}
	return t.save(backfillCheckpoint{Offset: t.batchOff, Line: t.batchLine, Check: h})
}

// put hands the batch to the sink, retrying until it is accepted or ctx
// ends, then dead-letters its bad rows and empties it.
func (t *tail) put(ctx context.Context) error {
	recs := append(t.batch.records(&t.b.cfg.Options), t.ready...)
	if len(recs) > 0 {
		retry := t.b.retry
		for {
			err := t.sink.Put(ctx, recs...)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait := retry.Next()
			t.b.log.Warn("asterisk: backfill: CDR sink refused, retrying",
				"records", len(recs), "retry_in", wait, "err", err)
			if !backoff.Sleep(ctx, wait) {
				return ctx.Err()
			}
		}
	}
	for _, r := range t.batchBad {
		if t.b.cfg.DeadLetter != nil {
			t.b.cfg.DeadLetter(ctx, r.Line, r.Reason, r.Raw)
		} else {
			t.b.log.Warn("asterisk: backfill: bad CDR row", "line", r.Line, "reason", r.Reason)
		}
	}
	t.batch = merger{}
	t.batchBad = nil
	t.ready = nil
	return nil
}

// closeCalls finishes the CEL calls whose legs have all ended although no
// LINKEDID_END was read (cel.conf without it): the file has been idle, or
// is being left.
func (t *tail) closeCalls() {
	t.cel.finishEnded()
	t.ready = append(t.ready, t.cel.take(&t.b.cfg.Options)...)
	t.batchOff, t.batchLine = t.cel.safePoint(t.readOff, t.readLine)
}

// save writes the checkpoint. A failure is logged, not fatal: the next
// save may work, and until then a restart only repeats records.
func (t *tail) save(cp backfillCheckpoint) error {
	if err := t.b.saveCheckpoint(cp); err != nil {
		t.b.log.Error("asterisk: backfill: checkpoint not saved", "err", err)
		return nil
	}
	t.saved = cp
	return nil
}

// checkpointHash hashes the up to backfillCheckBytes bytes before off; it
// fails when the file is shorter than off.
func checkpointHash(f io.ReaderAt, off int64) (string, error) {
	if off == 0 {
		return "", nil
	}
	n := min(off, backfillCheckBytes)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off-n); err != nil {
		return "", err
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16]), nil
}
