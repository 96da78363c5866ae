package freeswitch

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestDIDFallbackRouted: a DID with a destination is written as the
// transfer into its tenant's context (matching the number with or
// without its +), instead of the bridge to its account; the other DIDs
// keep their bridge; a number that is not E.164 is left out.
func TestDIDFallbackRouted(t *testing.T) {
	hg := provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: 7}
	got := string(renderDIDFallback("fs1",
		[]provisioning.DIDRoute{fallbackRoute("+4930100001", "2001", "pbx.example.com"), fallbackRoute("+4930100002", "2002", "pbx.example.com")},
		[]provisioning.DID{{TenantID: 3, Number: "+4930100002", Destination: &hg}, {TenantID: 3, Number: "x\"/>", Destination: &hg}}, ""))
	// as the public context includes it
	inPublic := strings.Replace(strings.Replace(got, "<include>", `<include><context name="public">`, 1), "</include>", "</context></include>", 1)
	dp, err := parseDialplan([]byte(inPublic))
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	exts := dp.contexts["public"]
	if len(exts) != 2 || exts[0].Name != "did-+4930100002" || exts[1].Name != "did-+4930100001" {
		t.Fatalf("extensions %+v, want the routed DID then the other one", exts)
	}
	c := exts[0].Conds[0]
	if c.attr("expression") != `^\+?4930100002$` {
		t.Errorf("expression %q", c.attr("expression"))
	}
	var apps []string
	for _, a := range c.Actions {
		apps = append(apps, a.App+" "+a.Data)
	}
	want := "set continue_on_fail=true|set hangup_after_bridge=true|execute_extension sb-h7 XML sb-t3|hangup ${originate_disposition}"
	if strings.Join(apps, "|") != want {
		t.Errorf("actions %q, want %q", strings.Join(apps, "|"), want)
	}
	if !strings.Contains(got, "left out: a DID whose number is not E.164") || strings.Contains(got, `x"/>`) {
		t.Errorf("the bad number was not left out:\n%s", got)
	}
}

// TestRoutingFallbackFile: the keeper writes every tenant's context as
// renderRoutingFallback renders it, sends reloadxml after the write, and
// rewrites the file after a change (a new hunt group).
func TestRoutingFallbackFile(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		fc := &reloadFakeCommander{}
		rf := NewRoutingFallback(RoutingFallbackConfig{Node: "fs1", Dir: t.TempDir(), Plans: ServicePlans(f.svc), Commander: fc, SoundsDir: testRenderOptions.SoundsDir, FaxDir: testRenderOptions.FaxDir,
			RecordingsDir: testRenderOptions.RecordingsDir,
			Keeper:        genfile.Config{Debounce: 10 * time.Millisecond}})
		f.svc.AddSink(rf)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- rf.Run(ctx) }()
		defer func() { cancel(); <-done }()
		read := func() string { b, _ := os.ReadFile(rf.Path()); return string(b) }
		waitFor(t, 5*time.Second, "the file", func() bool { return strings.Contains(read(), `<context name="sb-t`) })
		p, err := f.svc.TenantPlan(context.Background(), f.tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := read(), string(renderRoutingFallback("fs1", []*provisioning.Plan{p}, testRenderOptions)); got != want {
			t.Errorf("file differs from the rendering")
		}
		waitFor(t, 5*time.Second, "reloadxml", func() bool { fc.mu.Lock(); defer fc.mu.Unlock(); return fc.seen["reloadxml"] > 0 })
		h := &provisioning.HuntGroup{RoutingMeta: provisioning.RoutingMeta{TenantID: f.tenant.ID}, Number: "777", Name: "new", Strategy: provisioning.HuntRingAll,
			Members: []provisioning.HuntMember{{Destination: provisioning.Destination{Kind: provisioning.DestAccount, ID: f.accounts[0].ID}}}}
		if err := f.svc.CreateHuntGroup(context.Background(), provisioning.AdminScope(), h); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "the new group in the file", func() bool { return strings.Contains(read(), `name="sb-n777"`) })
	})
}
