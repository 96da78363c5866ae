package freeswitch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// liveRig is Switchboard's side of a live node, wired as
// cmd/switchboard/switches.go wires it: the adapter (presence into a
// view, CDRs into a sink), the Reloader as a provisioning sink, and the
// xml-curl and cdr endpoints behind the node's guard, on the address the
// node was configured to call. Provisioning is a real store (SQLite).
type liveRig struct {
	node liveNode
	a    *Adapter
	view *presence.View
	svc  *provisioning.Service
	sink *liveSink
	cdrs *postLog // what mod_json_cdr POSTed and was answered
	xml  *postLog // what mod_xml_curl asked
	logs string   // the file Switchboard's side logs to
	vm   *VoicemailIndexer
	fax  *faxRelay       // Config.Fax: the FaxIndexer withFax starts
	rec  *recordingRelay // Config.Recording: the RecordingIndexer withRecordings starts

	httpMu sync.Mutex
	mux    http.Handler
	hs     *http.Server // nil while stopped (stopHTTP)
	httpWG sync.WaitGroup
}

// liveTestKeepAlive is the adapter's heartbeat in the live tests.
const liveTestKeepAlive = time.Second

// liveRigOption changes how newLiveRig wires the node.
type liveRigOption func(*liveRig, *XMLCurlConfig)

// withRouting answers the tenants' routing contexts (call routing on, as
// cmd/switchboard wires it).
func withRouting() liveRigOption {
	return func(r *liveRig, c *XMLCurlConfig) { c.Router = ServiceRouter(r.svc) }
}

func newLiveRig(t *testing.T, node liveNode, opts ...liveRigOption) *liveRig {
	t.Helper()
	ctx := context.Background()
	r := &liveRig{node: node, sink: &liveSink{}, cdrs: &postLog{}, xml: &postLog{}, logs: filepath.Join(t.TempDir(), "switchboard.log")}
	logFile, err := os.Create(r.logs)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(r.logs)
			t.Logf("switchboard's log:\n%s", b)
		}
	})
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	r.svc = provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4), provisioning.WithLogger(log))
	admin := provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "live"}
	if err := r.svc.CreateTenant(ctx, admin, tn); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: tn.ID, Name: node.Domain}); err != nil {
		t.Fatal(err)
	}

	// the voicemail indexer, as cmd/switchboard wires it (it lists no
	// box until a test makes one)
	r.vm = NewVoicemailIndexer(VoicemailIndexerConfig{Node: node.Name, Service: r.svc, Plans: ServicePlans(r.svc), ScanEvery: 10 * time.Second, Logger: log})
	r.svc.AddSink(r.vm)
	r.fax = &faxRelay{}
	r.rec = &recordingRelay{}
	a, err := New(Config{
		Name: node.Name, Addr: node.ESL, Password: node.Password, Domain: node.Domain,
		KeepAlive: liveTestKeepAlive, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
		DialTimeout: 2 * time.Second, RequestTimeout: 5 * time.Second, CDRAckTimeout: time.Second,
		Logger: log, Voicemail: r.vm, Fax: r.fax, Recording: r.rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.a = a
	reloader := NewReloader(a, ReloaderConfig{Logger: log})
	r.svc.AddSink(reloader)

	gc := GuardConfig{User: node.HTTPUser, Password: node.HTTPPassword}
	if gc.User == "" {
		gc.Allow = append(gc.Allow, mustPrefix(t, "127.0.0.0/8"), mustPrefix(t, "::1/128"))
	}
	guard, err := NewGuard(gc)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "/freeswitch/" + node.Name
	mux := http.NewServeMux()
	xc := XMLCurlConfig{Directory: ServiceDirectory(r.svc), CacheMS: DefaultDirectoryCacheMS, Logger: log}
	for _, o := range opts {
		o(r, &xc)
	}
	mux.Handle(prefix+"/xml-curl", r.xml.wrap(guard.Wrap(NewXMLCurlHandler(xc))))
	mux.Handle(prefix+"/cdr", r.cdrs.wrap(guard.Wrap(a.JSONCDRHandler(r.sink))))
	r.mux = mux
	r.startHTTP(t)

	r.view = presence.New()
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.view.Run(runCtx) })
	wg.Go(func() { _ = a.WatchPresence(runCtx, r.view.Feed(node.Name)) })
	wg.Go(func() { _ = a.StreamCDRs(runCtx, r.sink) })
	wg.Go(func() { _ = reloader.Run(runCtx) })
	wg.Go(func() { _ = r.vm.Run(runCtx, a) })
	t.Cleanup(func() {
		cancel()
		r.stopHTTP()
		wg.Wait()
	})
	return r
}

