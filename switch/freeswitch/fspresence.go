package freeswitch

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

// PresenceOptions tells the presence parsers what FreeSWITCH does not say.
type PresenceOptions struct {
	// Switch is the switch name of every Registration and Gateway.
	Switch string
	// Domain is the SIP domain of a registration that names none.
	Domain string
	// MultipleRegistrations is whether the sofia profiles let a user
	// register several contacts (multiple-registrations=contact, call-id
	// or true). Off, FreeSWITCH's default, an unregister removes every
	// contact of the user, so sofia::unregister deletes them all; on, it
	// deletes the contact it names.
	MultipleRegistrations bool
	// Now is the clock of the xmlstatus parsers (expsecs are counted from
	// the reply) and the time of an event without Event-Date-Timestamp.
	// Nil means time.Now.
	Now func() time.Time
}

func (o PresenceOptions) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// eventTime is when the event was fired, else now.
func (o PresenceOptions) eventTime(ev Event) time.Time {
	if t := ev.Time(); !t.IsZero() {
		return t
	}
	return o.now()
}

// PresenceChange is what one presence event changes. One event either
// puts or deletes registrations, never both, so the order they are
// applied in does not matter.
type PresenceChange struct {
	Put             []presence.Registration
	Delete          []RegKey // registrations gone (unregister, expire)
	Gateways        []presence.Gateway
	DeletedGateways []string
	// Reread are users whose registrations changed in a way the event
	// does not fully say: the adapter reads them from the node.
	Reread []UserRef
}

// UserRef names one user's registrations on one sofia profile.
type UserRef struct{ Profile, User, Domain string }

// RegKey names the registrations to delete: one contact of User@Domain,
// or every contact of the user when Contact is "".
type RegKey struct{ Domain, User, Contact string }

// The sofia event subclasses PresenceFromEvent reads.
const (
	subRegister      = "sofia::register"
	subUnregister    = "sofia::unregister"
	subExpire        = "sofia::expire"
	subGatewayState  = "sofia::gateway_state"
	subGatewayAdd    = "sofia::gateway_add"
	subGatewayDelete = "sofia::gateway_delete"
	subUserState     = "sofia::sip_user_state"
)

// PresenceFromEvent maps one sofia event onto presence; false means the
// event is not a presence event (so the caller may hand it to Calls).
//
//   - sofia::register puts the registration: User and Domain are the
//     event's from-user and from-host (FreeSWITCH's sip_user and
//     sip_host, the key of its registration table, whatever the REGISTER's
//     From said), Contact the contact URI without display name, <> and
//     parameters (ContactURI), Address network-ip:network-port,
//     Transport from the status ("Registered(UDP-NAT)" is udp), Expires
//     the event's time plus expires seconds. Status is reachable, what
//     FreeSWITCH itself records (see pingContactStatus). With multiple registrations off, FreeSWITCH also drops the
//     user's other contacts; the event does not say which (if any), so a
//     contact replaced by another (a phone that changed address) stays
//     until its expiry or the next resync.
//   - sofia::unregister deletes the contact (every contact of the user
//     unless MultipleRegistrations); sofia::expire, which names the user
//     in user/host and gives expires as an absolute epoch, deletes the
//     contact that expired.
//   - sofia::pre_register and sofia::register_attempt are not
//     registrations: FreeSWITCH also fires them for every challenged
//     INVITE, with the dialled number as from-user. sofia::register_failure
//     is a refused REGISTER. All three return false.
//   - sofia::sip_user_state (only with OPTIONS pings on: FreeSWITCH found
//     a contact of from-user@from-host on profile-name Reachable or
//     Unreachable) asks for the user's registrations to be read again:
//     the event names the contact as stored, not the key presence uses,
//     and carries no ping time.
//   - sofia::gateway_state puts the gateway (see gatewayFromState);
//     sofia::gateway_add puts it as unknown (a gateway_state follows,
//     except for a gateway that does not register, which stays unknown
//     until the next `sofia xmlstatus gateway`); sofia::gateway_delete
//     deletes it.
func PresenceFromEvent(ev Event, opt PresenceOptions) (PresenceChange, bool) {
	if ev.Name() != "CUSTOM" {
		return PresenceChange{}, false
	}
	var ch PresenceChange
	switch ev.Subclass() {
	case subRegister:
		r, ok := registrationFromEvent(ev, opt)
		if !ok {
			break
		}
		if r.Expires.IsZero() && strings.TrimSpace(ev.Get("expires")) == "0" { // FreeSWITCH removed it
			ch.Delete = append(ch.Delete, RegKey{Domain: r.Domain, User: r.User, Contact: r.Contact})
			break
		}
		ch.Put = append(ch.Put, r)
	case subUnregister:
		user, domain := ev.Get("from-user"), first(ev.Get("from-host"), opt.Domain)
		if user == "" {
			break
		}
		k := RegKey{Domain: domain, User: user}
		if opt.MultipleRegistrations {
			k.Contact = ContactURI(ev.Get("contact"))
		}
		ch.Delete = append(ch.Delete, k)
	case subExpire:
		user, domain := ev.Get("user"), first(ev.Get("host"), opt.Domain)
		if user == "" {
			break
		}
		ch.Delete = append(ch.Delete, RegKey{Domain: domain, User: user, Contact: ContactURI(ev.Get("contact"))})
	case subGatewayState:
		if g, ok := gatewayFromState(ev, opt); ok {
			ch.Gateways = append(ch.Gateways, g)
		}
	case subGatewayAdd:
		if name := ev.Get("Gateway"); name != "" {
			ch.Gateways = append(ch.Gateways, presence.Gateway{
				Switch: opt.Switch, Name: name, State: presence.GatewayUnknown,
				Registration: presence.RegUnknown, UpdatedAt: opt.eventTime(ev),
			})
		}
	case subGatewayDelete:
		if name := ev.Get("Gateway"); name != "" {
			ch.DeletedGateways = append(ch.DeletedGateways, name)
		}
	case subUserState:
		if u, ok := userStateRef(ev, opt); ok {
			ch.Reread = append(ch.Reread, u)
		}
	default:
		return PresenceChange{}, false
	}
	return ch, true
}

