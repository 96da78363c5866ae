package native

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/invoicedoc"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// Billing (provisioning/billing*.go, cdr/cdrstore ledger and invoices): a
// tenant's account settings, its balance, payments and ledger, its
// subscriptions and its invoices. A tenant reads its own; settings,
// subscriptions, payments and invoices are written by an admin or by the
// administrators of a tenant above it, never by the tenant itself.

// billingIn is the body of PUT /tenants/{id}/billing. Amounts are
// decimal strings, exact.
type billingIn struct {
	Mode        string  `json:"mode"`
	CreditLimit *string `json:"credit_limit"`
	Currency    string  `json:"currency"`
	VATPercent  string  `json:"vat_percent"`
}

// paymentIn is a payment to book.
type paymentIn struct {
	Amount    string `json:"amount"`
	Currency  string `json:"currency"`
	Reference string `json:"reference"`
}

// paymentOut is a payment as booked: booked is false when the reference
// was booked already (nothing changed).
type paymentOut struct {
	TenantID  int64          `json:"tenant_id"`
	Amount    money.Amount   `json:"amount"`
	Currency  money.Currency `json:"currency"`
	Reference string         `json:"reference"`
	Booked    bool           `json:"booked"`
}

// balanceOut is a tenant's money: its settings and a balance per
// currency. Available is what may still be spent in the billing currency
// (balance + credit limit); null with no limit.
type balanceOut struct {
	TenantID    int64          `json:"tenant_id"`
	Mode        string         `json:"mode"`
	Currency    money.Currency `json:"currency"`
	CreditLimit *money.Amount  `json:"credit_limit"`
	Available   *money.Amount  `json:"available"`
	Balances    []balanceItem  `json:"balances"`
}

type balanceItem struct {
	Currency  money.Currency `json:"currency"`
	Balance   money.Amount   `json:"balance"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// invoiceIn asks for a month's invoice.
type invoiceIn struct {
	Period string `json:"period"`
}

// subscriptionIn is a subscription's writable fields.
type subscriptionIn struct {
	TenantID int64  `json:"tenant_id"`
	Name     string `json:"name"`
	DIDID    *int64 `json:"did_id"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Start    string `json:"start"`
	End      string `json:"end"`
}

func (in *subscriptionIn) load(m *provisioning.Subscription) {
	*in = subscriptionIn{TenantID: m.TenantID, Name: m.Name, DIDID: clone(m.DIDID), Amount: m.Amount.String(),
		Currency: string(m.Currency), Start: m.Start, End: m.End}
}

func (in *subscriptionIn) store(_ *provisioning.Service, m *provisioning.Subscription) error {
	a, err := money.Parse(in.Amount)
	if err != nil {
		return provisioning.Invalid("amount", "must be a decimal such as 12.50 (got %q)", in.Amount)
	}
	m.TenantID, m.Name, m.DIDID, m.Amount, m.Currency, m.Start, m.End = in.TenantID, in.Name, in.DIDID, a, money.Currency(in.Currency), in.Start, in.End
	return nil
}

// ledgerErr turns the ledger's refusals into the Service's errors.
func ledgerErr(err error) error {
	switch {
	case errors.Is(err, cdrstore.ErrInvalidEntry):
		return fmt.Errorf("%w: %s", provisioning.ErrInvalid, err.Error())
	case errors.Is(err, cdrstore.ErrInvoiceNotFound):
		return provisioning.NotFound("invoice", "")
	}
	return err
}

var errNoLedger = errors.New("native: no ledger configured")

func (s *server) ledger() (api.Ledger, error) {
	if s.d.Ledger == nil {
		return nil, errNoLedger
	}
	return s.d.Ledger, nil
}

// readInto reads and strictly decodes the JSON body into dst.
func (s *server) readInto(req *http.Request, dst any) error {
	raw, err := s.readBody(req)
	if err != nil {
		return err
	}
	return decodeJSON(raw, dst)
}

