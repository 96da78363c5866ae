package asterisk

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

// Endpoint is an ARI endpoint as GET /endpoints and the endpoint events
// carry it (ari/v6's wire model; State is online, offline or unknown).
// Asterisk 23's endpoint JSON has no contacts: they are known only from
// ContactStatusChange events (see Presence).
type Endpoint = ari.EndpointData

// ContactInfo is the contact of a ContactStatusChange.
type ContactInfo struct {
	URI           string `json:"uri"`
	ContactStatus string `json:"contact_status"` // Reachable, Unreachable, NonQualified, Removed, Unknown
	AOR           string `json:"aor"`
	RoundtripUsec string `json:"roundtrip_usec"` // a decimal string; "0" when not measured
}

// presenceWire is what Presence reads of a presence event beyond what
// ParseEvent decoded (type and time): Event has no endpoint or contact,
// and keeps "peer" only for Dial. Only presence events are decoded into
// it, so the channel events, the bulk of the stream, are decoded once.
type presenceWire struct {
	Endpoint    *Endpoint    `json:"endpoint"`
	ContactInfo *ContactInfo `json:"contact_info"`
	Peer        *struct {
		PeerStatus string `json:"peer_status"`
	} `json:"peer"`
}

// isPresenceEvent reports whether Presence reads events of type typ.
func isPresenceEvent(typ string) bool {
	switch typ {
	case "ContactStatusChange", "PeerStatusChange", "EndpointStateChange":
		return true
	}
	return false
}

// PresenceOptions tells Presence what ARI does not say.
type PresenceOptions struct {
	// Domain is the SIP domain of endpoints whose id carries none; an id
	// "user@domain" (PushOptions.IDWithDomain) names its own.
	Domain string
	// IsGateway reports whether an endpoint id is a provisioned gateway's:
	// those become presence.Gateways, the others Registrations.
	IsGateway func(endpoint string) bool
}

// contact is one registered contact of an endpoint as events reported it.
type contact struct {
	uri    string
	status string // Asterisk's word
	rtt    time.Duration
	at     time.Time
}

// Presence folds the presence events of one node (ContactStatusChange,
// PeerStatusChange, EndpointStateChange) into the feed, and rebuilds the
// node's snapshot from GET /endpoints on a resync. It does no I/O and is
// not safe for concurrent use: the adapter calls it from its event loop.
//
// Asterisk reports a contact's URI, status and round-trip time only in
// ContactStatusChange, and only when the status changes; GET /endpoints
// gives the endpoint's state (online once a contact is registered) but no
// contact. So Presence remembers the contacts events reported, and a
// resync keeps those of endpoints still online and forgets those of
// endpoints now offline. An endpoint online with no contact known (it
// registered before Switchboard connected) is listed with the placeholder
// contact "PJSIP/<id>" and status unknown until an event names its contact.
type Presence struct {
	opt      PresenceOptions
	contacts map[string]map[string]*contact // endpoint id → uri → contact
	gateways map[string]presence.Gateway    // endpoint id → last state
	// regs is the outbound registration state by gateway, from
	// res_prometheus; a gateway missing from it is RegUnknown.
	regs map[string]presence.RegistrationState
	// placeholders are the endpoints listed with the placeholder contact.
	placeholders map[string]bool
	// details are what the contact objects said (user agent, expiry,
	// source, qualify), by endpoint id and URI: read over REST, since no
	// event carries them.
	details map[string]map[string]ContactDetails
	// wanted are the contacts events added whose details are not known
	// yet, for the adapter to read (TakeWanted).
	wanted []ContactRef
}

// ContactRef names one registered contact: the endpoint (and AOR) id
// and the contact URI.
type ContactRef struct{ Endpoint, URI string }

// NewPresence returns an empty Presence.
func NewPresence(opt PresenceOptions) *Presence {
	return &Presence{
		opt:          opt,
		contacts:     map[string]map[string]*contact{},
		gateways:     map[string]presence.Gateway{},
		regs:         map[string]presence.RegistrationState{},
		placeholders: map[string]bool{},
		details:      map[string]map[string]ContactDetails{},
	}
}

