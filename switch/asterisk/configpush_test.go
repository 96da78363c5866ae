package asterisk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestPusher(t testing.TB, f *fakeConfigARI, own Ownership) *ConfigPusher {
	return NewConfigPusher(PusherConfig{
		Client:    NewConfigClient(f.URL(), "sb", "pw", nil),
		Options:   recordingOptions(),
		Ownership: own,
		Logger:    quietLogger(),
	})
}

func methods(reqs []fakeRequest) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Method+" "+strings.TrimPrefix(r.Path, "/ari/asterisk/config/dynamic/res_pjsip/"))
	}
	return out
}

func TestConfigClientRecordedAnswers(t *testing.T) {
	f := newFakeConfigARI(t)
	c := NewConfigClient(f.URL(), "", "", nil)
	ctx := context.Background()

	tests := []struct {
		name     string
		run      func() error
		sentinel error
		message  string
	}{
		{"delete static endpoint", func() error { return c.Delete(ctx, ObjectRef{PJSIPEndpoint, "1001"}) },
			ErrConfigForbidden, `403 "Could not delete object with id '1001'"`},
		{"put unknown attribute", func() error {
			_, err := c.Put(ctx, ObjectRef{PJSIPEndpoint, "2001"}, []Field{{"context", "phones"}, {"colour", "blue"}})
			return err
		}, ErrConfigRejected, `400 "Update of object '2001' failed field value validation"; unknown attribute(s): colour`},
		{"get missing", func() error {
			_, err := c.Get(ctx, ObjectRef{PJSIPEndpoint, "9999"})
			return err
		}, ErrConfigNotFound, `404 "Object with id '9999' not found"`},
		{"delete missing is success", func() error { return c.Delete(ctx, ObjectRef{PJSIPAOR, "9999"}) }, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if tt.sentinel == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("err = %v, want %v", err, tt.sentinel)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("err = %q, want it to contain %q", err, tt.message)
			}
		})
	}

	// The recorded exchange: PUT endpoint 2001 with the recorded body
	// answers with the recorded object.
	objs, _ := AccountObjects(recordingOptions(), &dave)
	got, err := c.Put(ctx, objs[2].Ref, objs[2].Fields)
	if err != nil {
		t.Fatal(err)
	}
	if want := readFields(t, "config-put-endpoint-2001.response.json"); !slices.Equal(got, want) {
		t.Errorf("PUT answer differs from the recorded one")
	}
	if _, err := c.Get(ctx, ObjectRef{PJSIPEndpoint, "2001"}); err != nil {
		t.Errorf("GET after PUT: %v", err)
	}
}

