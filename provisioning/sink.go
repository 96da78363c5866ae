package provisioning

import "context"

// Op is what happened to a provisioned object.
type Op string

// The operations a ConfigSink receives.
const (
	OpUpsert Op = "upsert"
	OpDelete Op = "delete"
)

// Change is one committed provisioning change that a switch must reflect.
// Exactly one of Account, Gateway and DID is set. Accounts carry their
// Secret and HA1: a sink is the one place they are meant to go.
type Change struct {
	Op      Op
	Account *Account
	Gateway *Gateway
	DID     *DID
	// Routing is set when a routing object of a tenant changed.
	Routing *RoutingChange
	// Sound is set when a sound file was uploaded, replaced or deleted
	// (its row, without the audio: a sink fetches what it needs).
	Sound *Sound
	// Voicemail is set when a message was deposited (OpUpsert, not yet
	// Read), marked read or unread (OpUpsert) or deleted (OpDelete): the
	// adapter of m.Switch applies the last two on its switch, the mailer
	// sends the first.
	Voicemail *VoicemailMessage
	// Fax is set when a fax was received (OpUpsert, for the mailer) or
	// deleted (OpDelete).
	Fax *Fax
	// SecretChanged is set on an account upsert whose secret changed, so a
	// switch can flush registrations made with the old one.
	SecretChanged bool
}

// ConfigSink is the configuration side of a switch adapter: it receives every
// committed change. The store is the source of truth, so Apply is
// best-effort and must not block: an adapter queues the change, pushes it
// when it can and reconciles its switch against the store on (re)connect.
type ConfigSink interface {
	Apply(ctx context.Context, c Change) error
}