// PlaceholderContact is the Contact of a registration Presence knows only
// from the endpoint's online state.
func PlaceholderContact(endpoint string) string { return "PJSIP/" + endpoint }

func (p *Presence) isGateway(id string) bool { return p.opt.IsGateway != nil && p.opt.IsGateway(id) }

// userDomain splits an endpoint id into the account's user and domain.
func (p *Presence) userDomain(id string) (user, domain string) {
	if u, d, ok := strings.Cut(id, "@"); ok && u != "" && d != "" {
		return u, d
	}
	return id, p.opt.Domain
}

// Feed is what Presence writes events into: a *presence.Feed.
type Feed interface {
	PutRegistration(r presence.Registration)
	DeleteRegistration(domain, user, contact string)
	PutGateway(g presence.Gateway)
	DeleteGateway(name string)
}

// Forget drops endpoint id, deleted from the node, from p and the feed:
// its registrations, or the gateway it was. Asterisk tells no ARI client
// about a deleted endpoint's contacts (see Adapter.EndpointDeleted).
func (p *Presence) Forget(id string, feed Feed) {
	delete(p.contacts, id)
	delete(p.placeholders, id)
	delete(p.details, id)
	if _, ok := p.gateways[id]; ok {
		delete(p.gateways, id)
		feed.DeleteGateway(id)
		return
	}
	user, domain := p.userDomain(id)
	feed.DeleteRegistration(domain, user, "")
}

// Apply folds one event, as ParseEvent returned it, into p and writes the
// change into feed; at is its time (Event.Timestamp, or the time it was
// received when Asterisk gave none). Other event types change nothing and
// cost nothing: only a presence event's Raw is read again, for the
// endpoint and contact Event does not carry. It reports whether the event
// was a presence event.
func (p *Presence) Apply(ev Event, at time.Time, feed Feed) (bool, error) {
	if !isPresenceEvent(ev.Type) {
		return false, nil
	}
	var w presenceWire
	if err := json.Unmarshal(ev.Raw, &w); err != nil {
		return false, fmt.Errorf("asterisk: presence event: %w", err)
	}
	if w.Endpoint == nil || !strings.EqualFold(w.Endpoint.Technology, "PJSIP") || w.Endpoint.Resource == "" {
		return false, nil
	}
	id := w.Endpoint.Resource
	if ev.Type == "ContactStatusChange" {
		if w.ContactInfo != nil && w.ContactInfo.URI != "" {
			p.contactChanged(id, w.ContactInfo, at, feed)
		}
		return true, nil
	}
	peer := ""
	if w.Peer != nil {
		peer = w.Peer.PeerStatus
	}
	p.endpointChanged(id, w.Endpoint.State, peer, at, feed)
	return true, nil
}

func (p *Presence) contactChanged(id string, ci *ContactInfo, at time.Time, feed Feed) {
	cs := p.contacts[id]
	if ci.ContactStatus == "Removed" {
		delete(cs, ci.URI)
		if len(cs) == 0 {
			delete(p.contacts, id)
		}
		p.forgetDetails(id, ci.URI)
	} else {
		if cs == nil {
			cs = map[string]*contact{}
			p.contacts[id] = cs
		}
		c := &contact{uri: ci.URI, status: ci.ContactStatus, at: at}
		if us, err := strconv.ParseInt(ci.RoundtripUsec, 10, 64); err == nil && us > 0 {
			c.rtt = time.Duration(us) * time.Microsecond
		} else if old := cs[ci.URI]; old != nil && ci.ContactStatus == "Reachable" {
			c.rtt = old.rtt
		}
		cs[ci.URI] = c
		if _, ok := p.details[id][ci.URI]; !ok && !p.isGateway(id) &&
			!slices.Contains(p.wanted, ContactRef{id, ci.URI}) {
			p.wanted = append(p.wanted, ContactRef{id, ci.URI})
		}
	}
	if p.isGateway(id) {
		feed.PutGateway(p.gateway(id, "", at))
		return
	}
	user, domain := p.userDomain(id)
	if p.placeholders[id] {
		delete(p.placeholders, id)
		feed.DeleteRegistration(domain, user, PlaceholderContact(id))
	}
	if ci.ContactStatus == "Removed" {
		feed.DeleteRegistration(domain, user, ci.URI)
		return
	}
	feed.PutRegistration(p.registration(id, cs[ci.URI]))
}

