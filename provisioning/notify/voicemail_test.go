package notify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"mime/multipart"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/internal/smtpmail"
	"github.com/switchboard-voip/switchboard/internal/smtpmail/smtptest"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/notify"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// fakeSender keeps what it is given; failing makes it refuse.
type fakeSender struct {
	mu      sync.Mutex
	sent    []*smtpmail.Message
	failing bool
}

func (f *fakeSender) Send(_ context.Context, m *smtpmail.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		return errors.New("451 try again later")
	}
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeSender) take() []*smtpmail.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.sent
	f.sent = nil
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestVoicemailMailer: each deposited message goes out once, to its
// box's address, with its audio (unless the box says not to); a failing
// server leaves it for the next round; a box without e-mail is skipped;
// delete_after_email deletes it once sent.
func TestVoicemailMailer(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "n.db"))
	must(t, err)
	defer db.Close()
	must(t, sqlstore.Migrate(ctx, db))
	svc := provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4), provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	admin := provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "acme"}
	must(t, svc.CreateTenant(ctx, admin, tn))
	in := provisioning.RoutingMeta{TenantID: tn.ID}
	boxes := map[string]*provisioning.VoicemailBox{
		"mail":    {RoutingMeta: in, Number: "9000", Name: "Front desk", PIN: "1234", Email: "desk@acme.example"},
		"noaudio": {RoutingMeta: in, Number: "9001", PIN: "1234", Email: "ops@acme.example", WithoutAudioAttachments: true},
		"nomail":  {RoutingMeta: in, Number: "9002", PIN: "1234"},
		"delete":  {RoutingMeta: in, Number: "9003", PIN: "1234", Email: "tmp@acme.example", DeleteAfterEmail: true},
	}
	for _, b := range boxes {
		must(t, svc.CreateVoicemailBox(ctx, admin, b))
	}
	wav := func() io.Reader {
		c := &audio.Clip{Rate: 8000, Samples: make([]int16, 8000*65)} // 1:05
		for i := range c.Samples {
			c.Samples[i] = int16(5000 * math.Sin(float64(i)/3))
		}
		var b bytes.Buffer
		must(t, c.WriteWAV(&b))
		return &b
	}
	n := 0
	deposit := func(box string) *provisioning.VoicemailMessage {
		n++
		m := &provisioning.VoicemailMessage{BoxID: boxes[box].ID, Switch: "ast1", SwitchRef: "ref-" + string(rune('a'+n)), CallerIDNumber: "+15145550111",
			CallerIDName: "Jane", ReceivedAt: time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)}
		_, err := svc.DepositVoicemail(ctx, m, wav())
		must(t, err)
		return m
	}
	sender := &fakeSender{}
	mailer := notify.NewVoicemailMailer(svc, sender, nil)

	m1 := deposit("mail")
	sender.failing = true
	if _, err := mailer.Round(ctx); err == nil {
		t.Error("a failing server: no error")
	}
	if got, _ := svc.VoicemailMessage(ctx, admin, m1.ID); got.NotifiedAt != nil {
		t.Error("marked notified although the server refused it")
	}
	sender.failing = false
	deposit("noaudio")
	deposit("nomail")
	m4 := deposit("delete")
	sent, err := mailer.Round(ctx)
	must(t, err)
	mails := sender.take()
	if !sent || len(mails) != 3 {
		t.Fatalf("sent %v, %d mails, want 3", sent, len(mails))
	}
	byTo := map[string]*smtpmail.Message{}
	for _, e := range mails {
		byTo[e.To[0]] = e
	}
	desk := byTo["desk@acme.example"]
	if desk == nil || desk.Subject != "New voicemail in box 9000 from +15145550111 (1:05)" || len(desk.Attachments) != 1 ||
		desk.Attachments[0].ContentType != "audio/wav" || len(desk.Attachments[0].Data) != 44+65*8000*2 ||
		!strings.Contains(desk.Text, "Jane <+15145550111>") || !strings.Contains(desk.Text, "9000 (Front desk)") {
		t.Errorf("the desk's mail: %+v", desk)
	}
	if ops := byTo["ops@acme.example"]; ops == nil || len(ops.Attachments) != 0 {
		t.Errorf("the box without audio attachments: %+v", ops)
	}
	if _, err := svc.VoicemailMessage(ctx, admin, m4.ID); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("delete_after_email: the message is still there (%v)", err)
	}
	if sent, err := mailer.Round(ctx); err != nil || sent || len(sender.take()) != 0 {
		t.Errorf("a second round sent again: %v %v", sent, err)
	}
	left, err := svc.VoicemailMessages(ctx, admin, provisioning.VoicemailFilter{Unnotified: true})
	must(t, err)
	if len(left) != 0 {
		t.Errorf("%d messages left unnotified (the box without e-mail counts as done)", len(left))
	}
}

// TestVoicemailMailerSMTP: a deposit reaches a real (loopback) SMTP
// server within moments, through the running mailer, with the message's
// audio attached byte for byte.
func TestVoicemailMailerSMTP(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "n.db"))
	must(t, err)
	defer db.Close()
	must(t, sqlstore.Migrate(ctx, db))
	svc := provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4), provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	admin := provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "acme"}
	must(t, svc.CreateTenant(ctx, admin, tn))
	box := &provisioning.VoicemailBox{RoutingMeta: provisioning.RoutingMeta{TenantID: tn.ID}, Number: "9000", PIN: "1234", Email: "desk@acme.example"}
	must(t, svc.CreateVoicemailBox(ctx, admin, box))
	srv := smtptest.Start(t)
	mailer := notify.NewVoicemailMailer(svc, smtpmail.New(smtpmail.Config{Addr: srv.Addr(), From: "Voicemail <vm@pbx.example>", TLS: smtpmail.TLSNone}), nil)
	svc.AddSink(mailer)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mailer.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	c := &audio.Clip{Rate: 8000, Samples: make([]int16, 8000*5)}
	for i := range c.Samples {
		c.Samples[i] = int16(5000 * math.Sin(float64(i)/5))
	}
	var b bytes.Buffer
	must(t, c.WriteWAV(&b))
	m := &provisioning.VoicemailMessage{BoxID: box.ID, Switch: "fs1", SwitchRef: "uuid-1", CallerIDNumber: "+15145550111"}
	_, err = svc.DepositVoicemail(ctx, m, &b)
	must(t, err)
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("%d e-mails at the server", len(got))
	}
	msg, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
	must(t, err)
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	_, _ = mr.NextPart() // the text
	att, err := mr.NextPart()
	must(t, err)
	enc, _ := io.ReadAll(att)
	data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(enc), "\r\n", ""))
	must(t, err)
	_, want, err := svc.VoicemailAudio(ctx, admin, m.ID)
	must(t, err)
	if !bytes.Equal(data, want) {
		t.Errorf("the attachment (%d bytes) is not the message's audio (%d bytes)", len(data), len(want))
	}
	if clip, _, err := audio.Decode(bytes.NewReader(data), audio.Limits{}); err != nil || clip.Silent() || clip.Duration() != 5*time.Second {
		t.Errorf("the attached audio: %v, silent %v", err, clip != nil && clip.Silent())
	}
}
