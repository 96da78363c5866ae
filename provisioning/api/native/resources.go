package native

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// Each kind of object has one input struct: the fields a caller may write.
// POST decodes it from zero; PATCH fills it from the stored object first
// (load), decodes the body over it, so only the fields present change, and
// writes it back (store). Fields absent from an input are read-only.

// input is implemented by the pointer to every input struct.
type input[M any] interface {
	// load copies m's writable fields into the input. Pointer fields are
	// copied deeply (clone): encoding/json decodes into the value a
	// non-nil pointer points at, and if that were the stored object's,
	// the Service would see its "old" value change with the new one and
	// skip the checks of a change (a tenant-admin moving its tenant
	// under a sibling, for one; TestCrossTenant catches it).
	load(m *M)
	// store writes the input's fields into m.
	store(svc *provisioning.Service, m *M) error
}

// clone returns a pointer to a copy of *p, or nil.
func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

type tenantIn struct {
	Name     string `json:"name"`
	ParentID *int64 `json:"parent_id"`
}

func (in *tenantIn) load(t *provisioning.Tenant) { in.Name, in.ParentID = t.Name, clone(t.ParentID) }
func (in *tenantIn) store(_ *provisioning.Service, t *provisioning.Tenant) error {
	t.Name, t.ParentID = in.Name, in.ParentID
	return nil
}

