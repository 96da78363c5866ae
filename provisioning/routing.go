package provisioning

import "strconv"

// Call routing: a tenant's numbering plan. Calls reach a tenant through a
// DID or a number dialled by one of its phones; each such entry point
// names one Destination, and destinations chain through the routing
// objects (extensions, hunt groups, conditions, forwards) until something
// rings, leaves through a gateway or hangs up. The objects are
// switch-neutral: RoutingPlan resolves them into what a call to a number
// does, and each switch adapter renders that into its own dialplan.

// DestKind is the type of a Destination.
type DestKind string

// The destination types. Every one of them is a place a call can be sent;
// IVR menus and voicemail boxes (the media features) slot in as more
// kinds with an ID.
const (
	DestAccount   DestKind = "account"    // ring one SIP account (a phone), its forwards applied
	DestExtension DestKind = "extension"  // an Extension of the tenant
	DestHuntGroup DestKind = "hunt_group" // a HuntGroup of the tenant
	DestCondition DestKind = "condition"  // a Condition of the tenant: match or miss
	DestCustom    DestKind = "custom"     // a CustomDestination of the tenant
	DestExternal  DestKind = "external"   // a number outside, through the tenant's outbound routes
	DestHangup    DestKind = "hangup"     // refuse the call (486/603 as the switch maps cause 21)
	DestBusy      DestKind = "busy"       // answer busy (486)
)

// destKinds are the kinds a Destination may have, with what each needs.
var destKinds = map[DestKind]struct{ id, number bool }{
	DestAccount: {id: true}, DestExtension: {id: true}, DestHuntGroup: {id: true},
	DestCondition: {id: true}, DestCustom: {id: true}, DestIVR: {id: true}, DestVoicemail: {id: true}, DestVoicemailMain: {}, DestFax: {id: true},
	DestExternal: {number: true},
	DestHangup:   {}, DestBusy: {},
}

// Destination is one typed target. ID names the object of the id kinds
// (account, extension, hunt_group, condition, custom); Number is the
// external number of kind external (E.164 with +, or digits as dialled).
type Destination struct {
	Kind   DestKind `json:"type"`
	ID     int64    `json:"id,omitempty"`
	Number string   `json:"number,omitempty"`
}

// String names the destination for messages and loop paths:
// "hunt_group 7", "external +15145550100", "hangup".
func (d Destination) String() string {
	switch {
	case d.Number != "":
		return string(d.Kind) + " " + d.Number
	case d.ID != 0:
		return string(d.Kind) + " " + strconv.FormatInt(d.ID, 10)
	}
	return string(d.Kind)
}

// IsZero reports an unset destination.
func (d Destination) IsZero() bool { return d == Destination{} }

// validate checks the destination's shape (not that its object exists:
// the Service does that in the caller's tenant). allowed, when non-empty,
// restricts the kinds (a hunt group member cannot be a condition).
func (d Destination) validate(field string, allowed ...DestKind) error {
	need, ok := destKinds[d.Kind]
	if !ok {
		return Invalid(field+".type", "must be one of account, extension, hunt_group, condition, custom, ivr, voicemail, voicemail_main, fax, external, hangup, busy (got %q)", d.Kind)
	}
	if len(allowed) > 0 && !containsKind(allowed, d.Kind) {
		return Invalid(field+".type", "must be one of %v here (got %q)", allowed, d.Kind)
	}
	switch {
	case need.id && d.ID <= 0:
		return Invalid(field+".id", "is required for a %s destination", d.Kind)
	case !need.id && d.ID != 0:
		return Invalid(field+".id", "must not be set for a %s destination", d.Kind)
	case need.number:
		if !dialNumberRe.MatchString(d.Number) {
			return Invalid(field+".number", "must be a number to dial: digits, optionally a leading + (1 to 32)")
		}
	case d.Number != "":
		return Invalid(field+".number", "must not be set for a %s destination", d.Kind)
	}
	return nil
}

func containsKind(ks []DestKind, k DestKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}
