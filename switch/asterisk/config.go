package asterisk

import (
	"cmp"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// NodeConfig is an Asterisk node's block in Switchboard's configuration
// file: the keys of a switches entry of type asterisk besides those every
// switch has (name, type, domain, reconcile_interval, sip_uri and the
// register check). The daemon decodes each node strictly into the block of
// its type, so a key this type does not have (a FreeSWITCH key, a typo) is
// refused by name.
type NodeConfig struct {
	// URL is ARI's base URL, e.g. http://127.0.0.1:8088/ari.
	URL string `yaml:"url"`
	// User and Password are the ari.conf user's.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// App is the ARI application name; "switchboard" by default.
	App string `yaml:"app"`
	// MetricsURL is res_prometheus's endpoint ("" = /metrics on ARI's
	// server, "-" = off).
	MetricsURL string `yaml:"metrics_url"`
	// CDRFile, when set, is Asterisk's own CDR file (Master.csv or a
	// cdr_custom file) on this machine: it is tailed so that calls which
	// ended while Switchboard was down or disconnected are recovered.
	CDRFile string `yaml:"cdr_file"`
	// CDRFileTimezone is the zone Asterisk writes that file's times in
	// (UTC, the default, with usegmtime=yes).
	CDRFileTimezone string `yaml:"cdr_file_timezone"`
	// DirectMedia is the direct_media of every pushed endpoint: false
	// (the default) keeps the media through Asterisk. Asterisk's own
	// default, yes, re-INVITEs two phones to send media to each other
	// right after the answer: nothing can record the call, and the media
	// breaks when either phone is behind NAT.
	DirectMedia *bool `yaml:"direct_media"`
	// PhoneQualifySecs is the qualify_frequency of pushed accounts' AORs:
	// Asterisk sends their registered phones an OPTIONS that often and
	// reports them Avail (presence reachable, with a round-trip time) or
	// Unavail. 0, the default, qualifies nothing: phones show as NonQual,
	// presence unknown ("registered, not qualified").
	PhoneQualifySecs int `yaml:"phone_qualify_secs"`
	// DialplanFile, when set, is the generated dialplan include on the
	// Asterisk machine (extensions_switchboard.conf next to
	// extensions.conf, which #tryincludes it): the daemon keeps the
	// node's DID routes in it and reloads pbx_config over ARI when it
	// changes, so that DIDs route while Switchboard is down and after an
	// Asterisk restart meanwhile (see DialplanFile). Empty: no file, DIDs
	// are not routed by Switchboard on this node.
	DialplanFile string `yaml:"dialplan_file"`
	// Routing, with DialplanFile, renders every tenant's call routing
	// (extensions, hunt groups, conditions, forwards, outbound routes)
	// into the file, and pushes each account's endpoint with its tenant's
	// context (sb-t<tenant id>, which includes the phone context last).
	Routing bool `yaml:"routing"`
	// SoundsDir, when set, is a directory Asterisk reads sound files
	// from (on its machine, or a shared mount), e.g.
	// /var/lib/asterisk/sounds/switchboard: the daemon keeps every
	// tenant's sound files there (t<tenant>/s<id>.wav and .wav16, see
	// SoundLayout) for the menus and greetings the routing plays. Empty:
	// no sounds on this node.
	SoundsDir string `yaml:"sounds_dir"`
	// VoicemailFile, when set, is the generated voicemail include on the
	// Asterisk machine (voicemail_switchboard.conf next to
	// voicemail.conf, which #tryincludes it last): every tenant's boxes
	// as app_voicemail users of the context sb-t<tenant id> (PIN, name,
	// maximum length), app_voicemail reloaded over ARI when it changes
	// (see VoicemailConfFile). It also gives the phones of an extension
	// that owns a box its message-waiting indication. Empty: calls sent
	// to a box hang up on this node.
	VoicemailFile string `yaml:"voicemail_file"`
	// VoicemailSpool, when set, is app_voicemail's spool directory as
	// the daemon sees it (its machine, or a shared mount), e.g.
	// /var/spool/asterisk/voicemail: the daemon takes each new message
	// from it into Switchboard, syncs what phones did to them, and
	// applies read and delete made through the API (VoicemailIndexer).
	VoicemailSpool string `yaml:"voicemail_spool"`
	// FaxDir, when set, is where Asterisk writes the faxes fax boxes
	// receive (a TIFF and a .done sidecar per call, routing_fax.go), as
	// both Asterisk and the daemon see it (the same machine, or a shared
	// mount): the daemon takes each into Switchboard and removes it
	// (FaxIndexer). Empty: calls sent to a fax box hang up on this node.
	FaxDir string `yaml:"fax_dir"`
	// RecordingsDir, when set, is where Asterisk writes the calls the
	// routing records (MixMonitor: a WAV and an empty .done once it is
	// closed, routing_recording.go), as both Asterisk and the daemon see
	// it: the daemon takes each into Switchboard and removes it
	// (RecordingIndexer). Empty: no call is recorded on this node.
	RecordingsDir string `yaml:"recordings_dir"`
	// AuthzURL is the daemon's call authorization endpoint as Asterisk
	// reaches it (the daemon serves it at /asterisk/<name>/authz on its
	// main listener, to loopback peers only), e.g.
	// http://127.0.0.1:8080/asterisk/ast1/authz. Required with the node's
	// authz policy; the routing dialplan asks it with CURL() before every
	// call through a gateway (routing_authz.go). Set, with or without
	// authz, it is also where the routes ordered by cost ask for their
	// gateways' order (<authz_url>/lcr, routing_lcr.go); unset, they dial
	// in listed order.
	AuthzURL string `yaml:"authz_url"`
}

// PushOptions are the PJSIP push options of this node: DefaultPushOptions
// with the block's settings.
func (c *NodeConfig) PushOptions() PushOptions {
	o := DefaultPushOptions()
	o.PhoneQualifySecs = c.PhoneQualifySecs
	o.TenantContexts = c.Routing && c.DialplanFile != ""
	o.SoundsDir = c.SoundsDir
	o.FaxDir = c.FaxDir
	o.RecordingsDir = c.RecordingsDir
	o.LCR.URL = c.AuthzURL
	if c.DirectMedia != nil {
		v := *c.DirectMedia
		o.DirectMedia = &v
	}
	return o
}

// authzURLRe is what authz_url may hold: it is written into a CURL()
// argument of the dialplan, where a comma, parenthesis, $ or ; would
// mean something.
var authzURLRe = regexp.MustCompile(`^https?://[A-Za-z0-9._:/-]+$`)

// SetDefaults fills the keys left empty with their defaults.
func (c *NodeConfig) SetDefaults() {
	c.App = cmp.Or(c.App, "switchboard")
	c.CDRFileTimezone = cmp.Or(c.CDRFileTimezone, "UTC")
}

// Validate checks every key. An error is a *provisioning.FieldError
// naming the key.
func (c *NodeConfig) Validate() error {
	switch {
	case !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://"):
		return provisioning.Invalid("url", "must be ARI's http(s) URL, like http://127.0.0.1:8088/ari")
	case c.User == "":
		return provisioning.Invalid("user", "is required (the ari.conf user)")
	case c.Password == "":
		return provisioning.Invalid("password", "is required (the ari.conf password)")
	}
	if c.PhoneQualifySecs < 0 {
		return provisioning.Invalid("phone_qualify_secs", "must be 0 (off) or a number of seconds")
	}
	if c.DialplanFile != "" && !filepath.IsAbs(c.DialplanFile) {
		return provisioning.Invalid("dialplan_file", "must be an absolute path, like /etc/asterisk/extensions_switchboard.conf")
	}
	if c.SoundsDir != "" && !filepath.IsAbs(c.SoundsDir) {
		return provisioning.Invalid("sounds_dir", "must be an absolute path, like /var/lib/asterisk/sounds/switchboard")
	}
	if c.VoicemailFile != "" && !filepath.IsAbs(c.VoicemailFile) {
		return provisioning.Invalid("voicemail_file", "must be an absolute path, like /etc/asterisk/voicemail_switchboard.conf")
	}
	if c.VoicemailSpool != "" && !filepath.IsAbs(c.VoicemailSpool) {
		return provisioning.Invalid("voicemail_spool", "must be an absolute path, like /var/spool/asterisk/voicemail")
	}
	if c.FaxDir != "" && !faxDirChars.MatchString(c.FaxDir) {
		return provisioning.Invalid("fax_dir", "must be an absolute path of letters, digits, ., _, - and /, like /var/spool/asterisk/fax")
	}
	if c.RecordingsDir != "" && !recordingsDirChars.MatchString(c.RecordingsDir) {
		return provisioning.Invalid("recordings_dir", "must be an absolute path of letters, digits, ., _, - and /, like /var/spool/asterisk/recordings")
	}
	if c.Routing && c.DialplanFile == "" {
		return provisioning.Invalid("routing", "needs dialplan_file: the routing is written there")
	}
	if c.AuthzURL != "" && !authzURLRe.MatchString(c.AuthzURL) {
		return provisioning.Invalid("authz_url", "must be an http(s) URL of letters, digits and . _ - / : only, like http://127.0.0.1:8080/asterisk/ast1/authz")
	}
	if _, err := time.LoadLocation(c.CDRFileTimezone); err != nil {
		return provisioning.Invalid("cdr_file_timezone", "must be a time zone name like Europe/Berlin or UTC")
	}
	return nil
}

// Location is the zone of the CDR file's times (UTC when unset).
func (c *NodeConfig) Location() (*time.Location, error) {
	return time.LoadLocation(cmp.Or(c.CDRFileTimezone, "UTC"))
}
