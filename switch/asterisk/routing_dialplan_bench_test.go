package asterisk

import (
	"fmt"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// bigPlan is a tenant of n extensions, each ringing its own account, a
// DID per extension and a ring-all hunt group per 100 extensions: the
// size the benchmark names (10,000 extensions). It is built
// directly (no store), so it holds no conditions.
func bigPlan(tenant int64, n int) *provisioning.Plan {
	p := &provisioning.Plan{Tenant: &provisioning.Tenant{ID: tenant, Name: "big"}, Accounts: map[int64]*provisioning.PlanAccount{}, Gateways: map[int64]*provisioning.Gateway{}}
	for i := range n {
		id := int64(i + 1)
		a := &provisioning.Account{ID: id, TenantID: tenant, Username: fmt.Sprintf("u%d", 100000+i), Domain: "big.example"}
		p.Accounts[id] = &provisioning.PlanAccount{Account: a, Forwards: map[provisioning.ForwardOn]*provisioning.Forward{}}
		x := &provisioning.Extension{RoutingMeta: provisioning.RoutingMeta{ID: id, TenantID: tenant}, Number: fmt.Sprint(100000 + i),
			Destination: provisioning.Destination{Kind: provisioning.DestAccount, ID: id}, CallerIDNumber: fmt.Sprintf("+1555%07d", i)}
		p.Extensions = append(p.Extensions, x)
		d := provisioning.Destination{Kind: provisioning.DestExtension, ID: id}
		p.DIDs = append(p.DIDs, provisioning.DID{ID: id, TenantID: tenant, Number: fmt.Sprintf("+1556%07d", i), Destination: &d})
		if i%100 == 99 {
			h := &provisioning.HuntGroup{RoutingMeta: provisioning.RoutingMeta{ID: int64(n + i), TenantID: tenant}, Number: fmt.Sprint(900000 + i), Strategy: provisioning.HuntRingAll}
			for j := i - 9; j <= i; j++ {
				h.Members = append(h.Members, provisioning.HuntMember{Destination: provisioning.Destination{Kind: provisioning.DestAccount, ID: int64(j + 1)}})
			}
			p.HuntGroups = append(p.HuntGroups, h)
		}
	}
	return p
}

// BenchmarkRoutingDialplan10k renders the whole file for 10,000
// extensions (with 10,000 DIDs and 100 hunt groups).
func BenchmarkRoutingDialplan10k(b *testing.B) {
	plans := []*provisioning.Plan{bigPlan(1, 10000)}
	o := DefaultPushOptions()
	var size int
	for b.Loop() {
		size = len(renderRouting("ast1", "extensions_switchboard.conf", o, nil, plans))
	}
	b.ReportMetric(float64(size), "bytes")
}
