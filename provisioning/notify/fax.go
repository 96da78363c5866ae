package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboard-voip/switchboard/internal/smtpmail"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// Faxes is what the fax mailer reads and records of provisioning (the
// Service).
type Faxes interface {
	Faxes(ctx context.Context, sc provisioning.Scope, f provisioning.FaxFilter) ([]provisioning.Fax, error)
	FaxBox(ctx context.Context, sc provisioning.Scope, id int64) (*provisioning.FaxBox, error)
	FaxPDF(ctx context.Context, sc provisioning.Scope, id int64) (*provisioning.Fax, []byte, error)
	FaxNotified(ctx context.Context, id int64, at time.Time) error
}

// FaxMailer e-mails every received fax not yet notified to its box's
// address, the PDF attached (a failed fax is reported without one), at
// least once, like VoicemailMailer.
type FaxMailer struct {
	mailer
	src Faxes
}

// NewFaxMailer returns a mailer; call Run.
func NewFaxMailer(src Faxes, mail Sender, log *slog.Logger) *FaxMailer {
	m := &FaxMailer{src: src}
	m.mailer = newMailer("fax e-mail", mail, log, m.Round)
	return m
}

// Apply starts a round after a fax arrived; it never blocks.
func (m *FaxMailer) Apply(_ context.Context, c provisioning.Change) error {
	if c.Fax != nil && c.Op == provisioning.OpUpsert {
		m.keep.Changed()
	}
	return nil
}

// Round sends every fax not yet notified.
func (m *FaxMailer) Round(ctx context.Context) (bool, error) {
	return round(ctx, func(ctx context.Context, after int64) ([]provisioning.Fax, error) {
		return m.src.Faxes(ctx, provisioning.AdminScope(), provisioning.FaxFilter{Unnotified: true, Page: provisioning.Page{After: after, Limit: provisioning.MaxLimit}})
	}, func(f *provisioning.Fax) int64 { return f.ID }, m.send)
}

func (m *FaxMailer) send(ctx context.Context, f *provisioning.Fax) (bool, error) {
	admin := provisioning.AdminScope()
	box, err := m.src.FaxBox(ctx, admin, f.BoxID)
	if errors.Is(err, provisioning.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if box.Email == "" {
		return false, m.src.FaxNotified(ctx, f.ID, m.now())
	}
	from := cmpOr(f.CallerIDNumber, f.RemoteStation, "an unknown sender")
	e := &smtpmail.Message{To: []string{box.Email}}
	e.Subject = fmt.Sprintf("Fax from %s, %d page(s) (%s)", from, f.Pages, f.Status)
	e.Text = fmt.Sprintf("A fax arrived in fax box %s.\n\nFrom: %s\nSender's fax identity: %s\nReceived: %s\nPages: %d\nStatus: %s\n",
		box.Name, from, f.RemoteStation, f.ReceivedAt.UTC().Format("Mon, 02 Jan 2006 15:04:05 UTC"), f.Pages, f.Status)
	if f.Error != "" {
		e.Text += "Error: " + f.Error + "\n"
	}
	if f.Pages > 0 {
		_, pdf, err := m.src.FaxPDF(ctx, admin, f.ID)
		if errors.Is(err, provisioning.ErrNotFound) {
			return false, nil // deleted meanwhile
		}
		if err != nil {
			return false, err
		}
		e.Attachments = []smtpmail.Attachment{{Name: fmt.Sprintf("fax-%d.pdf", f.ID), ContentType: "application/pdf", Data: pdf}}
	}
	if err := m.mail.Send(ctx, e); err != nil {
		return false, fmt.Errorf("notify: fax %d to box %s: %w", f.ID, box.Name, err)
	}
	m.log.InfoContext(ctx, "fax e-mailed", "fax", f.ID, "box", box.Name, "pages", f.Pages)
	return true, m.src.FaxNotified(ctx, f.ID, m.now())
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
