package native

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// The CDR routes: a paged query, a streaming CSV export, a live feed as
// Server-Sent Events and durable submission. Reads are scoped by owner: a
// tenant's token sees the CDRs owned by the tenants of its subtree
// (Record.TenantID, stamped at ingest from the domain's owner then;
// provisioning.Service.ScopeTenants), an admin's every CDR, including
// those of no known owner. Submission is for admin tokens only, so the
// owner a submitted CDR carries (tenant_id) is trusted.

const (
	// maxCDRsPerPost bounds one submission, so that one request is one
	// store transaction of a sensible size.
	maxCDRsPerPost = 10000
	// cdrBodyLimit is the body limit of a submission, or
	// http.max_body_bytes when that is larger: ten thousand CDRs do not
	// fit in the 1 MiB that is plenty for provisioning.
	cdrBodyLimit = 8 << 20
	// streamHeartbeat is how often an idle CDR stream sends a comment, so
	// that proxies do not time it out and clients notice a dead one.
	streamHeartbeat = 15 * time.Second
	// streamBuffer is how many CDRs a stream may fall behind the store
	// before it is cut off with event: lagged: one whole pipeline batch,
	// which the feed publishes at once, whatever the stream's filters.
	// It costs about 1.8 MB per open stream (a Record is 360 bytes).
	streamBuffer = cdr.DefaultBatchSize
	// maxStreams bounds the open streams, and so the memory their buffers
	// take; more get 503 with Retry-After.
	maxStreams = 64
	// writeStall is how long one write to a streaming client may block
	// before the connection is given up: a client that stops reading
	// must not hold a goroutine and a subscription for ever.
	writeStall = time.Minute
)

// The query parameters of the CDR routes.
var (
	pCDRFrom  = param{name: "from", typ: "date-time", doc: "only CDRs that ended at or after this RFC 3339 time"}
	pCDRTo    = param{name: "to", typ: "date-time", doc: "only CDRs that ended before this RFC 3339 time (exclusive)"}
	cdrFields = []param{
		{name: "domain", typ: "string", doc: "only CDRs of this SIP domain (case-insensitive), within the caller's scope: a tenant sees the CDRs its tenants owned when the calls were made, whoever owns the name now"},
		{name: "switch", typ: "string", doc: "only CDRs of this switch"},
		{name: "account", typ: "string", doc: "only CDRs of this SIP account (username)"},
		{name: "caller", typ: "string", doc: "exact caller number"},
		{name: "callee_prefix", typ: "string", doc: "dialled numbers starting with this"},
		{name: "disposition", typ: "string", doc: "only CDRs with this disposition; also accepted case-insensitively, with _ or - for the space (no_answer)",
			enum: []string{string(cdr.Answered), string(cdr.NoAnswer), string(cdr.Busy), string(cdr.Failed), string(cdr.Congestion)}},
		{name: "gateway", typ: "string", doc: "only CDRs through this gateway"},
		{name: "direction", typ: "string", doc: "only CDRs of this direction; also accepted case-insensitively",
			enum: []string{string(cdr.DirectionInbound), string(cdr.DirectionOutbound), string(cdr.DirectionInternal)}},
		{name: "min_billsec", typ: "count", doc: "only CDRs with at least this many billable seconds"},
	}
	pIncludeRaw   = param{name: "include_raw", typ: "bool", doc: "include each CDR's raw source record (raw), as the switch produced it"}
	cdrListParams = slices.Concat([]param{pCDRFrom, pCDRTo}, cdrFields, []param{pIncludeRaw,
		{name: "limit", typ: "cdr-limit", doc: "page size, 1 to 1000 (default 100)"},
		{name: "cursor", typ: "string", doc: "the next_cursor of the previous page"},
	})
	cdrExportParams = slices.Concat([]param{pCDRFrom, pCDRTo}, cdrFields)
	cdrStreamParams = slices.Concat(cdrFields, []param{pIncludeRaw})
)

// cdrAccepted is the answer to a submission.
type cdrAccepted struct {
	// Accepted counts the records of the request, stored now or before.
	Accepted int `json:"accepted"`
}

