package asterisk

// This file maps provisioning onto PJSIP sorcery objects: pure functions,
// no I/O. configpush.go sends what they produce to Asterisk over ARI.
//
// Object ids. PJSIP finds the endpoint of a REGISTER or INVITE by the
// From user and the AOR by the To user, so an account's endpoint and aor
// ids must be its SIP username (2001 in the recording); they cannot carry
// an ownership prefix. Each sorcery type is its own namespace, so every
// object of an account is named after the username and every object of a
// gateway after the gateway's name, which is what presence and the CDR
// parser match gateways by. Ownership is therefore not in the id: the
// ConfigPusher records the ids it created in an Ownership store and never
// updates or deletes an object that is not in it (see configpush.go).

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Field is one attribute of a PJSIP object, in the shape ARI's dynamic
// configuration takes and returns: {"attribute":…,"value":…}. It
// converts to ari/v6's ConfigTuple, the wire type the body is sent as.
type Field struct {
	Attribute string `json:"attribute"`
	Value     string `json:"value"`
}

// ObjectType is a res_pjsip sorcery type.
type ObjectType string

// The PJSIP object types Switchboard pushes. The order of the list is the
// order of creation: an endpoint names its auth and aor, a registration
// and an identify name their endpoint. Deletion runs in reverse.
const (
	PJSIPAuth         ObjectType = "auth"
	PJSIPAOR          ObjectType = "aor"
	PJSIPEndpoint     ObjectType = "endpoint"
	PJSIPIdentify     ObjectType = "identify"
	PJSIPRegistration ObjectType = "registration"
)

// typeRank orders objects for creation (ascending) and deletion
// (descending).
func typeRank(t ObjectType) int {
	switch t {
	case PJSIPAuth:
		return 0
	case PJSIPAOR:
		return 1
	case PJSIPEndpoint:
		return 2
	case PJSIPIdentify:
		return 3
	case PJSIPRegistration:
		return 4
	}
	return 5
}

// ObjectRef names one PJSIP object: /asterisk/config/dynamic/res_pjsip/{Type}/{ID}.
type ObjectRef struct {
	Type ObjectType
	ID   string
}

func (r ObjectRef) String() string { return string(r.Type) + "/" + r.ID }

// PJSIPObject is a PJSIP object as Switchboard wants it on Asterisk.
type PJSIPObject struct {
	Ref    ObjectRef
	Fields []Field
}

// PushOptions are the parts of the PJSIP objects that provisioning does not
// hold: they belong to how the operator set Asterisk up (its transports,
// its dialplan contexts). Zero values leave Asterisk's own default in
// place by not sending the attribute at all.
type PushOptions struct {
	// PhoneContext is the dialplan context of calls from accounts.
	PhoneContext string
	// GatewayContext is the dialplan context of calls from gateways.
	GatewayContext string
	// Transports names the pjsip.conf transport object per gateway
	// transport; Transports[TransportUDP] is also the accounts' transport.
	Transports map[provisioning.Transport]string
	// Codecs is the allow list (after disallow=all), e.g. ulaw, alaw.
	Codecs []string
	// DirectMedia, when set, is sent as direct_media on every endpoint.
	// DefaultPushOptions sets it to false: Asterisk's default (yes)
	// re-INVITEs two phones to talk to each other after the answer, so
	// the media bypasses Asterisk (no recording, broken across NAT).
	DirectMedia *bool
	// MaxContacts is how many registrations an account may hold at once.
	MaxContacts int
	// PhoneQualifySecs is the OPTIONS interval for registered phones
	// (0 = never; registrations still show as NonQualified).
	PhoneQualifySecs int
	// IDWithDomain names account objects username@domain rather than
	// username, for nodes that serve several SIP domains: PJSIP tries
	// user@domain before user when it looks up an endpoint or AOR.
	IDWithDomain bool
	// TenantContexts gives each account's endpoint its tenant's routing
	// context (TenantContext) instead of PhoneContext; the generated
	// dialplan has one for every tenant and includes PhoneContext in it.
	TenantContexts bool
	// SoundsDir is the node's sounds_dir: IVR menus play their sounds
	// from it (SoundPath). Empty: menus wait for keys in silence.
	SoundsDir string
	// FaxDir is the node's fax_dir: fax boxes receive into it
	// (routing_fax.go). Empty: calls to a fax box hang up.
	FaxDir string
	// RecordingsDir is the node's recordings_dir: recorded calls are
	// written there (routing_recording.go). Empty: nothing is recorded.
	RecordingsDir string
	// Mailboxes, when set (a node with voicemail), returns the
	// app_voicemail boxes (box@context, PlanMailboxes) whose
	// message-waiting state account a's phones are shown: its endpoint
	// gets them as mailboxes (unsolicited MWI NOTIFYs to every
	// registered phone) and its AOR too (a phone that SUBSCRIBEs for MWI
	// gets them that way instead: mwi_subscribe_replaces_unsolicited).
	// An account without a box gets them empty, which clears a box it
	// had.
	Mailboxes func(a *provisioning.Account) []string
	// Authz, when its URL is set, authorizes every call an outbound
	// route sends to a gateway (routing_authz.go).
	Authz AuthzOptions
	// LCR, when its URL is set, has the routes whose order is cost ask
	// the daemon for their gateways' order on every call
	// (routing_lcr.go); else they dial in listed order.
	LCR LCROptions
}