// endpointChanged handles an endpoint's new state: offline means no
// contact is registered any more (Asterisk may not send each Removed).
func (p *Presence) endpointChanged(id, state, peer string, at time.Time, feed Feed) {
	if p.isGateway(id) {
		feed.PutGateway(p.gateway(id, firstNonEmpty(peer, state), at))
		return
	}
	if state != "offline" {
		// Online: the ContactStatusChange that follows names the contact.
		// Unreachable while online: one contact of several, and its own
		// event says which.
		return
	}
	user, domain := p.userDomain(id)
	delete(p.contacts, id)
	delete(p.placeholders, id)
	delete(p.details, id)
	feed.DeleteRegistration(domain, user, "")
}

func (p *Presence) forgetDetails(id, uri string) {
	if ds := p.details[id]; ds != nil {
		delete(ds, uri)
		if len(ds) == 0 {
			delete(p.details, id)
		}
	}
}

// TakeWanted returns, and forgets, the contacts events added whose
// details (ContactDetails) are not known: the adapter reads them and
// hands them to SetDetails.
func (p *Presence) TakeWanted() []ContactRef {
	w := p.wanted
	p.wanted = nil
	return w
}

// HasDetails reports whether the details of a contact are known and its
// registration not past its expiry as of now: a refreshed REGISTER moves
// the expiry without any event, so a lapsed one is read again.
func (p *Presence) HasDetails(ref ContactRef, now time.Time) bool {
	d, ok := p.details[ref.Endpoint][ref.URI]
	return ok && (d.Expires.IsZero() || d.Expires.After(now))
}

// SetDetails records what a contact object said and, when the contact is
// still registered, writes its registration again into feed (nil: the
// caller takes a Snapshot next).
func (p *Presence) SetDetails(ref ContactRef, d ContactDetails, feed Feed) {
	c := p.contacts[ref.Endpoint][ref.URI]
	if feed != nil && c == nil {
		return // removed while its details were read
	}
	ds := p.details[ref.Endpoint]
	if ds == nil {
		ds = map[string]ContactDetails{}
		p.details[ref.Endpoint] = ds
	}
	ds[ref.URI] = d
	if feed != nil && c != nil && !p.isGateway(ref.Endpoint) {
		feed.PutRegistration(p.registration(ref.Endpoint, c))
	}
}

// registration is the presence view of one contact of endpoint id.
func (p *Presence) registration(id string, c *contact) presence.Registration {
	user, domain := p.userDomain(id)
	addr, transport := contactAddress(c.uri)
	d := p.details[id][c.uri]
	return presence.Registration{
		User: user, Domain: domain, Contact: c.uri,
		Address: cmp.Or(d.Source, addr), Transport: transport,
		UserAgent: d.UserAgent, Expires: d.Expires,
		Status: contactStatus(c.status), RTT: c.rtt, UpdatedAt: c.at,
	}
}

// gateway is the presence view of gateway id; detail, when set, is the
// latest word on it (a peer status or endpoint state) and overrides what
// its contacts say.
func (p *Presence) gateway(id, detail string, at time.Time) presence.Gateway {
	g := presence.Gateway{Name: id, State: presence.GatewayUnknown, Registration: presence.RegUnknown, UpdatedAt: at}
	if r, ok := p.regs[id]; ok {
		g.Registration = r
	}
	// The best contact decides: one reachable contact makes the gateway up.
	for _, c := range p.sortedContacts(id) {
		st := contactGatewayState(c.status)
		if g.State != presence.GatewayUp && st != presence.GatewayUnknown {
			g.State, g.Detail, g.RTT = st, c.status, c.rtt
		}
	}
	if detail != "" {
		if st := contactGatewayState(detail); st != presence.GatewayUnknown && st != g.State &&
			(st == presence.GatewayDown || g.State != presence.GatewayUp) {
			g.State, g.Detail = st, detail
			if st == presence.GatewayDown {
				g.RTT = 0
			}
		}
	}
	if g.Detail == "" {
		g.Detail = detail
	}
	p.gateways[id] = g
	return g
}

