package provisioningtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// RoutingWorld is a store seeded at the size of issue 13's routing
// benchmarks: tenants t0000…, each with a domain tNNNN.example, accounts
// 2000… and extensions 100… ringing them, inserted in bulk (nothing goes
// through the Service, whose checks would make seeding 100,000 extensions
// quadratic).
type RoutingWorld struct {
	Tenants []*provisioning.Tenant
	// Accounts[i][j] is the account tenant i's extension 100+j rings.
	Accounts [][]int64
	// Records are the extensions' records, in insertion order.
	Records []*provisioning.RoutingRecord
}

// SeedRouting fills a migrated store with tenants × perTenant extensions.
func SeedRouting(tb testing.TB, ctx context.Context, st *sqlstore.Store, tenants, perTenant int) *RoutingWorld {
	tb.Helper()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	w := &RoutingWorld{}
	for i := range tenants {
		w.Tenants = append(w.Tenants, &provisioning.Tenant{Name: fmt.Sprintf("t%04d", i)})
	}
	must(st.BulkCreateTenants(ctx, w.Tenants))
	domains := make([]*provisioning.Domain, tenants)
	for i, t := range w.Tenants {
		domains[i] = &provisioning.Domain{TenantID: t.ID, Name: fmt.Sprintf("t%04d.example", i)}
	}
	must(st.BulkCreateDomains(ctx, domains))
	var accounts []provisioning.Account
	for _, d := range domains {
		for j := range perTenant {
			accounts = append(accounts, provisioning.Account{DomainID: d.ID, Username: strconv.Itoa(2000 + j), Secret: "s3cret-pass"})
		}
	}
	must(st.BulkCreateAccounts(ctx, accounts))
	var refs [][]provisioning.RoutingRef
	for i, t := range w.Tenants {
		as, err := st.Accounts(ctx, provisioning.AccountFilter{DomainID: domains[i].ID, Page: provisioning.Page{Limit: provisioning.MaxLimit}})
		must(err)
		ids := make([]int64, len(as))
		for j, a := range as {
			ids[j] = a.ID
			x := &provisioning.Extension{Number: strconv.Itoa(100 + j), Name: "ext", Destination: provisioning.Destination{Kind: provisioning.DestAccount, ID: a.ID}}
			body, err := json.Marshal(x)
			must(err)
			slot := "n:" + x.Number
			w.Records = append(w.Records, &provisioning.RoutingRecord{TenantID: t.ID, Kind: provisioning.KindExtension, Slot: &slot, Name: "extension " + x.Number, Body: body})
			refs = append(refs, []provisioning.RoutingRef{{Field: "destination", Kind: provisioning.DestAccount, ID: a.ID, Target: true}})
		}
		w.Accounts = append(w.Accounts, ids)
	}
	must(st.BulkCreateRouting(ctx, w.Records, refs))
	return w
}