// DefaultPushOptions is what a node gets when its configuration says
// nothing: the transports and context of the README's pjsip.conf.
func DefaultPushOptions() PushOptions {
	return PushOptions{
		PhoneContext:   "phones",
		GatewayContext: "from-gateway",
		Transports: map[provisioning.Transport]string{
			provisioning.TransportUDP: "transport-udp",
			provisioning.TransportTCP: "transport-tcp",
			provisioning.TransportTLS: "transport-tls",
		},
		Codecs:      []string{"ulaw", "alaw"},
		DirectMedia: new(false),
		MaxContacts: 1,
	}
}

// ErrUnmappable is returned for a provisioned object that cannot become a
// PJSIP object (no username, no secret, a character PJSIP ids refuse).
var ErrUnmappable = errors.New("asterisk: cannot map to PJSIP")

// AccountID is the id an account's endpoint, aor and auth carry.
func (o PushOptions) AccountID(a *provisioning.Account) string {
	if o.IDWithDomain && a.Domain != "" {
		return a.Username + "@" + a.Domain
	}
	return a.Username
}

// AccountObjects maps a SIP account onto its auth, aor and endpoint.
//
// The auth is userpass with the clear secret: Asterisk 23 shows md5_cred
// among auth attributes (config-res-pjsip-auth-1001.json), but no
// recording shows it accepting auth_type=md5 with an HA1 whose realm is
// the SIP domain, so the proven form is used. An account without a secret
// is refused rather than pushed with an empty password.
func AccountObjects(o PushOptions, a *provisioning.Account) ([]PJSIPObject, error) {
	id := o.AccountID(a)
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("%w: account %d: %w", ErrUnmappable, a.ID, err)
	}
	if a.Secret == "" {
		return nil, fmt.Errorf("%w: account %d (%s) has no secret", ErrUnmappable, a.ID, id)
	}
	auth := []Field{
		{"auth_type", "userpass"},
		{"username", a.Username},
		{"password", a.Secret},
	}
	maxContacts := o.MaxContacts
	if maxContacts <= 0 {
		maxContacts = 1
	}
	aor := []Field{
		{"max_contacts", strconv.Itoa(maxContacts)},
		{"remove_existing", "yes"},
		{"qualify_frequency", strconv.Itoa(max(o.PhoneQualifySecs, 0))},
	}
	var ep []Field
	ep = appendIf(ep, "transport", o.Transports[provisioning.TransportUDP])
	if o.TenantContexts && a.TenantID != 0 {
		ep = appendIf(ep, "context", TenantContext(a.TenantID))
	} else {
		ep = appendIf(ep, "context", o.PhoneContext)
	}
	ep = appendCodecs(ep, o.Codecs)
	ep = append(ep, Field{"auth", id}, Field{"aors", id})
	ep = append(ep, Field{"callerid", callerID(a.CallerIDName, firstNonEmpty(a.CallerIDNumber, a.Username))})
	ep = appendBool(ep, "direct_media", o.DirectMedia)
	if o.Mailboxes != nil {
		mb := strings.Join(o.Mailboxes(a), ",")
		aor = append(aor, Field{"mailboxes", mb})
		ep = append(ep, Field{"mailboxes", mb}, Field{"mwi_subscribe_replaces_unsolicited", "yes"})
	}
	return []PJSIPObject{
		{ObjectRef{PJSIPAuth, id}, auth},
		{ObjectRef{PJSIPAOR, id}, aor},
		{ObjectRef{PJSIPEndpoint, id}, ep},
	}, nil
}