func TestReconcile(t *testing.T) {
	f := newFakeConfigARI(t)
	ctx := context.Background()
	// 3001 was made over ARI by some other tool: not Switchboard's.
	foreign := ObjectRef{PJSIPEndpoint, "3001"}
	f.objects[foreign] = []Field{{"context", "other"}}

	own := &MemoryOwnership{}
	p := newTestPusher(t, f, own)
	accounts := []provisioning.Account{
		dave,
		{ID: 8, Username: "2002", Secret: "s2002", CallerIDName: "Erin"},
		{ID: 9, Username: "1001", Secret: "x"},     // clashes with pjsip.conf
		{ID: 10, Username: "3001", Secret: "x"},    // clashes with the foreign object
		{ID: 11, Username: "", Secret: "nameless"}, // unmappable
	}
	gateways := []provisioning.Gateway{{ID: 1, Name: "carrier", Host: "192.0.2.10", Port: 5060,
		Username: "acct42", Secret: "s3cret", Register: true, QualifySecs: 30}}

	// Conflicts are states, not errors (the operator's to resolve, not
	// a failure a retry fixes): the unmappable account is the error.
	err := p.Reconcile(ctx, accounts, gateways)
	if errors.Is(err, ErrConfigConflict) || !errors.Is(err, ErrUnmappable) {
		t.Errorf("first Reconcile err = %v, want the unmappable account only", err)
	}
	conflicts := map[ObjectRef]bool{}
	for _, st := range p.States() {
		if st.State == StateConflict {
			conflicts[st.Ref] = true
		}
	}
	// 1001's first object in creation order, its auth, is found first.
	if !conflicts[ObjectRef{PJSIPAuth, "1001"}] || !conflicts[foreign] {
		t.Errorf("conflicts in States() = %v, want auth/1001 and endpoint/3001", conflicts)
	}
	reqs := f.takeRequests()
	for _, r := range reqs {
		if r.Method == "PUT" || r.Method == "DELETE" {
			for _, id := range []string{"/1001", "/3001", "/gateway-reg"} {
				if strings.HasSuffix(r.Path, id) {
					t.Errorf("touched an object that is not Switchboard's: %s %s", r.Method, r.Path)
				}
			}
		}
		// Bodies for 2001 are the recorded ones.
		if r.Method == "PUT" && strings.HasSuffix(r.Path, "/2001") {
			typ := strings.Split(strings.TrimPrefix(r.Path, "/ari/asterisk/config/dynamic/res_pjsip/"), "/")[0]
			want, _ := os.ReadFile(filepath.Join("testdata", "rest", "config-put-"+typ+"-2001.request.json"))
			if r.Body != strings.TrimSpace(string(want)) {
				t.Errorf("PUT %s body %s, want %s", r.Path, r.Body, want)
			}
		}
	}
	// Auth and aor exist before the endpoint that names them.
	seq := methods(reqs)
	if i, j := slices.Index(seq, "PUT auth/2001"), slices.Index(seq, "PUT endpoint/2001"); i < 0 || j < i {
		t.Errorf("auth/2001 must be created before endpoint/2001: %v", seq)
	}
	for _, ref := range []ObjectRef{{PJSIPEndpoint, "2002"}, {PJSIPRegistration, "carrier"}, {PJSIPIdentify, "carrier"}} {
		if _, ok := f.object(ref); !ok {
			t.Errorf("%s not created", ref)
		}
	}
	if fs, _ := f.object(foreign); !slices.Equal(fs, []Field{{"context", "other"}}) {
		t.Errorf("foreign object changed: %v", fs)
	}

	// Idempotent: nothing to send the second time.
	_ = p.Reconcile(ctx, accounts, gateways)
	if reqs := f.takeRequests(); len(reqs) != 0 {
		t.Errorf("second Reconcile sent %d requests: %v", len(reqs), methods(reqs))
	}

	// After a reconnect the pusher reads back and, all being equal
	// (Asterisk's yes→true, (ulaw) rewrites included), writes nothing.
	p.Invalidate()
	_ = p.Reconcile(ctx, accounts, gateways)
	for _, m := range methods(f.takeRequests()) {
		if !strings.HasPrefix(m, "GET ") {
			t.Errorf("Reconcile after Invalidate with nothing changed sent %s", m)
		}
	}

	// 2002 removed, Dave renamed: 2002 deleted endpoint first; nothing
	// else deleted.
	accounts = slices.Delete(accounts, 1, 2)
	accounts[0].CallerIDName = "David"
	_ = p.Reconcile(ctx, accounts, gateways)
	seq = methods(f.takeRequests())
	want := []string{"PUT endpoint/2001", "DELETE endpoint/2002", "DELETE aor/2002", "DELETE auth/2002"}
	if !slices.Equal(seq, want) {
		t.Errorf("requests = %v, want %v", seq, want)
	}

	// Asterisk restarted (memory wizard emptied): everything comes back.
	f.restart()
	p.Invalidate()
	_ = p.Reconcile(ctx, accounts, gateways)
	if _, ok := f.object(ObjectRef{PJSIPEndpoint, "2001"}); !ok {
		t.Error("endpoint 2001 not recreated after Asterisk restart")
	}
	if _, ok := f.object(ObjectRef{PJSIPRegistration, "carrier"}); !ok {
		t.Error("registration carrier not recreated after Asterisk restart")
	}
}

