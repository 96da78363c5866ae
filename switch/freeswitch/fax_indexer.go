package freeswitch

// The fax indexer: rxfax writes a box's fax into fax_dir as
// t<tenant>-b<box>-<uuid>.tif (routing_fax.go); the indexer hands it to
// provisioning (DepositFax converts it to PDF and keeps it once per
// switch and uuid) and removes the file once it is deposited.
//
//   - On mod_spandsp's spandsp::rxfaxresult event (Adapter.Config.Fax):
//     the event names the call (Unique-ID) and the outcome (fax-success,
//     fax-result-text, fax-document-transferred-pages,
//     fax-remote-station-id), with the channel's variables (FreeSWITCH
//     adds them to every CUSTOM event: switch_channel_event_set_extended_data,
//     and testdata/fax/rxfaxresult.event has them); the file is found by
//     the uuid in its name. A fax that failed before its first page
//     leaves no file: it is recorded as failed, without a document, from
//     variable_fax_filename (set by mod_spandsp when rxfax starts, before
//     any page), which names the box and tenant.
//   - A scan of fax_dir every ScanEvery takes the files whose event was
//     missed (the connection was down when the call ended): those left
//     alone for StaleAfter, longer than rxfax goes without writing during
//     a call (a page takes well under a minute). Their outcome is
//     unknown: they are deposited as partial, with an error saying so.
//   - A file whose deposit fails stays and is tried again at the next
//     scan; depositing again is a no-op (once per switch ref).

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// faxEventResult is the subclass of mod_spandsp's rxfax outcome event.
const faxEventResult = "spandsp::rxfaxresult"

// FaxService is what the indexer needs of provisioning (the Service).
type FaxService interface {
	DepositFax(ctx context.Context, f *provisioning.Fax, tiff []byte) (bool, error)
}

