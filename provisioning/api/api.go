// Package api holds what Switchboard's HTTP dialects share: the small
// interfaces they read live state and CDRs through, token extraction, body
// limits and keyset cursors. Each dialect (native /api/v1, dcp, …) lives in
// a subpackage and translates its callers' requests onto the one
// provisioning.Service.
package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// Presence is what the APIs read of the live view (presence.View).
type Presence interface {
	Registrations(q presence.RegistrationQuery) ([]presence.Registration, string)
	Gateways(q presence.GatewayQuery) []presence.Gateway
	Switches() []presence.SwitchState
}

// CDRs is what the APIs read of the CDR store (cdrstore.Store).
type CDRs interface {
	Query(ctx context.Context, f cdr.Filter) ([]cdr.Record, *cdr.Cursor, error)
}

// CDRFeed is the live feed of newly stored CDRs (cdr.Pipeline), for
// Server-Sent Events.
type CDRFeed interface {
	Subscribe(buffer int) *cdr.Subscription
}

// Deps are the components every dialect is built from.
type Deps struct {
	Service  *provisioning.Service
	Presence Presence
	CDRs     CDRs
	// CDRFeed streams CDRs as they are stored; nil disables live feeds.
	CDRFeed CDRFeed
	// CDRIngest takes durable CDR submissions (cdr.Pipeline); Put returns
	// once they are in the store or the spool. nil disables submissions.
	CDRIngest cdr.Sink
	// Probes reads Switchboard's own SIP probing; nil when probing is
	// disabled (sip.enabled false).
	Probes Probes
	// Config reads how far accounts and gateways reached each switch;
	// nil when no switch is configured.
	Config ConfigStates
	// Ledger keeps balances, payments and invoices; nil disables the
	// billing routes that need it (settings and subscriptions remain).
	Ledger Ledger
	Log    *slog.Logger
	// MaxBodyBytes bounds request bodies; larger ones are refused with 413
	// before they are read into memory. 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// DefaultMaxBodyBytes is 1 MiB: far more than any provisioning request.
const DefaultMaxBodyBytes = 1 << 20

// BodyLimit returns d.MaxBodyBytes or the default.
func (d Deps) BodyLimit() int64 {
	if d.MaxBodyBytes > 0 {
		return d.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// Logger returns d.Log or the default logger.
func (d Deps) Logger() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// ErrBodyTooLarge is returned by ReadBody for a body over the limit.
var ErrBodyTooLarge = errors.New("api: request body too large")

// ReadBody reads at most limit bytes of r's body. A longer body gives
// ErrBodyTooLarge without reading past the limit (a 10 MB upload costs
// the daemon limit+1 bytes, not 10 MB).
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, ErrBodyTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("api: read body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, ErrBodyTooLarge
	}
	return b, nil
}

// BearerToken returns the token of an "Authorization: Bearer …" header, or
// "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// EncodeCursor makes an opaque page cursor from a keyset ID.
func EncodeCursor(after int64) string {
	if after <= 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("id:" + strconv.FormatInt(after, 10)))
}

// DecodeCursor reverses EncodeCursor; "" is the first page.
func DecodeCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), "id:") {
		return 0, errors.New("malformed cursor")
	}
	id, err := strconv.ParseInt(string(b[3:]), 10, 64)
	if err != nil || id < 0 {
		return 0, errors.New("malformed cursor")
	}
	return id, nil
}

// EncodeCDRCursor makes an opaque cursor from a CDR keyset position.
func EncodeCDRCursor(c *cdr.Cursor) string {
	if c == nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("cdr:%d:%d", c.End.UnixMicro(), c.ID)))
}

// DecodeCDRCursor reverses EncodeCDRCursor; "" gives nil (the first page).
func DecodeCDRCursor(s string) (*cdr.Cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("malformed cursor")
	}
	var us, id int64
	if _, err := fmt.Sscanf(string(b), "cdr:%d:%d", &us, &id); err != nil {
		return nil, errors.New("malformed cursor")
	}
	return &cdr.Cursor{End: time.UnixMicro(us).UTC(), ID: id}, nil
}

// ScopeDomains returns the names of the domains a scope may see, or nil for
// an admin (every domain). Presence and CDR queries are filtered by domain
// name, so this is how a tenant's scope reaches them. The Service caches the
// answer (invalidated by every domain and tenant change), so a warm presence
// read does not touch the store.
func ScopeDomains(ctx context.Context, svc *provisioning.Service, sc provisioning.Scope) ([]string, error) {
	return svc.ScopeDomainNames(ctx, sc)
}

// ClientGone reports whether a request failed only because its client went
// away (or the server is shutting down). Such failures are not errors of
// the daemon: dialects log them at debug level, not as internal errors.
func ClientGone(r *http.Request, err error) bool {
	return r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
