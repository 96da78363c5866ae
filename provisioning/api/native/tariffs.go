package native

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// Tariff plans (provisioning/tariffs*.go): the plans as a resource, their
// rates as a CSV rate deck (replaced and exported whole) or a JSON page,
// who carries which plan, and a quote that prices a call the way the CDR
// pipeline will.

type tariffPlanIn struct {
	TenantID    int64  `json:"tenant_id"`
	Name        string `json:"name"`
	Currency    string `json:"currency"`
	TimeZone    string `json:"time_zone"`
	ChargeStep  string `json:"charge_step"`
	Description string `json:"description"`
}

func (in *tariffPlanIn) load(p *provisioning.TariffPlan) {
	*in = tariffPlanIn{TenantID: p.TenantID, Name: p.Name, Currency: string(p.Currency), TimeZone: p.TimeZone,
		ChargeStep: p.ChargeStep.String(), Description: p.Description}
}

func (in *tariffPlanIn) store(_ *provisioning.Service, p *provisioning.TariffPlan) error {
	p.TenantID, p.Name, p.Currency, p.TimeZone, p.Description = in.TenantID, in.Name, money.Currency(in.Currency), in.TimeZone, in.Description
	p.ChargeStep = 0
	if in.ChargeStep != "" {
		step, err := money.Parse(in.ChargeStep)
		if err != nil {
			return provisioning.Invalid("charge_step", "must be a decimal such as 0.0001 (got %q)", in.ChargeStep)
		}
		p.ChargeStep = step
	}
	return nil
}

// rateFields is a rate as JSON shows it: amounts as exact decimal
// strings, days and times as a deck writes them.
type rateFields struct {
	Prefix         string       `json:"prefix"`
	Destination    string       `json:"destination"`
	Group          string       `json:"group"`
	PricePerMinute money.Amount `json:"price_per_minute"`
	ConnectFee     money.Amount `json:"connect_fee"`
	FirstIncrement int          `json:"first_increment"`
	NextIncrement  int          `json:"next_increment"`
	MinimumSeconds int          `json:"minimum_seconds"`
	FreeSeconds    int          `json:"free_seconds"`
	Days           string       `json:"days"`
	TimeFrom       string       `json:"time_from"`
	TimeTo         string       `json:"time_to"`
	EffectiveFrom  *time.Time   `json:"effective_from"`
	EffectiveTo    *time.Time   `json:"effective_to"`
}

func rateJSON(r *rating.Rate) rateFields {
	out := rateFields{Prefix: r.Prefix, Destination: r.Destination, Group: r.Group, PricePerMinute: r.PricePerMinute,
		ConnectFee: r.ConnectFee, FirstIncrement: r.FirstIncrement, NextIncrement: r.NextIncrement,
		MinimumSeconds: r.MinimumSeconds, FreeSeconds: r.FreeSeconds, Days: r.Days.String()}
	if r.TimeFrom != 0 || r.TimeTo != 0 {
		out.TimeFrom, out.TimeTo = r.TimeFrom.String(), r.TimeTo.String()
	}
	if !r.EffectiveFrom.IsZero() {
		out.EffectiveFrom = &r.EffectiveFrom
	}
	if !r.EffectiveTo.IsZero() {
		out.EffectiveTo = &r.EffectiveTo
	}
	return out
}

// tariffRate is one rate of a plan's page.
type tariffRate struct {
	// Row is the rate's row in the deck (1 is the first after the header):
	// the cursor of the next page.
	Row int64 `json:"row"`
	rateFields
}

// tariffAssignmentIn sets or (null) removes an assignment.
type tariffAssignmentIn struct {
	TariffPlanID *int64 `json:"tariff_plan_id"`
}

// quoteOut is a priced call.
type quoteOut struct {
	TenantID      int64        `json:"tenant_id"`
	Number        string       `json:"number"`
	At            time.Time    `json:"at"`
	Seconds       int          `json:"seconds"`
	PlanID        int64        `json:"tariff_plan_id"`
	Plan          string       `json:"plan"`
	Currency      string       `json:"currency"`
	Cost          money.Amount `json:"cost"`
	BilledSeconds int          `json:"billed_seconds"`
	Increments    int          `json:"increments"`
	FreeSeconds   int          `json:"free_seconds"`
	// MaxSeconds answers budget: null without one.
	MaxSeconds *int       `json:"max_seconds"`
	Rate       rateFields `json:"rate"`
	// Whitelisted is whether the tenant's whitelists allow the number.
	Whitelisted bool `json:"whitelisted"`
}

