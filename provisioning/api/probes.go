package api

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// ProbeKind is what a probe result is about.
type ProbeKind string

// The probe kinds. Gateways, switches and contacts are qualified with SIP
// OPTIONS; a register check is a synthetic REGISTER of a probe account
// against a switch.
const (
	ProbeGateway       ProbeKind = "gateway"
	ProbeSwitch        ProbeKind = "switch"
	ProbeContact       ProbeKind = "contact"
	ProbeRegisterCheck ProbeKind = "register_check"
)

// The statuses of a probe result. OPTIONS probes are reachable, lagged
// (answered, slower than the lag threshold), unreachable or unknown (not
// probed yet); register checks are ok, failed or unknown (not run yet).
const (
	ProbeReachable   = "reachable"
	ProbeLagged      = "lagged"
	ProbeUnreachable = "unreachable"
	ProbeUnknown     = "unknown"
	ProbeOK          = "ok"
	ProbeFailed      = "failed"
)

// ProbeResult is the latest word of Switchboard's own SIP probing on one
// target. It is declared here, in plain fields, rather than taken from the
// sip package: the dialects read probing through this shape only, so they
// neither depend on the SIP stack nor change when it does (cmd/switchboard
// adapts sip.Prober to it).
type ProbeResult struct {
	Kind ProbeKind
	// Name is the gateway's or switch's name, or for a contact
	// "user@domain contact-uri".
	Name      string
	URI       string // the request URI probed (for a register check: the registrar)
	Address   string // ip:port probed instead of resolving URI (a contact's NAT-mapped address); "" when none
	Transport string
	Domain    string // a contact's SIP domain, a register check's account domain; "" otherwise
	TenantID  *int64 // a gateway's tenant; nil for a shared gateway and other kinds
	Status    string // see the Probe* status constants
	Code      int    // last SIP response code; 0 after a timeout or transport error
	Reason    string // last reason phrase, or the error
	// RTT and Misses are of OPTIONS probes: the last answered round trip
	// and the consecutive unanswered probes.
	RTT    time.Duration
	Misses int
	// Duration and Failures are of register checks: the last check's
	// REGISTER-to-200 time and the consecutive failed checks.
	Duration   time.Duration
	Failures   int
	LastProbe  time.Time // zero before the first probe
	LastChange time.Time // when Status last changed; zero when not tracked
}

// ProbeFeed is the switch name under which the prober writes the gateways
// it probes into the presence view, so they appear beside the switches'
// own reports, and a configured switch may not be named so while probing
// is on. Switch listeners are not gateways: they are only in Probes, kind
// switch.
const ProbeFeed = "sip"

// Probes is what the APIs read of SIP probing. Deps.Probes is nil when
// probing is disabled.
type Probes interface {
	// ProbeResults returns every result, register checks included,
	// sorted by Kind then Name.
	ProbeResults() []ProbeResult
	// ProbeResult returns the result of one target, false when it is not
	// probed.
	ProbeResult(kind ProbeKind, name string) (ProbeResult, bool)
}

// EncodeKeyCursor makes an opaque page cursor from a keyset position made
// of strings (a probe's kind and name), for lists kept in memory and
// sorted by such a key rather than by a store ID.
func EncodeKeyCursor(parts ...string) string {
	if len(parts) == 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("key:" + strings.Join(parts, "\x00")))
}

// DecodeKeyCursor reverses EncodeKeyCursor for a key of n parts; "" gives
// nil (the first page).
func DecodeKeyCursor(s string, n int) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), "key:") {
		return nil, errors.New("malformed cursor")
	}
	parts := strings.Split(string(b[4:]), "\x00")
	if len(parts) != n {
		return nil, errors.New("malformed cursor")
	}
	return parts, nil
}
