// Package presence is Switchboard's merged live view of every switch:
// which phones are registered where, how each gateway is doing, and which
// calls are up. Switch adapters write into it through a Feed, one per
// switch; the APIs read it from memory, so "which phones are online" never
// touches the database or the switch.
package presence

import (
	"context"
	"time"
)

// ContactStatus is the reachability of a registered contact, as the switch
// last reported it.
type ContactStatus string

// The contact statuses. Asterisk's Reachable/Unreachable/NonQualified and
// FreeSWITCH's registration states are mapped onto these by the adapters.
const (
	ContactReachable   ContactStatus = "reachable"
	ContactUnreachable ContactStatus = "unreachable"
	ContactUnknown     ContactStatus = "unknown" // registered but not qualified
)

// Registration is one registered contact of a SIP account on one switch.
// An account registered from two phones has two Registrations; (Switch,
// Domain, User, Contact) identifies one.
type Registration struct {
	Switch    string        `json:"switch"`
	User      string        `json:"user"`
	Domain    string        `json:"domain"`
	Contact   string        `json:"contact"`    // the Contact URI
	Address   string        `json:"address"`    // ip:port the REGISTER came from
	Transport string        `json:"transport"`  // udp, tcp, tls, ws, wss
	UserAgent string        `json:"user_agent"` // may be empty: not every switch reports it
	Expires   time.Time     `json:"expires"`    // zero when the switch does not say
	Status    ContactStatus `json:"status"`
	RTT       time.Duration `json:"-"` // qualify round trip; 0 when unknown
	UpdatedAt time.Time     `json:"updated_at"`
}

// GatewayState is whether a gateway can carry calls.
type GatewayState string

// The gateway states.
const (
	GatewayUp      GatewayState = "up"
	GatewayDown    GatewayState = "down"
	GatewayUnknown GatewayState = "unknown"
)

// RegistrationState is a gateway's outbound registration.
type RegistrationState string

// The outbound registration states. Unknown is used when the switch cannot
// tell (Asterisk over ARI without res_prometheus) and for gateways that do
// not register.
const (
	RegRegistered   RegistrationState = "registered"
	RegUnregistered RegistrationState = "unregistered"
	RegFailed       RegistrationState = "failed"
	RegUnknown      RegistrationState = "unknown"
)

// Gateway is a trunk's live status on one switch. Name is the provisioned
// gateway's name.
type Gateway struct {
	Switch       string            `json:"switch"`
	Name         string            `json:"name"`
	State        GatewayState      `json:"state"`
	Registration RegistrationState `json:"registration"`
	RTT          time.Duration     `json:"-"`      // last qualify/ping round trip; 0 when unknown
	Detail       string            `json:"detail"` // the switch's own word: "Reachable", "REGED", …
	UpdatedAt    time.Time         `json:"updated_at"`
}

// Call is one live call leg on one switch.
type Call struct {
	Switch       string     `json:"switch"`
	ID           string     `json:"id"`        // channel id / uuid
	LinkedID     string     `json:"linked_id"` // shared by the legs of one call
	Direction    string     `json:"direction"`
	Domain       string     `json:"domain"`
	Account      string     `json:"account"`
	Gateway      string     `json:"gateway"`
	CallerNumber string     `json:"caller_number"`
	CallerName   string     `json:"caller_name"`
	Callee       string     `json:"callee"`
	State        string     `json:"state"` // ringing, up, …
	Start        time.Time  `json:"start"`
	Answer       *time.Time `json:"answer"`
}

// SwitchState is the health of one switch's feed.
type SwitchState struct {
	Name      string    `json:"name"`
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since"` // when Connected last changed
	LastError string    `json:"last_error,omitempty"`
	// LastSync is when the adapter last replaced its whole view (resync on
	// connect, periodic reconcile).
	LastSync time.Time `json:"last_sync"`
}

// Snapshot is a switch's whole presence, read in one resync. Feed.Replace
// swaps it in atomically so that readers never see half a resync.
type Snapshot struct {
	Registrations []Registration
	Gateways      []Gateway
	Calls         []Call
}

// Source is the presence side of a switch adapter: it runs until ctx ends,
// writing what its switch reports into feed, and reconnecting by itself.
type Source interface {
	WatchPresence(ctx context.Context, feed *Feed) error
}

// OriginateRequest asks a switch to place a call: ring From (an account's
// AOR) and, once answered, connect it to To (an account or a number through
// Gateway).
type OriginateRequest struct {
	From         string
	To           string
	Gateway      string // empty for on-net calls
	CallerNumber string
	CallerName   string
	Timeout      time.Duration
}

// CallController is the call-control side of a switch adapter.
type CallController interface {
	Originate(ctx context.Context, req OriginateRequest) (callID string, err error)
	Hangup(ctx context.Context, callID string) error
}
