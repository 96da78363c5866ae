package provisioning_test

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

func TestSecretsNeverInJSON(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		tn := e.tenant(t, "t", nil)
		d := e.domain(t, "sip.example", tn)
		u := &provisioning.User{TenantID: tn.ID, Login: "alice", Role: provisioning.RoleTenantAdmin}
		must(t, e.svc.CreateUser(e.ctx, admin, u, "alice-password"))
		a := &provisioning.Account{DomainID: d.ID, Username: "100", Secret: "account-secret-1"}
		must(t, e.svc.CreateAccount(e.ctx, admin, a))
		g := &provisioning.Gateway{Name: "carrier", Host: "sip.carrier.example", Username: "trunk", Secret: "gateway-secret-1", Register: true}
		must(t, e.svc.CreateGateway(e.ctx, admin, g))
		tokenSecret, tok, err := e.svc.CreateToken(e.ctx, "crm", provisioning.RoleTenantAdmin, ptr(tn.ID))
		must(t, err)

		secrets := map[string]string{
			"password":       "alice-password",
			"password hash":  u.PasswordHash,
			"account secret": a.Secret,
			"account HA1":    a.HA1,
			"gateway secret": g.Secret,
			"token secret":   tokenSecret,
			"token hash":     tok.Hash,
		}
		for name, v := range secrets {
			if v == "" {
				t.Fatalf("%s is empty: the test would prove nothing", name)
			}
		}

		// Everything the API could render: the objects as created, as read
		// one by one and as listed.
		users, err := e.svc.Users(e.ctx, admin, provisioning.UserFilter{})
		must(t, err)
		accounts, err := e.svc.Accounts(e.ctx, admin, provisioning.AccountFilter{})
		must(t, err)
		gateways, err := e.svc.Gateways(e.ctx, admin, provisioning.GatewayFilter{})
		must(t, err)
		tokens, err := e.svc.Tokens(e.ctx, provisioning.Page{})
		must(t, err)
		tenants, err := e.svc.Tenants(e.ctx, admin, provisioning.TenantFilter{})
		must(t, err)
		for _, v := range []any{
			u, a, g, tok, first(e.svc.User(e.ctx, admin, u.ID)), first(e.svc.Account(e.ctx, admin, a.ID)),
			first(e.svc.Gateway(e.ctx, admin, g.ID)), users, accounts, gateways, tokens, tenants,
		} {
			b, err := json.Marshal(v)
			must(t, err)
			for name, secret := range secrets {
				if strings.Contains(string(b), secret) {
					t.Errorf("%s appears in %s", name, b)
				}
			}
			for _, key := range []string{`"secret"`, `"ha1"`, `"password_hash"`, `"hash"`, `"path"`} {
				if strings.Contains(string(b), key) {
					t.Errorf("key %s appears in %s", key, b)
				}
			}
		}
	})
}

func TestAccountHA1AndSecret(t *testing.T) {
	md5hex := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	eachEngine(t, func(t *testing.T, e *env) {
		d := e.domain(t, "Sip.Example", e.tenant(t, "t", nil)) // stored lower-case
		if d.Name != "sip.example" {
			t.Fatalf("domain name %q not lower-cased", d.Name)
		}
		a := &provisioning.Account{Domain: "SIP.example", Username: "100", Secret: "s3cret"}
		must(t, e.svc.CreateAccount(e.ctx, admin, a))
		if want := md5hex("100:sip.example:s3cret"); a.HA1 != want {
			t.Errorf("HA1 = %s, want %s", a.HA1, want)
		}
		got, err := e.store.Account(e.ctx, a.ID)
		must(t, err)
		if got.HA1 != a.HA1 || got.Secret != "s3cret" || got.DomainID != d.ID {
			t.Errorf("stored %+v", got)
		}

		// A new secret gets a new HA1.
		up, err := e.svc.UpdateAccount(e.ctx, admin, a.ID, func(x *provisioning.Account) error { x.Secret = "n3w-secret"; return nil })
		must(t, err)
		if want := md5hex("100:sip.example:n3w-secret"); up.HA1 != want {
			t.Errorf("HA1 after update = %s, want %s", up.HA1, want)
		}

		// A missing secret is generated, valid and returned once.
		gen := &provisioning.Account{DomainID: d.ID, Username: "101"}
		must(t, e.svc.CreateAccount(e.ctx, admin, gen))
		if len(gen.Secret) != 20 || provisioning.ValidateSecret("secret", gen.Secret) != nil {
			t.Errorf("generated secret %q", gen.Secret)
		}
		if gen.HA1 != md5hex("101:sip.example:"+gen.Secret) {
			t.Errorf("HA1 of generated secret = %s", gen.HA1)
		}
		other := &provisioning.Account{DomainID: d.ID, Username: "102"}
		must(t, e.svc.CreateAccount(e.ctx, admin, other))
		if other.Secret == gen.Secret {
			t.Error("two generated secrets are equal")
		}
	})
}

