package freeswitch

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// writeToneWAV writes secs of a 440 Hz tone as an 8 kHz WAV at p.
func writeToneWAV(t *testing.T, p string, secs float64) {
	t.Helper()
	c := &audio.Clip{Rate: 8000, Samples: make([]int16, int(secs*8000))}
	for i := range c.Samples {
		c.Samples[i] = int16(6000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := c.WriteWAV(f); err != nil {
		t.Fatal(err)
	}
}

// vmRig is the routing fixture's Service, a fake node with its adapter
// and a voicemail indexer; the messages' files are under dir, where the
// fake node says they are (the daemon sees the switch's paths as they
// are: no voicemail_dir; vmLocalPath is tested on its own).
type vmRig struct {
	f    *routingFixture
	srv  *esltest.Server
	ix   *VoicemailIndexer
	a    *Adapter
	dir  string
	stop func()
}

func newVMRig(t *testing.T, db *sqldb.DB, scanEvery time.Duration) *vmRig {
	t.Helper()
	r := &vmRig{f: newRoutingFixture(t, db), dir: t.TempDir()}
	r.srv = esltest.New(t)
	r.start(t, scanEvery)
	return r
}

// start runs an adapter and a fresh indexer (as after a restart).
func (r *vmRig) start(t *testing.T, scanEvery time.Duration) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r.ix = NewVoicemailIndexer(VoicemailIndexerConfig{Node: "fs1", Service: r.f.svc, Plans: ServicePlans(r.f.svc),
		ScanEvery: scanEvery, RetryEvery: 50 * time.Millisecond, Logger: log})
	r.f.svc.AddSink(r.ix)
	a, err := New(Config{Name: "fs1", Addr: r.srv.Addr(), Password: "ClueCon", Domain: "127.0.0.1", KeepAlive: -1,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Logger: log, Voicemail: r.ix})
	if err != nil {
		t.Fatal(err)
	}
	r.a = a
	view := presence.New()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = view.Run(ctx) })
	wg.Go(func() { _ = a.WatchPresence(ctx, view.Feed("fs1")) })
	wg.Go(func() { _ = r.ix.Run(ctx, a) })
	r.stop = func() { cancel(); wg.Wait() }
	t.Cleanup(r.stop)
}

// leave writes a message's audio and stores it on the fake node.
func (r *vmRig) leave(t *testing.T, b *provisioning.VoicemailBox, secs float64, event bool) (uuid, local string) {
	t.Helper()
	dom := VoicemailDomain(b.TenantID)
	name := "msg_" + time.Now().Format("150405.000000000") + ".wav"
	local = filepath.Join(r.dir, "default", dom, b.Number, name)
	writeToneWAV(t, local, secs)
	return r.srv.LeaveVoicemail(b.Number, dom, local, "Alice:Smith", "+15145550199", int(secs), event), local
}

func (r *vmRig) messages(t *testing.T, b *provisioning.VoicemailBox) map[string]provisioning.VoicemailMessage {
	t.Helper()
	ms, err := r.f.svc.VoicemailMessages(context.Background(), provisioning.AdminScope(), provisioning.VoicemailFilter{BoxID: b.ID})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]provisioning.VoicemailMessage{}
	for _, m := range ms {
		out[m.SwitchRef] = m
	}
	return out
}

