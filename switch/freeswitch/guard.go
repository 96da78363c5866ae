package freeswitch

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// GuardConfig says who may call the endpoints FreeSWITCH calls. User and
// Password are HTTP basic credentials as mod_xml_curl sends them
// (gateway-credentials "user:pass" with auth-scheme basic) and
// mod_json_cdr too (cred "user:pass"). Allow lists the source networks
// FreeSWITCH calls from. Either or both must be set.
type GuardConfig struct {
	User, Password string
	Allow          []netip.Prefix
}

// Guard protects the xml_curl and json_cdr endpoints: the first hands out
// SIP credentials and gateway passwords, the second writes CDRs. A source
// outside Allow is refused 403 before anything else; a request without
// the right credentials is refused 401 with a WWW-Authenticate challenge.
//
// The source is r.RemoteAddr, the peer of the TCP connection: no
// X-Forwarded-For or similar header is believed, since anyone can send
// one. Behind a reverse proxy, allow the proxy and rely on the
// credentials.
type Guard struct {
	// userSum and passSum are the SHA-256 of the credentials, so that the
	// comparison takes the same time whatever the length of the guess.
	userSum, passSum [sha256.Size]byte
	auth             bool
	allow            []netip.Prefix
}

// ErrGuardOpen is returned by NewGuard for a configuration that would let
// anyone in.
var ErrGuardOpen = errors.New("freeswitch: guard: set credentials, allowed networks or both")

// NewGuard checks cfg. Neither credentials nor networks is refused with
// ErrGuardOpen: these endpoints are never meant to be open. A user without
// a password (or the reverse), a user containing ":" (which basic
// authentication cannot carry) and an invalid prefix are refused too.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if cfg.User == "" && cfg.Password == "" && len(cfg.Allow) == 0 {
		return nil, ErrGuardOpen
	}
	if (cfg.User == "") != (cfg.Password == "") {
		return nil, errors.New("freeswitch: guard: set both user and password, or neither")
	}
	if strings.Contains(cfg.User, ":") {
		return nil, errors.New(`freeswitch: guard: the user must not contain ":"`)
	}
	g := &Guard{auth: cfg.User != ""}
	if g.auth {
		g.userSum, g.passSum = sha256.Sum256([]byte(cfg.User)), sha256.Sum256([]byte(cfg.Password))
	}
	for _, p := range cfg.Allow {
		if !p.IsValid() {
			return nil, fmt.Errorf("freeswitch: guard: invalid allowed network %q", p)
		}
		g.allow = append(g.allow, p.Masked())
	}
	return g, nil
}

// Wrap returns h behind the guard.
func (g *Guard) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(g.allow) > 0 && !g.allowed(r.RemoteAddr) {
			http.Error(w, "forbidden: this source address may not call this endpoint", http.StatusForbidden)
			return
		}
		if g.auth && !g.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="switchboard", charset="UTF-8"`)
			http.Error(w, "unauthorized: basic credentials required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// allowed reports whether the peer address is in an allowed network. An
// IPv4 peer on a dual-stack socket (::ffff:a.b.c.d) counts as IPv4, and a
// zone is ignored.
func (g *Guard) allowed(remote string) bool {
	addr, err := netip.ParseAddr(remote)
	if err != nil {
		ap, err := netip.ParseAddrPort(remote)
		if err != nil {
			return false
		}
		addr = ap.Addr()
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range g.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// authorized compares the credentials in constant time: both are always
// compared, and as fixed-length digests.
func (g *Guard) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	return subtle.ConstantTimeCompare(u[:], g.userSum[:])&subtle.ConstantTimeCompare(p[:], g.passSum[:]) == 1
}
