// Package notifytest runs the voicemail mailer against a loopback SMTP
// server, for tests that check the e-mail a real message produces (the
// switches' live voicemail tests).
package notifytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/smtpmail"
	"github.com/switchboard-voip/switchboard/internal/smtpmail/smtptest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/notify"
)

// Mails is a running mailer and the server it sends to.
type Mails struct {
	srv *smtptest.Server
}

// Start wires a VoicemailMailer onto svc, sending to a loopback SMTP
// server, until the test ends.
func Start(t testing.TB, svc *provisioning.Service) *Mails {
	t.Helper()
	srv := smtptest.Start(t)
	m := notify.NewVoicemailMailer(svc, smtpmail.New(smtpmail.Config{Addr: srv.Addr(), From: "Voicemail <vm@switchboard.test>", TLS: smtpmail.TLSNone}), nil)
	svc.AddSink(m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &Mails{srv: srv}
}

// Mail is one e-mail the server took, decoded.
type Mail struct {
	To, Subject, Text string
	// Attachment is the first attachment's content, nil without one.
	Attachment     []byte
	AttachmentType string
}

// Wait returns the first e-mail to address, waiting up to d.
func (m *Mails) Wait(t testing.TB, address string, d time.Duration) Mail {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, r := range m.srv.Messages() {
			for _, to := range r.To {
				if strings.Contains(to, "<"+address+">") {
					return decode(t, r.Data)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no e-mail to %s within %v", address, d)
	return Mail{}
}

func decode(t testing.TB, data []byte) Mail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the e-mail is not a message: %v", err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	out := Mail{To: msg.Header.Get("To"), Subject: subject}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("the e-mail's Content-Type: %v", err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("the e-mail's parts: %v", err)
		}
		body, _ := io.ReadAll(p)
		if p.FileName() == "" {
			out.Text = string(body)
			continue
		}
		if out.Attachment == nil {
			dec, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\r\n", ""))
			if err != nil {
				t.Fatalf("the attachment is not base64: %v", err)
			}
			ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			out.Attachment, out.AttachmentType = dec, ct
		}
	}
}
