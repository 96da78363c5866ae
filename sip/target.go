package sip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	siplib "github.com/emiago/sipgo/sip"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

// Transport is the SIP transport a probe uses.
type Transport string

// The transports the prober speaks. WebSocket contacts (ws, wss) cannot be
// qualified from outside the switch that holds their connection.
const (
	UDP Transport = "udp"
	TCP Transport = "tcp"
	TLS Transport = "tls"
)

// Kind is what a Target is: it scopes the target's name and decides where
// its results go (gateways and switches to the presence view's gateway
// list, contacts to the caller).
type Kind string

// The kinds of targets.
const (
	KindGateway Kind = "gateway"
	KindSwitch  Kind = "switch"
	KindContact Kind = "contact"
)

// Target is one thing to qualify with OPTIONS.
type Target struct {
	Kind      Kind
	Name      string        // gateway name, switch name, or a contact's "user@domain contact-uri"
	URI       string        // request URI, e.g. "sip:gw.example.com:5060" or a contact URI
	Addr      string        // optional "ip:port" to send to instead of resolving URI (a NAT-mapped received address)
	Transport Transport     // "" = from URI's transport param, else udp
	Interval  time.Duration // 0 = Config.Interval
	Domain    string        // for contacts: the SIP domain (scope); for gateways: "" ; informational
	TenantID  *int64        // for gateways: the provisioned gateway's tenant (nil = shared) — scope for APIs
}

// ErrInvalidTarget is wrapped by the reason of a target whose URI, Addr or
// Transport cannot be probed. Such a target is never sent anything: each
// probe counts as a miss, so a misconfigured gateway turns unreachable with
// the parse error as Reason instead of staying "unknown" for ever.
var ErrInvalidTarget = errors.New("sip: invalid target")

// targetSpec is a Target parsed once, when it is set, so that probing does
// no parsing.
type targetSpec struct {
	uri       siplib.Uri
	transport string         // "UDP", "TCP", "TLS": the spelling sipgo uses in Via
	dest      string         // host:port the request goes to
	destAP    netip.AddrPort // dest when its host is an IP literal (ICMP errors are matched on it)
}

// parseTarget turns a target's URI, Addr and Transport into what a probe
// needs. The transport is Transport if set, else the URI's transport
// parameter, else TLS for a sips URI and UDP otherwise. The destination is
// Addr if set (a contact's NAT-mapped address), else the URI's host and
// port, the port defaulting to 5060 (5061 for TLS).
func parseTarget(uri, addr string, tp Transport) (targetSpec, error) {
	var s targetSpec
	if err := siplib.ParseUri(strings.TrimSpace(uri), &s.uri); err != nil {
		return s, fmt.Errorf("%w: URI %q: %v", ErrInvalidTarget, uri, err)
	}
	scheme := strings.ToLower(s.uri.Scheme)
	if scheme != "sip" && scheme != "sips" {
		return s, fmt.Errorf("%w: URI %q: scheme %q is not sip or sips", ErrInvalidTarget, uri, s.uri.Scheme)
	}
	s.uri.Scheme = scheme
	host := strings.TrimSuffix(strings.TrimPrefix(s.uri.Host, "["), "]")
	if host == "" {
		return s, fmt.Errorf("%w: URI %q has no host", ErrInvalidTarget, uri)
	}

	t := Transport(strings.ToLower(string(tp)))
	if t == "" {
		if v, ok := s.uri.UriParams.Get("transport"); ok {
			t = Transport(strings.ToLower(v))
		} else if scheme == "sips" {
			t = TLS
		} else {
			t = UDP
		}
	}
	switch t {
	case UDP, TCP, TLS:
		s.transport = strings.ToUpper(string(t))
	default:
		return s, fmt.Errorf("%w: transport %q (want udp, tcp or tls)", ErrInvalidTarget, t)
	}

	port := s.uri.Port
	if addr != "" {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return s, fmt.Errorf("%w: address %q: %v", ErrInvalidTarget, addr, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 || h == "" {
			return s, fmt.Errorf("%w: address %q: want host:port", ErrInvalidTarget, addr)
		}
		host, port = h, n
	}
	if port <= 0 || port > 65535 {
		if port != 0 {
			return s, fmt.Errorf("%w: URI %q: port %d out of range", ErrInvalidTarget, uri, port)
		}
		port = siplib.DefaultPort(s.transport)
	}
	if strings.ContainsAny(host, " \t\r\n/?#@;") {
		return s, fmt.Errorf("%w: host %q", ErrInvalidTarget, host)
	}
	s.dest = net.JoinHostPort(host, strconv.Itoa(port))
	if ip, err := netip.ParseAddr(host); err == nil && ip.Zone() == "" {
		s.destAP = netip.AddrPortFrom(ip.Unmap(), uint16(port))
	}
	return s, nil
}

// ContactTarget is the Target that qualifies one registered contact: its
// Contact URI as request URI, sent to the address the REGISTER came from
// (Address: the NAT mapping the registrar answered to) over the
// registration's transport. It reports false for a contact that cannot be
// probed from here: WebSocket transports, or a contact that does not parse.
//
// TCP and TLS contacts are returned, but a phone behind NAT only accepts
// TCP on the connection it opened to its switch; probing it from the
// prober dials a new connection, which fails. Callers that qualify NATed
// TCP phones should leave them to the switch.
func ContactTarget(r presence.Registration) (Target, bool) {
	t := Target{
		Kind:   KindContact,
		Name:   r.User + "@" + r.Domain + " " + r.Contact,
		URI:    r.Contact,
		Addr:   r.Address,
		Domain: r.Domain,
	}
	switch Transport(strings.ToLower(r.Transport)) {
	case UDP, TCP, TLS:
		t.Transport = Transport(strings.ToLower(r.Transport))
	case "":
	default:
		return Target{}, false
	}
	if _, err := parseTarget(t.URI, t.Addr, t.Transport); err != nil {
		// A contact whose Address is not host:port may still be probed at
		// its URI: switches report "ip:port" but some add a scheme.
		t.Addr = ""
		if _, err := parseTarget(t.URI, "", t.Transport); err != nil {
			return Target{}, false
		}
	}
	return t, true
}
