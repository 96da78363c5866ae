package asterisk

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// liveDaemon is the real switchboard binary serving one Asterisk node
// (ARI application "sbdaemon", cdr_file = the CEL file) on SQLite, so
// that a test can SIGKILL it.
type liveDaemon struct {
	t         *testing.T
	bin, dir  string
	cfg, dsn  string
	cmd       *exec.Cmd
	stderr    bytes.Buffer
	node      *liveNode
	appURL    string
	hc        *http.Client
	startedAt []time.Time
}

// daemonApp is the daemon's ARI application.
const daemonApp = "sbdaemon"

// buildDaemon builds cmd/switchboard into a directory of the test's and
// writes its configuration: the live node, its CEL file backfilled.
func buildDaemon(t *testing.T, n *liveNode, hc *http.Client) *liveDaemon {
	t.Helper()
	dir := t.TempDir()
	d := &liveDaemon{t: t, dir: dir, bin: filepath.Join(dir, "switchboard"), node: n, hc: hc,
		dsn: "sqlite:" + filepath.Join(dir, "sb.db"), cfg: filepath.Join(dir, "switchboard.yaml"),
		appURL: n.url + "/applications/" + daemonApp}
	build := exec.Command("go", "build", "-o", d.bin, "github.com/switchboard-voip/switchboard/cmd/switchboard")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the daemon: %v\n%s", err, out)
	}
	yaml := fmt.Sprintf(`database:
  dsn: %s
cdr:
  spool_dir: %s
switches:
  - name: %s
    type: asterisk
    url: %s
    user: %s
    password: %s
    app: %s
    domain: %s
    metrics_url: "-"
    cdr_file: %s
`, d.dsn, filepath.Join(dir, "spool"), liveSwitch, n.url, n.user, n.password, daemonApp, liveDomain, n.celFile)
	if err := os.WriteFile(d.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	return d
}

// start runs the daemon and waits for its ARI application to exist on the
// node (its event socket is connected).
func (d *liveDaemon) start() {
	d.t.Helper()
	d.cmd = exec.Command(d.bin, "serve", "--config", d.cfg, "--http-listen", "127.0.0.1:0", "--log-level", "info")
	d.cmd.Dir = d.dir
	d.stderr.Reset()
	d.cmd.Stderr = &d.stderr
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.startedAt = append(d.startedAt, time.Now())
	waitFor(d.t, 30*time.Second, "the daemon's ARI application", func() bool {
		req, _ := http.NewRequest(http.MethodGet, d.appURL, nil)
		req.SetBasicAuth(d.node.user, d.node.password)
		resp, err := d.hc.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// kill SIGKILLs the daemon.
func (d *liveDaemon) kill() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		d.t.Fatal(err)
	}
	_ = d.cmd.Wait()
	d.cmd = nil
}

// stop ends the daemon with SIGTERM, if it runs.
func (d *liveDaemon) stop() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	if d.t.Failed() {
		d.t.Logf("daemon stderr (last run):\n%s", d.stderr.String())
	}
	d.cmd = nil
}

// stored reads what the daemon's store holds for caller's calls, through
// `switchboard cdr export`: one row per leg.
func (d *liveDaemon) stored(caller string) map[string]cdr.Record {
	d.t.Helper()
	cmd := exec.Command(d.bin, "cdr", "export", "--database-dsn", d.dsn, "--switch", liveSwitch, "--caller", caller)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		d.t.Fatalf("cdr export: %v\n%s", err, errb.String())
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		d.t.Fatal(err)
	}
	recs := map[string]cdr.Record{}
	for _, row := range rows[1:] {
		f := map[string]string{}
		for i, h := range cdr.CSVHeader {
			f[h] = row[i]
		}
		ts := func(s string) time.Time {
			t, _ := time.Parse(time.RFC3339Nano, s)
			return t
		}
		atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
		r := cdr.Record{
			CallID: f["call_id"], LinkedID: f["linked_id"], Direction: cdr.Direction(f["direction"]), Domain: f["domain"],
			Account: f["account"], CallerNumber: f["caller_number"], CallerName: f["caller_name"], Dialed: f["dialed"],
			Destination: f["destination"], Start: ts(f["start"]), End: ts(f["end"]), Duration: atoi(f["duration"]),
			Billsec: atoi(f["billsec"]), Disposition: cdr.Disposition(f["disposition"]), Cause: atoi(f["cause"]),
			CauseText: f["cause_text"], Codec: f["codec"],
		}
		if a := ts(f["answer"]); !a.IsZero() {
			r.Answer = &a
		}
		if _, dup := recs[r.CallID]; dup {
			d.t.Errorf("leg %s exported twice", r.CallID)
		}
		recs[r.CallID] = r
	}
	return recs
}