func (s *server) billingRoutes() []*route {
	svc := s.svc
	tenant := Prefix + "/tenants/{id}"
	out := []*route{
		{
			method: http.MethodGet, path: tenant + "/billing", op: "getTenantBilling", tag: "billing",
			summary: "A tenant's billing settings",
			doc:     "Prepaid or postpaid, credit limit (null: no limit), currency and VAT percent. A tenant without settings of its own shows the defaults: postpaid, no limit, its tariff plan's currency, no VAT (updated_at is then the zero time).",
			resp:    response{status: http.StatusOK, typ: reflect.TypeFor[provisioning.BillingSettings](), name: "BillingSettings"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				b, err := svc.TenantBilling(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, b)
			},
		},
		{
			method: http.MethodPut, path: tenant + "/billing", op: "setTenantBilling", tag: "billing",
			summary: "Set a tenant's billing settings",
			doc: "mode prepaid (calls while the balance is above zero; credit_limit must be absent or 0) or postpaid (the balance may go down to -credit_limit; null: no limit). " +
				"currency must be the tenant's tariff plan's (empty: the plan's; 400 on currency otherwise). vat_percent 0 to 100. " +
				"Set by an admin or a parent tenant's administrators, never by the tenant itself (403). The real-time authorizer sees the change on its next call.",
			body: &body{typ: reflect.TypeFor[billingIn](), name: "BillingSettingsInput", required: []string{"mode"}},
			resp: response{status: http.StatusOK, typ: reflect.TypeFor[provisioning.BillingSettings](), name: "BillingSettings"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				var in billingIn
				if err := s.readInto(req, &in); err != nil {
					return err
				}
				b := &provisioning.BillingSettings{Mode: in.Mode, Currency: money.Currency(in.Currency)}
				if in.CreditLimit != nil {
					l, err := money.Parse(*in.CreditLimit)
					if err != nil {
						return provisioning.Invalid("credit_limit", "must be a decimal such as 100.00, or null for no limit")
					}
					b.CreditLimit = &l
				}
				if in.VATPercent != "" {
					if b.VATPercent, err = money.Parse(in.VATPercent); err != nil {
						return provisioning.Invalid("vat_percent", "must be a decimal such as 19 or 7.7")
					}
				}
				b, err = svc.SetTenantBilling(req.Context(), c.scope, id, b)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, b)
			},
		},
		{
			method: http.MethodGet, path: tenant + "/balance", op: "getTenantBalance", tag: "billing",
			summary: "A tenant's balance",
			doc: "One balance per currency the tenant was charged or paid in (negative: it owes), changed atomically with each priced CDR, payment and subscription charge. " +
				"available is what may still be spent in the billing currency: balance + credit limit (null with no limit).",
			resp: response{status: http.StatusOK, typ: reflect.TypeFor[balanceOut](), name: "Balance"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				b, err := svc.TenantBilling(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				l, err := s.ledger()
				if err != nil {
					return err
				}
				bs, err := l.Balances(req.Context(), id)
				if err != nil {
					return err
				}
				out := balanceOut{TenantID: id, Mode: b.Mode, Currency: b.Currency, CreditLimit: b.CreditLimit, Balances: []balanceItem{}}
				var own money.Amount
				for _, x := range bs {
					out.Balances = append(out.Balances, balanceItem{Currency: x.Currency, Balance: x.Balance, UpdatedAt: x.UpdatedAt})
					if x.Currency == b.Currency {
						own = x.Balance
					}
				}
				if b.CreditLimit != nil {
					a, err := own.Add(*b.CreditLimit)
					if err != nil {
						return err
					}
					out.Available = &a
				}
				return writeJSON(w, http.StatusOK, out)
			},
		},
		s.ledgerRoute(tenant+"/payments", "listPayments", "A tenant's payments", cdrstore.KindPayment),
		s.ledgerRoute(tenant+"/ledger", "listLedger", "A tenant's ledger: every movement of its balances", ""),
		{
			method: http.MethodPost, path: tenant + "/payments", op: "addPayment", tag: "billing",
			summary: "Book a payment",
			doc: "Adds amount (a positive decimal) to the tenant's balance in currency (empty: its billing currency; another currency than its billing currency is refused, 400), " +
				"in one transaction with its ledger entry. reference (a bank transfer's id, an idempotency key) books it once: posting it again answers 200 with booked false and changes nothing. " +
				"Booked by an admin or a parent tenant's administrators, never by the tenant itself (403).",
			body: &body{typ: reflect.TypeFor[paymentIn](), name: "PaymentInput", required: []string{"amount", "reference"}},
			resp: response{status: http.StatusCreated, typ: reflect.TypeFor[paymentOut](), name: "Payment"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				var in paymentIn
				if err := s.readInto(req, &in); err != nil {
					return err
				}
				a, err := money.Parse(in.Amount)
				if err != nil || a <= 0 {
					return provisioning.Invalid("amount", "must be a positive decimal such as 50.00 (got %q)", in.Amount)
				}
				if in.Reference == "" || len(in.Reference) > 200 {
					return provisioning.Invalid("reference", "is required (at most 200 characters): it books the payment once")
				}
				b, err := svc.BillingWrite(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				cur, err := b.CurrencyFor(money.Currency(in.Currency))
				if err != nil {
					return err
				}
				l, err := s.ledger()
				if err != nil {
					return err
				}
				booked, err := l.Post(req.Context(), cdrstore.Entry{TenantID: id, Currency: cur, Kind: cdrstore.KindPayment, Amount: a, Reference: in.Reference})
				if err != nil {
					return ledgerErr(err)
				}
				status := http.StatusCreated
				if !booked {
					status = http.StatusOK
				}
				return writeJSON(w, status, paymentOut{TenantID: id, Amount: a, Currency: cur, Reference: in.Reference, Booked: booked})
			},
		},
		{
			method: http.MethodPost, path: tenant + "/invoices", op: "generateInvoice", tag: "billing",
			summary: "Issue a tenant's invoice for a month",
			doc: "period is a month that has ended (YYYY-MM, UTC). The invoice is built in the database from the month's priced calls (one line per destination group: count, minutes, amount), " +
				"its subscription charges and the payments booked in it; subtotal, VAT (the tenant's percent, half up to the cent) and total; numbered in sequence without gaps. " +
				"It is stored and never changes: asking again answers 200 with the same invoice (201 when it was issued now). Issued by an admin or a parent tenant's administrators (403 for the tenant itself).",
			body: &body{typ: reflect.TypeFor[invoiceIn](), name: "InvoiceInput", required: []string{"period"}},
			resp: response{status: http.StatusCreated, typ: reflect.TypeFor[cdrstore.Invoice](), name: "Invoice"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				var in invoiceIn
				if err := s.readInto(req, &in); err != nil {
					return err
				}
				month, err := time.Parse("2006-01", in.Period)
				if err != nil {
					return provisioning.Invalid("period", "must be a month as YYYY-MM (got %q)", in.Period)
				}
				if !month.AddDate(0, 1, 0).Before(time.Now()) {
					return provisioning.Invalid("period", "must be a month that has ended: an invoice never changes once issued")
				}
				b, err := svc.BillingWrite(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				if b.Currency == "" {
					return provisioning.Invalid("currency", "the tenant has no billing currency: set its billing settings or a tariff plan first")
				}
				l, err := s.ledger()
				if err != nil {
					return err
				}
				inv, created, err := l.GenerateInvoice(req.Context(), cdrstore.InvoiceRequest{TenantID: id, Month: month, Currency: b.Currency,
					VATPercent: b.VATPercent, Describe: s.describeSubscription(req.Context(), c.scope, id)})
				if err != nil {
					return ledgerErr(err)
				}
				status := http.StatusOK
				if created {
					status = http.StatusCreated
				}
				return writeJSON(w, status, inv)
			},
		},
		{
			method: http.MethodGet, path: tenant + "/invoices", op: "listInvoices", tag: "billing",
			summary: "A tenant's invoices, by number",
			resp:    response{status: http.StatusOK, list: true, typ: reflect.TypeFor[cdrstore.Invoice](), name: "Invoice"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				if _, err := svc.TenantBilling(req.Context(), c.scope, id); err != nil {
					return err
				}
				l, err := s.ledger()
				if err != nil {
					return err
				}
				invs, err := l.Invoices(req.Context(), []int64{id})
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, list[cdrstore.Invoice]{Items: invs})
			},
		},
		{
			method: http.MethodGet, path: Prefix + "/invoices/{id}", op: "getInvoice", tag: "billing",
			summary: "An invoice by its number: JSON, PDF or CSV",
			doc:     "format json (default), pdf (A4, the lines and totals) or csv (one row per line, then subtotal, vat and total rows).",
			query:   []param{{name: "format", typ: "string", doc: "json (default), pdf or csv", enum: []string{"json", "pdf", "csv"}}},
			resp: response{status: http.StatusOK, typ: reflect.TypeFor[cdrstore.Invoice](), name: "Invoice",
				media: "application/pdf", mediaDoc: "the invoice as PDF (format=pdf) or text/csv (format=csv)",
				headers: map[string]string{"Content-Disposition": `attachment; filename="invoice-<number>.pdf" (format=pdf, csv)`}},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				n, err := pathID(req)
				if err != nil {
					return err
				}
				l, err := s.ledger()
				if err != nil {
					return err
				}
				inv, err := l.InvoiceByNumber(req.Context(), n)
				if err != nil {
					if errors.Is(err, cdrstore.ErrInvoiceNotFound) {
						return provisioning.NotFound("invoice", n)
					}
					return err
				}
				t, err := svc.Tenant(req.Context(), c.scope, inv.TenantID)
				if err != nil {
					if errors.Is(err, provisioning.ErrNotFound) {
						return provisioning.NotFound("invoice", n)
					}
					return err
				}
				doc := invoicedoc.Doc{Invoice: inv, Customer: invoicedoc.Party{Name: t.Name}, Issuer: s.issuer(req.Context(), t)}
				name := "invoice-" + strconv.FormatInt(inv.Number, 10)
				switch c.str("format") {
				case "", "json":
					return writeJSON(w, http.StatusOK, inv)
				case "pdf":
					w.Header().Set("Content-Type", "application/pdf")
					w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.pdf"`)
					return invoicedoc.WritePDF(w, doc)
				case "csv":
					w.Header().Set("Content-Type", "text/csv; charset=utf-8")
					w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
					return invoicedoc.WriteCSV(w, doc)
				}
				return badParam("format", "must be json, pdf or csv")
			},
		},
	}
	svcSubs := routesOf[provisioning.Subscription, subscriptionIn](s, resource[provisioning.Subscription, subscriptionIn]{
		plural: "subscriptions", schema: "Subscription", required: []string{"tenant_id", "name", "amount", "currency", "start"},
		filters: []param{pTenantID},
		id:      func(m *provisioning.Subscription) int64 { return m.ID },
		create: func(ctx context.Context, sc provisioning.Scope, in *subscriptionIn) (*provisioning.Subscription, error) {
			m := &provisioning.Subscription{}
			if err := in.store(svc, m); err != nil {
				return nil, err
			}
			return m, svc.CreateSubscription(ctx, sc, m)
		},
		get: svc.Subscription, update: svc.UpdateSubscription, del: svc.DeleteSubscription,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]provisioning.Subscription, error) {
			f := provisioning.SubscriptionFilter{Page: p}
			var err error
			if f.TenantID, err = c.id("tenant_id"); err != nil {
				return nil, err
			}
			return svc.Subscriptions(ctx, sc, f)
		},
	})
	return append(out, svcSubs...)
}