// cdrFieldDocs describe the fields of a CDR, in both its answer (CDR) and
// request (CDRSubmission) schemas; fieldDocs' generic entries would
// describe presence's fields of the same names too.
var cdrFieldDocs = map[string]string{
	"id":            "assigned by Switchboard when the CDR is stored",
	"call_id":       "the leg's id on its switch: Asterisk uniqueid, FreeSWITCH uuid. (switch, call_id) identifies a CDR: it is stored once",
	"linked_id":     "shared by the legs of one call",
	"direction":     "inbound (gateway to account), outbound (account to gateway) or internal; empty when unknown",
	"domain":        "the SIP domain the call belongs to",
	"tenant_id":     "the tenant that owned the domain when the CDR was stored, whose users may read it; null when none did (admins only)",
	"account":       "the SIP account (username)",
	"gateway":       "the gateway the call went through; empty for an internal call",
	"caller_number": "the caller's number",
	"caller_name":   "the caller's name",
	"dialed":        "what the caller dialled",
	"destination":   "where the call was delivered",
	"start":         "when the call leg started",
	"answer":        "when it was answered; null when it was not",
	"end":           "when it ended",
	"duration":      "seconds from start to end",
	"billsec":       "billable seconds, from answer to end",
	"disposition":   "the outcome",
	"cause":         "Q.850 cause code",
	"cause_text":    "Q.850 cause text",
	"sip_status":    "final SIP status; 0 when unknown",
	"codec":         "the audio codec",
	"user_agent":    "the SIP user agent, where known",
	"raw":           "the record as the switch produced it, kept for audit (any JSON value); only with include_raw=true",
}

// cdrPriceDocs are the price fields of a CDR (issue 15).
var cdrPriceDocs = map[string]string{
	"cost":             "what the leg cost its owner, an exact decimal string in currency (\"0.0123\"), charged to its balance when stored; \"0\" for a leg free by rule (internal, unanswered, inbound to a DID without a plan, or a leg of a call priced on its originating leg); null when not priced (unpriced says why)",
	"currency":         "the ISO 4217 currency of cost (the plan's); empty when the leg costs nothing or was not priced",
	"rate_prefix":      "the prefix of the rate that priced the leg",
	"rate_destination": "the destination name of that rate",
	"rate_group":       "the destination group of that rate (an invoice line)",
	"plan":             "the name of the tariff plan that priced the leg",
	"unpriced":         "why cost is null: no_tenant, no_plan, no_rate, invalid_number, lookup_failed, did_other_tenant, no_direction or rating_error; empty when priced, or when nothing prices CDRs",
}

// cdrSupplierDocs are the supplier price fields of a CDR (issue 15, LCR).
var cdrSupplierDocs = map[string]string{
	"supplier_cost":     "what the gateway's carrier charges for the leg (the buy price), an exact decimal string in supplier_currency, by the gateway's supplier plan; set only on the leg that went to a gateway (the dialled leg of an outbound call, not the caller's leg), \"0\" when it was not answered; never charged to a balance nor invoiced. null on every other leg, or when it could not be priced (supplier_unpriced says why). Admins only: null for tenants' tokens",
	"supplier_currency": "the ISO 4217 currency of supplier_cost (the supplier plan's); empty when there is none or it is 0",
	"supplier_prefix":   "the prefix of the supplier's rate that priced the leg",
	"supplier_plan":     "the name of the gateway's supplier plan that priced the leg",
	"supplier_unpriced": "why a leg that went to a gateway has no supplier_cost: no_plan (the gateway has none), no_rate, invalid_number, lookup_failed or rating_error; empty otherwise",
}

