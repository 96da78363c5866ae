package sip

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

func TestDetail(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Status: StatusUnknown}, "not probed yet"},
		{Result{Status: StatusReachable, Code: 200, Reason: "OK", LastProbe: at}, "200 OK"},
		{Result{Status: StatusReachable, Code: 503, Reason: "Service Unavailable", LastProbe: at}, "503 Service Unavailable"},
		{Result{Status: StatusLagged, Code: 200, Reason: "OK", RTT: 1234567 * time.Microsecond, LastProbe: at}, "lagged 1.235s (200 OK)"},
		{Result{Status: StatusReachable, Reason: "timeout", Misses: 1, LastProbe: at}, "timeout (1 miss)"},
		{Result{Status: StatusUnreachable, Reason: "connection refused", Misses: 4, LastProbe: at}, "connection refused (4 misses)"},
	}
	for _, tt := range tests {
		if got := detail(tt.r); got != tt.want {
			t.Errorf("detail(%s %d %q misses %d) = %q, want %q", tt.r.Status, tt.r.Code, tt.r.Reason, tt.r.Misses, got, tt.want)
		}
	}
}

// TestWatchPresenceAndMetrics runs the prober against a sipp gateway, a
// dead one, a sipp switch listener with a registration check, and
// contacts, and reads the outcome where the daemon will: the presence
// view (source "sip": gateways only, the switch listener is not a
// gateway) and /metrics (the switch listener in switchboard_sip_probe_up).
func TestWatchPresenceAndMetrics(t *testing.T) {
	t.Parallel()
	gw := startSipp(t, UDP, "options_uas.xml")
	sw := startSipp(t, UDP, "options_uas.xml")
	registrar := startSipp(t, UDP, "register_uas.xml")
	dead := fmt.Sprintf("sip:127.0.0.1:%d", freePort(t))

	cfg := testConfig()
	cfg.Timeout = 500 * time.Millisecond
	cfg.Interval = 150 * time.Millisecond
	p, err := NewProber(withTestLogger(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := p.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	p.SetTargets([]Target{
		gateway("carrier-a", gw.uri()),
		gateway("carrier-b", dead),
		{Kind: KindSwitch, Name: "pbx1", URI: sw.uri()},
		{Kind: KindContact, Name: "1001@acme sip:1001@h", URI: gw.uri(), Domain: "acme"},
		{Kind: KindContact, Name: "1002@acme sip:1002@h", URI: gw.uri(), Domain: "acme"},
		{Kind: KindContact, Name: "1003@acme sip:1003@h", URI: dead, Domain: "acme"},
	})
	p.SetRegisterChecks([]RegisterCheck{{
		Name: "pbx1", Registrar: registrar.uri(), Domain: "switchboard.test",
		Username: "probe", Password: "secret", Interval: 150 * time.Millisecond,
	}})
	runProber(t, p)

	view := presence.New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.WatchPresence(ctx, view.Feed("sip")) }()

	want := map[string]string{
		"carrier-a": "up registration=unknown detail=200 OK",
		"carrier-b": "down registration=unknown detail=connection refused (3 misses)",
	}
	var got map[string]string
	deadline := time.Now().Add(3 * time.Second)
	for {
		got = map[string]string{}
		for _, g := range view.Gateways(presence.GatewayQuery{Switch: "sip"}) {
			got[g.Name] = fmt.Sprintf("%s registration=%s detail=%s", g.State, g.Registration, g.Detail)
			if g.State == presence.GatewayUp && (g.RTT <= 0 || g.UpdatedAt.IsZero()) {
				t.Errorf("%s: up with RTT %v updated %v", g.Name, g.RTT, g.UpdatedAt)
			}
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence view after 3s:\n%v\nwant\n%v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if sws := view.Switches(); len(sws) != 1 || sws[0].Name != "sip" || !sws[0].Connected {
		t.Errorf("switches %+v, want sip connected", sws)
	}

	// The switch listener answered and its register check passed (the
	// metrics below), yet it never appears among the view's gateways.
	waitResult(t, p, KindSwitch, "pbx1", 2*time.Second, "reachable", func(r Result) bool { return r.Status == StatusReachable })
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if rs := p.RegisterResults(); len(rs) == 1 && rs[0].OK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("register check after 2s: %+v", p.RegisterResults())
		}
	}
	if g := view.Gateways(presence.GatewayQuery{Names: []string{"pbx1"}}); len(g) != 0 {
		t.Errorf("the switch listener pbx1 is a gateway of the view: %+v", g)
	}
	waitResult(t, p, KindContact, "1003@acme sip:1003@h", 2*time.Second, "unreachable", func(r Result) bool { return r.Status == StatusUnreachable })
	for _, c := range []string{"1001@acme sip:1001@h", "1002@acme sip:1002@h"} {
		waitResult(t, p, KindContact, c, 2*time.Second, "reachable", func(r Result) bool { return r.Status == StatusReachable })
	}
	m := gathered(t, reg)
	const ns = "switchboard_sip_"
	wantM := map[string]float64{
		ns + `probe_up{kind="switch",target="pbx1"}`:      1,
		ns + `contacts{status="reachable"}`:               2,
		ns + `contacts{status="unreachable"}`:             1,
		ns + `contacts{status="lagged"}`:                  0,
		ns + `contacts{status="unknown"}`:                 0,
		ns + `register_check_success{switch="pbx1"}`:      1,
		ns + `probe_status_changes_total{kind="gateway"}`: 2,
		ns + `probe_status_changes_total{kind="switch"}`:  1,
		ns + `probe_status_changes_total{kind="contact"}`: 3,
	}
	for name, v := range wantM {
		if m[name] != v {
			t.Errorf("%s = %v, want %v", name, m[name], v)
		}
	}
	for _, name := range []string{
		ns + `probe_rtt_seconds{kind="switch",target="pbx1"}`,
		ns + `options_rtt_seconds{kind="gateway"}`,
		ns + `register_check_duration_seconds{switch="pbx1"}`,
		ns + `probes_total{kind="gateway",result="answered"}`,
		ns + `probes_total{kind="gateway",result="error"}`,
		ns + `probes_total{kind="contact",result="answered"}`,
	} {
		if m[name] <= 0 {
			t.Errorf("%s = %v, want > 0", name, m[name])
		}
	}
	for name := range m {
		// No per-phone series, and no per-gateway ones: gateways are the
		// presence collector's (switchboard_gateway_up{switch="sip"}).
		if strings.Contains(name, "sip:100") || strings.Contains(name, `kind="gateway",target=`) {
			t.Errorf("unexpected series %s", name)
		}
	}

	// A gateway deprovisioned leaves the view.
	p.SetTargets([]Target{gateway("carrier-a", gw.uri()), {Kind: KindSwitch, Name: "pbx1", URI: sw.uri()}})
	deadline = time.Now().Add(2 * time.Second)
	for len(view.Gateways(presence.GatewayQuery{Switch: "sip", Names: []string{"carrier-b"}})) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("carrier-b still in the view 2s after its removal")
		}
		time.Sleep(10 * time.Millisecond)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("WatchPresence: %v", err)
	}
	if sws := view.Switches(); sws[0].Connected {
		t.Error("the sip feed is still connected after WatchPresence returned")
	}
}
