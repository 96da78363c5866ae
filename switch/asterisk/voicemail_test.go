package asterisk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestVoicemailConfGolden renders the routing fixture's boxes: one
// context per tenant, number => PIN,name,,,options with the box's
// maximum length, a comma in the name dropped.
func TestVoicemailConfGolden(t *testing.T) {
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	p, err := svc.TenantPlan(context.Background(), f.tenant.ID)
	must(t, err)
	empty := &provisioning.Tenant{Name: "no boxes"}
	must(t, svc.CreateTenant(context.Background(), provisioning.AdminScope(), empty))
	q, err := svc.TenantPlan(context.Background(), empty.ID)
	must(t, err)
	got := renderVoicemailConf("ast1", "voicemail_switchboard.conf", []*provisioning.Plan{p, q})
	path := filepath.Join("testdata", "voicemail", "voicemail_switchboard.conf")
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s", path, got)
	}
	for _, line := range []string{"[sb-t1]", "700 => 4321,Alice mailbox,,,attach=no|maxsecs=120", "799 => 0000,General Delivery,,,attach=no|maxsecs=180"} {
		if !strings.Contains(string(got), line+"\n") {
			t.Errorf("no line %q in:\n%s", line, got)
		}
	}
	if strings.Contains(string(got), VoicemailContext(empty.ID)+"]") {
		t.Errorf("a tenant without boxes has a context:\n%s", got)
	}
}

// TestVoicemailConfFile: the keeper writes the include 0640 (it holds
// PINs) and has app_voicemail reloaded over ARI after the write.
func TestVoicemailConfFile(t *testing.T) {
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	var mu sync.Mutex
	var reloads []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reloads = append(reloads, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "voicemail_switchboard.conf")
	vc := NewVoicemailConf(VoicemailConfConfig{Node: "ast1", Path: path, Client: NewConfigClient(srv.URL+"/ari", "u", "p", nil),
		Plans: func(ctx context.Context) ([]*provisioning.Plan, error) {
			p, err := svc.TenantPlan(ctx, f.tenant.ID)
			return []*provisioning.Plan{p}, err
		}})
	must(t, vc.Sync(context.Background()))
	st, err := os.Stat(path)
	must(t, err)
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "700 => 4321,") {
		t.Errorf("file:\n%s", b)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(reloads, []string{"PUT /ari/asterisk/modules/app_voicemail"}) {
		t.Errorf("reloads %v", reloads)
	}
}

// TestVoicemailMWIObjects: an account whose extension owns a box gets
// it as mailboxes on its endpoint and AOR; one without gets them empty
// (clearing a box it had); without Mailboxes nothing is sent.
func TestVoicemailMWIObjects(t *testing.T) {
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	o := DefaultPushOptions()
	o.Mailboxes = ServiceMailboxes(svc)
	field := func(objs []PJSIPObject, typ ObjectType, name string) (string, bool) {
		for _, ob := range objs {
			if ob.Ref.Type == typ {
				for _, fl := range ob.Fields {
					if fl.Attribute == name {
						return fl.Value, true
					}
				}
			}
		}
		return "", false
	}
	for _, tc := range []struct {
		user, want string
	}{{"alice", "700@sb-t1"}, {"bob", ""}} {
		objs, err := AccountObjects(o, f.accounts[tc.user])
		must(t, err)
		for _, typ := range []ObjectType{PJSIPEndpoint, PJSIPAOR} {
			if v, ok := field(objs, typ, "mailboxes"); !ok || v != tc.want {
				t.Errorf("%s %s mailboxes = %q (%v), want %q", tc.user, typ, v, ok, tc.want)
			}
		}
	}
	objs, err := AccountObjects(DefaultPushOptions(), f.accounts["alice"])
	must(t, err)
	if _, ok := field(objs, PJSIPEndpoint, "mailboxes"); ok {
		t.Error("mailboxes sent by a node without voicemail")
	}
}

