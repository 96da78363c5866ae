package sip

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sipp is one sipp process on loopback: the far end of the tests. Tests
// start real sipp peers rather than faking sockets; CI installs sipp
// (Debian package sip-tester), and there a missing sipp fails the test.
type sipp struct {
	t         testing.TB
	scenario  string
	transport Transport
	port      int
	dir       string
	cmd       *exec.Cmd
	exited    chan struct{} // closed when cmd has exited
}

// requireSipp returns sipp's path. It skips the test when sipp is not
// installed, unless CI is set: CI must run the SIP tests.
func requireSipp(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("sipp is not installed (CI=%s): install sip-tester", os.Getenv("CI"))
		}
		t.Skip("sipp is not installed; CI installs it (sip-tester)")
	}
	return path
}

// startSipp starts sipp as a server (UAS) running scenario (a file in
// testdata/sipp) on a free loopback port over tp, and stops it when the
// test ends. edits are pairs old, new of text to replace in the scenario
// first: sipp takes response codes only literally ("200 OK" -> "404 Not
// Found").
func startSipp(t testing.TB, tp Transport, scenario string, edits ...string) *sipp {
	t.Helper()
	requireSipp(t)
	s := &sipp{t: t, transport: tp, port: freePort(t), dir: t.TempDir()}
	text, err := os.ReadFile(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(edits); i += 2 {
		text = bytes.ReplaceAll(text, []byte(edits[i]), []byte(edits[i+1]))
	}
	s.scenario = filepath.Join(s.dir, scenario)
	if err := os.WriteFile(s.scenario, text, 0o644); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// addr is the UAS's "127.0.0.1:port".
func (s *sipp) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// uri is a request URI for the UAS.
func (s *sipp) uri() string { return "sip:" + s.addr() }

func (s *sipp) start() {
	t := s.t
	t.Helper()
	path := requireSipp(t)
	mode := "u1"
	if s.transport == TCP {
		mode = "t1"
	}
	args := []string{
		"-sf", s.scenario, "-t", mode, "-i", "127.0.0.1", "-p", strconv.Itoa(s.port), "-bind_local",
		"-nostdin", "-trace_err", "-max_recv_loops", "10000", "-max_sched_loops", "10000",
	}
	out, err := os.Create(filepath.Join(s.dir, "sipp.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	s.cmd = exec.Command(path, args...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	exited, cmd := make(chan struct{}), s.cmd
	s.exited = exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !portBound(s.transport, s.port) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "sipp.out"))
			t.Fatalf("sipp %s exited: %s\n%s", filepath.Base(s.scenario), cmd.ProcessState, log)
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			log, _ := os.ReadFile(filepath.Join(s.dir, "sipp.out"))
			t.Fatalf("sipp %s did not bind %s/%d within 5s:\n%s", filepath.Base(s.scenario), s.transport, s.port, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill stops sipp; its port then answers UDP with ICMP port unreachable
// and TCP with RST.
func (s *sipp) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
	// The kernel releases the port asynchronously.
	for i := 0; i < 100 && portBound(s.transport, s.port); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// logOnFailure logs sipp's output, and its error log, if the test fails.
func (s *sipp) logOnFailure() {
	s.t.Cleanup(func() {
		if !s.t.Failed() {
			return
		}
		files, _ := filepath.Glob(filepath.Join(s.dir, "*"))
		for _, f := range files {
			if strings.HasSuffix(f, ".xml") {
				continue
			}
			b, _ := os.ReadFile(f)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			s.t.Logf("sipp %s:\n%s", filepath.Base(f), b)
		}
	})
}

// restart starts sipp again on the same port, after kill.
func (s *sipp) restart() {
	s.t.Helper()
	s.start()
}

// pause freezes sipp (SIGSTOP): its socket stays open and datagrams queue
// unanswered, so probes time out. resume (SIGCONT) lets it answer again.
func (s *sipp) pause()  { s.signal(syscall.SIGSTOP) }
func (s *sipp) resume() { s.signal(syscall.SIGCONT) }

func (s *sipp) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal sipp: %v", err)
	}
}

// freePort returns a loopback port free for both UDP and TCP.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no free port for UDP and TCP")
	return 0
}

// portBound reports whether some socket is bound to port (UDP) or listens
// on it (TCP), from /proc/net.
func portBound(tp Transport, port int) bool {
	file, listenState := "/proc/net/udp", ""
	if tp == TCP {
		file, listenState = "/proc/net/tcp", "0A"
	}
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasSuffix(fields[1], want) {
			continue
		}
		if listenState == "" || fields[3] == listenState {
			return true
		}
	}
	return false
}

// countSockets counts this process's open sockets.
func countSockets(t testing.TB) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count sockets: %v", err)
	}
	n := 0
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:") {
			n++
		}
	}
	return n
}
