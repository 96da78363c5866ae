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
	mailer
	src Voicemails
}

// mailer is what the mailers share: the server, the rounds (a keeper:
// one round after a burst of changes, one a minute, retries with
// backoff), the log and the clock.
type mailer struct {
	mail Sender
	log  *slog.Logger
	keep *genfile.Keeper
	now  func() time.Time
}

func newMailer(what string, mail Sender, log *slog.Logger, round func(context.Context) (bool, error)) mailer {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("what", what)
	return mailer{mail: mail, log: log, now: time.Now,
		keep: genfile.New(genfile.Config{Path: what, Write: round, Debounce: 100 * time.Millisecond, Logger: log})}
}

// Run sends until ctx ends, retrying with backoff while the server fails.
func (m *mailer) Run(ctx context.Context) error { return m.keep.Run(ctx) }

// NewVoicemailMailer returns a mailer; call Run.
func NewVoicemailMailer(src Voicemails, mail Sender, log *slog.Logger) *VoicemailMailer {
	m := &VoicemailMailer{src: src}
	m.mailer = newMailer("voicemail e-mail", mail, log, m.Round)
	return m
}

// Apply starts a round after a deposit; it never blocks.
func (m *VoicemailMailer) Apply(_ context.Context, c provisioning.Change) error {
	if c.Voicemail != nil && c.Op == provisioning.OpUpsert && c.Voicemail.NotifiedAt == nil {
		m.keep.Changed()
	}
	return nil
}

// Round sends every message not yet notified and reports whether it
// sent any; the first failure ends the round (retried with backoff).
func (m *VoicemailMailer) Round(ctx context.Context) (bool, error) {
	return round(ctx, func(ctx context.Context, after int64) ([]provisioning.VoicemailMessage, error) {
		return m.src.VoicemailMessages(ctx, provisioning.AdminScope(),
			provisioning.VoicemailFilter{Unnotified: true, Page: provisioning.Page{After: after, Limit: provisioning.MaxLimit}})
	}, func(v *provisioning.VoicemailMessage) int64 { return v.ID }, m.send)
}

// round sends, one after another, every item list returns (a page after
// id after at a time) and reports whether send sent any; the first
// failure ends it.
func round[T any](ctx context.Context, list func(ctx context.Context, after int64) ([]T, error), id func(*T) int64,
	send func(context.Context, *T) (bool, error)) (bool, error) {
	sent := false
	for after := int64(0); ; {
		items, err := list(ctx, after)
		if err != nil {
			return sent, err
		}
		for i := range items {
			ok, err := send(ctx, &items[i])
			if err != nil {
				return sent, err
			}
			sent = sent || ok
		}
		if len(items) < provisioning.MaxLimit {
			return sent, nil
		}
		after = id(&items[len(items)-1])
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
