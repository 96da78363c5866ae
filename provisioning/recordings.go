package provisioning

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
)

// Recording is a recorded call (routing_recording.go says which calls are
// recorded). The switch that carried the call wrote it as a WAV named
// after the recorded channel; Switchboard keeps it until ExpiresAt.
type Recording struct {
	ID       int64 `json:"id" db:"id"`
	TenantID int64 `json:"tenant_id" db:"tenant_id"`
	// Switch and SwitchRef name the recorded channel: the node's name
	// and the channel's id (Asterisk's uniqueid, FreeSWITCH's uuid),
	// which is the call_id of that leg's CDR and the linked_id of the
	// call's other legs. Unique together.
	Switch     string    `json:"switch" db:"switch"`
	SwitchRef  string    `json:"switch_ref" db:"switch_ref"`
	StartedAt  time.Time `json:"started_at" db:"started_at"`
	DurationMS int64     `json:"duration_ms" db:"duration_ms"`
	// Bytes is the size of the audio (a WAV as the switch wrote it).
	Bytes     int64     `json:"bytes" db:"bytes"`
	ExpiresAt time.Time `json:"expires_at" db:"expires_at"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

func (r *Recording) ownerTenant() (int64, bool) { return r.TenantID, true }

// RecordingFilter selects recordings.
type RecordingFilter struct {
	Subtree  string
	TenantID int64
	// Switch and Refs select the recordings of one call: the legs'
	// channel ids (a CDR's call_id and linked_id).
	Switch string
	Refs   []string
	// ExpiredBy selects the recordings whose retention ended at or before
	// it.
	ExpiredBy time.Time
	Page
}

// RecordingStore is what call recordings need of the Store.
type RecordingStore interface {
	// CreateRecording inserts r with its audio unless a recording with
	// its Switch and SwitchRef exists or existed (a deleted one is kept as
	// a tombstone, so that a switch that still has the file cannot
	// deposit it again); created says which.
	CreateRecording(ctx context.Context, r *Recording, wav []byte) (created bool, err error)
	Recording(ctx context.Context, id int64) (*Recording, error)
	Recordings(ctx context.Context, f RecordingFilter) ([]Recording, error)
	RecordingAudio(ctx context.Context, id int64) ([]byte, error)
	DeleteRecording(ctx context.Context, id int64) error
}

var errNoRecordingStore = errors.New("provisioning: the store keeps no recordings")

func (s *Service) recordingStore() (RecordingStore, error) {
	rs, ok := s.store.(RecordingStore)
	if !ok {
		return nil, errNoRecordingStore
	}
	return rs, nil
}

// DefaultRecordingRetention is how long a recording is kept when neither
// the tenant's policy nor WithRecordingRetention says.
const DefaultRecordingRetention = 90 * 24 * time.Hour

// MaxRecordingBytes bounds a recording a switch hands over: SQLite keeps
// no value past 1,000,000,000 bytes (PostgreSQL 1 GiB); 900 MiB is 16
// hours of 8 kHz 16-bit mono, far past any call a policy records. A
// larger file is refused with ErrInvalid (the adapter sets it aside).
const MaxRecordingBytes = 900 << 20

// WithRecordingRetention sets how long recordings are kept when the
// tenant's recording policy does not say (DefaultRecordingRetention).
func WithRecordingRetention(d time.Duration) Option {
	return func(s *Service) { s.recordingRetention = d }
}

// ErrNoAudio is returned by DepositRecording for a file without a sample:
// the switch opened it for a call that was never answered.
var ErrNoAudio = errors.New("provisioning: the recording has no audio (the call was not answered)")

// DepositRecording keeps the recording of channel r.SwitchRef on switch
// r.Switch for tenant r.TenantID (set by the adapter, with StartedAt).
// wav is the file the switch wrote; its duration is read from it, and its
// expiry from the tenant's policy. Depositing the same Switch and
// SwitchRef again does nothing. A file without audio is refused with
// ErrNoAudio, so that unanswered calls leave nothing to list; the adapter
// removes it like a deposited one.
func (s *Service) DepositRecording(ctx context.Context, r *Recording, wav []byte) (created bool, err error) {
	rs, err := s.recordingStore()
	if err != nil {
		return false, err
	}
	if r.Switch == "" || r.SwitchRef == "" {
		return false, Invalid("switch_ref", "the switch and its id of the channel are required")
	}
	if len(wav) > MaxRecordingBytes {
		return false, Invalid("audio", "a recording of %d bytes is larger than %d", len(wav), MaxRecordingBytes)
	}
	info, err := audio.ProbeWAV(wav)
	if err != nil {
		return false, fmt.Errorf("provisioning: recording %s/%s: %w", r.Switch, r.SwitchRef, err)
	}
	if info.Duration <= 0 {
		return false, ErrNoAudio
	}
	plan, err := s.TenantPlan(ctx, r.TenantID)
	if err != nil {
		return false, fmt.Errorf("provisioning: recording %s/%s: %w", r.Switch, r.SwitchRef, err)
	}
	keep := s.recordingRetention
	if keep <= 0 {
		keep = DefaultRecordingRetention
	}
	if p := plan.Recording; p != nil && p.RetentionDays > 0 {
		keep = time.Duration(p.RetentionDays) * 24 * time.Hour
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = time.Now().Add(-info.Duration)
	}
	r.StartedAt = r.StartedAt.UTC()
	r.ID, r.DurationMS, r.Bytes = 0, info.Duration.Milliseconds(), int64(len(wav))
	r.ExpiresAt = r.StartedAt.Add(keep)
	return rs.CreateRecording(ctx, r, wav)
}

// Recording returns recording id if the scope sees it.
func (s *Service) Recording(ctx context.Context, sc Scope, id int64) (*Recording, error) {
	rs, err := s.recordingStore()
	if err != nil {
		return nil, err
	}
	r, err := rs.Recording(ctx, id)
	return inScope(ctx, s, sc, "recording", r, err, id)
}

// Recordings lists the recordings in scope, oldest first.
func (s *Service) Recordings(ctx context.Context, sc Scope, f RecordingFilter) ([]Recording, error) {
	rs, err := s.recordingStore()
	if err != nil {
		return nil, err
	}
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return rs.Recordings(ctx, f)
}

// RecordingAudio returns recording id with its audio (a WAV).
func (s *Service) RecordingAudio(ctx context.Context, sc Scope, id int64) (*Recording, []byte, error) {
	r, err := s.Recording(ctx, sc, id)
	if err != nil {
		return nil, nil, err
	}
	rs, err := s.recordingStore()
	if err != nil {
		return nil, nil, err
	}
	b, err := rs.RecordingAudio(ctx, id)
	return r, b, err
}

// DeleteRecording deletes recording id.
func (s *Service) DeleteRecording(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if _, err := s.Recording(ctx, sc, id); err != nil {
		return err
	}
	rs, err := s.recordingStore()
	if err != nil {
		return err
	}
	return rs.DeleteRecording(ctx, id)
}

// ExpireRecordings deletes every recording whose retention ended by now
// and returns how many it deleted.
func (s *Service) ExpireRecordings(ctx context.Context, now time.Time) (int, error) {
	rs, err := s.recordingStore()
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		page, err := rs.Recordings(ctx, RecordingFilter{ExpiredBy: now, Page: Page{Limit: MaxLimit}})
		if err != nil {
			return n, err
		}
		for _, r := range page {
			if err := rs.DeleteRecording(ctx, r.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return n, fmt.Errorf("provisioning: expire recording %d: %w", r.ID, err)
			}
			n++
		}
		if len(page) < MaxLimit {
			return n, nil
		}
	}
}

// RunRecordingRetention deletes expired recordings every interval until
// ctx ends. A failed sweep is logged and tried again at the next tick:
// nothing is lost by deleting late.
func (s *Service) RunRecordingRetention(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.ExpireRecordings(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "recording retention sweep failed", "err", err)
		case n > 0:
			s.log.InfoContext(ctx, "recordings past their retention deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
