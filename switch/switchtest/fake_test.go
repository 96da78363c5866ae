package switchtest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

func TestConformance(t *testing.T) {
	RunConformance(t, func(t *testing.T) Harness { return NewFake("fake").Harness() })
}

// watch runs f.WatchPresence into a fresh View until the test ends.
func watch(t *testing.T, f *Fake) *presence.View {
	t.Helper()
	v := presence.New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	feed := v.Feed(f.Name())
	go func() { done <- f.WatchPresence(ctx, feed) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchPresence returned %v", err)
		}
		if v.Switches()[0].Connected {
			t.Error("feed still marked connected after WatchPresence returned")
		}
	})
	WaitFor(t, "the feed to connect", func() bool { return v.Switches()[0].Connected })
	return v
}

// stream runs f.StreamCDRs into a fresh sink until the test ends.
func stream(t *testing.T, f *Fake) *CDRSink {
	t.Helper()
	sink := &CDRSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.StreamCDRs(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("StreamCDRs returned %v", err)
		}
	})
	return sink
}

func regs(v *presence.View) []string {
	var out []string
	page, _ := v.Registrations(presence.RegistrationQuery{Limit: presence.MaxLimit})
	for _, r := range page {
		out = append(out, r.User+"@"+r.Domain+" "+r.Contact)
	}
	return out
}

func TestFakePresence(t *testing.T) {
	f := NewFake("sw")
	f.Register(presence.Registration{Domain: "d", User: "before", Contact: "c"}) // in the initial Replace
	v := watch(t, f)
	if got := regs(v); !slices.Equal(got, []string{"before@d c"}) {
		t.Fatalf("after start: %q", got)
	}

	exp := time.Now().Add(time.Hour)
	f.Register(presence.Registration{Domain: "d", User: "u", Contact: "c1", Transport: "tls", Expires: exp, Status: presence.ContactReachable})
	f.Register(presence.Registration{Domain: "d", User: "u", Contact: "c2"})
	WaitFor(t, "two contacts of u", func() bool { return len(regs(v)) == 3 })
	got, _ := v.Registrations(presence.RegistrationQuery{User: "u"})
	if r := got[0]; r.Switch != "sw" || r.Transport != "tls" || !r.Expires.Equal(exp) || r.UpdatedAt.IsZero() {
		t.Errorf("registration reported as %+v", r)
	}
	f.Unregister("d", "u", "c1")
	WaitFor(t, "c1 to go", func() bool { return slices.Equal(regs(v), []string{"before@d c", "u@d c2"}) })
	f.Unregister("d", "before", "")
	WaitFor(t, "before to go", func() bool { return slices.Equal(regs(v), []string{"u@d c2"}) })
	if got := f.Registrations(); len(got) != 1 || got[0].Contact != "c2" {
		t.Errorf("Fake.Registrations() = %+v", got)
	}

	f.SetGateway(presence.Gateway{Name: "gw", State: presence.GatewayUp})
	WaitFor(t, "the gateway", func() bool { return len(v.Gateways(presence.GatewayQuery{})) == 1 })
	f.RemoveGateway("gw")
	WaitFor(t, "the gateway to go", func() bool { return len(v.Gateways(presence.GatewayQuery{})) == 0 })

	f.StartCall(presence.Call{ID: "c-1", Domain: "d", Account: "u"})
	WaitFor(t, "the ringing call", func() bool {
		c := v.Calls(presence.CallQuery{})
		return len(c) == 1 && c[0].State == "ringing" && c[0].Answer == nil && c[0].LinkedID == "c-1"
	})
	f.AnswerCall("c-1")
	WaitFor(t, "the answered call", func() bool {
		c := v.Calls(presence.CallQuery{})
		return len(c) == 1 && c[0].State == "up" && c[0].Answer != nil
	})
	f.EndCall("c-1", 16)
	WaitFor(t, "the call to end", func() bool { return len(v.Calls(presence.CallQuery{})) == 0 })
	if n := len(f.CDRs()); n != 1 {
		t.Errorf("%d CDRs after one call", n)
	}
	f.AnswerCall("nope") // unknown legs are ignored
	f.EndCall("nope", 16)
	if n := len(f.CDRs()); n != 1 {
		t.Errorf("%d CDRs after ending an unknown call", n)
	}
}

