package freeswitch

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// livePhone is one sipp process playing a phone against the live node
// (scenarios in testdata/sipp). Each runs one call of its scenario (-m 1)
// and exits 0 when the scenario completed.
type livePhone struct {
	t      *testing.T
	name   string
	port   int
	dir    string
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // the exit status, once done is closed
	endsAt time.Time
}

// startPhone runs scenario on a free loopback UDP port. remote is the
// node's SIP address ("" for a scenario that only answers); args are
// sipp's options (-s, -au, -ap, -key, -d). It is killed when the test
// ends; its output is logged if the test failed.
func startPhone(t *testing.T, name, scenario, remote string, args ...string) *livePhone {
	t.Helper()
	return startPhoneOn(t, name, freeUDPPort(t), scenario, remote, args...)
}

func startPhoneOn(t *testing.T, name string, port int, scenario, remote string, args ...string) *livePhone {
	t.Helper()
	path, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("%s is set but sipp is not installed (Debian: sip-tester)", liveEnv)
	}
	abs := scenario // a scenario the test wrote
	if !filepath.IsAbs(scenario) {
		var err error
		if abs, err = filepath.Abs(filepath.Join("testdata", "sipp", scenario)); err != nil {
			t.Fatal(err)
		}
	}
	p := &livePhone{t: t, name: name, port: port, dir: t.TempDir(), done: make(chan struct{})}
	all := []string{"-sf", abs, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1",
		"-nostdin", "-trace_err", "-trace_msg", "-timeout", "50s", "-timeout_error"}
	all = append(all, args...)
	if remote != "" {
		all = append(all, remote)
	}
	out, err := os.Create(filepath.Join(p.dir, "sipp.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p.cmd = exec.Command(path, all...)
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start sipp %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.endsAt = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			p.logOutput()
		}
	})
	if remote == "" {
		// A server scenario: wait until it listens, so that nothing
		// calls it before.
		deadline := time.Now().Add(5 * time.Second)
		for !udpBound(port) {
			select {
			case <-p.done:
				p.logOutput()
				t.Fatalf("sipp %s exited before binding its port: %v", name, p.err)
			default:
			}
			if time.Now().After(deadline) {
				p.logOutput()
				t.Fatalf("sipp %s did not bind udp/%d within 5s", name, port)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return p
}

// wait waits for the scenario to end and fails the test unless it
// completed.
func (p *livePhone) wait(ctx context.Context) {
	p.t.Helper()
	if err := p.result(ctx); err != nil {
		p.t.Fatalf("phone %s: %v", p.name, err)
	}
}

// result waits for the scenario to end and returns why it failed (nil:
// it completed).
func (p *livePhone) result(ctx context.Context) error {
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("sipp exited: %v (its messages are logged at the end)", p.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sipp still running: %w", ctx.Err())
	}
}

func (p *livePhone) logOutput() {
	files, _ := filepath.Glob(filepath.Join(p.dir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		p.t.Logf("sipp %s, %s:\n%s", p.name, filepath.Base(f), strings.TrimSpace(string(b)))
	}
}

// freeUDPPort returns a loopback UDP port nobody uses now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// udpBound reports whether something listens on loopback udp/port.
func udpBound(port int) bool {
	c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return true
	}
	c.Close()
	return false
}