// startHTTP serves the xml-curl and cdr endpoints on the node's http
// address.
func (r *liveRig) startHTTP(t *testing.T) {
	t.Helper()
	ln := listenRetry(t, r.node.HTTP)
	hs := &http.Server{Handler: r.mux, ReadHeaderTimeout: 5 * time.Second}
	r.httpMu.Lock()
	r.hs = hs
	r.httpMu.Unlock()
	r.httpWG.Go(func() { _ = hs.Serve(ln) })
}

// stopHTTP closes the endpoints' listener and connections, as a
// Switchboard that died would: the node's requests are refused.
func (r *liveRig) stopHTTP() {
	r.httpMu.Lock()
	hs := r.hs
	r.hs = nil
	r.httpMu.Unlock()
	if hs != nil {
		_ = hs.Close()
	}
	r.httpWG.Wait()
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := parsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// listenRetry listens on addr, waiting a little for the previous test's
// server to let go of it.
func listenRetry(t *testing.T, addr string) net.Listener {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen on %s (the address the node's xml_curl and json_cdr call): %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *liveRig) state() presence.SwitchState {
	for _, s := range r.view.Switches() {
		if s.Name == r.node.Name {
			return s
		}
	}
	return presence.SwitchState{}
}

// waitFor polls cond every 10 ms until it holds or within passes; it
// returns how long it took.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// startLive is the rig of a live test, connected: the test skips when
// SWITCHBOARD_TEST_FREESWITCH is unset.
func startLive(t *testing.T) *liveRig {
	t.Helper()
	r := newLiveRig(t, requireLiveNode(t))
	r.waitConnected(t)
	return r
}

// waitConnected waits for the adapter's first resync.
func (r *liveRig) waitConnected(t *testing.T) time.Duration {
	t.Helper()
	return waitFor(t, 10*time.Second, "the adapter to connect and resync", func() bool {
		s := r.state()
		return s.Connected && !s.LastSync.IsZero()
	})
}

// account provisions user with a fresh secret and returns the secret.
func (r *liveRig) account(t *testing.T, user string) (*provisioning.Account, string) {
	t.Helper()
	secret := "live-" + user + "-" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	a := &provisioning.Account{Domain: r.node.Domain, Username: user, Secret: secret, CallerIDName: "Live " + user}
	if err := r.svc.CreateAccount(context.Background(), provisioning.AdminScope(), a); err != nil {
		t.Fatal(err)
	}
	return a, secret
}

// registered returns the registrations of user in the view.
func (r *liveRig) registered(user string) []presence.Registration {
	regs, _ := r.view.Registrations(presence.RegistrationQuery{Domain: r.node.Domain, User: user, Switch: r.node.Name})
	return regs
}

// liveUser returns a username no earlier run left registered on the node:
// digits, like an extension, unique to this process and call.
func liveUser(t *testing.T, i int) string {
	t.Helper()
	return fmt.Sprintf("7%05d%d", time.Now().UnixMilli()%100000, i)
}

// liveSink is the CDR sink: it keeps what it accepted (which way each
// record came, and when) and can refuse everything.
type liveSink struct {
	mu      sync.Mutex
	recs    []liveRecord
	refuse  bool
	refused int
}

// liveRecord is one accepted record and its source: "esl"
// (CHANNEL_HANGUP_COMPLETE) or "json_cdr" (a mod_json_cdr POST).
type liveRecord struct {
	rec    cdr.Record
	source string
	at     time.Time
}

func (s *liveSink) Put(_ context.Context, recs ...cdr.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse {
		s.refused++
		return errors.New("live sink: refusing, as the test asked")
	}
	now := time.Now()
	for _, r := range recs {
		s.recs = append(s.recs, liveRecord{rec: r, source: recordSource(r), at: now})
	}
	return nil
}

func (s *liveSink) Reject(context.Context, cdr.DeadLetter) error { return nil }

func (s *liveSink) setRefuse(on bool) {
	s.mu.Lock()
	s.refuse = on
	s.mu.Unlock()
}

// of returns the records of one leg from one source.
func (s *liveSink) of(id, source string) []liveRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []liveRecord
	for _, r := range s.recs {
		if r.rec.CallID == id && r.source == source {
			out = append(out, r)
		}
	}
	return out
}

// legRecords returns a leg's record from each source, and fails the test
// (ok false) unless there is exactly one of each, the json_cdr POST was
// answered 200 once, and the two are equal field by field.
func (r *liveRig) legRecords(t *testing.T, id string) (esl, js liveRecord, ok bool) {
	t.Helper()
	e, j := r.sink.of(id, "esl"), r.sink.of(id, "json_cdr")
	posts := r.cdrs.find(func(p loggedPost) bool { return p.query.Get("uuid") == id })
	if len(e) != 1 || len(j) != 1 || len(posts) != 1 || posts[0].status != http.StatusOK {
		t.Errorf("leg %s: %d ESL records, %d json_cdr records, POSTs %+v; want one of each, answered 200", id, len(e), len(j), posts)
		return liveRecord{}, liveRecord{}, false
	}
	if d := recordDiff(e[0].rec, j[0].rec); d != "" {
		t.Errorf("leg %s: the ESL CDR differs from mod_json_cdr's: %s", id, d)
	}
	return e[0], j[0], true
}

// recordSource tells the two ways a record comes by its Raw: the ESL
// event as JSON has Event-Name, mod_json_cdr's document has
// channel_data.
func recordSource(r cdr.Record) string {
	var doc map[string]json.RawMessage
	if json.Unmarshal(r.Raw, &doc) != nil {
		return "unknown"
	}
	switch {
	case doc["Event-Name"] != nil:
		return "esl"
	case doc["channel_data"] != nil || doc["variables"] != nil:
		return "json_cdr"
	}
	return "unknown"
}

// postLog keeps the requests one endpoint got and their answers.
type postLog struct {
	mu    sync.Mutex
	posts []loggedPost
}

type loggedPost struct {
	at     time.Time
	query  url.Values // the URL's (mod_json_cdr adds ?uuid=)
	form   url.Values // the body as a form (mod_xml_curl's)
	status int
}

func (l *postLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if r.Body != nil {
			_, _ = buf.ReadFrom(r.Body)
			r.Body.Close()
		}
		body := buf.Bytes()
		r.Body = readCloser{bytes.NewReader(body)}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		form, _ := url.ParseQuery(string(body))
		l.mu.Lock()
		l.posts = append(l.posts, loggedPost{at: time.Now(), query: r.URL.Query(), form: form, status: sw.status})
		l.mu.Unlock()
	})
}

