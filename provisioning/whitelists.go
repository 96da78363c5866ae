package provisioning

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Whitelist is a named list of the destinations calls may be placed to
// (seed `customers`: whitelists per customer and per user), enforced at
// call time by provisioning/authz: the tenant's own (UserID nil), which
// binds every call of the tenant and of its sub-tenants, or one of its
// users' (the calls of the user's accounts). A tenant or user may have
// several (say "EU mobiles" and "Domestic"): a call must match one of
// them. Without any, every destination the tariff has a rate for is
// allowed, as before whitelists existed.
type Whitelist struct {
	ID       int64  `json:"id" db:"id"`
	TenantID int64  `json:"tenant_id" db:"tenant_id"`
	UserID   *int64 `json:"user_id" db:"user_id"`
	Name     string `json:"name" db:"name"`
	// Entries are the destination prefixes allowed; an empty whitelist
	// allows nothing (it still restricts: see CallWhitelists).
	Entries   []WhitelistEntry `json:"entries" db:"-"`
	CreatedAt time.Time        `json:"created_at" db:"created_at"`
	UpdatedAt time.Time        `json:"updated_at" db:"updated_at"`
}

// WhitelistEntry is one allowed destination prefix: digits of an E.164
// number without the "+", as the rate prefixes ("44" is the United
// Kingdom, "447" its mobiles).
type WhitelistEntry struct {
	Prefix      string `json:"prefix"`
	Description string `json:"description,omitempty"`
}

func (w *Whitelist) ownerTenant() (int64, bool) { return w.TenantID, true }

// Bounds of a Whitelist: beyond them a value is a typing error (or a
// deck, which is a tariff's job).
const (
	MaxWhitelistEntries     = 10_000
	MaxWhitelistPrefix      = 32 // digits, as rating's prefixes
	maxWhitelistName        = 100
	maxWhitelistDescription = 200
)

// Validate checks the whitelist's name and entries; a bad entry is named
// by its index ("entries[3].prefix").
func (w *Whitelist) Validate() error {
	if err := checkText("name", w.Name, maxWhitelistName, true); err != nil {
		return err
	}
	if len(w.Entries) > MaxWhitelistEntries {
		return Invalid("entries", "must have at most %d prefixes (got %d)", MaxWhitelistEntries, len(w.Entries))
	}
	seen := make(map[string]int, len(w.Entries))
	for i, e := range w.Entries {
		field := fmt.Sprintf("entries[%d]", i)
		if err := ValidateWhitelistPrefix(field+".prefix", e.Prefix); err != nil {
			return err
		}
		if j, dup := seen[e.Prefix]; dup {
			return Invalid(field+".prefix", "%q is already entries[%d]", e.Prefix, j)
		}
		seen[e.Prefix] = i
		if err := checkText(field+".description", e.Description, maxWhitelistDescription, false); err != nil {
			return err
		}
	}
	return nil
}

// ValidateWhitelistPrefix checks one destination prefix: 1 to 32 digits,
// no "+" (the form of the rate prefixes, so that one deck's prefixes can
// be pasted into a whitelist).
func ValidateWhitelistPrefix(field, p string) error {
	if p == "" {
		return Invalid(field, "is required")
	}
	if len(p) > MaxWhitelistPrefix {
		return Invalid(field, "must be at most %d digits", MaxWhitelistPrefix)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < '0' || c > '9' {
			if i == 0 && c == '+' {
				return Invalid(field, "must be digits without the leading +, as rate prefixes (%q)", p[1:])
			}
			return Invalid(field, "must be digits only (%q at character %d)", c, i+1)
		}
	}
	return nil
}

// WhitelistFilter selects whitelists: of one tenant, of one user
// (UserID), the tenants' own only (TenantOnly), of several tenants
// (TenantIDs, with TenantOnly: what CallWhitelists reads).
type WhitelistFilter struct {
	Subtree    string
	TenantID   int64
	TenantIDs  []int64
	UserID     int64
	TenantOnly bool
	Page
}

