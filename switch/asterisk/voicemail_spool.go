package asterisk

// app_voicemail's file storage, as Switchboard reads and changes it
// (apps/app_voicemail.c of Asterisk 23.4.1):
//
//   - A box is <spool>/<context>/<box>/, a folder of it INBOX (new), Old
//     (heard), Urgent (new, marked urgent), Work, Family, Friends,
//     Cust1–5 (saved by phone: heard), Deleted (backupdeleted) and tmp
//     (recordings in progress).
//   - A message is msgNNNN.txt (its [message] section: msg_id, callerid,
//     origtime, duration, ...) and one audio file per format of the
//     [general] format list (msgNNNN.wav with format=wav).
//   - leave_voicemail records into tmp/, then, holding the folder's lock,
//     renames the audio files into INBOX first and the .txt last: a .txt
//     in a folder means the message is complete (its audio is there).
//   - A new message takes the highest number in use + 1
//     (last_message_index counts .txt files); when a mailbox is opened,
//     gaps are closed by renumbering (resequence_mailbox). Switchboard
//     does the same: a moved message takes the destination's next
//     number, and the source folder is renumbered without gaps.
//   - The folder lock (ast_lock_path, lockfile mode, the default) is the
//     file .lock made by link(2) of a unique temporary file, which
//     fails while it exists; app_voicemail gives up after 5 s.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// voicemailFolders are the folders of a box Switchboard reads, and
// whether their messages are unread.
var voicemailFolders = []struct {
	name   string
	unread bool
}{
	{"INBOX", true}, {"Urgent", true}, {"Old", false}, {"Work", false}, {"Family", false}, {"Friends", false},
	{"Cust1", false}, {"Cust2", false}, {"Cust3", false}, {"Cust4", false}, {"Cust5", false},
}

// voicemailMaxMsg is app_voicemail's MAXMSGLIMIT: numbers go 0–9999.
const voicemailMaxMsg = 9999

// VoicemailInfo is a message's .txt as app_voicemail writes it.
type VoicemailInfo struct {
	MsgID          string
	CallerIDNumber string
	CallerIDName   string
	OrigTime       time.Time
	DurationSecs   int
}

// errVoicemailInfo is a .txt Switchboard cannot use.
var errVoicemailInfo = errors.New("asterisk: voicemail message file")

// ParseVoicemailInfo reads a msgNNNN.txt: the keys of its [message]
// section (an ini file; ; starts a comment). msg_id is required (every
// file-storage message has one since Asterisk 11); callerid is
// ast_callerid_merge's `"Name" <number>`, a number alone, or "Unknown".
func ParseVoicemailInfo(b []byte) (VoicemailInfo, error) {
	var v VoicemailInfo
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == ';' {
			continue
		}
		if l[0] == '[' {
			section = strings.Trim(l, "[]")
			continue
		}
		if section != "message" {
			continue
		}
		k, val, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		switch k {
		case "msg_id":
			v.MsgID = val
		case "callerid":
			v.CallerIDName, v.CallerIDNumber = splitCallerID(val)
		case "origtime":
			if n, err := strconv.ParseInt(val, 10, 64); err == nil && n > 0 {
				v.OrigTime = time.Unix(n, 0).UTC()
			}
		case "duration":
			if n, err := strconv.Atoi(val); err == nil && n >= 0 {
				v.DurationSecs = n
			}
		}
	}
	if err := sc.Err(); err != nil {
		return v, fmt.Errorf("%w: %w", errVoicemailInfo, err)
	}
	if v.MsgID == "" || len(v.MsgID) > 128 || strings.ContainsFunc(v.MsgID, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return v, fmt.Errorf("%w: no usable msg_id", errVoicemailInfo)
	}
	return v, nil
}

// splitCallerID splits ast_callerid_merge's text.
func splitCallerID(s string) (name, number string) {
	if s == "Unknown" {
		return "", ""
	}
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		number = s[i+1 : len(s)-1]
		name = strings.Trim(strings.TrimSpace(s[:i]), `"`)
		return name, number
	}
	return "", s
}

// spoolMessage is where a message is: its box's dir, folder and number,
// and its msg_id.
type spoolMessage struct {
	box    string
	folder string
	num    int
	unread bool
	id     string
}

// errMsgMoved: the message is no longer under the number last scanned
// (app_voicemail renumbered the folder meanwhile, e.g. after a delete
// by phone); the caller scans again.
var errMsgMoved = errors.New("asterisk: voicemail message renumbered since the scan")

// check makes sure, the folder locked, that m's .txt is still m's (an
// empty id checks nothing).
func (m spoolMessage) check() error {
	if m.id == "" {
		return nil
	}
	b, err := os.ReadFile(msgBase(m.dir(), m.num) + ".txt")
	if err != nil {
		return fmt.Errorf("%w: %w", errMsgMoved, err)
	}
	if info, err := ParseVoicemailInfo(b); err != nil || info.MsgID != m.id {
		return errMsgMoved
	}
	return nil
}

func (m spoolMessage) dir() string { return filepath.Join(m.box, m.folder) }

