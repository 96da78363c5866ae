package cdr

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The spool keeps, on local disk, what the pipeline acknowledged while the
// database could not take it, until the database can.
//
// It is a directory of segment files named by a sequence number,
// zero-padded so that names sort in write order ("00000000000000000042.spool").
// Only the newest segment is ever appended to, and only by the pipeline
// that holds the directory's lock; a segment left by an earlier run is
// never appended to again, so a torn record (a crash in the middle of an
// append) can only be the last line of a segment. A segment is deleted
// once every record in it is committed.
//
// A segment is a sequence of lines:
//
//	<kind> <crc> <json>\n
//
// kind is 'r' for a Record, 'u' for a Record whose owner could not be
// looked up at ingest (looked up again when replayed; see Pipeline.Put)
// and 'd' for a DeadLetter; crc is the CRC-32C
// (Castagnoli) of the kind byte followed by the JSON, as 8 lowercase hex
// digits; json is the value as encoding/json writes it, which escapes
// every control character and so never holds a newline. Lines are text
// so that an operator can read a spool with less and grep; the checksum
// tells a damaged line from a good one, and the newline lets the reader
// find the next good line after damage of any kind.
const (
	spoolSuffix = ".spool"
	// maxSegmentBytes is the size past which the next append starts a new
	// segment: small enough that a drained segment frees its disk space
	// soon, large enough that a long outage makes few files.
	maxSegmentBytes = 64 << 20
	// maxSpoolLine bounds one line when reading, so a damaged segment (no
	// newline for gigabytes) cannot exhaust memory. A CDR, even with its
	// raw record, is a few kilobytes.
	maxSpoolLine = 4 << 20
	// maxDamageRaw bounds the bytes of a damaged line kept in its dead
	// letter.
	maxDamageRaw = 64 << 10

	kindRecord       = 'r'
	kindOwnerPending = 'u'
	kindDeadLetter   = 'd'
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// spoolEntry is one decoded line: a record or a dead letter.
type spoolEntry struct {
	rec          *Record
	ownerPending bool // rec's owner is still to be looked up
	dl           *DeadLetter
}

// errSpoolLine is wrapped by every error decodeSpoolLine returns.
var errSpoolLine = errors.New("damaged spool line")

// appendSpoolLine appends the line for e to buf.
func appendSpoolLine(buf []byte, e spoolEntry) ([]byte, error) {
	var (
		kind byte
		v    any
	)
	switch {
	case e.rec != nil && e.ownerPending:
		kind, v = kindOwnerPending, e.rec
	case e.rec != nil:
		kind, v = kindRecord, e.rec
	case e.dl != nil:
		kind, v = kindDeadLetter, e.dl
	default:
		return buf, errors.New("cdr: spool: empty entry")
	}
	body, err := json.Marshal(v)
	if err != nil {
		return buf, fmt.Errorf("cdr: spool: encode: %w", err)
	}
	crc := crc32.Update(crc32.Checksum([]byte{kind}, castagnoli), castagnoli, body)
	buf = append(buf, kind, ' ')
	buf = fmt.Appendf(buf, "%08x", crc)
	buf = append(buf, ' ')
	buf = append(buf, body...)
	return append(buf, '\n'), nil
}

// decodeSpoolLine decodes one line, without its newline. Any error wraps
// errSpoolLine and says what is wrong.
func decodeSpoolLine(line []byte) (spoolEntry, error) {
	const head = len("r 01234567 ")
	if len(line) < head+2 || line[1] != ' ' || line[10] != ' ' {
		return spoolEntry{}, fmt.Errorf("%w: malformed", errSpoolLine)
	}
	kind := line[0]
	if kind != kindRecord && kind != kindOwnerPending && kind != kindDeadLetter {
		return spoolEntry{}, fmt.Errorf("%w: unknown kind %q", errSpoolLine, kind)
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], line[2:10]); err != nil {
		return spoolEntry{}, fmt.Errorf("%w: malformed checksum", errSpoolLine)
	}
	want := uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
	body := line[head:]
	if got := crc32.Update(crc32.Checksum([]byte{kind}, castagnoli), castagnoli, body); got != want {
		return spoolEntry{}, fmt.Errorf("%w: checksum mismatch", errSpoolLine)
	}
	var e spoolEntry
	var err error
	if kind != kindDeadLetter {
		e.rec, e.ownerPending = new(Record), kind == kindOwnerPending
		err = json.Unmarshal(body, e.rec)
	} else {
		e.dl = new(DeadLetter)
		err = json.Unmarshal(body, e.dl)
	}
	if err != nil {
		// A good checksum over bad JSON: written by a buggy or foreign
		// program, not torn by a crash.
		return spoolEntry{}, fmt.Errorf("%w: %v", errSpoolLine, err)
	}
	return e, nil
}

