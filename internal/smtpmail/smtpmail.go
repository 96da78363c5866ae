// Package smtpmail sends e-mail with attachments through the SMTP server
// the operator configures (voicemail and fax notifications). It is
// net/smtp with what net/smtp leaves to its caller: a context bound on
// the whole exchange, STARTTLS by policy, and a MIME message with
// attachments.
package smtpmail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"
)

// TLS policies.
const (
	// TLSOpportunistic upgrades with STARTTLS when the server offers it
	// (the certificate is verified), else sends in clear. The default.
	TLSOpportunistic = "opportunistic"
	// TLSRequired refuses to send unless STARTTLS succeeds.
	TLSRequired = "required"
	// TLSNone never upgrades (a relay on loopback).
	TLSNone = "none"
)

// Config is the operator's SMTP server.
type Config struct {
	// Addr is host:port, e.g. smtp.example.com:587.
	Addr string
	// From is the envelope sender and From header.
	From string
	// Username and Password, when set, log in (AUTH PLAIN; net/smtp
	// sends it only over TLS or to localhost).
	Username, Password string
	// TLS is TLSOpportunistic (when empty), TLSRequired or TLSNone.
	TLS string
	// Timeout bounds one message's exchange when the context has no
	// deadline; 30 s when zero.
	Timeout time.Duration
	// RootCAs verifies the server's certificate; nil: the system's.
	RootCAs *x509.CertPool
}

// Validate checks the configuration, naming the field.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("addr: must be host:port, like smtp.example.com:587")
	}
	if a, err := mail.ParseAddress(c.From); err != nil || a.Address == "" {
		return fmt.Errorf("from: must be an e-mail address")
	}
	switch c.TLS {
	case "", TLSOpportunistic, TLSRequired, TLSNone:
	default:
		return fmt.Errorf("tls: must be opportunistic, required or none")
	}
	if (c.Username == "") != (c.Password == "") {
		return fmt.Errorf("username: username and password go together")
	}
	return nil
}

// Attachment is a file sent with a message.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Message is one e-mail.
type Message struct {
	To          []string
	Subject     string
	Text        string
	Attachments []Attachment
}

// ErrNoTLS is returned under TLSRequired when the server offers no
// STARTTLS.
var ErrNoTLS = errors.New("smtpmail: the server offers no STARTTLS and tls is required")

// Client sends messages through one server.
type Client struct {
	cfg Config
	now func() time.Time
}

// New returns a Client for cfg (Validate it first).
func New(cfg Config) *Client { return &Client{cfg: cfg, now: time.Now} }

// Send delivers m, or returns why not (the caller retries: a message is
// sent at least once, and the caller records when it was).
func (c *Client) Send(ctx context.Context, m *Message) error {
	if len(m.To) == 0 {
		return errors.New("smtpmail: no recipient")
	}
	timeout := c.cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	body, err := c.compose(m)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return fmt.Errorf("smtpmail: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	host, _, _ := net.SplitHostPort(c.cfg.Addr)
	sc, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtpmail: greeting: %w", err)
	}
	defer sc.Close()
	if c.cfg.TLS != TLSNone {
		if ok, _ := sc.Extension("STARTTLS"); ok {
			tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: c.cfg.RootCAs}
			if err := sc.StartTLS(tc); err != nil {
				return fmt.Errorf("smtpmail: STARTTLS: %w", err)
			}
		} else if c.cfg.TLS == TLSRequired {
			return ErrNoTLS
		}
	}
	if c.cfg.Username != "" {
		if err := sc.Auth(smtp.PlainAuth("", c.cfg.Username, c.cfg.Password, host)); err != nil {
			return fmt.Errorf("smtpmail: login: %w", err)
		}
	}
	from, _ := mail.ParseAddress(c.cfg.From)
	if err := sc.Mail(from.Address); err != nil {
		return fmt.Errorf("smtpmail: MAIL FROM: %w", err)
	}
	for _, to := range m.To {
		if err := sc.Rcpt(to); err != nil {
			return fmt.Errorf("smtpmail: RCPT TO %s: %w", to, err)
		}
	}
	w, err := sc.Data()
	if err != nil {
		return fmt.Errorf("smtpmail: DATA: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("smtpmail: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtpmail: the server refused the message: %w", err)
	}
	return sc.Quit()
}

// compose writes m as a MIME message: the text as quoted-printable, the
// attachments base64 in lines of 76, the subject RFC 2047-encoded.
func (c *Client) compose(m *Message) ([]byte, error) {
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	boundary := "sb-" + hex.EncodeToString(id)
	from, _ := mail.ParseAddress(c.cfg.From)
	for _, to := range m.To {
		if strings.ContainsAny(to, "\r\n") {
			return nil, fmt.Errorf("smtpmail: bad recipient %q", to)
		}
	}
	fmt.Fprintf(&b, "From: %s\r\n", from.String())
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(m.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", c.now().Format(time.RFC1123Z))
	_, domain, _ := strings.Cut(from.Address, "@")
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id), domain)
	b.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary)
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(m.Text, "\n", "\r\n")))
	_ = qp.Close()
	b.WriteString("\r\n")
	for _, a := range m.Attachments {
		name := mime.QEncoding.Encode("utf-8", a.Name)
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; name=%q\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=%q\r\n\r\n",
			boundary, a.ContentType, name, name)
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}
