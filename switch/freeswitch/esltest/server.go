// Package esltest is a loopback fake of FreeSWITCH 1.10's inbound event
// socket (mod_event_socket) for tests, in the style of net/http/httptest:
// the replies, events and API answers of a real node, replayed from
// recordings (testdata/, copied from ../shared/testdata/freeswitch), plus
// the state behind them (registrations, gateways, live channels) and
// knobs to drop, freeze or refuse connections.
//
// What it reproduces, byte for byte where recorded:
//
//   - The session: auth/request on accept; auth <pw> answered +OK accepted
//     or -ERR invalid followed by a disconnect notice and close; commands
//     before auth answered -ERR command not found (the connection stays
//     open, as mod_event_socket does); exit answered +OK bye, a disconnect
//     notice and close; unknown commands -ERR command not found.
//   - Subscriptions: event plain|json <names…> (ALL, event names, CUSTOM
//     followed by subclasses: every word after CUSTOM is a subclass, as in
//     mod_event_socket), nixevent, noevents, filter. Event frames carry
//     Content-Length before Content-Type, as recorded. The xml format is
//     accepted but no event is sent in it.
//   - api and bgapi (with an optional Job-UUID header), the API event each
//     call fires, BACKGROUND_JOB with its own Content-Length body. The
//     answers of status, sofia status|xmlstatus, reloadxml, sofia profile
//     <p> rescan|killgw <gw> replay the recordings; sofia xmlstatus profile
//     <p> reg, sofia status profile <p> reg, sofia [xml]status gateway
//     [<gw>], show channels|calls|registrations as json are rendered from
//     the fake's state in the recorded format; originate and uuid_kill
//     play calls; module_exists, xml_locate (configuration files and the
//     static directory) and version answer what `switchboard doctor`
//     reads (doctor.go). Other commands answer -ERR <cmd> Command not
//     found!.
//
// State follows events: every event the fake sends, whether a test pushed
// it or the fake generated it, updates the tables the API answers read,
// as FreeSWITCH's core database follows its own events. The generated
// events (registrations, gateway states, calls) are recorded events
// rewritten (users, uuids, times), so an adapter sees FreeSWITCH's real
// header set, URL encoding and quirks. Event-Sequence increases across
// everything the fake generates; pushed events are sent verbatim.
//
// The fake node starts with gateway gw1 of profile external REGED and UP
// (as recorded), no registration and no channel.
package esltest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DefaultPassword is mod_event_socket's default password.
const DefaultPassword = "ClueCon"

// Option configures a Server.
type Option func(*options)

type options struct {
	password  string
	cdrURL    string
	cdrClient *http.Client
	cdrTries  int
	cdrDelay  time.Duration
	cdrErrDir string
	loc       *time.Location
	heartbeat time.Duration
}

// WithPassword sets the event socket password (default ClueCon).
func WithPassword(pw string) Option { return func(o *options) { o.password = pw } }

// WithJSONCDR makes the fake behave as mod_json_cdr configured with url
// (encode=false): every call leg that ends is POSTed to url?uuid=<leg
// uuid> with Content-Type application/json and User-Agent
// freeswitch-json/1.0, whether or not an ESL client is connected, and
// tried again on a non-2xx answer or a transport error (see
// WithJSONCDRRetry). A nil client is http.DefaultClient.
func WithJSONCDR(url string, client *http.Client) Option {
	return func(o *options) { o.cdrURL, o.cdrClient = url, client }
}

// WithJSONCDRRetry sets how many times in all a json_cdr POST is tried
// and the pause between tries (default 3 tries, 50 ms apart;
// mod_json_cdr's retries and delay).
func WithJSONCDRRetry(tries int, delay time.Duration) Option {
	return func(o *options) { o.cdrTries, o.cdrDelay = max(1, tries), delay }
}

// WithJSONCDRErrLogDir makes the fake keep every json_cdr record it gave
// up on in dir, as <uuid>.cdr.json holding the body it posted: what
// mod_json_cdr does with its err-log-dir (prefix-a-leg false) once the
// retries are spent.
func WithJSONCDRErrLogDir(dir string) Option { return func(o *options) { o.cdrErrDir = dir } }

// WithLocation sets the node's local time zone, used for
// Event-Date-Local, the *_stamp variables and the show commands' created
// column (default UTC, as in the recording).
func WithLocation(loc *time.Location) Option { return func(o *options) { o.loc = loc } }

