package provisioning_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// counts is how many objects of each kind an admin sees.
func (e *env) counts(t *testing.T) [7]int {
	t.Helper()
	big := provisioning.Page{Limit: provisioning.MaxLimit}
	tn, err := e.svc.Tenants(e.ctx, admin, provisioning.TenantFilter{Page: big})
	must(t, err)
	d, err := e.svc.Domains(e.ctx, admin, provisioning.DomainFilter{Page: big})
	must(t, err)
	u, err := e.svc.Users(e.ctx, admin, provisioning.UserFilter{Page: big})
	must(t, err)
	a, err := e.svc.Accounts(e.ctx, admin, provisioning.AccountFilter{Page: big})
	must(t, err)
	g, err := e.svc.Gateways(e.ctx, admin, provisioning.GatewayFilter{Page: big})
	must(t, err)
	n, err := e.svc.DIDs(e.ctx, admin, provisioning.DIDFilter{Page: big})
	must(t, err)
	k, err := e.svc.Tokens(e.ctx, big)
	must(t, err)
	return [7]int{len(tn), len(d), len(u), len(a), len(g), len(n), len(k)}
}

// fieldOf returns the field an error names: a *FieldError for invalid
// input or a *RefError for a reference to a missing object.
func fieldOf(err error) string {
	var fe *provisioning.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	var re *provisioning.RefError
	if errors.As(err, &re) {
		return re.Field
	}
	return ""
}