func TestSinkReceivesCommittedChanges(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		tn := e.tenant(t, "t", nil)
		d := e.domain(t, "sip.example", tn)
		type seen struct {
			op            provisioning.Op
			what          string
			secretChanged bool
		}
		describe := func(cs []provisioning.Change) []seen {
			var out []seen
			for _, c := range cs {
				s := seen{op: c.Op, secretChanged: c.SecretChanged}
				switch {
				case c.Account != nil:
					s.what = "account " + c.Account.AOR() + " " + c.Account.Secret
				case c.Gateway != nil:
					s.what = "gateway " + c.Gateway.Name
				case c.DID != nil:
					s.what = "did " + c.DID.Number
				}
				out = append(out, s)
			}
			return out
		}
		expect := func(step string, want ...seen) {
			t.Helper()
			got := describe(e.sink.take())
			if len(got) != len(want) {
				t.Fatalf("%s: sink got %+v, want %+v", step, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s: change %d = %+v, want %+v", step, i, got[i], want[i])
				}
			}
		}
		e.sink.take()

		a := &provisioning.Account{DomainID: d.ID, Username: "100", Secret: "first-secret"}
		must(t, e.svc.CreateAccount(e.ctx, admin, a))
		expect("create account", seen{provisioning.OpUpsert, "account 100@sip.example first-secret", false})

		must(t, second(e.svc.UpdateAccount(e.ctx, admin, a.ID, func(x *provisioning.Account) error { x.CallerIDName = "Desk"; return nil })))
		expect("rename account", seen{provisioning.OpUpsert, "account 100@sip.example first-secret", false})

		must(t, second(e.svc.UpdateAccount(e.ctx, admin, a.ID, func(x *provisioning.Account) error { x.Secret = "second-secret"; return nil })))
		expect("new secret", seen{provisioning.OpUpsert, "account 100@sip.example second-secret", true})

		g := &provisioning.Gateway{Name: "carrier", Host: "sip.carrier.example"}
		must(t, e.svc.CreateGateway(e.ctx, admin, g))
		must(t, second(e.svc.UpdateGateway(e.ctx, admin, g.ID, func(x *provisioning.Gateway) error { x.Port = 5080; return nil })))
		n := &provisioning.DID{TenantID: tn.ID, Number: "+4930123456", AccountID: ptr(a.ID)}
		must(t, e.svc.CreateDID(e.ctx, admin, n))
		must(t, second(e.svc.UpdateDID(e.ctx, admin, n.ID, func(x *provisioning.DID) error { x.AccountID = nil; return nil })))
		expect("gateway and DID",
			seen{provisioning.OpUpsert, "gateway carrier", false}, seen{provisioning.OpUpsert, "gateway carrier", false},
			seen{provisioning.OpUpsert, "did +4930123456", false}, seen{provisioning.OpUpsert, "did +4930123456", false})

		// Refused changes reach no sink.
		dup := &provisioning.Account{DomainID: d.ID, Username: "100"}
		if err := e.svc.CreateAccount(e.ctx, admin, dup); !errors.Is(err, provisioning.ErrConflict) {
			t.Fatalf("duplicate account: %v", err)
		}
		n2 := e.did(t, "+4930999999", tn, a)
		e.sink.take()
		if err := e.svc.DeleteAccount(e.ctx, admin, a.ID); !errors.Is(err, provisioning.ErrConflict) {
			t.Fatalf("delete of routed account: %v", err)
		}
		expect("refused changes")

		must(t, e.svc.DeleteDID(e.ctx, admin, n2.ID))
		must(t, e.svc.DeleteDID(e.ctx, admin, n.ID))
		must(t, e.svc.DeleteAccount(e.ctx, admin, a.ID))
		must(t, e.svc.DeleteGateway(e.ctx, admin, g.ID))
		expect("deletes",
			seen{provisioning.OpDelete, "did +4930999999", false}, seen{provisioning.OpDelete, "did +4930123456", false},
			seen{provisioning.OpDelete, "account 100@sip.example second-secret", false}, seen{provisioning.OpDelete, "gateway carrier", false})

		// A failing sink does not fail the committed change.
		e.sink.err = errors.New("switch unreachable")
		b := &provisioning.Account{DomainID: d.ID, Username: "200", Secret: "third-secret"}
		must(t, e.svc.CreateAccount(e.ctx, admin, b))
		expect("failing sink", seen{provisioning.OpUpsert, "account 200@sip.example third-secret", false})
		must(t, second(e.store.Account(e.ctx, b.ID)))
	})
}

