package authz

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// fakeAccounts lists accounts by username, as the Service does for
// AccountFilter{TenantID, Username}.
type fakeAccounts struct {
	accts []provisioning.Account
	reads int
}

func (f *fakeAccounts) Accounts(_ context.Context, _ provisioning.Scope, q provisioning.AccountFilter) ([]provisioning.Account, error) {
	f.reads++
	var out []provisioning.Account
	for _, a := range f.accts {
		if a.TenantID == q.TenantID && a.Username == q.Username {
			out = append(out, a)
		}
	}
	return out, nil
}

func TestAccountUsers(t *testing.T) {
	f := &fakeAccounts{accts: []provisioning.Account{
		{TenantID: 1, Username: "201", Domain: "a.example", UserID: ptr(int64(7))},
		{TenantID: 1, Username: "202", Domain: "a.example", UserID: ptr(int64(8))},
		{TenantID: 1, Username: "202", Domain: "b.example", UserID: ptr(int64(9))},
		{TenantID: 1, Username: "203", Domain: "a.example"},
	}}
	r := ProvisioningAccountUsers(f)
	for _, tc := range []struct {
		endpoint string
		want     int64
	}{
		{"201", 7}, {"201@a.example", 7}, {"201@b.example", 0},
		{"202", 0}, // in two domains: ambiguous
		{"202@B.example", 9}, {"203", 0}, {"999", 0}, {"gateway-a", 0},
	} {
		if got, err := r.AccountUser(context.Background(), 1, tc.endpoint); err != nil || got != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.endpoint, got, err, tc.want)
		}
	}
	reads := f.reads
	if _, _ = r.AccountUser(context.Background(), 1, "201"); f.reads != reads {
		t.Error("not kept for LimitsTTL")
	}
}

// The endpoint's user's limits apply to an Asterisk call that names its
// account.
func TestHandlerAccountUser(t *testing.T) {
	f := &fakeSources{prepaid: true, balance: money.MustParse("1"), user: Limits{Concurrent: 1}}
	a, _ := newTest(t, f)
	srv := httptest.NewServer(Handler{A: a, Users: ProvisioningAccountUsers(&fakeAccounts{accts: []provisioning.Account{{TenantID: 1, Username: "201", UserID: ptr(int64(7))}}})})
	defer srv.Close()
	get := func(q string) string {
		res, err := http.Get(srv.URL + "/authorize?tenant=1&dest=4930123&switch=ast1&" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if got := get("call=1&account=201"); got[:6] != "allow:" || a.Live(1, 7) != 1 {
		t.Fatalf("first: %s, user 7 live %d", got, a.Live(1, 7))
	}
	if got := get("call=2&account=201"); got != "deny:concurrent_limit" {
		t.Fatalf("second call of user 7: %s", got)
	}
}