func init() {
	maps.Copy(cdrFieldDocs, cdrPriceDocs)
	maps.Copy(cdrFieldDocs, cdrSupplierDocs)
	for field, doc := range cdrFieldDocs {
		fieldDocs["CDR."+field] = doc
		fieldDocs["CDRSubmission."+field] = doc
	}
	fieldDocs["CDRSubmission.raw"] = "the record as the switch produced it, kept for audit (any JSON value); optional"
	fieldDocs["CDRSubmission.id"] = "ignored (the store assigns ids): a CDR read from this API can be sent back as it is"
	fieldDocs["CDRSubmission.end"] = "when it ended, 1970 to 9999"
	fieldDocs["CDRSubmission.switch"] = "the switch's name, at most 64 bytes"
	fieldDocs["CDRSubmission.call_id"] = "the leg's id on its switch (Asterisk uniqueid, FreeSWITCH uuid), at most 128 bytes: a CDR whose (switch, call_id) is already stored is skipped"
	fieldDocs["CDRSubmission.billsec"] = "billable seconds, from answer to end; at most duration"
	fieldDocs["CDRSubmission.start"] = "when the call leg started; not after end"
	fieldDocs["CDRSubmission.tenant_id"] = "the owning tenant, kept as given (this route is for admins only: a CDR read from this API keeps its owner when sent back); when absent or null, the tenant owning domain now"
	fieldDocs["CDRsAccepted.accepted"] = "how many CDRs the request held; each is now durable, whether it was new or already stored"
}

// csvDoc and sseDoc describe the non-JSON answers in openapi.json; the
// README has the details.
const (
	csvDoc = "RFC 4180 CSV with a header row: id, switch, call_id, linked_id, direction, domain, account, gateway, caller_number, " +
		"caller_name, dialed, destination, start, answer, end, duration, billsec, disposition, cause, cause_text, sip_status, codec, " +
		"user_agent, cost, currency, rate_prefix, rate_destination, rate_group, plan, unpriced, supplier_cost, supplier_currency, supplier_prefix, " +
		"supplier_plan, supplier_unpriced. Times are RFC 3339 in UTC; answer is empty when unanswered; " +
		"cost and supplier_cost are exact decimals, empty when the leg was not priced (unpriced, supplier_unpriced say why; supplier " +
		"columns are empty for tenants' tokens). Newest first. A text cell starting with = + - @, " +
		"tab or carriage return gets a leading ' so that spreadsheets do not run it as a formula (an E.164 number +1555… reads " +
		"'+1555…). A transfer that ends without its final chunk was cut short by a server error."
	sseDoc = "Server-Sent Events. Each CDR stored from now on that the caller's scope and filters select is one event " +
		"`id: <cdr id>`, `event: cdr`, `data: <the CDR as JSON>`. A comment line (a heartbeat) is sent every 15 s. " +
		"When the client falls too far behind, the server sends `event: lagged` and ends the stream: reconnect and " +
		"backfill with GET /api/v1/cdrs. The stream also ends when the server shuts down."
)

func (s *server) cdrRoutes() []*route {
	read := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusUnprocessableEntity,
		http.StatusInternalServerError, http.StatusServiceUnavailable}
	recordType := reflect.TypeFor[cdr.Record]()
	return []*route{
		{
			method: http.MethodGet, path: Prefix + "/cdrs", op: "listCDRs", tag: "cdrs",
			summary: "List the CDRs the caller's scope owns, newest first",
			doc: "Ordered by end time, then id, newest first, and paged by keyset: pass next_cursor back as cursor with the same filters. " +
				"Time bounds apply to the end time. raw is left out unless include_raw=true.",
			query:   cdrListParams,
			resp:    response{status: http.StatusOK, list: true, typ: recordType, name: "CDR"},
			errs:    read,
			handler: s.listCDRs,
		},
		{
			method: http.MethodGet, path: Prefix + "/cdrs/export", op: "exportCDRs", tag: "cdrs",
			summary: "Export every CDR the filters select as CSV, newest first",
			doc:     "Streams all matching rows however many there are; the filters are those of listCDRs, without limit and cursor.",
			query:   cdrExportParams,
			resp: response{status: http.StatusOK, media: "text/csv", mediaDoc: csvDoc,
				headers: map[string]string{"Content-Disposition": `attachment; filename="cdrs.csv"`}},
			errs:    read,
			handler: s.exportCDRs,
		},
		{
			method: http.MethodGet, path: Prefix + "/cdrs/stream", op: "streamCDRs", tag: "cdrs",
			summary: "Follow newly stored CDRs live (Server-Sent Events)",
			doc: "The filters are those of listCDRs that apply to one CDR (no time range, limit or cursor). A tenant's sub-tenants are read " +
				"when the stream starts. 503 when the daemon has no live feed.",
			query:   cdrStreamParams,
			resp:    response{status: http.StatusOK, media: "text/event-stream", mediaDoc: sseDoc},
			errs:    read,
			handler: s.streamCDRs,
		},
		{
			method: http.MethodPost, path: Prefix + "/cdrs", op: "submitCDRs", tag: "cdrs",
			summary: "Submit CDRs durably (admin tokens only)",
			doc: fmt.Sprintf("One CDR object or an array of at most %d. Every record is checked before any is stored: one invalid record "+
				"refuses the request (400, field [index].name) and nothing is written. The answer is sent only once the records are durable "+
				"(in the store or the spool); 503 means they may not be: retry. Records already stored (same switch and call_id) are "+
				"skipped, so retrying is harmless. The body may be up to 8 MiB (or http.max_body_bytes when larger).", maxCDRsPerPost),
			body: &body{typ: recordType, name: "CDRSubmission", required: []string{"switch", "call_id", "end", "disposition"}, many: maxCDRsPerPost},
			resp: response{status: http.StatusOK, typ: reflect.TypeFor[cdrAccepted](), name: "CDRsAccepted"},
			errs: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge,
				http.StatusUnsupportedMediaType, http.StatusInternalServerError, http.StatusServiceUnavailable},
			handler: s.submitCDRs,
		},
	}
}

