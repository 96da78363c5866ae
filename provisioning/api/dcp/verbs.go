package dcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// Parameter specs shared by several verbs.
var (
	pAccID    = spec{max: provisioning.MaxLoginLen}
	pPassword = spec{max: provisioning.MaxPasswordLen}
	pEmail    = spec{max: provisioning.MaxEmailLen}
	pName     = spec{max: provisioning.MaxNameLen}
	pDCP      = spec{max: provisioning.MaxDomainLen}
	pUser     = spec{max: provisioning.MaxLoginLen}
	pNumber   = spec{max: provisioning.MaxUsernameLen, normalize: normalizeNumber} // names an existing account, whatever made it
	pNewNum   = spec{max: maxPhoneNumber, normalize: normalizeNumber, check: checkNewNumber}
	pSecret   = spec{max: provisioning.MaxSecretLen}
	pDesc     = spec{max: provisioning.MaxDescriptionLen}
	pCIDName  = spec{max: provisioning.MaxNameLen}
	pCIDNum   = spec{max: maxCallerNumber}
	pTenant   = spec{max: 19, check: checkID}
	// pCursor is the keyset cursor of the provisioning lists; cdr/list
	// and onlinephone/list check their own stores' cursors.
	pCursor = spec{max: 200, check: checkCursor}
)

// verbs is the whole dialect.
var verbs = map[string]*verb{
	"user/create": {write: true, run: (*handler).userCreate, params: map[string]spec{
		"accid": pAccID, "password": pPassword, "email": pEmail, "firstname": pName, "lastname": pName,
		"dcp": pDCP, "tenant": pTenant,
	}},
	"user/remove": {write: true, run: (*handler).userRemove, params: map[string]spec{"accid": pAccID, "email": pEmail}},
	"user/update": {write: true, run: (*handler).userUpdate, params: map[string]spec{
		"accid": pAccID, "password": pPassword, "email": pEmail, "firstname": pName, "lastname": pName,
	}},
	"user/list": {run: (*handler).userList, list: true, cursor: pCursor, params: map[string]spec{"dcp": pDCP}},

	"phonenumber/create": {write: true, run: (*handler).phoneCreate, params: map[string]spec{
		"user": pUser, "dcp": pDCP, "secret": pSecret, "desc": pDesc, "phonenumber": pNewNum,
		"callerid_name": pCIDName, "callerid_number": pCIDNum,
	}},
	"phonenumber/remove": {write: true, run: (*handler).phoneRemove, params: map[string]spec{
		"user": pUser, "dcp": pDCP, "phonenumber": pNumber,
	}},
	"phonenumber/update": {write: true, run: (*handler).phoneUpdate, params: map[string]spec{
		"user": pUser, "dcp": pDCP, "phonenumber": pNumber, "secret": pSecret, "desc": pDesc,
		"callerid_name": pCIDName, "callerid_number": pCIDNum,
	}},
	"phonenumber/list": {run: (*handler).phoneList, list: true, cursor: pCursor, params: map[string]spec{"dcp": pDCP, "user": pUser}},

	"domain/list":      {run: (*handler).domainList, list: true, cursor: pCursor},
	"onlinephone/list": {run: (*handler).onlineList, list: true, cursor: spec{max: 1000, check: checkPresenceCursor}, params: map[string]spec{"dcp": pDCP, "phonenumber": pNumber}},
	"gateway/list":     {run: (*handler).gatewayList, list: true, cursor: pCursor},
	"cdr/list": {run: (*handler).cdrList, list: true, cursor: spec{max: 200, check: checkCDRCursor}, params: map[string]spec{
		"dcp": pDCP, "phonenumber": pNumber, "caller": {max: maxCDRNumber}, "callee": {max: maxCDRNumber},
		"disposition": {max: 20, check: checkDisposition},
		"from":        {max: maxTime, check: checkTime}, "to": {max: maxTime, check: checkTime},
	}},
}