// FaxIndexerConfig configures a FaxIndexer.
type FaxIndexerConfig struct {
	Node    string // the node's name: Fax.Switch
	Service FaxService
	Dir     string // NodeConfig.FaxDir
	// ScanEvery is the scan's period; 1 minute when zero.
	ScanEvery time.Duration
	// StaleAfter is how long a file must be left unchanged before the
	// scan takes it without its event; 5 minutes when zero.
	StaleAfter time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// FaxIndexer deposits one node's received faxes; see the file comment.
// Give it to the node's Adapter (Config.Fax) and Run it.
type FaxIndexer struct {
	cfg    FaxIndexerConfig
	log    *slog.Logger
	events indexQueue
}

// NewFaxIndexer returns an indexer; call Run.
func NewFaxIndexer(cfg FaxIndexerConfig) *FaxIndexer {
	cfg.ScanEvery = cmp.Or(cfg.ScanEvery, time.Minute)
	cfg.StaleAfter = cmp.Or(cfg.StaleAfter, 5*time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &FaxIndexer{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()), events: newIndexQueue()}
}

// FaxEvent takes an event of the node (the Adapter hands it every
// spandsp::rxfaxresult event); it never blocks: when the queue is full
// the event is dropped and its file waits for the scan.
func (ix *FaxIndexer) FaxEvent(ev Event) {
	if ev.Subclass() == faxEventResult {
		ix.events.offer(ev)
	}
}

// Run deposits faxes until ctx ends: a scan at once, then events and a
// scan every ScanEvery.
func (ix *FaxIndexer) Run(ctx context.Context) error {
	return ix.events.run(ctx, ix.cfg.ScanEvery, func(ev Event) { ix.event(ctx, ev) }, func() { ix.scan(ctx) })
}

// event deposits the file of the call an rxfaxresult event names.
func (ix *FaxIndexer) event(ctx context.Context, ev Event) {
	uuid := cmp.Or(ev.Get("Unique-ID"), ev.Get("uuid"))
	if uuid == "" {
		return
	}
	matches, _ := filepath.Glob(filepath.Join(ix.cfg.Dir, "t*-b*-"+globQuote(uuid)+".tif"))
	if len(matches) == 0 {
		ix.failed(ctx, ev, uuid)
		return
	}
	for _, path := range matches {
		tenant, box, u, ok := parseFaxFileName(filepath.Base(path))
		if !ok || u != uuid {
			continue
		}
		f := &provisioning.Fax{BoxID: box, Switch: ix.cfg.Node, SwitchRef: uuid,
			CallerIDNumber: ev.Get("Caller-Caller-ID-Number"), RemoteStation: ev.Get("fax-remote-station-id"),
			Status: provisioning.FaxReceived, ReceivedAt: ix.cfg.Now().UTC()}
		if ev.Get("fax-success") != "1" {
			f.Status, f.Error = provisioning.FaxPartial, cmp.Or(ev.Get("fax-result-text"), "fax-result-code "+ev.Get("fax-result-code"))
		}
		ix.deposit(ctx, tenant, path, f)
	}
}

// failed records the fax of an event whose file does not exist (nothing
// was received) as failed, if the event names one of the boxes' files.
func (ix *FaxIndexer) failed(ctx context.Context, ev Event, uuid string) {
	name := filepath.Base(strings.ReplaceAll(ev.Get("variable_fax_filename"), `\`, "/"))
	tenant, box, u, ok := parseFaxFileName(name)
	if !ok || u != uuid || ev.Get("fax-success") == "1" {
		return // not a box's fax (or a success whose file went: deposited already)
	}
	f := &provisioning.Fax{BoxID: box, Switch: ix.cfg.Node, SwitchRef: uuid, CallerIDNumber: ev.Get("Caller-Caller-ID-Number"),
		RemoteStation: ev.Get("fax-remote-station-id"), Status: provisioning.FaxFailed, ReceivedAt: ix.cfg.Now().UTC(),
		Error: cmp.Or(ev.Get("fax-result-text"), "fax-result-code "+ev.Get("fax-result-code"))}
	created, err := ix.cfg.Service.DepositFax(ctx, f, nil)
	if err != nil {
		ix.log.Warn("freeswitch: failed fax not recorded", "node", ix.cfg.Node, "uuid", uuid, "tenant", strconv.FormatInt(tenant, 10), "err", err)
		return
	}
	ix.log.Info("freeswitch: failed fax recorded", "node", ix.cfg.Node, "box", box, "uuid", uuid, "error", f.Error, "new", created)
}

// scan deposits the files left alone for StaleAfter: their event was
// missed.
func (ix *FaxIndexer) scan(ctx context.Context) {
	ents, err := os.ReadDir(ix.cfg.Dir)
	if err != nil {
		ix.log.Warn("freeswitch: fax_dir unreadable", "node", ix.cfg.Node, "dir", ix.cfg.Dir, "err", err)
		return
	}
	for _, e := range ents {
		tenant, box, uuid, ok := parseFaxFileName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || ix.cfg.Now().Sub(info.ModTime()) < ix.cfg.StaleAfter {
			continue
		}
		f := &provisioning.Fax{BoxID: box, Switch: ix.cfg.Node, SwitchRef: uuid, Status: provisioning.FaxPartial,
			Error: "the switch's result was missed: the fax may be incomplete", ReceivedAt: info.ModTime().UTC()}
		ix.deposit(ctx, tenant, filepath.Join(ix.cfg.Dir, e.Name()), f)
	}
}

// deposit hands one file to provisioning and removes it once kept.
func (ix *FaxIndexer) deposit(ctx context.Context, tenant int64, path string, f *provisioning.Fax) {
	tiff, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return // deposited by the other path already
	}
	if err != nil {
		ix.log.Warn("freeswitch: fax unreadable", "node", ix.cfg.Node, "file", path, "err", err)
		return
	}
	if len(tiff) == 0 {
		tiff = nil
	}
	created, err := ix.cfg.Service.DepositFax(ctx, f, tiff)
	if err != nil {
		ix.log.Warn("freeswitch: fax not deposited (kept for the next scan)", "node", ix.cfg.Node, "file", path,
			"tenant", strconv.FormatInt(tenant, 10), "err", err)
		return
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		ix.log.Warn("freeswitch: deposited fax not removed", "node", ix.cfg.Node, "file", path, "err", err)
	}
	ix.log.Info("freeswitch: fax deposited", "node", ix.cfg.Node, "box", f.BoxID, "uuid", f.SwitchRef,
		"status", f.Status, "pages", f.Pages, "new", created)
}

// globQuote escapes the glob metacharacters of s.
func globQuote(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
