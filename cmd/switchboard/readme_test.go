package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// TestMain removes the daemon binary the process tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary compiles the daemon once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "switchboard-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "switchboard")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// execIn returns a command for the daemon binary run in dir.
func execIn(dir, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	return cmd
}

// process is the real daemon binary, started in dir with the default
// configuration except for a free port.
type process struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
}

var listenRe = regexp.MustCompile(`listener=http addr=(\S+)`)

func startProcess(t *testing.T, bin, dir string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--http-listen", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SWITCHBOARD_LOG_LEVEL=debug")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &bytes.Buffer{}}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.WriteString(line + "\n")
			if m := listenRe.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case p.addr = <-found:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("daemon did not report its address; stderr:\n%s", p.stderr)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return p
}

// TestReadmeWalkthrough runs the README's curl walk-through, verbatim but for
// the port, against the real binary started with the README's first
// command's defaults in a fresh directory, then stops it with SIGTERM.
func TestReadmeWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is required by this test (.ci/run installs it): %v", err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := between(string(readme), "<!-- walkthrough:start -->\n```sh\n", "```\n<!-- walkthrough:end -->")
	if block == "" {
		t.Fatal("README.md has no walk-through block")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startProcess(t, bin, dir)

	script := strings.ReplaceAll(block, "go run ./cmd/switchboard", bin)
	script = strings.ReplaceAll(script, "127.0.0.1:8080", p.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\n%s\ndaemon:\n%s", err, out, p.stderr)
	}
	for _, want := range []string{`"code":403`, `"Invalid token"`, `"code":501`, `"DCP not found"`, `"phonenumber":"1001"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("walk-through output lacks %s:\n%s", want, out)
		}
	}
	if bytes.Contains(out, []byte("Sup3rSecret")) {
		t.Errorf("a secret the caller chose was echoed back:\n%s", out)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM the daemon exited with %v, want 0; stderr:\n%s", err, p.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Error("daemon ignored SIGTERM")
	}
	for _, secret := range []string{"Sup3rSecret", "alice-pass-1", "sbt_"} {
		if strings.Contains(p.stderr.String(), secret) {
			t.Errorf("%s reached the log:\n%s", secret, p.stderr)
		}
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		return ""
	}
	return s[:j]
}
