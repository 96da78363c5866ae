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

// messageWAV is secs seconds of a tone at rate, as a switch writes a
// message.
func messageWAV(t *testing.T, rate int, secs float64) *bytes.Reader {
	t.Helper()
	c := &audio.Clip{Rate: rate, Samples: make([]int16, int(float64(rate)*secs))}
	for i := range c.Samples {
		c.Samples[i] = int16(6000 * math.Sin(2*math.Pi*300*float64(i)/float64(rate)))
	}
	var b bytes.Buffer
	must(t, c.WriteWAV(&b))
	return bytes.NewReader(b.Bytes())
}

// voicemailChanges are the voicemail changes among the sink's.
func voicemailChanges(e *env) (out []provisioning.Change) {
	for _, c := range e.sink.take() {
		if c.Voicemail != nil {
			out = append(out, c)
		}
	}
	return out
}

// TestVoicemailMessages: a message a switch hands over is kept once
// (a second deposit of the same switch id, even after a delete, does
// nothing), with its audio at 8 kHz and its measured duration; a deposit
// is a change (for the mailer); read and delete through the Service are
// changes (for the switch); what the switch says it still has (SyncVoicemail)
// removes what a phone deleted and takes what a phone read.
func TestVoicemailMessages(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		sc, in := f.tenantAdmin, provisioning.RoutingMeta{TenantID: f.t.ID}
		box := &provisioning.VoicemailBox{RoutingMeta: in, Number: "9000", PIN: "1234", Email: "desk@acme.example"}
		must(t, e.svc.CreateVoicemailBox(e.ctx, sc, box))
		e.sink.take()
		at := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
		deposit := func(ref string, secs float64) (*provisioning.VoicemailMessage, bool) {
			t.Helper()
			m := &provisioning.VoicemailMessage{BoxID: box.ID, Switch: "ast1", SwitchRef: ref, CallerIDNumber: "+15145550111", CallerIDName: "Caller", ReceivedAt: at}
			created, err := e.svc.DepositVoicemail(e.ctx, m, messageWAV(t, 16000, secs))
			must(t, err)
			return m, created
		}
		m1, created := deposit("1733561400-00000001", 5)
		if !created || m1.TenantID != f.t.ID || m1.DurationMS != 5000 {
			t.Fatalf("deposit: created %v, %+v", created, m1)
		}
		if ch := voicemailChanges(e); len(ch) != 1 || ch[0].Op != provisioning.OpUpsert || ch[0].Voicemail.ID != m1.ID {
			t.Errorf("deposit changes: %+v", ch)
		}
		if _, created := deposit("1733561400-00000001", 5); created {
			t.Error("the same message deposited twice")
		}
		m2, _ := deposit("1733561400-00000002", 2.5)
		_, wav, err := e.svc.VoicemailAudio(e.ctx, sc, m1.ID)
		must(t, err)
		if len(wav) != 44+5*8000*2 {
			t.Errorf("audio %d bytes, want 5 s at 8 kHz", len(wav))
		}
		unread, err := e.svc.VoicemailMessages(e.ctx, sc, provisioning.VoicemailFilter{BoxID: box.ID, Unread: true})
		must(t, err)
		if len(unread) != 2 || unread[0].ReceivedAt != at || unread[0].CallerIDNumber != "+15145550111" {
			t.Errorf("unread: %+v", unread)
		}

		// Read and delete through the API: changes for the switch.
		e.sink.take()
		m, err := e.svc.MarkVoicemail(e.ctx, sc, m1.ID, true)
		must(t, err)
		if !m.Read {
			t.Error("not read")
		}
		must(t, e.svc.DeleteVoicemail(e.ctx, sc, m2.ID))
		ch := voicemailChanges(e)
		if len(ch) != 2 || ch[0].Op != provisioning.OpUpsert || !ch[0].Voicemail.Read || ch[1].Op != provisioning.OpDelete || ch[1].Voicemail.SwitchRef != "1733561400-00000002" {
			t.Errorf("read and delete changes: %+v", ch)
		}
		if _, created := deposit("1733561400-00000002", 2.5); created {
			t.Error("a deleted message was deposited again")
		}
		if _, err := e.svc.VoicemailMessage(e.ctx, sc, m2.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("deleted message: %v", err)
		}

		// The switch's own view: by phone, m1 was deleted and m3 listened to.
		m3, _ := deposit("1733561400-00000003", 1)
		must(t, e.svc.SyncVoicemail(e.ctx, "ast1", box.ID, map[string]bool{"1733561400-00000003": true}))
		left, err := e.svc.VoicemailMessages(e.ctx, sc, provisioning.VoicemailFilter{BoxID: box.ID})
		must(t, err)
		if len(left) != 1 || left[0].ID != m3.ID || !left[0].Read {
			t.Errorf("after the switch's view: %+v", left)
		}

		// Another tenant sees none of it; a read-only user cannot delete.
		other := provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: f.other.ID, Path: f.other.Path}
		if _, err := e.svc.VoicemailMessage(e.ctx, other, m3.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("another tenant read the message: %v", err)
		}
		user := provisioning.Scope{Role: provisioning.RoleUser, TenantID: f.t.ID, Path: f.t.Path}
		if err := e.svc.DeleteVoicemail(e.ctx, user, m3.ID); !errors.Is(err, provisioning.ErrForbidden) {
			t.Errorf("a user deleted a message: %v", err)
		}
		// Garbage from a switch is refused and written nowhere.
		if _, err := e.svc.DepositVoicemail(e.ctx, &provisioning.VoicemailMessage{BoxID: box.ID, Switch: "ast1", SwitchRef: "bad"}, bytes.NewReader([]byte("not audio"))); !errors.Is(err, audio.ErrFormat) {
			t.Errorf("garbage deposit: %v", err)
		}
	})
}
