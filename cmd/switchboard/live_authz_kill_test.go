package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// TestLiveDaemonAuthzKill (issue 15, "fail-open/closed with the daemon
// SIGKILLed") runs the daemon binary against the real nodes of
// TestLiveDaemonSIGKILL (the same variables; FreeSWITCH may add
// cdr_err_dir, Asterisk SWITCHBOARD_TEST_ASTERISK_CDR) with call
// authorization on, and for each node, with its own tenant (a tariff
// plan France 0.60 EUR/min per second, prepaid, a registered phone, a
// sipp gateway and an outbound route 00… → +…):
//
//  1. daemon up, fail_open: a call with 0.05 EUR is cut 5 ± 1 s after the
//     gateway answers; with nothing left a call is refused (603) and one
//     to a destination without a rate too (403), the gateway seeing no
//     INVITE; after a payment a call goes through, and with
//     concurrent_calls 1 a second call while it is up is refused 503;
//  2. SIGKILL: a call goes through (fail-open: the gateway answers);
//  3. restarted with fail_closed: the node's fallback carries the policy,
//     a call is authorized again and the CDR of the call made while the
//     daemon was dead is ingested, priced and charged;
//  4. SIGKILL: the call is refused 503 and the gateway sees no INVITE;
//     before each SIGKILL the daemon is also stopped (SIGSTOP) for one
//     call: the node waits for its timeout, then follows the policy;
//  5. restarted: a call is authorized; every answered call has exactly one
//     charged CDR, the balance is the payments less their costs, and no
//     reservation is left.
//
// Each step logs how long the phone waited for its final answer.
func TestLiveDaemonAuthzKill(t *testing.T) {
	var nodes []authzKillNode
	if v := os.Getenv("SWITCHBOARD_TEST_FREESWITCH"); v != "" {
		if n := newLiveFS(t, v); n != nil {
			nodes = append(nodes, &authzKillFS{liveFS: n, cdrErrDir: mustQuery(t, v, "cdr_err_dir")})
		}
	}
	if v := os.Getenv("SWITCHBOARD_TEST_ASTERISK"); v != "" {
		if n := newLiveAst(t, v); n != nil {
			nodes = append(nodes, &authzKillAst{liveAst: n, cdrFile: os.Getenv("SWITCHBOARD_TEST_ASTERISK_CDR")})
		}
	}
	if len(nodes) == 0 {
		t.Skip("set SWITCHBOARD_TEST_FREESWITCH (with fallback_dir, and cdr_err_dir) and/or SWITCHBOARD_TEST_ASTERISK (with SWITCHBOARD_TEST_ASTERISK_DIALPLAN, SWITCHBOARD_TEST_ASTERISK_SIP and SWITCHBOARD_TEST_ASTERISK_CDR): switch/*/README.md, Live tests")
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatalf("sipp is required: %v", err)
	}
	// SWITCHBOARD_TEST_OUTAGE: how long the daemon stays dead after the
	// first SIGKILL (0 by default: restarted after the call). Past 25 s
	// FreeSWITCH gives up posting the CDR (json_cdr retries) and writes it
	// to err-log-dir, which the restarted daemon imports.
	var outage time.Duration
	if v := os.Getenv("SWITCHBOARD_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SWITCHBOARD_TEST_OUTAGE=%q: %v", v, err)
		}
		outage = d
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	// A fixed listener: the Asterisk dialplan's authz_url and
	// FreeSWITCH's xml_curl must find the restarted daemon.
	listen := "127.0.0.1:" + strconv.Itoa(freeTCPPort(t))
	for _, n := range nodes {
		listen = cmp.Or(n.listen(), listen)
	}
	conf := filepath.Join(dir, "switchboard.yaml")
	writeConf := func(policy string) {
		var yaml strings.Builder
		yaml.WriteString("switches:\n")
		for _, n := range nodes {
			yaml.WriteString(n.authzConfig(policy, "http://"+listen))
		}
		if err := os.WriteFile(conf, []byte(yaml.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dsn := []string{"--database-dsn", "sqlite:" + filepath.Join(dir, "sb.db")}
	args := append([]string{"--config", conf, "--http-listen", listen, "--cdr-spool-dir", filepath.Join(dir, "spool")}, dsn...)
	token := tokenVia(t, bin, dir, dsn...)
	var p *process
	start := func(policy string) {
		writeConf(policy)
		p = startProcess(t, bin, dir, args...)
		pp := p
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("daemon (%s) log:\n%s", policy, lastLines(pp.stderr.String(), 60))
			}
		})
	}
	kill := func() time.Time {
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		return time.Now()
	}
	var results []string
	record := func(format string, a ...any) {
		s := fmt.Sprintf(format, a...)
		results = append(results, s)
		t.Log(s)
	}
	t.Cleanup(func() {
		for _, r := range results {
			t.Logf("RESULT %s", r)
		}
	})

	start(authzFailOpen)
	api := &liveAPI{t: t, base: "http://" + p.addr, token: token}
	cleaned := false
	defer func() {
		// After a failure the nodes still hold the test's accounts,
		// gateways and routes: a daemon that is alive deletes them (the
		// next run's daemon would not know them).
		if cleaned || p.cmd.ProcessState != nil {
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		api.deleteAll()
		time.Sleep(3 * time.Second)
	}()
	states := make([]*authzKillState, len(nodes))
	for i, n := range nodes {
		states[i] = provisionAuthzKill(t, api, n)
	}
	for i, n := range nodes {
		s := states[i]
		waitUntil(t, 20*time.Second, n.name()+"'s route in its dialplan file (fail_open)", func() bool { return n.ready(authzFailOpen, s.gateway) })
		if err := n.register(); err != nil {
			t.Fatalf("%s: REGISTER with the daemon up: %v", n.name(), err)
		}
		// 1. Up, fail_open: the prepaid cut and two refusals.
		c := authzKillCall(t, n, s, authzFrance, 20*time.Second)
		if c.invites != 1 || c.cut == 0 {
			t.Fatalf("%s: prepaid call (0.05 EUR): gateway INVITEs %d, cut %v; want 1 and a BYE from the node\n%s", n.name(), c.invites, c.cut, c.trace)
		}
		if c.cut < 4*time.Second || c.cut > 6*time.Second {
			t.Errorf("%s: prepaid call cut %.3f s after the gateway's 200 OK, want 5 ± 1", n.name(), c.cut.Seconds())
		}
		record("%s up (fail_open): prepaid 0.05 EUR at 0.60/min → answered after %v, the node sent BYE to the gateway %.3f s after its 200 OK", n.name(), c.wait, c.cut.Seconds())
		s.answered++
		s.waitCharged(api, 30*time.Second, "the prepaid call")
		s.record(api, "authz-prepaid")
		if b := s.balance(api); b != 0 {
			t.Errorf("%s: balance %s after the prepaid call, want 0", n.name(), b)
		}
		for _, r := range []struct {
			dest, why string
			code      int
		}{{authzFrance, "insufficient_funds", 603}, {authzGermany, "no_rate", 403}} {
			c := authzKillCall(t, n, s, r.dest, 2*time.Second)
			if c.invites != 0 || c.final != r.code {
				t.Errorf("%s: %s call: gateway INVITEs %d, phone got %d; want 0 and %d\n%s", n.name(), r.why, c.invites, c.final, r.code, c.trace)
			}
			record("%s up (fail_open): %s → the phone got %d after %v, gateway INVITEs %d", n.name(), r.why, c.final, c.wait, c.invites)
		}
		s.pay(api, "1.00")
		c = authzKillCall(t, n, s, authzFrance, 2*time.Second)
		if c.invites != 1 || c.final != 200 {
			t.Errorf("%s: call after a payment: gateway INVITEs %d, phone got %d; want 1, 200\n%s", n.name(), c.invites, c.final, c.trace)
		}
		record("%s up (fail_open): authorized call → 200 after %v", n.name(), c.wait)
		s.answered++
		s.concurrentLimit(t, api, record)
	}

	// 1b. Stuck (SIGSTOP): the node's request is accepted by the kernel
	// and never answered, so the node waits for its own timeout, then
	// applies the policy.
	stuck := func(policy string) {
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		for i, n := range nodes {
			c := authzKillCall(t, n, states[i], authzFrance, 2*time.Second)
			want, invites := 200, 1
			if policy == authzFailClosed {
				want, invites = 503, 0
			} else {
				states[i].answered++
			}
			if c.invites != invites || c.final != want || c.wait > 10*time.Second {
				t.Errorf("%s: %s, daemon stuck: gateway INVITEs %d, phone got %d after %v; want %d, %d within the node's timeout", n.name(), policy, c.invites, c.final, c.wait, invites, want)
			}
			record("%s stuck (SIGSTOP, %s): gateway INVITEs %d, the phone got %d after %v", n.name(), policy, c.invites, c.final, c.wait)
		}
		if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	stuck(authzFailOpen)

	// 2. SIGKILL with fail_open.
	killed := kill()
	for i, n := range nodes {
		c := authzKillCall(t, n, states[i], authzFrance, 2*time.Second)
		if c.invites != 1 || c.final != 200 {
			t.Errorf("%s: fail_open, daemon SIGKILLed: gateway INVITEs %d, phone got %d; want the call through\n%s", n.name(), c.invites, c.final, c.trace)
		}
		record("%s SIGKILLed (fail_open), %v after the kill: gateway INVITEs %d, the phone got %d after %v", n.name(), time.Since(killed).Round(time.Second), c.invites, c.final, c.wait)
		states[i].answered++
	}

	// 3. Restarted with fail_closed.
	time.Sleep(time.Until(killed.Add(outage)))
	start(authzFailClosed)
	record("daemon restarted %v after the kill", time.Since(killed).Round(time.Second))
	back := time.Now()
	api.base = "http://" + p.addr
	for i, n := range nodes {
		waitUntil(t, 20*time.Second, n.name()+"'s dialplan file rewritten fail_closed", func() bool { return n.ready(authzFailClosed, states[i].gateway) })
		record("%s: dialplan file fail_closed %v after the restart", n.name(), time.Since(back).Round(time.Millisecond))
	}
	for i, n := range nodes {
		// FreeSWITCH posts again every 5 s, and past 25 s writes the
		// record to err-log-dir; Asterisk's Master.csv is read from the
		// checkpoint.
		states[i].waitCharged(api, 90*time.Second, "the call made while the daemon was dead")
		record("%s: the CDR of the call made while the daemon was dead stored and charged %v after the restart", n.name(), time.Since(back).Round(time.Millisecond))
	}
	for i, n := range nodes {
		s := states[i]
		c := authzKillCall(t, n, s, authzFrance, 2*time.Second)
		if c.invites != 1 || c.final != 200 {
			t.Errorf("%s: restarted, authorized call: gateway INVITEs %d, phone got %d\n%s", n.name(), c.invites, c.final, c.trace)
		}
		record("%s restarted (fail_closed): authorized call → 200 after %v", n.name(), c.wait)
		s.answered++
	}

	stuck(authzFailClosed)

	// 4. SIGKILL with fail_closed.
	killed = kill()
	for i, n := range nodes {
		c := authzKillCall(t, n, states[i], authzFrance, 2*time.Second)
		if c.invites != 0 || c.final != 503 {
			t.Errorf("%s: fail_closed, daemon SIGKILLed: gateway INVITEs %d, phone got %d; want 0 and 503\n%s", n.name(), c.invites, c.final, c.trace)
		}
		record("%s SIGKILLed (fail_closed), %v after the kill: gateway INVITEs %d, the phone got %d after %v", n.name(), time.Since(killed).Round(time.Second), c.invites, c.final, c.wait)
	}

	// 5. Restarted: authorized again, every answered call charged once.
	start(authzFailClosed)
	api.base = "http://" + p.addr
	for i, n := range nodes {
		s := states[i]
		c := authzKillCall(t, n, s, authzFrance, 2*time.Second)
		if c.invites != 1 || c.final != 200 {
			t.Errorf("%s: restarted again, authorized call: gateway INVITEs %d, phone got %d\n%s", n.name(), c.invites, c.final, c.trace)
		}
		s.answered++
		record("%s restarted (fail_closed): authorized call → 200 after %v", n.name(), c.wait)
	}
	for i, n := range nodes {
		s := states[i]
		s.waitCharged(api, 90*time.Second, "every call")
		time.Sleep(2 * time.Second) // anything charged twice would show now
		costs, charged := s.cdrCosts(api)
		bal := s.balance(api)
		want := s.paid - costs
		if charged != s.answered || bal != want {
			t.Errorf("%s: %d charged CDRs for %d answered calls, balance %s; want %d and payments %s − costs %s = %s", n.name(), charged, s.answered, bal, s.answered, s.paid, costs, want)
		}
		record("%s: %d answered calls, %d charged CDRs costing %s EUR, balance %s EUR (paid %s)", n.name(), s.answered, charged, costs, bal, s.paid)
	}
	if v := metric(t, api.base, "switchboard_authz_reserved_calls"); v != 0 {
		t.Errorf("switchboard_authz_reserved_calls %v after every call ended and was stored, want 0", v)
	}

	// Clean the nodes: the accounts, gateways and routes go; the files
	// are rewritten without them.
	api.deleteAll()
	cleaned = true
	for i, n := range nodes {
		waitUntil(t, 15*time.Second, n.name()+"'s route gone from its dialplan file", func() bool { return !n.ready(authzFailClosed, states[i].gateway) })
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Error(err)
	}
	_ = p.cmd.Wait()
}

// The destinations the phones dial: France has a rate, Germany none;
// the route 00X. strips 00 and prepends +.
const (
	authzFrance  = "0033155501234"
	authzGermany = "0049301234567"
)

func mustQuery(t *testing.T, v, key string) string {
	u, err := url.Parse(v)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(key)
}

// authzKillNode is one real node of TestLiveDaemonAuthzKill.
type authzKillNode interface {
	name() string
	listen() string
	// authzConfig is its switches entry with authz: policy; base is the
	// daemon's URL.
	authzConfig(policy, base string) string
	domain() string
	phone() string
	gatewayIP() string
	// ready: the node's generated dialplan file routes calls through the
	// gateway (its name) with policy's fail branch.
	ready(policy, gateway string) bool
	register() error
	// gateway is the sipp answering at the gateway (scenario, args),
	// holding the call up to hold; caller the phone's sipp calling dest.
	gateway(t *testing.T, hold time.Duration) (string, []string)
	caller(t *testing.T, dest string, hold time.Duration) (string, []string)
}

// authzKillState is a node's tenant and what the test expects of it.
type authzKillState struct {
	node              authzKillNode
	tenant            int64
	gateway           string // its name
	gwPort            int
	paid              money.Amount
	answered          int // calls the gateway answered: each is one charged CDR
	payments          int
	switchName, since string
}

func provisionAuthzKill(t *testing.T, api *liveAPI, n authzKillNode) *authzKillState {
	s := &authzKillState{node: n, gwPort: freeUDP(t), switchName: n.name(), since: time.Now().UTC().Add(-time.Second).Format(time.RFC3339)}
	// The tenant stays (its plan, billing and CDRs are the daemon's own
	// temporary database); what reached the node is deleted at the end.
	s.tenant = int64(authzKillDo(t, api, http.MethodPost, "/api/v1/tenants", "application/json", fmt.Sprintf(`{"name":"live-authz-kill-%s"}`, n.name()), http.StatusCreated)["id"].(float64))
	plan := authzKillDo(t, api, http.MethodPost, "/api/v1/tariff-plans", "application/json",
		fmt.Sprintf(`{"tenant_id":%d,"name":"retail","currency":"EUR","time_zone":"UTC","charge_step":"0.0001"}`, s.tenant), http.StatusCreated)
	planID := int64(plan["id"].(float64))
	authzKillDo(t, api, http.MethodPut, fmt.Sprintf("/api/v1/tariff-plans/%d/rates", planID), "text/csv",
		"prefix,destination,group,price_per_minute,first_increment,next_increment\n33,France,France,0.60,1,1\n", http.StatusOK)
	authzKillDo(t, api, http.MethodPut, fmt.Sprintf("/api/v1/tenants/%d/tariff", s.tenant), "application/json", fmt.Sprintf(`{"tariff_plan_id":%d}`, planID), http.StatusOK)
	authzKillDo(t, api, http.MethodPut, fmt.Sprintf("/api/v1/tenants/%d/billing", s.tenant), "application/json", `{"mode":"prepaid"}`, http.StatusOK)
	s.pay(api, "0.05")
	api.create("/api/v1/domains", fmt.Sprintf(`{"tenant_id":%d,"name":%q}`, s.tenant, n.domain()))
	api.create("/api/v1/accounts", fmt.Sprintf(`{"domain":%q,"username":%q,"secret":"live-%s-secret"}`, n.domain(), n.phone(), n.phone()))
	s.gateway = fmt.Sprintf("sblive-authz-kill-%s-%d", n.name(), s.gwPort)
	gw := api.create("/api/v1/gateways", fmt.Sprintf(`{"tenant_id":%d,"name":%q,"host":%q,"port":%d,"transport":"udp","register":false}`,
		s.tenant, s.gateway, n.gatewayIP(), s.gwPort))
	api.create("/api/v1/outbound-routes", fmt.Sprintf(`{"tenant_id":%d,"name":"intl","patterns":["00X."],"strip":2,"prepend":"+","gateway_ids":[%d]}`, s.tenant, gw))
	return s
}

// concurrentLimit: with the tenant's concurrent_calls at 1 and a call
// up, a second call is refused 503 and never reaches the gateway; the
// limit is removed after.
func (s *authzKillState) concurrentLimit(t *testing.T, api *liveAPI, record func(string, ...any)) {
	n := s.node
	lim := authzKillDo(t, api, http.MethodPost, "/api/v1/limits", "application/json", fmt.Sprintf(`{"tenant_id":%d,"concurrent_calls":1}`, s.tenant), http.StatusCreated)
	time.Sleep(1100 * time.Millisecond) // ProvisioningLimits keeps limits for 1 s
	first := make(chan authzCallResult, 1)
	go func() { first <- authzKillCall(t, n, s, authzFrance, 8*time.Second) }()
	time.Sleep(3 * time.Second) // answered by now
	csf, cargs := n.caller(t, authzFrance, 2*time.Second)
	c := startTracedSipp(t, csf, append([]string{"-m", "1", "-timeout", "20s", "-timeout_error"}, cargs...)...)
	_ = c.wait(25 * time.Second)
	code, wait := c.final()
	a := <-first
	s.answered++
	if a.final != 200 || a.invites != 1 || code != 503 {
		t.Errorf("%s: concurrent_calls 1: first call %d (gateway INVITEs %d, the second's included), second call %d; want 200 (1), 503\n%s\nsecond: %s",
			n.name(), a.final, a.invites, code, a.trace, lastLines(c.messages(), 20))
	}
	record("%s up (fail_open): concurrent_calls 1 with a call up → the second call got %d after %v, gateway INVITEs %d (the first's)", n.name(), code, wait, a.invites)
	s.waitCharged(api, 30*time.Second, "the call under the concurrent limit")
	authzKillDo(t, api, http.MethodDelete, fmt.Sprintf("/api/v1/limits/%d", int64(lim["id"].(float64))), "", "", http.StatusNoContent)
	time.Sleep(1100 * time.Millisecond)
}

func (s *authzKillState) pay(api *liveAPI, amount string) {
	s.payments++
	authzKillDo(api.t, api, http.MethodPost, fmt.Sprintf("/api/v1/tenants/%d/payments", s.tenant), "application/json",
		fmt.Sprintf(`{"amount":%q,"reference":"live-%d"}`, amount, s.payments), http.StatusCreated)
	s.paid += money.MustParse(amount)
}

var authzBalanceRe = regexp.MustCompile(`"currency":"EUR"[^}]*?"balance":"([^"]+)"|"balance":"([^"]+)"[^}]*?"currency":"EUR"`)

// balance is the tenant's EUR balance (0 before anything was booked).
func (s *authzKillState) balance(api *liveAPI) money.Amount {
	b := authzKillRaw(api.t, api, http.MethodGet, fmt.Sprintf("/api/v1/tenants/%d/balance", s.tenant), "", "", http.StatusOK)
	m := authzBalanceRe.FindStringSubmatch(b)
	if m == nil {
		return 0
	}
	a, err := money.Parse(cmp.Or(m[1], m[2]))
	if err != nil {
		api.t.Fatalf("balance %s: %v", b, err)
	}
	return a
}

// cdrCosts sums the costs of the node's CDRs of the tenant's phone since
// the test began and counts those with a cost above zero (one a call the
// gateway answered).
func (s *authzKillState) cdrCosts(api *liveAPI) (money.Amount, int) {
	var sum money.Amount
	charged := 0
	ids := map[string]bool{}
	q := url.Values{"switch": {s.switchName}, "from": {s.since}, "limit": {"1000"}}
	b := authzKillRaw(api.t, api, http.MethodGet, "/api/v1/cdrs?"+q.Encode(), "", "", http.StatusOK)
	var page struct {
		Items []struct {
			CallID string  `json:"call_id"`
			Cost   *string `json:"cost"`
			Domain string  `json:"domain"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(b), &page); err != nil {
		api.t.Fatalf("cdrs: %v: %s", err, b)
	}
	for _, c := range page.Items {
		if ids[c.CallID] {
			api.t.Errorf("%s: CDR %s stored twice", s.switchName, c.CallID)
		}
		ids[c.CallID] = true
		if c.Cost == nil {
			continue
		}
		a, err := money.Parse(*c.Cost)
		if err != nil {
			api.t.Fatalf("cost %q: %v", *c.Cost, err)
		}
		sum += a
		if a > 0 {
			charged++
		}
	}
	return sum, charged
}

// record writes the raw records of the node's CDRs so far (the switch's
// own JSON: FreeSWITCH's mod_json_cdr body or ESL event) to
// SWITCHBOARD_TEST_AUTHZ_RECORD/<name>-<switch>-<call id>.json when set:
// how esltest's authz-*.json were made.
func (s *authzKillState) record(api *liveAPI, name string) {
	dir := os.Getenv("SWITCHBOARD_TEST_AUTHZ_RECORD")
	if dir == "" {
		return
	}
	q := url.Values{"switch": {s.switchName}, "from": {s.since}, "limit": {"1000"}, "include_raw": {"true"}}
	var page struct {
		Items []struct {
			CallID string          `json:"call_id"`
			Raw    json.RawMessage `json:"raw"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(authzKillRaw(api.t, api, http.MethodGet, "/api/v1/cdrs?"+q.Encode(), "", "", http.StatusOK)), &page); err != nil {
		api.t.Fatal(err)
	}
	for _, c := range page.Items {
		var out bytes.Buffer
		if err := json.Indent(&out, c.Raw, "", "  "); err != nil {
			api.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+s.switchName+"-"+c.CallID+".json"), append(out.Bytes(), '\n'), 0o644); err != nil {
			api.t.Fatal(err)
		}
	}
}

// waitCharged waits until every answered call has its charged CDR.
func (s *authzKillState) waitCharged(api *liveAPI, limit time.Duration, what string) {
	api.t.Helper()
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		if _, n := s.cdrCosts(api); n == s.answered {
			return
		}
		if time.Since(start) > limit {
			q := url.Values{"switch": {s.switchName}, "from": {s.since}, "limit": {"1000"}, "include_raw": {"true"}}
			api.t.Fatalf("%s: %s not charged after %v: balance %s; CDRs %s", s.switchName, what, limit,
				authzKillRaw(api.t, api, http.MethodGet, fmt.Sprintf("/api/v1/tenants/%d/balance", s.tenant), "", "", http.StatusOK),
				authzKillRaw(api.t, api, http.MethodGet, "/api/v1/cdrs?"+q.Encode(), "", "", http.StatusOK))
		}
	}
}

