package freeswitch

// mod_xml_curl: FreeSWITCH asks Switchboard for its directory (SIP
// accounts and gateways), its dialplan (DIDs) and its configuration, live,
// as it needs them. Every answer is either a complete document or the
// standard not-found document, after which FreeSWITCH falls back to its
// static XML; a failed lookup is answered 500 so that FreeSWITCH falls back
// (or retries) rather than act on half an answer.
//
// What is answered, and why:
//
//   - directory, one user (action=sip_auth for REGISTER, INVITE and every
//     other challenged request; action=user_call when bridging to
//     user/<user>@<domain>; key=id lookups of other modules): the user in
//     a one-domain document. The domain's dial-string param is FreeSWITCH's
//     default one without Verto. Only action=sip_auth carries a credential,
//     and it is the a1-hash (md5(user:domain:secret), Account.HA1), so the
//     plaintext secret stays in Switchboard; the password is sent instead
//     only when the phone's digest realm is not the account's domain, since
//     an a1-hash is bound to the realm it was computed with.
//   - directory, purpose=gateways, profile=<GatewayProfile>: every
//     provisioned gateway; see gatewaysDocument for why gateways come
//     from the directory and sofia.conf is never answered.
//   - directory, a user Switchboard does not have in a domain it owns:
//     the domain without the user, so that FreeSWITCH's static files
//     cannot answer for it (ownedDomain).
//   - dialplan: a provisioned DID bridges to its account.
//   - everything else: not found.
//
// Every value is XML-escaped, "$$" is broken up so that FreeSWITCH's
// preprocessor leaves it alone (xmlEscape) and caller ID names lose the
// "$" of any "${" so that FreeSWITCH never expands them (xmlNoExpansion).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Directory is what the xml_curl handler reads of provisioning. It is
// declared here, by its consumer, so that tests and other sources can
// stand in for the provisioning Service (ServiceDirectory adapts it).
type Directory interface {
	// AccountByUsername returns username@domain; an error wrapping
	// provisioning.ErrNotFound when there is none.
	AccountByUsername(ctx context.Context, domain, username string) (*provisioning.Account, error)
	// Gateways returns every gateway.
	Gateways(ctx context.Context) ([]provisioning.Gateway, error)
	// RouteDID returns the account the DID number (as stored, E.164 with
	// a leading +) routes to; provisioning.ErrNotFound when the number is
	// not provisioned or routes nowhere.
	RouteDID(ctx context.Context, number string) (*provisioning.Account, error)
	// DomainExists reports whether the SIP domain is provisioned.
	DomainExists(ctx context.Context, domain string) (bool, error)
}

// XMLCurlConfig configures NewXMLCurlHandler.
type XMLCurlConfig struct {
	Directory Directory // required
	// UserContext is the dialplan context of the phones' calls (the
	// user_context variable of every user); "default" when empty.
	UserContext string
	// GatewayProfile is the sofia profile that carries the gateways;
	// "external" when empty.
	GatewayProfile string
	// CacheMS, when > 0, is the cacheable attribute (milliseconds) of the
	// user in every sip_auth answer: FreeSWITCH's core keeps the merged
	// user that long and authenticates REGISTERs and INVITEs from it
	// without asking, also while Switchboard is down (see
	// xmlCacheableUser). NodeConfig.DirectoryCacheMS sets it; above
	// MaxDirectoryCacheMS it is taken as MaxDirectoryCacheMS.
	CacheMS int
	// Router, when set, turns on call routing (routing_xmlcurl.go): the
	// tenants' contexts, DIDs with a destination, and the tenant's
	// context as every phone's user_context.
	Router Router
	// SoundsDir is the node's sounds_dir: the menus the routing renders
	// play their sounds from it (SoundPath).
	SoundsDir string
	// FaxDir is the node's fax_dir: fax boxes receive into it.
	FaxDir string
	// RecordingsDir is the node's recordings_dir: the calls the plans
	// record are recorded into it (routing_recording.go).
	RecordingsDir string
	Logger        *slog.Logger
	// Authorizer, when set, authorizes every call an outbound route
	// sends to a gateway (routing_authz.go); Node names this switch in
	// its reservations, and AuthzFailClosed refuses the call when the
	// authorizer fails (else it goes out unlimited).
	Authorizer      CallAuthorizer
	Node            string
	AuthzFailClosed bool
	// Orderer, when set, orders the gateways of least-cost routes
	// (provisioning.RouteOrderCost) for each call's number
	// (routing_lcr.go; the provisioning Service implements it); without
	// it they are dialled in their listed order. Registerer, when set,
	// gets switchboard_freeswitch_lcr_lookups_total, labelled with Node.
	Orderer    GatewayOrderer
	Registerer prometheus.Registerer
}

