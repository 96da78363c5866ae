// Package native is Switchboard's own JSON API, mounted at /api/v1. It
// translates REST requests onto the one provisioning.Service: every call is
// authenticated by a bearer token whose Scope is handed to the Service,
// which alone decides what the caller may see and change.
//
// One route table (routes.go) is the source of truth for both the
// http.ServeMux and the OpenAPI document served at /api/v1/openapi.json, so
// the two cannot drift apart.
package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// Prefix is where the API is mounted; every route's path starts with it.
const Prefix = "/api/v1"

// New returns the native API handler for every path under /api/v1/. It does
// not log requests itself: the caller wraps it in api.Instrument.
func New(d api.Deps) http.Handler { return newServer(d) }

// server is the handler: its route table, the mux built from it and the
// pre-rendered OpenAPI document.
type server struct {
	d       api.Deps
	svc     *provisioning.Service
	log     *slog.Logger
	routes  []*route
	mux     *http.ServeMux
	openapi []byte
	// patterns lists every pattern registered on mux, in order, so a test
	// can check the mux and the OpenAPI document against each other.
	patterns []string

	// heartbeat is how often a CDR stream sends a comment when it has
	// nothing else to send; feedBuffer is its subscription's buffer.
	// Tests shorten them.
	heartbeat  time.Duration
	feedBuffer int
	// streams counts the open CDR streams, at most maxStreams.
	streams    atomic.Int64
	maxStreams int
	// shutdowns are closed when the http.Server a stream runs on shuts
	// down (see shutdownSignal).
	shutdownMu sync.Mutex
	shutdowns  map[*http.Server]chan struct{}
}

// handlerFunc serves one route. It returns an error instead of writing one,
// so that every failure goes through writeError and its one envelope.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// call is what the middleware hands a handler: the caller's scope and the
// validated query parameters.
type call struct {
	scope provisioning.Scope
	query url.Values
}

func newServer(d api.Deps) *server {
	s := &server{d: d, svc: d.Service, log: d.Logger(), mux: http.NewServeMux(),
		heartbeat: streamHeartbeat, feedBuffer: streamBuffer, maxStreams: maxStreams, shutdowns: map[*http.Server]chan struct{}{}}
	s.routes = s.buildRoutes()
	for _, rt := range s.routes {
		pattern := rt.method + " " + rt.path
		s.mux.Handle(pattern, s.wrap(rt))
		s.patterns = append(s.patterns, pattern)
	}
	doc, err := json.MarshalIndent(s.openAPI(), "", "  ")
	if err != nil {
		panic(fmt.Sprintf("native: render openapi: %v", err)) // a bug in the route table
	}
	s.openapi = append(doc, '\n')
	return s
}

// ServeHTTP routes r. Requests the mux has no route for get the error
// envelope too (404, or 405 with Allow) instead of the mux's plain text.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// Let the mux decide (404, 405 with Allow, or a redirect to the
	// cleaned path) into a recorder, then answer in JSON.
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch {
	case rec.status == http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		s.writeError(w, r, &apiError{Status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, rec.header.Get("Allow"))})
	case rec.status >= 300 && rec.status < 400:
		w.Header().Set("Location", rec.header.Get("Location"))
		w.WriteHeader(rec.status)
	default:
		s.writeError(w, r, &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "no such route: " + r.URL.Path})
	}
}

// headerRecorder captures the status and headers of the mux's own
// not-found and method-not-allowed answers; the body is discarded.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}

// wrap is the middleware of every route: panic recovery, authentication,
// query-parameter checking and error rendering.
func (s *server) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "native: panic in handler", "method", r.Method, "path", r.URL.Path, "panic", p)
				s.writeError(w, r, errors.New("panic"))
			}
		}()
		if err := s.serve(w, r, rt); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *server) serve(w http.ResponseWriter, r *http.Request, rt *route) error {
	c := &call{}
	if !rt.public {
		sc, _, err := s.svc.Authenticate(r.Context(), api.BearerToken(r))
		if err != nil {
			return err
		}
		c.scope = sc
	}
	q, err := checkQuery(r.URL.RawQuery, rt.query)
	if err != nil {
		return err
	}
	c.query = q
	return rt.handler(w, r, c)
}

// checkQuery parses a query string and refuses, naming the parameter:
// parameters the route does not declare, parameters given more than once,
// malformed percent-encoding, and names or values that are not valid UTF-8
// or hold hidden characters (provisioning.HiddenRune: controls, bidi
// overrides, invisible formatting). Nothing a filter can match needs them,
// and a value that is not text would reach logs and SQL as bytes.
func checkQuery(raw string, declared []param) (url.Values, error) {
	q := url.Values{}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, badParam(strings.ToValidUTF8(k, "\uFFFD"), "malformed percent-encoding in the parameter name")
		}
		if err := checkQueryText(name); err != nil {
			return nil, badParam(strings.ToValidUTF8(name, "\uFFFD"), "a query parameter name %s", err)
		}
		if strings.Contains(pair, ";") { // as url.ParseQuery
			return nil, badParam(name, "malformed query string: separate parameters with &, not ;")
		}
		if !slices.ContainsFunc(declared, func(p param) bool { return p.name == name }) {
			return nil, badParam(name, "unknown query parameter %q", name)
		}
		if q.Has(name) {
			return nil, badParam(name, "must be given at most once")
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, badParam(name, "malformed percent-encoding")
		}
		if err := checkQueryText(val); err != nil {
			return nil, badParam(name, "%s", err)
		}
		q.Set(name, val)
	}
	return q, nil
}

// checkQueryText says what is wrong with a query parameter's decoded name
// or value, if anything.
func checkQueryText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("must be valid UTF-8 (percent-encode UTF-8 bytes)")
	}
	if r, at, ok := provisioning.HiddenRune(s); ok {
		return fmt.Errorf("%s (%U at character %d)", provisioning.HiddenRuneRule, r, at)
	}
	return nil
}

// str returns query parameter name, "" when absent.
func (c *call) str(name string) string { return c.query.Get(name) }

// id returns a positive integer query parameter, 0 when absent or empty.
func (c *call) id(name string) (int64, error) {
	v := c.query.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, badParam(name, "must be a positive integer")
	}
	return n, nil
}

// limit returns the limit parameter, provisioning.DefaultLimit when absent.
func (c *call) limit() (int, error) {
	v := c.query.Get("limit")
	if v == "" {
		return provisioning.DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > provisioning.MaxLimit {
		return 0, badParam("limit", "must be an integer from 1 to %d", provisioning.MaxLimit)
	}
	return n, nil
}

// page returns the keyset page of the limit and cursor parameters.
func (c *call) page() (provisioning.Page, error) {
	limit, err := c.limit()
	if err != nil {
		return provisioning.Page{}, err
	}
	after, err := api.DecodeCursor(c.query.Get("cursor"))
	if err != nil {
		return provisioning.Page{}, badParam("cursor", "malformed cursor: pass back a next_cursor unchanged")
	}
	return provisioning.Page{After: after, Limit: limit}, nil
}

// pathID parses the {id} path segment.
func pathID(r *http.Request) (int64, error) {
	v := r.PathValue("id")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, badParam("id", "must be a positive integer (got %q)", truncate(v, 40))
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// list is the envelope of every list answer. NextCursor is set when the
// page is full: pass it back as ?cursor= for the next page.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// writeJSON writes v with status. Responses are never cached: some carry
// a freshly set secret.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("native: encode response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // the client went away: nothing to do
	return nil
}
