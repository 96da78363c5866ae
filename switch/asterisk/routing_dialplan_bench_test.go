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

// TestSplitLargeContexts: a plan of 1,000 extensions is written in
// contexts of about bucketSize extensions (hashed; Asterisk loads one context
// in quadratic time), every extension still reachable from its context
// through its includes, exact names before patterns, the phone context
// last.
func TestSplitLargeContexts(t *testing.T) {
	p := bigPlan(7, 1000)
	p.Routes = []*provisioning.OutboundRoute{{RoutingMeta: provisioning.RoutingMeta{ID: 1}, Name: "all", Action: provisioning.RouteBlock, Patterns: []provisioning.DialPattern{"X."}}}
	dp := parseDialplan(t, renderRouting("ast1", "x.conf", DefaultPushOptions(), nil, []*provisioning.Plan{p}))
	for name, exts := range dp {
		if n := len(exts) - len(exts["include"]); n > 2*bucketSize && exts["include"] == nil {
			t.Errorf("%s holds %d extensions", name, n)
		}
	}
	var find func(ctx, ext string, depth int) bool
	find = func(ctx, ext string, depth int) bool {
		if dp[ctx][ext] != nil {
			return true
		}
		for _, inc := range dp[ctx]["include"] {
			if depth < 3 && find(inc, ext, depth+1) {
				return true
			}
		}
		return false
	}
	for _, x := range p.Extensions {
		if !find("sb-t7", x.Number, 0) || !find("sb-t7-obj", fmt.Sprintf("x%d", x.ID), 0) || !find("sb-t7-cid", "e-"+p.Accounts[x.Destination.ID].Username, 0) {
			t.Fatalf("extension %s not reachable from its contexts", x.Number)
		}
	}
	for _, d := range p.DIDs {
		if !find(DIDContext, d.Number, 0) {
			t.Fatalf("DID %s not reachable from %s", d.Number, DIDContext)
		}
	}
	inc := dp["sb-t7"]["include"]
	if len(inc) < 3 || inc[len(inc)-1] != "phones" || inc[len(inc)-2] != "sb-t7-p" || dp["sb-t7-p"]["_X."] == nil {
		t.Errorf("sb-t7 includes %v: want the buckets, then the patterns (sb-t7-p), then phones", inc)
	}
}