func unavailable(format string, args ...any) error {
	return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: fmt.Sprintf(format, args...)}
}

// cdrQuery is what the read routes parse from their query parameters.
type cdrQuery struct {
	f   cdr.Filter
	raw bool // include_raw
	// supplier: the caller may read supplier prices (admins only: what
	// the carriers charge is the operator's business, not its tenants').
	supplier bool
}

// strip removes from rec what q's caller does not read: raw unless asked
// for, supplier prices unless an admin asks.
func (q *cdrQuery) strip(rec *cdr.Record) {
	if !q.raw {
		rec.Raw = nil
	}
	if !q.supplier {
		rec.ClearSupplierPrice()
	}
}

// cdrQuery parses the filters the CDR read routes share (each route
// declares which it accepts; the others are refused before this runs) and
// narrows them to the caller's scope.
func (s *server) cdrQuery(ctx context.Context, c *call) (cdrQuery, error) {
	var q cdrQuery
	f := &q.f
	var err error
	if f.From, err = c.time("from"); err != nil {
		return q, err
	}
	if f.To, err = c.time("to"); err != nil {
		return q, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return q, badParam("to", "must be after from")
	}
	f.Switch, f.Account, f.Caller = c.str("switch"), c.str("account"), c.str("caller")
	f.CalleePrefix, f.Gateway = c.str("callee_prefix"), c.str("gateway")
	if v := c.str("disposition"); v != "" {
		if f.Disposition, err = parseDisposition(v); err != nil {
			return q, err
		}
	}
	if v := c.str("direction"); v != "" {
		if f.Direction, err = parseDirection(v); err != nil {
			return q, err
		}
	}
	if v := c.str("min_billsec"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, badParam("min_billsec", "must be a non-negative integer")
		}
		f.MinBillsec = n
	}
	if v := c.str("include_raw"); v != "" {
		if q.raw, err = strconv.ParseBool(v); err != nil {
			return q, badParam("include_raw", "must be true or false")
		}
	}
	// The scope is the owners whose CDRs the caller may read: nil for an
	// admin (every CDR, of a known owner or not), the tenants of its
	// subtree for anyone else. A CDR's owner is stamped at ingest, so a
	// domain name that changed hands does not carry the old owner's calls
	// to the new one; domain is a plain filter inside the scope, which
	// answers an unknown or foreign name with nothing, as it does a quiet
	// domain of one's own.
	if f.Tenants, err = s.svc.ScopeTenants(ctx, c.scope); err != nil {
		return q, err
	}
	q.supplier = f.Tenants == nil
	// Provisioned domain names are lower-case; the store compares exactly.
	f.Domain = strings.ToLower(c.str("domain"))
	return q, nil
}