func TestFakeDisconnect(t *testing.T) {
	f := NewFake("sw")
	v := watch(t, f)
	f.Register(presence.Registration{Domain: "d", User: "stale", Contact: "c"})
	WaitFor(t, "stale", func() bool { return v.Online("d", "stale") })
	lastSync := v.Switches()[0].LastSync

	f.Disconnect()
	WaitFor(t, "the feed to be marked disconnected", func() bool {
		s := v.Switches()[0]
		return !s.Connected && s.LastError == ErrDisconnected.Error()
	})
	f.Unregister("d", "stale", "")
	f.Register(presence.Registration{Domain: "d", User: "fresh", Contact: "c"})
	f.StartCall(presence.Call{ID: "during"})
	// The watcher is cut off: nothing made during the outage is streamed.
	if !v.Online("d", "stale") || v.Online("d", "fresh") || len(v.Calls(presence.CallQuery{})) != 0 {
		t.Fatalf("changes made while disconnected reached the view: %q", regs(v))
	}
	if _, err := f.Originate(context.Background(), presence.OriginateRequest{From: "a@d"}); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Originate while disconnected = %v", err)
	}
	if err := f.Hangup(context.Background(), "during"); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Hangup while disconnected = %v", err)
	}

	f.Reconnect()
	WaitFor(t, "the resync", func() bool {
		s := v.Switches()[0]
		return s.Connected && s.LastError == "" && s.LastSync.After(lastSync) &&
			slices.Equal(regs(v), []string{"fresh@d c"}) && len(v.Calls(presence.CallQuery{})) == 1
	})
	// And streaming resumes.
	f.Register(presence.Registration{Domain: "d", User: "later", Contact: "c"})
	WaitFor(t, "later", func() bool { return v.Online("d", "later") })
	f.Reconnect() // idempotent, as is Disconnect
	f.Disconnect()
	f.Disconnect()
	f.Reconnect()
	WaitFor(t, "the second resync", func() bool { return v.Switches()[0].Connected })
}

func TestFakeCDRs(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		answerAfter time.Duration // 0: never answered
		endAfter    time.Duration
		cause       int
		gateway     string
		want        cdr.Record
	}{
		{"answered", 5 * time.Second, 65*time.Second + 900*time.Millisecond, 16, "",
			cdr.Record{Duration: 65, Billsec: 60, Disposition: cdr.Answered, CauseText: "NORMAL_CLEARING", SIPStatus: 200, Direction: cdr.DirectionInternal}},
		{"answered, then the network failed", time.Second, 3 * time.Second, 38, "carrier",
			cdr.Record{Duration: 3, Billsec: 2, Disposition: cdr.Answered, CauseText: "NETWORK_OUT_OF_ORDER", SIPStatus: 200, Direction: cdr.DirectionOutbound}},
		{"busy", 0, 2 * time.Second, 17, "", cdr.Record{Duration: 2, Disposition: cdr.Busy, CauseText: "USER_BUSY", Direction: cdr.DirectionInternal}},
		{"caller gave up", 0, 20 * time.Second, 16, "", cdr.Record{Duration: 20, Disposition: cdr.NoAnswer, CauseText: "NORMAL_CLEARING", Direction: cdr.DirectionInternal}},
		{"no answer", 0, 30 * time.Second, 19, "", cdr.Record{Duration: 30, Disposition: cdr.NoAnswer, CauseText: "NO_ANSWER", Direction: cdr.DirectionInternal}},
		{"congestion", 0, 0, 34, "", cdr.Record{Disposition: cdr.Congestion, CauseText: "NORMAL_CIRCUIT_CONGESTION", Direction: cdr.DirectionInternal}},
		{"unallocated", 0, 0, 1, "", cdr.Record{Disposition: cdr.Failed, CauseText: "UNALLOCATED_NUMBER", Direction: cdr.DirectionInternal}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			f := NewFake("sw")
			f.SetClock(func() time.Time { return now })
			f.StartCall(presence.Call{ID: "x", Domain: "d", Account: "1001", Gateway: tt.gateway, CallerNumber: "1001", Callee: "1002"})
			if tt.answerAfter != 0 {
				now = t0.Add(tt.answerAfter)
				f.AnswerCall("x")
			}
			now = t0.Add(tt.endAfter)
			f.EndCall("x", tt.cause)
			recs := f.CDRs()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			got := recs[0]
			if got.Duration != tt.want.Duration || got.Billsec != tt.want.Billsec || got.Disposition != tt.want.Disposition ||
				got.Cause != tt.cause || got.CauseText != tt.want.CauseText || got.SIPStatus != tt.want.SIPStatus ||
				got.Direction != tt.want.Direction {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if got.Switch != "sw" || got.CallID != "x" || got.LinkedID != "x" || got.Domain != "d" || got.Account != "1001" ||
				got.Dialed != "1002" || !got.Start.Equal(t0) || !got.End.Equal(now) || len(got.Raw) == 0 {
				t.Errorf("identity or times wrong: %+v", got)
			}
			if (got.Answer != nil) != (tt.answerAfter != 0) {
				t.Errorf("Answer = %v", got.Answer)
			}
		})
	}
}

