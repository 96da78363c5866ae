package authz

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// TestAuthorizeWhitelists: the authorizer over the provisioning
// whitelists (provisioning.Service, the daemon's WhitelistSource) on both
// engines. The tariff rates 49… and 33…; the tenant, its user, both, an
// ancestor and none have whitelists in turn. A destination the
// whitelists refuse is not_whitelisted even when it has no rate (the
// whitelist is checked first), and a refusal holds no slot.
func TestAuthorizeWhitelists(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		svc := provisioning.NewService(sqlstore.New(db))
		admin := provisioning.AdminScope()
		reseller := &provisioning.Tenant{Name: "reseller"}
		must(t, svc.CreateTenant(ctx, admin, reseller))
		tn := &provisioning.Tenant{Name: "cust", ParentID: &reseller.ID}
		must(t, svc.CreateTenant(ctx, admin, tn))
		bob := &provisioning.User{TenantID: tn.ID, Login: "bob", Email: "bob@example.com", Role: provisioning.RoleUser}
		must(t, svc.CreateUser(ctx, admin, bob, "a-long-password-1"))
		create := func(tenant int64, user *int64, name string, prefixes ...string) *provisioning.Whitelist {
			w := &provisioning.Whitelist{TenantID: tenant, UserID: user, Name: name, Entries: []provisioning.WhitelistEntry{}}
			for _, p := range prefixes {
				w.Entries = append(w.Entries, provisioning.WhitelistEntry{Prefix: p})
			}
			must(t, svc.CreateWhitelist(ctx, admin, w))
			return w
		}
		f := &fakeSources{prepaid: true, balance: money.MustParse("100"), tariff: deckTariff(t, "49,Germany,0.60,,1,1\n33,France,0.30,,1,1\n")}
		a := New(f, f, f, f, f, Config{Whitelists: svc})
		n := 0
		try := func(t *testing.T, user int64, dest string, want Reason) {
			t.Helper()
			n++
			c := Call{TenantID: tn.ID, UserID: user, Destination: dest, Direction: Outbound, Switch: "fs1", CallID: "c" + strings.Repeat("x", n)}
			d, err := a.Authorize(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case want == "" && !d.Allowed:
				t.Errorf("user %d → %s: refused %s (%s)", user, dest, d.Reason, d.Detail)
			case want != "" && (d.Allowed || d.Reason != want):
				t.Errorf("user %d → %s: %+v, want %s", user, dest, d, want)
			case want == ReasonNotWhitelisted && !strings.Contains(d.Detail, "whitelists"):
				t.Errorf("user %d → %s: detail %q", user, dest, d.Detail)
			}
			if d.Allowed {
				must(t, a.Release("fs1", c.CallID, 0))
			}
		}
		type step struct {
			user int64
			dest string
			want Reason
		}
		for _, tc := range []struct {
			name  string
			setup func() []*provisioning.Whitelist
			steps []step
		}{
			{"none: every rated destination", func() []*provisioning.Whitelist { return nil }, []step{
				{bob.ID, "4930123", ""}, {0, "33123456", ""}, {bob.ID, "1212555", ReasonNoRate}}},
			{"user list", func() []*provisioning.Whitelist { return []*provisioning.Whitelist{create(tn.ID, &bob.ID, "de", "49")} }, []step{
				{bob.ID, "4930123", ""}, {bob.ID, "+4930123", ""}, {bob.ID, "33123456", ReasonNotWhitelisted},
				{bob.ID, "1212555", ReasonNotWhitelisted}, {0, "33123456", ""}}},
			{"tenant list", func() []*provisioning.Whitelist {
				return []*provisioning.Whitelist{create(tn.ID, nil, "fr", "331", "332")}
			}, []step{
				{0, "33123456", ""}, {bob.ID, "33223456", ""}, {bob.ID, "33323456", ReasonNotWhitelisted},
				{0, "4930123", ReasonNotWhitelisted}, {0, "33", ReasonNotWhitelisted}}},
			{"both: the intersection", func() []*provisioning.Whitelist {
				return []*provisioning.Whitelist{create(tn.ID, nil, "eu", "49", "33"), create(tn.ID, &bob.ID, "berlin", "4930")}
			}, []step{
				{bob.ID, "4930123", ""}, {bob.ID, "4940123", ReasonNotWhitelisted}, {bob.ID, "33123456", ReasonNotWhitelisted},
				{0, "4940123", ""}, {0, "33123456", ""}}},
			{"a wider prefix in the user's list than the tenant's", func() []*provisioning.Whitelist {
				return []*provisioning.Whitelist{create(tn.ID, nil, "berlin", "4930"), create(tn.ID, &bob.ID, "de", "49")}
			}, []step{{bob.ID, "4930123", ""}, {bob.ID, "4940123", ReasonNotWhitelisted}}},
			{"ancestor", func() []*provisioning.Whitelist {
				return []*provisioning.Whitelist{create(reseller.ID, nil, "de", "49")}
			}, []step{
				{bob.ID, "4930123", ""}, {0, "33123456", ReasonNotWhitelisted}}},
			{"empty list allows nothing", func() []*provisioning.Whitelist { return []*provisioning.Whitelist{create(tn.ID, &bob.ID, "none")} }, []step{
				{bob.ID, "4930123", ReasonNotWhitelisted}, {0, "4930123", ""}}},
			{"prefix longer than the number", func() []*provisioning.Whitelist {
				return []*provisioning.Whitelist{create(tn.ID, nil, "long", "4930123456789")}
			}, []step{{0, "4930123", ReasonNotWhitelisted}, {0, "4930123456789", ""}, {0, "49301234567890", ""}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				made := tc.setup()
				for _, s := range tc.steps {
					try(t, s.user, s.dest, s.want)
				}
				for _, w := range made {
					must(t, svc.DeleteWhitelist(ctx, admin, w.ID))
				}
				if a.Live(tn.ID, 0) != 0 {
					t.Errorf("%d calls hold slots", a.Live(tn.ID, 0))
				}
			})
		}
		// Inbound calls are not checked: their destination is the DID.
		w := create(tn.ID, nil, "nothing")
		d, err := a.Authorize(ctx, Call{TenantID: tn.ID, Destination: "4930123", Direction: Inbound, Switch: "fs1", CallID: "in"})
		if err != nil || !d.Allowed {
			t.Fatalf("inbound: %+v %v", d, err)
		}
		must(t, svc.DeleteWhitelist(ctx, admin, w.ID))
		if a.Refused()[ReasonNotWhitelisted] == 0 {
			t.Error("not_whitelisted refusals not counted")
		}
	})
}

