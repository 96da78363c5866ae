package asterisk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// VoicemailService is what the indexer needs of provisioning.Service.
type VoicemailService interface {
	DepositVoicemail(ctx context.Context, m *provisioning.VoicemailMessage, audio io.Reader) (created bool, err error)
	SyncVoicemail(ctx context.Context, node string, boxID int64, present map[string]bool) error
}

var _ VoicemailService = (*provisioning.Service)(nil)

// VoicemailIndexerConfig configures a VoicemailIndexer.
type VoicemailIndexerConfig struct {
	// Node is the switch's name: the Switch of its messages.
	Node string
	// Spool is app_voicemail's spool directory as the daemon sees it
	// (NodeConfig.VoicemailSpool), e.g. /var/spool/asterisk/voicemail.
	Spool string
	// Plans lists every tenant's plan: a box is found by its tenant's
	// context and its number.
	Plans   PlanSource
	Service VoicemailService
	// Every is the time between scans; 2 s when zero.
	Every  time.Duration
	Logger *slog.Logger
}

// VoicemailIndexer hands the messages app_voicemail records to
// Switchboard and keeps the two in step. Every scan (at start, every
// Every, and after a change) reads each box's folders
// (<spool>/sb-t<tenant>/<box>/INBOX, Old, ...): a message not seen yet
// is deposited (DepositVoicemail: idempotent per msg_id, so a restart
// that deposits everything again adds nothing), and a box whose view
// (msg_id → read) changed is synced (SyncVoicemail: read or deleted by
// phone). Read, unread and delete made through the API come as Changes
// for this node and are applied to the files between scans, in the
// same goroutine, so a scan never sees half a move it made.
//
// A message is taken once its .txt is there: app_voicemail renames the
// .txt into the folder after the audio (voicemail_spool.go). A brief
// flip is possible when a read through the API lands between a scan and
// the move (the scan syncs the message unread, the move then makes it
// read again two seconds later): the files are the truth.
type VoicemailIndexer struct {
	cfg  VoicemailIndexerConfig
	log  *slog.Logger
	wake chan struct{}

	mu      sync.Mutex
	pending []provisioning.Change

	// Owned by Run's goroutine (and Scan's caller in tests).
	where     map[string]spoolMessage // msg_id → its files, as last scanned
	deposited map[string]bool
	retry     map[string]retryState
	synced    map[int64]string // box id → the view last synced
	infos     map[string]cachedInfo
	scans     int
}

type retryState struct {
	next  time.Time
	tries int
}

type cachedInfo struct {
	file os.FileInfo
	info VoicemailInfo
}

var _ provisioning.ConfigSink = (*VoicemailIndexer)(nil)