// testLiveDaemonKill (item 2, end to end): the real daemon, with the CEL
// file as its cdr_file, is SIGKILLed 4 s into a burst of 200 calls at 20
// calls/s and started again 3 s later. Every leg of the burst must be in
// its store once, equal to Asterisk's CEL record of it.
func testLiveDaemonKill(t *testing.T, n *liveNode) {
	requireCEL(t, n)
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("the go tool is needed to build the daemon: %v", err)
	}
	const (
		calls = 200
		rate  = 20
		hold  = 3 * time.Second
		gap   = 3 * time.Second
	)
	r := startLiveRig(t, n, nil) // pushes the accounts and plays the phones; its own adapter is not looked at
	r.connected(t)
	d := buildDaemon(t, n, r.hc)
	d.start()
	caller, callee := r.registeredPhone("Kill Caller"), r.registeredPhone("Kill Callee")
	uas := startSipp(t, "answer_uas.xml", []string{"HOLD_MS", strconv.FormatInt(hold.Milliseconds(), 10)},
		"-p", strconv.Itoa(callee.port), "-m", strconv.Itoa(calls), "-timeout", "120s", "-timeout_error")
	waitUDPBound(t, uas, callee.port)
	began := time.Now()
	uac := startSipp(t, "call_uac.xml", nil, n.sip,
		"-s", caller.user, "-au", caller.user, "-ap", caller.secret, "-key", "callee", callee.user, "-key", "domain", caller.domain,
		"-p", strconv.Itoa(caller.port), "-m", strconv.Itoa(calls), "-r", strconv.Itoa(rate), "-l", strconv.Itoa(calls),
		"-timeout", "120s", "-timeout_error")
	time.Sleep(4 * time.Second)
	d.kill()
	killed := time.Now()
	time.Sleep(gap)
	d.start()
	restarted := time.Now()
	for _, s := range []*sippRun{uac, uas} {
		if err := s.wait(90 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	ended := time.Now()
	var want map[string]cdr.Record
	waitFor(t, 20*time.Second, "the burst's legs in CEL", func() bool {
		want = map[string]cdr.Record{}
		for id, rec := range n.readCEL(t) {
			if rec.CallerNumber == caller.user {
				want[id] = rec
			}
		}
		return len(want) >= 2*calls
	})
	var got map[string]cdr.Record
	all := func() bool {
		got = d.stored(caller.user)
		for id := range want {
			if _, ok := got[id]; !ok {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(DefaultCDRHold + 20*time.Second)
	for !all() && time.Now().Before(deadline) {
		time.Sleep(time.Second)
	}
	converged := time.Since(ended)
	var missing []string
	legsOff, guessed := 0, 0
	fields := map[string]int{}
	var maxDelta time.Duration
	for id, w := range want {
		rec, ok := got[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		if strings.HasPrefix(rec.CauseText, CauseTextDisconnected) {
			guessed++
		}
		for _, dt := range []time.Duration{rec.Start.Sub(w.Start), rec.End.Sub(w.End), deref(rec.Answer).Sub(deref(w.Answer))} {
			maxDelta = max(maxDelta, dt.Abs())
		}
		if diff := legDiff(rec, w, time.Millisecond); len(diff) > 0 {
			legsOff++
			for _, f := range diff {
				name, _, _ := strings.Cut(f, " ")
				fields[name]++
			}
			if legsOff <= 5 {
				t.Errorf("leg %s differs from CEL: %s\n stored %s\n CEL    %s", id, strings.Join(diff, ", "), brief(rec), brief(w))
			}
		}
	}
	extra := len(got) - (len(want) - len(missing))
	if len(want) != 2*calls || len(missing) > 0 || extra != 0 || legsOff > 0 || guessed > 0 {
		t.Errorf("CEL %d legs (want %d); missing %d %v; extra %d; %d legs differ (%v); %d guessed",
			len(want), 2*calls, len(missing), missing[:min(5, len(missing))], extra, legsOff, fields, guessed)
	}
	t.Logf("daemon: %d calls at %d/s; switchboard SIGKILLed %v after the first INVITE, started again %v later (ARI app back after %v); "+
		"legs in the store %d of %d expected (CEL), missing %d, extra %d, legs with field mismatches %d %v, guessed %d, "+
		"largest time difference with CEL %v; all stored %v after the last call ended",
		calls, rate, killed.Sub(began).Round(time.Millisecond), d.startedAt[len(d.startedAt)-1].Sub(killed).Round(time.Millisecond),
		restarted.Sub(d.startedAt[len(d.startedAt)-1]).Round(time.Millisecond),
		len(want)-len(missing), len(want), len(missing), extra, legsOff, fields, guessed, maxDelta, converged.Round(time.Millisecond))
}