func (p *Presence) sortedContacts(id string) []*contact {
	cs := make([]*contact, 0, len(p.contacts[id]))
	for _, c := range p.contacts[id] {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].uri < cs[j].uri })
	return cs
}

// Snapshot rebuilds the node's registrations and gateways from the
// endpoints a resync read, keeping the contacts events reported for the
// endpoints still online. aors, when it has an endpoint's entry, is the
// contact list its AOR reported (the "contact" attribute of
// GET /asterisk/config/dynamic/res_pjsip/aor/{id}, which lists registered
// contacts too): it replaces what events said, keeping the status and RTT
// of the contacts still there. Calls are the caller's (Calls.Live).
func (p *Presence) Snapshot(eps []Endpoint, aors map[string][]string, now time.Time) presence.Snapshot {
	var s presence.Snapshot
	seen := make(map[string]bool, len(eps))
	clear(p.placeholders)
	for _, ep := range eps {
		if !strings.EqualFold(ep.Technology, "PJSIP") || ep.Resource == "" {
			continue
		}
		id := ep.Resource
		seen[id] = true
		if p.isGateway(id) {
			detail := ""
			if ep.State == "offline" {
				detail = "offline" // no reachable contact: down, whatever the last event said
			} else if !p.contactStatusKnown(id) {
				// No event said how its contacts are (a pjsip.conf trunk
				// qualified before Switchboard connected, or read while
				// not yet a gateway): the endpoint's state decides.
				detail = ep.State
			}
			s.Gateways = append(s.Gateways, p.gateway(id, detail, now))
			continue
		}
		if ep.State != "online" {
			delete(p.contacts, id)
			continue
		}
		if list, ok := aors[id]; ok {
			p.setContacts(id, list, now)
		}
		p.inferStatus(id)
		cs := p.sortedContacts(id)
		if len(cs) == 0 {
			user, domain := p.userDomain(id)
			p.placeholders[id] = true
			s.Registrations = append(s.Registrations, presence.Registration{
				User: user, Domain: domain, Contact: PlaceholderContact(id),
				Status: presence.ContactUnknown, UpdatedAt: now,
			})
			continue
		}
		for _, c := range cs {
			s.Registrations = append(s.Registrations, p.registration(id, c))
		}
	}
	for id := range p.contacts {
		if !seen[id] {
			delete(p.contacts, id)
		}
	}
	for id, ds := range p.details {
		for uri := range ds {
			if p.contacts[id][uri] == nil {
				delete(ds, uri)
			}
		}
		if len(ds) == 0 {
			delete(p.details, id)
		}
	}
	for id := range p.gateways {
		if !seen[id] {
			delete(p.gateways, id)
		}
	}
	return s
}

// inferStatus gives the contacts of online endpoint id that no event
// reported on (those read at a resync) the status Asterisk must have
// given them, which ARI cannot read (no contact_status type): a contact
// Asterisk does not qualify (qualify_frequency 0) is NonQualified; and
// since Asterisk reports an endpoint whose AOR qualifies its contacts
// online only while one of them is Available (pjsip_options.c counts
// only AVAILABLE contacts), the one contact whose status is unknown
// while no other is known Reachable is Reachable. Its round-trip time
// stays unknown (0) until a ContactStatusChange: Asterisk sends one only
// when the status changes, and reports the time nowhere else over ARI.
func (p *Presence) inferStatus(id string) {
	var open []*contact
	for _, c := range p.contacts[id] {
		if c.status != "" {
			if c.status == "Reachable" {
				return
			}
			continue
		}
		d, ok := p.details[id][c.uri]
		if !ok {
			return // not known whether Asterisk qualifies it
		}
		if d.QualifySecs == 0 {
			c.status = "NonQualified"
			continue
		}
		open = append(open, c)
	}
	if len(open) == 1 {
		open[0].status = "Reachable"
	}
}

