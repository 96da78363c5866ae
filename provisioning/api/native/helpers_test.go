package native

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// env is an API over a real store and a real presence view.
type env struct {
	t     *testing.T
	db    *sqldb.DB
	svc   *provisioning.Service
	view  *presence.View
	h     http.Handler
	deps  api.Deps // what h was built from
	admin string   // an admin token
	logs  *syncBuffer
}

// syncBuffer collects log output from concurrent handlers.
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

func newEnv(t *testing.T, db *sqldb.DB) *env {
	t.Helper()
	ctx := context.Background()
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4), provisioning.WithLogger(log))
	view := presence.New()
	deps := api.Deps{Service: svc, Presence: view, Log: log}
	e := &env{t: t, db: db, svc: svc, view: view, logs: logs, deps: deps, h: New(deps)}
	e.admin = e.token("admin", provisioning.RoleAdmin, nil)
	return e
}

// each runs fn once per available engine with a fresh env.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) { fn(t, newEnv(t, db)) })
}

func (e *env) token(name string, role provisioning.Role, tenantID *int64) string {
	e.t.Helper()
	secret, _, err := e.svc.CreateToken(context.Background(), name, role, tenantID)
	if err != nil {
		e.t.Fatalf("create token %s: %v", name, err)
	}
	return secret
}

// resp is a recorded answer.
type resp struct {
	code int
	hdr  http.Header
	body string
	m    map[string]any
}

// do sends a request with a JSON body (when body is not "") and returns
// the answer.
func (e *env) do(method, path, token, body string) resp {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.send(req, token)
}

func (e *env) send(req *http.Request, token string) resp {
	e.t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	out := resp{code: w.Code, hdr: w.Header(), body: w.Body.String()}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") && out.body != "" {
		if err := json.Unmarshal(w.Body.Bytes(), &out.m); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", req.Method, req.URL, err, out.body)
		}
	}
	return out
}

// must checks the status of r and returns it.
func (r resp) must(t *testing.T, code int) resp {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d; body %s", r.code, code, r.body)
	}
	return r
}

// id returns the "id" of a JSON answer.
func (r resp) id() int64 {
	f, _ := r.m["id"].(float64)
	return int64(f)
}

// items returns the items of a list answer.
func (r resp) items(t *testing.T) []map[string]any {
	t.Helper()
	raw, ok := r.m["items"].([]any)
	if !ok {
		t.Fatalf("no items in %s", r.body)
	}
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i] = it.(map[string]any)
	}
	return out
}

// errOf returns the error envelope of an answer.
func (r resp) errOf(t *testing.T) map[string]any {
	t.Helper()
	env, ok := r.m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error envelope in %q", r.body)
	}
	return env
}

// create POSTs body to /api/v1/kind as token and returns the new id.
func (e *env) create(kind, token, body string) int64 {
	e.t.Helper()
	r := e.do("POST", "/api/v1/"+kind, token, body)
	if r.code != http.StatusCreated {
		e.t.Fatalf("create %s %s: %d %s", kind, body, r.code, r.body)
	}
	return r.id()
}

func jsonStr(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func path(kind string, id int64) string { return fmt.Sprintf("/api/v1/%s/%d", kind, id) }

func ptr[T any](v T) *T { return &v }

func urlQuery(s string) string { return url.QueryEscape(s) }

// regFor is a live registration of user@domain that expires in an hour.
func regFor(user, domain string) presence.Registration {
	return presence.Registration{User: user, Domain: domain, Contact: "sip:" + user + "@192.0.2.1:5060", Address: "192.0.2.1:5060",
		Transport: "udp", Status: presence.ContactReachable, Expires: time.Now().Add(time.Hour)}
}
