package asterisk

// The opt-in live tests (live_test.go) run the adapter against a real
// Asterisk node with sipp playing the phones. They run only when
// SWITCHBOARD_TEST_ASTERISK is set, and skip otherwise, also under CI:
// CI has no Asterisk, and a live test is not a test that CI must run.
//
//	SWITCHBOARD_TEST_ASTERISK=http://switchboard:a-long-random-password@127.0.0.1:8088/ari \
//	SWITCHBOARD_TEST_ASTERISK_SIP=127.0.0.1:5070 \
//	SWITCHBOARD_TEST_ASTERISK_CDR=/var/log/asterisk/cdr-csv/Master.csv \
//	SWITCHBOARD_TEST_ASTERISK_CLI='asterisk -rx' \
//	SWITCHBOARD_TEST_ASTERISK_CEL=/var/log/asterisk/cel-custom/cel.jsonl \
//	go test ./switch/asterisk -run Live -count=3 -v
//
// The node must be set up as README.md tells the operator (ari.conf user,
// http.conf, sorcery.conf memory wizards, pjsip.conf transport-udp,
// extensions.conf context phones); see README.md, "Live tests".

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
)

// The variables that enable and describe the live node.
const (
	// envLiveARI is ARI's base URL with the ari.conf user's credentials.
	envLiveARI = "SWITCHBOARD_TEST_ASTERISK"
	// envLiveSIP is host:port of the node's PJSIP UDP transport
	// (transport-udp); the ARI host and 5060 when unset.
	envLiveSIP = "SWITCHBOARD_TEST_ASTERISK_SIP"
	// envLiveCDR is the path of cdr_csv's Master.csv (usegmtime=yes,
	// loguniqueid=yes), readable by the test; when unset, the live CDRs
	// are not compared with Asterisk's own.
	envLiveCDR = "SWITCHBOARD_TEST_ASTERISK_CDR"
	// envLiveCLI is the command that runs one Asterisk CLI command given
	// as its last argument (split on spaces, e.g. "asterisk -rx"); when
	// unset, the test that drops the event socket from Asterisk's side
	// is skipped.
	envLiveCLI = "SWITCHBOARD_TEST_ASTERISK_CLI"
	// envLiveCEL is the path of a cel_custom file (CSV or JSON lines,
	// README.md's mapping), readable by the test; when unset, the tests of
	// CDRs across a gap (GapCDR*, RestartMidCall, BurstKill, DaemonKill*) are
	// skipped.
	envLiveCEL = "SWITCHBOARD_TEST_ASTERISK_CEL"
)

// liveNode is the real Asterisk the live tests run against.
type liveNode struct {
	url            string // ARI's base URL, without credentials
	user, password string
	sip            string   // host:port of the PJSIP UDP transport
	cdrFile        string   // Master.csv; "" to skip the comparison
	cli            []string // the CLI command prefix; nil when unknown
	celFile        string   // cel_custom's file; "" to skip the gap tests
}

// requireLiveNode returns the node the environment names, and skips the
// test, naming the variable, when it names none.
func requireLiveNode(t *testing.T) *liveNode {
	t.Helper()
	raw := os.Getenv(envLiveARI)
	if raw == "" {
		t.Skipf("%s is not set: the live tests need a real Asterisk, e.g. %s=http://switchboard:password@127.0.0.1:8088/ari (see switch/asterisk/README.md)",
			envLiveARI, envLiveARI)
	}
	n, err := parseLiveNode(raw, os.Getenv(envLiveSIP), os.Getenv(envLiveCDR), os.Getenv(envLiveCLI))
	if err != nil {
		t.Fatal(err)
	}
	n.celFile = os.Getenv(envLiveCEL)
	return n
}

// parseLiveNode reads the variables' values.
func parseLiveNode(ari, sip, cdrFile, cli string) (*liveNode, error) {
	u, err := url.Parse(ari)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%s=%q: want ARI's base URL, http://user:password@host:8088/ari", envLiveARI, redactURL(ari))
	}
	n := &liveNode{user: u.User.Username(), cdrFile: cdrFile, cli: strings.Fields(cli)}
	n.password, _ = u.User.Password()
	if n.user == "" || n.password == "" {
		return nil, fmt.Errorf("%s=%q: the URL must carry the ari.conf user and password (http://user:password@host:8088/ari)", envLiveARI, redactURL(ari))
	}
	u.User = nil
	n.url = strings.TrimRight(u.String(), "/")
	n.sip = sip
	if n.sip == "" {
		n.sip = net.JoinHostPort(u.Hostname(), "5060")
	}
	if _, _, err := net.SplitHostPort(n.sip); err != nil {
		return nil, fmt.Errorf("%s=%q: want host:port of the PJSIP UDP transport: %w", envLiveSIP, sip, err)
	}
	return n, nil
}

// redactURL hides a password in an error message.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

func TestParseLiveNode(t *testing.T) {
	tests := []struct {
		name, ari, sip, cli string
		want                *liveNode
		err                 string
	}{
		{
			name: "sip from the ARI host", ari: "http://sb:pw@10.0.0.5:8088/ari/",
			want: &liveNode{url: "http://10.0.0.5:8088/ari", user: "sb", password: "pw", sip: "10.0.0.5:5060"},
		},
		{
			name: "everything given", ari: "https://sb:p%40ss@pbx:8089/ari", sip: "127.0.0.1:5070", cli: "asterisk  -rx",
			want: &liveNode{url: "https://pbx:8089/ari", user: "sb", password: "p@ss", sip: "127.0.0.1:5070", cli: []string{"asterisk", "-rx"}},
		},
		{name: "no credentials", ari: "http://127.0.0.1:8088/ari", err: "must carry the ari.conf user"},
		{name: "password hidden", ari: "ftp://sb:topsecret@h/ari", err: `"ftp://sb:xxxxx@h/ari"`},
		{name: "not a URL", ari: "127.0.0.1:8088", err: "want ARI's base URL"},
		{name: "bad sip", ari: "http://sb:pw@h:8088/ari", sip: "h", err: envLiveSIP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLiveNode(tt.ari, tt.sip, "", tt.cli)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "topsecret") {
					t.Fatalf("err = %v, want one containing %q and no password", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(*got) != fmt.Sprint(*tt.want) {
				t.Errorf("got %+v, want %+v", *got, *tt.want)
			}
		})
	}
}
