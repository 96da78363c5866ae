package provisioning_test

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// toneWAV is secs of a 440 Hz tone as the switches record calls: 8 kHz
// mono 16-bit WAV.
func toneWAV(t testing.TB, secs float64) []byte {
	t.Helper()
	c := &audio.Clip{Rate: 8000, Samples: make([]int16, int(secs*8000))}
	for i := range c.Samples {
		c.Samples[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var b bytes.Buffer
	if err := c.WriteWAV(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRecordingPolicy: one policy per tenant, its retention checked; the
// plan says which calls are recorded: a DID's or an extension's own flag,
// or every call under a policy with All.
func TestRecordingPolicy(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		sc, in := f.tenantAdmin, provisioning.RoutingMeta{TenantID: f.t.ID}
		for _, tt := range []struct {
			days int
			ok   bool
		}{{-1, false}, {0, true}, {1, true}, {3650, true}, {3651, false}} {
			err := e.svc.CreateRecordingPolicy(e.ctx, sc, &provisioning.RecordingPolicy{RoutingMeta: in, RetentionDays: tt.days})
			switch {
			case tt.ok && err != nil:
				t.Fatalf("retention %d refused: %v", tt.days, err)
			case !tt.ok:
				wantField(t, err, provisioning.ErrInvalid, "retention_days", "days")
				continue
			}
			// One per tenant: the next create conflicts, so delete it again.
			err = e.svc.CreateRecordingPolicy(e.ctx, sc, &provisioning.RecordingPolicy{RoutingMeta: in})
			if !errors.Is(err, provisioning.ErrConflict) {
				t.Fatalf("a second policy for the tenant: %v", err)
			}
			ps, err := e.svc.RecordingPolicies(e.ctx, sc, provisioning.RoutingFilter{TenantID: f.t.ID})
			must(t, err)
			must(t, e.svc.DeleteRecordingPolicy(e.ctx, sc, ps[0].ID))
		}

		ext := f.extension(t, e, "100", dest{Kind: provisioning.DestAccount, ID: f.a1.ID})
		flagged := &provisioning.Extension{RoutingMeta: in, Number: "101", Destination: dest{Kind: provisioning.DestAccount, ID: f.a2.ID}, Record: true}
		must(t, e.svc.CreateExtension(e.ctx, sc, flagged))
		did := &provisioning.DID{TenantID: f.t.ID, Number: "+15145550100", Destination: &dest{Kind: provisioning.DestExtension, ID: ext.ID}}
		must(t, e.svc.CreateDID(e.ctx, sc, did))
		recorded := &provisioning.DID{TenantID: f.t.ID, Number: "+15145550101", Destination: &dest{Kind: provisioning.DestExtension, ID: ext.ID}, Record: true}
		must(t, e.svc.CreateDID(e.ctx, sc, recorded))
		stored, err := e.svc.DID(e.ctx, sc, recorded.ID)
		must(t, err)
		if !stored.Record {
			t.Error("the DID's record flag was not kept")
		}

		p, err := e.svc.RoutingPlan(e.ctx, sc, f.t.ID)
		must(t, err)
		if p.RecordsAll() || p.RecordsExtension(p.Extension(ext.ID)) || !p.RecordsExtension(p.Extension(flagged.ID)) {
			t.Error("without a policy only the flagged extension records")
		}
		if p.RecordsDID(*did) || !p.RecordsDID(*recorded) {
			t.Error("without a policy only the flagged DID records")
		}
		must(t, e.svc.CreateRecordingPolicy(e.ctx, sc, &provisioning.RecordingPolicy{RoutingMeta: in, All: true, RetentionDays: 7}))
		p, err = e.svc.RoutingPlan(e.ctx, sc, f.t.ID)
		must(t, err)
		if !p.RecordsAll() || !p.RecordsExtension(p.Extension(ext.ID)) || !p.RecordsDID(*did) {
			t.Error("a policy with all records every call")
		}
		if p.Recording == nil || p.Recording.RetentionDays != 7 {
			t.Errorf("the plan's policy: %+v", p.Recording)
		}
	})
}

// TestFaxDetect: an extension's fax detection names a fax box of its
// tenant, which it then keeps from deletion; its listening time is
// bounded.
func TestFaxDetect(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		sc, in := f.tenantAdmin, provisioning.RoutingMeta{TenantID: f.t.ID}
		box := &provisioning.FaxBox{RoutingMeta: in, Name: "office fax"}
		must(t, e.svc.CreateFaxBox(e.ctx, sc, box))
		mk := func(number string, fd *provisioning.FaxDetect) error {
			return e.svc.CreateExtension(e.ctx, sc, &provisioning.Extension{RoutingMeta: in, Number: number,
				Destination: dest{Kind: provisioning.DestAccount, ID: f.a1.ID}, FaxDetect: fd})
		}
		wantField(t, mk("200", &provisioning.FaxDetect{}), provisioning.ErrInvalid, "fax_detect.box_id", "fax box")
		wantField(t, mk("200", &provisioning.FaxDetect{BoxID: box.ID, Seconds: 2}), provisioning.ErrInvalid, "fax_detect.seconds", "3 to 60")
		wantField(t, mk("200", &provisioning.FaxDetect{BoxID: box.ID, Seconds: 61}), provisioning.ErrInvalid, "fax_detect.seconds", "3 to 60")
		if err := mk("200", &provisioning.FaxDetect{BoxID: box.ID + 1000}); err == nil || fieldOf(err) != "fax_detect.box_id" {
			t.Errorf("a missing fax box: %v", err)
		}
		otherBox := &provisioning.FaxBox{RoutingMeta: provisioning.RoutingMeta{TenantID: f.other.ID}, Name: "theirs"}
		must(t, e.svc.CreateFaxBox(e.ctx, admin, otherBox))
		if err := mk("200", &provisioning.FaxDetect{BoxID: otherBox.ID}); err == nil || fieldOf(err) != "fax_detect.box_id" {
			t.Errorf("another tenant's fax box: %v", err)
		}
		must(t, mk("200", &provisioning.FaxDetect{BoxID: box.ID}))
		p, err := e.svc.RoutingPlan(e.ctx, sc, f.t.ID)
		must(t, err)
		d, _ := p.Number("200")
		x := p.Extension(d.ID)
		if x.FaxDetect == nil || x.FaxDetect.DetectSecs() != provisioning.DefaultFaxDetectSecs || p.Fax(x.FaxDetect.BoxID) == nil {
			t.Errorf("the plan's extension: %+v", x.FaxDetect)
		}
		if err := e.svc.DeleteFaxBox(e.ctx, sc, box.ID); !errors.Is(err, provisioning.ErrConflict) {
			t.Errorf("deleting a fax box an extension detects into: %v", err)
		}
	})
}

