package provisioning

import (
	"fmt"
	"regexp"
)

// KindIVR is the routing kind of IVR menus, and DestIVR the destination
// that sends a call to one.
const (
	KindIVR RoutingKind = "ivr"
	DestIVR DestKind    = "ivr"
	// refSound is a reference to a sound file the object plays.
	refSound DestKind = "sound"
)

// Limits of IVR menus. Part of the API contract (README).
const (
	DefaultIVRTimeoutSecs = 5
	MaxIVRTimeoutSecs     = 60
	DefaultIVRRepeats     = 2
	MaxIVRRepeats         = 10
)

var ivrDigitRe = regexp.MustCompile(`^[0-9*#]$`)

// IVRMenu answers the call, plays its greeting and waits TimeoutSecs for
// a key: a key of one of its Options sends the call to that option's
// destination. A caller who presses nothing hears the greeting again,
// Repeats more times, then goes to Timeout; one who presses a key that
// is no option hears InvalidSound (when set) and the greeting again, and
// after Repeats goes to Invalid (both hang up when unset). With
// DirectDial the caller may instead dial a number of the tenant's plan
// (an extension, a hunt group, another menu). A menu may have a Number of
// the plan of its own; menus reach each other through options (a "back
// to the main menu" key is no loop: every step waits for the caller).
type IVRMenu struct {
	RoutingMeta
	Number          string      `json:"number"`
	Name            string      `json:"name"`
	GreetingSoundID int64       `json:"greeting_sound_id"`
	InvalidSoundID  *int64      `json:"invalid_sound_id"`
	TimeoutSecs     int         `json:"timeout_seconds"`
	Repeats         *int        `json:"repeats"`
	Options         []IVROption `json:"options"`
	DirectDial      bool        `json:"direct_dial"`
	Timeout         Destination `json:"timeout"`
	Invalid         Destination `json:"invalid"`
}

// IVROption is one key of a menu and where it sends the call.
type IVROption struct {
	Digit       string      `json:"digit"`
	Destination Destination `json:"destination"`
}

func (m *IVRMenu) kind() RoutingKind { return KindIVR }
func (m *IVRMenu) label() string {
	if m.Number != "" {
		return "ivr " + m.Number
	}
	return "ivr " + m.Name
}

func (m *IVRMenu) key() string {
	if m.Number == "" {
		return ""
	}
	return planKey(m.Number)
}

// Wait is how long the menu waits for a key after each greeting.
func (m *IVRMenu) Wait() int {
	if m.TimeoutSecs > 0 {
		return m.TimeoutSecs
	}
	return DefaultIVRTimeoutSecs
}

// Plays is how many times the greeting plays before the timeout or
// invalid destination: once, and Repeats more.
func (m *IVRMenu) Plays() int {
	if m.Repeats == nil {
		return 1 + DefaultIVRRepeats
	}
	return 1 + *m.Repeats
}

// Option returns the destination of key digit.
func (m *IVRMenu) Option(digit string) (Destination, bool) {
	for _, o := range m.Options {
		if o.Digit == digit {
			return o.Destination, true
		}
	}
	return Destination{}, false
}

func (m *IVRMenu) validate() error {
	if m.Repeats == nil {
		r := DefaultIVRRepeats
		m.Repeats = &r
	}
	if m.Number != "" {
		if err := checkPlanNumber("number", m.Number); err != nil {
			return err
		}
	}
	if err := checkText("name", m.Name, MaxNameLen, true); err != nil {
		return err
	}
	if m.GreetingSoundID <= 0 {
		return Invalid("greeting_sound_id", "is required: the sound the menu plays")
	}
	if m.InvalidSoundID != nil && *m.InvalidSoundID <= 0 {
		return Invalid("invalid_sound_id", "must be a sound's id, or null")
	}
	if m.TimeoutSecs != 0 && (m.TimeoutSecs < 1 || m.TimeoutSecs > MaxIVRTimeoutSecs) {
		return Invalid("timeout_seconds", "must be from 1 to %d seconds (default %d)", MaxIVRTimeoutSecs, DefaultIVRTimeoutSecs)
	}
	if *m.Repeats < 0 || *m.Repeats > MaxIVRRepeats {
		return Invalid("repeats", "must be from 0 to %d (default %d)", MaxIVRRepeats, DefaultIVRRepeats)
	}
	if len(m.Options) == 0 && !m.DirectDial {
		return Invalid("options", "must have at least one key, or direct_dial must be on")
	}
	seen := map[string]int{}
	for i, o := range m.Options {
		field := fmt.Sprintf("options[%d]", i)
		if !ivrDigitRe.MatchString(o.Digit) {
			return Invalid(field+".digit", "must be one key: 0-9, * or # (got %q)", o.Digit)
		}
		if j, dup := seen[o.Digit]; dup {
			return Invalid(field+".digit", "%q is already options[%d]", o.Digit, j)
		}
		seen[o.Digit] = i
		if err := o.Destination.validate(field + ".destination"); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		field string
		d     Destination
	}{{"timeout", m.Timeout}, {"invalid", m.Invalid}} {
		if !d.d.IsZero() {
			if err := d.d.validate(d.field); err != nil {
				return err
			}
		}
	}
	return nil
}

// refs: the sounds, the timeout and invalid destinations (edges a call
// follows by itself), and the options (edges that wait for a key: kept
// from deletion, but not loops).
func (m *IVRMenu) refs() []RoutingRef {
	out := []RoutingRef{{Field: "greeting_sound_id", Kind: refSound, ID: m.GreetingSoundID, Target: true}}
	if m.InvalidSoundID != nil {
		out = append(out, RoutingRef{Field: "invalid_sound_id", Kind: refSound, ID: *m.InvalidSoundID, Target: true})
	}
	out = append(out, destRef("timeout", m.Timeout)...)
	out = append(out, destRef("invalid", m.Invalid)...)
	for i, o := range m.Options {
		for _, r := range destRef(fmt.Sprintf("options[%d].destination", i), o.Destination) {
			r.Interactive = true
			out = append(out, r)
		}
	}
	return out
}