// WithHeartbeat makes the node send a HEARTBEAT event every d, as
// FreeSWITCH does every 20 s (default: never; see Server.Heartbeat).
func WithHeartbeat(d time.Duration) Option { return func(o *options) { o.heartbeat = d } }

// Server is the fake event socket of one FreeSWITCH node, listening on
// 127.0.0.1.
type Server struct {
	ln   net.Listener
	opts options

	mu         sync.Mutex
	st         *state
	conns      map[*conn]struct{}
	commands   []string
	logins     []string             // the password of every auth command
	live       map[string]*liveCall // by either leg's uuid
	ports      map[string]string    // user → the port its phone registers from
	otherPorts int                  // ports given to users that are not extensions
	changed    chan struct{}        // closed and replaced when a connection's auth or subscription changes

	sendMu sync.Mutex // serialises event delivery, so that the wire order is the Event-Sequence order
	seq    int64      // the last Event-Sequence sent; sendMu

	doc *doctorState // what doctor reads (doctor.go); mu

	frozen   atomic.Bool
	refusing atomic.Bool

	cdr       *cdrPoster
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New starts a fake node on 127.0.0.1:0. It is closed when t ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{password: DefaultPassword, cdrTries: 3, cdrDelay: 50 * time.Millisecond, loc: time.UTC}
	for _, opt := range opts {
		opt(&o)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("esltest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		ln: ln, opts: o, st: newState(), conns: map[*conn]struct{}{}, live: map[string]*liveCall{},
		ports: map[string]string{}, changed: make(chan struct{}), ctx: ctx, cancel: cancel,
	}
	if o.cdrURL != "" {
		client := o.cdrClient
		if client == nil {
			client = http.DefaultClient
		}
		s.cdr = newCDRPoster(ctx, o.cdrURL, client, o.cdrTries, o.cdrDelay, o.cdrErrDir)
	}
	s.wg.Add(1)
	go s.accept()
	if o.heartbeat > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			tick := time.NewTicker(o.heartbeat)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					s.Heartbeat()
				}
			}
		}()
	}
	t.Cleanup(s.Close)
	return s
}

// Addr returns the listening address, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening, cuts every connection and abandons pending
// json_cdr POSTs.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		_ = s.ln.Close()
		s.DropConnections()
		s.wg.Wait()
		if s.cdr != nil {
			s.cdr.wait()
		}
	})
}

// DropConnections cuts every client connection at once, without a
// disconnect notice, as a crash or a network failure would. The node
// keeps listening.
func (s *Server) DropConnections() {
	for _, c := range s.connList() {
		_ = c.nc.Close()
	}
}

// connList returns the client connections open now.
func (s *Server) connList() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// shutdownNotice is what FreeSWITCH 1.10.12 sends every event socket
// client when mod_event_socket is unloaded (`reload mod_event_socket`,
// FreeSWITCH shutting down) before it closes the connection; recorded
// live.
const shutdownNotice = "Content-Type: text/disconnect-notice\nContent-Length: 31\n\n" +
	"The system is being shut down.\n"

// ReloadEventSocket does what `reload mod_event_socket` (fs_cli -x)
// does to the connected clients: each gets the shutdown disconnect notice
// and its connection is closed; the node listens again at once.
func (s *Server) ReloadEventSocket() {
	for _, c := range s.connList() {
		c.send([]byte(shutdownNotice))
		_ = c.nc.Close()
	}
}

// Freeze makes the node a black hole while on, as when it hangs or the
// network silently drops its packets: connections stay open (new ones
// are accepted) and commands are read and discarded, but nothing is sent:
// no auth/request, no reply, no event. Events generated meanwhile are
// lost for the connected clients (the node's state still follows them).
func (s *Server) Freeze(on bool) { s.frozen.Store(on) }

// Refuse makes the node accept new connections and close them at once
// while on.
func (s *Server) Refuse(on bool) { s.refusing.Store(on) }

// Connections returns how many connections are authenticated now.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.authed {
			n++
		}
	}
	return n
}

// WaitConnected waits up to timeout for an authenticated connection with
// an event subscription; it reports whether there is one.
func (s *Server) WaitConnected(timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok := false
		for c := range s.conns {
			ok = ok || c.authed && c.sub.enabled
		}
		changed := s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

// Commands returns every command line received on an authenticated
// connection, in order ("event plain ALL", "api reloadxml", "bgapi
// status"…); the lines after the first (Job-UUID…) are left out.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// Logins returns the password of every auth command received, accepted
// or refused, in order: how often and with what a client tried to log in.
func (s *Server) Logins() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logins)
}

