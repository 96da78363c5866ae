package freeswitch

// The voicemail indexer: mod_voicemail records the messages (and keeps
// taking them while Switchboard is down); the indexer hands each new one
// to provisioning (DepositVoicemail, idempotent per switch and uuid),
// tells it what the switch still has (SyncVoicemail: read or deleted by
// phone) and applies read and delete made through the API on the switch.
//
//   - New messages come from the vm::maintenance leave-message event
//     (VoicemailEvent) and from a full scan (`vm_list` of every box of
//     every tenant) after every (re)connect and every ScanEvery, so that
//     a message left while the connection was down, or whose event was
//     lost, is deposited at the next scan; depositing again is a no-op.
//   - What a phone did (a message listened to and saved, or deleted) is
//     in no leave-message event: mod_voicemail fires mwi-update for the
//     box when the caller leaves the message list (and after vm_read,
//     vm_delete and a new message). That event has the indexer scan
//     that box at once (vm_list, deposit, sync), so a message read by
//     phone is read in Switchboard within a second instead of at the
//     next full scan (seen live: mod_voicemail marks it read only when
//     the caller is back at the main menu, and says so with mwi-update).
//   - The scan deposits what is new, then syncs each box with the
//     switch's list. mod_voicemail fires leave-message just before it
//     inserts the message's row, so a message deposited from its event a
//     moment before the scan listed the box may be missing from the
//     list: messages deposited in the last SyncGrace count as present,
//     or the sync would take them for deleted by phone.
//   - Read and delete (provisioning.Change with Voicemail, of this node)
//     are queued by Apply and run in order before the next scan, so that
//     a scan never reads the switch's state from before them (the sync
//     would undo the API's read): `vm_read <box>@<domain> read|unread
//     <uuid>` and `vm_delete <box>@<domain> <uuid>` (the file is
//     unlinked, the row deleted), each of which makes mod_voicemail send
//     the phones a new MWI count. A change that fails (node down) is
//     kept and retried; the scan waits for it.
//
//   - A phone's mwi-account (its extension's box, see mwiAccount) is in
//     its cached sip_auth answer: when a routing change gives a phone
//     another box (or none), the indexer flushes that user from the
//     node's directory cache (`xml_flush_cache id <user> <domain>`, as
//     the Reloader does for accounts), so that the phone's next REGISTER
//     carries the new mwi-account.
//
// Everything runs in one goroutine (Run), so events, changes and scans
// never interleave.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// VoicemailService is what the indexer needs of provisioning (the
// Service).
type VoicemailService interface {
	DepositVoicemail(ctx context.Context, m *provisioning.VoicemailMessage, r io.Reader) (bool, error)
	SyncVoicemail(ctx context.Context, node string, boxID int64, present map[string]bool) error
	VoicemailMessages(ctx context.Context, sc provisioning.Scope, f provisioning.VoicemailFilter) ([]provisioning.VoicemailMessage, error)
}