// find returns the requests for which match holds.
func (l *postLog) find(match func(loggedPost) bool) []loggedPost {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loggedPost
	for _, p := range l.posts {
		if match(p) {
			out = append(out, p)
		}
	}
	return out
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// eslCommand runs one command on a connection of its own to the node
// (like fs_cli -x) and returns the reply's headers and body.
func eslCommand(t *testing.T, node liveNode, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", node.ESL, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	readFrame := func() string {
		var hdr strings.Builder
		length := 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("ESL %s: %v", cmd, err)
			}
			if line == "\n" {
				break
			}
			hdr.WriteString(line)
			if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
				_, _ = fmt.Sscan(v, &length)
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatalf("ESL %s: %v", cmd, err)
		}
		return hdr.String() + string(body)
	}
	readFrame() // auth/request
	fmt.Fprintf(c, "auth %s\n\n", node.Password)
	if reply := readFrame(); !strings.Contains(reply, "+OK") {
		t.Fatalf("ESL auth: %s", reply)
	}
	fmt.Fprintf(c, "%s\n\n", cmd)
	return readFrame()
}

// liveMust stops the test on err.
func liveMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tenantID is the rig's tenant (the one newLiveRig made).
func (r *liveRig) tenantID(t *testing.T) int64 {
	t.Helper()
	ts, err := r.svc.Tenants(context.Background(), provisioning.AdminScope(), provisioning.TenantFilter{})
	liveMust(t, err)
	return ts[0].ID
}