// toneWAV is secs of a 440 Hz tone as 8 kHz WAV (what app_voicemail
// writes with format=wav).
func toneWAV(t testing.TB, secs float64) []byte {
	t.Helper()
	c := &audio.Clip{Rate: 8000, Samples: make([]int16, int(secs*8000))}
	for i := range c.Samples {
		c.Samples[i] = int16(6000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var b bytes.Buffer
	must(t, c.WriteWAV(&b))
	return b.Bytes()
}

// spoolMsg writes a message into folder as app_voicemail does: the
// audio first, the .txt last.
func spoolMsg(t testing.TB, box, folder string, n int, msgID string, secs float64) {
	t.Helper()
	dir := filepath.Join(box, folder)
	must(t, os.MkdirAll(dir, 0o755))
	base := msgBase(dir, n)
	must(t, os.WriteFile(base+".wav", toneWAV(t, secs), 0o644))
	txt := fmt.Sprintf(";\n; Message Information file\n;\n[message]\norigmailbox=700\ncontext=sb-t1-obj\nmacrocontext=\nexten=v1\nrdnis=unknown\npriority=2\ncallerchan=PJSIP/carrier-00000001\ncallerid=\"Bob Caller\" <+15145550111>\norigdate=Mon Dec  7 01:40:00 AM UTC 2026\norigtime=1796608800\ncategory=\nmsg_id=%s\nflag=\nduration=%d\n", msgID, int(secs))
	must(t, os.WriteFile(base+".txt", []byte(txt), 0o644))
}

func folderFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestVoicemailIndexer runs the indexer against the real Service on
// SQLite and a spool laid out as app_voicemail's: a new message is
// deposited once (also by a second indexer, as after a restart) with
// its caller, time and measured duration; a half-written one (audio
// without .txt) waits; read and unread through the API move the files
// between INBOX and Old with app_voicemail's numbering; a message the
// phone deleted goes from the API; a delete through the API removes
// the files.
func TestVoicemailIndexer(t *testing.T) {
	ctx := context.Background()
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	spool := t.TempDir()
	box := filepath.Join(spool, VoicemailContext(f.tenant.ID), "700")
	plans := func(ctx context.Context) ([]*provisioning.Plan, error) {
		p, err := svc.TenantPlan(ctx, f.tenant.ID)
		return []*provisioning.Plan{p}, err
	}
	ix := NewVoicemailIndexer(VoicemailIndexerConfig{Node: "ast1", Spool: spool, Plans: plans, Service: svc})
	svc.AddSink(ix)

	spoolMsg(t, box, "INBOX", 0, "1796608800-00000001", 5)
	spoolMsg(t, box, "INBOX", 1, "1796608801-00000002", 3)
	// Being written: the audio is in INBOX, the .txt not yet.
	must(t, os.WriteFile(msgBase(filepath.Join(box, "INBOX"), 2)+".wav", toneWAV(t, 1), 0o644))
	must(t, ix.Scan(ctx))
	list := func() []provisioning.VoicemailMessage {
		ms, err := svc.VoicemailMessages(ctx, provisioning.AdminScope(), provisioning.VoicemailFilter{BoxID: f.objects["700"].ID})
		must(t, err)
		return ms
	}
	ms := list()
	if len(ms) != 2 {
		t.Fatalf("%d messages, want 2: %+v", len(ms), ms)
	}
	byRef := map[string]provisioning.VoicemailMessage{}
	for _, m := range ms {
		byRef[m.SwitchRef] = m
	}
	m0 := byRef["1796608800-00000001"]
	if m0.Switch != "ast1" || m0.CallerIDNumber != "+15145550111" || m0.CallerIDName != "Bob Caller" || m0.DurationMS != 5000 ||
		!m0.ReceivedAt.Equal(time.Unix(1796608800, 0)) || m0.Read || m0.TenantID != f.tenant.ID {
		t.Errorf("message: %+v", m0)
	}
	_, wav, err := svc.VoicemailAudio(ctx, provisioning.AdminScope(), m0.ID)
	must(t, err)
	if clip, _, err := audio.Decode(bytes.NewReader(wav), audio.Limits{}); err != nil || clip.Silent() {
		t.Errorf("audio: %v, silent %v", err, clip != nil && clip.Silent())
	}

	// A restart: a new indexer deposits nothing twice.
	ix2 := NewVoicemailIndexer(VoicemailIndexerConfig{Node: "ast1", Spool: spool, Plans: plans, Service: svc})
	must(t, ix2.Scan(ctx))
	if n := len(list()); n != 2 {
		t.Errorf("%d messages after a second indexer's scan, want 2", n)
	}

	// Read through the API: message 0 goes to Old/msg0000, INBOX is
	// renumbered (msg0001 → msg0000), the half-written file untouched.
	_, err = svc.MarkVoicemail(ctx, provisioning.AdminScope(), m0.ID, true)
	must(t, err)
	ix.applyPending(ctx)
	if got := folderFiles(t, filepath.Join(box, "Old")); !slices.Equal(got, []string{"msg0000.txt", "msg0000.wav"}) {
		t.Errorf("Old: %v", got)
	}
	if got := folderFiles(t, filepath.Join(box, "INBOX")); !slices.Equal(got, []string{"msg0000.txt", "msg0000.wav", "msg0002.wav"}) {
		t.Errorf("INBOX: %v", got)
	}
	must(t, ix.Scan(ctx))
	if m, _ := svc.VoicemailMessage(ctx, provisioning.AdminScope(), m0.ID); m == nil || !m.Read {
		t.Errorf("after the scan: %+v, want read", m)
	}

	// Unread again: back into INBOX after the last one.
	_, err = svc.MarkVoicemail(ctx, provisioning.AdminScope(), m0.ID, false)
	must(t, err)
	ix.applyPending(ctx)
	if got := folderFiles(t, filepath.Join(box, "INBOX")); !slices.Equal(got, []string{"msg0000.txt", "msg0000.wav", "msg0001.txt", "msg0001.wav", "msg0002.wav"}) {
		t.Errorf("INBOX: %v", got)
	}
	if got := folderFiles(t, filepath.Join(box, "Old")); len(got) != 0 {
		t.Errorf("Old: %v", got)
	}

	// Deleted by phone (app_voicemail removed msg0000 = message 1):
	// gone from the API at the next scan.
	must(t, ix.Scan(ctx))
	for _, ext := range []string{"txt", "wav"} {
		must(t, os.Remove(msgBase(filepath.Join(box, "INBOX"), 0)+"."+ext))
	}
	must(t, ix.Scan(ctx))
	if ms := list(); len(ms) != 1 || ms[0].ID != m0.ID {
		t.Errorf("after a delete by phone: %+v, want only message 0", ms)
	}

	// Deleted through the API: its files go.
	must(t, svc.DeleteVoicemail(ctx, provisioning.AdminScope(), m0.ID))
	ix.applyPending(ctx)
	if got := folderFiles(t, filepath.Join(box, "INBOX")); !slices.Equal(got, []string{"msg0002.wav"}) {
		t.Errorf("INBOX after delete: %v", got)
	}
	must(t, ix.Scan(ctx))
	if ms := list(); len(ms) != 0 {
		t.Errorf("after delete: %+v", ms)
	}
}

// TestVoicemailIndexerNoSpool: a spool that is not there (not mounted)
// is an error and syncs nothing, so no message is taken for deleted.
func TestVoicemailIndexerNoSpool(t *testing.T) {
	fake := &fakeVoicemail{}
	ix := NewVoicemailIndexer(VoicemailIndexerConfig{Node: "ast1", Spool: filepath.Join(t.TempDir(), "missing"), Service: fake,
		Plans: func(context.Context) ([]*provisioning.Plan, error) { t.Fatal("plans read"); return nil, nil }})
	if err := ix.Scan(context.Background()); !errors.Is(err, errNoSpool) {
		t.Errorf("err %v, want errNoSpool", err)
	}
	if fake.syncs != 0 {
		t.Errorf("%d syncs", fake.syncs)
	}
}

type fakeVoicemail struct{ syncs, deposits int }

func (f *fakeVoicemail) DepositVoicemail(context.Context, *provisioning.VoicemailMessage, io.Reader) (bool, error) {
	f.deposits++
	return true, nil
}
func (f *fakeVoicemail) SyncVoicemail(context.Context, string, int64, map[string]bool) error {
	f.syncs++
	return nil
}

// TestVoicemailFolderLock: a move waits while app_voicemail holds the
// folder's .lock and goes on once it is released; the lock is released
// after.
func TestVoicemailFolderLock(t *testing.T) {
	box := t.TempDir()
	spoolMsg(t, box, "INBOX", 0, "1-1", 1)
	lock := filepath.Join(box, "INBOX", ".lock")
	must(t, os.WriteFile(lock, nil, 0o644))
	go func() {
		time.Sleep(150 * time.Millisecond)
		os.Remove(lock)
	}()
	start := time.Now()
	m, err := moveMessage(spoolMessage{box: box, folder: "INBOX", num: 0, unread: true}, "Old")
	must(t, err)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("moved after %v: the lock was not waited for", d)
	}
	if m.folder != "Old" || m.num != 0 {
		t.Errorf("moved to %+v", m)
	}
	for _, dir := range []string{"INBOX", "Old"} {
		for _, n := range folderFiles(t, filepath.Join(box, dir)) {
			if strings.HasPrefix(n, ".lock") {
				t.Errorf("%s: %s left", dir, n)
			}
		}
	}
}

// TestParseVoicemailInfo: the fields of a .txt as app_voicemail writes
// them, and the files refused.
func TestParseVoicemailInfo(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     VoicemailInfo
		err      bool
	}{
		{"full", "[message]\ncallerid=\"Bob\" <100>\norigtime=1796608800\nmsg_id=1796608800-0000abcd\nduration=5\n",
			VoicemailInfo{MsgID: "1796608800-0000abcd", CallerIDNumber: "100", CallerIDName: "Bob", OrigTime: time.Unix(1796608800, 0).UTC(), DurationSecs: 5}, false},
		{"number only", "[message]\ncallerid=+15145550111\nmsg_id=a\n", VoicemailInfo{MsgID: "a", CallerIDNumber: "+15145550111"}, false},
		{"unknown caller", "[message]\ncallerid=Unknown\nmsg_id=a\n", VoicemailInfo{MsgID: "a"}, false},
		{"other section", "[other]\nmsg_id=b\n[message]\nmsg_id=a\n", VoicemailInfo{MsgID: "a"}, false},
		{"no msg_id", "[message]\nduration=5\n", VoicemailInfo{}, true},
		{"msg_id with a space", "[message]\nmsg_id=a b\n", VoicemailInfo{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVoicemailInfo([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err %v", err)
			}
			if !tc.err && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzParseVoicemailInfo: any .txt parses or is refused without a
// panic, and a parsed msg_id is usable as a ref.
func FuzzParseVoicemailInfo(f *testing.F) {
	f.Add([]byte("[message]\ncallerid=\"Bob\" <100>\norigtime=1796608800\nmsg_id=1796608800-0000abcd\nduration=5\n"))
	f.Add([]byte("[message]\ncallerid=<\nmsg_id=\x00\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseVoicemailInfo(b)
		if err == nil && (v.MsgID == "" || strings.ContainsAny(v.MsgID, " \n\t")) {
			t.Errorf("msg_id %q accepted", v.MsgID)
		}
	})
}

// TestPusherMailboxesFollowBoxes: a box given to an extension re-pushes
// its tenant's accounts, the owner's endpoint gets the box as mailboxes,
// and res_pjsip_mwi is reloaded once so that the registered phone's lamp
// follows at once; deleting the box clears them (and reloads again).
func TestPusherMailboxesFollowBoxes(t *testing.T) {
	ctx := context.Background()
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	fake := newFakeConfigARI(t)
	o := DefaultPushOptions()
	o.Mailboxes = ServiceMailboxes(svc)
	p := NewConfigPusher(PusherConfig{Client: NewConfigClient(fake.URL(), "sb", "pw", nil), Options: o, Logger: quietLogger()})
	svc.AddSink(p)
	var accounts []provisioning.Account
	for _, a := range f.accounts {
		accounts = append(accounts, *a)
	}
	must(t, p.Reconcile(ctx, accounts, nil))
	reloads := func() int {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return len(fake.reloads)
	}
	mailboxes := func(user string) string {
		fs, _ := fake.object(ObjectRef{PJSIPEndpoint, user})
		return fieldValue(fs, "mailboxes")
	}
	if got := mailboxes("alice"); got != "700@sb-t1" {
		t.Fatalf("alice's mailboxes after reconcile: %q", got)
	}
	n := reloads()
	if n != 1 {
		t.Errorf("%d reloads after the first reconcile, want 1", n)
	}
	// Bob's extension 101 gets a box.
	bobExt := f.objects["101"].ID
	box := &provisioning.VoicemailBox{RoutingMeta: provisioning.RoutingMeta{TenantID: f.tenant.ID}, Number: "701", ExtensionID: &bobExt, PIN: "1111"}
	must(t, svc.CreateVoicemailBox(ctx, provisioning.AdminScope(), box))
	p.Flush(ctx)
	if got := mailboxes("bob"); got != "701@sb-t1" {
		t.Errorf("bob's mailboxes after his box: %q", got)
	}
	if reloads() != n+1 {
		t.Errorf("reloads %d, want one more than %d", reloads(), n)
	}
	must(t, svc.DeleteVoicemailBox(ctx, provisioning.AdminScope(), box.ID))
	p.Flush(ctx)
	if got := mailboxes("bob"); got != "" {
		t.Errorf("bob's mailboxes after the delete: %q", got)
	}
	if reloads() != n+2 {
		t.Errorf("reloads %d, want %d", reloads(), n+2)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for _, m := range fake.reloads {
		if m != "res_pjsip_mwi" {
			t.Errorf("reloaded %s", m)
		}
	}
}

// TestVoicemailIndexerForgets: what the indexer remembers follows the
// spool: a message gone from it is forgotten (and offered again, to no
// effect, should it come back).
func TestVoicemailIndexerForgets(t *testing.T) {
	fake := &fakeVoicemail{}
	spool := t.TempDir()
	tenant := &provisioning.Tenant{ID: 3, Name: "t"}
	plan := &provisioning.Plan{Tenant: tenant, Voicemails: []*provisioning.VoicemailBox{{RoutingMeta: provisioning.RoutingMeta{ID: 9, TenantID: 3}, Number: "700"}}}
	ix := NewVoicemailIndexer(VoicemailIndexerConfig{Node: "ast1", Spool: spool, Service: fake,
		Plans: func(context.Context) ([]*provisioning.Plan, error) { return []*provisioning.Plan{plan}, nil }})
	box := filepath.Join(spool, "sb-t3", "700")
	spoolMsg(t, box, "INBOX", 0, "1-1", 1)
	spoolMsg(t, box, "INBOX", 1, "1-2", 1)
	// The same time on both (renumbering keeps a file's time, and a
	// coarse clock gives two messages the same): the cache must still
	// tell the renamed file from the one it replaces.
	same := time.Unix(1796608800, 0)
	for _, n := range []string{"msg0000.txt", "msg0001.txt"} {
		must(t, os.Chtimes(filepath.Join(box, "INBOX", n), same, same))
	}
	must(t, ix.Scan(context.Background()))
	if fake.deposits != 2 || len(ix.deposited) != 2 || len(ix.infos) != 2 {
		t.Fatalf("deposits %d, remembered %d refs %d files", fake.deposits, len(ix.deposited), len(ix.infos))
	}
	must(t, removeMessage(spoolMessage{box: box, folder: "INBOX", num: 0}))
	must(t, ix.Scan(context.Background()))
	if !slices.Equal(folderFiles(t, filepath.Join(box, "INBOX")), []string{"msg0000.txt", "msg0000.wav"}) || len(ix.deposited) != 1 || len(ix.infos) != 1 || !ix.deposited["1-2"] {
		t.Errorf("after a delete: files %v, remembered %v, %d files", folderFiles(t, filepath.Join(box, "INBOX")), ix.deposited, len(ix.infos))
	}
	if fake.deposits != 2 {
		t.Errorf("%d deposits, want 2 (the renumbered message is known by its msg_id)", fake.deposits)
	}
	if _, ok := ix.where["1-1"]; ok {
		t.Error("the deleted message is still seen (the renamed file read from the cache)")
	}
}

// TestVoicemailIndexerRenumbered: app_voicemail renumbered the folder
// between the scan and a read through the API (a delete by phone): the
// read moves the right message, found again by its msg_id, not the one
// now under the scanned number.
func TestVoicemailIndexerRenumbered(t *testing.T) {
	ctx := context.Background()
	fake := &fakeVoicemail{}
	spool := t.TempDir()
	plan := &provisioning.Plan{Tenant: &provisioning.Tenant{ID: 3}, Voicemails: []*provisioning.VoicemailBox{{RoutingMeta: provisioning.RoutingMeta{ID: 9, TenantID: 3}, Number: "700"}}}
	ix := NewVoicemailIndexer(VoicemailIndexerConfig{Node: "ast1", Spool: spool, Service: fake,
		Plans: func(context.Context) ([]*provisioning.Plan, error) { return []*provisioning.Plan{plan}, nil }})
	box := filepath.Join(spool, "sb-t3", "700")
	spoolMsg(t, box, "INBOX", 0, "1-1", 1)
	spoolMsg(t, box, "INBOX", 1, "1-2", 1)
	must(t, ix.Scan(ctx))
	// The phone deletes 1-1; app_voicemail renumbers 1-2 to msg0000.
	must(t, removeMessage(spoolMessage{box: box, folder: "INBOX", num: 0}))
	must(t, ix.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Voicemail: &provisioning.VoicemailMessage{Switch: "ast1", SwitchRef: "1-2", Read: true}}))
	ix.applyPending(ctx)
	b, err := os.ReadFile(filepath.Join(box, "Old", "msg0000.txt"))
	must(t, err)
	if info, _ := ParseVoicemailInfo(b); info.MsgID != "1-2" {
		t.Errorf("Old holds %q, want 1-2", info.MsgID)
	}
	if got := folderFiles(t, filepath.Join(box, "INBOX")); len(got) != 0 {
		t.Errorf("INBOX: %v", got)
	}
}