// xmlNotFound is the document that tells mod_xml_curl that Switchboard
// has no answer, so that FreeSWITCH looks in its static XML.
const xmlNotFound = `<document type="freeswitch/xml"><section name="result"><result status="not found"/></section></document>`

// xmlDialString is the dial-string of FreeSWITCH's default directory
// (conf/vanilla/directory/default.xml) without the Verto contact, which
// fails where mod_verto is not loaded.
const xmlDialString = "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}${sofia_contact(*/${dialed_user}@${dialed_domain})}"

// xmlGatewayDomain is the domain the gateways are listed under in a
// purpose=gateways answer. sofia only reads the gateways inside it (it
// would alias the domain to the profile only if the profile's <domain
// name="all"> said alias="true"); .invalid is reserved (RFC 2606), so it
// can never clash with a SIP domain.
const xmlGatewayDomain = "gateways.switchboard.invalid"

// maxXMLCurlBody bounds a request: dialplan requests carry every channel
// variable and are a few kB.
const maxXMLCurlBody = 1 << 20

// xmlCurlHandler is the handler NewXMLCurlHandler returns.
type xmlCurlHandler struct {
	dir            Directory
	userContext    string
	gatewayProfile string
	cacheMS        int
	router         Router
	renders        *renderCache
	log            *slog.Logger

	authz           CallAuthorizer
	node            string
	authzFailClosed bool
	matchers        routeMatchers
	lcr             *lcrOrder // nil: least-cost routes go in listed order
}

