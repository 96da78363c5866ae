package sip

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// URI is what probing needs of a SIP URI: where it points and over which
// transport.
type URI struct {
	Secure bool   // sips:
	Host   string // without IPv6 brackets
	Port   string // "" when absent
	Param  string // the transport parameter, lower-case; "" when absent
}

// ParseURI reads sip:[user@]host[:port][;params][?headers] (and sips:),
// refusing what cannot be probed: another scheme, a bad host or port, a
// transport other than udp, tcp and tls. Switch listeners come from the
// configuration and contact URIs from phones, through the switches: this
// is a parser of outside input, fuzzed.
func ParseURI(s string) (URI, error) {
	var u URI
	scheme, rest, ok := strings.Cut(s, ":")
	switch strings.ToLower(scheme) {
	case "sip":
	case "sips":
		u.Secure = true
	default:
		return u, errors.New("must be a sip: or sips: URI")
	}
	if !ok || rest == "" {
		return u, errors.New("has no host")
	}
	rest, _, _ = strings.Cut(rest, "?")
	rest, params, _ := strings.Cut(rest, ";")
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:] // the user part
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return u, errors.New("has an unclosed IPv6 bracket")
		}
		u.Host, rest = rest[1:end], rest[end+1:]
		if net.ParseIP(u.Host) == nil {
			return u, errors.New("has an invalid IPv6 address")
		}
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return u, errors.New("has junk after the host")
		}
		u.Port = strings.TrimPrefix(rest, ":")
		if rest == ":" {
			return u, errors.New("has an empty port")
		}
	} else {
		u.Host, u.Port, _ = strings.Cut(rest, ":")
		if strings.Contains(rest, ":") && u.Port == "" {
			return u, errors.New("has an empty port")
		}
	}
	if u.Host == "" || strings.ContainsAny(u.Host, " \t[]/\\<>\"") {
		return u, errors.New("has no valid host")
	}
	if u.Port != "" {
		if n, err := strconv.Atoi(u.Port); err != nil || n < 1 || n > 65535 {
			return u, errors.New("has an invalid port")
		}
	}
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(k, "transport") {
			u.Param = strings.ToLower(v)
			switch u.Param {
			case "udp", "tcp", "tls":
			default:
				return u, fmt.Errorf("has transport %q: only udp, tcp and tls can be probed", v)
			}
		}
	}
	return u, nil
}

// Transport is the URI's transport: its parameter, else tls for sips:,
// else udp.
func (u URI) Transport() Transport {
	switch {
	case u.Param != "":
		return Transport(u.Param)
	case u.Secure:
		return TLS
	}
	return UDP
}

// HostPort is host:port, with the scheme's default port when absent.
func (u URI) HostPort() string {
	port := u.Port
	if port == "" {
		port = "5060"
		if u.Transport() == TLS {
			port = "5061"
		}
	}
	return net.JoinHostPort(u.Host, port)
}