// WhitelistStore is what whitelists need of the Store. A second whitelist
// of the same owner (tenant or user) with the same name is a
// ConflictError.
type WhitelistStore interface {
	CreateWhitelist(ctx context.Context, w *Whitelist) error
	Whitelist(ctx context.Context, id int64) (*Whitelist, error)
	Whitelists(ctx context.Context, f WhitelistFilter) ([]Whitelist, error)
	UpdateWhitelist(ctx context.Context, w *Whitelist) error
	DeleteWhitelist(ctx context.Context, id int64) error
}

var errNoWhitelistStore = errors.New("provisioning: the store does not keep whitelists")

func (s *Service) whitelistStore() (WhitelistStore, error) {
	ws, ok := s.store.(WhitelistStore)
	if !ok {
		return nil, errNoWhitelistStore
	}
	return ws, nil
}

// ownWhitelist refuses a tenant-admin its own tenant's whitelists, as
// its own abuse limits: they are set from above (the parent's admin, a
// reseller), or a stolen tenant-admin token would open every
// destination. It sets its users' and its descendants'.
func ownWhitelist(sc Scope, w *Whitelist) error {
	return ownCallSetting(sc, w.TenantID, w.UserID, "whitelists")
}

// CreateWhitelist validates w and stores it.
func (s *Service) CreateWhitelist(ctx context.Context, sc Scope, w *Whitelist) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	ws, err := s.whitelistStore()
	if err != nil {
		return err
	}
	if err := w.Validate(); err != nil {
		return err
	}
	if err := s.checkCallSettingOwner(ctx, sc, w.TenantID, w.UserID, "whitelists"); err != nil {
		return err
	}
	w.ID = 0
	if w.Entries == nil {
		w.Entries = []WhitelistEntry{}
	}
	if err := ws.CreateWhitelist(ctx, w); err != nil {
		return err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateWhitelist})
	return nil
}

// Whitelist returns whitelist id if the scope sees it.
func (s *Service) Whitelist(ctx context.Context, sc Scope, id int64) (*Whitelist, error) {
	ws, err := s.whitelistStore()
	if err != nil {
		return nil, err
	}
	w, err := ws.Whitelist(ctx, id)
	return inScope(ctx, s, sc, "whitelist", w, err, id)
}

// Whitelists lists the whitelists in scope.
func (s *Service) Whitelists(ctx context.Context, sc Scope, f WhitelistFilter) ([]Whitelist, error) {
	ws, err := s.whitelistStore()
	if err != nil {
		return nil, err
	}
	f.Subtree, f.Page, f.TenantIDs = sc.subtree(), f.Page.Normalize(), nil
	return ws.Whitelists(ctx, f)
}

// UpdateWhitelist loads whitelist id, lets fn change it and saves it; its
// tenant and user cannot change.
func (s *Service) UpdateWhitelist(ctx context.Context, sc Scope, id int64, fn func(*Whitelist) error) (*Whitelist, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	ws, err := s.whitelistStore()
	if err != nil {
		return nil, err
	}
	w, err := s.Whitelist(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	before := *w
	before.UserID = clonePtr(w.UserID)
	if err := fn(w); err != nil {
		return nil, err
	}
	if w.TenantID != before.TenantID || !sameID(w.UserID, before.UserID) {
		return nil, Invalid("user_id", "the tenant and user of a whitelist cannot change: create another whitelist instead")
	}
	w.ID, w.CreatedAt = before.ID, before.CreatedAt
	if err := ownWhitelist(sc, w); err != nil {
		return nil, err
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	if w.Entries == nil {
		w.Entries = []WhitelistEntry{}
	}
	if err := ws.UpdateWhitelist(ctx, w); err != nil {
		return nil, err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateWhitelist})
	return w, nil
}

// DeleteWhitelist deletes whitelist id.
func (s *Service) DeleteWhitelist(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	ws, err := s.whitelistStore()
	if err != nil {
		return err
	}
	w, err := s.Whitelist(ctx, sc, id)
	if err != nil {
		return err
	}
	if err := ownWhitelist(sc, w); err != nil {
		return err
	}
	if err := ws.DeleteWhitelist(ctx, id); err != nil {
		return err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateWhitelist})
	return nil
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