// userStateRef reads a sofia::sip_user_state event (sofia_reg.c:
// profile-name, from-user, from-host, sip_contact, call-id, Ping-Status
// REACHABLE or UNREACHABLE, Status the OPTIONS answer code). ok is false
// when a name is missing or could not be one word of an api command.
func userStateRef(ev Event, opt PresenceOptions) (UserRef, bool) {
	u := UserRef{Profile: ev.Get("profile-name"), User: ev.Get("from-user"), Domain: first(ev.Get("from-host"), opt.Domain)}
	for _, w := range []string{u.Profile, u.User, u.Domain} {
		if w == "" || strings.ContainsFunc(w, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '@' }) {
			return UserRef{}, false
		}
	}
	return u, true
}

// registrationFromEvent reads a sofia::register event; ok is false when
// it names no user.
func registrationFromEvent(ev Event, opt PresenceOptions) (presence.Registration, bool) {
	user := ev.Get("from-user")
	if user == "" {
		return presence.Registration{}, false
	}
	at := opt.eventTime(ev)
	raw := ev.Get("contact")
	r := presence.Registration{
		Switch:    opt.Switch,
		User:      user,
		Domain:    first(ev.Get("from-host"), opt.Domain),
		Contact:   ContactURI(raw),
		Address:   regAddress(ev.Get("network-ip"), ev.Get("network-port")),
		Transport: regTransport(ev.Get("status"), raw),
		UserAgent: ev.Get("user-agent"),
		Status:    presence.ContactReachable, // sofia_reg.c inserts ping_status 'Reachable'
		UpdatedAt: at,
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(ev.Get("expires")), 10, 64); err == nil && secs > 0 && secs < maxEpoch {
		r.Expires = at.Add(time.Duration(secs) * time.Second)
	}
	return r, true
}

// gatewayFromState maps a sofia::gateway_state event; ok is false when it
// names no gateway. Detail is FreeSWITCH's state (REGED, FAIL_WAIT…); see
// gatewayState and gatewayRegistration for the mapping. RTT stays 0: the
// event carries no ping time.
func gatewayFromState(ev Event, opt PresenceOptions) (presence.Gateway, bool) {
	name := ev.Get("Gateway")
	if name == "" {
		return presence.Gateway{}, false
	}
	state := strings.ToUpper(strings.TrimSpace(ev.Get("State")))
	return presence.Gateway{
		Switch:       opt.Switch,
		Name:         name,
		State:        gatewayState(state, ev.Get("Ping-Status")),
		Registration: gatewayRegistration(state),
		Detail:       state,
		UpdatedAt:    opt.eventTime(ev),
	}, true
}