// TestVoicemailIndexer: a message left with its event is deposited at
// once, one whose event was lost at the next scan; both with the
// caller, time and measured duration; read and delete through the
// Service reach the switch (vm_read, vm_delete: the file goes); read
// and delete by phone reach the Service; a restarted indexer deposits
// nothing twice.
func TestVoicemailIndexer(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newVMRig(t, db, 300*time.Millisecond)
		ctx := context.Background()
		box := r.f.bobBox
		switchtest.WaitFor(t, "the adapter to connect", func() bool { return r.srv.Connections() > 0 })

		withEvent, file := r.leave(t, box, 5, true)
		switchtest.WaitFor(t, "the message left with its event", func() bool { _, ok := r.messages(t, box)[withEvent]; return ok })
		m := r.messages(t, box)[withEvent]
		if m.DurationMS < 4900 || m.DurationMS > 5100 || m.CallerIDNumber != "+15145550199" || m.CallerIDName != "Alice:Smith" || m.Read ||
			m.Switch != "fs1" || m.TenantID != r.f.tenant.ID || time.Since(m.ReceivedAt) > time.Minute {
			t.Errorf("deposited %+v", m)
		}
		lost, _ := r.leave(t, box, 3, false)
		switchtest.WaitFor(t, "the message whose event was lost, at a scan", func() bool { _, ok := r.messages(t, box)[lost]; return ok })

		// the deposits' own changes (new, unread) sent nothing back
		if slices.ContainsFunc(r.srv.Commands(), func(c string) bool { return strings.Contains(c, "vm_read") }) {
			t.Errorf("a deposit was echoed to the switch: %q", r.srv.Commands())
		}
		// read through the API: vm_read on the switch
		if _, err := r.f.svc.MarkVoicemail(ctx, provisioning.AdminScope(), m.ID, true); err != nil {
			t.Fatal(err)
		}
		switchtest.WaitFor(t, "vm_read on the switch", func() bool {
			for _, v := range r.srv.Voicemail(box.Number, VoicemailDomain(box.TenantID)) {
				if v.UUID == withEvent {
					return !v.Read.IsZero()
				}
			}
			return false
		})
		// several scans later the Service still has it read (the sync
		// reads the switch's state after the change)
		time.Sleep(700 * time.Millisecond)
		if !r.messages(t, box)[withEvent].Read {
			t.Error("a scan undid the read made through the API")
		}
		// read by phone: taken by the next scan
		r.srv.ReadVoicemailByPhone(lost, false)
		switchtest.WaitFor(t, "the read by phone in the Service", func() bool { return r.messages(t, box)[lost].Read })

		// deleted through the API: gone from the switch and its disk
		if err := r.f.svc.DeleteVoicemail(ctx, provisioning.AdminScope(), m.ID); err != nil {
			t.Fatal(err)
		}
		switchtest.WaitFor(t, "vm_delete on the switch", func() bool { return len(r.srv.Voicemail(box.Number, VoicemailDomain(box.TenantID))) == 1 })
		if _, err := os.Stat(file); !os.IsNotExist(err) {
			t.Errorf("the message's file after vm_delete: %v", err)
		}
		// deleted by phone: gone from the Service (once the grace after
		// its deposit is over: SyncGrace is a minute, so use a fresh
		// indexer below, which has deposited nothing itself)
		r.stop()
		third, _ := r.leave(t, box, 2, false)
		r.srv.DeleteVoicemailByPhone(lost, false)
		r.start(t, 300*time.Millisecond)
		switchtest.WaitFor(t, "the restarted indexer's scan", func() bool { _, ok := r.messages(t, box)[third]; return ok })
		switchtest.WaitFor(t, "the delete by phone in the Service", func() bool { _, ok := r.messages(t, box)[lost]; return !ok })
		if n := len(r.messages(t, box)); n != 1 {
			t.Errorf("%d messages after the restart, want 1 (%v)", n, r.messages(t, box))
		}
		// the general box stayed empty: nothing crossed boxes; its
		// vm_list ("-ERR no reply", as the real node answers an empty box)
		// is an empty list, not a failed scan
		if n := len(r.messages(t, r.f.generalBox)); n != 0 {
			t.Errorf("general box has %d messages", n)
		}
		probe := NewVoicemailIndexer(VoicemailIndexerConfig{Node: "fs1", Service: r.f.svc, Plans: ServicePlans(r.f.svc)})
		if err := probe.scanBox(ctx, r.a, r.f.tenant.ID, r.f.generalBox); err != nil {
			t.Errorf("scanning an empty box: %v", err)
		}
	})
}

// TestVoicemailIndexerReconnect: a message left while the connection
// was down (its event lost) is deposited by the scan that follows the
// reconnect, long before the periodic one.
func TestVoicemailIndexerReconnect(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newVMRig(t, db, time.Hour)
		box := r.f.generalBox
		// the first scan (at start) is done: nothing else is due
		switchtest.WaitFor(t, "the first scan", func() bool {
			return slices.ContainsFunc(r.srv.Commands(), func(c string) bool { return strings.Contains(c, "vm_list "+box.Number+"@") })
		})
		r.srv.Refuse(true)
		r.srv.DropConnections()
		switchtest.WaitFor(t, "the adapter to lose the node", func() bool { return r.srv.Connections() == 0 })
		uuid, _ := r.leave(t, box, 2, true) // fired to nobody
		r.srv.Refuse(false)
		switchtest.WaitFor(t, "the message after the reconnect", func() bool { _, ok := r.messages(t, box)[uuid]; return ok })
	})
}

