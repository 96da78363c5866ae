package esltest

import (
	"strconv"
	"strings"
	"time"
)

// Test controls that change the node's registrations and gateways. Each
// sends what mod_sofia sends for it, rewritten from the recorded event,
// and the node's state follows.

// portFor returns the UDP port user's phone registers from: 24000 + the
// extension for 1000-1999 (1001 → 25001, 1002 → 25002, as recorded),
// else one from 26000 up.
func (s *Server) portFor(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.ports[user]; ok {
		return p
	}
	var p string
	if n, err := strconv.Atoi(user); err == nil && n >= 1000 && n < 2000 {
		p = strconv.Itoa(24000 + n)
	} else {
		p = strconv.Itoa(26000 + s.otherPorts)
		s.otherPorts++
	}
	s.ports[user] = p
	return p
}

// userEvent is the recorded event seq of recUser's phone on recPort,
// rewritten for user's on port in domain, dated now.
func (s *Server) userEvent(seq int, recUser, recPort, domain, user, port string) *event {
	e := s.newEvent(seq)
	words := map[string]string{recUser: user, recPort: port}
	for i := range e.headers {
		h := &e.headers[i]
		if strings.HasPrefix(h.name, "Event-") {
			continue
		}
		h.value = replaceWords(h.value, words)
		if domain != "127.0.0.1" && domainKeys[h.name] && h.value == "127.0.0.1" {
			h.value = domain
		}
	}
	return e
}

// Register registers user@domain's phone (user agent sipp-phone-<user>,
// from 127.0.0.1:<port>, Expires 3600) and sends the sofia::register
// FreeSWITCH sends, rewritten from the recorded one of 1001 (from-user,
// contact, network-port, call-id reg-<user>@<domain>, user variables,
// times). Registering again refreshes the registration. It returns the
// contact URI, sip:<user>@127.0.0.1:<port>;transport=UDP; the events and
// the API answers show it as `"" <URI>`.
func (s *Server) Register(domain, user string) (contact string) {
	port := s.portFor(user)
	e := s.userEvent(seqRegister1001, "1001", "25001", domain, user, port)
	e.set("call-id", "reg-"+user+"@"+domain)
	s.emit(e)
	return "sip:" + user + "@127.0.0.1:" + port + ";transport=UDP"
}

// registrations returns copies of user@domain's registrations, or when it
// has none, the one Register would make.
func (s *Server) registrations(domain, user string) []registration {
	port := s.portFor(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []registration
	for _, r := range s.st.regs {
		if r.domain == domain && r.user == user {
			out = append(out, *r)
		}
	}
	if len(out) == 0 {
		out = append(out, registration{
			callID: "reg-" + user + "@" + domain, port: port, expires: time.Now().Unix(),
			contact: `"" <sip:` + user + "@127.0.0.1:" + port + ";transport=UDP>",
		})
	}
	return out
}

// Unregister removes user@domain's registrations and sends, for each, the
// sofia::unregister FreeSWITCH sends for a REGISTER with Expires: 0
// (recorded shape: from-user, contact, call-id, expires 0).
func (s *Server) Unregister(domain, user string) {
	for _, r := range s.registrations(domain, user) {
		e := s.userEvent(seqUnregister1001, "1001", "25001", domain, user, r.port)
		e.set("call-id", r.callID)
		e.set("contact", r.contact)
		s.emit(e)
	}
}

// Expire removes user@domain's registrations as their expiry would and
// sends, for each, sofia::expire in its recorded shape: the user in
// user/host (no from-user), expires an absolute epoch (the registration's
// expiry, or now if that is later).
func (s *Server) Expire(domain, user string) {
	now := time.Now().Unix()
	for _, r := range s.registrations(domain, user) {
		e := s.userEvent(seqExpire1002, "1002", "25002", domain, user, r.port)
		e.set("call-id", r.callID)
		e.set("contact", r.contact)
		e.set("expires", strconv.FormatInt(min(r.expires, now), 10))
		s.emit(e)
	}
}

// SetContactPing sets what FreeSWITCH's OPTIONS pings found of
// user@domain's contacts (reachable or not, the last ping's round trip)
// and sends, for each, sofia::sip_user_state as sofia_reg.c builds it
// (sofia_reg_fire_custom_sip_user_state_event: sip_contact, profile-name,
// sip_user, from-user, from-host, call-id, Ping-Status REACHABLE or
// UNREACHABLE, Status the OPTIONS answer, Phrase). Not recorded: the
// recorded node pinged nobody; the headers are those of the 1.10.12
// source, on the common headers of a recorded sofia event.
func (s *Server) SetContactPing(domain, user string, reachable bool, rtt time.Duration) {
	s.mu.Lock()
	var regs []registration
	for _, r := range s.st.regs {
		if r.domain == domain && r.user == user {
			r.pingMS = float64(rtt.Microseconds()) / 1000
			regs = append(regs, *r)
		}
	}
	s.mu.Unlock()
	for _, r := range regs {
		e := s.newEvent(seqUnregister1001)
		keep := e.headers[:0]
		for _, h := range e.headers {
			if strings.HasPrefix(h.name, "Event-") || strings.HasPrefix(h.name, "FreeSWITCH-") || h.name == "Core-UUID" {
				keep = append(keep, h)
			}
		}
		e.headers = keep
		e.set("Event-Subclass", "sofia::sip_user_state")
		e.set("Event-Calling-File", "sofia_reg.c")
		e.set("Event-Calling-Function", "sofia_reg_fire_custom_sip_user_state_event")
		ping, status, phrase := "REACHABLE", "200", "OK"
		if !reachable {
			ping, status, phrase = "UNREACHABLE", "408", "Request Timeout"
		}
		for _, h := range [][2]string{
			{"sip_contact", r.contact}, {"profile-name", r.profile}, {"sip_user", user + "@" + domain},
			{"from-user", user}, {"from-host", domain}, {"call-id", r.callID},
			{"Ping-Status", ping}, {"Status", status}, {"Phrase", phrase},
		} {
			e.set(h[0], h[1])
		}
		s.emit(e)
	}
}

// SetGateway sets a gateway's state (TRYING, REGISTER, REGED, FAILED,
// FAIL_WAIT, UNREGED, DOWN…) and ping status (UP or DOWN) and sends
// sofia::gateway_state in the recorded shape of that state; a gateway the
// node does not have is added first (sofia::gateway_add, profile
// external).
func (s *Server) SetGateway(name, state, pingStatus string) {
	s.mu.Lock()
	exists := s.st.gateway(name) != nil
	s.mu.Unlock()
	if !exists {
		s.emit(s.gatewayEvent(seqGatewayAdd, name, "external"))
	}
	s.emit(s.gatewayStateEvent(name, state, pingStatus))
}

// DeleteGateway removes a gateway as `sofia profile external killgw`
// does: gateway_state DOWN, then sofia::gateway_delete. A rescan of its
// profile adds it back.
func (s *Server) DeleteGateway(name string) {
	s.mu.Lock()
	g := s.st.gateway(name)
	profile := "external"
	if g != nil {
		profile = g.profile
	}
	s.mu.Unlock()
	s.emit(s.gatewayStateEvent(name, "DOWN", "DOWN"), s.gatewayEvent(seqGatewayDelete, name, profile))
}