// rateDeckMedia are the body types a rate deck upload takes.
var rateDeckMedia = []string{"text/csv", "application/csv", "text/plain", "text/tab-separated-values", "application/octet-stream"}

// rateDeckLimit bounds a deck upload: a 100,000-row deck is about 7 MB,
// provisioning.MaxTariffRates rows about 35 MB.
const rateDeckLimit = 64 << 20

const rateDeckDoc = "A CSV rate deck: a header row naming the columns, in any order, then one rate a row. " +
	"Columns: prefix (digits, required), destination, group, price_per_minute (decimal, required), connect_fee, " +
	"first_increment and next_increment (seconds, default 1/1), minimum_seconds, free_seconds, days (mon-fri, sat-sun, mon,wed), " +
	"time_from and time_to (HH:MM in the plan's time zone, 22:00–06:00 runs over midnight), " +
	"effective_from and effective_to (a date, midnight in the plan's time zone, or RFC 3339; effective_to exclusive). " +
	"The separator is a comma, or a semicolon or tab when the header has no comma (then prices may use a decimal comma)."

func (s *server) tariffRoutes() []*route {
	svc := s.svc
	out := routesOf[provisioning.TariffPlan, tariffPlanIn](s, resource[provisioning.TariffPlan, tariffPlanIn]{
		plural: "tariff-plans", schema: "TariffPlan", required: []string{"tenant_id", "name", "currency"},
		filters: []param{pTenantID, pName},
		id:      func(p *provisioning.TariffPlan) int64 { return p.ID },
		create: func(ctx context.Context, sc provisioning.Scope, in *tariffPlanIn) (*provisioning.TariffPlan, error) {
			p := &provisioning.TariffPlan{}
			if err := in.store(svc, p); err != nil {
				return nil, err
			}
			return p, svc.CreateTariffPlan(ctx, sc, p)
		},
		get: svc.TariffPlan, update: svc.UpdateTariffPlan, del: svc.DeleteTariffPlan,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]provisioning.TariffPlan, error) {
			f := provisioning.TariffPlanFilter{Name: c.str("name"), Page: p}
			var err error
			if f.TenantID, err = c.id("tenant_id"); err != nil {
				return nil, err
			}
			return svc.TariffPlans(ctx, sc, f)
		},
	})
	rates := Prefix + "/tariff-plans/{id}/rates"
	out = append(out,
		&route{
			method: http.MethodPut, path: rates, op: "replaceTariffRates", tag: "tariff-plans",
			summary: "Replace a plan's rates with a CSV rate deck",
			doc: rateDeckDoc + " The whole deck is read and checked first (every row, then duplicates: two rates of a prefix with the same effective_from, days and times) " +
				"and only then written, in one transaction: a bad deck writes nothing and is answered 400 with field naming the column and message the line " +
				"(\"rate deck line 4: ...\"). The answer comes when the deck is stored, with its counts and timings: " +
				"read and check of 100,000 rows take well under a second, so an upload's progress is the client's own (curl --progress-bar). " +
				"At most 500,000 rates and 64 MiB.",
			query: []param{
				{name: "dry_run", typ: "bool", doc: "read and check the deck, write nothing"},
			},
			csvBody: "the rate deck (Content-Type text/csv; also application/csv, text/plain, text/tab-separated-values, application/octet-stream)",
			resp:    response{status: http.StatusOK, typ: reflect.TypeFor[provisioning.RateImport](), name: "RateImport"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				if err := rateDeckType(req); err != nil {
					return err
				}
				dry, err := c.flag("dry_run")
				if err != nil {
					return err
				}
				body := deckBody{http.MaxBytesReader(w, req.Body, rateDeckLimit)}
				imp, err := svc.ReplaceTariffRates(req.Context(), c.scope, id, body, provisioning.RateImportOptions{DryRun: dry})
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, imp)
			},
		},
		&route{
			method: http.MethodGet, path: rates, op: "getTariffRates", tag: "tariff-plans",
			summary: "A plan's rates: the CSV rate deck, or a JSON page",
			doc: "Without format (or format=csv): the whole deck as CSV, streamed, every column in the order of the upload's column list, " +
				"dates in the plan's time zone; uploading it again gives the same rates. With format=json: a page of rates in deck order, " +
				"optionally only those whose prefix starts with prefix.",
			query: append([]param{
				{name: "format", typ: "string", doc: "csv (default) or json", enum: []string{"csv", "json"}},
				{name: "prefix", typ: "string", doc: "json only: rates whose prefix starts with these digits"},
			}, pageParams...),
			resp: response{status: http.StatusOK, list: true, typ: reflect.TypeFor[tariffRate](), name: "TariffRate",
				media: "text/csv", mediaDoc: "the rate deck (format=csv)",
				headers: map[string]string{"Content-Disposition": `attachment; filename="tariff-plan-<id>.csv" (format=csv)`}},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				switch c.str("format") {
				case "", "csv":
					if c.str("prefix") != "" || c.str("limit") != "" || c.str("cursor") != "" {
						return badParam("format", "prefix, limit and cursor page the JSON list: add format=json")
					}
					return s.exportRates(w, req, c, id)
				case "json":
				default:
					return badParam("format", "must be csv or json")
				}
				p, err := c.page()
				if err != nil {
					return err
				}
				_, rs, err := svc.TariffRates(req.Context(), c.scope, id, provisioning.TariffRateFilter{After: p.After, Prefix: c.str("prefix"), Limit: p.Limit})
				if err != nil {
					return err
				}
				page := list[tariffRate]{Items: make([]tariffRate, len(rs))}
				for i := range rs {
					page.Items[i] = tariffRate{Row: rs[i].Row, rateFields: rateJSON(&rs[i].Rate)}
				}
				if len(rs) == p.Limit && len(rs) > 0 {
					page.NextCursor = api.EncodeCursor(rs[len(rs)-1].Row)
				}
				return writeJSON(w, http.StatusOK, page)
			},
		},
		&route{
			method: http.MethodGet, path: Prefix + "/tenants/{id}/tariff", op: "getTenantTariff", tag: "tariff-plans",
			summary: "Which tariff plan prices a tenant's calls",
			doc:     "The tenant's own plan (null: it inherits) and the effective one after inheritance, with the tenant it comes from. A tenant reads its effective plan here even when it belongs to a parent it cannot otherwise see.",
			resp:    response{status: http.StatusOK, typ: reflect.TypeFor[provisioning.TenantTariffPlanInfo](), name: "TenantTariff"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				info, err := svc.TenantTariffPlan(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, info)
			},
		},
		&route{
			method: http.MethodPut, path: Prefix + "/tenants/{id}/tariff", op: "setTenantTariff", tag: "tariff-plans",
			summary: "Assign a tariff plan to a tenant (null: inherit the parent's)",
			doc: "The plan must belong to the tenant or one of its parents; the tenant and its sub-tenants without a plan of their own are priced with it from the next call. " +
				"A tenant-admin assigns plans to the tenants below its own, never to its own tenant (403).",
			body: &body{typ: reflect.TypeFor[tariffAssignmentIn](), name: "TariffAssignment", required: []string{"tariff_plan_id"}},
			resp: response{status: http.StatusOK, typ: reflect.TypeFor[provisioning.TenantTariffPlanInfo](), name: "TenantTariff"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, in, err := s.assignmentIn(req)
				if err != nil {
					return err
				}
				info, err := svc.SetTenantTariffPlan(req.Context(), c.scope, id, in.TariffPlanID)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, info)
			},
		},
		&route{
			method: http.MethodGet, path: Prefix + "/dids/{id}/tariff", op: "getDIDTariff", tag: "tariff-plans",
			summary: "A DID's inbound tariff plan",
			resp:    response{status: http.StatusOK, typ: reflect.TypeFor[provisioning.DIDTariffPlanInfo](), name: "DIDTariff"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				info, err := svc.DIDTariffPlan(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, info)
			},
		},
		&route{
			method: http.MethodPut, path: Prefix + "/dids/{id}/tariff", op: "setDIDTariff", tag: "tariff-plans",
			summary: "Give a DID its own inbound tariff plan (null: its inbound calls are not rated)",
			doc:     "The plan must belong to the DID's tenant or one of its parents. A tenant-admin sets it on the DIDs of the tenants below its own only (403).",
			body:    &body{typ: reflect.TypeFor[tariffAssignmentIn](), name: "TariffAssignment", required: []string{"tariff_plan_id"}},
			resp:    response{status: http.StatusOK, typ: reflect.TypeFor[provisioning.DIDTariffPlanInfo](), name: "DIDTariff"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, in, err := s.assignmentIn(req)
				if err != nil {
					return err
				}
				info, err := svc.SetDIDTariffPlan(req.Context(), c.scope, id, in.TariffPlanID)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, info)
			},
		},
		&route{
			method: http.MethodGet, path: Prefix + "/tenants/{id}/tariff/rates", op: "getTenantTariffRates", tag: "tariff-plans",
			summary: "The rates a tenant is charged, as a CSV rate deck",
			doc:     "The deck of the tenant's effective plan (as GET /tariff-plans/{id}/rates), readable by the tenant even when the plan is its parent's. 404 when no plan applies.",
			resp: response{status: http.StatusOK, media: "text/csv", mediaDoc: "the rate deck",
				headers: map[string]string{"Content-Disposition": `attachment; filename="tariff-plan-<id>.csv"`}},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				return s.streamDeck(w, req, func(out io.Writer, before func(*provisioning.TariffPlan)) error {
					return svc.ExportTenantTariffRates(req.Context(), c.scope, id, out, before, rating.DeckOptions{})
				})
			},
		},
		s.quoteRoute(),
	)
	return out
}