// TestRecordings: a switch's recording is kept once with its length read
// from the WAV and an expiry from the tenant's policy (or the daemon's
// default); an empty file (an unanswered call) is refused; a call's
// recordings are found by its channel ids; the scope hides other
// tenants'; deleted and expired recordings are gone for good.
func TestRecordings(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		sc := f.tenantAdmin
		start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		wav := toneWAV(t, 5)
		r := &provisioning.Recording{TenantID: f.t.ID, Switch: "ast1", SwitchRef: "1764583200.11", StartedAt: start}
		created, err := e.svc.DepositRecording(e.ctx, r, wav)
		must(t, err)
		if !created || r.DurationMS != 5000 || r.Bytes != int64(len(wav)) || !r.ExpiresAt.Equal(start.Add(provisioning.DefaultRecordingRetention)) {
			t.Fatalf("deposit: %v %+v", created, r)
		}
		if again, err := e.svc.DepositRecording(e.ctx, &provisioning.Recording{TenantID: f.t.ID, Switch: "ast1", SwitchRef: r.SwitchRef}, wav); again || err != nil {
			t.Errorf("the same recording deposited twice: %v %v", again, err)
		}
		if _, err := e.svc.DepositRecording(e.ctx, &provisioning.Recording{TenantID: f.t.ID, Switch: "ast1", SwitchRef: "empty"}, toneWAV(t, 0)); !errors.Is(err, provisioning.ErrNoAudio) {
			t.Errorf("an empty recording: %v", err)
		}
		if _, err := e.svc.DepositRecording(e.ctx, &provisioning.Recording{TenantID: f.t.ID, Switch: "ast1", SwitchRef: "junk"}, []byte("not a wav at all")); !errors.Is(err, audio.ErrFormat) {
			t.Errorf("a file that is no WAV: %v", err)
		}
		if _, err := e.svc.DepositRecording(e.ctx, &provisioning.Recording{TenantID: f.t.ID, Switch: "ast1"}, wav); fieldOf(err) != "switch_ref" {
			t.Errorf("a recording without its channel: %v", err)
		}

		// A policy's retention applies to recordings made after it.
		must(t, e.svc.CreateRecordingPolicy(e.ctx, sc, &provisioning.RecordingPolicy{RoutingMeta: provisioning.RoutingMeta{TenantID: f.t.ID}, RetentionDays: 7}))
		short := &provisioning.Recording{TenantID: f.t.ID, Switch: "ast1", SwitchRef: "1764583300.12", StartedAt: start}
		_, err = e.svc.DepositRecording(e.ctx, short, toneWAV(t, 1.5))
		must(t, err)
		if short.DurationMS != 1500 || !short.ExpiresAt.Equal(start.AddDate(0, 0, 7)) {
			t.Errorf("under a 7-day policy: %+v", short)
		}
		theirs := &provisioning.Recording{TenantID: f.other.ID, Switch: "ast1", SwitchRef: "1764583400.13", StartedAt: start}
		_, err = e.svc.DepositRecording(e.ctx, theirs, wav)
		must(t, err)

		byCall, err := e.svc.Recordings(e.ctx, sc, provisioning.RecordingFilter{Switch: "ast1", Refs: []string{"1764583200.99", r.SwitchRef}})
		must(t, err)
		if len(byCall) != 1 || byCall[0].ID != r.ID {
			t.Errorf("the call's recordings: %+v", byCall)
		}
		if none, err := e.svc.Recordings(e.ctx, sc, provisioning.RecordingFilter{Switch: "fs1", Refs: []string{r.SwitchRef}}); err != nil || len(none) != 0 {
			t.Errorf("the same id on another switch: %+v %v", none, err)
		}
		mine, err := e.svc.Recordings(e.ctx, sc, provisioning.RecordingFilter{})
		must(t, err)
		if len(mine) != 2 {
			t.Errorf("the tenant sees %d recordings, want 2", len(mine))
		}
		if _, err := e.svc.Recording(e.ctx, sc, theirs.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("another tenant's recording: %v", err)
		}
		_, got, err := e.svc.RecordingAudio(e.ctx, sc, r.ID)
		must(t, err)
		if !bytes.Equal(got, wav) {
			t.Error("the audio served is not the audio deposited")
		}

		user := provisioning.Scope{Role: provisioning.RoleUser, TenantID: f.t.ID, Path: f.t.Path}
		if err := e.svc.DeleteRecording(e.ctx, user, r.ID); !errors.Is(err, provisioning.ErrForbidden) {
			t.Errorf("a user deleting a recording: %v", err)
		}
		must(t, e.svc.DeleteRecording(e.ctx, sc, r.ID))
		if _, _, err := e.svc.RecordingAudio(e.ctx, admin, r.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("a deleted recording's audio: %v", err)
		}
		if again, _ := e.svc.DepositRecording(e.ctx, &provisioning.Recording{TenantID: f.t.ID, Switch: "ast1", SwitchRef: r.SwitchRef}, wav); again {
			t.Error("a deleted recording deposited again")
		}

		// Retention: at day 8 the 7-day recording goes, the 90-day one stays.
		n, err := e.svc.ExpireRecordings(e.ctx, start.AddDate(0, 0, 7).Add(-time.Second))
		must(t, err)
		if n != 0 {
			t.Errorf("%d recordings expired before their time", n)
		}
		n, err = e.svc.ExpireRecordings(e.ctx, start.AddDate(0, 0, 8))
		must(t, err)
		if n != 1 {
			t.Errorf("%d recordings expired at day 8, want 1", n)
		}
		left, err := e.svc.Recordings(e.ctx, admin, provisioning.RecordingFilter{})
		must(t, err)
		if len(left) != 1 || left[0].ID != theirs.ID {
			t.Errorf("after retention: %+v", left)
		}
	})
}