// NewVoicemailIndexer returns an indexer; it starts nothing: call Run.
func NewVoicemailIndexer(cfg VoicemailIndexerConfig) *VoicemailIndexer {
	if cfg.Every <= 0 {
		cfg.Every = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &VoicemailIndexer{cfg: cfg, log: log.With("voicemail_spool", cfg.Spool), wake: make(chan struct{}, 1),
		where: map[string]spoolMessage{}, deposited: map[string]bool{}, retry: map[string]retryState{},
		synced: map[int64]string{}, infos: map[string]cachedInfo{}}
}

// Apply queues a read, unread or delete of one of this node's messages;
// it never blocks.
func (x *VoicemailIndexer) Apply(_ context.Context, c provisioning.Change) error {
	if c.Voicemail == nil || c.Voicemail.Switch != x.cfg.Node {
		return nil
	}
	x.mu.Lock()
	x.pending = append(x.pending, c)
	x.mu.Unlock()
	select {
	case x.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run scans until ctx ends.
func (x *VoicemailIndexer) Run(ctx context.Context) error {
	t := time.NewTicker(x.cfg.Every)
	defer t.Stop()
	for {
		x.applyPending(ctx)
		if err := x.Scan(ctx); err != nil && ctx.Err() == nil {
			x.log.Warn("asterisk: voicemail scan", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-x.wake:
		}
	}
}

// errNoSpool: the spool is not there (not mounted, a wrong path):
// nothing is synced, so that no message is taken for deleted.
var errNoSpool = errors.New("asterisk: voicemail spool not found")

// Scan reads every box once: deposits new messages, syncs changed
// views. Run calls it; tests call it directly.
func (x *VoicemailIndexer) Scan(ctx context.Context) error {
	if st, err := os.Stat(x.cfg.Spool); err != nil || !st.IsDir() {
		return fmt.Errorf("%w: %s", errNoSpool, x.cfg.Spool)
	}
	plans, err := x.cfg.Plans(ctx)
	if err != nil {
		return fmt.Errorf("asterisk: reading routing plans: %w", err)
	}
	x.scans++
	full := x.scans%30 == 1 // about once a minute, every view is synced again
	where := map[string]spoolMessage{}
	var errs []error
	for _, p := range plans {
		for _, b := range p.Voicemails {
			box := filepath.Join(x.cfg.Spool, VoicemailContext(p.Tenant.ID), b.Number)
			present, err := x.scanBox(ctx, b.ID, box, where)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			view := viewKey(present)
			if !full && x.synced[b.ID] == view {
				continue
			}
			if err := x.cfg.Service.SyncVoicemail(ctx, x.cfg.Node, b.ID, present); err != nil {
				errs = append(errs, fmt.Errorf("asterisk: syncing voicemail box %s: %w", b.Number, err))
				continue
			}
			x.synced[b.ID] = view
		}
	}
	x.where = where
	if len(errs) == 0 {
		x.forget(where)
	}
	return errors.Join(errs...)
}

// forget drops what the indexer remembers of messages no longer in the
// spool (deleted, or moved and found again under their new name), so
// that its memory follows the spool, not its history. A message that
// comes back is offered again: DepositVoicemail adds nothing twice.
func (x *VoicemailIndexer) forget(where map[string]spoolMessage) {
	for ref := range x.deposited {
		if _, ok := where[ref]; !ok {
			delete(x.deposited, ref)
		}
	}
	for ref := range x.retry {
		if _, ok := where[ref]; !ok {
			delete(x.retry, ref)
		}
	}
	files := make(map[string]bool, len(where))
	for _, m := range where {
		files[msgBase(m.dir(), m.num)+".txt"] = true
	}
	for path := range x.infos {
		if !files[path] {
			delete(x.infos, path)
		}
	}
}

// scanBox reads one box's folders into where and deposits what is new;
// present is its view (msg_id → read).
func (x *VoicemailIndexer) scanBox(ctx context.Context, boxID int64, box string, where map[string]spoolMessage) (map[string]bool, error) {
	present := map[string]bool{}
	for _, f := range voicemailFolders {
		dir := filepath.Join(box, f.name)
		nums, err := folderMessages(dir)
		if err != nil {
			return nil, fmt.Errorf("asterisk: voicemail folder: %w", err)
		}
		for _, n := range nums {
			base := msgBase(dir, n)
			info, err := x.info(base + ".txt")
			if err != nil {
				if !errors.Is(err, os.ErrNotExist) { // gone meanwhile: next scan
					x.log.Debug("asterisk: unusable voicemail file", "file", base+".txt", "err", err)
				}
				continue
			}
			if _, dup := where[info.MsgID]; dup {
				continue // a copy (app_voicemail's forward): the first is the message
			}
			where[info.MsgID] = spoolMessage{box: box, folder: f.name, num: n, unread: f.unread, id: info.MsgID}
			present[info.MsgID] = !f.unread
			if !x.deposited[info.MsgID] {
				x.deposit(ctx, boxID, base, info, !f.unread)
			}
		}
	}
	return present, nil
}

// info parses a .txt, from the cache while it is the same file (inode:
// renumbering renames another message's file to this name, keeping its
// time and maybe its size) with the same size and time.
func (x *VoicemailIndexer) info(path string) (VoicemailInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return VoicemailInfo{}, err
	}
	if c, ok := x.infos[path]; ok && os.SameFile(c.file, st) && c.file.ModTime().Equal(st.ModTime()) && c.file.Size() == st.Size() {
		return c.info, nil
	}
	if st.Size() > 64<<10 {
		return VoicemailInfo{}, fmt.Errorf("%w: %d bytes", errVoicemailInfo, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return VoicemailInfo{}, err
	}
	info, err := ParseVoicemailInfo(b)
	if err != nil {
		return info, err
	}
	x.infos[path] = cachedInfo{file: st, info: info}
	return info, nil
}

// deposit hands one message over; a failure is retried later, less and
// less often (a file that will never decode costs little).
func (x *VoicemailIndexer) deposit(ctx context.Context, boxID int64, base string, info VoicemailInfo, read bool) {
	r := x.retry[info.MsgID]
	if time.Now().Before(r.next) {
		return
	}
	err := func() error {
		f, err := os.Open(base + ".wav")
		if err != nil {
			return fmt.Errorf("asterisk: voicemail audio (voicemail.conf needs format=wav): %w", err)
		}
		defer f.Close()
		m := &provisioning.VoicemailMessage{BoxID: boxID, Switch: x.cfg.Node, SwitchRef: info.MsgID,
			CallerIDNumber: info.CallerIDNumber, CallerIDName: info.CallerIDName, ReceivedAt: info.OrigTime, Read: read}
		_, err = x.cfg.Service.DepositVoicemail(ctx, m, f)
		return err
	}()
	if err != nil {
		r.tries++
		r.next = time.Now().Add(min(x.cfg.Every<<min(r.tries, 10), 10*time.Minute))
		x.retry[info.MsgID] = r
		if r.tries == 1 {
			x.log.Warn("asterisk: depositing voicemail", "msg_id", info.MsgID, "file", base, "err", err)
		}
		return
	}
	delete(x.retry, info.MsgID)
	x.deposited[info.MsgID] = true
}

// applyPending applies the queued API changes to the files.
func (x *VoicemailIndexer) applyPending(ctx context.Context) {
	x.mu.Lock()
	todo := x.pending
	x.pending = nil
	x.mu.Unlock()
	rescanned := false
	for _, c := range todo {
		m := c.Voicemail
		loc, ok := x.where[m.SwitchRef]
		if !ok && !rescanned {
			// Deposited and changed before this indexer's scan saw it
			// (or it was just renumbered): look again once.
			rescanned = true
			if err := x.Scan(ctx); err != nil {
				x.log.Warn("asterisk: voicemail scan", "err", err)
			}
			loc, ok = x.where[m.SwitchRef]
		}
		if !ok {
			continue // no longer on the switch
		}
		err := x.applyOne(c.Op, m, loc)
		if errors.Is(err, errMsgMoved) {
			// Renumbered by app_voicemail since the scan: find it again.
			if err = x.Scan(ctx); err == nil {
				if loc, ok = x.where[m.SwitchRef]; ok {
					err = x.applyOne(c.Op, m, loc)
				}
			}
		}
		if err != nil {
			x.log.Warn("asterisk: applying voicemail change", "msg_id", m.SwitchRef, "op", c.Op, "err", err)
		}
	}
}

func (x *VoicemailIndexer) applyOne(op provisioning.Op, m *provisioning.VoicemailMessage, loc spoolMessage) error {
	var err error
	switch {
	case op == provisioning.OpDelete:
		err = removeMessage(loc)
		delete(x.where, m.SwitchRef)
	case m.Read && loc.unread:
		loc, err = moveMessage(loc, "Old")
	case !m.Read && !loc.unread:
		loc, err = moveMessage(loc, "INBOX")
	default:
		return nil
	}
	// Numbers in the folders moved: the next scan finds them again.
	for ref, l := range x.where {
		if l.box == loc.box {
			delete(x.where, ref)
		}
	}
	return err
}

// viewKey is a box's view as one comparable string.
func viewKey(present map[string]bool) string {
	refs := make([]string, 0, len(present))
	for ref, read := range present {
		refs = append(refs, ref+"="+strconv.FormatBool(read))
	}
	slices.Sort(refs)
	return strings.Join(refs, ",")
}