// TestVoicemailIndexerPhoneRead: a message listened to and saved by
// phone is read in the Service as soon as mod_voicemail's mwi-update
// says the box changed (the periodic scan is an hour away), and only
// that box is listed again; an mwi-update of a box that is not
// Switchboard's lists nothing.
func TestVoicemailIndexerPhoneRead(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newVMRig(t, db, time.Hour)
		box := r.f.bobBox
		uuid, _ := r.leave(t, box, 3, true)
		switchtest.WaitFor(t, "the message from its event", func() bool { _, ok := r.messages(t, box)[uuid]; return ok })
		time.Sleep(200 * time.Millisecond) // the scan of the box that the leave's mwi-update asks for
		lists := func() int {
			n := 0
			for _, c := range r.srv.Commands() {
				if strings.Contains(c, "vm_list ") {
					n++
				}
			}
			return n
		}
		before := lists()
		r.srv.ReadVoicemailByPhone(uuid, true)
		switchtest.WaitFor(t, "the read by phone in the Service", func() bool { return r.messages(t, box)[uuid].Read })
		if n := lists() - before; n != 1 {
			t.Errorf("%d vm_list after the mwi-update, want 1 (that box): %q", n, r.srv.Commands())
		}
		before = lists()
		r.srv.LeaveVoicemail("1000", "127.0.0.1", filepath.Join(t.TempDir(), "x.wav"), "x", "1", 1, true)
		time.Sleep(200 * time.Millisecond)
		if n := lists() - before; n != 0 {
			t.Errorf("an mwi-update of a box that is not Switchboard's listed %d boxes", n)
		}
	})
}

// TestVoicemailIndexerMWIFlush: a box given to an extension changes its
// phone's mwi-account: that phone's cached directory entry is flushed
// (and only that one), and again when the box goes.
func TestVoicemailIndexerMWIFlush(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newVMRig(t, db, time.Hour)
		ctx, sc := context.Background(), provisioning.AdminScope()
		flushes := func() []string {
			var out []string
			for _, c := range r.srv.Commands() {
				if strings.Contains(c, "xml_flush_cache") {
					out = append(out, c)
				}
			}
			return out
		}
		switchtest.WaitFor(t, "the first scan", func() bool {
			return slices.ContainsFunc(r.srv.Commands(), func(c string) bool { return strings.Contains(c, "vm_list ") })
		})
		box := &provisioning.VoicemailBox{RoutingMeta: provisioning.RoutingMeta{TenantID: r.f.tenant.ID}, Number: "9200", ExtensionID: &r.f.x100.ID, PIN: "1234"}
		if err := r.f.svc.CreateVoicemailBox(ctx, sc, box); err != nil {
			t.Fatal(err)
		}
		want := "api xml_flush_cache id 201 acme.example"
		switchtest.WaitFor(t, "201's entry flushed", func() bool { return slices.Contains(flushes(), want) })
		if got := flushes(); len(got) != 1 {
			t.Errorf("flushed %q, want only %q", got, want)
		}
		if err := r.f.svc.DeleteVoicemailBox(ctx, sc, box.ID); err != nil {
			t.Fatal(err)
		}
		switchtest.WaitFor(t, "201's entry flushed again", func() bool { return len(flushes()) == 2 })
		// a change while the node is down: flushed once it is back
		var x103 *provisioning.Extension
		for _, x := range r.f.plan.Extensions {
			if x.Number == "103" {
				x103 = x
			}
		}
		r.srv.Refuse(true)
		r.srv.DropConnections()
		switchtest.WaitFor(t, "the adapter to lose the node", func() bool { return r.srv.Connections() == 0 })
		box = &provisioning.VoicemailBox{RoutingMeta: provisioning.RoutingMeta{TenantID: r.f.tenant.ID}, Number: "9203", ExtensionID: &x103.ID, PIN: "1234"}
		if err := r.f.svc.CreateVoicemailBox(ctx, sc, box); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // a few failed tries
		r.srv.Refuse(false)
		switchtest.WaitFor(t, "203's entry flushed after the reconnect", func() bool {
			return slices.Contains(flushes(), "api xml_flush_cache id 203 acme.example")
		})
	})
}