// GatewayObjects maps a gateway onto an aor with its static contact, an
// endpoint, an identify matching its host (so that calls from it land on
// its endpoint and context instead of being refused as anonymous), an
// auth when it has credentials and a registration when Register is set.
func GatewayObjects(o PushOptions, g *provisioning.Gateway) ([]PJSIPObject, error) {
	id := g.Name
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("%w: gateway %d: %w", ErrUnmappable, g.ID, err)
	}
	if g.Host == "" || strings.ContainsAny(g.Host, " \t\r\n;,<>\"") {
		return nil, fmt.Errorf("%w: gateway %d (%s): bad host %q", ErrUnmappable, g.ID, id, g.Host)
	}
	if g.Register && g.Username == "" {
		return nil, fmt.Errorf("%w: gateway %d (%s): register without a username", ErrUnmappable, g.ID, id)
	}
	tr := g.Transport
	if tr == "" {
		tr = provisioning.TransportUDP
	}
	hostport := g.Host
	if g.Port > 0 {
		hostport += ":" + strconv.Itoa(g.Port)
	}
	uriParams := ""
	scheme := "sip:"
	switch tr {
	case provisioning.TransportTCP:
		uriParams = ";transport=tcp"
	case provisioning.TransportTLS:
		scheme = "sips:"
	}
	hasAuth := g.Username != "" && g.Secret != ""

	var objs []PJSIPObject
	if hasAuth {
		objs = append(objs, PJSIPObject{ObjectRef{PJSIPAuth, id}, []Field{
			{"auth_type", "userpass"},
			{"username", g.Username},
			{"password", g.Secret},
		}})
	}
	objs = append(objs, PJSIPObject{ObjectRef{PJSIPAOR, id}, []Field{
		{"contact", scheme + hostport + uriParams},
		{"qualify_frequency", strconv.Itoa(max(g.QualifySecs, 0))},
	}})
	var ep []Field
	ep = appendIf(ep, "transport", o.Transports[tr])
	ep = appendIf(ep, "context", o.GatewayContext)
	ep = appendCodecs(ep, o.Codecs)
	ep = append(ep, Field{"aors", id})
	if hasAuth {
		ep = append(ep, Field{"outbound_auth", id})
	}
	ep = appendIf(ep, "from_user", g.Username)
	ep = appendBool(ep, "direct_media", o.DirectMedia)
	objs = append(objs, PJSIPObject{ObjectRef{PJSIPEndpoint, id}, ep})
	objs = append(objs, PJSIPObject{ObjectRef{PJSIPIdentify, id}, []Field{
		{"endpoint", id},
		{"match", g.Host},
	}})
	if g.Register {
		var reg []Field
		reg = appendIf(reg, "transport", o.Transports[tr])
		reg = append(reg,
			Field{"server_uri", scheme + hostport + uriParams},
			Field{"client_uri", scheme + g.Username + "@" + hostport + uriParams},
			Field{"contact_user", g.Username},
			Field{"endpoint", id},
			// Asterisk 23 refuses (400 "failed field value
			// validation") a registration that names an endpoint
			// without line support; line also makes calls the
			// carrier sends to the registered contact land on this
			// endpoint.
			Field{"line", "yes"},
		)
		if hasAuth {
			reg = append(reg, Field{"outbound_auth", id})
		}
		objs = append(objs, PJSIPObject{ObjectRef{PJSIPRegistration, id}, reg})
	}
	return objs, nil
}