// duplicate rewrites a 409 on field as the dialect's own message, which
// names the caller's value rather than the model's words for it.
func duplicate(err error, field, format string, args ...any) error {
	var e *Error
	if errors.As(err, &e) && e.Code == http.StatusConflict && e.Field == field {
		return &Error{Code: http.StatusConflict, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	return err
}

// required returns the value of a parameter that must be given and not be
// empty.
func required(p *params, name string) (string, error) {
	v := p.get(name)
	if v == "" {
		return "", badParam(name, "is required")
	}
	return v, nil
}

// requireAll checks that each name is given and not empty, in order.
func requireAll(p *params, names ...string) error {
	for _, n := range names {
		if _, err := required(p, n); err != nil {
			return err
		}
	}
	return nil
}

// anyOf refuses an update that changes nothing.
func anyOf(p *params, names ...string) error {
	for _, n := range names {
		if p.has(n) {
			return nil
		}
	}
	return &Error{Code: http.StatusBadRequest, Message: "Nothing to update: give at least one of " + strings.Join(names, ", ")}
}

// domain returns the domain called name if the caller's scope sees it.
func (h *handler) domain(ctx context.Context, sc provisioning.Scope, name string) (*provisioning.Domain, error) {
	d, err := h.svc.DomainByName(ctx, sc, name)
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil, errDCP()
	}
	return d, err
}

// user returns the user with login if the caller's scope sees it; field
// is the parameter that named it, for the 502.
func (h *handler) user(ctx context.Context, sc provisioning.Scope, login, field string) (*provisioning.User, error) {
	u, err := h.svc.UserByLogin(ctx, sc, login)
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil, errUser(field)
	}
	return u, err
}

// userOfDomain returns the user named by the "user" parameter, who must
// belong to the tenant that owns the domain: a DCP's users are its
// tenant's users.
func (h *handler) userOfDomain(ctx context.Context, sc provisioning.Scope, login string, d *provisioning.Domain) (*provisioning.User, error) {
	u, err := h.user(ctx, sc, login, "user")
	if err != nil {
		return nil, err
	}
	if u.TenantID != d.TenantID {
		return nil, errUser("user")
	}
	return u, nil
}

// account returns the phone number username in domain d, which must
// belong to user u.
func (h *handler) account(ctx context.Context, sc provisioning.Scope, d *provisioning.Domain, username string, u *provisioning.User) (*provisioning.Account, error) {
	a, err := h.svc.AccountByUsername(ctx, sc, d.Name, username)
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil, errNumber()
	}
	if err != nil {
		return nil, err
	}
	if a.UserID == nil || *a.UserID != u.ID {
		return nil, errNumber()
	}
	return a, nil
}

// ---- users ----

func (h *handler) userCreate(ctx context.Context, c *call) (*result, error) {
	if err := requireAll(c.p, "accid", "password"); err != nil {
		return nil, err
	}
	tenant, err := h.targetTenant(ctx, c)
	if err != nil {
		return nil, err
	}
	u := &provisioning.User{
		TenantID: tenant, Login: c.p.get("accid"), Email: c.p.get("email"),
		FirstName: c.p.get("firstname"), LastName: c.p.get("lastname"), Role: provisioning.RoleUser,
	}
	if err := h.svc.CreateUser(ctx, c.sc, u, c.p.get("password")); err != nil {
		return nil, duplicate(fromService(err, "accid"), "accid", "accid %s already exists", u.Login)
	}
	return &result{data: viewUser(u)}, nil
}

