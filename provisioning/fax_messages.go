package provisioning

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/internal/fax"
)

// Fax is a fax a box received. The switch wrote it as a TIFF; Switchboard
// keeps it as a PDF (one page per fax page, at its size).
type Fax struct {
	ID       int64 `json:"id" db:"id"`
	TenantID int64 `json:"tenant_id" db:"tenant_id"`
	BoxID    int64 `json:"box_id" db:"box_id"`
	// Switch and SwitchRef name the call on the switch that received it
	// (the leg's uuid / uniqueid): unique together.
	Switch         string `json:"switch" db:"switch"`
	SwitchRef      string `json:"switch_ref" db:"switch_ref"`
	CallerIDNumber string `json:"caller_id_number" db:"caller_id_number"`
	// RemoteStation is the sender's fax identity (T.30 TSI).
	RemoteStation string `json:"remote_station" db:"remote_station"`
	Pages         int    `json:"pages" db:"pages"`
	// Status is received (every page), partial (some pages, then the
	// transfer failed) or failed (no page); Error is the switch's reason.
	Status     string     `json:"status" db:"status"`
	Error      string     `json:"error" db:"error"`
	ReceivedAt time.Time  `json:"received_at" db:"received_at"`
	NotifiedAt *time.Time `json:"notified_at" db:"notified_at"`
	CreatedAt  time.Time  `json:"created_at" db:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at" db:"updated_at"`
}

func (f *Fax) ownerTenant() (int64, bool) { return f.TenantID, true }

// The statuses of a received fax.
const (
	FaxReceived = "received"
	FaxPartial  = "partial"
	FaxFailed   = "failed"
)

// FaxFilter selects faxes.
type FaxFilter struct {
	Subtree    string
	TenantID   int64
	BoxID      int64
	Unnotified bool
	Page
}

// FaxStore is what received faxes need of the Store.
type FaxStore interface {
	// CreateFax inserts f with its PDF (nil for a failed fax) unless its
	// Switch and SwitchRef exist or existed (deletes leave tombstones);
	// created says which.
	CreateFax(ctx context.Context, f *Fax, pdf []byte) (created bool, err error)
	Fax(ctx context.Context, id int64) (*Fax, error)
	Faxes(ctx context.Context, f FaxFilter) ([]Fax, error)
	FaxPDF(ctx context.Context, id int64) ([]byte, error)
	SetFaxNotified(ctx context.Context, id int64, at time.Time) error
	DeleteFax(ctx context.Context, id int64) error
}

var errNoFaxStore = errors.New("provisioning: the store keeps no faxes")

func (s *Service) faxStore() (FaxStore, error) {
	fs, ok := s.store.(FaxStore)
	if !ok {
		return nil, errNoFaxStore
	}
	return fs, nil
}

// DepositFax records a fax the switch took for box f.BoxID (Switch,
// SwitchRef, caller, remote station, status and error set by the
// adapter). tiff is what the receiver wrote (nil when nothing was
// received): every page is kept, as a PDF, and Pages counted from it.
// Depositing the same Switch and SwitchRef again does nothing.
func (s *Service) DepositFax(ctx context.Context, f *Fax, tiff []byte) (created bool, err error) {
	fs, err := s.faxStore()
	if err != nil {
		return false, err
	}
	if f.Switch == "" || f.SwitchRef == "" {
		return false, Invalid("switch_ref", "the switch and its id of the call are required")
	}
	box, err := getRouting[FaxBox](ctx, s, AdminScope(), f.BoxID)
	if err != nil {
		return false, err
	}
	var pdf []byte
	f.Pages = 0
	if len(tiff) > 0 {
		doc, err := fax.ReadTIFF(bytes.NewReader(tiff), int64(len(tiff)))
		if err != nil {
			return false, fmt.Errorf("provisioning: fax %s/%s: %w", f.Switch, f.SwitchRef, err)
		}
		var b bytes.Buffer
		meta := fax.Meta{Title: "Fax from " + cmpOr(f.CallerIDNumber, f.RemoteStation, "an unknown sender"), Subject: "Fax box " + box.label(),
			Author: f.RemoteStation, Creator: "Switchboard", Created: f.ReceivedAt}
		if err := doc.WritePDF(&b, meta); err != nil {
			return false, fmt.Errorf("provisioning: fax %s/%s: %w", f.Switch, f.SwitchRef, err)
		}
		pdf, f.Pages = b.Bytes(), len(doc.Pages)
	}
	switch {
	case f.Pages == 0:
		f.Status = FaxFailed
	case f.Status != FaxPartial:
		f.Status = FaxReceived
	}
	f.TenantID, f.ID = box.TenantID, 0
	if f.ReceivedAt.IsZero() {
		f.ReceivedAt = time.Now().UTC()
	}
	created, err = fs.CreateFax(ctx, f, pdf)
	if err != nil || !created {
		return created, err
	}
	s.notify(ctx, Change{Op: OpUpsert, Fax: clone(f)})
	return true, nil
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// Fax returns received fax id if the scope sees it.
func (s *Service) Fax(ctx context.Context, sc Scope, id int64) (*Fax, error) {
	fs, err := s.faxStore()
	if err != nil {
		return nil, err
	}
	f, err := fs.Fax(ctx, id)
	return inScope(ctx, s, sc, "fax", f, err, id)
}

// Faxes lists the received faxes in scope.
func (s *Service) Faxes(ctx context.Context, sc Scope, f FaxFilter) ([]Fax, error) {
	fs, err := s.faxStore()
	if err != nil {
		return nil, err
	}
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return fs.Faxes(ctx, f)
}

// FaxPDF returns received fax id as a PDF; ErrNotFound for a fax of
// which no page was received.
func (s *Service) FaxPDF(ctx context.Context, sc Scope, id int64) (*Fax, []byte, error) {
	f, err := s.Fax(ctx, sc, id)
	if err != nil {
		return nil, nil, err
	}
	fs, err := s.faxStore()
	if err != nil {
		return nil, nil, err
	}
	b, err := fs.FaxPDF(ctx, id)
	return f, b, err
}

// DeleteFax deletes received fax id.
func (s *Service) DeleteFax(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	f, err := s.Fax(ctx, sc, id)
	if err != nil {
		return err
	}
	fs, err := s.faxStore()
	if err != nil {
		return err
	}
	if err := fs.DeleteFax(ctx, id); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpDelete, Fax: f})
	return nil
}

// FaxNotified records that fax id's e-mail went out.
func (s *Service) FaxNotified(ctx context.Context, id int64, at time.Time) error {
	fs, err := s.faxStore()
	if err != nil {
		return err
	}
	return fs.SetFaxNotified(ctx, id, at)
}
