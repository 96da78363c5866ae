package dcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/provisioning/api/dcp"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// fixture is a dcp handler over the real stores on one engine, the real
// presence view, and this world:
//
//	tenant acme (A): domains a.example.com, a2.example.com (empty)
//	    users alice (numbers 1000, 1001 in a.example.com), amy (1500, which a DID routes to)
//	    gateway gw-a
//	tenant beta (B): domain b.example.com; user bob (number 2000); gateway gw-b
//	shared gateway gw-shared
//
// Tokens: admin, A and B (tenant-admins), userA (read-only, tenant A),
// revoked (a revoked tenant-admin token of A).
type fixture struct {
	svc     *provisioning.Service
	view    *presence.View
	cdrs    *cdrstore.Store
	handler http.Handler // dcp.New as is, for a listener of its own
	mux     http.Handler // dcp.New under StripPrefix("/dcp") in a ServeMux
	tok     map[string]string
	tenantA int64
	tenantB int64
	now     time.Time
	logs    *syncBuffer
}

// syncBuffer collects the handler's log for assertions.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newFixture(t *testing.T, db *sqldb.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	must(t, sqlstore.Migrate(ctx, db))
	must(t, cdrstore.Migrate(ctx, db))
	f := &fixture{
		svc:  provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4)),
		view: presence.New(),
		cdrs: cdrstore.NewStore(db),
		tok:  map[string]string{},
		now:  time.Now().UTC().Truncate(time.Second),
		logs: &syncBuffer{},
	}
	admin := provisioning.AdminScope()
	svc := f.svc

	a, b := &provisioning.Tenant{Name: "acme"}, &provisioning.Tenant{Name: "beta"}
	must(t, svc.CreateTenant(ctx, admin, a))
	must(t, svc.CreateTenant(ctx, admin, b))
	f.tenantA, f.tenantB = a.ID, b.ID
	for _, d := range []provisioning.Domain{
		{TenantID: a.ID, Name: "a.example.com", Description: "Acme main"},
		{TenantID: a.ID, Name: "a2.example.com", Description: "Acme spare"},
		{TenantID: b.ID, Name: "b.example.com", Description: "Beta"},
	} {
		must(t, svc.CreateDomain(ctx, admin, &d))
	}
	users := map[string]*provisioning.User{}
	for _, u := range []provisioning.User{
		{TenantID: a.ID, Login: "alice", Email: "alice@example.com", FirstName: "Alice", LastName: "Anders"},
		{TenantID: a.ID, Login: "amy", Email: "amy@example.com", FirstName: "Amy", LastName: "Adams"},
		{TenantID: b.ID, Login: "bob", Email: "bob@example.com", FirstName: "Bob", LastName: "Brown"},
	} {
		must(t, svc.CreateUser(ctx, admin, &u, u.Login+"-password"))
		users[u.Login] = &u
	}
	var routed int64
	for _, ac := range []struct{ domain, number, owner string }{
		{"a.example.com", "1000", "alice"}, {"a.example.com", "1001", "alice"},
		{"a.example.com", "1500", "amy"}, {"b.example.com", "2000", "bob"},
	} {
		acct := &provisioning.Account{Domain: ac.domain, Username: ac.number, Secret: "secret-" + ac.number,
			Description: "phone " + ac.number, UserID: &users[ac.owner].ID}
		must(t, svc.CreateAccount(ctx, admin, acct))
		if ac.number == "1500" {
			routed = acct.ID
		}
	}
	must(t, svc.CreateDID(ctx, admin, &provisioning.DID{TenantID: a.ID, Number: "+493012345678", AccountID: &routed}))
	for _, g := range []provisioning.Gateway{
		{TenantID: &a.ID, Name: "gw-a", Host: "sip.carrier-a.net", Username: "acme", Secret: "gw-a-secret", Register: true},
		{TenantID: &b.ID, Name: "gw-b", Host: "10.9.9.9", Port: 5080, Transport: provisioning.TransportTCP},
		{Name: "gw-shared", Host: "sip.shared.net", Transport: provisioning.TransportTLS, Secret: "shared-secret"},
	} {
		must(t, svc.CreateGateway(ctx, admin, &g))
	}
	for _, tk := range []struct {
		name   string
		role   provisioning.Role
		tenant *int64
	}{
		{"admin", provisioning.RoleAdmin, nil}, {"A", provisioning.RoleTenantAdmin, &a.ID},
		{"B", provisioning.RoleTenantAdmin, &b.ID}, {"userA", provisioning.RoleUser, &a.ID},
		{"revoked", provisioning.RoleTenantAdmin, &a.ID},
	} {
		secret, tok, err := svc.CreateToken(ctx, tk.name, tk.role, tk.tenant)
		must(t, err)
		f.tok[tk.name] = secret
		if tk.name == "revoked" {
			must(t, svc.RevokeToken(ctx, tok.ID))
		}
	}

	// Live state, as two switch adapters would report it.
	ast, fs := f.view.Feed("ast1"), f.view.Feed("fs1")
	exp := f.now.Add(time.Hour)
	ast.PutRegistration(presence.Registration{User: "1000", Domain: "a.example.com", Contact: "sip:1000@10.0.0.5:5062",
		Address: "10.0.0.5:5062", Transport: "udp", UserAgent: "Yealink T46U", Expires: exp,
		Status: presence.ContactReachable, RTT: 12500 * time.Microsecond})
	fs.PutRegistration(presence.Registration{User: "1001", Domain: "a.example.com", Contact: "sip:1001@[2001:db8::1]:5060;transport=tcp",
		Address: "[2001:db8::1]:5060", Transport: "tcp", Status: presence.ContactUnknown})
	ast.PutRegistration(presence.Registration{User: "1500", Domain: "a.example.com", Contact: "sip:1500@10.0.0.7:5060",
		Address: "10.0.0.7:5060", Transport: "udp", Expires: exp, Status: presence.ContactReachable})
	ast.PutRegistration(presence.Registration{User: "2000", Domain: "b.example.com", Contact: "sip:2000@10.1.0.5:5060",
		Address: "10.1.0.5:5060", Transport: "udp", Expires: exp, Status: presence.ContactReachable})
	fs.PutGateway(presence.Gateway{Name: "gw-a", State: presence.GatewayDown, Registration: presence.RegFailed, Detail: "FAIL_WAIT"})
	ast.PutGateway(presence.Gateway{Name: "gw-a", State: presence.GatewayUp, Registration: presence.RegRegistered,
		RTT: 20 * time.Millisecond, Detail: "Reachable"})
	ast.PutGateway(presence.Gateway{Name: "gw-b", State: presence.GatewayUp, Registration: presence.RegUnknown})

	// CDRs: five legs in a.example.com, two in b.example.com, an hour apart.
	base := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	var recs []cdr.Record
	for i, r := range []struct{ domain, account, caller, dialed string }{
		{"a.example.com", "1000", "1000", "0049301111"},
		{"a.example.com", "1001", "1001", "0049302222"},
		{"a.example.com", "1000", "1000", "1001"},
		{"b.example.com", "2000", "2000", "0049303333"},
		{"a.example.com", "1001", "+4930555", "1001"},
		{"b.example.com", "2000", "2000", "0049301111"},
		{"a.example.com", "1000", "1000", "0049309999"},
	} {
		start := base.Add(time.Duration(i) * time.Hour)
		rec := cdr.Record{Switch: "ast1", CallID: fmt.Sprintf("call-%d", i), Domain: r.domain, Account: r.account,
			CallerNumber: r.caller, Dialed: r.dialed, Destination: r.dialed, Direction: cdr.DirectionOutbound,
			Start: start, End: start.Add(time.Minute), Duration: 60, Disposition: cdr.NoAnswer}
		if i%2 == 0 {
			ans := start.Add(10 * time.Second)
			rec.Answer, rec.Billsec, rec.Disposition = &ans, 50, cdr.Answered
		}
		recs = append(recs, rec)
	}
	// Stamped with their domains' owners, as the pipeline does at ingest.
	must(t, cdr.StampOwners(ctx, svc, recs))
	_, err := f.cdrs.Insert(ctx, recs)
	must(t, err)

	f.handler = dcp.New(api.Deps{Service: svc, Presence: f.view, CDRs: f.cdrs,
		Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	mux := http.NewServeMux()
	mux.Handle("/dcp/", http.StripPrefix("/dcp", f.handler))
	f.mux = mux
	return f
}

// dump renders every provisioned object, secrets and hashes included, so
// that two dumps differ whenever anything was written.
func (f *fixture) dump(t *testing.T) string {
	t.Helper()
	ctx, sc := context.Background(), provisioning.AdminScope()
	page := provisioning.Page{Limit: provisioning.MaxLimit}
	var b strings.Builder
	ts, err := f.svc.Tenants(ctx, sc, provisioning.TenantFilter{Page: page})
	must(t, err)
	ds, err := f.svc.Domains(ctx, sc, provisioning.DomainFilter{Page: page})
	must(t, err)
	us, err := f.svc.Users(ctx, sc, provisioning.UserFilter{Page: page})
	must(t, err)
	as, err := f.svc.Accounts(ctx, sc, provisioning.AccountFilter{Page: page})
	must(t, err)
	gs, err := f.svc.Gateways(ctx, sc, provisioning.GatewayFilter{Page: page})
	must(t, err)
	dids, err := f.svc.DIDs(ctx, sc, provisioning.DIDFilter{Page: page})
	must(t, err)
	for _, v := range []any{ts, ds, us, as, gs, dids} {
		render(&b, reflect.ValueOf(v))
		b.WriteByte('\n')
	}
	n, err := f.cdrs.Count(ctx)
	must(t, err)
	fmt.Fprintf(&b, "cdrs %d\n", n)
	return b.String()
}

// render writes v with every field, secrets included, following pointers
// (fmt would print their addresses).
func render(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		render(b, v.Elem())
	case reflect.Slice:
		b.WriteByte('[')
		for i := range v.Len() {
			render(b, v.Index(i))
			b.WriteByte(' ')
		}
		b.WriteByte(']')
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			b.WriteString(t.UTC().Format(time.RFC3339Nano))
			return
		}
		b.WriteByte('{')
		for i := range v.NumField() {
			fmt.Fprintf(b, "%s:", v.Type().Field(i).Name)
			render(b, v.Field(i))
			b.WriteByte(' ')
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "%q", fmt.Sprint(v.Interface()))
	}
}

