package asterisk

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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
// writes its configuration: the live node, cdrFile (its CEL file or
// Master.csv) backfilled.
func buildDaemon(t *testing.T, n *liveNode, hc *http.Client, cdrFile string) *liveDaemon {
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
`, d.dsn, filepath.Join(dir, "spool"), liveSwitch, n.url, n.user, n.password, daemonApp, liveDomain, cdrFile)
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
// file as its cdr_file, is SIGKILLed 4 s into the burst and started again
// 3 s later. Every leg of the burst must be in its store once, equal to
// Asterisk's CEL record of it.
func testLiveDaemonKill(t *testing.T, n *liveNode) {
	requireCEL(t, n)
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("the go tool is needed to build the daemon: %v", err)
	}
	r := startLiveRig(t, n, nil) // pushes the accounts and plays the phones; its own adapter is not looked at
	r.connected(t)
	d := buildDaemon(t, n, r.hc, n.celFile)
	d.start()
	b := startBurst(t, n, r.registeredPhone("Kill Caller"), r.registeredPhone("Kill Callee"))
	time.Sleep(burstAfter)
	d.kill()
	killed := time.Now()
	time.Sleep(burstGap)
	d.start()
	back := time.Now()
	want := b.wait(t)
	ended := time.Now()
	var got map[string]cdr.Record
	all := func() bool {
		got = d.stored(b.caller.user)
		return !slices.ContainsFunc(slices.Collect(maps.Keys(want)), func(id string) bool { _, ok := got[id]; return !ok })
	}
	deadline := time.Now().Add(DefaultCDRHold + 20*time.Second)
	for !all() && time.Now().Before(deadline) {
		time.Sleep(time.Second)
	}
	converged := time.Since(ended)
	c := checkLegs(t, want, got, b.caller.user)
	started := d.startedAt[len(d.startedAt)-1]
	t.Logf("daemon: %d calls at %d/s; switchboard SIGKILLed %v after the first INVITE, started again %v later (ARI app back after %v); %v; "+
		"all stored %v after CEL had every leg (the store read every second)",
		burstCalls, burstRate, killed.Sub(b.began).Round(time.Millisecond), started.Sub(killed).Round(time.Millisecond),
		back.Sub(started).Round(time.Millisecond), c, converged.Round(time.Millisecond))
}

// testLiveDaemonKillMasterCSV measures what an operator without CEL
// loses: the same SIGKILLed burst with Master.csv as cdr_file. Every
// calling leg must be stored; the legs missing may only be dialled legs
// (Master.csv has no row of their own), of calls that ended while the
// daemon was down.
func testLiveDaemonKillMasterCSV(t *testing.T, n *liveNode) {
	requireCEL(t, n)
	if n.cdrFile == "" {
		t.Skipf("%s is not set", envLiveCDR)
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("the go tool is needed to build the daemon: %v", err)
	}
	r := startLiveRig(t, n, nil)
	r.connected(t)
	d := buildDaemon(t, n, r.hc, n.cdrFile)
	d.start()
	b := startBurst(t, n, r.registeredPhone("Master Caller"), r.registeredPhone("Master Callee"))
	time.Sleep(burstAfter)
	d.kill()
	killed := time.Now()
	time.Sleep(burstGap)
	d.start()
	restarted := time.Now()
	want := b.wait(t)
	time.Sleep(5 * time.Second) // the backfill's polls
	got := d.stored(b.caller.user)
	var callers, callees, lostCallers, lostCallees, endedInGap, causeless int
	for id, w := range want {
		caller := w.LinkedID == id
		if caller {
			callers++
		} else {
			callees++
		}
		rec, ok := got[id]
		switch {
		case !ok && caller:
			lostCallers++
			t.Errorf("calling leg %s not stored: Master.csv has its row", id)
		case !ok:
			lostCallees++
			// Up to the resync after the restart (a leg that ended just
			// before it is held a minute for its own record).
			if w.End.Before(killed) || w.End.After(restarted.Add(2*time.Second)) {
				t.Errorf("dialled leg %s, ended at %v outside the outage (%v to %v), not stored", id, w.End, killed, restarted)
			}
		case rec.Cause == 0 && w.Cause != 0:
			causeless++
		}
		if !w.End.Before(killed) && w.End.Before(restarted) {
			endedInGap++
		}
	}
	t.Logf("daemon with Master.csv: %d calls, SIGKILLed for %v; legs of calls that ended in the outage %d; stored %d of %d calling legs and %d of %d dialled legs; %d stored legs without their cause (from Master.csv)",
		burstCalls, restarted.Sub(killed).Round(time.Millisecond), endedInGap, callers-lostCallers, callers, callees-lostCallees, callees, causeless)
}
