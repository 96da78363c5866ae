package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// submitter posts batches of synthetic CDRs to a daemon whose address may
// change (restarts), retrying a batch until it is acknowledged, as a
// switch's CDR module does. It remembers what was acknowledged.
type submitter struct {
	addr  atomic.Pointer[string]
	token string
	next  int
	mu    sync.Mutex
	acked map[string]bool
	fails atomic.Int32
}

func newSubmitter(addr, token string) *submitter {
	s := &submitter{token: token, acked: map[string]bool{}}
	s.addr.Store(&addr)
	return s
}

func (s *submitter) batch(n int) []cdr.Record {
	end := time.Now().UTC().Truncate(time.Second)
	ans := end.Add(-30 * time.Second)
	out := make([]cdr.Record, n)
	for i := range out {
		s.next++
		id := fmt.Sprintf("call-%06d", s.next)
		out[i] = cdr.Record{Switch: "reliability", CallID: id, LinkedID: id, Direction: cdr.DirectionOutbound,
			Domain: "rel.example.com", Account: "1001", CallerNumber: "1001", Dialed: "5551234",
			Start: ans.Add(-5 * time.Second), Answer: &ans, End: end, Duration: 35, Billsec: 30,
			Disposition: cdr.Answered, Cause: 16}
	}
	return out
}

// send posts recs until one attempt is acknowledged or ctx ends.
func (s *submitter) send(ctx context.Context, recs []cdr.Record) error {
	body, _ := json.Marshal(recs)
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+*s.addr.Load()+"/api/v1/cdrs", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.mu.Lock()
				for _, r := range recs {
					s.acked[r.CallID] = true
				}
				s.mu.Unlock()
				return nil
			}
		}
		s.fails.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *submitter) ackedIDs() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.acked))
	for k := range s.acked {
		out[k] = true
	}
	return out
}

// storedIDs reads every stored call id of the test's switch, failing on a
// duplicate row.
func storedIDs(t *testing.T, dsn string) map[string]bool {
	t.Helper()
	db, err := sqldb.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ids []string
	if err := db.Select(&ids, db.Rebind(`SELECT call_id FROM cdrs WHERE switch = ?`), "reliability"); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, id := range ids {
		if out[id] {
			t.Errorf("call %s stored twice", id)
		}
		out[id] = true
	}
	return out
}

func missing(acked, stored map[string]bool) []string {
	var out []string
	for id := range acked {
		if !stored[id] {
			out = append(out, id)
		}
	}
	return out
}

func tokenVia(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := execIn(dir, bin, append([]string{"token", "create", "--name", "reliability", "--role", "admin"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("token create: %v\n%s", err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// SIGKILL in the middle of a stream: after the restart every acknowledged
// CDR is stored, and once the submitter has retried what was in flight,
// every call is stored exactly once.
func TestCDRsSurviveSIGKILL(t *testing.T) {
	bin := buildBinary(t)
	for engine, dsn := range sqldbtest.DSNs(t) {
		t.Run(string(engine), func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--database-dsn", dsn, "--cdr-spool-dir", filepath.Join(dir, "spool")}
			token := tokenVia(t, bin, dir, args[:2]...) // token create takes only the database flag
			p := startProcess(t, bin, dir, args...)
			sub := newSubmitter(p.addr, token)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()

			const batches, per = 120, 50
			var sent atomic.Int32
			killAt := int32(batches / 3)
			var (
				wg      sync.WaitGroup
				pause   sync.Mutex
				sendErr error
			)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < batches; i++ {
					pause.Lock()
					pause.Unlock() //nolint:staticcheck // a gate the killer holds during the restart check
					if err := sub.send(ctx, sub.batch(per)); err != nil {
						sendErr = err
						return
					}
					sent.Add(1)
				}
			}()
			for sent.Load() < killAt {
				time.Sleep(5 * time.Millisecond)
			}
			// Kill mid-stream: the submitter may have a batch in flight.
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p.cmd.Wait() //nolint:errcheck // killed
			pause.Lock()
			acked := sub.ackedIDs()
			p2 := startProcess(t, bin, dir, args...)
			if lost := missing(acked, storedIDs(t, dsn)); len(lost) > 0 {
				t.Errorf("%d acknowledged CDRs lost by SIGKILL, e.g. %v", len(lost), lost[:min(5, len(lost))])
			}
			sub.addr.Store(&p2.addr)
			pause.Unlock()
			wg.Wait()
			if sendErr != nil {
				t.Fatalf("submitter: %v", sendErr)
			}
			stored := storedIDs(t, dsn)
			if len(stored) != batches*per {
				t.Errorf("stored %d CDRs, want exactly %d", len(stored), batches*per)
			}
			if lost := missing(sub.ackedIDs(), stored); len(lost) > 0 {
				t.Errorf("%d acknowledged CDRs missing", len(lost))
			}
			t.Logf("acknowledged %d before the kill; %d retried submissions", len(acked), sub.fails.Load())
		})
	}
}

// PostgreSQL stopped for 30 s under load: submissions are still
// acknowledged (into the spool), the spool grows, then drains when the
// database returns, and the final count equals the calls sent.
func TestCDRsSurvivePostgresOutage(t *testing.T) {
	bin := buildBinary(t)
	pg := sqldbtest.PrivateCluster(t)
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	args := []string{"--database-dsn", pg.DSN, "--cdr-spool-dir", spool}
	token := tokenVia(t, bin, dir, args[:2]...) // token create takes only the database flag
	p := startProcess(t, bin, dir, args...)
	sub := newSubmitter(p.addr, token)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sendErr error
	var duringOutage atomic.Int32
	var outage atomic.Bool
	wg.Add(1)
	go func() { // about 1,000 CDRs/s
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if err := sub.send(ctx, sub.batch(50)); err != nil {
				sendErr = err
				return
			}
			if outage.Load() {
				duringOutage.Add(1)
			}
		}
	}()
	time.Sleep(3 * time.Second)
	outage.Store(true)
	pg.Stop()
	time.Sleep(15 * time.Second)
	if size := dirSize(t, spool); size == 0 {
		t.Error("half-way through the outage the spool is empty")
	}
	time.Sleep(15 * time.Second)
	outage.Store(false)
	pg.Start()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	if sendErr != nil {
		t.Fatalf("submitter: %v", sendErr)
	}
	if duringOutage.Load() < 100 {
		t.Errorf("only %d batches were acknowledged during the 30 s outage", duringOutage.Load())
	}
	want := sub.next
	deadline := time.Now().Add(60 * time.Second)
	var stored map[string]bool
	for time.Now().Before(deadline) {
		stored = storedIDs(t, pg.DSN)
		if len(stored) >= want {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(stored) != want {
		t.Fatalf("after the outage %d CDRs are stored, want %d (sent, all acknowledged)", len(stored), want)
	}
	if lost := missing(sub.ackedIDs(), stored); len(lost) > 0 {
		t.Errorf("%d acknowledged CDRs missing", len(lost))
	}
	time.Sleep(time.Second)
	if n := dirRecords(t, spool); n != 0 {
		t.Errorf("the spool still holds %d segment files after draining", n)
	}
	t.Logf("sent %d CDRs, %d batches acknowledged during the outage", want, duringOutage.Load())
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error { //nolint:errcheck
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func dirRecords(t *testing.T, dir string) int {
	var n int
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error { //nolint:errcheck
		if err == nil && !fi.IsDir() && fi.Size() > 0 {
			n++
		}
		return nil
	})
	return n
}
