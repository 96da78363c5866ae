package provisioning

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
)

// VoicemailMessage is a message left in a box. The switch that took the
// call recorded it with its own voicemail application (app_voicemail,
// mod_voicemail: they keep taking messages, light the phones' lamps and
// play them by phone while Switchboard is down); its adapter hands each
// new one to DepositVoicemail and later tells what became of it
// (SyncVoicemail: read or deleted by phone). Switchboard keeps a copy of
// the audio, lists, serves and e-mails it, and sends read and delete
// made through the API back to the switch (a Change with Voicemail).
type VoicemailMessage struct {
	ID       int64 `json:"id" db:"id"`
	TenantID int64 `json:"tenant_id" db:"tenant_id"`
	BoxID    int64 `json:"box_id" db:"box_id"`
	// Switch and SwitchRef name the message on the switch that has it
	// (the node's name and its own id: app_voicemail's msg_id,
	// mod_voicemail's uuid): unique together.
	Switch         string     `json:"switch" db:"switch"`
	SwitchRef      string     `json:"switch_ref" db:"switch_ref"`
	CallerIDNumber string     `json:"caller_id_number" db:"caller_id_number"`
	CallerIDName   string     `json:"caller_id_name" db:"caller_id_name"`
	ReceivedAt     time.Time  `json:"received_at" db:"received_at"`
	DurationMS     int64      `json:"duration_ms" db:"duration_ms"`
	Read           bool       `json:"read" db:"read"`
	NotifiedAt     *time.Time `json:"notified_at" db:"notified_at"`
	CreatedAt      time.Time  `json:"created_at" db:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at" db:"updated_at"`
}

func (m *VoicemailMessage) ownerTenant() (int64, bool) { return m.TenantID, true }

// VoicemailFilter selects messages.
type VoicemailFilter struct {
	Subtree  string
	TenantID int64
	BoxID    int64
	Switch   string
	Unread   bool
	// Unnotified selects the messages whose e-mail has not gone out.
	Unnotified bool
	Page
}

// VoicemailStore is what voicemail messages need of the Store.
type VoicemailStore interface {
	// CreateVoicemail inserts m with its audio unless a message with its
	// Switch and SwitchRef exists or existed (a deleted message is kept
	// as a tombstone without its audio, so that a switch that still
	// shows it for a moment cannot deposit it again); created says which.
	CreateVoicemail(ctx context.Context, m *VoicemailMessage, wav []byte) (created bool, err error)
	VoicemailMessage(ctx context.Context, id int64) (*VoicemailMessage, error)
	VoicemailMessages(ctx context.Context, f VoicemailFilter) ([]VoicemailMessage, error)
	VoicemailAudio(ctx context.Context, id int64) ([]byte, error)
	SetVoicemailRead(ctx context.Context, id int64, read bool) error
	SetVoicemailNotified(ctx context.Context, id int64, at time.Time) error
	DeleteVoicemail(ctx context.Context, id int64) error
}

var errNoVoicemailStore = errors.New("provisioning: the store keeps no voicemail")

func (s *Service) voicemailStore() (VoicemailStore, error) {
	vs, ok := s.store.(VoicemailStore)
	if !ok {
		return nil, errNoVoicemailStore
	}
	return vs, nil
}

// VoicemailLimits bound a message's audio as a switch hands it over.
var VoicemailLimits = audio.Limits{MaxBytes: 200 << 20, MaxDuration: MaxVoicemailMaxSecs*time.Second + time.Minute}

// DepositVoicemail records a message the switch took in box m.BoxID (its
// Switch, SwitchRef, caller and time set by the adapter): the audio
// (any WAV or MP3 the switch wrote) is kept as 8 kHz mono WAV, its
// duration measured. Depositing the same Switch and SwitchRef again does
// nothing (an adapter rescanning after a restart), so each message is
// listed and e-mailed once; created reports whether it was new.
func (s *Service) DepositVoicemail(ctx context.Context, m *VoicemailMessage, r io.Reader) (created bool, err error) {
	vs, err := s.voicemailStore()
	if err != nil {
		return false, err
	}
	if m.Switch == "" || m.SwitchRef == "" {
		return false, Invalid("switch_ref", "the switch and its id of the message are required")
	}
	box, err := getRouting[VoicemailBox](ctx, s, AdminScope(), m.BoxID)
	if err != nil {
		return false, err
	}
	clip, _, err := audio.Decode(r, VoicemailLimits)
	if err != nil {
		return false, fmt.Errorf("provisioning: voicemail %s/%s: %w", m.Switch, m.SwitchRef, err)
	}
	clip = clip.Resample(8000)
	var wav bytes.Buffer
	if err := clip.WriteWAV(&wav); err != nil {
		return false, fmt.Errorf("provisioning: voicemail %s/%s: %w", m.Switch, m.SwitchRef, err)
	}
	m.TenantID, m.DurationMS, m.ID = box.TenantID, clip.Duration().Milliseconds(), 0
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = time.Now().UTC()
	}
	created, err = vs.CreateVoicemail(ctx, m, wav.Bytes())
	if err != nil || !created {
		return created, err
	}
	s.notify(ctx, Change{Op: OpUpsert, Voicemail: clone(m)})
	return true, nil
}