// time returns an RFC 3339 query parameter, the zero time when absent.
func (c *call) time(name string) (time.Time, error) {
	v := c.str(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badParam(name, "must be an RFC 3339 time such as 2025-03-14T15:09:26Z (got %q)", truncate(v, 40))
	}
	return t, nil
}

var (
	dispositions = []cdr.Disposition{cdr.Answered, cdr.NoAnswer, cdr.Busy, cdr.Failed, cdr.Congestion}
	directions   = []cdr.Direction{cdr.DirectionInbound, cdr.DirectionOutbound, cdr.DirectionInternal}
)

// parseDisposition accepts a disposition in any case, with _ or - for the
// space of NO ANSWER (which is awkward in a URL).
func parseDisposition(v string) (cdr.Disposition, error) {
	n := cdr.Disposition(strings.ToUpper(strings.NewReplacer("_", " ", "-", " ").Replace(strings.TrimSpace(v))))
	if slices.Contains(dispositions, n) {
		return n, nil
	}
	return "", badParam("disposition", "must be one of ANSWERED, NO ANSWER (or no_answer), BUSY, FAILED, CONGESTION")
}

func parseDirection(v string) (cdr.Direction, error) {
	n := cdr.Direction(strings.ToLower(strings.TrimSpace(v)))
	if slices.Contains(directions, n) {
		return n, nil
	}
	return "", badParam("direction", "must be one of inbound, outbound, internal")
}

// listCDRs answers one page of CDRs.
func (s *server) listCDRs(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.d.CDRs == nil {
		return unavailable("this daemon keeps no CDRs")
	}
	q, err := s.cdrQuery(r.Context(), c)
	if err != nil {
		return err
	}
	if q.f.Limit, err = c.cdrLimit(); err != nil {
		return err
	}
	if q.f.Before, err = api.DecodeCDRCursor(c.str("cursor")); err != nil {
		return badParam("cursor", "malformed cursor: pass back a next_cursor unchanged")
	}
	recs, next, err := s.d.CDRs.Query(r.Context(), q.f)
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []cdr.Record{}
	}
	for i := range recs {
		q.strip(&recs[i])
	}
	return writeJSON(w, http.StatusOK, list[cdr.Record]{Items: recs, NextCursor: api.EncodeCDRCursor(next)})
}

// cdrLimit returns the limit parameter, cdr.DefaultLimit when absent.
func (c *call) cdrLimit() (int, error) {
	v := c.str("limit")
	if v == "" {
		return cdr.DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > cdr.MaxLimit {
		return 0, badParam("limit", "must be an integer from 1 to %d", cdr.MaxLimit)
	}
	return n, nil
}

// exportCDRs streams every CDR the filters select as CSV (cdr.CSVHeader,
// cdr.CSVRow), a page of cdr.MaxLimit rows at a time by keyset, flushing
// after each page, so the memory it holds does not grow with the export.
// The first page is read
// before anything is written: an error there still gets the error
// envelope. A failure after that cannot change the status, so the
// connection is aborted and the client sees a truncated transfer rather
// than a short file that looks complete.
func (s *server) exportCDRs(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.d.CDRs == nil {
		return unavailable("this daemon keeps no CDRs")
	}
	q, err := s.cdrQuery(r.Context(), c)
	if err != nil {
		return err
	}
	q.f.Limit = cdr.MaxLimit
	recs, next, err := s.d.CDRs.Query(r.Context(), q.f)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="cdrs.csv"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{}) //nolint:errcheck // see extendWrite

	// The rows are cdr's, as in `switchboard cdr export`: one format
	// whichever way a CSV is made.
	cw := csv.NewWriter(w)
	extendWrite(rc)
	cw.Write(cdr.CSVHeader) //nolint:errcheck // reported by cw.Error after Flush
	for {
		for i := range recs {
			if !q.supplier {
				recs[i].ClearSupplierPrice()
			}
			cw.Write(cdr.CSVRow(&recs[i])) //nolint:errcheck // reported by cw.Error after Flush
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			s.log.DebugContext(r.Context(), "native: CDR export: client gone", "err", err)
			return nil
		}
		rc.Flush() //nolint:errcheck // a writer that cannot flush sends at the end
		if next == nil {
			return nil
		}
		q.f.Before = next
		if recs, next, err = s.d.CDRs.Query(r.Context(), q.f); err != nil {
			if api.ClientGone(r, err) {
				s.log.DebugContext(r.Context(), "native: CDR export: client gone", "err", err)
				return nil
			}
			s.log.ErrorContext(r.Context(), "native: CDR export cut short", "err", err)
			panic(http.ErrAbortHandler)
		}
		extendWrite(rc)
	}
}

