package provisioning_test

import (
	"slices"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestDIDRoutes: every routed DID with its account, sorted by number,
// filtered by the account's domain; unrouted DIDs and unknown domains
// give nothing.
func TestDIDRoutes(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		tn := e.tenant(t, "acme", nil)
		d1 := e.domain(t, "a.example.com", tn)
		d2 := e.domain(t, "b.example.com", tn)
		a1 := e.account(t, "2001", d1)
		a2 := e.account(t, "3001", d2)
		e.did(t, "+4930200002", tn, a1)
		e.did(t, "+4930100001", tn, a2)
		e.did(t, "+4930300003", tn, a1)
		e.did(t, "+4930400004", tn, nil) // routes nowhere

		numbers := func(rs []provisioning.DIDRoute) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.Number+">"+r.Account.Username+"@"+r.Account.Domain)
			}
			return out
		}
		for _, tc := range []struct {
			domain string
			want   []string
		}{
			{"", []string{"+4930100001>3001@b.example.com", "+4930200002>2001@a.example.com", "+4930300003>2001@a.example.com"}},
			{"a.example.com", []string{"+4930200002>2001@a.example.com", "+4930300003>2001@a.example.com"}},
			{"b.example.com", []string{"+4930100001>3001@b.example.com"}},
			{"nowhere.example.com", nil},
		} {
			got, err := e.svc.DIDRoutes(e.ctx, tc.domain)
			must(t, err)
			if g := numbers(got); !slices.Equal(g, tc.want) {
				t.Errorf("DIDRoutes(%q) = %v, want %v", tc.domain, g, tc.want)
			}
		}
		got, err := e.svc.DIDRoutes(e.ctx, "a.example.com")
		must(t, err)
		if got[0].Account.Secret == "" || got[0].Account.ID != a1.ID {
			t.Errorf("route's account not read whole: %+v", got[0].Account)
		}
	})
}
