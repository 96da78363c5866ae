// Package aritest is a loopback fake of Asterisk 23's ARI for tests: the
// REST answers and the event WebSocket of a real node, replayed from
// recordings (testdata/, copied from ../shared/testdata/asterisk), call
// control (originate, hangup), and knobs to drop or stall the socket, fail
// or slow down requests.
//
// The fake keeps the state a real node would report over REST in step with
// the events pushed through it: an event's endpoint sets that endpoint's
// state, ContactStatusChange adds or removes the AOR's contact (which
// GET /asterisk/config/dynamic/res_pjsip/aor/{id} lists, as Asterisk
// does, and whose contact object .../contact/{aor;@md5} serves as
// recorded, with SetContact's fields), and channel events add, update
// and remove channels. So a test
// pushes what happens and the adapter's resync reads the matching state.
package aritest

import (
	"bytes"
	"cmp"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// loadedModules are the modules PUT /asterisk/modules/{name} reloads
// (the others are not running, as far as the fake knows).
var loadedModules = []string{"pbx_config", "res_pjsip", "res_pjsip_outbound_registration", "res_pjsip_endpoint_identifier_ip", "app_voicemail", "res_pjsip_mwi"}

// The credentials the fake accepts.
const (
	User     = "switchboard"
	Password = "secret"
)

// Server is the fake ARI of one node.
type Server struct {
	// URL is ARI's base URL, ending in /ari.
	URL string
	hs  *httptest.Server

	mu        sync.Mutex
	endpoints []endpoint // in Asterisk's order
	// pjsipTech: the PJSIP technology endpoint exists, which Asterisk
	// creates with the first PJSIP endpoint and never removes; until then
	// a subscription to endpoint:PJSIP is refused (see StartEmpty).
	pjsipTech bool
	contacts  map[string][]string
	// contactFields are the test's fields of contact objects (SetContact),
	// by contact id, laid over the recorded contact object.
	contactFields map[string]map[string]string
	// chanVars are the test's answers to GET /channels/{id}/variable
	// (SetChannelVar), by channel id and variable.
	chanVars map[string]map[string]string
	channels []channel
	metrics  []byte
	subs     map[string][]string // app → explicit event sources
	sockets  map[*socket]struct{}
	stalled  map[*socket]struct{} // connected but silent (StallSockets)
	pings    atomic.Int64
	failNext []int
	delay    time.Duration
	connects int
	requests []string // "METHOD /path?query" of every request
	// Dynamic configuration (config.go): objects by "type/id", those
	// from pjsip.conf, and those whose PUT is refused.
	config  map[string][]tuple
	static  map[string]bool
	refused map[string]bool
	// lostRace: the next DELETE of these loses a race (LoseDeleteRace).
	lostRace map[string]bool
	// Call control (control.go).
	originated []Originated
	hungUp     []Hangup
	seq        int
	sockWG     sync.WaitGroup
	// conns are every TCP connection accepted (REST and sockets), for
	// StallNode.
	conns map[*holeConn]struct{}
	// cfg is the dynamic configuration doctor uses (doctor.go).
	cfg *configState
}

type endpoint struct {
	Technology string   `json:"technology"`
	Resource   string   `json:"resource"`
	State      string   `json:"state"`
	ChannelIDs []string `json:"channel_ids"`
}

type channel struct {
	id  string
	raw json.RawMessage
	// answer is when it went Up (the event's timestamp), what
	// CDR(answer,u) reads; linkedid is its caller's, set by Dial, as
	// CHANNEL(linkedid) reads it.
	answer   time.Time
	linkedid string
	// start is its ChannelCreated's timestamp, what CDR(start,u) reads:
	// Asterisk's CDR engine dates a channel by that stasis message.
	start time.Time
}

// New starts a fake node holding the recorded state after the scenario's
// registrations (1001, 1002 and the gateway online, 1003 offline; no
// channels; res_prometheus answering its recorded metrics). It is closed
// when t ends.
func New(t testing.TB) *Server {
	s := &Server{
		contacts:      map[string][]string{},
		contactFields: map[string]map[string]string{},
		chanVars:      map[string]map[string]string{},
		subs:          map[string][]string{},
		sockets:       map[*socket]struct{}{},
		stalled:       map[*socket]struct{}{},
		metrics:       Recorded("res-prometheus-metrics.txt"),
		pjsipTech:     true,
		conns:         map[*holeConn]struct{}{},
	}
	if err := json.Unmarshal(Recorded("endpoints-pjsip.json"), &s.endpoints); err != nil {
		t.Fatalf("aritest: %v", err)
	}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.hs.Listener = &trackListener{Listener: s.hs.Listener, s: s}
	s.hs.Start()
	s.URL = s.hs.URL + "/ari"
	t.Cleanup(s.Close)
	return s
}

// Close drops every socket and stops the server.
func (s *Server) Close() {
	s.DropSockets()
	s.mu.Lock()
	stalled := make([]*socket, 0, len(s.stalled))
	for so := range s.stalled {
		stalled = append(stalled, so)
	}
	s.mu.Unlock()
	for _, so := range stalled {
		so.close()
	}
	s.hs.CloseClientConnections()
	s.mu.Lock()
	for c := range s.conns {
		c.Conn.Close() // a stalled one ignores Close
	}
	s.mu.Unlock()
	s.hs.Close()
	s.sockWG.Wait()
}

// StartEmpty makes the node one just started with no PJSIP endpoint at
// all, as a fresh Asterisk whose endpoints all come from Switchboard's
// push: no endpoints, contacts or channels; until an endpoint appears
// (SetEndpoints, or an event naming one) GET /endpoints/PJSIP answers 404
// "No Endpoints found - invalid tech PJSIP" and a subscription to
// endpoint:PJSIP 422 "Event source does not exist", as Asterisk 23.4.1
// answers them (testdata/error-endpoints-invalid-tech-404.http,
// error-event-source-422.http), while GET /endpoints answers [].
func (s *Server) StartEmpty() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endpoints, s.channels, s.pjsipTech = []endpoint{}, nil, false
	clear(s.contacts)
}

