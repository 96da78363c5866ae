package smtpmail

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/smtpmail/smtptest"
)

// TestSend: a message with a text and a WAV attachment reaches the
// server whole (headers, quoted-printable text with non-ASCII, the
// attachment decoding to the same bytes), after AUTH PLAIN.
func TestSend(t *testing.T) {
	srv := smtptest.Start(t)
	c := New(Config{Addr: srv.Addr(), From: "Switchboard <voicemail@pbx.example>", Username: "sb", Password: "s3cret", TLS: TLSNone})
	wav := bytes.Repeat([]byte{0, 1, 2, 250, 255}, 1000)
	err := c.Send(context.Background(), &Message{
		To: []string{"alice@acme.example"}, Subject: "Nouveau message de +15145550111 (0:05)",
		Text:        "Box 9000 — 5 s from +15145550111.\nListen: dial 8500.",
		Attachments: []Attachment{{Name: "message.wav", ContentType: "audio/wav", Data: wav}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	auth, _ := base64.StdEncoding.DecodeString(got[0].Auth)
	if string(auth) != "\x00sb\x00s3cret" || !strings.Contains(got[0].From, "<voicemail@pbx.example>") || len(got[0].To) != 1 {
		t.Errorf("envelope: auth %q from %q to %v", auth, got[0].From, got[0].To)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subject != "Nouveau message de +15145550111 (0:05)" || msg.Header.Get("To") != "alice@acme.example" {
		t.Errorf("headers: subject %q to %q", subject, msg.Header.Get("To"))
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	text, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(text) // multipart decodes quoted-printable
	if !strings.Contains(string(body), "Box 9000 — 5 s") {
		t.Errorf("text: %q", body)
	}
	att, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := io.ReadAll(att)
	data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(enc), "\r\n", ""))
	if err != nil || !bytes.Equal(data, wav) || att.FileName() != "message.wav" {
		t.Errorf("attachment %q: %d bytes, equal %v, err %v", att.FileName(), len(data), bytes.Equal(data, wav), err)
	}
}

// TestSendRefusals: the policy and the server's refusals are errors, so
// that the caller retries.
func TestSendRefusals(t *testing.T) {
	srv := smtptest.Start(t)
	srv.OfferTLS(true)
	msg := &Message{To: []string{"alice@acme.example"}, Subject: "x", Text: "x"}
	if err := New(Config{Addr: srv.Addr(), From: "vm@pbx.example", TLS: TLSRequired}).Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("a failed STARTTLS under required: %v", err)
	}
	srv.OfferTLS(false)
	if err := New(Config{Addr: srv.Addr(), From: "vm@pbx.example", TLS: TLSRequired}).Send(context.Background(), msg); !errors.Is(err, ErrNoTLS) {
		t.Errorf("no STARTTLS under required: %v", err)
	}
	srv.RejectRcpt("alice")
	if err := New(Config{Addr: srv.Addr(), From: "vm@pbx.example"}).Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("a refused recipient: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages taken", n)
	}
	// A server that never answers: the context ends the attempt.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := New(Config{Addr: ln.Addr().String(), From: "vm@pbx.example"}).Send(ctx, msg); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("a silent server: %v after %v", err, time.Since(start))
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Addr: "smtp.example.com", From: "vm@pbx.example"}, "addr"},
		{Config{Addr: "smtp.example.com:587", From: "not an address"}, "from"},
		{Config{Addr: "smtp.example.com:587", From: "vm@pbx.example", TLS: "maybe"}, "tls"},
		{Config{Addr: "smtp.example.com:587", From: "vm@pbx.example", Username: "u"}, "username"},
		{Config{Addr: "smtp.example.com:587", From: "Voicemail <vm@pbx.example>", Username: "u", Password: "p"}, ""},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.field == "") || err != nil && !strings.HasPrefix(err.Error(), tc.field+":") {
			t.Errorf("%+v: %v, want field %q", tc.cfg, err, tc.field)
		}
	}
}
