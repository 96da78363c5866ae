package sip

// The opt-in live check of what the switch probe costs a real Asterisk's
// log. It runs only when SWITCHBOARD_TEST_ASTERISK is set (as for the
// switch/asterisk live tests), and skips otherwise, also under CI: CI has
// no Asterisk.
//
//	SWITCHBOARD_TEST_ASTERISK=http://switchboard:a-long-random-password@127.0.0.1:8088/ari \
//	SWITCHBOARD_TEST_ASTERISK_SIP=127.0.0.1:5070 \
//	SWITCHBOARD_TEST_ASTERISK_LOG=/var/log/asterisk/messages.log \
//	go test ./sip -run LiveAsterisk -v
//
// The log must receive NOTICE (logger.conf: messages.log => notice,...);
// the node needs the memory wizards for endpoint and auth that
// switch/asterisk/README.md asks for, since the test creates the probe's
// endpoint over ARI and removes it at the end.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

const (
	envLiveAsteriskARI = "SWITCHBOARD_TEST_ASTERISK"
	envLiveAsteriskSIP = "SWITCHBOARD_TEST_ASTERISK_SIP"
	envLiveAsteriskLog = "SWITCHBOARD_TEST_ASTERISK_LOG"
)

// unidentified is what res_pjsip's distributor logs for a request it
// matches to no endpoint (pjsip_distributor.c, log_failed_request).
const unidentified = "No matching endpoint found"

// TestLiveAsteriskSwitchProbeQuiet probes a real Asterisk's own listener
// as a switch target, first with no endpoint named after the probe's From
// user (Asterisk answers 401 and logs "No matching endpoint found" for
// every probe: the defect), then with the endpoint README.md tells the
// operator to define (answered 200, nothing logged).
func TestLiveAsteriskSwitchProbeQuiet(t *testing.T) {
	ari := os.Getenv(envLiveAsteriskARI)
	logPath := os.Getenv(envLiveAsteriskLog)
	if ari == "" || logPath == "" {
		t.Skipf("live Asterisk check: set %s and %s", envLiveAsteriskARI, envLiveAsteriskLog)
	}
	u, err := url.Parse(ari)
	if err != nil {
		t.Fatalf("%s: %v", envLiveAsteriskARI, err)
	}
	sipAddr := os.Getenv(envLiveAsteriskSIP)
	if sipAddr == "" {
		sipAddr = u.Hostname() + ":5060"
	}
	if status := ariConfig(t, u, http.MethodGet, "endpoint", ProbeUser, nil); status == http.StatusOK {
		t.Fatalf("Asterisk already has an endpoint %q: the check needs to create and remove its own", ProbeUser)
	}

	// probe sends one switch probe (the Prober's own OPTIONS) and returns
	// its answer and what the log gained meanwhile about the probe.
	probe := func(t *testing.T, listen string) (Result, []string) {
		// One probe within the 10 s interval (its phase), none after it
		// before the test reads the log.
		before := logSize(t, logPath)
		p := startProber(t, Config{Interval: 10 * time.Second, Timeout: 2 * time.Second, ListenAddr: listen},
			Target{Kind: KindSwitch, Name: "live", URI: "sip:" + sipAddr})
		r := waitResult(t, p, KindSwitch, "live", 12*time.Second, "an answer", func(r Result) bool { return r.Code != 0 })
		time.Sleep(300 * time.Millisecond) // let Asterisk's logger thread write
		var lines []string
		for _, l := range strings.Split(logSince(t, logPath, before), "\n") {
			if strings.Contains(l, "sip:"+ProbeUser+"@") {
				lines = append(lines, l)
			}
		}
		return r, lines
	}

	t.Run("unknown", func(t *testing.T) {
		r, lines := probe(t, "127.0.0.1")
		t.Logf("answer %d %s; log: %q", r.Code, r.Reason, lines)
		if r.Code != http.StatusUnauthorized || len(lines) != 1 || !strings.Contains(lines[0], unidentified) {
			t.Fatalf("without the probe endpoint: want 401 and one %q line, got %d and %q", unidentified, r.Code, lines)
		}
	})

	t.Run("probe endpoint", func(t *testing.T) {
		secret := make([]byte, 24)
		_, _ = rand.Read(secret)
		auth := ProbeUser + "-auth"
		// README.md (switch/asterisk): the probe's endpoint, as an
		// operator writes it in pjsip.conf; pushed here over ARI.
		mustPut(t, u, "auth", auth, map[string]string{"auth_type": "userpass", "username": ProbeUser, "password": hex.EncodeToString(secret)})
		t.Cleanup(func() { ariConfig(t, u, http.MethodDelete, "auth", auth, nil) })
		mustPut(t, u, "endpoint", ProbeUser, map[string]string{
			"context":                       ProbeUser + "-none",
			"disallow":                      "all",
			"auth":                          auth,
			"allow_unauthenticated_options": "yes",
			"deny":                          "0.0.0.0/0.0.0.0",
			"permit":                        "127.0.0.1/255.255.255.255",
		})
		t.Cleanup(func() { ariConfig(t, u, http.MethodDelete, "endpoint", ProbeUser, nil) })

		r, lines := probe(t, "127.0.0.1")
		t.Logf("answer %d %s; log: %q", r.Code, r.Reason, lines)
		if r.Code != http.StatusOK || r.Status != StatusReachable || len(lines) != 0 {
			t.Fatalf("with the probe endpoint: want 200, reachable and no log line, got %d %s and %q", r.Code, r.Status, lines)
		}

		// The same From from an address the endpoint's ACL does not
		// permit is not trusted: challenged and logged, as before.
		r, lines = probe(t, "127.0.0.2")
		t.Logf("from 127.0.0.2: answer %d %s; log: %q", r.Code, r.Reason, lines)
		if r.Code != http.StatusUnauthorized || len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "Not match Endpoint ACL") {
			t.Fatalf("from outside the ACL: want 401 and a \"Not match Endpoint ACL\" line, got %d and %q", r.Code, lines)
		}
	})
}

func mustPut(t *testing.T, base *url.URL, class, id string, fields map[string]string) {
	t.Helper()
	if status := ariConfig(t, base, http.MethodPut, class, id, fields); status != http.StatusOK {
		t.Fatalf("PUT %s/%s: %d", class, id, status)
	}
}

// ariConfig calls ARI's dynamic configuration for res_pjsip's class/id
// and returns the status.
func ariConfig(t *testing.T, base *url.URL, method, class, id string, fields map[string]string) int {
	t.Helper()
	var body io.Reader
	if fields != nil {
		type field struct {
			Attribute string `json:"attribute"`
			Value     string `json:"value"`
		}
		var fs []field
		for k, v := range fields {
			fs = append(fs, field{k, v})
		}
		b, _ := json.Marshal(map[string]any{"fields": fs})
		body = bytes.NewReader(b)
	}
	u := *base
	u.User = nil
	u.Path = strings.TrimSuffix(u.Path, "/") + "/asterisk/config/dynamic/res_pjsip/" + class + "/" + url.PathEscape(id)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		t.Fatal(err)
	}
	if pw, ok := base.User.Password(); ok {
		req.SetBasicAuth(base.User.Username(), pw)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u.Path, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 && method != http.MethodGet {
		t.Logf("%s %s: %d %s", method, u.Path, res.StatusCode, msg)
	}
	return res.StatusCode
}

func logSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func logSince(t *testing.T, path string, off int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(fmt.Errorf("read %s: %w", path, err))
	}
	return string(b)
}