// targetTenant is where user/create puts the user: the tenant of the dcp
// parameter's domain, the tenant parameter, or the token's own tenant.
// An admin token has no tenant of its own and must say.
func (h *handler) targetTenant(ctx context.Context, c *call) (int64, error) {
	dcp, tenant := c.p.get("dcp"), c.p.get("tenant")
	switch {
	case dcp != "" && tenant != "":
		return 0, badParam("tenant", "give either dcp or tenant, not both")
	case dcp != "":
		d, err := h.domain(ctx, c.sc, dcp)
		if err != nil {
			return 0, err
		}
		return d.TenantID, nil
	case tenant != "":
		id, _ := strconv.ParseInt(tenant, 10, 64) // checked by checkID
		if _, err := h.svc.Tenant(ctx, c.sc, id); err != nil {
			return 0, fromService(err, "accid")
		}
		return id, nil
	case c.sc.All() && h.defaultDomain != "":
		d, err := h.svc.DomainByName(ctx, c.sc, h.defaultDomain)
		if err != nil {
			// The operator's mistake, not the caller's: a 500, logged.
			return 0, fmt.Errorf("dcp: dcp.default_domain %q: %w", h.defaultDomain, err)
		}
		return d.TenantID, nil
	case c.sc.All():
		return h.soleTenant(ctx, c)
	}
	return c.sc.TenantID, nil
}

// soleTenant is user/create's target for an admin token that names no
// tenant, with no dcp.default_domain set: the one tenant of a
// single-tenant installation (the usual migration from the document's
// system, which had no tenants), else a 400 naming dcp, since guessing
// among several would put users where nobody asked.
func (h *handler) soleTenant(ctx context.Context, c *call) (int64, error) {
	ts, err := h.svc.Tenants(ctx, c.sc, provisioning.TenantFilter{Page: provisioning.Page{Limit: 2}})
	if err != nil {
		return 0, err
	}
	if len(ts) == 1 {
		return ts[0].ID, nil
	}
	return 0, badParam("dcp", "is required with an admin token when there is not exactly one tenant (or give tenant; dcp.default_domain sets a default)")
}

func (h *handler) userRemove(ctx context.Context, c *call) (*result, error) {
	login, email := c.p.get("accid"), c.p.get("email")
	var (
		u   *provisioning.User
		err error
	)
	switch {
	case login != "":
		if u, err = h.user(ctx, c.sc, login, "accid"); err != nil {
			return nil, err
		}
		if email != "" && !strings.EqualFold(email, u.Email) {
			return nil, errUser("email")
		}
	case email != "":
		if u, err = h.userByEmail(ctx, c.sc, email); err != nil {
			return nil, err
		}
	default:
		return nil, badParam("accid", "is required (or give email)")
	}
	if err := h.svc.DeleteUser(ctx, c.sc, u.ID); err != nil {
		return nil, fromService(err, "accid")
	}
	return &result{data: map[string]string{"accid": u.Login}}, nil
}

// userByEmail returns the one user in the caller's scope whose e-mail is
// email (case-insensitive): user/remove names a user by accid or by email.
// No match is a 502; several are a 400 asking for the accid.
func (h *handler) userByEmail(ctx context.Context, sc provisioning.Scope, email string) (*provisioning.User, error) {
	us, err := h.svc.Users(ctx, sc, provisioning.UserFilter{Email: email, Page: provisioning.Page{Limit: 2}})
	switch {
	case err != nil:
		return nil, err
	case len(us) == 0:
		return nil, errUser("email")
	case len(us) > 1:
		return nil, badParam("accid", "is required: more than one user has email %s", email)
	}
	return &us[0], nil
}

func (h *handler) userUpdate(ctx context.Context, c *call) (*result, error) {
	login, err := required(c.p, "accid")
	if err != nil {
		return nil, err
	}
	if err := anyOf(c.p, "password", "email", "firstname", "lastname"); err != nil {
		return nil, err
	}
	u, err := h.user(ctx, c.sc, login, "accid")
	if err != nil {
		return nil, err
	}
	u, err = h.svc.UpdateUser(ctx, c.sc, u.ID, func(u *provisioning.User) error {
		if pw, ok := c.p.lookup("password"); ok {
			if err := h.svc.SetPassword(u, pw.Value); err != nil {
				return err
			}
		}
		setIf(c.p, "email", &u.Email)
		setIf(c.p, "firstname", &u.FirstName)
		setIf(c.p, "lastname", &u.LastName)
		return nil
	})
	if err != nil {
		return nil, fromService(err, "accid")
	}
	return &result{data: viewUser(u)}, nil
}

