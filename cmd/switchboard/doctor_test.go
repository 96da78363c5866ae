package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
)

// doctorStore makes a store with domain 127.0.0.1, its account 1001 and
// the gateways given, and returns its DSN.
func doctorStore(t *testing.T, gws ...provisioning.Gateway) string {
	t.Helper()
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "sb.db")
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc := provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4))
	admin := provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "doctor"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.CreateTenant(ctx, admin, tn))
	must(svc.CreateDomain(ctx, admin, &provisioning.Domain{TenantID: tn.ID, Name: "127.0.0.1"}))
	must(svc.CreateAccount(ctx, admin, &provisioning.Account{Domain: "127.0.0.1", Username: "1001", Secret: "a-long-secret-1001"}))
	for i := range gws {
		must(svc.CreateGateway(ctx, admin, &gws[i]))
	}
	if len(gws) > 0 { // a least-cost route through them: the node has no authz_url to ask
		r := &provisioning.OutboundRoute{RoutingMeta: provisioning.RoutingMeta{TenantID: tn.ID}, Name: "intl", Patterns: []provisioning.DialPattern{"00."},
			GatewayIDs: []int64{gws[0].ID}, Order: provisioning.RouteOrderCost}
		must(svc.CreateOutboundRoute(ctx, admin, r))
	}
	return dsn
}

// runDoctorGolden runs doctor on the configuration yaml and compares its
// report, with addr replaced by ADDR, with testdata/doctor/name.txt.
func runDoctorGolden(t *testing.T, name, dsn, yaml, addr string, wantFail bool) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCmd(t, "doctor", "--config", conf, "--database-dsn", dsn, "--switch", "sw1")
	if wantFail != (err != nil) || err != nil && (!errors.Is(err, errDoctorFailed) || exitCode(err, io.Discard) != 1) {
		t.Fatalf("err = %v (exit %d), want failed %v\n%s%s", err, exitCode(err, io.Discard), wantFail, out, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
	got := strings.ReplaceAll(out, addr, "ADDR")
	golden := filepath.Join("testdata", "doctor", name+".txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestDoctor -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("report differs from %s (go test -run TestDoctor -update rewrites it):\n%s", golden, got)
	}
}

// TestDoctorFreeSWITCH prints the report of a node set up as the README
// says, and of the stock node the issue found: static users 1000-1019
// with password 1234 in Switchboard's domain, json_cdr as first
// documented.
func TestDoctorFreeSWITCH(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stock bool
	}{{"freeswitch-ok", false}, {"freeswitch-stock", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := esltest.New(t, esltest.WithPassword("esl-secret"))
			point := strings.NewReplacer("127.0.0.1:8099", "127.0.0.1:8080", "/freeswitch/fsdoc/", "/freeswitch/sw1/")
			srv.SetConfig("xml_curl.conf", point.Replace(srv.Config("xml_curl.conf")))
			cdrConf := point.Replace(srv.Config("json_cdr.conf"))
			if !tc.stock {
				cdrConf = strings.Replace(cdrConf, "<settings>", `<settings><param name="queue-capacity" value="10000"></param><param name="timeout" value="5"></param>`, 1)
				srv.SetDirectory(`<section name="directory"><domain name="fs.example"><users><user id="2000"><params><param name="password" value="strong"></param></params></user></users></domain></section>`)
			}
			srv.SetConfig("json_cdr.conf", cdrConf)
			yaml := fmt.Sprintf(`switches:
  - name: sw1
    type: freeswitch
    esl: %s
    password: esl-secret
    domain: 127.0.0.1
    http_user: freeswitch
    http_password: sb-live-http-secret
`, srv.Addr())
			runDoctorGolden(t, tc.name, doctorStore(t), yaml, srv.Addr(), tc.stock)
		})
	}
}

// TestDoctorAsterisk prints the report of a node with memory wizards, and
// of one whose auth wizard is config-only, without res_prometheus, with a
// registering gateway that is not on the switch and a route ordered by
// cost through it while the node has no authz_url.
func TestDoctorAsterisk(t *testing.T) {
	for _, tc := range []struct {
		name   string
		broken bool
	}{{"asterisk-ok", false}, {"asterisk-broken", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := aritest.New(t)
			var gws []provisioning.Gateway
			if tc.broken {
				srv.SetWritable("auth", false)
				srv.SetMetrics(nil)
				gws = append(gws, provisioning.Gateway{Name: "carrier", Host: "198.51.100.7", Username: "acct", Secret: "gw-secret", Register: true})
			}
			yaml := fmt.Sprintf(`switches:
  - name: sw1
    type: asterisk
    url: %s
    user: %s
    password: %s
`, srv.URL, aritest.User, aritest.Password)
			u, _ := url.Parse(srv.URL)
			runDoctorGolden(t, tc.name, doctorStore(t, gws...), yaml, u.Host, tc.broken)
		})
	}
}

// TestDoctorDomain checks the switch's domain against the store: a
// domain that is not provisioned FAILs before the switch is asked.
func TestDoctorDomain(t *testing.T) {
	dsn := doctorStore(t)
	for _, tc := range []struct {
		domain string
		want   string
	}{{"127.0.0.1", "ok    domain"}, {"127.0.0.2", "FAIL  domain"}} {
		conf := filepath.Join(t.TempDir(), "switchboard.yaml")
		yaml := "switches:\n  - name: sw1\n    type: freeswitch\n    esl: 127.0.0.1:1\n    password: x\n    http_allow: [127.0.0.1]\n    domain: " + tc.domain + "\n"
		if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		out, _, _ := runCmd(t, "doctor", "--config", conf, "--database-dsn", dsn, "--switch", "sw1")
		if !strings.Contains(out, tc.want) {
			t.Errorf("domain %s: want %q in\n%s", tc.domain, tc.want, out)
		}
	}
}