func TestFakeStreamCDRs(t *testing.T) {
	f := NewFake("sw")
	end := func(id string) {
		f.StartCall(presence.Call{ID: id})
		f.AnswerCall(id)
		f.EndCall(id, 16)
	}
	ids := func(recs []cdr.Record) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.CallID)
		}
		return out
	}
	end("before-stream")
	sink := stream(t, f)
	sink.FailNext(3, errors.New("store down"))
	WaitFor(t, "the first CDR, after three failures", func() bool { return len(sink.Records()) == 1 })
	if n := sink.Attempts(); n != 4 {
		t.Errorf("%d Put attempts, want 4", n)
	}
	end("a")
	end("b")
	WaitFor(t, "a and b", func() bool { return f.PendingCDRs() == 0 && len(sink.Records()) == 3 })

	f.Disconnect()
	end("during")
	// Delivery pauses while disconnected; a stream cannot be woken by the
	// record, only by the reconnect.
	if got := ids(sink.Records()); !slices.Equal(got, []string{"before-stream", "a", "b"}) {
		t.Fatalf("delivered while disconnected: %q", got)
	}
	f.Reconnect()
	WaitFor(t, "the outage's CDR", func() bool { return f.PendingCDRs() == 0 && slices.Contains(ids(sink.Records()), "during") })
	// The last record accepted before the cut is delivered again, identically.
	want := []string{"before-stream", "a", "b", "b", "during"}
	if got := ids(sink.Records()); !slices.Equal(got, want) {
		t.Errorf("deliveries %q, want %q", got, want)
	}
	if b := sink.Leg("b"); len(b) != 2 || !sameLeg(b[0], b[1]) {
		t.Errorf("redelivered leg differs: %+v", b)
	}
}

// TestFakeStreamCDRsConcurrentProducers ends calls from several goroutines
// while the stream runs: every record arrives, and under -race nothing is
// shared unsafely.
func TestFakeStreamCDRsConcurrentProducers(t *testing.T) {
	f := NewFake("sw")
	v := watch(t, f)
	sink := stream(t, f)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				id := string(rune('a'+g)) + "-" + time.Duration(i).String()
				f.StartCall(presence.Call{ID: id})
				f.EndCall(id, 16)
				v.Calls(presence.CallQuery{})
			}
		})
	}
	wg.Wait()
	WaitFor(t, "200 CDRs", func() bool { return len(sink.Records()) == 200 })
	WaitFor(t, "no calls left", func() bool { return len(v.Calls(presence.CallQuery{})) == 0 })
}

func TestFakeCallControl(t *testing.T) {
	f := NewFake("sw")
	v := watch(t, f)
	v.AttachController("sw", f)
	ctx := context.Background()

	req := presence.OriginateRequest{From: "1001@d", To: "+4930123", Gateway: "carrier", CallerNumber: "1001"}
	id, err := v.Originate(ctx, "sw", req)
	if err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the originated call in the view", func() bool {
		c := v.Calls(presence.CallQuery{Domains: []string{"d"}})
		return len(c) == 1 && c[0].ID == id && c[0].Account == "1001" && c[0].Callee == "+4930123" && c[0].Direction == "outbound"
	})
	if got := f.Originated(); len(got) != 1 || got[0] != req {
		t.Errorf("Originated() = %+v", got)
	}
	if err := v.Hangup(ctx, id); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the call to end", func() bool { return len(v.Calls(presence.CallQuery{})) == 0 })
	recs := f.CDRs()
	if len(recs) != 1 || recs[0].CallID != id || recs[0].Disposition != cdr.NoAnswer || recs[0].Gateway != "carrier" {
		t.Errorf("CDR of the hung-up call: %+v", recs)
	}
	if err := f.Hangup(ctx, id); !errors.Is(err, presence.ErrUnknownCall) {
		t.Errorf("second Hangup = %v, want ErrUnknownCall", err)
	}
}