func authzKillRaw(t *testing.T, api *liveAPI, method, path, ctype, body string, want int) string {
	t.Helper()
	req, err := http.NewRequest(method, api.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+api.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	return string(b)
}

func authzKillDo(t *testing.T, api *liveAPI, method, path, ctype, body string, want int) map[string]any {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal([]byte(authzKillRaw(t, api, method, path, ctype, body, want)), &m)
	return m
}

// authzCallResult is what the phone and the gateway saw of one call.
type authzCallResult struct {
	invites int           // INVITEs the gateway received
	final   int           // the phone's final response (0: none)
	wait    time.Duration // from the phone's last INVITE to its final response
	cut     time.Duration // from the gateway's 200 OK to the node's BYE (0: none)
	trace   string
}

// authzKillCall places one call from the node's phone to dest with a
// sipp gateway holding it up to hold.
func authzKillCall(t *testing.T, n authzKillNode, s *authzKillState, dest string, hold time.Duration) authzCallResult {
	t.Helper()
	gsf, gargs := n.gateway(t, hold)
	gw := startTracedSipp(t, gsf, append([]string{"-i", n.gatewayIP(), "-p", strconv.Itoa(s.gwPort), "-m", "1", "-timeout", "40s", "-timeout_error"}, gargs...)...)
	time.Sleep(300 * time.Millisecond)
	csf, cargs := n.caller(t, dest, hold)
	c := startTracedSipp(t, csf, append([]string{"-m", "1", "-timeout", "40s", "-timeout_error"}, cargs...)...)
	_ = c.wait(45 * time.Second)
	var r authzCallResult
	if len(gw.times(false, "INVITE ")) == 0 {
		gw.stop() // nothing came: not waiting for its timeout
	}
	_ = gw.wait(30 * time.Second)
	r.invites = len(gw.times(false, "INVITE "))
	if ok, bye := gw.times(true, "SIP/2.0 200 OK"), gw.times(false, "BYE "); len(ok) > 0 && len(bye) > 0 {
		r.cut = bye[0].Sub(ok[0])
	}
	r.final, r.wait = c.final()
	r.trace = "caller: " + lastLines(c.messages(), 40) + "\ngateway: " + lastLines(gw.messages(), 20)
	return r
}

// tracedSipp is one sipp run with -trace_msg, for the times and statuses
// of its messages.
type tracedSipp struct {
	cmd  *exec.Cmd
	dir  string
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func startTracedSipp(t *testing.T, scenario string, args ...string) *tracedSipp {
	t.Helper()
	abs, err := filepath.Abs(scenario)
	if err != nil {
		t.Fatal(err)
	}
	s := &tracedSipp{dir: t.TempDir(), done: make(chan struct{})}
	s.cmd = exec.Command("sipp", append([]string{"-sf", abs, "-nostdin", "-trace_msg"}, args...)...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	return s
}

func (s *tracedSipp) stop() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

func (s *tracedSipp) wait(d time.Duration) error {
	select {
	case <-s.done:
		return s.err
	case <-time.After(d):
		s.stop()
		return fmt.Errorf("sipp still running after %v", d)
	}
}

func (s *tracedSipp) messages() string {
	files, _ := filepath.Glob(filepath.Join(s.dir, "*_messages.log"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// sippMessage is one message of a -trace_msg log: when, which way, its
// first line.
type sippMessage struct {
	at    time.Time
	sent  bool
	first string
}

func (s *tracedSipp) log() []sippMessage {
	var out []sippMessage
	lines := strings.Split(s.messages(), "\n")
	for i := 0; i+2 < len(lines); i++ {
		rest, ok := strings.CutPrefix(lines[i], "----------------------------------------------- ")
		if !ok {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(rest), time.Local)
		if err != nil {
			continue
		}
		sent := strings.Contains(lines[i+1], "message sent")
		for _, l := range lines[i+2 : min(len(lines), i+6)] {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, sippMessage{at: at, sent: sent, first: l})
				break
			}
		}
	}
	return out
}

// times returns when sipp sent (or received) a message starting with
// first.
func (s *tracedSipp) times(sent bool, first string) []time.Time {
	var out []time.Time
	for _, m := range s.log() {
		if m.sent == sent && strings.HasPrefix(m.first, first) {
			out = append(out, m.at)
		}
	}
	return out
}

var sipStatusRe = regexp.MustCompile(`^SIP/2\.0 (\d{3})`)

// final is a caller's final response to its last INVITE and how long
// after that INVITE it came.
func (s *tracedSipp) final() (int, time.Duration) {
	var invite time.Time
	for _, m := range s.log() {
		if m.sent && strings.HasPrefix(m.first, "INVITE ") {
			invite = m.at
			continue
		}
		st := sipStatusRe.FindStringSubmatch(m.first)
		if m.sent || st == nil || invite.IsZero() {
			continue
		}
		code, _ := strconv.Atoi(st[1])
		if code < 200 || code == 401 || code == 407 {
			continue
		}
		return code, m.at.Sub(invite)
	}
	return 0, 0
}

// authzKillFS is a FreeSWITCH node of TestLiveDaemonAuthzKill.
type authzKillFS struct {
	*liveFS
	cdrErrDir string
}

func (n *authzKillFS) authzConfig(policy, _ string) string {
	c := n.config() + "    authz: " + policy + "\n"
	if n.cdrErrDir != "" {
		c += "    json_cdr_err_log_dir: " + n.cdrErrDir + "\n"
	}
	return c
}
func (n *authzKillFS) domain() string { return n.liveFS.domain }
func (n *authzKillFS) phone() string  { return n.liveFS.phone }

// gatewayIP is not 127.0.0.1: gateways reach every node, and on an
// Asterisk node of the same daemon one matching 127.0.0.1 would claim
// its phones' REGISTERs (identify by address), as seen live.
func (n *authzKillFS) gatewayIP() string { return "127.0.0.6" }

// ready: the routing fallback file has the gateway's route and, fail-closed, its
// refusal (routing_render.go GatewaysClosed).
func (n *authzKillFS) ready(policy, gateway string) bool {
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(n.fallbackDir), "00_switchboard_routing.xml"))
	// Fail-closed, the route hangs up instead of bridging: the gateway's
	// name is gone from it.
	if policy == authzFailClosed {
		return strings.Contains(string(b), "sb_authz=unreachable")
	}
	return strings.Contains(string(b), gateway) && !strings.Contains(string(b), "sb_authz=unreachable")
}

// register: the phone REGISTERs while the daemon is up, so FreeSWITCH
// keeps its cacheable directory entry for the INVITEs' digest while the
// daemon is dead (as for a phone registered before an outage).
func (n *authzKillFS) register() error { return n.liveFS.register() }

func (n *authzKillFS) gateway(*testing.T, time.Duration) (string, []string) {
	return filepath.Join(fsSipp, "phone_answer.xml"), []string{"-s", "gw"}
}

func (n *authzKillFS) caller(_ *testing.T, dest string, hold time.Duration) (string, []string) {
	u := n.liveFS.phone
	return filepath.Join(fsSipp, "phone_call.xml"), []string{"-i", "127.0.0.1", "-p", strconv.Itoa(freeUDP(n.t)), "-s", u, "-au", u, "-ap", "live-" + u + "-secret",
		"-key", "dest", dest, "-d", strconv.Itoa(int(hold.Milliseconds())), n.sip}
}

// authzKillAst is an Asterisk node of TestLiveDaemonAuthzKill.
type authzKillAst struct {
	*liveAst
	cdrFile string
}

const authzAstDomain = "live-authz-kill.example.com"

func (n *authzKillAst) authzConfig(policy, base string) string {
	c := fmt.Sprintf("  - name: ast1\n    type: asterisk\n    url: %s\n    user: %q\n    password: %q\n    app: sblive-authz-kill\n    domain: %s\n    metrics_url: \"-\"\n    dialplan_file: %s\n    routing: true\n    authz: %s\n    authz_url: %s/asterisk/ast1/authz\n",
		n.url, n.user, n.pass, authzAstDomain, n.dp, policy, base)
	if n.cdrFile != "" {
		c += "    cdr_file: " + n.cdrFile + "\n"
	}
	return c
}
func (n *authzKillAst) domain() string    { return authzAstDomain }
func (n *authzKillAst) phone() string     { return n.liveAst.phone }
func (n *authzKillAst) gatewayIP() string { return "127.0.0.5" }

// ready: the generated dialplan asks authz_url before the route's Dial,
// and hangs up (fail-closed) or dials (fail-open) when it is not answered.
func (n *authzKillAst) ready(policy, gateway string) bool {
	b, _ := os.ReadFile(n.dp)
	s := string(b)
	closed := strings.Contains(s, "fail-closed: hanging up")
	return strings.Contains(s, "/asterisk/ast1/authz/authorize") && strings.Contains(s, gateway) && closed == (policy == authzFailClosed)
}

func (n *authzKillAst) register() error {
	u := n.liveAst.phone
	return liveSipp(astSipp, "register_uac.xml", 10*time.Second, "-t", "u1", "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDP(n.t)),
		"-s", u, "-au", u, "-ap", "live-"+u+"-secret", "-key", "domain", authzAstDomain,
		"-key", "contact", "127.0.0.1:"+strconv.Itoa(n.phonePort), "-key", "expires", "300", n.sip)
}

func (n *authzKillAst) gateway(t *testing.T, hold time.Duration) (string, []string) {
	scenario, err := os.ReadFile(filepath.Join(astSipp, "answer_uas.xml"))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "answer_uas.xml")
	if err := os.WriteFile(f, []byte(strings.ReplaceAll(string(scenario), "HOLD_MS", strconv.Itoa(int(hold.Milliseconds())))), 0o644); err != nil {
		t.Fatal(err)
	}
	return f, []string{"-t", "u1"}
}

func (n *authzKillAst) caller(_ *testing.T, dest string, _ time.Duration) (string, []string) {
	u := n.liveAst.phone
	return filepath.Join(astSipp, "call_uac.xml"), []string{"-t", "u1", "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDP(n.t)), "-s", u, "-au", u, "-ap", "live-" + u + "-secret",
		"-key", "callee", dest, "-key", "domain", authzAstDomain, n.sip}
}