// SetEndpoints replaces the endpoints with the given ids, all in state.
func (s *Server) SetEndpoints(state string, ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endpoints = s.endpoints[:0]
	clear(s.contacts)
	s.pjsipTech = s.pjsipTech || len(ids) > 0
	for _, id := range ids {
		s.endpoints = append(s.endpoints, endpoint{Technology: "PJSIP", Resource: id, State: state, ChannelIDs: []string{}})
	}
}

// SetMetrics replaces res_prometheus's answer; nil makes /metrics answer
// 404, as when the module is not loaded.
func (s *Server) SetMetrics(text []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics = text
}

// FailNext makes the next requests (REST or WebSocket upgrade), one per
// status, answer these statuses.
func (s *Server) FailNext(status ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, status...)
}

// Delay makes every request wait d (or until the client gives up) before
// it is answered; 0 restores prompt answers.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// DropSockets cuts every event socket, as a network failure or an
// Asterisk restart would, and forgets the applications' explicit
// subscriptions, which die with their socket. New connections are
// accepted at once.
func (s *Server) DropSockets() {
	for _, so := range s.takeSockets() {
		so.close()
	}
}

// takeSockets forgets every connected socket and the applications'
// explicit subscriptions, which die with their socket, and returns the
// sockets.
func (s *Server) takeSockets() []*socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	socks := make([]*socket, 0, len(s.sockets))
	for so := range s.sockets {
		socks = append(socks, so)
	}
	clear(s.sockets)
	clear(s.subs)
	return socks
}

// ShutdownSockets closes every event socket with a close frame (status
// 1000, no reason), as Asterisk 23.4.1 does on the CLI's `ari shutdown
// websocket session` (seen live, TestLive/Reconnect/ClosedByAsterisk),
// and forgets the applications' explicit subscriptions. New connections
// are accepted at once.
func (s *Server) ShutdownSockets() {
	for _, so := range s.takeSockets() {
		<-so.accepted
		if so.ws != nil {
			go so.ws.Close(websocket.StatusNormalClosure, "") // waits for the client's answer
		}
	}
}

// StallSockets makes every connected event socket a black hole, as when
// the node vanishes without closing TCP (host down, NAT or firewall state
// lost): the connection stays open and the client's frames are still
// read, but nothing is sent on it any more (no event, no pong, no answer
// to a close). The stalled sockets no longer count as connected, their
// applications' explicit subscriptions are forgotten, and new connections
// are served normally. A stalled socket ends when the client closes it.
func (s *Server) StallSockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for so := range s.sockets {
		so.stalled.Store(true)
		s.stalled[so] = struct{}{}
	}
	clear(s.sockets)
	clear(s.subs)
}