// ledgerRoute lists a tenant's ledger entries of kind ("" every kind).
func (s *server) ledgerRoute(path, op, summary, kind string) *route {
	rt := &route{
		method: http.MethodGet, path: path, op: op, tag: "billing", summary: summary,
		doc: "Entries in booking order, amounts signed (a call's charge and a subscription's negative, a payment positive). " +
			"kind charge: a priced CDR (switch, call_id); rerate: a re-pricing's difference; payment, credit, subscription: with their reference.",
		query: pageParams,
		resp:  response{status: http.StatusOK, list: true, typ: reflect.TypeFor[cdrstore.LedgerEntry](), name: "LedgerEntry"},
		handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
			id, err := pathID(req)
			if err != nil {
				return err
			}
			p, err := c.page()
			if err != nil {
				return err
			}
			if _, err := s.svc.TenantBilling(req.Context(), c.scope, id); err != nil {
				return err
			}
			l, err := s.ledger()
			if err != nil {
				return err
			}
			k := kind
			if k == "" {
				k = c.str("kind")
			}
			es, err := l.Ledger(req.Context(), cdrstore.LedgerFilter{TenantID: id, Kind: k, After: p.After, Limit: p.Limit})
			if err != nil {
				return err
			}
			page := list[cdrstore.LedgerEntry]{Items: es}
			if len(es) == p.Limit && len(es) > 0 {
				page.NextCursor = api.EncodeCursor(es[len(es)-1].ID)
			}
			return writeJSON(w, http.StatusOK, page)
		},
	}
	if kind == "" {
		rt.query = append([]param{{name: "kind", typ: "string", doc: "only entries of this kind",
			enum: []string{cdrstore.KindCharge, cdrstore.KindRerate, cdrstore.KindPayment, cdrstore.KindCredit, cdrstore.KindSubscription}}}, pageParams...)
	}
	return rt
}

