package provisioning

import (
	"net/mail"
	"regexp"
)

// Voicemail: boxes are routing objects (a call sent to one leaves a
// message), the messages themselves are recorded by the switch that took
// the call and indexed by Switchboard (voicemail_messages.go).
const (
	KindVoicemail RoutingKind = "voicemail"
	// DestVoicemail leaves a message in box ID.
	DestVoicemail DestKind = "voicemail"
	// DestVoicemailMain is the listening menu: the caller's own box (a
	// phone whose extension has one) or the box number asked for, after
	// its PIN.
	DestVoicemailMain DestKind = "voicemail_main"
)

// Limits of voicemail boxes. Part of the API contract (README).
const (
	DefaultVoicemailMaxSecs = 180
	MinVoicemailMaxSecs     = 10
	MaxVoicemailMaxSecs     = 1800
)

var pinRe = regexp.MustCompile(`^[0-9]{4,12}$`)

// VoicemailBox is a mailbox. Number is its box number in the tenant's
// plan (dialled, it leaves a message; the listening menu asks for it). A
// box of an extension (ExtensionID) is that extension's: the extension's
// phones get its message-waiting light and reach it from the listening
// menu without the box number; a box without one is a general delivery
// box. The greetings are sounds of the tenant (the switch's default
// greeting when unset): Unavailable when nobody answered, Busy when the
// call was sent on a busy phone's forward. PIN guards listening by phone;
// it is write-only in the API. Email, when set, gets every new message
// with its audio.
type VoicemailBox struct {
	RoutingMeta
	Number                  string `json:"number"`
	Name                    string `json:"name"`
	ExtensionID             *int64 `json:"extension_id"`
	PIN                     string `json:"pin"`
	Email                   string `json:"email"`
	UnavailableGreetingID   *int64 `json:"unavailable_greeting_sound_id"`
	BusyGreetingID          *int64 `json:"busy_greeting_sound_id"`
	MaxMessageSecs          int    `json:"max_message_seconds"`
	DeleteAfterEmail        bool   `json:"delete_after_email"`
	WithoutAudioAttachments bool   `json:"without_audio_attachments"`
}

func (b *VoicemailBox) kind() RoutingKind { return KindVoicemail }
func (b *VoicemailBox) key() string       { return planKey(b.Number) }
func (b *VoicemailBox) label() string     { return "voicemail " + b.Number }

// MaxSecs is the longest message the box takes.
func (b *VoicemailBox) MaxSecs() int {
	if b.MaxMessageSecs > 0 {
		return b.MaxMessageSecs
	}
	return DefaultVoicemailMaxSecs
}

func (b *VoicemailBox) validate() error {
	if err := checkPlanNumber("number", b.Number); err != nil {
		return err
	}
	if err := checkText("name", b.Name, MaxNameLen, false); err != nil {
		return err
	}
	if !pinRe.MatchString(b.PIN) {
		return Invalid("pin", "must be 4 to 12 digits")
	}
	if b.Email != "" {
		a, err := mail.ParseAddress(b.Email)
		if err != nil || a.Address != b.Email || a.Name != "" {
			return Invalid("email", "must be an e-mail address like box@example.com")
		}
	}
	if b.ExtensionID != nil && *b.ExtensionID <= 0 {
		return Invalid("extension_id", "must be an extension's id, or null for a general delivery box")
	}
	for _, g := range []struct {
		field string
		id    *int64
	}{{"unavailable_greeting_sound_id", b.UnavailableGreetingID}, {"busy_greeting_sound_id", b.BusyGreetingID}} {
		if g.id != nil && *g.id <= 0 {
			return Invalid(g.field, "must be a sound's id, or null")
		}
	}
	if b.MaxMessageSecs != 0 && (b.MaxMessageSecs < MinVoicemailMaxSecs || b.MaxMessageSecs > MaxVoicemailMaxSecs) {
		return Invalid("max_message_seconds", "must be from %d to %d (default %d)", MinVoicemailMaxSecs, MaxVoicemailMaxSecs, DefaultVoicemailMaxSecs)
	}
	if b.DeleteAfterEmail && b.Email == "" {
		return Invalid("delete_after_email", "needs email: the message would go nowhere")
	}
	return nil
}

// conflicts: an extension has one box.
func (b *VoicemailBox) conflicts(other routingObject) error {
	o, ok := other.(*VoicemailBox)
	if ok && b.ExtensionID != nil && o.ExtensionID != nil && *b.ExtensionID == *o.ExtensionID {
		return Conflict("extension_id", "extension %d already has voicemail box %s", *b.ExtensionID, o.Number)
	}
	return nil
}

// refs: the greetings and the owning extension, none of them a place the
// call goes on to (a box ends the call).
func (b *VoicemailBox) refs() []RoutingRef {
	var out []RoutingRef
	if b.ExtensionID != nil {
		out = append(out, RoutingRef{Field: "extension_id", Kind: DestExtension, ID: *b.ExtensionID, Target: true, Interactive: true})
	}
	for _, g := range []struct {
		field string
		id    *int64
	}{{"unavailable_greeting_sound_id", b.UnavailableGreetingID}, {"busy_greeting_sound_id", b.BusyGreetingID}} {
		if g.id != nil {
			out = append(out, RoutingRef{Field: g.field, Kind: refSound, ID: *g.id, Target: true})
		}
	}
	return out
}