// msgBase is msgNNNN in dir.
func msgBase(dir string, n int) string { return filepath.Join(dir, fmt.Sprintf("msg%04d", n)) }

// parseMsgName returns N of msgNNNN.<ext>.
func parseMsgName(name string) (n int, ext string, ok bool) {
	rest, found := strings.CutPrefix(name, "msg")
	if !found {
		return 0, "", false
	}
	num, ext, found := strings.Cut(rest, ".")
	if !found || len(num) != 4 || ext == "" {
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, "", false
	}
	return n, ext, true
}

// folderMessages lists the message numbers of dir (those with a .txt),
// sorted; a missing dir has none.
func folderMessages(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		if n, ext, ok := parseMsgName(e.Name()); ok && ext == "txt" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// lockFolder takes app_voicemail's lock of dir (ast_lock_path's
// lockfile mode), waiting up to wait; unlock releases it.
func lockFolder(dir string, wait time.Duration) (unlock func(), err error) {
	tmp := filepath.Join(dir, fmt.Sprintf(".lock-%08x", rand.Uint32()))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("asterisk: locking %s: %w", dir, err)
	}
	f.Close()
	defer os.Remove(tmp)
	lock := filepath.Join(dir, ".lock")
	deadline := time.Now().Add(wait)
	for {
		err := os.Link(tmp, lock)
		if err == nil {
			return func() { os.Remove(lock) }, nil
		}
		if !errors.Is(err, os.ErrExist) || time.Now().After(deadline) {
			return nil, fmt.Errorf("asterisk: locking %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// renameMsg renames every file of message from to to, the .txt last,
// so that a reader never finds a .txt without its audio.
func renameMsg(fromDir string, from int, toDir string, to int) error {
	exts, err := msgExts(fromDir, from)
	if err != nil {
		return err
	}
	for _, ext := range exts {
		if err := os.Rename(msgBase(fromDir, from)+"."+ext, msgBase(toDir, to)+"."+ext); err != nil {
			return fmt.Errorf("asterisk: moving voicemail: %w", err)
		}
	}
	return nil
}

// msgExts lists the extensions of message n's files in dir, txt last.
func msgExts(dir string, n int) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("asterisk: voicemail folder: %w", err)
	}
	var exts []string
	txt := false
	for _, e := range ents {
		if m, ext, ok := parseMsgName(e.Name()); ok && m == n {
			if ext == "txt" {
				txt = true
				continue
			}
			exts = append(exts, ext)
		}
	}
	if txt {
		exts = append(exts, "txt")
	}
	return exts, nil
}

// resequence renumbers dir's messages 0, 1, ... without gaps (the lock
// held), as resequence_mailbox does.
func resequence(dir string) error {
	nums, err := folderMessages(dir)
	if err != nil {
		return err
	}
	for dest, n := range nums {
		if n != dest {
			if err := renameMsg(dir, n, dir, dest); err != nil {
				return err
			}
		}
	}
	return nil
}

// lockWait is how long Switchboard waits for a folder app_voicemail has
// locked (it holds the lock for a rename or two).
const lockWait = 5 * time.Second

// moveMessage moves m to folder to: the destination's next number, the
// source renumbered. It returns where the message now is.
func moveMessage(m spoolMessage, to string) (spoolMessage, error) {
	dst := filepath.Join(m.box, to)
	if err := os.MkdirAll(dst, 0o770); err != nil {
		return m, fmt.Errorf("asterisk: voicemail folder: %w", err)
	}
	unlockSrc, err := lockFolder(m.dir(), lockWait)
	if err != nil {
		return m, err
	}
	defer unlockSrc()
	if err := m.check(); err != nil {
		return m, err
	}
	unlockDst, err := lockFolder(dst, lockWait)
	if err != nil {
		return m, err
	}
	defer unlockDst()
	nums, err := folderMessages(dst)
	if err != nil {
		return m, fmt.Errorf("asterisk: voicemail folder: %w", err)
	}
	next := 0
	if len(nums) > 0 {
		next = nums[len(nums)-1] + 1
	}
	if next > voicemailMaxMsg {
		return m, fmt.Errorf("asterisk: voicemail folder %s is full", dst)
	}
	if err := renameMsg(m.dir(), m.num, dst, next); err != nil {
		return m, err
	}
	if err := resequence(m.dir()); err != nil {
		return m, err
	}
	out := m
	out.folder, out.num = to, next
	return out, nil
}

// removeMessage deletes m's files (the .txt first: the message is gone
// for every reader at once) and renumbers its folder.
func removeMessage(m spoolMessage) error {
	unlock, err := lockFolder(m.dir(), lockWait)
	if err != nil {
		return err
	}
	defer unlock()
	if err := m.check(); err != nil {
		return err
	}
	exts, err := msgExts(m.dir(), m.num)
	if err != nil {
		return err
	}
	if len(exts) > 0 && exts[len(exts)-1] == "txt" {
		exts = append([]string{"txt"}, exts[:len(exts)-1]...)
	}
	for _, ext := range exts {
		if err := os.Remove(msgBase(m.dir(), m.num) + "." + ext); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("asterisk: deleting voicemail: %w", err)
		}
	}
	return resequence(m.dir())
}