// An ownership record that points at a pjsip.conf object (a stale store):
// Asterisk's 403 on update and delete is logged, the record dropped, and
// the object left as it was.
func TestReconcileStaticObjectsForbidden(t *testing.T) {
	f := newFakeConfigARI(t)
	ctx := context.Background()
	own := &MemoryOwnership{}
	for _, typ := range []ObjectType{PJSIPEndpoint, PJSIPAOR, PJSIPAuth} {
		own.Own(ctx, ObjectRef{typ, "1001"})
	}
	own.Own(ctx, ObjectRef{PJSIPRegistration, "gateway-reg"})
	p := newTestPusher(t, f, own)
	before, _ := f.object(ObjectRef{PJSIPEndpoint, "1001"})

	// Wanted with other fields: PUT answers 403, a conflict: a state,
	// not an error.
	err := p.Reconcile(ctx, []provisioning.Account{{ID: 1, Username: "1001", Secret: "changed"}}, nil)
	if err != nil {
		t.Errorf("err = %v, want none (a conflict is a state)", err)
	}
	if sts := p.States(); !slices.ContainsFunc(sts, func(st ObjectState) bool { return st.State == StateConflict }) {
		t.Errorf("States() = %+v, want a conflict", sts)
	}
	// No longer wanted: DELETE answers 403, which is not a failure.
	if err := p.Reconcile(ctx, nil, nil); err != nil {
		t.Errorf("Reconcile deleting static objects: %v", err)
	}
	if after, _ := f.object(ObjectRef{PJSIPEndpoint, "1001"}); !slices.Equal(before, after) {
		t.Error("static endpoint 1001 changed")
	}
	if refs, _ := own.Owned(ctx); len(refs) != 0 {
		t.Errorf("ownership still holds %v", refs)
	}
}

func TestReconcileBadAttributeNamesIt(t *testing.T) {
	f := newFakeConfigARI(t)
	p := newTestPusher(t, f, nil)
	// The mapping never sends a misspelt attribute, so push one directly.
	_, err := p.pushSource(context.Background(), []PJSIPObject{{ObjectRef{PJSIPAOR, "2001"},
		[]Field{{"max_contacts", "1"}, {"max_contact", "2"}}}}, map[ObjectRef]bool{})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Status != 400 || !slices.Equal(ce.Unknown, []string{"max_contact"}) {
		t.Fatalf("err = %v, want a 400 ConfigError naming max_contact", err)
	}
}

func TestApplyPushesInTheBackground(t *testing.T) {
	f := newFakeConfigARI(t)
	p := newTestPusher(t, f, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	}()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second) // the bound
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 2 s: %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	has := func(ref ObjectRef) func() bool {
		return func() bool { _, ok := f.object(ref); return ok }
	}
	gone := func(ref ObjectRef) func() bool {
		return func() bool { _, ok := f.object(ref); return !ok }
	}

	a := provisioning.Account{ID: 42, Username: "2005", Secret: "pw"}
	if err := p.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Account: &a}); err != nil {
		t.Fatal(err)
	}
	waitFor("endpoint 2005 created", has(ObjectRef{PJSIPEndpoint, "2005"}))

	renamed := a
	renamed.Username = "2006"
	p.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Account: &renamed})
	waitFor("endpoint 2006 created", has(ObjectRef{PJSIPEndpoint, "2006"}))
	waitFor("auth 2005 deleted", gone(ObjectRef{PJSIPAuth, "2005"}))

	p.Apply(ctx, provisioning.Change{Op: provisioning.OpDelete, Account: &renamed})
	waitFor("aor 2006 deleted", gone(ObjectRef{PJSIPAOR, "2006"}))

	// DIDs are not PJSIP objects.
	if err := p.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, DID: &provisioning.DID{ID: 1}}); err != nil {
		t.Error(err)
	}
}

