package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// daemon is a switchboard serve running in-process on a loopback port.
type daemon struct {
	addr string
	stop context.CancelFunc
	done chan error
}

func startDaemon(t *testing.T, dsn string, extra ...string) *daemon {
	t.Helper()
	return startDaemonWith(t, dsn, nil, extra...)
}

// startDaemonHook starts a daemon on SQLite and tells hook of every
// listener it opens.
func startDaemonHook(t *testing.T, hook func(name, addr string), extra ...string) *daemon {
	t.Helper()
	return startDaemonWith(t, "sqlite:"+t.TempDir()+"/sb.db", hook, extra...)
}

func startDaemonWith(t *testing.T, dsn string, hook func(name, addr string), extra ...string) *daemon {
	t.Helper()
	addrs := make(chan string, 2)
	onListening = func(name, addr string) {
		if hook != nil {
			hook(name, addr)
		}
		if name == "http" {
			addrs <- addr
		}
	}
	t.Cleanup(func() { onListening = nil })
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{stop: cancel, done: make(chan error, 1)}
	args := append([]string{"serve", "--database-dsn", dsn, "--http-listen", "127.0.0.1:0", "--log-level", "warn",
		"--cdr-spool-dir", spoolDirFor(t, dsn)}, extra...)
	go func() { d.done <- Run(ctx, args, nil, io.Discard, io.Discard) }()
	select {
	case d.addr = <-addrs:
	case err := <-d.done:
		t.Fatalf("daemon exited at start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not start listening")
	}
	t.Cleanup(func() { d.shutdown(t) })
	return d
}

// shutdown is SIGTERM: it cancels the context main gets from
// signal.NotifyContext and waits for Run to return.
func (d *daemon) shutdown(t *testing.T) {
	t.Helper()
	if d.stop == nil {
		return
	}
	d.stop()
	d.stop = nil
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("daemon exited with %v, want a clean exit", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("daemon did not stop")
	}
}

// spoolDirFor gives each database its own spool directory that outlives
// one daemon (a restart must find the spool its predecessor left).
var spoolDirs = map[string]string{}

func spoolDirFor(t *testing.T, dsn string) string {
	if d, ok := spoolDirs[dsn]; ok {
		return d
	}
	d := t.TempDir()
	spoolDirs[dsn] = d
	return d
}

func createToken(t *testing.T, dsn string) string {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), []string{"token", "create", "--name", "test", "--role", "admin", "--database-dsn", dsn}, nil, &out, &errb)
	if err != nil {
		t.Fatalf("token create: %v (%s)", err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

func do(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &m) //nolint:errcheck // some answers are not JSON
	return resp.StatusCode, m
}

// Data written through both APIs survives a daemon restart, on every
// engine, and a SIGTERM ends the daemon cleanly.
func TestServeSurvivesRestart(t *testing.T) {
	for engine, dsn := range sqldbtest.DSNs(t) {
		t.Run(string(engine), func(t *testing.T) {
			d := startDaemon(t, dsn)
			token := createToken(t, dsn)
			base := "http://" + d.addr

			if code, _ := do(t, "GET", base+"/healthz", "", ""); code != 200 {
				t.Fatalf("healthz %d", code)
			}
			if code, _ := do(t, "GET", base+"/readyz", "", ""); code != 200 {
				t.Fatalf("readyz %d", code)
			}
			code, m := do(t, "POST", base+"/api/v1/tenants", token, `{"name":"Acme"}`)
			if code != 201 {
				t.Fatalf("create tenant: %d %v", code, m)
			}
			tid := int(m["id"].(float64))
			code, m = do(t, "POST", base+"/api/v1/domains", token, `{"tenant_id":`+itoa(tid)+`,"name":"acme.example.com"}`)
			if code != 201 {
				t.Fatalf("create domain: %d %v", code, m)
			}
			code, m = do(t, "GET", base+"/dcp/user/create?token="+token+"&dcp=acme.example.com&accid=alice&password=alice-pw-1", "", "")
			if code != 200 {
				t.Fatalf("dcp user/create: %d %v", code, m)
			}
			code, m = do(t, "GET", base+"/dcp/phonenumber/create?token="+token+"&dcp=acme.example.com&user=alice&phonenumber=1001&secret=s3cr3t-1001", "", "")
			if code != 200 {
				t.Fatalf("dcp phonenumber/create: %d %v", code, m)
			}
			d.shutdown(t)

			d2 := startDaemon(t, dsn)
			code, m = do(t, "GET", "http://"+d2.addr+"/dcp/phonenumber/list?token="+token+"&dcp=acme.example.com", "", "")
			if code != 200 {
				t.Fatalf("after restart: %d %v", code, m)
			}
			data, _ := m["data"].([]any)
			if len(data) != 1 || !strings.Contains(mustJSON(data[0]), `"1001"`) {
				t.Errorf("after restart phonenumber/list = %v, want the one number 1001", m)
			}
			if strings.Contains(mustJSON(m), "s3cr3t-1001") {
				t.Error("list output contains the secret")
			}
		})
	}
}

// SIGTERM lets an in-flight request finish before the listener closes.
func TestServeDrainsInFlightRequests(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HTTP.Listen = "127.0.0.1:0"
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("done")) //nolint:errcheck
	})
	addrs := make(chan string, 1)
	onListening = func(_, addr string) { addrs <- addr }
	defer func() { onListening = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- serveAll(ctx, cfg, newLogger(cfg.Log, io.Discard), map[string]http.Handler{"http": slow})
	}()
	addr := <-addrs

	var wg sync.WaitGroup
	var body string
	var reqErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			reqErr = err
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}()
	<-started
	cancel()
	wg.Wait()
	if reqErr != nil || body != "done" {
		t.Fatalf("in-flight request: body %q err %v", body, reqErr)
	}
	if err := <-served; err != nil {
		t.Fatalf("serveAll: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Error("listener still accepts after shutdown")
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	err := Run(context.Background(), []string{"serve", "--http-listen", "nope"}, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Fatalf("err = %v, want one naming http.listen", err)
	}
	err = Run(context.Background(), []string{"frobnicate"}, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("err = %v", err)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"version"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "switchboard ") {
		t.Errorf("version = %q", out.String())
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestMetricsListener: metrics.listen serves /metrics, and nothing else.
func TestMetricsListener(t *testing.T) {
	got := make(chan string, 4)
	onListeningTest := func(name, addr string) {
		if name == "metrics" {
			got <- addr
		}
	}
	startDaemonHook(t, onListeningTest, "--metrics-listen", "127.0.0.1:0")
	var addr string
	select {
	case addr = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no metrics listener")
	}
	for _, tc := range []struct {
		path string
		want int
	}{{"/metrics", http.StatusOK}, {"/api/v1/switches", http.StatusNotFound}, {"/healthz", http.StatusNotFound}} {
		resp, err := http.Get("http://" + addr + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusOK && !strings.Contains(string(body), "switchboard_cdr_database_up") {
			t.Errorf("GET %s: no switchboard series", tc.path)
		}
	}
}