func (s *server) quoteRoute() *route {
	return &route{
		method: http.MethodGet, path: Prefix + "/tenants/{id}/rating/quote", op: "quoteCall", tag: "tariff-plans",
		summary: "What a call would cost the tenant",
		doc: "Prices a call to number starting at at (default now) and lasting seconds (default 60) with the tenant's effective plan, " +
			"exactly as the CDR pipeline will: the rate found (longest prefix in force at the start, in the plan's time zone), " +
			"the billed seconds after free seconds, increments and minimum, and the cost rounded up to the plan's charge step. " +
			"With budget, max_seconds is how long the call may last for that money (what the authorizer tells the switch). " +
			"404 when no plan applies to the tenant; 400 on number when no rate applies to it.",
		query: []param{
			{name: "number", typ: "string", doc: "the number called, digits with an optional leading +"},
			{name: "seconds", typ: "count", doc: "the call's billable seconds (default 60)"},
			{name: "at", typ: "date-time", doc: "when the call starts (default now)"},
			{name: "budget", typ: "string", doc: "money available, a decimal in the plan's currency: answers max_seconds"},
		},
		resp: response{status: http.StatusOK, typ: reflect.TypeFor[quoteOut](), name: "RatingQuote"},
		handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
			id, err := pathID(req)
			if err != nil {
				return err
			}
			number := c.str("number")
			if number == "" {
				return provisioning.Invalid("number", "is required")
			}
			at, err := c.callTime(time.Now().UTC().Truncate(time.Second))
			if err != nil {
				return err
			}
			secs := 60
			if v := c.str("seconds"); v != "" {
				if secs, err = strconv.Atoi(v); err != nil || secs < 0 || secs > rating.Unlimited {
					return badParam("seconds", "must be a whole number of seconds, 0 or more")
				}
			}
			var budget *money.Amount
			if v := c.str("budget"); v != "" {
				b, err := money.Parse(v)
				if err != nil || b < 0 {
					return badParam("budget", "must be a decimal amount, 0 or more, such as 5.00")
				}
				budget = &b
			}
			q, err := s.svc.QuoteCall(req.Context(), c.scope, id, number, at, secs, budget)
			if err != nil {
				return err
			}
			out := quoteOut{TenantID: id, Number: number, At: at, Seconds: secs, PlanID: q.Plan.ID, Plan: q.Plan.Name,
				Currency: string(q.Charge.Currency), Cost: q.Charge.Cost, BilledSeconds: q.Charge.BilledSeconds,
				Increments: q.Charge.Increments, FreeSeconds: q.Charge.FreeSeconds, Rate: rateJSON(&q.Charge.Rate)}
			if q.MaxSeconds >= 0 {
				out.MaxSeconds = &q.MaxSeconds
			}
			if out.Whitelisted, _, err = s.svc.Whitelisted(req.Context(), id, 0, number); err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, out)
		},
	}
}

