// Package dcp serves the "dcp" dialect: the verb-style API (user/create,
// phonenumber/list, …) of the system Switchboard replaces, over the one
// provisioning model. Its callers keep their code and change only the base
// URL; see README.md for the contract.
package dcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// handler serves every verb.
type handler struct {
	svc      *provisioning.Service
	presence api.Presence
	cdrs     api.CDRs
	probes   api.Probes // nil when SIP probing is disabled
	log      *slog.Logger
	limit    int64
	// defaultDomain is the DCP whose tenant receives the users an admin
	// token creates without naming a dcp or tenant ("": none, a 400).
	defaultDomain string
}

// Option configures the handler.
type Option func(*handler)

// WithDefaultDomain sets the DCP (domain name) whose tenant user/create
// uses when an admin token names neither dcp nor tenant: the document's
// user/create has no such parameter, and an admin token, unlike a
// tenant-admin's, has no tenant of its own (config key
// dcp.default_domain).
func WithDefaultDomain(name string) Option {
	return func(h *handler) { h.defaultDomain = name }
}

// call is one authenticated request on its way to a verb.
type call struct {
	sc provisioning.Scope
	p  *params
}

// result is what a verb returns on success: the envelope's data and, for a
// list with another page, the cursor of that page.
type result struct {
	data any
	next string
}

// verb is one API verb: the parameters it accepts besides token (and limit
// and cursor for lists), and its implementation.
type verb struct {
	params map[string]spec
	list   bool
	cursor spec // the cursor parameter of a list verb
	// write marks verbs that change something: a read-only token is
	// refused them before any lookup.
	write bool
	run   func(h *handler, ctx context.Context, c *call) (*result, error)
}

// New returns the dcp handler. It routes on the last two path segments
// ("user/create"), so the daemon may mount it under a prefix with
// http.StripPrefix or at "/" of a listener of its own.
func New(d api.Deps, opts ...Option) http.Handler {
	h := &handler{svc: d.Service, presence: d.Presence, cdrs: d.CDRs, probes: d.Probes, log: d.Logger(), limit: d.BodyLimit()}
	for _, o := range opts {
		o(h)
	}
	return h
}

// verbName returns the last two segments of path, "user/create".
func verbName(path string) string {
	path = strings.TrimRight(path, "/")
	i := strings.LastIndex(path, "/")
	if i < 0 {
		return ""
	}
	j := strings.LastIndex(path[:i], "/")
	return path[j+1:]
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := verbName(r.URL.Path)
	defer func() {
		// A panic still answers with the dcp envelope; nothing has been
		// written yet, because a response is written only at the end.
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.fail(w, r, name, fmt.Errorf("dcp: panic: %v\n%s", p, debug.Stack()))
		}
	}()
	v, ok := verbs[name]
	if !ok {
		h.fail(w, r, name, &Error{Code: http.StatusNotFound, Message: "Unknown API verb"})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		h.fail(w, r, name, &Error{Code: http.StatusMethodNotAllowed, Message: "Method not allowed: use GET or POST"})
		return
	}
	p, err := parseRequest(r, h.limit)
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	sc, err := h.authenticate(r, p)
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	ignored, err := p.validate(v.allowed())
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	if len(ignored) > 0 {
		// Ignored rather than refused (see validate); the header lets a
		// developer see a misspelt parameter without breaking old clients.
		w.Header().Set("X-Ignored-Parameters", strings.Join(ignored, ", "))
	}
	if v.write && !sc.CanWrite() {
		h.fail(w, r, name, &Error{Code: http.StatusForbidden, Message: "Permission denied"})
		return
	}
	res, err := v.run(h, r.Context(), &call{sc: sc, p: p})
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	writeJSON(w, http.StatusOK, envelope{Code: http.StatusOK, Message: "OK", Data: res.data, Next: res.next})
}

// allowed is the verb's parameters plus those every verb takes.
func (v *verb) allowed() map[string]spec {
	m := make(map[string]spec, len(v.params)+3)
	for k, s := range v.params {
		m[k] = s
	}
	m["token"] = spec{max: 200}
	if v.list {
		m["limit"] = spec{max: 4, check: checkLimit}
		m["cursor"] = v.cursor
	}
	return m
}

// authenticate resolves the token: the token parameter (query, form or
// JSON) when given, else an Authorization: Bearer header.
func (h *handler) authenticate(r *http.Request, p *params) (provisioning.Scope, error) {
	secret := api.BearerToken(r)
	if t, ok := p.lookup("token"); ok {
		if t.Problem != "" {
			return provisioning.Scope{}, errInvalidToken
		}
		secret = t.Value
	}
	if secret == "" {
		return provisioning.Scope{}, errInvalidToken
	}
	sc, _, err := h.svc.Authenticate(r.Context(), secret)
	if errors.Is(err, provisioning.ErrUnauthenticated) {
		return provisioning.Scope{}, errInvalidToken
	}
	return sc, err
}

// envelope is every response body.
type envelope struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Data    any    `json:"data,omitempty"`
	Next    string `json:"next,omitempty"`
}

// fail writes err as an error envelope. Errors the dialect does not know
// are logged (the verb and the error, never parameters: they carry
// passwords, secrets and tokens) and answered with a generic 500.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, verb string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		level := slog.LevelError
		if api.ClientGone(r, err) {
			level = slog.LevelDebug
		}
		h.log.Log(r.Context(), level, "dcp: request failed", "verb", verb, "err", err)
		e = &Error{Code: http.StatusInternalServerError, Message: "Internal error"}
	}
	api.ReportStatus(w, e.meaning())
	writeJSON(w, e.Code, envelope{Code: e.Code, Message: e.Message, Field: e.Field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store") // responses may carry a generated secret
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}