// spoolDamage is a stretch of a segment that is not a good line: torn by
// a crash, corrupted on disk, or too long.
type spoolDamage struct {
	offset int64
	reason string
	raw    []byte // at most maxDamageRaw bytes of it
}

// segmentReader reads a segment line by line.
type segmentReader struct {
	r   *bufio.Reader
	off int64 // of the next line
}

func newSegmentReader(r io.Reader) *segmentReader {
	return &segmentReader{r: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next entry, or the next damaged stretch, or io.EOF
// after the last one. Other errors are the underlying reader's.
func (sr *segmentReader) next() (spoolEntry, *spoolDamage, error) {
	start := sr.off
	var line []byte // the line's first maxSpoolLine bytes
	for {
		chunk, err := sr.r.ReadSlice('\n')
		sr.off += int64(len(chunk))
		line = append(line, chunk[:min(len(chunk), maxSpoolLine-len(line))]...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return spoolEntry{}, nil, err
		}
		if sr.off == start {
			return spoolEntry{}, nil, io.EOF
		}
		damage := func(reason string) (spoolEntry, *spoolDamage, error) {
			return spoolEntry{}, &spoolDamage{offset: start, reason: reason, raw: line[:min(len(line), maxDamageRaw)]}, nil
		}
		switch {
		case sr.off-start > maxSpoolLine:
			return damage(fmt.Sprintf("line of %d bytes, longer than any record", sr.off-start))
		case err == nil:
			e, derr := decodeSpoolLine(line[:len(line)-1])
			if derr != nil {
				return damage(derr.Error())
			}
			return e, nil, nil
		default:
			// The last line has no newline: the append that wrote it
			// did not finish, so it was never acknowledged. Keep it if
			// it is whole nonetheless.
			if e, derr := decodeSpoolLine(line); derr == nil {
				return e, nil, nil
			}
			return damage("torn last record (no newline): the append that wrote it did not finish")
		}
	}
}

// damageDeadLetter turns damage found in the segment named name into the
// dead letter that keeps it.
func damageDeadLetter(name string, d *spoolDamage) DeadLetter {
	return DeadLetter{
		Source: "spool " + name + ":" + strconv.FormatInt(d.offset, 10),
		Reason: "cdr: spool: " + d.reason,
		Raw:    string(d.raw),
	}
}

// segment is one spool file.
type segment struct {
	seq     uint64
	path    string
	bytes   int64
	records int64 // lines
}

func (s *segment) name() string { return filepath.Base(s.path) }

// segmentName is the file name of segment seq: zero-padded so that names
// sort in sequence order.
func segmentName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, spoolSuffix) }

// spool is the on-disk spool of one pipeline. Its mutex orders appends
// (the pipeline's writer goroutine) against the drainer taking segments
// and against the switch back to writing directly.
type spool struct {
	dir  string
	log  *slog.Logger
	lock io.Closer // the directory lock, held from openSpool to close

	mu       sync.Mutex
	spooling bool       // new batches go to the spool, not the store
	sealed   []*segment // oldest first; no longer appended to
	active   *segment   // appended to; nil until the first append
	file     *os.File   // active's
	nextSeq  uint64
	bytes    int64
	records  int64
}

// openSpool opens (creating it if need be) and locks the spool directory
// dir, and takes every segment in it as sealed: left by an earlier run,
// to be replayed before anything else is written. Empty segments are
// removed.
func openSpool(dir string, log *slog.Logger) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cdr: spool: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &spool{dir: dir, log: log, lock: lock, nextSeq: 1}
	if err := s.scan(); err != nil {
		lock.Close()
		return nil, err
	}
	s.spooling = len(s.sealed) > 0
	return s, nil
}

func (s *spool) scan() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("cdr: spool: %w", err)
	}
	for _, de := range ents {
		name := de.Name()
		if !de.Type().IsRegular() || !strings.HasSuffix(name, spoolSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, spoolSuffix), 10, 64)
		if err != nil {
			s.log.Warn("cdr: spool: ignoring a file not named like a segment", "file", filepath.Join(s.dir, name))
			continue
		}
		seg := &segment{seq: seq, path: filepath.Join(s.dir, name)}
		if err := countLines(seg); err != nil {
			return err
		}
		s.nextSeq = max(s.nextSeq, seq+1)
		if seg.bytes == 0 {
			if err := os.Remove(seg.path); err != nil {
				return fmt.Errorf("cdr: spool: %w", err)
			}
			continue
		}
		s.sealed = append(s.sealed, seg)
		s.bytes += seg.bytes
		s.records += seg.records
	}
	slices.SortFunc(s.sealed, func(a, b *segment) int { return cmp.Compare(a.seq, b.seq) })
	return nil
}