// notify wakes WaitConnected. s.mu is held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		if s.refusing.Load() {
			_ = nc.Close()
			continue
		}
		c := &conn{s: s, nc: nc, sub: newSubscription()}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			// Closing: DropConnections may have run already.
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
			_ = nc.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.notify()
			s.mu.Unlock()
		}()
	}
}

// conn is one client connection (a mod_event_socket listener).
type conn struct {
	s   *Server
	nc  net.Conn
	wmu sync.Mutex
	// Guarded by s.mu.
	authed  bool
	logging bool
	sub     subscription
	filters []header
}

// send writes one frame, unless the node is frozen.
func (c *conn) send(b []byte) {
	if c.s.frozen.Load() {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.nc.Write(b); err != nil {
		_ = c.nc.Close()
	}
}

func (c *conn) reply(text string) {
	c.send([]byte("Content-Type: command/reply\nReply-Text: " + text + "\n\n"))
}

const disconnectNotice = "Content-Type: text/disconnect-notice\nContent-Length: 67\n\n" +
	"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

func (c *conn) serve() {
	br := bufio.NewReader(c.nc)
	c.send([]byte("Content-Type: auth/request\n\n"))
	for {
		cmd, hdrs, err := readCommand(br)
		if err != nil {
			return
		}
		if c.s.frozen.Load() {
			c.s.mu.Lock()
			if c.authed {
				c.s.commands = append(c.s.commands, cmd)
			}
			c.s.mu.Unlock()
			continue
		}
		if !c.handle(cmd, hdrs) {
			return
		}
	}
}

// readCommand reads one command: a first line, header lines, a blank
// line, and the body when there is a Content-Length header (read and
// dropped: no command the fake models has one). Blank lines before a
// command are skipped, as mod_event_socket does.
func readCommand(br *bufio.Reader) (cmd string, hdrs []header, err error) {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if cmd == "" {
				continue
			}
			break
		}
		if cmd == "" {
			cmd = line
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		hdrs = append(hdrs, header{strings.TrimSpace(name), strings.TrimLeft(value, " ")})
	}
	for _, h := range hdrs {
		if strings.EqualFold(h.name, "Content-Length") {
			n, _ := strconv.Atoi(h.value)
			if _, err := io.CopyN(io.Discard, br, int64(max(0, n))); err != nil {
				return "", nil, err
			}
		}
	}
	return cmd, hdrs, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// handle runs one command as mod_event_socket's parse_command does; it
// returns false when the connection is to be closed.
func (c *conn) handle(cmd string, hdrs []header) bool {
	s := c.s
	s.mu.Lock()
	authed := c.authed
	if authed {
		s.commands = append(s.commands, cmd)
	}
	s.mu.Unlock()

	if hasPrefixFold(cmd, "exit") || strings.HasPrefix(cmd, "...") {
		c.reply("+OK bye")
		c.send([]byte(disconnectNotice))
		return false
	}
	if !authed {
		switch {
		case hasPrefixFold(cmd, "auth "):
			s.mu.Lock()
			s.logins = append(s.logins, cmd[5:])
			s.mu.Unlock()
			if cmd[5:] != s.opts.password {
				c.reply("-ERR invalid")
				c.send([]byte(disconnectNotice))
				return false
			}
			s.mu.Lock()
			c.authed = true
			s.notify()
			s.mu.Unlock()
			c.reply("+OK accepted")
		case hasPrefixFold(cmd, "userauth "):
			// No directory user with esl-password exists on the fake.
			c.reply("-ERR invalid")
			c.send([]byte(disconnectNotice))
			return false
		default:
			c.reply("-ERR command not found")
		}
		return true
	}

	switch {
	case hasPrefixFold(cmd, "filter "):
		c.reply(c.filter(cmd[7:]))
	case hasPrefixFold(cmd, "api "):
		c.api(cmd[4:])
	case hasPrefixFold(cmd, "bgapi "):
		jobUUID := ""
		for _, h := range hdrs {
			if strings.EqualFold(h.name, "Job-UUID") {
				jobUUID = h.value
			}
		}
		c.bgapi(cmd[6:], jobUUID)
	case hasPrefixFold(cmd, "log"):
		level := strings.TrimPrefix(cmd[3:], " ")
		n, ok := logLevels[strings.ToLower(level)]
		if level == "" {
			n, ok = 7, true
		}
		if !ok {
			c.reply("-ERR invalid log level")
		} else {
			// Log lines themselves are never sent.
			s.mu.Lock()
			c.logging = true
			s.mu.Unlock()
			c.reply(fmt.Sprintf("+OK log level %s [%d]", level, n))
		}
	case hasPrefixFold(cmd, "linger"), hasPrefixFold(cmd, "nolinger"):
		c.reply("-ERR not controlling a session")
	case hasPrefixFold(cmd, "nolog"):
		s.mu.Lock()
		was := c.logging
		c.logging = false
		s.mu.Unlock()
		if was {
			c.reply("+OK no longer logging")
		} else {
			c.reply("-ERR not loging")
		}
	case hasPrefixFold(cmd, "event"):
		s.mu.Lock()
		r := c.sub.event(cmd)
		s.notify()
		s.mu.Unlock()
		c.reply(r)
	case hasPrefixFold(cmd, "nixevent"):
		s.mu.Lock()
		r := c.sub.nixevent(cmd)
		s.notify()
		s.mu.Unlock()
		c.reply(r)
	case hasPrefixFold(cmd, "noevents"):
		s.mu.Lock()
		r := "-ERR not listening for events"
		if c.sub.enabled {
			c.sub = newSubscription()
			r = "+OK no longer listening for events"
		}
		s.notify()
		s.mu.Unlock()
		c.reply(r)
	default:
		// sendevent, sendmsg, myevents, divert_events… are not modelled.
		c.reply("-ERR command not found")
	}
	return true
}

var logLevels = map[string]int{"console": 0, "alert": 1, "crit": 2, "err": 3, "error": 3,
	"warning": 4, "notice": 5, "info": 6, "debug": 7}

// filter runs "filter <header> <value>", "filter delete <header>
// [<value>]" and "filter delete all".
func (c *conn) filter(args string) string {
	args = strings.TrimLeft(args, " ")
	name, value, hasValue := strings.Cut(args, " ")
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	switch {
	case strings.EqualFold(name, "delete") && hasValue:
		name, value, hasValue = strings.Cut(value, " ")
		if strings.EqualFold(name, "all") {
			c.filters = nil
		} else {
			c.filters = slices.DeleteFunc(c.filters, func(h header) bool {
				return strings.EqualFold(h.name, name) && (!hasValue || h.value == value)
			})
		}
		return fmt.Sprintf("+OK filter deleted. [%s][%s]", name, value)
	case hasValue:
		if strings.EqualFold(name, "add") {
			name, value, _ = strings.Cut(value, " ")
		}
		c.filters = append(c.filters, header{name, value})
		return fmt.Sprintf("+OK filter added. [%s]=[%s]", name, value)
	}
	return "-ERR invalid syntax"
}

// passesFilters applies the connection's filters as mod_event_socket
// does: with filters set, an event goes out only if one of them matches
// (value, or /regex/; a leading - makes a match exclude the event).
func (c *conn) passesFilters(e *event) bool {
	if len(c.filters) == 0 {
		return true
	}
	send := false
	for _, f := range c.filters {
		if !e.has(f.name) {
			continue
		}
		hval := e.get(f.name)
		comp, pos := f.value, true
		for len(comp) > 0 && (comp[0] == '+' || comp[0] == '-' || comp[0] == ' ') {
			pos = comp[0] != '-'
			comp = comp[1:]
		}
		if send && pos {
			continue
		}
		var match bool
		if strings.HasPrefix(f.value, "/") {
			re, err := regexp.Compile(strings.Trim(comp, "/"))
			match = err == nil && re.MatchString(hval)
		} else {
			match = strings.EqualFold(hval, comp)
		}
		if match {
			if !pos {
				return false
			}
			send = true
		}
	}
	return send
}

// subscription is a connection's event list.
type subscription struct {
	enabled    bool
	format     string // plain, json or xml
	types      map[string]bool
	subclasses map[string]bool
}

func newSubscription() subscription {
	return subscription{format: "plain", types: map[string]bool{}, subclasses: map[string]bool{}}
}

// words splits a command's arguments as mod_event_socket does: at every
// single space.
func words(cmd string) []string {
	i := strings.IndexByte(cmd, ' ')
	if i < 0 {
		return nil
	}
	return strings.Split(cmd[i+1:], " ")
}

func (sub *subscription) event(cmd string) string {
	keys, custom := 0, false
	for i, w := range words(cmd) {
		if i == 0 {
			if f := strings.ToLower(w); f == "plain" || f == "json" || f == "xml" {
				sub.format = f
				continue
			}
		}
		if custom {
			sub.subclasses[w] = true
			continue
		}
		if t := eventType(w); t != "" {
			keys++
			sub.types[t] = true
			custom = custom || t == "CUSTOM"
		}
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	sub.enabled = true
	return "+OK event listener enabled " + sub.format
}

func (sub *subscription) nixevent(cmd string) string {
	keys, custom := 0, false
	for _, w := range words(cmd) {
		if custom {
			delete(sub.subclasses, w)
			continue
		}
		t := eventType(w)
		if t == "" {
			continue
		}
		keys++
		switch t {
		case "CUSTOM":
			custom = true
		case "ALL":
			clear(sub.types)
		default:
			if sub.types["ALL"] {
				delete(sub.types, "ALL")
				for _, n := range eventNames[:len(eventNames)-1] {
					sub.types[n] = true
				}
			}
			delete(sub.types, t)
		}
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	sub.enabled = true
	return "+OK events nixed"
}

// wants reports whether the subscription takes e, as mod_event_socket's
// event_handler decides: ALL takes everything; otherwise the event's type
// must be listed and, for CUSTOM, its subclass too.
func (sub *subscription) wants(e *event) bool {
	if !sub.enabled || sub.format == "xml" {
		return false
	}
	if sub.types["ALL"] {
		return true
	}
	name := e.name()
	if !sub.types[name] {
		return false
	}
	return name != "CUSTOM" || e.subclass() == "" || sub.subclasses[e.subclass()]
}

// Push sends raw events (the header block of a text/event-plain frame's
// body, as Scenario returns them) to every authenticated connection whose
// subscription and filters take them, framed as FreeSWITCH frames them,
// verbatim (converted for json subscribers). The node's state follows
// them. A body that does not parse as an event is skipped.
func (s *Server) Push(events ...[]byte) {
	for _, raw := range events {
		e, err := parseEvent(raw)
		if err != nil {
			continue
		}
		s.sendMu.Lock()
		if n, err := strconv.ParseInt(e.get("Event-Sequence"), 10, 64); err == nil && n > s.seq {
			s.seq = n
		}
		s.deliver(e, append([]byte(nil), raw...))
		s.sendMu.Unlock()
	}
}

// PushFramed writes b, whole text/event-plain frames as FreeSWITCH
// frames them, to every authenticated connection subscribed in the plain
// format, as it is: no subscription, filter or state follows them. It is
// for benchmarks, whose CPU figures would otherwise include Push's own
// parse of every event.
func (s *Server) PushFramed(b []byte) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	var to []*conn
	for c := range s.conns {
		if c.authed && c.sub.enabled && c.sub.format == "plain" {
			to = append(to, c)
		}
	}
	s.mu.Unlock()
	for _, c := range to {
		c.send(b)
	}
}

// emit sends generated events, numbering them.
func (s *Server) emit(events ...*event) {
	for _, e := range events {
		s.sendMu.Lock()
		s.seq++
		e.set("Event-Sequence", strconv.FormatInt(s.seq, 10))
		s.deliver(e, e.plain())
		s.sendMu.Unlock()
	}
}

// deliver tracks e and writes it to the connections that want it.
// s.sendMu is held.
func (s *Server) deliver(e *event, plain []byte) {
	s.mu.Lock()
	s.st.track(e)
	var to []*conn
	var formats []string
	for c := range s.conns {
		if c.authed && c.sub.wants(e) && c.passesFilters(e) {
			to = append(to, c)
			formats = append(formats, c.sub.format)
		}
	}
	s.mu.Unlock()
	var js []byte
	for i, c := range to {
		body, typ := plain, "plain"
		if formats[i] == "json" {
			if js == nil {
				js = e.json()
			}
			body, typ = js, "json"
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "Content-Length: %d\nContent-Type: text/event-%s\n\n", len(body), typ)
		b.Write(body)
		c.send(b.Bytes())
	}
}

// stamp dates e at t.
func (s *Server) stamp(e *event, t time.Time) {
	e.set("Event-Date-Local", t.In(s.opts.loc).Format(localStamp))
	e.set("Event-Date-GMT", t.UTC().Format(gmtStamp))
	e.set("Event-Date-Timestamp", strconv.FormatInt(t.UnixMicro(), 10))
}

// newEvent returns the recorded event seq dated now.
func (s *Server) newEvent(seq int) *event {
	e := recordedEvent(seq)
	s.stamp(e, time.Now())
	return e
}

// Heartbeat sends a HEARTBEAT event now (the recorded one, dated now).
func (s *Server) Heartbeat() { s.emit(s.newEvent(seqHeartbeat)) }

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