// enc is how a request carries its parameters.
type enc int

const (
	encGET enc = iota
	encForm
	encMultipart
	encJSON
)

var allEncs = []enc{encGET, encForm, encMultipart, encJSON}

func (e enc) String() string { return [...]string{"GET", "form", "multipart", "JSON"}[e] }

// mounts are the two ways the daemon mounts the dialect: path prefixes a
// client puts before the verb.
var mounts = []string{"", "/dcp"}

// response is a decoded dcp envelope.
type response struct {
	Status  int             `json:"-"`
	Raw     string          `json:"-"`
	Allow   string          `json:"-"`
	Ignored string          `json:"-"` // the X-Ignored-Parameters header
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Field   string          `json:"field"`
	Data    json.RawMessage `json:"data"`
	Next    string          `json:"next"`
}

// data decodes the envelope's data into v.
func (r response) data(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("data %s: %v", r.Data, err)
	}
}

// newRequest encodes params (strings, numbers, or for JSON anything) the
// way e says, for the verb under mount.
func newRequest(t testing.TB, mount string, e enc, verb string, params map[string]any) *http.Request {
	t.Helper()
	target := mount + "/" + verb
	str := func(v any) string { return fmt.Sprint(v) }
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	switch e {
	case encGET, encForm:
		q := url.Values{}
		for _, k := range keys {
			q.Set(k, str(params[k]))
		}
		if e == encGET {
			return httptest.NewRequest(http.MethodGet, target+"?"+q.Encode(), nil)
		}
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(q.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	case encMultipart:
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, k := range keys {
			must(t, mw.WriteField(k, str(params[k])))
		}
		must(t, mw.Close())
		r := httptest.NewRequest(http.MethodPost, target, &body)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		return r
	default:
		body, err := json.Marshal(params)
		must(t, err)
		r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
}

// serve runs r through the handler that matches its mount and decodes the
// envelope, checking what every response must satisfy: JSON, and an HTTP
// status equal to the envelope's code.
func (f *fixture) serve(t testing.TB, r *http.Request) response {
	t.Helper()
	h := f.handler
	if strings.HasPrefix(r.URL.Path, "/dcp/") {
		h = f.mux
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res := response{Status: rec.Code, Raw: rec.Body.String(), Allow: rec.Header().Get("Allow"), Ignored: rec.Header().Get("X-Ignored-Parameters")}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("%s %s: Content-Type %q, body %s", r.Method, r.URL.Path, ct, res.Raw)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v\n%s", r.Method, r.URL.Path, err, res.Raw)
	}
	if res.Code != res.Status {
		t.Fatalf("%s %s: status %d but code %d", r.Method, r.URL.Path, res.Status, res.Code)
	}
	return res
}

// call sends one verb with the named token (none when tok is "").
func (f *fixture) call(t testing.TB, mount string, e enc, verb, tok string, params map[string]any) response {
	t.Helper()
	p := make(map[string]any, len(params)+1)
	for k, v := range params {
		p[k] = v
	}
	if tok != "" {
		p["token"] = f.tok[tok]
	}
	return f.serve(t, newRequest(t, mount, e, verb, p))
}

// ok fails unless res is a success.
func ok(t testing.TB, res response) response {
	t.Helper()
	if res.Status != http.StatusOK || res.Message != "OK" {
		t.Fatalf("status %d, want 200: %s", res.Status, res.Raw)
	}
	return res
}

// countingReader is a body that reports how much of it was read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