func TestValidationNamesTheField(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	eachEngine(t, func(t *testing.T, e *env) {
		tn := e.tenant(t, "base", nil)
		d := e.domain(t, "base.example", tn)
		a := e.account(t, "base", d)
		g := e.gateway(t, "base-gw", tn)
		n := e.did(t, "+4930100000", tn, nil)
		before := e.counts(t)
		e.sink.take()

		tenant := func(mod func(*provisioning.Tenant)) func() error {
			return func() error {
				x := provisioning.Tenant{Name: "ok", ParentID: ptr(tn.ID)}
				mod(&x)
				return e.svc.CreateTenant(e.ctx, admin, &x)
			}
		}
		domain := func(mod func(*provisioning.Domain)) func() error {
			return func() error {
				x := provisioning.Domain{TenantID: tn.ID, Name: "ok.example"}
				mod(&x)
				return e.svc.CreateDomain(e.ctx, admin, &x)
			}
		}
		user := func(password string, mod func(*provisioning.User)) func() error {
			return func() error {
				x := provisioning.User{TenantID: tn.ID, Login: "ok", Email: "ok@example.com", Role: provisioning.RoleUser}
				mod(&x)
				return e.svc.CreateUser(e.ctx, admin, &x, password)
			}
		}
		account := func(mod func(*provisioning.Account)) func() error {
			return func() error {
				x := provisioning.Account{DomainID: d.ID, Username: "ok", Secret: "good-secret"}
				mod(&x)
				return e.svc.CreateAccount(e.ctx, admin, &x)
			}
		}
		gateway := func(mod func(*provisioning.Gateway)) func() error {
			return func() error {
				x := provisioning.Gateway{Name: "ok", Host: "sip.example.net", TenantID: ptr(tn.ID)}
				mod(&x)
				return e.svc.CreateGateway(e.ctx, admin, &x)
			}
		}
		did := func(mod func(*provisioning.DID)) func() error {
			return func() error {
				x := provisioning.DID{TenantID: tn.ID, Number: "+4930999999"}
				mod(&x)
				return e.svc.CreateDID(e.ctx, admin, &x)
			}
		}
		token := func(name string, role provisioning.Role, tenant *int64) func() error {
			return func() error { _, _, err := e.svc.CreateToken(e.ctx, name, role, tenant); return err }
		}

		invalid, missing := provisioning.ErrInvalid, provisioning.ErrNotFound
		for _, c := range []struct {
			name  string
			do    func() error
			is    error
			field string
		}{
			{"tenant name missing", tenant(func(x *provisioning.Tenant) { x.Name = "" }), invalid, "name"},
			{"tenant name blank", tenant(func(x *provisioning.Tenant) { x.Name = "  \t" }), invalid, "name"},
			{"tenant name too long", tenant(func(x *provisioning.Tenant) { x.Name = long(101) }), invalid, "name"},
			{"tenant name invalid UTF-8", tenant(func(x *provisioning.Tenant) { x.Name = "ab\xffcd" }), invalid, "name"},
			{"tenant name control char", tenant(func(x *provisioning.Tenant) { x.Name = "a\nb" }), invalid, "name"},
			{"tenant parent missing", tenant(func(x *provisioning.Tenant) { x.ParentID = ptr(int64(9999)) }), missing, "parent_id"},

			{"domain name missing", domain(func(x *provisioning.Domain) { x.Name = "" }), invalid, "name"},
			{"domain name underscore", domain(func(x *provisioning.Domain) { x.Name = "bad_host.example" }), invalid, "name"},
			{"domain name leading hyphen", domain(func(x *provisioning.Domain) { x.Name = "-bad.example" }), invalid, "name"},
			{"domain name empty label", domain(func(x *provisioning.Domain) { x.Name = "a..example" }), invalid, "name"},
			{"domain name too long", domain(func(x *provisioning.Domain) { x.Name = strings.Repeat("a.", 127) + "ab" }), invalid, "name"},
			{"domain name invalid UTF-8", domain(func(x *provisioning.Domain) { x.Name = "\xff.example" }), invalid, "name"},
			{"domain name IPv6", domain(func(x *provisioning.Domain) { x.Name = "2001:db8::1" }), invalid, "name"},
			{"domain description too long", domain(func(x *provisioning.Domain) { x.Description = long(256) }), invalid, "description"},
			{"domain description control char", domain(func(x *provisioning.Domain) { x.Description = "a\x1bb" }), invalid, "description"},
			{"domain tenant missing", domain(func(x *provisioning.Domain) { x.TenantID = 0 }), invalid, "tenant_id"},
			{"domain tenant unknown", domain(func(x *provisioning.Domain) { x.TenantID = 9999 }), missing, "tenant_id"},

			{"user login missing", user("password", func(x *provisioning.User) { x.Login = "" }), invalid, "login"},
			{"user login leading dot", user("password", func(x *provisioning.User) { x.Login = ".bob" }), invalid, "login"},
			{"user login space", user("password", func(x *provisioning.User) { x.Login = "bob smith" }), invalid, "login"},
			{"user login too long", user("password", func(x *provisioning.User) { x.Login = long(65) }), invalid, "login"},
			{"user login invalid UTF-8", user("password", func(x *provisioning.User) { x.Login = "bo\xffb" }), invalid, "login"},
			{"user email bad", user("password", func(x *provisioning.User) { x.Email = "not-an-email" }), invalid, "email"},
			{"user email with name", user("password", func(x *provisioning.User) { x.Email = "Bob <bob@example.com>" }), invalid, "email"},
			{"user email invalid UTF-8", user("password", func(x *provisioning.User) { x.Email = "b\xff@example.com" }), invalid, "email"},
			{"user email too long", user("password", func(x *provisioning.User) { x.Email = long(250) + "@e.co" }), invalid, "email"},
			{"user first name too long", user("password", func(x *provisioning.User) { x.FirstName = long(101) }), invalid, "first_name"},
			{"user last name control char", user("password", func(x *provisioning.User) { x.LastName = "x\x00" }), invalid, "last_name"},
			{"user role unknown", user("password", func(x *provisioning.User) { x.Role = "root" }), invalid, "role"},
			{"user password short", user("short", func(*provisioning.User) {}), invalid, "password"},
			{"user password too long", user(long(129), func(*provisioning.User) {}), invalid, "password"},
			{"user password invalid UTF-8", user("\xff\xfe\xfd\xfc\xfb\xfa", func(*provisioning.User) {}), invalid, "password"},
			{"user tenant unknown", user("password", func(x *provisioning.User) { x.TenantID = 9999 }), missing, "tenant_id"},

			{"account username missing", account(func(x *provisioning.Account) { x.Username = "" }), invalid, "username"},
			{"account username leading hyphen", account(func(x *provisioning.Account) { x.Username = "-100" }), invalid, "username"},
			{"account username space", account(func(x *provisioning.Account) { x.Username = "a b" }), invalid, "username"},
			{"account username with @", account(func(x *provisioning.Account) { x.Username = "a@b" }), invalid, "username"},
			{"account username too long", account(func(x *provisioning.Account) { x.Username = long(65) }), invalid, "username"},
			{"account secret short", account(func(x *provisioning.Account) { x.Secret = "abc" }), invalid, "secret"},
			{"account secret too long", account(func(x *provisioning.Account) { x.Secret = long(81) }), invalid, "secret"},
			{"account secret space", account(func(x *provisioning.Account) { x.Secret = "has space" }), invalid, "secret"},
			{"account secret quote", account(func(x *provisioning.Account) { x.Secret = `quo"te` }), invalid, "secret"},
			{"account secret non-ASCII", account(func(x *provisioning.Account) { x.Secret = "sécret" }), invalid, "secret"},
			{"account caller id name angle", account(func(x *provisioning.Account) { x.CallerIDName = "Bob <x>" }), invalid, "caller_id_name"},
			{"account caller id name control", account(func(x *provisioning.Account) { x.CallerIDName = "Bob\x07" }), invalid, "caller_id_name"},
			{"account caller id name too long", account(func(x *provisioning.Account) { x.CallerIDName = long(101) }), invalid, "caller_id_name"},
			{"account caller id number letters", account(func(x *provisioning.Account) { x.CallerIDNumber = "12a" }), invalid, "caller_id_number"},
			{"account caller id number too long", account(func(x *provisioning.Account) { x.CallerIDNumber = strings.Repeat("1", 33) }), invalid, "caller_id_number"},
			{"account description too long", account(func(x *provisioning.Account) { x.Description = long(256) }), invalid, "description"},
			{"account domain missing", account(func(x *provisioning.Account) { x.DomainID = 0 }), invalid, "domain_id"},
			{"account domain unknown", account(func(x *provisioning.Account) { x.DomainID = 9999 }), missing, "domain_id"},
			{"account domain name unknown", account(func(x *provisioning.Account) { x.DomainID, x.Domain = 0, "nope.example" }), missing, "domain_id"},
			{"account user unknown", account(func(x *provisioning.Account) { x.UserID = ptr(int64(9999)) }), missing, "user_id"},

			{"gateway name missing", gateway(func(x *provisioning.Gateway) { x.Name = "" }), invalid, "name"},
			{"gateway name upper case", gateway(func(x *provisioning.Gateway) { x.Name = "Carrier" }), invalid, "name"},
			{"gateway name dot", gateway(func(x *provisioning.Gateway) { x.Name = "a.b" }), invalid, "name"},
			{"gateway name too long", gateway(func(x *provisioning.Gateway) { x.Name = long(64) }), invalid, "name"},
			{"gateway host missing", gateway(func(x *provisioning.Gateway) { x.Host = "" }), invalid, "host"},
			{"gateway host space", gateway(func(x *provisioning.Gateway) { x.Host = "exa mple.com" }), invalid, "host"},
			{"gateway host upper case", gateway(func(x *provisioning.Gateway) { x.Host = "SIP.example.com" }), invalid, "host"},
			{"gateway host port", gateway(func(x *provisioning.Gateway) { x.Host = "sip.example.com:5060" }), invalid, "host"},
			{"gateway host invalid UTF-8", gateway(func(x *provisioning.Gateway) { x.Host = "sip\xff.example" }), invalid, "host"},
			{"gateway transport unknown", gateway(func(x *provisioning.Gateway) { x.Transport = "sctp" }), invalid, "transport"},
			{"gateway port too big", gateway(func(x *provisioning.Gateway) { x.Port = 70000 }), invalid, "port"},
			{"gateway port negative", gateway(func(x *provisioning.Gateway) { x.Port = -1 }), invalid, "port"},
			{"gateway username bad", gateway(func(x *provisioning.Gateway) { x.Username = "bad user" }), invalid, "username"},
			{"gateway register without username", gateway(func(x *provisioning.Gateway) { x.Register = true }), invalid, "username"},
			{"gateway secret space", gateway(func(x *provisioning.Gateway) { x.Secret = "a secret" }), invalid, "secret"},
			{"gateway qualify negative", gateway(func(x *provisioning.Gateway) { x.QualifySecs = -1 }), invalid, "qualify_seconds"},
			{"gateway qualify too long", gateway(func(x *provisioning.Gateway) { x.QualifySecs = 3601 }), invalid, "qualify_seconds"},
			{"gateway description too long", gateway(func(x *provisioning.Gateway) { x.Description = long(256) }), invalid, "description"},
			{"gateway tenant unknown", gateway(func(x *provisioning.Gateway) { x.TenantID = ptr(int64(9999)) }), missing, "tenant_id"},
			{"observed gateway with a username", gateway(func(x *provisioning.Gateway) { x.Observed, x.Username = true, "acct" }), invalid, "username"},
			{"observed gateway with a secret", gateway(func(x *provisioning.Gateway) { x.Observed, x.Secret = true, "a-Secret-1" }), invalid, "secret"},
			{"observed gateway registering", gateway(func(x *provisioning.Gateway) { x.Observed, x.Register = true, true }), invalid, "register"},
			{"observed gateway port without host", gateway(func(x *provisioning.Gateway) { x.Observed, x.Host, x.Port = true, "", 5060 }), invalid, "host"},
			{"observed gateway bad host", gateway(func(x *provisioning.Gateway) { x.Observed, x.Host = true, "exa mple.com" }), invalid, "host"},
			{"observed gateway name upper case", gateway(func(x *provisioning.Gateway) { x.Observed, x.Name = true, "Carrier.example" }), invalid, "name"},
			{"managed gateway name with a dot", gateway(func(x *provisioning.Gateway) { x.Name = "carrier.example" }), invalid, "name"},

			{"DID number missing", did(func(x *provisioning.DID) { x.Number = "" }), invalid, "number"},
			{"DID number without plus", did(func(x *provisioning.DID) { x.Number = "4930123456" }), invalid, "number"},
			{"DID number leading zero", did(func(x *provisioning.DID) { x.Number = "+0301234567" }), invalid, "number"},
			{"DID number too short", did(func(x *provisioning.DID) { x.Number = "+123456" }), invalid, "number"},
			{"DID number too long", did(func(x *provisioning.DID) { x.Number = "+1234567890123456" }), invalid, "number"},
			{"DID number spaces", did(func(x *provisioning.DID) { x.Number = "+49 30 1234567" }), invalid, "number"},
			{"DID number invalid UTF-8", did(func(x *provisioning.DID) { x.Number = "+4930\xff" }), invalid, "number"},
			{"DID description control char", did(func(x *provisioning.DID) { x.Description = "a\rb" }), invalid, "description"},
			{"DID tenant missing", did(func(x *provisioning.DID) { x.TenantID = 0 }), invalid, "tenant_id"},
			{"DID tenant unknown", did(func(x *provisioning.DID) { x.TenantID = 9999 }), missing, "tenant_id"},
			{"DID account unknown", did(func(x *provisioning.DID) { x.AccountID = ptr(int64(9999)) }), missing, "account_id"},

			{"token name missing", token("", provisioning.RoleAdmin, nil), invalid, "name"},
			{"token name too long", token(long(101), provisioning.RoleAdmin, nil), invalid, "name"},
			{"token role unknown", token("x", "root", nil), invalid, "role"},
			{"token admin with tenant", token("x", provisioning.RoleAdmin, ptr(tn.ID)), invalid, "tenant_id"},
			{"token tenant-admin without tenant", token("x", provisioning.RoleTenantAdmin, nil), invalid, "tenant_id"},
			{"token tenant unknown", token("x", provisioning.RoleUser, ptr(int64(9999))), missing, "tenant_id"},

			{"update tenant name missing", func() error {
				_, err := e.svc.UpdateTenant(e.ctx, admin, tn.ID, func(x *provisioning.Tenant) error { x.Name = ""; return nil })
				return err
			}, invalid, "name"},
			{"update domain bad name", func() error {
				_, err := e.svc.UpdateDomain(e.ctx, admin, d.ID, func(x *provisioning.Domain) error { x.Name = "bad name"; return nil })
				return err
			}, invalid, "name"},
			{"update account other domain", func() error {
				_, err := e.svc.UpdateAccount(e.ctx, admin, a.ID, func(x *provisioning.Account) error { x.DomainID++; return nil })
				return err
			}, invalid, "domain_id"},
			{"update account bad secret", func() error {
				_, err := e.svc.UpdateAccount(e.ctx, admin, a.ID, func(x *provisioning.Account) error { x.Secret = "a b c"; return nil })
				return err
			}, invalid, "secret"},
			{"update gateway bad port", func() error {
				_, err := e.svc.UpdateGateway(e.ctx, admin, g.ID, func(x *provisioning.Gateway) error { x.Port = 65536; return nil })
				return err
			}, invalid, "port"},
			{"update DID bad number", func() error {
				_, err := e.svc.UpdateDID(e.ctx, admin, n.ID, func(x *provisioning.DID) error { x.Number = "+12"; return nil })
				return err
			}, invalid, "number"},
		} {
			t.Run(c.name, func(t *testing.T) {
				err := c.do()
				if !errors.Is(err, c.is) {
					t.Fatalf("err = %v, want %v", err, c.is)
				}
				if got := fieldOf(err); got != c.field {
					t.Errorf("field = %q, want %q (%v)", got, c.field, err)
				}
			})
		}

		if after := e.counts(t); after != before {
			t.Errorf("refused input changed the store: counts %v, were %v", after, before)
		}
		if ch := e.sink.take(); len(ch) != 0 {
			t.Errorf("refused input reached the sink: %+v", ch)
		}
		got, err := e.svc.Account(e.ctx, admin, a.ID)
		must(t, err)
		if got.Secret != a.Secret || got.DomainID != a.DomainID {
			t.Errorf("refused updates changed account: %+v", got)
		}
	})
}