// SyncVoicemail tells what the switch still has of its messages in box
// boxID: ref → read (listened to by phone, or moved out of the inbox).
// A message of that switch and box the switch no longer has was deleted
// by phone and goes; a read state that changed is taken. Messages
// deposited by other switches are left alone.
func (s *Service) SyncVoicemail(ctx context.Context, node string, boxID int64, present map[string]bool) error {
	vs, err := s.voicemailStore()
	if err != nil {
		return err
	}
	for f := (VoicemailFilter{BoxID: boxID, Switch: node, Page: Page{Limit: MaxLimit}}); ; {
		ms, err := vs.VoicemailMessages(ctx, f)
		if err != nil {
			return err
		}
		for _, m := range ms {
			read, ok := present[m.SwitchRef]
			switch {
			case !ok:
				if err := vs.DeleteVoicemail(ctx, m.ID); err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
			case read != m.Read:
				if err := vs.SetVoicemailRead(ctx, m.ID, read); err != nil {
					return err
				}
			}
		}
		if len(ms) < f.Limit {
			return nil
		}
		f.After = ms[len(ms)-1].ID
	}
}

// VoicemailMessage returns message id if the scope sees it.
func (s *Service) VoicemailMessage(ctx context.Context, sc Scope, id int64) (*VoicemailMessage, error) {
	vs, err := s.voicemailStore()
	if err != nil {
		return nil, err
	}
	m, err := vs.VoicemailMessage(ctx, id)
	return inScope(ctx, s, sc, "voicemail message", m, err, id)
}

// VoicemailMessages lists the messages in scope.
func (s *Service) VoicemailMessages(ctx context.Context, sc Scope, f VoicemailFilter) ([]VoicemailMessage, error) {
	vs, err := s.voicemailStore()
	if err != nil {
		return nil, err
	}
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return vs.VoicemailMessages(ctx, f)
}

// VoicemailAudio returns message id's audio (8 kHz mono WAV).
func (s *Service) VoicemailAudio(ctx context.Context, sc Scope, id int64) (*VoicemailMessage, []byte, error) {
	m, err := s.VoicemailMessage(ctx, sc, id)
	if err != nil {
		return nil, nil, err
	}
	vs, err := s.voicemailStore()
	if err != nil {
		return nil, nil, err
	}
	b, err := vs.VoicemailAudio(ctx, id)
	return m, b, err
}

// MarkVoicemail sets message id read or unread, here and (through its
// adapter, a Change) on the switch that has it, whose phones' lamps
// follow.
func (s *Service) MarkVoicemail(ctx context.Context, sc Scope, id int64, read bool) (*VoicemailMessage, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	m, err := s.VoicemailMessage(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if m.Read == read {
		return m, nil
	}
	vs, err := s.voicemailStore()
	if err != nil {
		return nil, err
	}
	if err := vs.SetVoicemailRead(ctx, id, read); err != nil {
		return nil, err
	}
	m.Read = read
	s.notify(ctx, Change{Op: OpUpsert, Voicemail: clone(m)})
	return m, nil
}

// DeleteVoicemail deletes message id here and (a Change) on its switch.
func (s *Service) DeleteVoicemail(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	m, err := s.VoicemailMessage(ctx, sc, id)
	if err != nil {
		return err
	}
	vs, err := s.voicemailStore()
	if err != nil {
		return err
	}
	if err := vs.DeleteVoicemail(ctx, id); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpDelete, Voicemail: m})
	return nil
}

// VoicemailNotified records that message id's e-mail went out, so that
// a restart does not send it again.
func (s *Service) VoicemailNotified(ctx context.Context, id int64, at time.Time) error {
	vs, err := s.voicemailStore()
	if err != nil {
		return err
	}
	return vs.SetVoicemailNotified(ctx, id, at)
}