// setContacts makes uris the contacts of endpoint id.
func (p *Presence) setContacts(id string, uris []string, now time.Time) {
	old := p.contacts[id]
	cs := make(map[string]*contact, len(uris))
	for _, u := range uris {
		if c := old[u]; c != nil {
			cs[u] = c
		} else {
			cs[u] = &contact{uri: u, at: now}
		}
	}
	if len(cs) == 0 {
		delete(p.contacts, id)
		return
	}
	p.contacts[id] = cs
}

// aorContacts reads the contact URIs out of an AOR's fields.
func aorContacts(fs []Field) []string {
	var out []string
	for _, f := range fs {
		if f.Attribute != "contact" {
			continue
		}
		for _, c := range strings.Split(f.Value, ",") {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

// SetRegistrations records the outbound registration state of gateways
// (from res_prometheus) and returns the gateways whose state changed, to
// be written to the feed. A nil map means the state is unknown for all.
func (p *Presence) SetRegistrations(regs map[string]presence.RegistrationState, now time.Time) []presence.Gateway {
	var changed []presence.Gateway
	for id, g := range p.gateways {
		want, ok := regs[id]
		if !ok {
			want = presence.RegUnknown
		}
		if g.Registration != want {
			g.Registration, g.UpdatedAt = want, now
			p.gateways[id] = g
			changed = append(changed, g)
		}
	}
	p.regs = regs
	if p.regs == nil {
		p.regs = map[string]presence.RegistrationState{}
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].Name < changed[j].Name })
	return changed
}

// GatewayHosts returns the host:port of each gateway's known contacts, to
// match res_prometheus's server URIs against.
func (p *Presence) GatewayHosts() map[string]string {
	hosts := map[string]string{}
	for id := range p.gateways {
		for _, c := range p.contacts[id] {
			if a := uriHostPort(c.uri); a != "" {
				hosts[a] = id
			}
		}
	}
	return hosts
}

// contactStatus maps Asterisk's contact status onto presence's.
func contactStatus(s string) presence.ContactStatus {
	switch s {
	case "Reachable":
		return presence.ContactReachable
	case "Unreachable":
		return presence.ContactUnreachable
	}
	return presence.ContactUnknown // NonQualified, Unknown, Created
}

// contactGatewayState maps a contact status, peer status or endpoint
// state onto a gateway state.
// contactStatusKnown reports whether an event gave the status of any
// contact of endpoint id.
func (p *Presence) contactStatusKnown(id string) bool {
	for _, c := range p.contacts[id] {
		if contactGatewayState(c.status) != presence.GatewayUnknown {
			return true
		}
	}
	return false
}

func contactGatewayState(s string) presence.GatewayState {
	switch s {
	case "Reachable", "online":
		return presence.GatewayUp
	case "Unreachable", "Removed", "offline":
		return presence.GatewayDown
	}
	return presence.GatewayUnknown
}

// contactAddress returns the host:port and transport of a SIP URI such as
// "sip:1001@127.0.0.1:5061;transport=tcp" (udp unless it says otherwise,
// tls for sips).
func contactAddress(uri string) (addr, transport string) {
	rest, ok := strings.CutPrefix(uri, "sip:")
	transport = "udp"
	if !ok {
		if rest, ok = strings.CutPrefix(uri, "sips:"); !ok {
			return "", ""
		}
		transport = "tls"
	}
	rest, params, _ := strings.Cut(rest, ";")
	rest, _, _ = strings.Cut(rest, "?")
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	for _, p := range strings.Split(params, ";") {
		if v, ok := strings.CutPrefix(strings.ToLower(p), "transport="); ok && v != "" {
			transport = v
		}
	}
	if _, _, err := net.SplitHostPort(rest); err != nil {
		port := "5060"
		if transport == "tls" || transport == "wss" {
			port = "5061"
		}
		rest = net.JoinHostPort(strings.Trim(rest, "[]"), port)
	}
	return rest, transport
}