// Apply never waits for Asterisk and coalesces changes to one account.
func TestApplyDoesNotBlock(t *testing.T) {
	p := newConfigPusher(nil, PusherConfig{Logger: quietLogger()}) // no Run: nothing drains
	start := time.Now()
	for i := range 10000 {
		a := provisioning.Account{ID: int64(i % 100), Username: fmt.Sprint(i), Secret: "x"}
		if err := p.Apply(context.Background(), provisioning.Change{Op: provisioning.OpUpsert, Account: &a}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("10,000 Apply calls took %v", d)
	}
	if len(p.pending) != 100 || len(p.order) != 100 {
		t.Errorf("pending %d / order %d, want 100 coalesced changes", len(p.pending), len(p.order))
	}
	if got := p.pending["account:7"].Account.Username; got != "9907" {
		t.Errorf("latest change for account 7 = %s, want 9907", got)
	}
}

// BenchmarkReconcile10kAccounts pushes 10,000 new accounts (a GET and a
// PUT for each of auth, aor and endpoint) to the loopback Asterisk.
func BenchmarkReconcile10kAccounts(b *testing.B) {
	accounts := make([]provisioning.Account, 10000)
	for i := range accounts {
		accounts[i] = provisioning.Account{ID: int64(i + 1), Username: fmt.Sprint(100000 + i), Secret: "pw", CallerIDName: "User"}
	}
	for b.Loop() {
		b.StopTimer()
		f := newFakeConfigARI(b)
		f.record = false
		p := newTestPusher(b, f, nil)
		b.StartTimer()
		if err := p.Reconcile(context.Background(), accounts, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if len(f.objects) != 30004 {
			b.Fatalf("fake holds %d objects", len(f.objects))
		}
		b.StartTimer()
	}
}

// TestPusherReportsDeletedEndpoints: every endpoint the pusher deletes
// (an account deleted, renamed, or gone from the store at a reconcile)
// is reported, so that presence can drop its registrations, which
// Asterisk removes without an event (TestLive/Presence).
func TestPusherReportsDeletedEndpoints(t *testing.T) {
	f := newFakeConfigARI(t)
	var mu sync.Mutex
	var deleted []string
	p := NewConfigPusher(PusherConfig{
		Client: NewConfigClient(f.URL(), "sb", "pw", nil), Options: recordingOptions(), Logger: quietLogger(),
		EndpointDeleted: func(id string) {
			mu.Lock()
			deleted = append(deleted, id)
			mu.Unlock()
		},
	})
	ctx := context.Background()
	a := provisioning.Account{ID: 1, Username: "2005", Secret: "pw"}
	b := provisioning.Account{ID: 2, Username: "2007", Secret: "pw"}
	if err := p.Reconcile(ctx, []provisioning.Account{a, b}, nil); err != nil {
		t.Fatal(err)
	}
	renamed := a
	renamed.Username = "2006"
	p.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Account: &renamed})
	p.Flush(ctx)
	p.Apply(ctx, provisioning.Change{Op: provisioning.OpDelete, Account: &renamed})
	p.Flush(ctx)
	if err := p.Reconcile(ctx, nil, nil); err != nil { // 2007 is no longer wanted
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"2005", "2006", "2007"}; !slices.Equal(deleted, want) {
		t.Errorf("reported deleted endpoints %q, want %q", deleted, want)
	}
	if _, ok := f.object(ObjectRef{PJSIPEndpoint, "2007"}); ok {
		t.Error("endpoint 2007 is still on the node")
	}
}

