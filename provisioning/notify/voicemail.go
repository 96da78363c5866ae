// Package notify tells people about what arrived for them: a voicemail
// box's owner gets each new message by e-mail, through the SMTP server
// the operator configures, with the audio attached.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/internal/smtpmail"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// Voicemails is what the mailer reads and records of provisioning (the
// Service).
type Voicemails interface {
	VoicemailMessages(ctx context.Context, sc provisioning.Scope, f provisioning.VoicemailFilter) ([]provisioning.VoicemailMessage, error)
	VoicemailBox(ctx context.Context, sc provisioning.Scope, id int64) (*provisioning.VoicemailBox, error)
	VoicemailAudio(ctx context.Context, sc provisioning.Scope, id int64) (*provisioning.VoicemailMessage, []byte, error)
	VoicemailNotified(ctx context.Context, id int64, at time.Time) error
	DeleteVoicemail(ctx context.Context, sc provisioning.Scope, id int64) error
}

// Sender sends one e-mail (smtpmail.Client).
type Sender interface {
	Send(ctx context.Context, m *smtpmail.Message) error
}

// VoicemailMailer e-mails every message not yet notified to its box's
// address. It is a provisioning ConfigSink: a deposit starts a round;
// a round also runs at start and every minute, so a message deposited
// while the mail server was away, or just before a crash, goes out later.
// A message is marked notified after the server took it: a crash between
// the two sends it again (at least once, never lost).
type VoicemailMailer struct {
	src  Voicemails
	mail Sender
	log  *slog.Logger
	keep *genfile.Keeper
	now  func() time.Time
}

// NewVoicemailMailer returns a mailer; call Run.
func NewVoicemailMailer(src Voicemails, mail Sender, log *slog.Logger) *VoicemailMailer {
	if log == nil {
		log = slog.Default()
	}
	m := &VoicemailMailer{src: src, mail: mail, log: log.With("what", "voicemail e-mail"), now: time.Now}
	m.keep = genfile.New(genfile.Config{Path: "voicemail e-mail", Write: m.Round, Debounce: 100 * time.Millisecond, Logger: m.log})
	return m
}

// Apply starts a round after a deposit; it never blocks.
func (m *VoicemailMailer) Apply(_ context.Context, c provisioning.Change) error {
	if c.Voicemail != nil && c.Op == provisioning.OpUpsert && c.Voicemail.NotifiedAt == nil {
		m.keep.Changed()
	}
	return nil
}

// Run sends until ctx ends, retrying with backoff while the server fails.
func (m *VoicemailMailer) Run(ctx context.Context) error { return m.keep.Run(ctx) }

// Round sends every message not yet notified and reports whether it
// sent any; the first failure ends the round (retried with backoff).
func (m *VoicemailMailer) Round(ctx context.Context) (bool, error) {
	admin := provisioning.AdminScope()
	sent := false
	for f := (provisioning.VoicemailFilter{Unnotified: true, Page: provisioning.Page{Limit: provisioning.MaxLimit}}); ; {
		ms, err := m.src.VoicemailMessages(ctx, admin, f)
		if err != nil {
			return sent, err
		}
		for i := range ms {
			ok, err := m.send(ctx, &ms[i])
			if err != nil {
				return sent, err
			}
			sent = sent || ok
		}
		if len(ms) < f.Limit {
			return sent, nil
		}
		f.After = ms[len(ms)-1].ID
	}
}

// send mails one message (a box without e-mail needs none) and records
// that it went.
func (m *VoicemailMailer) send(ctx context.Context, msg *provisioning.VoicemailMessage) (bool, error) {
	admin := provisioning.AdminScope()
	box, err := m.src.VoicemailBox(ctx, admin, msg.BoxID)
	if errors.Is(err, provisioning.ErrNotFound) {
		return false, nil // the box went with its messages
	}
	if err != nil {
		return false, err
	}
	if box.Email == "" {
		return false, m.src.VoicemailNotified(ctx, msg.ID, m.now())
	}
	e := &smtpmail.Message{To: []string{box.Email}, Subject: Subject(box, msg), Text: Text(box, msg)}
	if !box.WithoutAudioAttachments {
		_, wav, err := m.src.VoicemailAudio(ctx, admin, msg.ID)
		if errors.Is(err, provisioning.ErrNotFound) {
			return false, nil // deleted meanwhile
		}
		if err != nil {
			return false, err
		}
		e.Attachments = []smtpmail.Attachment{{Name: fmt.Sprintf("voicemail-%d.wav", msg.ID), ContentType: "audio/wav", Data: wav}}
	}
	if err := m.mail.Send(ctx, e); err != nil {
		return false, fmt.Errorf("notify: voicemail %d to box %s: %w", msg.ID, box.Number, err)
	}
	m.log.InfoContext(ctx, "voicemail e-mailed", "message", msg.ID, "box", box.Number)
	if err := m.src.VoicemailNotified(ctx, msg.ID, m.now()); err != nil {
		return true, err
	}
	if box.DeleteAfterEmail {
		if err := m.src.DeleteVoicemail(ctx, admin, msg.ID); err != nil && !errors.Is(err, provisioning.ErrNotFound) {
			return true, err
		}
	}
	return true, nil
}

// Subject is a message's e-mail subject.
func Subject(box *provisioning.VoicemailBox, msg *provisioning.VoicemailMessage) string {
	from := msg.CallerIDNumber
	if from == "" {
		from = "an unknown caller"
	}
	return fmt.Sprintf("New voicemail in box %s from %s (%s)", box.Number, from, duration(msg.DurationMS))
}

// Text is a message's e-mail body.
func Text(box *provisioning.VoicemailBox, msg *provisioning.VoicemailMessage) string {
	caller := msg.CallerIDNumber
	if msg.CallerIDName != "" {
		caller = fmt.Sprintf("%s <%s>", msg.CallerIDName, msg.CallerIDNumber)
	}
	name := box.Number
	if box.Name != "" {
		name += " (" + box.Name + ")"
	}
	return fmt.Sprintf("A new message was left in voicemail box %s.\n\nFrom: %s\nReceived: %s\nLength: %s\n",
		name, caller, msg.ReceivedAt.UTC().Format("Mon, 02 Jan 2006 15:04:05 UTC"), duration(msg.DurationMS))
}

func duration(ms int64) string {
	s := (ms + 500) / 1000
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