// assignmentIn reads the id and body of an assignment PUT.
func (s *server) assignmentIn(req *http.Request) (int64, *tariffAssignmentIn, error) {
	id, err := pathID(req)
	if err != nil {
		return 0, nil, err
	}
	raw, err := s.readBody(req)
	if err != nil {
		return 0, nil, err
	}
	in := &tariffAssignmentIn{}
	if err := decodeJSON(raw, in); err != nil {
		return 0, nil, err
	}
	// Absent is not null: a body that forgot the field must not remove
	// the assignment.
	var present map[string]json.RawMessage
	if err := json.Unmarshal(raw, &present); err != nil || present["tariff_plan_id"] == nil {
		return 0, nil, provisioning.Invalid("tariff_plan_id", "is required: a plan's id, or null to remove the assignment")
	}
	return id, in, nil
}

// exportRates streams plan id's deck. The plan is looked up before the
// status is written, so a missing plan still gets the error envelope; a
// failure later cannot change the status, so the connection is aborted
// and the client sees a cut transfer, not a short deck that looks whole.
func (s *server) exportRates(w http.ResponseWriter, req *http.Request, c *call, id int64) error {
	return s.streamDeck(w, req, func(out io.Writer, before func(*provisioning.TariffPlan)) error {
		return s.svc.ExportTariffRates(req.Context(), c.scope, id, out, before, rating.DeckOptions{})
	})
}

