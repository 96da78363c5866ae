package provisioning_test

import (
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestVoicemailBoxes: a box is a number of the plan (dialled, or sent to
// by a forward, it leaves a message), an extension has at most one, its
// PIN and e-mail are checked, and its extension and greetings cannot go
// while it names them.
func TestVoicemailBoxes(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		sc, in := f.tenantAdmin, provisioning.RoutingMeta{TenantID: f.t.ID}
		x := f.extension(t, e, "100", acct(f.a1))
		greeting := f.sound(t, e, f.t, "away")
		box := &provisioning.VoicemailBox{RoutingMeta: in, Number: "9100", ExtensionID: &x.ID, PIN: "4711", Email: "alice@acme.example",
			UnavailableGreetingID: &greeting.ID}
		must(t, e.svc.CreateVoicemailBox(e.ctx, sc, box))
		general := &provisioning.VoicemailBox{RoutingMeta: in, Number: "9000", Name: "General Delivery", PIN: "000000", MaxMessageSecs: 60}
		must(t, e.svc.CreateVoicemailBox(e.ctx, sc, general))
		// A forward on no answer to the box.
		must(t, e.svc.CreateForward(e.ctx, sc, &provisioning.Forward{AccountID: &f.a1.ID, On: provisioning.ForwardNoAnswer, AfterSecs: 15,
			Destination: dest{Kind: provisioning.DestVoicemail, ID: box.ID}, Enabled: true}))

		for _, tc := range []struct {
			name  string
			b     provisioning.VoicemailBox
			field string
			err   error
		}{
			{"a second box for the extension", provisioning.VoicemailBox{Number: "9101", ExtensionID: &x.ID, PIN: "1234"}, "extension_id", provisioning.ErrConflict},
			{"a short PIN", provisioning.VoicemailBox{Number: "9101", PIN: "12"}, "pin", provisioning.ErrInvalid},
			{"a PIN with letters", provisioning.VoicemailBox{Number: "9101", PIN: "12ab"}, "pin", provisioning.ErrInvalid},
			{"a bad e-mail", provisioning.VoicemailBox{Number: "9101", PIN: "1234", Email: "Alice <a@b.example>"}, "email", provisioning.ErrInvalid},
			{"delete after e-mail without one", provisioning.VoicemailBox{Number: "9101", PIN: "1234", DeleteAfterEmail: true}, "delete_after_email", provisioning.ErrInvalid},
			{"a number taken", provisioning.VoicemailBox{Number: "100", PIN: "1234"}, "number", provisioning.ErrConflict},
			{"too long messages", provisioning.VoicemailBox{Number: "9101", PIN: "1234", MaxMessageSecs: 5000}, "max_message_seconds", provisioning.ErrInvalid},
			{"a missing greeting", provisioning.VoicemailBox{Number: "9101", PIN: "1234", BusyGreetingID: ptr(int64(99999))}, "busy_greeting_sound_id", provisioning.ErrNotFound},
		} {
			b := tc.b
			b.RoutingMeta = in
			wantField(t, e.svc.CreateVoicemailBox(e.ctx, sc, &b), tc.err, tc.field, "")
		}

		p, err := e.svc.RoutingPlan(e.ctx, sc, f.t.ID)
		must(t, err)
		if got, want := steps(p.Trace(ext(x), time.Now(), "")), "ring 201@acme.example 15s\nvoicemail 9100 180s\n"; got != want {
			t.Errorf("extension 100 with a no-answer forward to its box:\n got %s\nwant %s", got, want)
		}
		if d, ok := p.Number("9000"); !ok || d.Kind != provisioning.DestVoicemail || d.ID != general.ID {
			t.Errorf("9000 in the plan: %v %v", d, ok)
		}
		// The extension and the greeting are the box's.
		wantField(t, e.svc.DeleteExtension(e.ctx, sc, x.ID), provisioning.ErrConflict, "", "voicemail")
		wantField(t, e.svc.DeleteSound(e.ctx, sc, greeting.ID), provisioning.ErrConflict, "", "voicemail")
	})
}