// VoicemailIndexerConfig configures a VoicemailIndexer.
type VoicemailIndexerConfig struct {
	Node    string // the node's name: VoicemailMessage.Switch
	Service VoicemailService
	// Plans lists every tenant's plan: its boxes.
	Plans PlanSource
	// Dir is NodeConfig.VoicemailDir: the switch's <storage>/voicemail
	// as this daemon sees it; "" reads the paths the switch gives.
	Dir string
	// ScanEvery is the full scan's period; 1 minute when zero.
	ScanEvery time.Duration
	// SyncGrace is how long a deposited message counts as present
	// without being listed; 1 minute when zero.
	SyncGrace time.Duration
	// RetryEvery is how soon a failed scan or change is retried; 5 s
	// when zero.
	RetryEvery time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// VoicemailIndexer indexes one node's voicemail; see the file comment.
// Give it to the node's Adapter (Config.Voicemail) for events and
// reconnects, add it to the Service's sinks, and Run it.
type VoicemailIndexer struct {
	cfg VoicemailIndexerConfig
	log *slog.Logger

	mu      sync.Mutex
	events  []vmMessage
	changes []provisioning.Change
	rescan  bool
	// boxScans are the boxes ("number@domain") an mwi-update asked to
	// scan, before the next turn.
	boxScans map[string]bool
	wake     chan struct{}

	recent map[string]time.Time // uuid → when deposited (Run only)
	// mwi is every phone's mwi-account as last answered ("user domain" →
	// box@domain, "" none), nil until the first scan (Run only);
	// mwiDue asks for a comparison (a routing change).
	mwi    map[string]string
	mwiDue bool
	// depositing is the uuid being deposited (mu): the Change that
	// DepositVoicemail sends for it (new, unread) is the indexer's own
	// and needs nothing on the switch.
	depositing string
}

var _ provisioning.ConfigSink = (*VoicemailIndexer)(nil)

// maxQueuedVoicemail bounds the events queued between two turns of Run;
// beyond it they are dropped and a scan is asked for instead.
const maxQueuedVoicemail = 10000

// NewVoicemailIndexer returns an indexer; call Run.
func NewVoicemailIndexer(cfg VoicemailIndexerConfig) *VoicemailIndexer {
	cfg.ScanEvery = cmp.Or(cfg.ScanEvery, time.Minute)
	cfg.SyncGrace = cmp.Or(cfg.SyncGrace, time.Minute)
	cfg.RetryEvery = cmp.Or(cfg.RetryEvery, 5*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cmp.Or(cfg.Logger, slog.Default())
	return &VoicemailIndexer{cfg: cfg, log: log, wake: make(chan struct{}, 1), recent: map[string]time.Time{}, rescan: true, boxScans: map[string]bool{}}
}

func (ix *VoicemailIndexer) poke() {
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// VoicemailEvent takes an event of the node (the Adapter hands it every
// vm::maintenance event); it never blocks.
func (ix *VoicemailIndexer) VoicemailEvent(ev Event) {
	if box, ok := vmBoxChanged(ev); ok {
		ix.mu.Lock()
		if len(ix.boxScans) < maxQueuedVoicemail {
			ix.boxScans[box] = true
		} else {
			ix.rescan = true
		}
		ix.mu.Unlock()
		ix.poke()
		return
	}
	m, ok := vmLeftMessage(ev)
	if !ok {
		return
	}
	ix.mu.Lock()
	if len(ix.events) < maxQueuedVoicemail {
		ix.events = append(ix.events, m)
	} else {
		ix.rescan = true
	}
	ix.mu.Unlock()
	ix.poke()
}

// Reconnected asks for a full scan: events were lost while the
// connection was down.
func (ix *VoicemailIndexer) Reconnected() {
	ix.mu.Lock()
	ix.rescan = true
	ix.mu.Unlock()
	ix.poke()
}

// Apply queues read and delete of this node's messages, and a check of
// the phones' mwi-accounts after a routing change.
func (ix *VoicemailIndexer) Apply(_ context.Context, c provisioning.Change) error {
	if c.Routing != nil || c.Account != nil {
		ix.mu.Lock()
		ix.mwiDue = true
		ix.mu.Unlock()
		ix.poke()
		return nil
	}
	if c.Voicemail == nil || c.Voicemail.Switch != ix.cfg.Node {
		return nil
	}
	ix.mu.Lock()
	if c.Op == provisioning.OpUpsert && !c.Voicemail.Read && c.Voicemail.SwitchRef == ix.depositing {
		ix.mu.Unlock()
		return nil
	}
	ix.changes = append(ix.changes, c)
	ix.mu.Unlock()
	ix.poke()
	return nil
}

// Run indexes until ctx ends, with cmd (the node's Adapter) for the api
// commands; it returns nil then.
func (ix *VoicemailIndexer) Run(ctx context.Context, cmd Commander) error {
	tick := time.NewTicker(ix.cfg.ScanEvery)
	defer tick.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	<-retry.C
	for {
		if ix.turn(ctx, cmd) {
			retry.Reset(ix.cfg.RetryEvery)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ix.wake:
		case <-tick.C:
			ix.mu.Lock()
			ix.rescan = true
			ix.mu.Unlock()
		case <-retry.C:
		}
	}
}

// turn deposits the queued events, applies the queued changes, then
// scans when one is due; failed reports something to retry.
func (ix *VoicemailIndexer) turn(ctx context.Context, cmd Commander) (failed bool) {
	ix.mu.Lock()
	events := ix.events
	ix.events = nil
	ix.mu.Unlock()
	var boxes map[string]*provisioning.VoicemailBox // "number@domain"
	if len(events) > 0 {
		var err error
		if boxes, err = ix.boxes(ctx); err != nil {
			ix.log.WarnContext(ctx, "freeswitch: voicemail: reading the boxes", "err", err)
			ix.requeue(events)
			return true
		}
		for _, m := range events {
			if b := boxes[m.User+"@"+m.Domain]; b != nil {
				if err := ix.deposit(ctx, b, m); err != nil {
					ix.log.WarnContext(ctx, "freeswitch: voicemail: depositing from the event (the next scan retries)", "box", b.Number, "uuid", m.UUID, "err", err)
					ix.askRescan()
				}
			}
		}
	}
	if !ix.applyChanges(ctx, cmd) {
		return true
	}
	ix.mu.Lock()
	due, mwiDue, boxScans := ix.rescan, ix.mwiDue, ix.boxScans
	ix.rescan, ix.mwiDue = false, false
	if len(boxScans) > 0 {
		ix.boxScans = map[string]bool{}
	} else {
		boxScans = nil // not the map VoicemailEvent writes
	}
	ix.mu.Unlock()
	if mwiDue && ix.mwi != nil {
		if err := ix.flushMWI(ctx, cmd); err != nil {
			ix.mu.Lock()
			ix.mwiDue = true
			ix.mu.Unlock()
			failed = true
		}
	}
	if !due && len(boxScans) > 0 {
		if err := ix.scanBoxes(ctx, cmd, boxScans); err != nil {
			if errors.Is(err, ErrNotConnected) || ctx.Err() != nil {
				ix.askRescan()
				return true
			}
			ix.log.WarnContext(ctx, "freeswitch: voicemail box scan failed", "err", err)
		}
	}
	if !due {
		return failed
	}
	if err := ix.scan(ctx, cmd); err != nil {
		if errors.Is(err, ErrNotConnected) || ctx.Err() != nil {
			ix.askRescan() // again as soon as the node is back
			return true
		}
		// anything else (a box the node refuses to list, a store error)
		// waits for the next periodic scan rather than loop every
		// RetryEvery
		ix.log.WarnContext(ctx, "freeswitch: voicemail scan failed", "err", err)
	}
	return failed
}

// phonesMWI maps every phone account of every plan ("user domain") to
// its mwi-account ("" none).
func phonesMWI(plans []*provisioning.Plan) map[string]string {
	out := map[string]string{}
	for _, p := range plans {
		for _, a := range p.Accounts {
			mwi := ""
			if b := accountBox(p, a.ID); b != nil {
				mwi = b.Number + "@" + VoicemailDomain(p.Tenant.ID)
			}
			out[a.Username+" "+a.Domain] = mwi
		}
	}
	return out
}

// flushMWI flushes the cached directory entry of every phone whose
// mwi-account changed since the last look.
func (ix *VoicemailIndexer) flushMWI(ctx context.Context, cmd Commander) error {
	plans, err := ix.cfg.Plans(ctx)
	if err != nil {
		return err
	}
	now := phonesMWI(plans)
	for key, mwi := range now {
		if old, ok := ix.mwi[key]; ok && old == mwi || !ok && mwi == "" {
			continue
		}
		if _, err := cmd.API(ctx, "xml_flush_cache id "+key); err != nil {
			return err
		}
		ix.mwi[key] = mwi
	}
	return nil
}

func (ix *VoicemailIndexer) askRescan() {
	ix.mu.Lock()
	ix.rescan = true
	ix.mu.Unlock()
}

func (ix *VoicemailIndexer) requeue(ms []vmMessage) {
	ix.mu.Lock()
	ix.events = append(ms, ix.events...)
	ix.mu.Unlock()
}

// boxes maps every box of every tenant by number@voicemail domain.
func (ix *VoicemailIndexer) boxes(ctx context.Context) (map[string]*provisioning.VoicemailBox, error) {
	plans, err := ix.cfg.Plans(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]*provisioning.VoicemailBox{}
	for _, p := range plans {
		for _, b := range p.Voicemails {
			out[b.Number+"@"+VoicemailDomain(p.Tenant.ID)] = b
		}
	}
	return out, nil
}

// deposit hands message m of box b to provisioning with its audio.
func (ix *VoicemailIndexer) deposit(ctx context.Context, b *provisioning.VoicemailBox, m vmMessage) error {
	p := vmLocalPath(ix.cfg.Dir, m.Path)
	if p == "" {
		return fmt.Errorf("freeswitch: voicemail %s: file path %q is not <profile>/<domain>/<box>/<file>", m.UUID, m.Path)
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("freeswitch: voicemail %s: %w", m.UUID, err)
	}
	defer f.Close()
	vm := &provisioning.VoicemailMessage{BoxID: b.ID, Switch: ix.cfg.Node, SwitchRef: m.UUID,
		CallerIDNumber: m.CallerNumber, CallerIDName: m.CallerName, ReceivedAt: m.Created}
	ix.mu.Lock()
	ix.depositing = m.UUID
	ix.mu.Unlock()
	created, err := ix.cfg.Service.DepositVoicemail(ctx, vm, f)
	ix.mu.Lock()
	ix.depositing = ""
	ix.mu.Unlock()
	if err != nil {
		return err
	}
	ix.recent[m.UUID] = ix.cfg.Now()
	if created {
		ix.log.InfoContext(ctx, "freeswitch: voicemail deposited", "box", b.Number, "tenant", b.TenantID, "uuid", m.UUID, "duration_ms", vm.DurationMS)
	}
	return nil
}

// applyChanges runs the queued changes in order; false when one failed
// (it and those after it stay queued).
func (ix *VoicemailIndexer) applyChanges(ctx context.Context, cmd Commander) bool {
	for {
		ix.mu.Lock()
		if len(ix.changes) == 0 {
			ix.mu.Unlock()
			return true
		}
		c := ix.changes[0]
		ix.mu.Unlock()
		if err := ix.applyChange(ctx, cmd, c); err != nil {
			if !errors.Is(err, ErrNotConnected) {
				ix.log.WarnContext(ctx, "freeswitch: voicemail change not applied yet", "message", c.Voicemail.ID, "op", c.Op, "err", err)
			}
			return false
		}
		ix.mu.Lock()
		ix.changes = ix.changes[1:]
		ix.mu.Unlock()
	}
}

// applyChange marks one message read or unread, or deletes it, on the
// switch. A message of a box that no longer exists is skipped: its
// messages went with it.
func (ix *VoicemailIndexer) applyChange(ctx context.Context, cmd Commander, c provisioning.Change) error {
	m := c.Voicemail
	plans, err := ix.cfg.Plans(ctx)
	if err != nil {
		return err
	}
	var box string
	for _, p := range plans {
		if p.Tenant.ID != m.TenantID {
			continue
		}
		if b := p.Voicemail(m.BoxID); b != nil {
			box = b.Number + "@" + VoicemailDomain(p.Tenant.ID)
		}
	}
	if box == "" {
		return nil
	}
	var api string
	switch {
	case c.Op == provisioning.OpDelete:
		api = "vm_delete " + box + " " + m.SwitchRef
	case m.Read:
		api = "vm_read " + box + " read " + m.SwitchRef
	default:
		api = "vm_read " + box + " unread " + m.SwitchRef
	}
	if !safeVMArg(m.SwitchRef) {
		return nil // not a uuid mod_voicemail made: nothing of ours
	}
	_, err = cmd.API(ctx, api)
	return err
}

// safeVMArg: a switch ref goes into an api command line: only what a
// uuid holds.
func safeVMArg(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// scan lists every box on the switch, deposits what is new and syncs
// each box.
func (ix *VoicemailIndexer) scan(ctx context.Context, cmd Commander) error {
	plans, err := ix.cfg.Plans(ctx)
	if err != nil {
		return err
	}
	if ix.mwi == nil {
		ix.mwi = phonesMWI(plans) // as the answers since the start say
	}
	now := ix.cfg.Now()
	for id, at := range ix.recent {
		if now.Sub(at) > ix.cfg.SyncGrace {
			delete(ix.recent, id)
		}
	}
	var firstErr error
	for _, p := range plans {
		for _, b := range p.Voicemails {
			if err := ix.scanBox(ctx, cmd, p.Tenant.ID, b); err != nil {
				if errors.Is(err, ErrNotConnected) || ctx.Err() != nil {
					return err
				}
				firstErr = cmp.Or(firstErr, err)
			}
		}
	}
	return firstErr
}

// scanBoxes scans the boxes named ("number@domain") by mwi-update
// events; a name that is no box of Switchboard's is left alone.
func (ix *VoicemailIndexer) scanBoxes(ctx context.Context, cmd Commander, names map[string]bool) error {
	boxes, err := ix.boxes(ctx)
	if err != nil {
		return err
	}
	var firstErr error
	for name := range names {
		b := boxes[name]
		if b == nil {
			continue
		}
		if err := ix.scanBox(ctx, cmd, b.TenantID, b); err != nil {
			if errors.Is(err, ErrNotConnected) || ctx.Err() != nil {
				return err
			}
			firstErr = cmp.Or(firstErr, err)
		}
	}
	return firstErr
}

func (ix *VoicemailIndexer) scanBox(ctx context.Context, cmd Commander, tenantID int64, b *provisioning.VoicemailBox) error {
	dom := VoicemailDomain(tenantID)
	ans, err := cmd.API(ctx, "vm_list "+b.Number+"@"+dom)
	if apiErr := (*APIError)(nil); errors.As(err, &apiErr) && apiErr.Reply == "no reply" {
		// mod_event_socket answers an api command that wrote nothing
		// (vm_list of an empty box) "-ERR no reply"
		ans, err = "", nil
	}
	if err != nil {
		return fmt.Errorf("freeswitch: vm_list %s@%s: %w", b.Number, dom, err)
	}
	have := map[string]bool{}
	for f := (provisioning.VoicemailFilter{BoxID: b.ID, Switch: ix.cfg.Node, Page: provisioning.Page{Limit: provisioning.MaxLimit}}); ; {
		ms, err := ix.cfg.Service.VoicemailMessages(ctx, provisioning.AdminScope(), f)
		if err != nil {
			return err
		}
		for _, m := range ms {
			have[m.SwitchRef] = true
		}
		if len(ms) < f.Limit {
			break
		}
		f.After = ms[len(ms)-1].ID
	}
	present := map[string]bool{}
	for _, m := range parseVMList(ans) {
		if m.User != b.Number || m.Domain != dom {
			continue
		}
		present[m.UUID] = m.Read
		if have[m.UUID] {
			continue
		}
		if err := ix.deposit(ctx, b, m); err != nil {
			// left for the next scan; the box is synced all the same
			// (the sync removes only what the store has and the switch
			// does not list)
			ix.log.WarnContext(ctx, "freeswitch: voicemail not deposited", "box", b.Number, "uuid", m.UUID, "err", err)
		}
	}
	for id := range ix.recent {
		if _, ok := present[id]; !ok && have[id] {
			present[id] = false
		}
	}
	return ix.cfg.Service.SyncVoicemail(ctx, ix.cfg.Node, b.ID, present)
}