// countLines sets seg's size and line count (a torn last line counts).
func countLines(seg *segment) error {
	f, err := os.Open(seg.path)
	if err != nil {
		return fmt.Errorf("cdr: spool: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	var last byte = '\n'
	for {
		n, err := f.Read(buf)
		seg.records += int64(bytes.Count(buf[:n], []byte{'\n'}))
		seg.bytes += int64(n)
		if n > 0 {
			last = buf[n-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("cdr: spool: %w", err)
		}
	}
	if last != '\n' {
		seg.records++
	}
	return nil
}

// isSpooling reports whether new batches go to the spool.
func (s *spool) isSpooling() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spooling
}

// append writes lines, n encoded entries, to the active segment and
// fsyncs it. Unless force is set it does so only while the spool is in
// use, and reports false otherwise (the caller then writes to the store).
// With force it puts the spool in use: the store just failed. It reports
// true when the lines were taken, durable unless err says otherwise.
func (s *spool) append(lines []byte, n int, force bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.spooling && !force {
		return false, nil
	}
	s.spooling = true
	if len(lines) == 0 {
		return true, nil
	}
	if s.file == nil {
		if err := s.create(); err != nil {
			return true, err
		}
	}
	prev := s.active.bytes
	_, err := s.file.Write(lines)
	if err == nil {
		err = s.file.Sync()
	}
	if err != nil {
		// The segment's tail is now unknown (after a failed fsync, even
		// what was written may be lost): cut it back if possible, and
		// never append to this segment again.
		terr := s.file.Truncate(prev)
		if terr != nil {
			if fi, serr := s.file.Stat(); serr == nil {
				s.active.bytes = fi.Size()
				s.active.records += int64(n)
				s.bytes += fi.Size() - prev
				s.records += int64(n)
			}
		}
		s.sealActive()
		return true, fmt.Errorf("cdr: spool: append to %s: %w", s.dir, err)
	}
	s.active.bytes += int64(len(lines))
	s.active.records += int64(n)
	s.bytes += int64(len(lines))
	s.records += int64(n)
	if s.active.bytes >= maxSegmentBytes {
		s.sealActive()
	}
	return true, nil
}

// create starts a new active segment. The directory is fsynced so that
// the file itself survives a crash, not only its contents.
func (s *spool) create() error {
	seg := &segment{seq: s.nextSeq, path: filepath.Join(s.dir, segmentName(s.nextSeq))}
	f, err := os.OpenFile(seg.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("cdr: spool: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		os.Remove(seg.path) //nolint:errcheck // best effort; it is empty
		return fmt.Errorf("cdr: spool: %w", err)
	}
	s.nextSeq++
	s.active, s.file = seg, f
	return nil
}

// sealActive closes the active segment; the next append starts another.
// An empty one is removed instead.
func (s *spool) sealActive() {
	if s.file == nil {
		return
	}
	if err := s.file.Close(); err != nil {
		s.log.Warn("cdr: spool: close segment", "file", s.active.path, "err", err)
	}
	if s.active.bytes > 0 {
		s.sealed = append(s.sealed, s.active)
	} else {
		os.Remove(s.active.path) //nolint:errcheck // an empty file; scan removes it otherwise
	}
	s.active, s.file = nil, nil
}

// next returns the oldest segment to drain, sealing the active one if it
// is all that is left. When the spool is empty it leaves spooling mode,
// in the same critical section as appends check it, and reports false:
// every spooled record is committed, so the writer may go back to the
// store without overtaking any of them.
func (s *spool) next() (*segment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sealed) == 0 && s.active != nil && s.active.bytes > 0 {
		s.sealActive()
	}
	if len(s.sealed) == 0 {
		s.spooling = false
		return nil, false
	}
	return s.sealed[0], true
}

// remove deletes seg, the oldest segment, once all of it is committed.
func (s *spool) remove(seg *segment) error {
	err := os.Remove(seg.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cdr: spool: %w", err)
	}
	// Not strictly needed (a segment that comes back replays as
	// duplicates), but it keeps a crash from replaying a whole segment.
	if err := syncDir(s.dir); err != nil {
		s.log.Warn("cdr: spool: sync directory", "dir", s.dir, "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.sealed, seg); i >= 0 {
		s.sealed = slices.Delete(s.sealed, i, i+1)
		s.bytes -= seg.bytes
		s.records -= seg.records
	}
	return nil
}

// spoolStats is what Stats reports of the spool.
type spoolStats struct {
	spooling       bool
	segments       int
	bytes, records int64
}

func (s *spool) stats() spoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.sealed)
	if s.active != nil {
		n++
	}
	return spoolStats{spooling: s.spooling, segments: n, bytes: s.bytes, records: s.records}
}

// close closes the active segment (the next run replays it) and releases
// the directory.
func (s *spool) close() error {
	s.mu.Lock()
	s.sealActive()
	s.mu.Unlock()
	return s.lock.Close()
}