func TestFakeApply(t *testing.T) {
	ctx := context.Background()
	acct := func(id int64, user string) *provisioning.Account {
		return &provisioning.Account{ID: id, Domain: "d", Username: user, Secret: "s"}
	}
	tests := []struct {
		name        string
		changes     []provisioning.Change
		wantUsers   []string
		wantGWs     []string
		wantDIDs    []string
		wantOnline  []string // of the phones 1001 and 1002, registered first
		wantErr     bool
		wantChanges int
	}{
		{
			name: "upserts",
			changes: []provisioning.Change{
				{Op: provisioning.OpUpsert, Account: acct(1, "1001")},
				{Op: provisioning.OpUpsert, Account: acct(2, "1002")},
				{Op: provisioning.OpUpsert, Gateway: &provisioning.Gateway{ID: 1, Name: "gw"}},
				{Op: provisioning.OpUpsert, DID: &provisioning.DID{ID: 1, Number: "+4930"}},
				{Op: provisioning.OpUpsert, Account: acct(1, "1001")}, // same secret: phone stays
			},
			wantUsers: []string{"1001", "1002"}, wantGWs: []string{"gw"}, wantDIDs: []string{"+4930"},
			wantOnline: []string{"1001", "1002"}, wantChanges: 5,
		},
		{
			name: "deletes flush registrations",
			changes: []provisioning.Change{
				{Op: provisioning.OpUpsert, Account: acct(1, "1001")},
				{Op: provisioning.OpUpsert, Account: acct(2, "1002")},
				{Op: provisioning.OpUpsert, Gateway: &provisioning.Gateway{ID: 1, Name: "gw"}},
				{Op: provisioning.OpDelete, Account: acct(1, "1001")},
				{Op: provisioning.OpDelete, Gateway: &provisioning.Gateway{ID: 1, Name: "gw"}},
			},
			wantUsers: []string{"1002"}, wantOnline: []string{"1002"}, wantChanges: 5,
		},
		{
			name: "secret change flushes registrations",
			changes: []provisioning.Change{
				{Op: provisioning.OpUpsert, Account: acct(1, "1001")},
				{Op: provisioning.OpUpsert, Account: acct(1, "1001"), SecretChanged: true},
			},
			wantUsers: []string{"1001"}, wantOnline: []string{"1002"}, wantChanges: 2,
		},
		{
			name: "rename flushes the old name's registrations",
			changes: []provisioning.Change{
				{Op: provisioning.OpUpsert, Account: acct(1, "1001")},
				{Op: provisioning.OpUpsert, Account: acct(1, "1009")},
			},
			wantUsers: []string{"1009"}, wantOnline: []string{"1002"}, wantChanges: 2,
		},
		{
			name:       "malformed",
			changes:    []provisioning.Change{{Op: provisioning.OpUpsert}},
			wantErr:    true,
			wantOnline: []string{"1001", "1002"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFake("sw")
			for _, u := range []string{"1001", "1002"} {
				f.Register(presence.Registration{Domain: "d", User: u, Contact: "c"})
			}
			var err error
			for _, c := range tt.changes {
				err = errors.Join(err, f.Apply(ctx, c))
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Apply errors: %v", err)
			}
			cfg := f.Applied()
			var users, gws, dids, online []string
			for _, a := range cfg.Accounts {
				users = append(users, a.Username)
			}
			for _, g := range cfg.Gateways {
				gws = append(gws, g.Name)
			}
			for _, d := range cfg.DIDs {
				dids = append(dids, d.Number)
			}
			for _, r := range f.Registrations() {
				online = append(online, r.User)
			}
			if !slices.Equal(users, tt.wantUsers) || !slices.Equal(gws, tt.wantGWs) || !slices.Equal(dids, tt.wantDIDs) || !slices.Equal(online, tt.wantOnline) {
				t.Errorf("accounts %q gateways %q dids %q online %q; want %q %q %q %q",
					users, gws, dids, online, tt.wantUsers, tt.wantGWs, tt.wantDIDs, tt.wantOnline)
			}
			if n := len(f.Changes()); n != tt.wantChanges {
				t.Errorf("%d changes recorded, want %d", n, tt.wantChanges)
			}
		})
	}

	t.Run("FailApply", func(t *testing.T) {
		f := NewFake("sw")
		boom := errors.New("switch unreachable")
		f.FailApply(boom)
		if err := f.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Account: acct(1, "1001")}); !errors.Is(err, boom) {
			t.Errorf("Apply = %v, want %v", err, boom)
		}
		f.FailApply(nil)
		if err := f.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Account: acct(1, "1001")}); err != nil {
			t.Errorf("Apply after FailApply(nil) = %v", err)
		}
		if n := len(f.Applied().Accounts); n != 1 {
			t.Errorf("%d accounts applied, want 1: the refused change is not recorded", n)
		}
	})

	t.Run("stored copies", func(t *testing.T) {
		f := NewFake("sw")
		a := acct(1, "1001")
		f.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Account: a}) //nolint:errcheck // checked below
		a.Username = "changed"
		if got := f.Changes()[0].Account.Username; got != "1001" {
			t.Errorf("the caller's later change reached the record: %q", got)
		}
	})
}

func TestStartCallWithoutID(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("StartCall without an ID did not panic")
		}
	}()
	NewFake("sw").StartCall(presence.Call{})
}