// checkID refuses ids PJSIP or the ARI path cannot carry.
func checkID(id string) error {
	if id == "" {
		return errors.New("empty id")
	}
	if strings.ContainsAny(id, "/?#;,\"<> \t\r\n") {
		return fmt.Errorf("id %q holds a character PJSIP ids cannot", id)
	}
	return nil
}

func appendIf(fs []Field, attr, v string) []Field {
	if v == "" {
		return fs
	}
	return append(fs, Field{attr, v})
}

func appendBool(fs []Field, attr string, v *bool) []Field {
	if v == nil {
		return fs
	}
	if *v {
		return append(fs, Field{attr, "yes"})
	}
	return append(fs, Field{attr, "no"})
}

func appendCodecs(fs []Field, codecs []string) []Field {
	if len(codecs) == 0 {
		return fs
	}
	return append(fs, Field{"disallow", "all"}, Field{"allow", strings.Join(codecs, ",")})
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// callerID renders `"Name" <number>`, the form Asterisk echoes back. The
// quote, angle brackets and control characters cannot be escaped in it,
// so they are dropped.
func callerID(name, number string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f || r == '"' || r == '<' || r == '>' || r == '\\' {
				return -1
			}
			return r
		}, s)
	}
	name, number = strings.TrimSpace(clean(name)), clean(number)
	if name == "" {
		return "<" + number + ">"
	}
	return `"` + name + `" <` + number + `>`
}

// sameFields reports whether what Asterisk returned (got, every attribute
// of the object) already holds what Switchboard wants. Attributes
// Asterisk does not return (disallow is write-only) are not compared.
// Values are compared the way Asterisk rewrites them: yes→true,
// allow=ulaw,alaw→(ulaw|alaw), 3→3.000000.
func sameFields(want, got []Field) bool {
	have := make(map[string]string, len(got))
	for _, f := range got {
		have[f.Attribute] = f.Value
	}
	for _, f := range want {
		v, ok := have[f.Attribute]
		if !ok {
			continue
		}
		if !sameValue(f.Attribute, f.Value, v) {
			return false
		}
	}
	return true
}

func sameValue(attr, want, got string) bool {
	if want == got {
		return true
	}
	switch attr {
	case "allow":
		return normCodecs(want) == normCodecs(got)
	case "match":
		// identify keeps addresses as networks: 192.0.2.1/32 and such.
		return strings.HasPrefix(got, want+"/")
	}
	return normScalar(want) == normScalar(got)
}

func normCodecs(s string) string {
	s = strings.Trim(strings.TrimSpace(s), "()")
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' }), ",")
}

func normScalar(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "on":
		return "true"
	case "no", "false", "off":
		return "false"
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return s
}