// StallNode makes the whole node vanish without closing TCP, as a host
// that went down or a lost NAT or firewall state does: every connection
// open now goes dark, the event sockets as with StallSockets and also the
// REST connections a client keeps alive in its pool, whose requests then
// get no answer. New connections are served normally, as by a node that
// is reachable again.
func (s *Server) StallNode() {
	s.StallSockets()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.stalled.Store(true)
	}
}

// Stalled returns how many stalled sockets the clients have not closed
// yet.
func (s *Server) Stalled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stalled)
}

// Pings returns how many WebSocket pings the clients sent.
func (s *Server) Pings() int64 { return s.pings.Load() }

// Sockets returns how many event sockets are connected.
func (s *Server) Sockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sockets)
}

// Connects returns how many event sockets were ever accepted.
func (s *Server) Connects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// WaitSocket waits up to timeout for an accepted event socket: an
// adapter then gets every event pushed from now on (it reads events
// before its resync); it reports whether one came.
func (s *Server) WaitSocket(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		accepted := make([]chan struct{}, 0, len(s.sockets))
		for so := range s.sockets {
			accepted = append(accepted, so.accepted)
		}
		s.mu.Unlock()
		for _, a := range accepted {
			select {
			case <-a:
				return true
			default:
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(left, 5*time.Millisecond))
	}
}

// Subscriptions returns the explicit event sources of app.
func (s *Server) Subscriptions(app string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.subs[app])
}

// Requests returns every request received, as "METHOD /path?query".
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Push updates the node's state from each event and sends it to every
// connected socket entitled to it, as Asterisk 23.4.1 does (seen live):
// EndpointStateChange only to an application without subscribeAll that
// subscribed to endpoint:PJSIP, never to a subscribeAll one, with or
// without that subscription; such an application learns an endpoint's
// state from PeerStatusChange. It returns how many sockets got the last
// event.
func (s *Server) Push(events ...[]byte) int {
	n := 0
	for _, ev := range events {
		ev = bytes.TrimSpace(ev)
		if len(ev) == 0 {
			continue
		}
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(ev, &head)
		s.mu.Lock()
		s.track(ev)
		var to []*socket
		for so := range s.sockets {
			if head.Type == "EndpointStateChange" && (so.subscribeAll || !slices.Contains(s.subs[so.app], "endpoint:PJSIP")) {
				continue
			}
			to = append(to, so)
		}
		s.mu.Unlock()
		n = 0
		for _, so := range to {
			if so.send(ev) == nil {
				n++
			}
		}
	}
	return n
}

// ReplayScenario pushes the recorded scenario: the subscribeAll stream
// with the EndpointStateChange events of the endpoint stream merged in by
// timestamp, which only an application subscribed to endpoint:PJSIP
// without subscribeAll receives (see Push).
func (s *Server) ReplayScenario() {
	s.Push(ScenarioEvents()...)
}

// track applies an event to the REST state. s.mu is held.
func (s *Server) track(ev []byte) {
	var w struct {
		Type      string    `json:"type"`
		Timestamp string    `json:"timestamp"`
		Endpoint  *endpoint `json:"endpoint"`
		Contact   *struct {
			URI    string `json:"uri"`
			Status string `json:"contact_status"`
			AOR    string `json:"aor"`
		} `json:"contact_info"`
		Channel json.RawMessage `json:"channel"`
		Caller  json.RawMessage `json:"caller"`
		Peer    json.RawMessage `json:"peer"`
	}
	if json.Unmarshal(ev, &w) != nil {
		return
	}
	if e := w.Endpoint; e != nil && e.Resource != "" {
		i := slices.IndexFunc(s.endpoints, func(x endpoint) bool { return x.Resource == e.Resource && x.Technology == e.Technology })
		if e.ChannelIDs == nil {
			e.ChannelIDs = []string{}
		}
		if i < 0 {
			s.endpoints = append(s.endpoints, *e)
			s.pjsipTech = s.pjsipTech || e.Technology == "PJSIP"
		} else {
			s.endpoints[i].State = e.State
		}
		if c := w.Contact; c != nil && c.URI != "" {
			aor := c.AOR
			if aor == "" {
				aor = e.Resource
			}
			list := slices.DeleteFunc(s.contacts[aor], func(u string) bool { return u == c.URI })
			if c.Status != "Removed" {
				list = append(list, c.URI)
			}
			s.contacts[aor] = list
		}
	}
	switch w.Type {
	case "ChannelDestroyed":
		s.channels = slices.DeleteFunc(s.channels, func(c channel) bool { return c.id == channelID(w.Channel) })
	case "Dial":
		s.putChannel(w.Caller)
		s.putChannel(w.Peer)
		if caller, peer := s.channel(channelID(w.Caller)), s.channel(channelID(w.Peer)); caller != nil && peer != nil && peer.linkedid == "" {
			peer.linkedid = cmp.Or(caller.linkedid, caller.id)
		}
	default:
		s.putChannel(w.Channel)
		var st struct {
			State string `json:"state"`
		}
		_ = json.Unmarshal(w.Channel, &st)
		c := s.channel(channelID(w.Channel))
		ts, err := time.Parse(ariTimeLayout, w.Timestamp)
		if c != nil && err == nil {
			if st.State == "Up" && c.answer.IsZero() {
				c.answer = ts
			}
			if w.Type == "ChannelCreated" && c.start.IsZero() {
				c.start = ts
			}
		}
	}
}