// describeSubscription names an invoice's subscription lines by the
// subscriptions' names ("PBX (subscription 3)"), as far as sc sees them.
func (s *server) describeSubscription(ctx context.Context, sc provisioning.Scope, tenantID int64) func(string) string {
	names := map[string]string{}
	subs, err := s.svc.Subscriptions(ctx, sc, provisioning.SubscriptionFilter{TenantID: tenantID, Page: provisioning.Page{Limit: provisioning.MaxLimit}})
	if err != nil {
		return nil
	}
	for _, sub := range subs {
		names[strconv.FormatInt(sub.ID, 10)] = sub.Name
	}
	return func(ref string) string {
		rest, ok := strings.CutPrefix(ref, "subscription:")
		id, month, ok2 := strings.Cut(rest, ":")
		if n, known := names[id]; ok && ok2 && known {
			return n + " (" + month + ")"
		}
		return ""
	}
}

// issuer is who issues t's invoice: its parent tenant, or the operator.
func (s *server) issuer(ctx context.Context, t *provisioning.Tenant) invoicedoc.Party {
	if t.ParentID != nil {
		if p, err := s.svc.Tenant(ctx, provisioning.AdminScope(), *t.ParentID); err == nil {
			return invoicedoc.Party{Name: p.Name}
		}
	}
	return invoicedoc.Party{Name: "Switchboard"}
}

func init() {
	tagDocs["subscriptions"] = "Subscriptions: recurring monthly charges of a tenant for a service or a DID, from start to end (inclusive), charged on each month's first day, prorated by days for a partial month, once per month (a daily job; a restart never charges twice). Set by a parent tenant's administrators."
	tagDocs["billing"] = "Billing: a tenant's account settings (prepaid or postpaid, credit limit, currency, VAT), balance, payments and ledger, subscriptions (monthly charges, prorated) and invoices (PDF, CSV), numbered without gaps."
}
