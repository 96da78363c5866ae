package freeswitch

import (
	"cmp"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// NodeConfig is a FreeSWITCH node's block in Switchboard's configuration
// file: the keys of a switches entry of type freeswitch besides those
// every switch has (name, type, domain, reconcile_interval, sip_uri and
// the register check). The daemon decodes each node strictly into the
// block of its type, so a key this type does not have (an Asterisk key, a
// typo) is refused by name.
type NodeConfig struct {
	// ESL is the event socket, host:port (event_socket.conf.xml's
	// listen-ip and listen-port).
	ESL string `yaml:"esl"`
	// Password is the event socket's.
	Password string `yaml:"password"`
	// Profiles are the sofia profiles whose registrations are read
	// (empty: every profile).
	Profiles []string `yaml:"profiles"`
	// PhoneProfile and GatewayProfile are the sofia profiles of phones
	// and of gateways (internal and external by default).
	PhoneProfile   string `yaml:"phone_profile"`
	GatewayProfile string `yaml:"gateway_profile"`
	// UserContext is the dialplan context of phones (default by
	// default).
	UserContext string `yaml:"user_context"`
	// HTTPUser and HTTPPassword are the basic-auth credentials FreeSWITCH
	// sends to /freeswitch/<name>/xml-curl and /freeswitch/<name>/cdr
	// (xml_curl.conf.xml gateway-credentials, json_cdr.conf.xml cred);
	// HTTPAllow the source networks allowed to call them. At least one of
	// the two is required: the xml-curl endpoint hands out SIP
	// credentials.
	HTTPUser     string   `yaml:"http_user"`
	HTTPPassword string   `yaml:"http_password"`
	HTTPAllow    []string `yaml:"http_allow"`
	// DirectoryCacheMS is how long, in milliseconds, FreeSWITCH keeps a
	// user Switchboard answered to a sip_auth lookup (the cacheable
	// attribute, see xmlCacheableUser): phones keep registering and
	// calling that long while Switchboard is down. DefaultDirectoryCacheMS
	// when 0; -1 turns the cache off. Changes that must take effect at
	// once are flushed by the Reloader (xml_flush_cache).
	DirectoryCacheMS int `yaml:"directory_cache_ms"`
	// DialplanFallbackDir, when set, is a directory of the node's static
	// dialplan that a context of calls to DIDs includes (FreeSWITCH's
	// vanilla public.xml includes dialplan/public/*.xml): the daemon keeps
	// DIDFallbackFile there, every routed DID bridging to its account, and
	// sends reloadxml when it changes, so that DIDs keep routing while
	// Switchboard is down (dialplan lookups are never cached; see
	// DIDFallback). Empty: no file; DIDs route only while Switchboard
	// answers xml_curl.
	DialplanFallbackDir string `yaml:"dialplan_fallback_dir"`
	// RoutingFallbackDir is a directory of dialplan files read at the
	// dialplan section's level (vanilla freeswitch.xml includes
	// dialplan/*.xml): the daemon keeps RoutingFallbackFile there, every
	// tenant's routing context, so that calls keep routing while
	// Switchboard is down (see RoutingFallback). Empty: the parent of
	// DialplanFallbackDir when that is set, else no file.
	RoutingFallbackDir string `yaml:"routing_fallback_dir"`
	// JSONCDRErrLogDir is json_cdr.conf.xml's err-log-dir as this daemon
	// sees it (same host or a shared mount): when set, the records
	// FreeSWITCH gave up posting are imported from it and their files
	// removed (Adapter.ImportErrLogDir). Empty: they wait for
	// `switchboard cdr import`.
	JSONCDRErrLogDir string `yaml:"json_cdr_err_log_dir"`
	// SoundsDir, when set, is a directory FreeSWITCH reads sound files
	// from (on its machine, or a shared mount), e.g.
	// /usr/share/freeswitch/sounds/switchboard: the daemon keeps every
	// tenant's sound files there (t<tenant>/<rate>/s<id>.wav, see
	// SoundLayout) for the menus and greetings the routing plays. Empty:
	// no sounds on this node.
	SoundsDir string `yaml:"sounds_dir"`
	// FaxDir, when set, is where FreeSWITCH's rxfax writes the faxes of
	// the fax boxes (t<tenant>-b<box>-<uuid>.tif), the same directory as
	// both see it (a shared mount when they are on different machines):
	// the FaxIndexer deposits each file and removes it. Empty: calls to
	// fax boxes are hung up on this node.
	FaxDir string `yaml:"fax_dir"`
	// RecordingsDir, when set, is where FreeSWITCH's record_session
	// writes the calls the routing plans record (t<tenant>-<uuid>.wav,
	// routing_recording.go), the same directory as both see it: the
	// RecordingIndexer deposits each finished file and removes it.
	// Empty: no call is recorded on this node.
	RecordingsDir string `yaml:"recordings_dir"`
	// VoicemailDir is mod_voicemail's storage (the switch's
	// <storage>/voicemail, holding default/<domain>/<box>/msg_*.wav) as
	// this daemon sees it, when that is not the path the switch reports
	// (another machine, a mount elsewhere): the indexer reads each
	// message's file from the path's last four elements under it. Empty:
	// the path as the switch gives it.
	VoicemailDir string `yaml:"voicemail_dir"`
	// DirectoryFallbackDir is a directory read at the directory
	// section's level (vanilla freeswitch.xml includes directory/*.xml):
	// the daemon keeps VoicemailFallbackFile there, every tenant's
	// voicemail boxes, so that mod_voicemail takes messages while
	// Switchboard is down. Empty: no file (a box then takes no message
	// while Switchboard is down).
	DirectoryFallbackDir string `yaml:"directory_fallback_dir"`
}

// DefaultDirectoryCacheMS is the default DirectoryCacheMS: 30 minutes.
// FreeSWITCH's cache window is fixed from the lookup that filled it (hits
// do not extend it, an expired entry is looked up again and gives 403 if
// Switchboard is down), so at the start of an outage of D seconds an
// active phone's entry has between 0 and the whole window left: with a
// window of W, D/W of the phones lose it during the outage. 30 minutes
// keeps that near 3 % for a 60 s outage (with a 60 s window it would be
// all of them). It cannot be much longer: see MaxDirectoryCacheMS. The
// cost is the time a change stays unseen when its flush is lost (ESL down
// for all the Reloader's attempts, logged as an error): at most 30 min.
const DefaultDirectoryCacheMS = 1800000

// MaxDirectoryCacheMS is the longest window FreeSWITCH 1.10.12 keeps:
// switch_xml_locate_user_merged computes the expiry as time_now +
// (cache_ms * 1000) with cache_ms an int, which overflows above
// 2,147,483 ms (35.8 min); a cacheable="3600000" entry was found expired
// on its first hit (live, TestLiveDirectoryCacheOutage: "Expires" 695 s
// in the past).
const MaxDirectoryCacheMS = 2147483

// SetDefaults fills the keys left empty with their defaults.
func (c *NodeConfig) SetDefaults() {
	c.PhoneProfile = cmp.Or(c.PhoneProfile, "internal")
	c.GatewayProfile = cmp.Or(c.GatewayProfile, "external")
	c.UserContext = cmp.Or(c.UserContext, "default")
	c.DirectoryCacheMS = cmp.Or(c.DirectoryCacheMS, DefaultDirectoryCacheMS)
}

// CacheMS is the cacheable attribute of the node's directory answers (0:
// none).
func (c *NodeConfig) CacheMS() int { return max(c.DirectoryCacheMS, 0) }

// Validate checks every key. An error is a *provisioning.FieldError
// naming the key.
func (c *NodeConfig) Validate() error {
	switch {
	case !validHostPort(c.ESL):
		return provisioning.Invalid("esl", "must be the event socket's host:port, like 127.0.0.1:8021")
	case c.Password == "":
		return provisioning.Invalid("password", "is required (event_socket.conf.xml's password)")
	case c.HTTPPassword == "" && len(c.HTTPAllow) == 0:
		return provisioning.Invalid("http_password", "http_password (with http_user) or http_allow is required: the xml-curl endpoint hands out SIP credentials")
	case (c.HTTPUser == "") != (c.HTTPPassword == ""):
		return provisioning.Invalid("http_user", "http_user and http_password go together")
	case c.DirectoryCacheMS < -1 || c.DirectoryCacheMS > 0 && c.DirectoryCacheMS < 1000:
		return provisioning.Invalid("directory_cache_ms", "must be milliseconds, at least 1000, or -1 to turn the cache off")
	case c.DirectoryCacheMS > MaxDirectoryCacheMS:
		return provisioning.Invalid("directory_cache_ms", "must be at most 2147483 (35.8 min): FreeSWITCH overflows longer windows and never uses the cache")
	}
	if c.DialplanFallbackDir != "" && !filepath.IsAbs(c.DialplanFallbackDir) {
		return provisioning.Invalid("dialplan_fallback_dir", "must be an absolute path, like /etc/freeswitch/dialplan/public")
	}
	if c.SoundsDir != "" && !filepath.IsAbs(c.SoundsDir) {
		return provisioning.Invalid("sounds_dir", "must be an absolute path, like /usr/share/freeswitch/sounds/switchboard")
	}
	if c.FaxDir != "" && !filepath.IsAbs(c.FaxDir) {
		return provisioning.Invalid("fax_dir", "must be an absolute path, like /var/spool/freeswitch/fax")
	}
	if c.RecordingsDir != "" && (!filepath.IsAbs(c.RecordingsDir) || strings.ContainsAny(c.RecordingsDir, " \t\n{}")) {
		// record_session's data is "<file> {vars}": a space would split the path
		return provisioning.Invalid("recordings_dir", "must be an absolute path without spaces or braces, like /var/spool/freeswitch/recordings")
	}
	if c.DirectoryFallbackDir != "" && !filepath.IsAbs(c.DirectoryFallbackDir) {
		return provisioning.Invalid("directory_fallback_dir", "must be an absolute path, like /etc/freeswitch/directory")
	}
	if c.VoicemailDir != "" && !filepath.IsAbs(c.VoicemailDir) {
		return provisioning.Invalid("voicemail_dir", "must be an absolute path, like /var/lib/freeswitch/storage/voicemail")
	}
	if c.RoutingFallbackDir != "" && !filepath.IsAbs(c.RoutingFallbackDir) {
		return provisioning.Invalid("routing_fallback_dir", "must be an absolute path, like /etc/freeswitch/dialplan")
	}
	for j, n := range c.HTTPAllow {
		if _, err := parsePrefix(n); err != nil {
			return provisioning.Invalid("http_allow["+strconv.Itoa(j)+"]", "must be an address or a network like 10.0.0.0/8")
		}
	}
	return nil
}

// Guard is the configuration of the guard of the node's HTTP endpoints.
func (c *NodeConfig) Guard() (GuardConfig, error) {
	g := GuardConfig{User: c.HTTPUser, Password: c.HTTPPassword}
	for _, n := range c.HTTPAllow {
		p, err := parsePrefix(n)
		if err != nil {
			return g, err
		}
		g.Allow = append(g.Allow, p)
	}
	return g, nil
}

// validHostPort reports whether s is host:port with a numeric port.
func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536
}

// parsePrefix reads a network or a single address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// RoutingDir is the directory of the routing fallback file: the
// configured one, else the parent of DialplanFallbackDir, else "".
func (c *NodeConfig) RoutingDir() string {
	switch {
	case c.RoutingFallbackDir != "":
		return c.RoutingFallbackDir
	case c.DialplanFallbackDir != "":
		return filepath.Dir(c.DialplanFallbackDir)
	}
	return ""
}