// NewXMLCurlHandler returns the handler for mod_xml_curl's POSTs (one
// gateway-url per binding, or one for all: the section is in the body).
// Wrap it in a Guard: its answers hold credentials.
func NewXMLCurlHandler(cfg XMLCurlConfig) http.Handler {
	if cfg.Directory == nil {
		panic("freeswitch: XMLCurlConfig.Directory is required")
	}
	h := &xmlCurlHandler{dir: cfg.Directory, userContext: cfg.UserContext, gatewayProfile: cfg.GatewayProfile, cacheMS: min(cfg.CacheMS, MaxDirectoryCacheMS), log: cfg.Logger}
	if h.userContext == "" {
		h.userContext = "default"
	}
	if h.gatewayProfile == "" {
		h.gatewayProfile = "external"
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.router = cfg.Router
	h.authz, h.node, h.authzFailClosed = cfg.Authorizer, cfg.Node, cfg.AuthzFailClosed
	if cfg.Orderer != nil {
		h.lcr = newLCROrder(cfg.Orderer, cfg.Node, cfg.Registerer, h.log)
	}
	h.renders = newRenderCache(renderOptions{Profile: h.gatewayProfile, Else: h.userContext, SoundsDir: cfg.SoundsDir, FaxDir: cfg.FaxDir, RecordingsDir: cfg.RecordingsDir})
	return h
}

// xmlUnservedSections are FreeSWITCH's other sections: an xml_curl
// binding may name them, and they are answered not found rather than
// refused.
var xmlUnservedSections = []string{"phrases", "languages", "chatplan", "channels"}

func (h *xmlCurlHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "xml_curl: POST the form mod_xml_curl sends", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxXMLCurlBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("xml_curl: body over %d bytes", maxXMLCurlBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "xml_curl: reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	// FreeSWITCH url-encodes every separator (switch_url_encode escapes
	// ; & = + and the rest) but leaves commas and slashes, which
	// ParseQuery takes as they are.
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "xml_curl: the body is not a url-encoded form: "+err.Error(), http.StatusBadRequest)
		return
	}
	section := form.Get("section")
	var doc string
	switch {
	case section == "directory":
		doc, err = h.directory(r.Context(), form)
	case section == "dialplan":
		doc, err = h.dialplan(r.Context(), form)
	case section == "configuration":
		doc = h.configuration(form)
	case slices.Contains(xmlUnservedSections, section):
		doc = xmlNotFound
	case section == "":
		http.Error(w, "xml_curl: the form has no section", http.StatusBadRequest)
		return
	default:
		http.Error(w, fmt.Sprintf("xml_curl: unknown section %q", section), http.StatusBadRequest)
		return
	}
	if err != nil {
		h.log.ErrorContext(r.Context(), "freeswitch: xml_curl lookup failed", "section", section,
			"purpose", form.Get("purpose"), "action", form.Get("action"), "err", err)
		http.Error(w, "xml_curl: lookup failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	io.WriteString(w, doc) //nolint:errcheck // the client is gone; nothing to do
}

// configuration answers every configuration request not found.
//
// sofia.conf in particular is never answered, because an xml_curl answer
// replaces the whole file for the request it answers (evidence from
// src/mod/endpoints/mod_sofia/sofia.c, FreeSWITCH 1.10):
//   - config_sofia (startup without a profile param, and every `sofia
//     profile <p> rescan` with profile=<p>&reconfig=true) walks the
//     answer's <profiles>; a profile without <settings> fails to start
//     ("No Settings, check the new config!", sofia_profile_start_failure),
//     and on a rescan the profile's ACL counts are reset and every
//     <settings> param is applied again, so a partial profile would strip
//     a running profile of its ACLs and settings;
//   - launch_sofia_worker_thread asks again with profile=<p> and reads only
//     that profile's <gateways> and <domains>.
//
// Answering sofia.conf would therefore mean owning every profile's full
// definition. Gateways come in through the directory instead, which sofia
// supports for exactly this: see gatewaysDocument.
func (h *xmlCurlHandler) configuration(url.Values) string { return xmlNotFound }

// directory answers the directory section.
func (h *xmlCurlHandler) directory(ctx context.Context, f url.Values) (string, error) {
	switch f.Get("purpose") {
	case "":
	case "gateways":
		return h.gatewaysDocument(ctx, f.Get("profile"))
	default: // network-list (switch_load_network_lists) and the like
		return xmlNotFound, nil
	}
	domain := f.Get("domain")
	if domain == "" && f.Get("tag_name") == "domain" && f.Get("key_name") == "name" {
		domain = f.Get("key_value")
	}
	if domain == "" {
		return xmlNotFound, nil
	}
	if tenant, ok := voicemailDomainTenant(domain); ok {
		return h.voicemailDirectory(ctx, f, domain, tenant)
	}
	user := f.Get("user")
	if user == "" {
		return h.ownedDomain(ctx, domain)
	}
	// Users are found by id; a lookup by another attribute (number-alias)
	// could not match the document anyway.
	if key := f.Get("key"); key != "" && key != "id" {
		return h.ownedDomain(ctx, domain)
	}
	a, err := h.dir.AccountByUsername(ctx, domain, user)
	if errors.Is(err, provisioning.ErrNotFound) {
		return h.ownedDomain(ctx, domain)
	}
	if err != nil {
		return "", err
	}
	u := &xmlUser{account: a, context: h.userContextOf(a)}
	if f.Get("action") == "sip_auth" {
		u.credential(f.Get("sip_auth_realm"))
		if u.param != "" && h.cacheMS > 0 {
			u.cacheMS = h.cacheMS
		}
		if u.mwi, err = h.mwiAccount(ctx, a); err != nil {
			return "", err
		}
		u.noMWIQuery = h.router != nil && u.mwi == ""

	}
	return xmlDomainDocument(domain, u, ""), nil
}

// ownedDomain answers a domain lookup, and a user lookup that found no
// account. In a domain Switchboard owns (a provisioned domain) the answer
// is the domain with no user in it, so that FreeSWITCH's static directory
// cannot shadow the store (issue 12 item 17): switch_xml_locate_user (switch_xml.c,
// FreeSWITCH 1.10.12) takes the first binding's answer that holds the
// domain and looks the user up only in it, whereas the not-found document
// sends it to its own files, where stock FreeSWITCH has users 1000 to 1019
// with password 1234, the numbers dcp allocates first: a deleted account
// kept registering with the file's password. In any other domain the
// answer stays not found, so FreeSWITCH's own domains work as before.
// (While Switchboard is down or answers 500, FreeSWITCH still falls back
// to its files for every lookup: remove the static users of Switchboard's
// domains; switchboard doctor lists them.)
func (h *xmlCurlHandler) ownedDomain(ctx context.Context, domain string) (string, error) {
	ok, err := h.dir.DomainExists(ctx, domain)
	switch {
	case err != nil:
		return "", err
	case !ok:
		return xmlNotFound, nil
	}
	return xmlDomainDocument(domain, nil, ""), nil
}

// xmlUser is one user of a directory answer.
type xmlUser struct {
	account *provisioning.Account
	context string
	// param is the credential param ("a1-hash" or "password") and value
	// its value; empty outside sip_auth.
	param, value string
	// cacheMS is the user's cacheable attribute; 0: none.
	cacheMS int
	// mwi is the mwi-account param (sip_auth only; see mwiAccount).
	mwi string
	// noMWIQuery: the variable send-message-query-on-register=false (see
	// mwiAccount): a phone without a box is not told at every REGISTER
	// that it has no messages.
	noMWIQuery bool
}

// xmlCacheableUser documents why only sip_auth answers are cacheable.
// The cache is FreeSWITCH's core user cache (switch_xml.c,
// switch_xml_locate_user_merged, FreeSWITCH 1.10.12): a user answer with
// cacheable="N" is kept N ms under the key id+user+domain, whatever the
// action that asked, and every later lookup of that key (sip_auth for
// REGISTER and INVITE, user_call for user/ bridging) is answered from it
// without a request until N ms after the lookup that filled it; hits do
// not extend it, and a lookup that found nothing is not cached (recorded
// in testdata/freeswitch/fidelity, part 1). A user_call answer carries no
// credential, so caching it would make the next REGISTER fail; a sip_auth
// answer carries the credential and everything user_call needs. The
// Reloader sends xml_flush_cache id <user> <domain> for every change that
// must not wait for the expiry.
const xmlCacheableUser = "sip_auth answers only"

// credential picks the credential of a sip_auth answer. sofia_reg.c's
// sofia_reg_parse_auth uses an a1-hash param as the digest's HA1 as it
// is, and computes md5(username:realm:password) from a password param
// with the realm of the phone's Authorization header: the a1-hash is
// right only when that realm is the account's domain.
func (u *xmlUser) credential(realm string) {
	a := u.account
	if a.HA1 != "" && (realm == "" || realm == a.Domain) {
		u.param, u.value = "a1-hash", a.HA1
		return
	}
	if a.Secret != "" {
		u.param, u.value = "password", a.Secret
	}
}

// xmlDomainDocument renders a directory answer with one domain, and in it
// the user u (nil for a domain lookup) or the gateways (gateways != "").
// The domain is named as FreeSWITCH asked for it, since it looks the
// domain up by that name in the answer.
func xmlDomainDocument(domain string, u *xmlUser, gateways string) string {
	return xmlDirectoryDocument(domain, func(b *xmlBuilder) {
		if gateways != "" {
			b.raw(gateways)
		} else {
			b.open(3, "params")
			b.empty(4, "param", "name", "dial-string", "value", xmlDialString)
			b.close(3, "params")
		}
		if u != nil {
			xmlUserElement(b, u)
		}
	})
}

// xmlDirectoryDocument is a directory answer with one domain, whose
// content (at depth 3) body writes.
func xmlDirectoryDocument(domain string, body func(b *xmlBuilder)) string {
	var b xmlBuilder
	b.open(0, "document", "type", "freeswitch/xml")
	b.open(1, "section", "name", "directory")
	b.open(2, "domain", "name", domain)
	body(&b)
	b.close(2, "domain")
	b.close(1, "section")
	b.close(0, "document")
	return b.String()
}

// xmlInUsers writes <groups><group name="default"><users>, then what
// users writes (at depth 6), then closes them.
func xmlInUsers(b *xmlBuilder, users func()) {
	b.open(3, "groups")
	b.open(4, "group", "name", "default")
	b.open(5, "users")
	users()
	b.close(5, "users")
	b.close(4, "group")
	b.close(3, "groups")
}

// xmlUserElement writes the user of account answer u.
func xmlUserElement(b *xmlBuilder, u *xmlUser) {
	xmlInUsers(b, func() {
		a := u.account
		if u.cacheMS > 0 {
			b.open(6, "user", "id", a.Username, "cacheable", strconv.Itoa(u.cacheMS))
		} else {
			b.open(6, "user", "id", a.Username)
		}
		if u.param != "" || u.mwi != "" {
			b.open(7, "params")
			if u.param != "" {
				b.empty(8, "param", "name", u.param, "value", u.value)
			}
			if u.mwi != "" {
				b.empty(8, "param", "name", "mwi-account", "value", u.mwi)
			}
			b.close(7, "params")
		}
		b.open(7, "variables")
		name := xmlNoExpansion(a.CallerIDName)
		vars := [][2]string{
			{"user_context", u.context},
			{"effective_caller_id_name", first(name, a.Username)},
			{"effective_caller_id_number", a.Username},
			{"outbound_caller_id_name", name},
			{"outbound_caller_id_number", a.CallerIDNumber},
			{"accountcode", a.Username},
			{"domain_name", a.Domain},
		}
		if u.noMWIQuery {
			// a variable: sofia_reg_parse_auth passes a user's variables
			// (and sip-* params only) to the registration's event
			vars = append(vars, [2]string{"send-message-query-on-register", "false"})
		}
		for _, v := range vars {
			if v[1] != "" {
				b.empty(8, "variable", "name", v[0], "value", v[1])
			}
		}
		b.close(7, "variables")
		b.close(6, "user")
	})
}

// gatewaysDocument answers directory purpose=gateways: the provisioned
// gateways for the GatewayProfile, not found for every other profile (so
// that their lookup, which also makes domain aliases, falls back to the
// static directory) and when there are none.
//
// This is one of the two places sofia reads gateways from, and the one
// Switchboard uses (evidence from src/mod/endpoints/mod_sofia/sofia.c,
// FreeSWITCH 1.10): for each <domain> of the profile's <domains>,
// launch_sofia_worker_thread (profile start) and config_sofia (every
// rescan) look the directory up with purpose=gateways&profile=<p>
// (<domain name="all"> asks for the whole directory: tag_name, key_name
// and key_value empty, as recorded) and hand each domain found to
// parse_domain_tag, which, when the profile's <domain> says parse="true",
// passes every <user><gateways> of the domain (directly under <domain>,
// or under <groups><group><users>) to parse_gateways, the same parser as
// for sofia.conf's <gateways>. FreeSWITCH's vanilla external.xml has
// <domain name="all" alias="false" parse="true"/>: the GatewayProfile's
// static definition must keep it. Gateways are not also answered in
// sofia.conf (never answered, see configuration), so none is declared
// twice; gateways of the static directory's users are not read for this
// profile while Switchboard has gateways, since this answer replaces the
// static directory for the lookup. Observed gateways are left out: the
// operator declares them in the profile's own <gateways>
// (sip_profiles/external/*.xml), which this answer does not replace.
func (h *xmlCurlHandler) gatewaysDocument(ctx context.Context, profile string) (string, error) {
	if profile != h.gatewayProfile {
		return xmlNotFound, nil
	}
	all, err := h.dir.Gateways(ctx)
	if err != nil {
		return "", err
	}
	// Observed gateways are the operator's own sofia gateways: never
	// declared here (sofia would skip the second of a name anyway).
	gws := slices.DeleteFunc(all, func(g provisioning.Gateway) bool { return g.Observed })
	if len(gws) == 0 {
		return xmlNotFound, nil
	}
	slices.SortFunc(gws, func(a, b provisioning.Gateway) int { return strings.Compare(a.Name, b.Name) })
	var b xmlBuilder
	b.open(3, "user", "id", "switchboard-gateways")
	b.open(4, "gateways")
	for i := range gws {
		xmlWriteGateway(&b, 5, &gws[i])
	}
	b.close(4, "gateways")
	b.close(3, "user")
	return xmlDomainDocument(xmlGatewayDomain, nil, b.String()), nil
}

// xmlWriteGateway renders one gateway as parse_gateways reads it (sofia.c):
//   - proxy is host:port (IPv6 in brackets) and realm the host: sofia
//     answers a challenge with the realm the challenge names, and uses the
//     realm only as the proxy when there is no proxy;
//   - register-transport is the transport of registrations and of calls
//     (sofia_outgoing_channel takes the gateway's register_transport);
//     tls needs a TLS-enabled profile, else sofia skips the gateway;
//   - username and password only when set: sofia requires both when
//     register is true and fills in "FreeSWITCH" and "" otherwise;
//   - ping is the OPTIONS interval when QualifySecs > 0; sofia refuses
//     intervals under 5 s, so shorter ones are raised to 5;
//   - caller-id-in-from: a registered trunk identifies the account by the
//     From user (the username, sofia's default), an IP trunk takes the
//     caller's number there.
func xmlWriteGateway(b *xmlBuilder, depth int, g *provisioning.Gateway) {
	host := g.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := g.Port
	if port == 0 {
		port = 5060
		if g.Transport == provisioning.TransportTLS {
			port = 5061
		}
	}
	transport := g.Transport
	if transport == "" {
		transport = provisioning.TransportUDP
	}
	b.open(depth, "gateway", "name", g.Name)
	param := func(name, value string) { b.empty(depth+1, "param", "name", name, "value", value) }
	param("proxy", host+":"+strconv.Itoa(port))
	param("realm", g.Host)
	param("register-transport", string(transport))
	if g.Username != "" {
		param("username", g.Username)
	}
	if g.Secret != "" {
		param("password", g.Secret)
	}
	param("register", strconv.FormatBool(g.Register))
	param("caller-id-in-from", strconv.FormatBool(!g.Register))
	if g.QualifySecs > 0 {
		param("ping", strconv.Itoa(max(g.QualifySecs, 5)))
	}
	b.close(depth, "gateway")
}

// dialplan answers the dialplan section: a call to a provisioned DID
// (the hunted destination, then the caller profile's, each as given and
// with its leading + added or removed) is bridged to user/<username>@
// <domain> of the account it routes to, in the context FreeSWITCH is
// hunting in (dialplan_xml_locate looks the context up by that name in
// the answer). The caller ID is left as it came. Any other destination is
// not found, and FreeSWITCH routes it with its static dialplan.
func (h *xmlCurlHandler) dialplan(ctx context.Context, f url.Values) (string, error) {
	dpContext := first(f.Get("Hunt-Context"), f.Get("Caller-Context"))
	if dpContext == "" {
		return xmlNotFound, nil
	}
	if doc, ok, err := h.routingDialplan(ctx, dpContext, f.Get("Hunt-Destination-Number"), f); ok {
		return doc, err
	}
	dests := []string{f.Get("Hunt-Destination-Number")}
	if c := f.Get("Caller-Destination-Number"); c != dests[0] {
		dests = append(dests, c)
	}
	for _, dest := range dests {
		digits, plus := strings.CutPrefix(dest, "+")
		if !xmlPlausibleDID(digits) {
			continue
		}
		other := "+" + digits
		if plus {
			other = digits
		}
		for _, number := range []string{dest, other} {
			if doc, ok, err := h.routedDID(ctx, dpContext, dest, number); ok || err != nil {
				return doc, err
			}
			a, err := h.dir.RouteDID(ctx, number)
			if errors.Is(err, provisioning.ErrNotFound) {
				continue
			}
			if err != nil {
				return "", err
			}
			return xmlDIDDocument(dpContext, dest, number, a), nil
		}
	}
	return xmlNotFound, nil
}

// xmlPlausibleDID reports whether digits could be an E.164 number
// without its +: 7 to 15 digits. Anything else is not looked up.
func xmlPlausibleDID(digits string) bool {
	if len(digits) < 7 || len(digits) > 15 {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// xmlDIDDocument renders the one extension that bridges dest, which is
// the provisioned number, to the account a.
func xmlDIDDocument(dpContext, dest, number string, a *provisioning.Account) string {
	var b xmlBuilder
	b.open(0, "document", "type", "freeswitch/xml")
	b.open(1, "section", "name", "dialplan", "description", "Switchboard DIDs")
	b.open(2, "context", "name", dpContext)
	b.open(3, "extension", "name", "did-"+number)
	// dest is digits with an optional leading +, the only metacharacter.
	b.open(4, "condition", "field", "destination_number", "expression", "^"+strings.ReplaceAll(dest, "+", `\+`)+"$")
	b.empty(5, "action", "application", "bridge", "data", "user/"+a.Username+"@"+a.Domain)
	b.close(4, "condition")
	b.close(3, "extension")
	b.close(2, "context")
	b.close(1, "section")
	b.close(0, "document")
	return b.String()
}

// xmlNoExpansion takes the "$" out of every "${" of a free-text value
// (a caller ID name): FreeSWITCH expands ${name} and ${api args} (which
// runs an API command) wherever a value is interpolated into a string it
// expands, and a name has no business doing either.
func xmlNoExpansion(s string) string {
	for strings.Contains(s, "${") {
		s = strings.ReplaceAll(s, "${", "{")
	}
	return s
}

// xmlBuilder writes an indented XML document whose attribute values are
// escaped by xmlEscape.
type xmlBuilder struct{ strings.Builder }

func (b *xmlBuilder) tag(depth int, name string, attrs []string, end string) {
	for range depth {
		b.WriteString("  ")
	}
	b.WriteByte('<')
	b.WriteString(name)
	for i := 0; i+1 < len(attrs); i += 2 {
		b.WriteByte(' ')
		b.WriteString(attrs[i])
		b.WriteString(`="`)
		xmlEscape(&b.Builder, attrs[i+1])
		b.WriteByte('"')
	}
	b.WriteString(end)
}

// open writes <name attrs…>; attrs are name, value pairs.
func (b *xmlBuilder) open(depth int, name string, attrs ...string) { b.tag(depth, name, attrs, ">\n") }

// empty writes <name attrs…/>.
func (b *xmlBuilder) empty(depth int, name string, attrs ...string) {
	b.tag(depth, name, attrs, "/>\n")
}

// close writes </name>.
func (b *xmlBuilder) close(depth int, name string) {
	for range depth {
		b.WriteString("  ")
	}
	b.WriteString("</")
	b.WriteString(name)
	b.WriteString(">\n")
}

// raw writes already rendered elements.
func (b *xmlBuilder) raw(s string) { b.WriteString(s) }

// xmlEscape writes s as the content of a double-quoted attribute.
// Besides the XML metacharacters it breaks up "$$": mod_xml_curl parses
// its answer with switch_xml_parse_file, whose preprocessor expands
// $${name} to the global variable name everywhere in the text, before the
// XML is parsed; "&#36;$" reaches FreeSWITCH as "$$" without being
// expanded. Whitespace other than a space becomes a character reference
// (attribute normalisation would turn it into spaces), other control
// characters, which XML 1.0 cannot carry, are dropped and invalid UTF-8
// becomes U+FFFD. (Provisioning admits none of them; the escaping is for
// whatever passes anyway.)
func xmlEscape(b *strings.Builder, s string) {
	for i, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '$' && i+1 < len(s) && s[i+1] == '$':
			b.WriteString("&#36;")
		case r == '\t':
			b.WriteString("&#9;")
		case r == '\n':
			b.WriteString("&#10;")
		case r == '\r':
			b.WriteString("&#13;")
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF:
		case r == utf8.RuneError:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
}