// extendWrite gives the next write to a streaming client writeStall to
// complete. It also lifts a server-wide WriteTimeout, which a long export
// or a live feed would otherwise hit; writers that cannot set deadlines
// (tests' recorders) are left alone. The handlers reset the deadline when
// they end, because net/http does not when it has no WriteTimeout and the
// connection is kept alive for another request.
func extendWrite(rc *http.ResponseController) {
	rc.SetWriteDeadline(time.Now().Add(writeStall)) //nolint:errcheck // ErrNotSupported: nothing to extend
}

// cdrMatcher applies a stream's filters to one CDR the way the store
// applies them to a query: by owner, then the plain filters.
type cdrMatcher struct {
	f       cdr.Filter
	tenants map[int64]bool // nil: every CDR (an admin)
}

func newCDRMatcher(f cdr.Filter) *cdrMatcher {
	m := &cdrMatcher{f: f}
	if f.Tenants != nil {
		m.tenants = make(map[int64]bool, len(f.Tenants))
		for _, t := range f.Tenants {
			m.tenants[t] = true
		}
	}
	return m
}

func (m *cdrMatcher) match(r *cdr.Record) bool {
	f := &m.f
	return (m.tenants == nil || (r.TenantID != nil && m.tenants[*r.TenantID])) &&
		(f.Domain == "" || r.Domain == f.Domain) &&
		(f.Switch == "" || r.Switch == f.Switch) &&
		(f.Account == "" || r.Account == f.Account) &&
		(f.Caller == "" || r.CallerNumber == f.Caller) &&
		(f.CalleePrefix == "" || strings.HasPrefix(r.Dialed, f.CalleePrefix)) &&
		(f.Disposition == "" || r.Disposition == f.Disposition) &&
		(f.Gateway == "" || r.Gateway == f.Gateway) &&
		(f.Direction == "" || r.Direction == f.Direction) &&
		r.Billsec >= f.MinBillsec
}

// laggedEvent tells a client it fell behind; the data line is needed for
// EventSource to dispatch the event at all.
const laggedEvent = "event: lagged\ndata: {\"message\":\"the stream fell behind and was cut off: reconnect and backfill with GET /api/v1/cdrs\"}\n\n"