// knownAttributes lists, per type, the attributes Asterisk 23 has: those
// its GET returned in the recordings, plus the write-only ones. Asterisk's
// 400 ("failed field value validation") does not say which attribute it
// refused, so the error names the sent ones missing from this list.
var knownAttributes = map[ObjectType][]string{
	PJSIPAuth: {"oauth_secret", "password_digest", "supported_algorithms_uas", "refresh_token", "username",
		"md5_cred", "realm", "auth_type", "password", "supported_algorithms_uac", "nonce_lifetime", "oauth_clientid"},
	PJSIPAOR: {"minimum_expiration", "default_expiration", "qualify_timeout", "qualify_2xx_only", "mailboxes",
		"support_path", "remove_unavailable", "voicemail_extension", "max_contacts", "authenticate_qualify",
		"contact", "maximum_expiration", "qualify_frequency", "remove_existing", "outbound_proxy"},
	PJSIPRegistration: {"max_retries", "client_uri", "security_negotiation", "auth_rejection_permanent",
		"server_uri", "max_random_initial_delay", "support_path", "retry_interval", "contact_header_params",
		"expiration", "transport", "line", "contact_user", "endpoint", "user_agent", "forbidden_retry_interval",
		"outbound_auth", "outbound_proxy", "fatal_retry_interval", "support_outbound"},
	PJSIPIdentify: {"endpoint", "match", "srv_lookups", "match_header", "match_request_uri"},
	PJSIPEndpoint: {"disallow", "rpid_immediate", "webrtc", "ignore_183_without_sdp", "send_aoc",
		"device_state_busy_at", "t38_udptl_maxdatagram", "codec_prefs_incoming_answer", "security_negotiation",
		"dtls_rekey", "rtp_port_end", "named_pickup_group", "direct_media_method", "send_rpid", "pickup_group",
		"sdp_session", "dtls_verify", "message_context", "tenantid", "mailboxes", "record_on_feature",
		"dtls_private_key", "dtls_fingerprint", "overlap_context", "outgoing_call_offer_pref", "rtp_port_start",
		"from_domain", "timers_sess_expires", "named_call_group", "dtls_cipher", "media_encryption_optimistic",
		"suppress_q850_reason_headers", "aors", "identify_by", "callerid_privacy",
		"mwi_subscribe_replaces_unsolicited", "cos_audio", "follow_early_media_fork", "context", "rtp_symmetric",
		"transport", "moh_suggest", "t38_udptl", "fax_detect", "t38_bind_udptl_to_media_address", "tos_video",
		"srtp_tag_32", "refer_blind_progress", "max_audio_streams", "bundle", "use_avpf", "call_group",
		"send_connected_line", "fax_detect_timeout", "sdp_owner", "force_rport", "callerid_tag",
		"rtp_timeout_hold", "suppress_moh_on_sendonly", "use_ptime", "media_address", "voicemail_extension",
		"rtp_timeout", "stir_shaken", "set_var", "contact_acl", "preferred_codec_only",
		"geoloc_outgoing_call_profile", "force_avp", "record_off_feature", "from_user", "send_diversion",
		"send_history_info", "t38_udptl_ipv6", "tone_zone", "language", "allow_subscribe", "rtp_ipv6",
		"callerid", "moh_passthrough", "cos_video", "dtls_auto_generate_cert", "asymmetric_rtp_codec",
		"geoloc_incoming_call_profile", "ice_support", "aggregate_mwi", "one_touch_recording", "mwi_from_user",
		"redirect_method", "accountcode", "codec_prefs_outgoing_answer", "allow", "rewrite_contact",
		"user_eq_phone", "rtp_engine", "follow_redirect_methods", "subscribe_context",
		"notify_early_inuse_ringing", "incoming_mwi_mailbox", "incoming_call_offer_pref",
		"allow_unauthenticated_options", "auth", "direct_media_glare_mitigation", "trust_id_inbound",
		"stir_shaken_profile", "bind_rtp_to_media_address", "disable_direct_media_on_nat", "media_encryption",
		"media_use_received_transport", "allow_overlap", "dtmf_mode", "outbound_auth", "tos_audio",
		"dtls_cert_file", "dtls_ca_path", "dtls_setup", "connected_line_method", "g726_non_standard", "100rel",
		"timers", "direct_media", "acl", "timers_min_se", "trust_id_outbound", "sub_min_expiry", "rtcp_mux",
		"max_video_streams", "accept_multiple_sdp_answers", "codec_prefs_incoming_offer",
		"codec_prefs_outgoing_offer", "trust_connected_line", "send_pai", "rtp_keepalive", "t38_udptl_ec",
		"t38_udptl_nat", "allow_transfer", "dtls_ca_file", "outbound_proxy", "inband_progress"},
}

// unknownAttributes returns the sent attributes Asterisk 23 does not have.
func unknownAttributes(t ObjectType, fs []Field) []string {
	known, ok := knownAttributes[t]
	if !ok {
		return nil
	}
	var out []string
	for _, f := range fs {
		found := false
		for _, k := range known {
			if k == f.Attribute {
				found = true
				break
			}
		}
		if !found {
			out = append(out, f.Attribute)
		}
	}
	return out
}