type domainIn struct {
	TenantID    int64  `json:"tenant_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (in *domainIn) load(d *provisioning.Domain) {
	in.TenantID, in.Name, in.Description = d.TenantID, d.Name, d.Description
}
func (in *domainIn) store(_ *provisioning.Service, d *provisioning.Domain) error {
	d.TenantID, d.Name, d.Description = in.TenantID, in.Name, in.Description
	return nil
}

type userIn struct {
	TenantID  int64             `json:"tenant_id"`
	Login     string            `json:"login"`
	Email     string            `json:"email"`
	FirstName string            `json:"first_name"`
	LastName  string            `json:"last_name"`
	Role      provisioning.Role `json:"role"`
	// Password is write-only: it is hashed and never returned.
	Password *string `json:"password"`
}

func (in *userIn) load(u *provisioning.User) {
	in.TenantID, in.Login, in.Email, in.FirstName, in.LastName, in.Role = u.TenantID, u.Login, u.Email, u.FirstName, u.LastName, u.Role
}
func (in *userIn) store(svc *provisioning.Service, u *provisioning.User) error {
	u.TenantID, u.Login, u.Email, u.FirstName, u.LastName, u.Role = in.TenantID, in.Login, in.Email, in.FirstName, in.LastName, in.Role
	if in.Password != nil {
		return svc.SetPassword(u, *in.Password)
	}
	return nil
}

type accountIn struct {
	DomainID int64 `json:"domain_id"`
	// Domain is the domain's name, an alternative to domain_id.
	Domain         string `json:"domain"`
	Username       string `json:"username"`
	Secret         string `json:"secret"`
	CallerIDName   string `json:"caller_id_name"`
	CallerIDNumber string `json:"caller_id_number"`
	Description    string `json:"description"`
	UserID         *int64 `json:"user_id"`
}

func (in *accountIn) load(a *provisioning.Account) {
	*in = accountIn{DomainID: a.DomainID, Domain: a.Domain, Username: a.Username, Secret: a.Secret,
		CallerIDName: a.CallerIDName, CallerIDNumber: a.CallerIDNumber, Description: a.Description, UserID: clone(a.UserID)}
}
func (in *accountIn) store(_ *provisioning.Service, a *provisioning.Account) error {
	if in.DomainID == a.DomainID && !strings.EqualFold(in.Domain, a.Domain) {
		// A new domain by name: let the Service resolve it (and refuse
		// the move).
		in.DomainID = 0
	}
	a.DomainID, a.Domain, a.Username, a.Secret = in.DomainID, in.Domain, in.Username, in.Secret
	a.CallerIDName, a.CallerIDNumber, a.Description, a.UserID = in.CallerIDName, in.CallerIDNumber, in.Description, in.UserID
	return nil
}

// checkAccountDomain refuses a create that names the domain twice, by id
// and by name, and means two domains: the Service would take domain_id and
// silently drop domain. (A PATCH cannot: any change of domain is refused.)
// A domain_id the caller cannot see is left to the Service, which answers
// it as a missing reference without telling whether it exists.
func checkAccountDomain(ctx context.Context, svc *provisioning.Service, sc provisioning.Scope, in *accountIn) error {
	if in.DomainID <= 0 || in.Domain == "" {
		return nil
	}
	if d, err := svc.Domain(ctx, sc, in.DomainID); err == nil && !strings.EqualFold(d.Name, in.Domain) {
		return provisioning.Invalid("domain", "names %q, but domain_id %d is %q: give one of them, or both for the same domain", in.Domain, d.ID, d.Name)
	}
	return nil
}

type gatewayIn struct {
	// TenantID null makes the gateway shared (admins only).
	TenantID *int64 `json:"tenant_id"`
	Name     string `json:"name"`
	Host     string `json:"host"`
	// Port is a pointer to tell a port given from one left out: absent
	// (or null) means the default, 5060 or 5061 for tls; 0 given is
	// refused, not taken for the default.
	Port        *int                   `json:"port"`
	Transport   provisioning.Transport `json:"transport"`
	Username    string                 `json:"username"`
	Secret      string                 `json:"secret"`
	Register    bool                   `json:"register"`
	QualifySecs int                    `json:"qualify_seconds"`
	Description string                 `json:"description"`
	// Managed false declares a trunk the operator defined on the switch
	// itself (provisioning.Gateway.Observed); absent or null means true.
	Managed *bool `json:"managed"`
}

func (in *gatewayIn) load(g *provisioning.Gateway) {
	managed := !g.Observed
	*in = gatewayIn{TenantID: clone(g.TenantID), Name: g.Name, Host: g.Host, Port: clone(&g.Port), Transport: g.Transport, Username: g.Username,
		Secret: g.Secret, Register: g.Register, QualifySecs: g.QualifySecs, Description: g.Description, Managed: &managed}
	if g.Port == 0 { // an observed gateway without a host has no port
		in.Port = nil
	}
}
func (in *gatewayIn) store(_ *provisioning.Service, g *provisioning.Gateway) error {
	port := 0 // the default (Gateway.Validate)
	if in.Port != nil {
		if *in.Port == 0 {
			return provisioning.Invalid("port", "must be between 1 and 65535; leave it out (or null) for the default, 5060 or 5061 for tls")
		}
		port = *in.Port
	}
	g.TenantID, g.Name, g.Host, g.Port, g.Transport = in.TenantID, in.Name, in.Host, port, in.Transport
	g.Username, g.Secret, g.Register, g.QualifySecs, g.Description = in.Username, in.Secret, in.Register, in.QualifySecs, in.Description
	g.Observed = in.Managed != nil && !*in.Managed
	return nil
}

type didIn struct {
	TenantID    int64                     `json:"tenant_id"`
	Number      string                    `json:"number"`
	AccountID   *int64                    `json:"account_id"`
	Destination *provisioning.Destination `json:"destination"`
	Description string                    `json:"description"`
	Record      bool                      `json:"record"`
}

func (in *didIn) load(d *provisioning.DID) {
	in.TenantID, in.Number, in.AccountID, in.Description, in.Record = d.TenantID, d.Number, clone(d.AccountID), d.Description, d.Record
	in.Destination = clone(d.Destination)
}
func (in *didIn) store(_ *provisioning.Service, d *provisioning.DID) error {
	d.TenantID, d.Number, d.AccountID, d.Description, d.Record = in.TenantID, in.Number, in.AccountID, in.Description, in.Record
	d.Destination = in.Destination
	return nil
}

// accountView is an account as the API shows it: never its secret, only
// whether it has one; and how far it reached each switch.
type accountView struct {
	*provisioning.Account
	HasSecret bool            `json:"has_secret"`
	Applied   []switchApplied `json:"applied"`
}

// accountCreated is the answer to a create: the one time a secret that
// Switchboard generated is shown. A secret the caller supplied is not
// echoed (the caller has it; an answer that repeats it only spreads it to
// logs and proxies), so secret is then absent.
type accountCreated struct {
	accountView
	Secret string `json:"secret,omitempty"`
}

type gatewayView struct {
	*provisioning.Gateway
	HasSecret bool `json:"has_secret"`
	// Managed is false for an observed gateway (provisioning.Gateway.
	// Observed): Switchboard never pushes it.
	Managed bool            `json:"managed"`
	Applied []switchApplied `json:"applied"`
}

// resource is one kind of provisioned object with its five routes. M is
// the model type, In its input struct.
type resource[M any, In any] struct {
	plural string // URL segment: "accounts"
	schema string // OpenAPI schema name: "Account"
	// view renders an object for GET, PATCH and lists; created for POST,
	// from the object stored and the input it was made of. sc is the
	// caller's: some fields are shown to admins only.
	view        func(sc provisioning.Scope, m *M) any
	viewType    reflect.Type
	created     func(sc provisioning.Scope, m *M, in *In) any
	createdType reflect.Type
	// required lists the fields a create must give (documentation only:
	// the Service validates).
	required []string
	filters  []param
	id       func(*M) int64

	create func(ctx context.Context, sc provisioning.Scope, in *In) (*M, error)
	get    func(ctx context.Context, sc provisioning.Scope, id int64) (*M, error)
	update func(ctx context.Context, sc provisioning.Scope, id int64, fn func(*M) error) (*M, error)
	del    func(ctx context.Context, sc provisioning.Scope, id int64) error
	list   func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]M, error)
}

func identity[M any](_ provisioning.Scope, m *M) any { return m }

// routes returns the five routes of r.
func routesOf[M any, In any, PIn interface {
	*In
	input[M]
}](s *server, r resource[M, In]) []*route {
	if r.view == nil {
		r.view, r.viewType = identity[M], reflect.TypeFor[M]()
	}
	if r.created == nil {
		view := r.view
		r.created, r.createdType = func(sc provisioning.Scope, m *M, _ *In) any { return view(sc, m) }, r.viewType
	}
	base := Prefix + "/" + r.plural
	item := base + "/{id}"
	inType := reflect.TypeFor[In]()
	return []*route{
		{
			method: http.MethodGet, path: base, op: listOp(r.schema), tag: r.plural,
			summary: "List " + r.plural + " in the caller's scope",
			query:   append(append([]param{}, r.filters...), pageParams...),
			resp:    response{status: http.StatusOK, list: true, typ: r.viewType, name: r.schema},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				p, err := c.page()
				if err != nil {
					return err
				}
				ms, err := r.list(req.Context(), c.scope, c, p)
				if err != nil {
					return err
				}
				out := list[any]{Items: make([]any, 0, len(ms))}
				for i := range ms {
					out.Items = append(out.Items, r.view(c.scope, &ms[i]))
				}
				if len(ms) == p.Limit && len(ms) > 0 {
					out.NextCursor = api.EncodeCursor(r.id(&ms[len(ms)-1]))
				}
				return writeJSON(w, http.StatusOK, out)
			},
		},
		{
			method: http.MethodPost, path: base, op: "create" + r.schema, tag: r.plural,
			summary: "Create a " + strings.ToLower(r.schema),
			body:    &body{typ: inType, name: r.schema + "Create", required: r.required},
			resp:    response{status: http.StatusCreated, typ: r.createdType, name: createdName(r.schema, r.createdType != r.viewType)},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				raw, err := s.readBody(req)
				if err != nil {
					return err
				}
				in := new(In)
				if err := decodeJSON(raw, in); err != nil {
					return err
				}
				m, err := r.create(req.Context(), c.scope, in)
				if err != nil {
					return err
				}
				w.Header().Set("Location", base+"/"+strconv.FormatInt(r.id(m), 10))
				return writeJSON(w, http.StatusCreated, r.created(c.scope, m, in))
			},
		},
		{
			method: http.MethodGet, path: item, op: "get" + r.schema, tag: r.plural,
			summary: "Get one " + strings.ToLower(r.schema),
			resp:    response{status: http.StatusOK, typ: r.viewType, name: r.schema},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				m, err := r.get(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, r.view(c.scope, m))
			},
		},
		{
			method: http.MethodPatch, path: item, op: "update" + r.schema, tag: r.plural,
			summary: "Change some fields of a " + strings.ToLower(r.schema) + "; absent fields are left as they are",
			body:    &body{typ: inType, name: r.schema + "Patch"},
			resp:    response{status: http.StatusOK, typ: r.viewType, name: r.schema},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				raw, err := s.readBody(req)
				if err != nil {
					return err
				}
				// Refuse malformed bodies before anything is loaded.
				if err := decodeJSON(raw, new(In)); err != nil {
					return err
				}
				m, err := r.update(req.Context(), c.scope, id, func(m *M) error {
					in := new(In)
					PIn(in).load(m)
					if err := decodeJSON(raw, in); err != nil {
						return err
					}
					return PIn(in).store(s.svc, m)
				})
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, r.view(c.scope, m))
			},
		},
		{
			method: http.MethodDelete, path: item, op: "delete" + r.schema, tag: r.plural,
			summary: "Delete a " + strings.ToLower(r.schema),
			resp:    response{status: http.StatusNoContent},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				if err := r.del(req.Context(), c.scope, id); err != nil {
					return err
				}
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusNoContent)
				return nil
			},
		},
	}
}

// listOp is the operationId of a list: the schema's English plural.
func listOp(schema string) string {
	if strings.HasSuffix(schema, "x") || strings.HasSuffix(schema, "s") {
		return "list" + schema + "es"
	}
	if stem, ok := strings.CutSuffix(schema, "y"); ok {
		return "list" + stem + "ies" // RecordingPolicy: listRecordingPolicies
	}
	return "list" + schema + "s"
}

func createdName(schema string, distinct bool) string {
	if distinct {
		return schema + "Created"
	}
	return schema
}

// The list filters. Each maps onto a field of the provisioning *Filter
// struct of its kind.
var (
	pTenantID  = param{name: "tenant_id", typ: "id", doc: "only objects of this tenant"}
	pDomainID  = param{name: "domain_id", typ: "id", doc: "only accounts of this domain"}
	pUserID    = param{name: "user_id", typ: "id", doc: "only accounts owned by this user"}
	pAccountID = param{name: "account_id", typ: "id", doc: "only DIDs routed to this account"}
	pParentID  = param{name: "parent_id", typ: "id", doc: "only direct children of this tenant"}
	pName      = param{name: "name", typ: "string", doc: "exact name"}
	pageParams = []param{
		{name: "limit", typ: "limit", doc: "page size, 1 to 1000 (default 100)"},
		{name: "cursor", typ: "string", doc: "the next_cursor of the previous page"},
	}
)

func (s *server) resourceRoutes() []*route {
	svc := s.svc
	var out []*route
	out = append(out, routesOf[provisioning.Tenant, tenantIn](s, resource[provisioning.Tenant, tenantIn]{
		plural: "tenants", schema: "Tenant", required: []string{"name"},
		filters: []param{pParentID, pName},
		id:      func(t *provisioning.Tenant) int64 { return t.ID },
		create: func(ctx context.Context, sc provisioning.Scope, in *tenantIn) (*provisioning.Tenant, error) {
			t := &provisioning.Tenant{}
			in.store(svc, t) //nolint:errcheck // never fails
			return t, svc.CreateTenant(ctx, sc, t)
		},
		get: svc.Tenant, update: svc.UpdateTenant, del: svc.DeleteTenant,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]provisioning.Tenant, error) {
			f := provisioning.TenantFilter{Name: c.str("name"), Page: p}
			parent, err := c.id("parent_id")
			if err != nil {
				return nil, err
			}
			if parent > 0 {
				f.ParentID = &parent
			}
			return svc.Tenants(ctx, sc, f)
		},
	})...)

	out = append(out, routesOf[provisioning.Domain, domainIn](s, resource[provisioning.Domain, domainIn]{
		plural: "domains", schema: "Domain", required: []string{"tenant_id", "name"},
		filters: []param{pTenantID, pName},
		id:      func(d *provisioning.Domain) int64 { return d.ID },
		create: func(ctx context.Context, sc provisioning.Scope, in *domainIn) (*provisioning.Domain, error) {
			d := &provisioning.Domain{}
			in.store(svc, d) //nolint:errcheck // never fails
			return d, svc.CreateDomain(ctx, sc, d)
		},
		get: svc.Domain, update: svc.UpdateDomain, del: svc.DeleteDomain,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]provisioning.Domain, error) {
			f := provisioning.DomainFilter{Name: c.str("name"), Page: p}
			var err error
			if f.TenantID, err = c.id("tenant_id"); err != nil {
				return nil, err
			}
			return svc.Domains(ctx, sc, f)
		},
	})...)

	out = append(out, routesOf[provisioning.User, userIn](s, resource[provisioning.User, userIn]{
		plural: "users", schema: "User", required: []string{"tenant_id", "login", "password"},
		filters: []param{pTenantID,
			{name: "login", typ: "string", doc: "exact login"},
			{name: "email", typ: "string", doc: "exact e-mail address, case-insensitive"}},
		id: func(u *provisioning.User) int64 { return u.ID },
		create: func(ctx context.Context, sc provisioning.Scope, in *userIn) (*provisioning.User, error) {
			u := &provisioning.User{TenantID: in.TenantID, Login: in.Login, Email: in.Email,
				FirstName: in.FirstName, LastName: in.LastName, Role: in.Role}
			password := ""
			if in.Password != nil {
				password = *in.Password
			}
			return u, svc.CreateUser(ctx, sc, u, password)
		},
		get: svc.User, update: svc.UpdateUser, del: svc.DeleteUser,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]provisioning.User, error) {
			f := provisioning.UserFilter{Login: c.str("login"), Email: c.str("email"), Page: p}
			var err error
			if f.TenantID, err = c.id("tenant_id"); err != nil {
				return nil, err
			}
			return svc.Users(ctx, sc, f)
		},
	})...)

	accountViewOf := func(sc provisioning.Scope, a *provisioning.Account) accountView {
		return accountView{Account: a, HasSecret: a.Secret != "", Applied: s.accountApplied(sc, a)}
	}
	out = append(out, routesOf[provisioning.Account, accountIn](s, resource[provisioning.Account, accountIn]{
		plural: "accounts", schema: "Account", required: []string{"username"},
		view:     func(sc provisioning.Scope, a *provisioning.Account) any { return accountViewOf(sc, a) },
		viewType: reflect.TypeFor[accountView](),
		created: func(sc provisioning.Scope, a *provisioning.Account, in *accountIn) any {
			out := accountCreated{accountView: accountViewOf(sc, a)}
			if in.Secret == "" { // generated: shown this once
				out.Secret = a.Secret
			}
			return out
		},
		createdType: reflect.TypeFor[accountCreated](),
		filters: []param{pDomainID,
			{name: "domain", typ: "string", doc: "only accounts of the domain with this name"},
			pTenantID, pUserID,
			{name: "username", typ: "string", doc: "exact SIP username"},
			{name: "username_prefix", typ: "string", doc: "SIP usernames starting with this"}},
		id: func(a *provisioning.Account) int64 { return a.ID },
		create: func(ctx context.Context, sc provisioning.Scope, in *accountIn) (*provisioning.Account, error) {
			if err := checkAccountDomain(ctx, svc, sc, in); err != nil {
				return nil, err
			}
			a := &provisioning.Account{}
			in.store(svc, a) //nolint:errcheck // never fails
			return a, svc.CreateAccount(ctx, sc, a)
		},
		get: svc.Account, update: svc.UpdateAccount, del: svc.DeleteAccount,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]provisioning.Account, error) {
			f := provisioning.AccountFilter{Username: c.str("username"), UsernamePrefix: c.str("username_prefix"), Page: p}
			var err error
			if f.DomainID, err = c.id("domain_id"); err != nil {
				return nil, err
			}
			if f.TenantID, err = c.id("tenant_id"); err != nil {
				return nil, err
			}
			if f.UserID, err = c.id("user_id"); err != nil {
				return nil, err
			}
			if name := c.str("domain"); name != "" {
				d, err := svc.DomainByName(ctx, sc, name)
				if errors.Is(err, provisioning.ErrNotFound) {
					return nil, nil // a domain the caller cannot see has no accounts for it
				}
				if err != nil {
					return nil, err
				}
				if f.DomainID != 0 && f.DomainID != d.ID {
					return nil, nil // domain and domain_id disagree: nothing matches both
				}
				f.DomainID = d.ID
			}
			return svc.Accounts(ctx, sc, f)
		},
	})...)

	gatewayViewOf := func(sc provisioning.Scope, g *provisioning.Gateway) any {
		return gatewayView{Gateway: g, HasSecret: g.Secret != "", Managed: !g.Observed, Applied: s.gatewayApplied(sc, g)}
	}
	out = append(out, routesOf[provisioning.Gateway, gatewayIn](s, resource[provisioning.Gateway, gatewayIn]{
		plural: "gateways", schema: "Gateway", required: []string{"name"}, // and host, unless managed is false
		// A gateway's secret is always the caller's (the carrier's
		// credentials): never echoed, has_secret only.
		view: gatewayViewOf, viewType: reflect.TypeFor[gatewayView](),
		filters: []param{pTenantID, pName},
		id:      func(g *provisioning.Gateway) int64 { return g.ID },
		create: func(ctx context.Context, sc provisioning.Scope, in *gatewayIn) (*provisioning.Gateway, error) {
			g := &provisioning.Gateway{}
			if err := in.store(svc, g); err != nil {
				return nil, err
			}
			return g, svc.CreateGateway(ctx, sc, g)
		},
		get: svc.Gateway, update: svc.UpdateGateway, del: svc.DeleteGateway,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]provisioning.Gateway, error) {
			f := provisioning.GatewayFilter{Name: c.str("name"), Page: p}
			var err error
			if f.TenantID, err = c.id("tenant_id"); err != nil {
				return nil, err
			}
			return svc.Gateways(ctx, sc, f)
		},
	})...)

	out = append(out, routesOf[provisioning.DID, didIn](s, resource[provisioning.DID, didIn]{
		plural: "dids", schema: "DID", required: []string{"tenant_id", "number"},
		filters: []param{pTenantID, pAccountID,
			{name: "number_prefix", typ: "string", doc: "E.164 numbers starting with this (include the +)"}},
		id: func(d *provisioning.DID) int64 { return d.ID },
		create: func(ctx context.Context, sc provisioning.Scope, in *didIn) (*provisioning.DID, error) {
			d := &provisioning.DID{}
			in.store(svc, d) //nolint:errcheck // never fails
			return d, svc.CreateDID(ctx, sc, d)
		},
		get: svc.DID, update: svc.UpdateDID, del: svc.DeleteDID,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]provisioning.DID, error) {
			f := provisioning.DIDFilter{NumberPrefix: c.str("number_prefix"), Page: p}
			var err error
			if f.TenantID, err = c.id("tenant_id"); err != nil {
				return nil, err
			}
			if f.AccountID, err = c.id("account_id"); err != nil {
				return nil, err
			}
			return svc.DIDs(ctx, sc, f)
		},
	})...)
	return out
}