// streamDeck streams the deck export writes, headers set once the plan is found.
func (s *server) streamDeck(w http.ResponseWriter, req *http.Request, export func(io.Writer, func(*provisioning.TariffPlan)) error) error {
	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{}) //nolint:errcheck // see extendWrite
	started := false
	err := export(&flushingWriter{w: w, rc: rc}, func(p *provisioning.TariffPlan) {
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="tariff-plan-`+strconv.FormatInt(p.ID, 10)+`.csv"`)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		extendWrite(rc)
		started = true
	})
	switch {
	case err == nil || !started:
		return err
	case api.ClientGone(req, err):
		s.log.DebugContext(req.Context(), "native: rate deck export: client gone", "err", err)
		return nil
	}
	s.log.ErrorContext(req.Context(), "native: rate deck export cut short", "err", err)
	panic(http.ErrAbortHandler)
}

// flushingWriter gives each write to a streaming client writeStall to
// complete, flushing every 64 KiB.
type flushingWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	pending int
}

func (f *flushingWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.pending += n
	if f.pending >= 64<<10 {
		f.pending = 0
		_ = f.rc.Flush()
		extendWrite(f.rc)
	}
	return n, err
}

// rateDeckType refuses a body that is not a deck.
func rateDeckType(req *http.Request) error {
	ct, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err == nil {
		for _, m := range rateDeckMedia {
			if ct == m {
				return nil
			}
		}
	}
	return &apiError{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
		Message: "the body must be a CSV rate deck (Content-Type text/csv)"}
}

// deckBody turns the body limit's error into a 413 on rates.
type deckBody struct{ r io.Reader }

func (b deckBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = provisioning.TooLarge("rates", "a rate deck is at most %d MiB", rateDeckLimit>>20)
	}
	return n, err
}

// flag reads a boolean query parameter (absent: false).
func (c *call) flag(name string) (bool, error) {
	switch c.str(name) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, badParam(name, "must be true or false")
}

func init() {
	tagDocs["tariff-plans"] = "Tariff plans: a tenant's prices by destination prefix (CSV rate decks of 100,000+ rates), assigned to tenants (inherited down the tree), to DIDs for their inbound calls and to gateways as their supplier's prices (least-cost routing), and a quote that prices a call as the CDR pipeline will."
	docs := func(schemas []string, m map[string]string) {
		for _, sch := range schemas {
			for k, v := range m {
				fieldDocs[sch+"."+k] = v
			}
		}
	}
	docs([]string{"TariffPlan", "TariffPlanCreate", "TariffPlanPatch"}, map[string]string{
		"currency":    "ISO 4217 code of every price in the plan (USD, EUR); stored upper-case",
		"time_zone":   "IANA time zone (Europe/Paris) the rates' days and time windows, and the deck's bare dates, are read in; default UTC",
		"charge_step": "each call's cost is rounded up to a multiple of it, a decimal 0 to 1 (0.0001: hundredths of a cent); 0 keeps 9 decimals",
		"name":        "1 to 100 characters, unique in the tenant",
	})
	fieldDocs["TariffPlan.rates"] = "how many rates the plan has"
	docs([]string{"TariffRate", "RateFields"}, map[string]string{
		"prefix":           "the dialled-digit prefix; the longest prefix with a rate in force wins",
		"destination":      "the destination's name for call records (Germany Mobile Vodafone)",
		"group":            "the invoice line's group (Germany Mobile)",
		"price_per_minute": "price per minute of billed time, a decimal with up to 9 decimals",
		"connect_fee":      "charged once per answered call",
		"first_increment":  "seconds of the first billed slice (60/60 bills whole minutes, 30/6, 1/1 per second)",
		"next_increment":   "seconds of every later slice",
		"minimum_seconds":  "the least billed time of a billed call",
		"free_seconds":     "the first seconds of each call are not billed (the connection fee is)",
		"days":             "weekdays the rate applies on (mon-fri, sat-sun, mon,wed); empty: every day",
		"time_from":        "start of the daily window, HH:MM in the plan's zone; empty with time_to: all day",
		"time_to":          "end of the daily window (exclusive, up to 24:00); a window ending before time_from runs over midnight",
		"effective_from":   "the rate applies to calls starting at or after this; null: always",
		"effective_to":     "the rate applies to calls starting before this; null: for ever",
	})
	fieldDocs["TariffRate.row"] = "the rate's row in the deck, 1 for the first after the header"
	docs([]string{"RateImport"}, map[string]string{
		"plan":       "the plan as it now is (unchanged on a dry run)",
		"rates":      "rates read from the deck, and now the plan's unless dry_run",
		"bytes":      "bytes of the deck read",
		"dry_run":    "nothing was written",
		"read_ms":    "time to read and check every row",
		"compile_ms": "time to check the deck as a whole (rating.Compile); the compiled tariff is kept for the next call",
		"store_ms":   "time to write the rates",
	})
	fieldDocs["TariffAssignment.tariff_plan_id"] = "the plan to assign (of the tenant or one of its parents), or null to remove the assignment"
	docs([]string{"TenantTariff"}, map[string]string{
		"tariff_plan_id":           "the tenant's own plan; null: it inherits its parent's",
		"effective_tariff_plan_id": "the plan that prices the tenant's calls; null: its calls are not rated",
		"inherited_from":           "the tenant whose assignment applies (the tenant itself when it has its own); null without a plan",
		"plan":                     "the effective plan; null when none",
	})
	docs([]string{"DIDTariff"}, map[string]string{
		"did_id":         "the DID",
		"number":         "the DID's number",
		"tariff_plan_id": "the DID's inbound plan; null: its inbound calls are not rated (the tenant's own plan prices the calls it places, not these)",
		"plan":           "the inbound plan; null when none",
	})
	docs([]string{"RatingQuote"}, map[string]string{
		"tenant_id":      "the tenant whose effective plan priced the call",
		"number":         "the number called",
		"at":             "when the call starts",
		"seconds":        "the call's billable seconds",
		"tariff_plan_id": "the plan that priced the call",
		"plan":           "the plan's name",
		"currency":       "ISO 4217 code of cost",
		"cost":           "what the call costs: connection fee + price per minute × billed seconds / 60, rounded up to the plan's charge step",
		"billed_seconds": "seconds charged per minute: after free seconds, rounded up to whole increments, at least the minimum",
		"increments":     "billed slices, the first included",
		"free_seconds":   "seconds of the call that were free",
		"max_seconds":    "how long the call may last for budget (2147483647: unlimited, a free destination; 0: the budget does not pay the first increment); null without budget",
		"whitelisted":    "whether the whitelists of the tenant and of the tenants above it allow number (true when none has any); false: the authorizer refuses the call as not_whitelisted whatever its price. A user's own whitelists may narrow it further",
	})
}