// A failing WhitelistSource is an error (the switch's fail policy), not
// a refusal nor a pass; a nil one checks nothing.
func TestWhitelistSourceError(t *testing.T) {
	f := &fakeSources{prepaid: true, balance: money.MustParse("10")}
	boom := errors.New("db down")
	a, _ := newTest(t, f)
	a.cfg.Whitelists = whitelistFunc(func(context.Context, int64, int64, string) (bool, string, error) { return false, "", boom })
	d, err := a.Authorize(context.Background(), call("e"))
	if !errors.Is(err, boom) || d.Allowed || d.Reason != ReasonError {
		t.Fatalf("%+v %v", d, err)
	}
	a.cfg.Whitelists = nil
	if d, err := a.Authorize(context.Background(), call("n")); err != nil || !d.Allowed {
		t.Fatalf("no source: %+v %v", d, err)
	}
}

// deckTariff compiles a tariff of deck rows (prefix, destination, price
// per minute, fee, increments) in EUR.
func deckTariff(t testing.TB, rows string) *rating.Tariff {
	t.Helper()
	rates, err := rating.ReadDeck(strings.NewReader("prefix,destination,price_per_minute,connect_fee,first_increment,next_increment\n"+rows), rating.DeckOptions{})
	must(t, err)
	tr, err := rating.Compile(rating.Plan{Name: "test", Currency: "EUR", ChargeStep: money.MustParse("0.0001"), Rates: rates})
	must(t, err)
	return tr
}

type whitelistFunc func(ctx context.Context, tenantID, userID int64, dest string) (bool, string, error)

func (f whitelistFunc) Whitelisted(ctx context.Context, tenantID, userID int64, dest string) (bool, string, error) {
	return f(ctx, tenantID, userID, dest)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