// gatewayState maps a sofia gateway state and its status (the event's
// Ping-Status, xmlstatus's <status>: UP or DOWN, FreeSWITCH's own verdict
// on whether calls may use the gateway) to up, down or unknown:
//
//	FAILED, FAIL_WAIT, TIMEOUT, DOWN    down (FreeSWITCH marks it DOWN)
//	status DOWN                         down
//	status UP                           up
//	REGED                               up
//	anything else (TRYING, REGISTER…)   unknown
func gatewayState(state, status string) presence.GatewayState {
	switch state {
	case "FAILED", "FAIL_WAIT", "TIMEOUT", "DOWN":
		return presence.GatewayDown
	}
	switch strings.ToUpper(strings.TrimSpace(status)) {
	case "DOWN":
		return presence.GatewayDown
	case "UP":
		return presence.GatewayUp
	}
	if state == "REGED" {
		return presence.GatewayUp
	}
	return presence.GatewayUnknown
}

// gatewayRegistration maps a sofia gateway state to its outbound
// registration:
//
//	REGED, REGISTER (a 200 OK just came)          registered
//	FAILED, FAIL_WAIT, TIMEOUT                    failed
//	UNREGED, TRYING, UNREGISTER, EXPIRED, DOWN    unregistered
//	NOREG (register=false) and anything else      unknown
func gatewayRegistration(state string) presence.RegistrationState {
	switch state {
	case "REGED", "REGISTER":
		return presence.RegRegistered
	case "FAILED", "FAIL_WAIT", "TIMEOUT":
		return presence.RegFailed
	case "UNREGED", "TRYING", "UNREGISTER", "EXPIRED", "DOWN":
		return presence.RegUnregistered
	}
	return presence.RegUnknown
}

// ContactURI reduces a contact as FreeSWITCH stores it
// (`"" <sip:1001@192.0.2.10:5060;transport=UDP;fs_nat=yes>`) to its URI
// without display name, angle brackets, parameters or headers
// (sip:1001@192.0.2.10:5060). Registration events and `sofia xmlstatus`
// both go through it, so that a resync finds the contacts events put. ""
// and "*" give "".
func ContactURI(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	if i := strings.IndexAny(s, ";?"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if s == "*" {
		return ""
	}
	return s
}

// regTransport reads the transport of a registration from FreeSWITCH's
// status ("Registered(UDP)", "Registered(TLS-NAT)", "Registered(WSS-NAT)";
// xmlstatus adds "(rpid) exp(…)"), else from the contact's transport
// parameter, else sips: means tls; udp otherwise.
func regTransport(status, contact string) string {
	if _, rest, ok := strings.Cut(status, "("); ok {
		inner, _, _ := strings.Cut(rest, ")")
		inner, _, _ = strings.Cut(inner, "-")
		switch t := strings.ToLower(strings.TrimSpace(inner)); t {
		case "udp", "tcp", "tls", "ws", "wss":
			return t
		case "tlshack":
			return "tls"
		}
	}
	lower := strings.ToLower(contact)
	if i := strings.Index(lower, ";transport="); i >= 0 {
		t := lower[i+len(";transport="):]
		if j := strings.IndexAny(t, ";>?& "); j >= 0 {
			t = t[:j]
		}
		if t != "" {
			return t
		}
	}
	if strings.HasPrefix(ContactURI(lower), "sips:") {
		return "tls"
	}
	return "udp"
}

// regAddress joins an address and port ("" when there is no address).
func regAddress(ip, port string) string {
	ip, port = strings.TrimSpace(ip), strings.TrimSpace(port)
	switch {
	case ip == "":
		return ""
	case port == "" || port == "0":
		return ip
	}
	return net.JoinHostPort(strings.Trim(ip, "[]"), port)
}

// pingContactStatus maps FreeSWITCH's reachability of a registered
// contact (the ping_status column of sofia's sip_registrations table, shown
// as <ping-status> by `sofia xmlstatus profile <p> reg`) onto presence:
//
//	Reachable      reachable
//	Unreachable    unreachable
//	anything else  unknown
//
// Case is ignored. FreeSWITCH 1.10.12 writes Reachable into every new
// registration (sofia_reg.c, pinged or not: the phone has just reached the
// switch with a REGISTER it accepted, seen live with ping-time 0.00 on the
// vanilla internal profile, which pings nobody), and only OPTIONS pings
// (all-reg-options-ping or nat-options-ping on the profile) change it: to
// Unreachable after sip-user-ping-min failures, back to Reachable after
// as many successes. A refreshing REGISTER keeps the column as it is, so
// a contact FreeSWITCH found unreachable stays unreachable after the next
// resync even though its refresh event says reachable.
func pingContactStatus(s string) presence.ContactStatus {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "reachable":
		return presence.ContactReachable
	case "unreachable":
		return presence.ContactUnreachable
	}
	return presence.ContactUnknown
}