// TestRecordingRetentionOption: the daemon's default retention applies
// when the tenant has no policy.
func TestRecordingRetentionOption(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		svc := provisioning.NewService(e.store, provisioning.WithRecordingRetention(30*24*time.Hour))
		start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		r := &provisioning.Recording{TenantID: f.t.ID, Switch: "fs1", SwitchRef: "0b6c3f2e", StartedAt: start}
		_, err := svc.DepositRecording(e.ctx, r, toneWAV(t, 1))
		must(t, err)
		if !r.ExpiresAt.Equal(start.AddDate(0, 0, 30)) {
			t.Errorf("expires %s, want 30 days after %s", r.ExpiresAt, start)
		}
	})
}

// TestTraceRecordingAndFaxDetect: the trace says where recording starts
// (once per call, from the DID or the first flagged extension) and where
// a call is listened to for fax tones.
func TestTraceRecordingAndFaxDetect(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		sc, in := f.tenantAdmin, provisioning.RoutingMeta{TenantID: f.t.ID}
		box := &provisioning.FaxBox{RoutingMeta: in, Number: "3290", Name: "office fax"}
		must(t, e.svc.CreateFaxBox(e.ctx, sc, box))
		inner := &provisioning.Extension{RoutingMeta: in, Number: "101", Destination: dest{Kind: provisioning.DestAccount, ID: f.a1.ID}, Record: true}
		must(t, e.svc.CreateExtension(e.ctx, sc, inner))
		outer := &provisioning.Extension{RoutingMeta: in, Number: "100", Destination: dest{Kind: provisioning.DestExtension, ID: inner.ID},
			Record: true, FaxDetect: &provisioning.FaxDetect{BoxID: box.ID, Seconds: 8}}
		must(t, e.svc.CreateExtension(e.ctx, sc, outer))
		plain := &provisioning.DID{TenantID: f.t.ID, Number: "+15145550100", Destination: &dest{Kind: provisioning.DestExtension, ID: outer.ID}}
		recorded := &provisioning.DID{TenantID: f.t.ID, Number: "+15145550101", Destination: &dest{Kind: provisioning.DestExtension, ID: inner.ID}, Record: true}
		must(t, e.svc.CreateDID(e.ctx, sc, plain))
		must(t, e.svc.CreateDID(e.ctx, sc, recorded))
		p, err := e.svc.RoutingPlan(e.ctx, sc, f.t.ID)
		must(t, err)
		at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		phone := f.a1.Username + "@acme.example"
		for _, tt := range []struct {
			name string
			got  []provisioning.Step
			want string
		}{
			{"plain DID to a flagged extension with fax detection", p.TraceDID(*plain, at, "", nil),
				"record extension 100\nfax_detect fax 3290 8s\nring " + phone + "\n"},
			{"recorded DID: once, not again at the extension", p.TraceDID(*recorded, at, "", nil),
				"record did +15145550101\nring " + phone + "\n"},
			{"a number of the plan", p.Trace(dest{Kind: provisioning.DestExtension, ID: inner.ID}, at, ""),
				"record extension 101\nring " + phone + "\n"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := steps(tt.got); got != tt.want {
					t.Errorf("trace:\n%s\nwant:\n%s", got, tt.want)
				}
			})
		}
	})
}