// TestGatewayRegistrationLine: Asterisk 23 refuses a registration that
// names an endpoint without line=yes (recorded: 400 "failed field value
// validation", nothing created); the pusher sends line=yes, so a
// registering gateway lands whole.
func TestGatewayRegistrationLine(t *testing.T) {
	f := newFakeConfigARI(t)
	ctx := context.Background()
	c := NewConfigClient(f.URL(), "", "", nil)

	// The recorded refusal, replayed through the fake.
	noLine := []Field{{"server_uri", "sip:127.0.0.1:5090"}, {"client_uri", "sip:gw2@127.0.0.1:5090"},
		{"outbound_auth", "gateway-auth"}, {"endpoint", "gateway"}}
	body, _ := marshalPutBody(noLine)
	if rec, _ := os.ReadFile(filepath.Join("testdata", "rest", "config-put-registration-gw2-no-line.request.json")); string(body) != strings.TrimSpace(string(rec)) {
		t.Fatalf("body %s, want the recorded request %s", body, rec)
	}
	_, err := c.Put(ctx, ObjectRef{PJSIPRegistration, "gw2"}, noLine)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Status != 400 || ce.Message != "Creation of object 'gw2' failed field value validation" {
		t.Fatalf("PUT without line: %v, want the recorded 400", err)
	}
	if _, ok := f.object(ObjectRef{PJSIPRegistration, "gw2"}); ok {
		t.Fatal("the refused registration was created")
	}
	got, err := c.Put(ctx, ObjectRef{PJSIPRegistration, "gw2"}, append(noLine, Field{"line", "yes"}))
	want := readRecordedHTTP(t, "config-put-registration-gw2-line-yes-200.http")
	var wantFields []Field
	_ = json.Unmarshal([]byte(want.Body), &wantFields)
	if err != nil || !sameFields(wantFields, got) {
		t.Fatalf("PUT with line=yes: %v %v, want the recorded 200 %v", err, got, wantFields)
	}

	p := newTestPusher(t, f, nil)
	gw := provisioning.Gateway{ID: 1, Name: "carrier", Host: "192.0.2.10", Port: 5060,
		Username: "acct42", Secret: "s3cret", Register: true}
	if err := p.Reconcile(ctx, nil, []provisioning.Gateway{gw}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	reg, ok := f.object(ObjectRef{PJSIPRegistration, "carrier"})
	if !ok || fieldValue(reg, "line") != "true" || fieldValue(reg, "endpoint") != "carrier" {
		t.Errorf("registration on the node: %v (present %v), want line true, endpoint carrier", reg, ok)
	}
}

// TestReconcileFromReadsUnderTheLock: a reconnect's reconcile reads the
// desired state while no change is pushed, so a delete made meanwhile is
// pushed after it and wins. (The daemon used to read the list before
// taking the lock: a delete made just after a reconnect was pushed
// first, then the older list put the account back; seen live.)
func TestReconcileFromReadsUnderTheLock(t *testing.T) {
	f := newFakeConfigARI(t)
	p := newTestPusher(t, f, nil)
	ctx := context.Background()
	a := provisioning.Account{ID: 42, Username: "2005", Secret: "pw"}
	if err := p.Reconcile(ctx, []provisioning.Account{a}, nil); err != nil {
		t.Fatal(err)
	}
	loading, release := make(chan struct{}), make(chan struct{})
	reconciled := make(chan error, 1)
	go func() {
		reconciled <- p.ReconcileFrom(ctx, func(context.Context) ([]provisioning.Account, []provisioning.Gateway, error) {
			close(loading)
			<-release
			return []provisioning.Account{a}, nil, nil // read before the delete below
		})
	}()
	<-loading
	// The account is deleted through the API while the reconcile reads.
	_ = p.Apply(ctx, provisioning.Change{Op: provisioning.OpDelete, Account: &a})
	flushed := make(chan struct{})
	go func() { p.Flush(ctx); close(flushed) }()
	close(release)
	if err := <-reconciled; err != nil {
		t.Fatal(err)
	}
	<-flushed
	if _, ok := f.object(ObjectRef{PJSIPEndpoint, "2005"}); ok {
		t.Error("the account deleted during the reconcile is on the node")
	}
}

// TestDeleteLostRace: a DELETE that loses a race with another delete of
// the object (the live rig's cleanup against the pusher) gets 403 "Could
// not delete object" from Asterisk 23.4.1 although the object is gone:
// the pusher reads it back, counts it deleted (reported, disowned, no
// error) and does not log it as a pjsip.conf object; a real pjsip.conf
// object's 403 still is.
func TestDeleteLostRace(t *testing.T) {
	f := newFakeConfigARI(t)
	ctx := context.Background()
	var logs strings.Builder
	var mu, logMu sync.Mutex
	var deleted []string
	own := &MemoryOwnership{}
	p := NewConfigPusher(PusherConfig{
		Client: NewConfigClient(f.URL(), "sb", "pw", nil), Options: recordingOptions(), Ownership: own,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{w: &logs, mu: &logMu}, nil)),
		EndpointDeleted: func(id string) {
			mu.Lock()
			deleted = append(deleted, id)
			mu.Unlock()
		},
	})
	g := provisioning.Gateway{ID: 3, Name: "carrier-a", Host: "192.0.2.10", Port: 5060}
	if err := p.Reconcile(ctx, nil, []provisioning.Gateway{g}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.loseRace[ObjectRef{PJSIPEndpoint, "carrier-a"}] = true
	f.mu.Unlock()
	_ = p.Apply(ctx, provisioning.Change{Op: provisioning.OpDelete, Gateway: &g})
	p.Flush(ctx)
	if err := p.LastError(); err != nil {
		t.Errorf("LastError = %v, want none", err)
	}
	for _, ref := range gatewayRefs("carrier-a") {
		if _, ok := f.object(ref); ok {
			t.Errorf("%s still on the node", ref)
		}
	}
	if refs, _ := own.Owned(ctx); len(refs) != 0 {
		t.Errorf("ownership still holds %v", refs)
	}
	mu.Lock()
	if !slices.Equal(deleted, []string{"carrier-a"}) {
		t.Errorf("reported deleted endpoints %v, want [carrier-a]", deleted)
	}
	mu.Unlock()
	logMu.Lock()
	if strings.Contains(logs.String(), "static") {
		t.Errorf("a delete that lost a race is logged as a pjsip.conf object:\n%s", logs.String())
	}
	logMu.Unlock()

	// A pjsip.conf object: its 403 is still reported as one.
	f.addStatic(ObjectRef{PJSIPEndpoint, "1001"}, nil)
	_ = own.Own(ctx, ObjectRef{PJSIPEndpoint, "1001"})
	if err := p.Reconcile(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "static") {
		t.Error("a pjsip.conf object's 403 is not logged")
	}
}