func TestTokenFlow(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		tn := e.tenant(t, "t", nil)

		adminSecret, adminTok, err := e.svc.CreateToken(e.ctx, "ops", provisioning.RoleAdmin, nil)
		must(t, err)
		if !strings.HasPrefix(adminSecret, provisioning.TokenPrefix) || len(adminSecret) < 40 {
			t.Errorf("token secret %q", adminSecret)
		}
		sc, tok, err := e.svc.Authenticate(e.ctx, adminSecret)
		must(t, err)
		if !sc.All() || tok.ID != adminTok.ID {
			t.Errorf("admin token gives scope %+v, token %+v", sc, tok)
		}

		tenantSecret, tenantTok, err := e.svc.CreateToken(e.ctx, "crm", provisioning.RoleTenantAdmin, ptr(tn.ID))
		must(t, err)
		sc, _, err = e.svc.Authenticate(e.ctx, tenantSecret)
		must(t, err)
		if sc != (provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: tn.ID, Path: tn.Path}) {
			t.Errorf("tenant token gives scope %+v", sc)
		}

		// Only the hash is stored.
		stored, err := e.store.TokenByHash(e.ctx, provisioning.HashToken(tenantSecret))
		must(t, err)
		if stored.ID != tenantTok.ID || stored.Hash == tenantSecret || strings.Contains(stored.Hash, tenantSecret) {
			t.Errorf("stored token %+v", stored)
		}

		must(t, e.svc.RevokeToken(e.ctx, tenantTok.ID))
		for name, secret := range map[string]string{
			"revoked":   tenantSecret,
			"unknown":   provisioning.TokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			"empty":     "",
			"oversized": strings.Repeat("x", 201),
			"truncated": tenantSecret[:len(tenantSecret)-1],
			"the hash":  stored.Hash,
		} {
			if _, _, err := e.svc.Authenticate(e.ctx, secret); !errors.Is(err, provisioning.ErrUnauthenticated) {
				t.Errorf("%s token: err = %v, want ErrUnauthenticated", name, err)
			}
		}
		// The other token still works.
		must(t, second(first2(e.svc.Authenticate(e.ctx, adminSecret))))
		wantIs(t, e.svc.RevokeToken(e.ctx, 9999), provisioning.ErrNotFound)
	})
}

// first2 drops the last of three results.
func first2[A, B any](a A, b B, err error) (A, error) { return a, err }