// channel returns the live channel id, nil when there is none. s.mu is
// held.
func (s *Server) channel(id string) *channel {
	for i := range s.channels {
		if s.channels[i].id == id {
			return &s.channels[i]
		}
	}
	return nil
}

func channelID(raw json.RawMessage) string {
	var c struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.ID
}

func (s *Server) putChannel(raw json.RawMessage) {
	id := channelID(raw)
	if id == "" {
		return
	}
	raw = slices.Clone(raw)
	for i := range s.channels {
		if s.channels[i].id == id {
			s.channels[i].raw = raw
			return
		}
	}
	s.channels = append(s.channels, channel{id: id, raw: raw})
}

// serve answers every request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
	delay := s.delay
	fail := 0
	if len(s.failNext) > 0 {
		fail, s.failNext = s.failNext[0], s.failNext[1:]
	}
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if fail != 0 {
		writeJSON(w, fail, fmt.Sprintf(`{"message":"%s"}`, http.StatusText(fail)))
		return
	}
	if r.URL.Path == "/metrics" {
		s.mu.Lock()
		m := s.metrics
		disabled := s.cfg != nil && s.cfg.metricsDisabled
		s.mu.Unlock()
		if disabled { // doctor.go
			w.Header().Set("Server", "Asterisk/23.4.1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if m == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(m)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/ari/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != User || p != Password {
		w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
		writeJSON(w, http.StatusUnauthorized, `{"message":"Authentication required"}`)
		return
	}
	parts := strings.Split(path, "/")
	switch {
	case r.Method == http.MethodGet && path == "events":
		s.serveEvents(w, r)
	case r.Method == http.MethodGet && (path == "endpoints" || path == "endpoints/PJSIP"):
		s.mu.Lock()
		b, _ := json.Marshal(s.endpoints)
		known := s.pjsipTech
		s.mu.Unlock()
		if path == "endpoints/PJSIP" && !known { // see StartEmpty
			writeJSON(w, http.StatusNotFound, `{"message":"No Endpoints found - invalid tech PJSIP"}`)
			return
		}
		writeJSON(w, http.StatusOK, string(b))
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "endpoints" && parts[1] == "PJSIP":
		s.mu.Lock()
		i := slices.IndexFunc(s.endpoints, func(e endpoint) bool { return e.Resource == parts[2] })
		var b []byte
		if i >= 0 {
			b, _ = json.Marshal(s.endpoints[i])
		}
		s.mu.Unlock()
		if i < 0 {
			writeJSON(w, http.StatusNotFound, `{"message":"Endpoint not found"}`)
			return
		}
		writeJSON(w, http.StatusOK, string(b))
	case r.Method == http.MethodPost && path == "channels":
		s.originate(w, r)
	case r.Method == http.MethodDelete && len(parts) == 2 && parts[0] == "channels":
		s.hangup(w, r, parts[1])
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "channels" && parts[2] == "variable":
		s.serveChannelVar(w, parts[1], r.URL.Query().Get("variable"))
	case r.Method == http.MethodGet && path == "channels":
		s.mu.Lock()
		raws := make([]json.RawMessage, 0, len(s.channels))
		for _, c := range s.channels {
			raws = append(raws, c.raw)
		}
		s.mu.Unlock()
		b, _ := json.Marshal(raws)
		writeJSON(w, http.StatusOK, string(b))
	case r.Method == http.MethodGet && path == "asterisk/info":
		writeJSON(w, http.StatusOK, string(Recorded("asterisk-info.json")))
	case r.Method == http.MethodGet && len(parts) == 6 && path == "asterisk/config/dynamic/res_pjsip/aor/"+parts[5] && s.knownEndpoint(parts[5]):
		s.serveAOR(w, parts[5])
	case len(parts) == 6 && strings.HasPrefix(path, "asterisk/config/dynamic/res_pjsip/") &&
		parts[4] != "contact" && parts[4] != "contact_status" && s.serveConfig(w, r, parts[4], parts[5]):
	case r.Method == http.MethodGet && len(parts) == 6 && path == "asterisk/config/dynamic/res_pjsip/contact/"+parts[5]:
		s.serveContact(w, parts[5])
	case r.Method == http.MethodGet && len(parts) == 6 && parts[4] == "contact_status":
		// Not a sorcery type in Asterisk 23: no status or RTT over ARI.
		writeJSON(w, http.StatusNotFound, `{"message":"objectType 'contact_status' not found"}`)
	case r.Method == http.MethodPut && len(parts) == 3 && parts[0] == "asterisk" && parts[1] == "modules":
		// A module reload, answered as Asterisk 23.4.1 did: 204 for a
		// running module, 404 with this message for any other.
		if !slices.Contains(loadedModules, parts[2]) {
			writeJSON(w, http.StatusNotFound, `{"message":"Module not found in running modules"}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete && len(parts) == 6 && strings.HasPrefix(path, "asterisk/config/dynamic/res_pjsip/"):
		s.deleteObject(w, parts[4], parts[5])
	case len(parts) == 2 && parts[0] == "applications" && r.Method == http.MethodGet:
		s.serveApp(w, parts[1], "")
	case len(parts) == 3 && parts[0] == "applications" && parts[2] == "subscription" && r.Method == http.MethodPost:
		src := r.URL.Query().Get("eventSource")
		if src == "" {
			writeJSON(w, http.StatusBadRequest, `{"message":"Missing parameter eventSource"}`)
			return
		}
		s.serveApp(w, parts[1], src)
	case s.serveDoctor(w, r, path): // doctor.go
	default:
		writeJSON(w, http.StatusNotFound, `{"message":"Not found"}`)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Server", "Asterisk/23.4.1")
	w.Header().Set("Cache-Control", "no-cache, no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// serveApp answers GET /applications/{app}, adding src to its explicit
// subscriptions first when set. An application exists only while a socket
// of it is connected. As in Asterisk 23.4.1, a subscribeAll application
// lists the topics of all channels, bridges, endpoints and device states,
// and an explicit endpoint subscription is not listed beside the one of
// all endpoints, which covers it; any other lists its explicit sources.
func (s *Server) serveApp(w http.ResponseWriter, app, src string) {
	s.mu.Lock()
	exists, all := false, false
	for so := range s.sockets {
		if so.app == app {
			exists, all = true, all || so.subscribeAll
		}
	}
	if exists && src == "endpoint:PJSIP" && !s.pjsipTech {
		s.mu.Unlock()
		writeJSON(w, http.StatusUnprocessableEntity, `{"message":"Event source does not exist"}`)
		return
	}
	if exists && src != "" && !slices.Contains(s.subs[app], src) {
		s.subs[app] = append(s.subs[app], src)
	}
	eps := []string{}
	for _, src := range s.subs[app] {
		eps = append(eps, strings.TrimPrefix(src, "endpoint:"))
	}
	s.mu.Unlock()
	if !exists {
		writeJSON(w, http.StatusNotFound, `{"message":"Application not found"}`)
		return
	}
	a := map[string]any{
		"name": app, "channel_ids": []string{}, "bridge_ids": []string{}, "endpoint_ids": eps, "device_names": []string{},
		"events_allowed": []string{}, "events_disallowed": []string{},
	}
	if all {
		a["channel_ids"], a["bridge_ids"] = []string{"__AST_CHANNEL_ALL_TOPIC"}, []string{"__AST_BRIDGE_ALL_TOPIC"}
		a["endpoint_ids"], a["device_names"] = []string{"__AST_ENDPOINT_ALL_TOPIC"}, []string{"__AST_DEVICE_STATE_ALL_TOPIC"}
	}
	b, _ := json.Marshal(a)
	writeJSON(w, http.StatusOK, string(b))
}

// serveAOR answers an AOR's dynamic configuration with its contacts, the
// part of Asterisk's answer that matters here.
// knownEndpoint reports whether the node lists endpoint id.
func (s *Server) knownEndpoint(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.endpoints, func(e endpoint) bool { return e.Resource == id })
}

func (s *Server) serveAOR(w http.ResponseWriter, id string) {
	s.mu.Lock()
	known := slices.ContainsFunc(s.endpoints, func(e endpoint) bool { return e.Resource == id })
	contacts := strings.Join(s.contacts[id], ",")
	s.mu.Unlock()
	if !known {
		writeJSON(w, http.StatusNotFound, `{"message":"Object not found"}`)
		return
	}
	fields := []map[string]string{
		{"attribute": "max_contacts", "value": "1"},
		{"attribute": "contact", "value": contacts},
		{"attribute": "qualify_frequency", "value": "10"},
	}
	b, _ := json.Marshal(fields)
	writeJSON(w, http.StatusOK, string(b))
}

// SetChannelVar sets the answer to GET /channels/{id}/variable?variable=name.
// Without it, CHANNEL(audionativeformat) of any channel is the recorded
// "(ulaw)" of an answered leg; CDR(answer,u) is the time the channel's
// events showed it Up, "<epoch>.<µs>" as Asterisk 23.4.1 answers it;
// CHANNEL(linkedid) is the id of the channel that dialled it (its Dial
// event), else its own; every other variable is empty.
func (s *Server) SetChannelVar(id, name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chanVars[id] == nil {
		s.chanVars[id] = map[string]string{}
	}
	s.chanVars[id][name] = value
}

// serveChannelVar answers GET /channels/{id}/variable as Asterisk 23.4.1
// does: {"value":…} for a live channel (a function such as
// CHANNEL(audionativeformat) is evaluated), 404 "Channel not found" for
// any other.
func (s *Server) serveChannelVar(w http.ResponseWriter, id, name string) {
	s.mu.Lock()
	var ch channel
	if c := s.channel(id); c != nil {
		ch = *c
	}
	v, set := s.chanVars[id][name]
	s.mu.Unlock()
	value := func(v string) {
		b, _ := json.Marshal(map[string]string{"value": v})
		writeJSON(w, http.StatusOK, string(b))
	}
	switch {
	case ch.id == "":
		writeJSON(w, http.StatusNotFound, `{"message":"Channel not found"}`)
	case set:
		value(v)
	case name == "CDR(answer,u)":
		// The channel's own CDR object, to the microsecond, as recorded
		// (channel-var-caller-1001-cdr-answer-u.json); "" before the answer
		// (not recorded).
		if ch.answer.IsZero() {
			value("")
		} else {
			value(fmt.Sprintf("%d.%06d", ch.answer.Unix(), ch.answer.Nanosecond()/1000))
		}
	case name == "CDR(start,u)":
		// Asterisk's CDR start (recorded:
		// channel-var-caller-1001-cdr-start-u.json, .922298 against
		// creationtime .922): the ChannelCreated's timestamp, else the
		// channel's creationtime.
		t := ch.start
		if t.IsZero() {
			var c struct {
				Created string `json:"creationtime"`
			}
			_ = json.Unmarshal(ch.raw, &c)
			t, _ = time.Parse(ariTimeLayout, c.Created)
		}
		if t.IsZero() {
			value("")
		} else {
			value(fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000))
		}
	case name == "CHANNEL(linkedid)":
		value(cmp.Or(ch.linkedid, ch.id))
	case name == "CHANNEL(audionativeformat)":
		writeJSON(w, http.StatusOK, string(Recorded("channel-var-caller-1001-channel-audionativeformat.json")))
	default:
		writeJSON(w, http.StatusOK, `{"value":""}`)
	}
}

// SetContact sets fields (user_agent, expiration_time, via_addr,
// via_port, qualify_frequency…) of the contact object of uri registered
// to aor, over the recorded object (config-contact-1001.json) that the
// fake serves for every registered contact. Without it a contact has no
// user agent, came from its own address and expires an hour after it was
// read.
func (s *Server) SetContact(aor, uri string, fields map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := ContactID(aor, uri)
	if s.contactFields[id] == nil {
		s.contactFields[id] = map[string]string{}
	}
	maps.Copy(s.contactFields[id], fields)
}

// ContactID is the sorcery id Asterisk gives contact uri of aor:
// "aor;@" and the hex MD5 of the URI.
func ContactID(aor, uri string) string {
	sum := md5.Sum([]byte(uri))
	return aor + ";@" + hex.EncodeToString(sum[:])
}

// serveContact answers GET .../res_pjsip/contact/{id} as Asterisk 23.4.1
// does: the recorded object with this contact's uri, endpoint and fields,
// for a registered contact; 404 for any other id (an AOR's name alone
// included, as recorded).
func (s *Server) serveContact(w http.ResponseWriter, id string) {
	aor, _, ok := strings.Cut(id, ";@")
	s.mu.Lock()
	uri := ""
	if ok {
		for _, u := range s.contacts[aor] {
			if ContactID(aor, u) == id {
				uri = u
			}
		}
	}
	set := maps.Clone(s.contactFields[id])
	s.mu.Unlock()
	if uri == "" {
		writeJSON(w, http.StatusNotFound, fmt.Sprintf(`{"message":"Object with id '%s' not found"}`, id))
		return
	}
	var fields []map[string]string
	if err := json.Unmarshal(Recorded("config-contact-1001.json"), &fields); err != nil {
		panic(err)
	}
	// The REGISTER came from the contact's own address (no NAT) unless
	// the test says otherwise.
	hostPort, _, _ := strings.Cut(uri[strings.LastIndexByte(uri, '@')+1:], ";")
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		host, port = hostPort, "5060"
	}
	over := map[string]string{
		"uri": uri, "endpoint": aor, "user_agent": "", "call_id": "",
		"via_addr": host, "via_port": port,
		"expiration_time": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
	}
	maps.Copy(over, set)
	for _, f := range fields {
		if v, ok := over[f["attribute"]]; ok {
			f["value"] = v
		}
	}
	b, _ := json.Marshal(fields)
	writeJSON(w, http.StatusOK, string(b))
}

// deleteObject deletes a PJSIP object as ARI's dynamic configuration
// does, with what Asterisk 23.4.1 does to the node's state (seen live,
// TestLive/Presence): a deleted endpoint leaves GET /endpoints and a
// deleted AOR takes its registered contacts along, and no event at all
// tells an application, not even a ContactStatusChange "Removed". Auths
// and the other types change nothing the fake serves.
func (s *Server) deleteObject(w http.ResponseWriter, typ, id string) {
	s.mu.Lock()
	found := true
	switch typ {
	case "endpoint":
		i := slices.IndexFunc(s.endpoints, func(e endpoint) bool { return e.Technology == "PJSIP" && e.Resource == id })
		if found = i >= 0; found {
			s.endpoints = slices.Delete(s.endpoints, i, i+1)
		}
	case "aor":
		delete(s.contacts, id)
	}
	if s.dropObject(typ, id) {
		found = true
	}
	s.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, `{"message":"Object not found"}`)
		return
	}
	w.Header().Set("Server", "Asterisk/23.4.1")
	w.WriteHeader(http.StatusNoContent)
}

// serveEvents accepts an event socket.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	app := r.URL.Query().Get("app")
	if app == "" {
		writeJSON(w, http.StatusBadRequest, `{"message":"Missing param app"}`)
		return
	}
	if !offersARI(r) {
		// res_http_websocket's websocket_bad_request.
		w.Header().Set("Sec-WebSocket-Version", "7, 8, 13")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	so := &socket{app: app, subscribeAll: r.URL.Query().Get("subscribeAll") == "true", accepted: make(chan struct{})}
	// Registered before the client hears the 101, so that the application
	// exists for the subscription it may send at once, as in Asterisk; no
	// event goes out before the 101 (send waits for accepted).
	s.mu.Lock()
	s.sockets[so] = struct{}{}
	s.connects++ // before the client hears the 101 too
	s.sockWG.Add(1)
	s.mu.Unlock()
	err := so.accept(w, r, &s.pings)
	if err != nil { // not an upgrade after all (a 426)
		s.mu.Lock()
		s.connects--
		s.mu.Unlock()
	}
	go func() {
		defer s.sockWG.Done()
		if err == nil {
			so.readLoop()
		}
		so.close()
		s.mu.Lock()
		delete(s.sockets, so)
		delete(s.stalled, so)
		s.mu.Unlock()
	}()
}