// streamCDRs follows the live feed: every CDR stored from now on that the
// caller's scope and filters select, as one Server-Sent Event. It ends
// when the client goes away, when the server shuts down, when the feed
// ends the subscription, and after event: lagged when the client fell a
// whole buffer behind (the feed never waits for a slow reader); the
// subscription is closed on the way out, whichever it was.
func (s *server) streamCDRs(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.d.CDRFeed == nil {
		return unavailable("this daemon has no live CDR feed")
	}
	q, err := s.cdrQuery(r.Context(), c)
	if err != nil {
		return err
	}
	if n := s.streams.Add(1); n > int64(s.maxStreams) {
		s.streams.Add(-1)
		w.Header().Set("Retry-After", "30")
		return unavailable("too many open CDR streams: try again later")
	}
	defer s.streams.Add(-1)
	m := newCDRMatcher(q.f)
	// Subscribe before the answer starts: a client that has the headers
	// gets every CDR stored after it.
	sub := s.d.CDRFeed.Subscribe(s.feedBuffer)
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events through at once
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{}) //nolint:errcheck // see extendWrite

	var buf []byte
	send := func(flush bool) bool {
		if len(buf) == 0 && !flush {
			return true
		}
		extendWrite(rc)
		if _, err := w.Write(buf); err != nil {
			s.log.DebugContext(r.Context(), "native: CDR stream: client gone", "err", err)
			return false
		}
		buf = buf[:0]
		if flush {
			rc.Flush() //nolint:errcheck // a writer that cannot flush sends at the end
		}
		return true
	}
	buf = append(buf, ": connected\n\n"...)
	if !send(true) {
		return nil
	}
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	shutdown := s.shutdownSignal(r)
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-shutdown:
			return nil
		case <-tick.C:
			buf = append(buf, ": heartbeat\n\n"...)
			if !send(true) {
				return nil
			}
		case rec, ok := <-sub.C:
			if !ok {
				if sub.Lagged() {
					buf = append(buf, laggedEvent...)
					send(true)
				}
				return nil
			}
			if m.match(&rec) {
				q.strip(&rec)
				data, err := json.Marshal(rec) // one line: no indentation, and JSON strings escape newlines
				if err != nil {
					// Only raw can fail to encode (not JSON), and the
					// store refuses that; send the CDR without it.
					s.log.WarnContext(r.Context(), "native: CDR stream: encode", "id", rec.ID, "err", err)
					rec.Raw = nil
					data, _ = json.Marshal(rec) //nolint:errcheck // cannot fail without raw
				}
				buf = strconv.AppendInt(append(buf, "id: "...), rec.ID, 10)
				buf = append(buf, "\nevent: cdr\ndata: "...)
				buf = append(append(buf, data...), "\n\n"...)
			}
			// Flush once the backlog is drained: one write for a burst,
			// no delay for a lone CDR.
			if len(sub.C) == 0 || len(buf) >= 32<<10 {
				if !send(len(sub.C) == 0) {
					return nil
				}
			}
		}
	}
}

// shutdownSignal returns a channel closed when the http.Server serving r
// starts shutting down, nil (never ready) outside one. Shutdown waits for
// requests to finish without cancelling them, so a live stream must be
// told to end or it would hold the daemon for the whole shutdown timeout.
// One hook is registered per server, not per stream.
func (s *server) shutdownSignal(r *http.Request) <-chan struct{} {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return nil
	}
	s.shutdownMu.Lock()
	defer s.shutdownMu.Unlock()
	ch, ok := s.shutdowns[srv]
	if !ok {
		ch = make(chan struct{})
		s.shutdowns[srv] = ch
		var once sync.Once // Shutdown may be called more than once
		srv.RegisterOnShutdown(func() { once.Do(func() { close(ch) }) })
	}
	return ch
}

// submitCDRs stores CDRs durably: the answer is sent only once
// Deps.CDRIngest accepted every record (into the store or its spool), so a
// submitter that gets anything but 200 must send them again, and the
// store's (switch, call_id) key makes that harmless.
func (s *server) submitCDRs(w http.ResponseWriter, r *http.Request, c *call) error {
	if !c.scope.All() {
		return &apiError{Status: http.StatusForbidden, Code: codeForbidden, Message: "forbidden: only admin tokens may submit CDRs"}
	}
	if s.d.CDRIngest == nil {
		return unavailable("this daemon takes no CDR submissions")
	}
	raw, err := readJSONBody(r, max(s.d.BodyLimit(), cdrBodyLimit))
	if err != nil {
		return err
	}
	recs, err := decodeCDRs(raw)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		if err := s.d.CDRIngest.Put(r.Context(), recs...); err != nil {
			if errors.Is(err, cdr.ErrInvalidRecord) {
				return badBody(codeInvalid, "", "%s", strings.TrimPrefix(err.Error(), "cdr: "))
			}
			level := slog.LevelWarn
			if api.ClientGone(r, err) {
				level = slog.LevelDebug
			}
			s.log.Log(r.Context(), level, "native: CDR submission not stored", "records", len(recs), "err", err)
			w.Header().Set("Retry-After", "5")
			return unavailable("the CDRs could not be stored now: send them again")
		}
	}
	return writeJSON(w, http.StatusOK, cdrAccepted{Accepted: len(recs)})
}