// setIf sets *dst to the parameter's value when it was given, even empty
// (an empty value clears the field).
func setIf(p *params, name string, dst *string) {
	if v, ok := p.lookup(name); ok {
		*dst = v.Value
	}
}

func (h *handler) userList(ctx context.Context, c *call) (*result, error) {
	f := provisioning.UserFilter{Page: pageOf(c.p)}
	if name := c.p.get("dcp"); name != "" {
		d, err := h.domain(ctx, c.sc, name)
		if err != nil {
			return nil, err
		}
		f.TenantID = d.TenantID
	}
	us, err := h.svc.Users(ctx, c.sc, f)
	if err != nil {
		return nil, err
	}
	out := make([]userView, len(us))
	for i := range us {
		out[i] = viewUser(&us[i])
	}
	res := &result{data: out}
	if len(us) == f.Limit {
		err := setNext(res, us[len(us)-1].ID, func(after int64) (int, error) {
			f.After, f.Limit = after, 1
			more, err := h.svc.Users(ctx, c.sc, f)
			return len(more), err
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ---- phone numbers ----

// numberRange is where phonenumber/create without a phonenumber picks a
// number: 1000 (the first number of an empty DCP, as before) up to eight
// digits. The document gives no range; extensions of four to eight digits
// leave room for 10^8 phones per DCP, and keep the allocation clear of
// numbers created explicitly in full national or international form
// (84901234567) or up to the dialect's 20 digits, which would otherwise
// carry it off into their range or, at 20 digits, end it.
var numberRange = provisioning.NumberRange{First: 1000, Last: 99_999_999}

func (h *handler) phoneCreate(ctx context.Context, c *call) (*result, error) {
	if err := requireAll(c.p, "user", "dcp"); err != nil {
		return nil, err
	}
	d, err := h.domain(ctx, c.sc, c.p.get("dcp"))
	if err != nil {
		return nil, err
	}
	u, err := h.userOfDomain(ctx, c.sc, c.p.get("user"), d)
	if err != nil {
		return nil, err
	}
	a := &provisioning.Account{
		DomainID: d.ID, Username: c.p.get("phonenumber"), Secret: c.p.get("secret"),
		Description: c.p.get("desc"), CallerIDName: c.p.get("callerid_name"),
		CallerIDNumber: c.p.get("callerid_number"), UserID: &u.ID,
	}
	generated := a.Secret == ""
	if a.Username != "" {
		err = h.svc.CreateAccount(ctx, c.sc, a)
	} else {
		err = h.svc.CreateNumberedAccount(ctx, c.sc, a, numberRange)
	}
	if errors.Is(err, provisioning.ErrNoFreeNumber) {
		return nil, &Error{Code: http.StatusConflict, Field: "phonenumber", Message: "No free phone number left in this DCP: give a phonenumber"}
	}
	if err != nil {
		return nil, duplicate(fromService(err, "user"), "phonenumber", "phonenumber %s already exists in dcp %s", a.Username, d.Name)
	}
	v := viewPhone(a, u.Login)
	if generated {
		v.Secret = a.Secret
	}
	return &result{data: v}, nil
}

func (h *handler) phoneRemove(ctx context.Context, c *call) (*result, error) {
	if err := requireAll(c.p, "user", "dcp", "phonenumber"); err != nil {
		return nil, err
	}
	d, err := h.domain(ctx, c.sc, c.p.get("dcp"))
	if err != nil {
		return nil, err
	}
	u, err := h.user(ctx, c.sc, c.p.get("user"), "user")
	if err != nil {
		return nil, err
	}
	a, err := h.account(ctx, c.sc, d, c.p.get("phonenumber"), u)
	if err != nil {
		return nil, err
	}
	if err := h.svc.DeleteAccount(ctx, c.sc, a.ID); err != nil {
		return nil, fromService(err, "user")
	}
	return &result{data: map[string]string{"phonenumber": a.Username, "dcp": a.Domain, "user": u.Login}}, nil
}

func (h *handler) phoneUpdate(ctx context.Context, c *call) (*result, error) {
	if err := requireAll(c.p, "user", "dcp"); err != nil {
		return nil, err
	}
	if err := anyOf(c.p, "secret", "desc", "callerid_name", "callerid_number"); err != nil {
		return nil, err
	}
	d, err := h.domain(ctx, c.sc, c.p.get("dcp"))
	if err != nil {
		return nil, err
	}
	u, err := h.user(ctx, c.sc, c.p.get("user"), "user")
	if err != nil {
		return nil, err
	}
	var targets []provisioning.Account
	if num := c.p.get("phonenumber"); num != "" {
		a, err := h.account(ctx, c.sc, d, num, u)
		if err != nil {
			return nil, err
		}
		targets = []provisioning.Account{*a}
	} else if targets, err = h.userNumbers(ctx, c.sc, d, u); err != nil {
		return nil, err
	}
	var first *provisioning.Account
	for _, t := range targets {
		a, err := h.svc.UpdateAccount(ctx, c.sc, t.ID, func(a *provisioning.Account) error {
			setIf(c.p, "secret", &a.Secret)
			setIf(c.p, "desc", &a.Description)
			setIf(c.p, "callerid_name", &a.CallerIDName)
			setIf(c.p, "callerid_number", &a.CallerIDNumber)
			return nil
		})
		if err != nil {
			return nil, fromService(err, "user")
		}
		if first == nil {
			first = a
		}
	}
	return &result{data: viewPhone(first, u.Login)}, nil
}

// userNumbers returns every phone number user u has in domain d, oldest
// first: what phonenumber/update without phonenumber updates. The
// document names a phone number by user and dcp alone (its users had one
// per DCP), so a client written against it means "the user's phone in
// this DCP"; where a user has several, each gets the change, as the
// client's one phone would have (the answer shows the oldest). None: the
// document's 503.
func (h *handler) userNumbers(ctx context.Context, sc provisioning.Scope, d *provisioning.Domain, u *provisioning.User) ([]provisioning.Account, error) {
	f := provisioning.AccountFilter{DomainID: d.ID, UserID: u.ID, Page: provisioning.Page{Limit: provisioning.MaxLimit}}
	var all []provisioning.Account
	for {
		as, err := h.svc.Accounts(ctx, sc, f)
		if err != nil {
			return nil, err
		}
		all = append(all, as...)
		if len(as) < f.Limit {
			break
		}
		f.After = as[len(as)-1].ID
	}
	if len(all) == 0 {
		return nil, errNumber()
	}
	return all, nil
}

func (h *handler) phoneList(ctx context.Context, c *call) (*result, error) {
	f := provisioning.AccountFilter{Page: pageOf(c.p)}
	if name := c.p.get("dcp"); name != "" {
		d, err := h.domain(ctx, c.sc, name)
		if err != nil {
			return nil, err
		}
		f.DomainID = d.ID
	}
	if login := c.p.get("user"); login != "" {
		u, err := h.user(ctx, c.sc, login, "user")
		if err != nil {
			return nil, err
		}
		f.UserID = u.ID
	}
	as, err := h.svc.Accounts(ctx, c.sc, f)
	if err != nil {
		return nil, err
	}
	out := make([]phoneView, len(as))
	for i := range as {
		out[i] = viewPhone(&as[i], as[i].UserLogin)
	}
	res := &result{data: out}
	if len(as) == f.Limit {
		err := setNext(res, as[len(as)-1].ID, func(after int64) (int, error) {
			f.After, f.Limit = after, 1
			more, err := h.svc.Accounts(ctx, c.sc, f)
			return len(more), err
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// setNext gives a full page whose last object is lastID its next cursor
// when probe, asked for the objects after lastID, finds any.
func setNext(res *result, lastID int64, probe func(after int64) (int, error)) error {
	n, err := probe(lastID)
	if err != nil {
		return err
	}
	res.next = nextCursor(lastID, n > 0)
	return nil
}

// nextCursor is the cursor of the page after id, when there is one.
func nextCursor(after int64, more bool) string {
	if !more {
		return ""
	}
	return api.EncodeCursor(after)
}
