package sip

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// registerResults records OnRegisterResult calls.
type registerResults struct {
	mu  sync.Mutex
	all []RegisterResult
}

func (r *registerResults) record(res RegisterResult) {
	r.mu.Lock()
	r.all = append(r.all, res)
	r.mu.Unlock()
}

func (r *registerResults) of(name string) []RegisterResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []RegisterResult
	for _, res := range r.all {
		if res.Name == name {
			out = append(out, res)
		}
	}
	return out
}

func TestRegisterCheck(t *testing.T) {
	t.Parallel()
	udp := startSipp(t, UDP, "register_uas.xml")
	tcp := startSipp(t, TCP, "register_uas.xml")
	check := func(name, registrar string, tp Transport, password string) RegisterCheck {
		return RegisterCheck{
			Name: name, Registrar: registrar, Transport: tp, Domain: "switchboard.test",
			Username: "probe", Password: password, Interval: 150 * time.Millisecond, Expires: 30,
		}
	}
	var got registerResults
	cfg := testConfig()
	cfg.Timeout = time.Second
	cfg.OnRegisterResult = got.record
	p, err := NewProber(withTestLogger(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := p.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	p.SetRegisterChecks([]RegisterCheck{
		check("pbx-udp", udp.uri(), UDP, "secret"),
		check("pbx-tcp", tcp.uri(), TCP, "secret"),
		check("pbx-wrong", udp.uri(), UDP, "wrong"),
	})
	runProber(t, p)

	deadline := time.Now().Add(3 * time.Second)
	for len(got.of("pbx-udp")) < 2 || len(got.of("pbx-tcp")) < 2 || len(got.of("pbx-wrong")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than two checks each within 3s: %+v", p.RegisterResults())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, name := range []string{"pbx-udp", "pbx-tcp"} {
		for _, r := range got.of(name) {
			if !r.OK || r.Code != 200 || r.Reason != "OK" || r.Duration <= 0 || r.Failures != 0 || r.At.IsZero() {
				t.Errorf("%s: %+v, want OK 200 with a duration", name, r)
			}
		}
	}
	// A wrong password: 401, then 403 to the digest. Each failed check
	// is an event (OnRegisterResult) and counted.
	for i, r := range got.of("pbx-wrong")[:2] {
		if r.OK || r.Code != 403 || r.Reason != "Forbidden" || r.Failures != i+1 {
			t.Errorf("pbx-wrong check %d: %+v, want failed 403 with %d failures", i, r, i+1)
		}
	}
	m := gathered(t, reg)
	if m[`switchboard_sip_register_check_failures_total{code="403",switch="pbx-wrong"}`] < 2 {
		t.Errorf("register_check_failures_total{403,pbx-wrong} = %v, want >= 2", m[`switchboard_sip_register_check_failures_total{code="403",switch="pbx-wrong"}`])
	}
	if m[`switchboard_sip_register_check_success{switch="pbx-udp"}`] != 1 || m[`switchboard_sip_register_check_success{switch="pbx-wrong"}`] != 0 {
		t.Errorf("register_check_success: %v", m)
	}

	// A registrar that is gone: no code, a reason, and the failures count.
	udp.kill()
	tcp.kill()
	deadline = time.Now().Add(3 * time.Second)
	for {
		rs := p.RegisterResults()
		if rs[1].Name == "pbx-udp" && !rs[1].OK && rs[0].Name == "pbx-tcp" && !rs[0].OK {
			if rs[1].Code != 0 || rs[1].Reason != reasonRefused || rs[0].Code != 0 || rs[0].Reason != reasonRefused {
				t.Errorf("registrar gone: %+v, want code 0, connection refused", rs[:2])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checks did not fail within 3s of the registrar going: %+v", rs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
