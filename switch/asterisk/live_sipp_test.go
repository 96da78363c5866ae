package asterisk

import (
	"bufio"
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

// The phones of the live tests are sipp processes on loopback running the
// scenarios of testdata/sipp: register_uac.xml (REGISTER, or unREGISTER,
// with digest), answer_uas.xml (answer a call, hold, hang up),
// busy_uas.xml (refuse a call with 486) and call_uac.xml (place a call
// with digest, wait for the far end's BYE or 486).

// livePhone is one SIP account played by sipp. Its Contact names port,
// where the sipp that places or answers its calls listens; its REGISTERs
// come from ports of their own.
type livePhone struct {
	user, secret, domain string
	port                 int
}

// contact is the Contact URI the phone registers, as Asterisk reports it.
func (p livePhone) contact() string {
	return fmt.Sprintf("sip:%s@127.0.0.1:%d;transport=UDP", p.user, p.port)
}

// sippRun is one sipp process.
type sippRun struct {
	t        *testing.T
	scenario string
	dir      string
	cmd      *exec.Cmd
	done     chan struct{} // closed when it has exited
	err      error         // its exit status, once done
	failed   bool          // wait found it failed: its logs are wanted
}

// startSipp runs sipp with scenario (a file of testdata/sipp, with the
// pairs of edits old, new applied) and args, in a directory of its own
// where its -trace_err and -trace_msg logs go; they are logged if the test
// fails. It is killed when the test ends.
func startSipp(t *testing.T, scenario string, edits []string, args ...string) *sippRun {
	t.Helper()
	path, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not installed; the live tests play phones with it (Debian: sip-tester): %v", err)
	}
	text, err := os.ReadFile(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.NewReplacer(edits...).Replace(string(text)))
	s := &sippRun{t: t, scenario: scenario, dir: t.TempDir(), done: make(chan struct{})}
	file := filepath.Join(s.dir, scenario)
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(s.dir, "sipp.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	args = append([]string{"-sf", file, "-nostdin", "-trace_err", "-trace_msg", "-t", "u1", "-i", "127.0.0.1"}, args...)
	s.cmd = exec.Command(path, args...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting sipp: %v", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.failed = true // still running at the end
		}
		_ = s.cmd.Process.Kill()
		<-s.done
		if t.Failed() && s.failed {
			s.logFiles()
		}
	})
	return s
}

// wait waits up to timeout for sipp to exit and returns an error unless
// every call of its scenario succeeded (exit status 0).
func (s *sippRun) wait(timeout time.Duration) error {
	select {
	case <-s.done:
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.failed = true
		return fmt.Errorf("sipp %s did not finish within %v", s.scenario, timeout)
	}
	if s.err != nil {
		s.failed = true
		return fmt.Errorf("sipp %s: %w (its logs follow)", s.scenario, s.err)
	}
	return nil
}

// received counts the requests of method sipp received, from its
// -trace_msg log ("UDP message received (N bytes):", a blank line, then
// the request line).
func (s *sippRun) received(method string) int {
	files, _ := filepath.Glob(filepath.Join(s.dir, "*_messages.log"))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			s.t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if !strings.Contains(l, "message received") {
				continue
			}
			for _, next := range lines[i+1:] {
				if next = strings.TrimSpace(next); next != "" {
					if strings.HasPrefix(next, method+" ") {
						n++
					}
					break
				}
			}
		}
	}
	return n
}

// logFiles logs the ends of sipp's output and logs.
func (s *sippRun) logFiles() {
	files, _ := filepath.Glob(filepath.Join(s.dir, "*"))
	for _, f := range files {
		if strings.HasSuffix(f, ".xml") {
			continue
		}
		b, _ := os.ReadFile(f)
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		s.t.Logf("sipp %s, %s:\n%s", s.scenario, filepath.Base(f), b)
	}
}

// qualified answers Asterisk's OPTIONS to p's Contact until the test ends.
func (n *liveNode) qualified(t *testing.T, p livePhone) *sippRun {
	t.Helper()
	s := startSipp(t, "options_uas.xml", nil, "-p", strconv.Itoa(p.port))
	waitUDPBound(t, s, p.port)
	return s
}

// register REGISTERs p for expires seconds (0 removes its contact) and
// returns once Asterisk has answered 200.
func (n *liveNode) register(t *testing.T, p livePhone, expires int) {
	t.Helper()
	s := startSipp(t, "register_uac.xml", nil, n.sip,
		"-s", p.user, "-au", p.user, "-ap", p.secret,
		"-key", "domain", p.domain, "-key", "contact", "127.0.0.1:"+strconv.Itoa(p.port), "-key", "expires", strconv.Itoa(expires),
		"-p", strconv.Itoa(freeUDPPort(t)), "-m", "1", "-timeout", "10s", "-timeout_error")
	if err := s.wait(15 * time.Second); err != nil {
		t.Fatalf("REGISTER %s (expires %d): %v", p.user, expires, err)
	}
}

// answer starts p's phone: it answers one call, hangs up hold after the
// answer and exits. It returns once sipp listens on p's port.
func (n *liveNode) answer(t *testing.T, p livePhone, hold time.Duration) *sippRun {
	t.Helper()
	s := startSipp(t, "answer_uas.xml", []string{"HOLD_MS", strconv.FormatInt(hold.Milliseconds(), 10)},
		"-p", strconv.Itoa(p.port), "-m", "1", "-timeout", "40s", "-timeout_error")
	waitUDPBound(t, s, p.port)
	return s
}

// busy starts p's phone busy: it refuses one call with 486 and exits. It
// returns once sipp listens on p's port.
func (n *liveNode) busy(t *testing.T, p livePhone) *sippRun {
	t.Helper()
	s := startSipp(t, "busy_uas.xml", nil, "-p", strconv.Itoa(p.port), "-m", "1", "-timeout", "40s", "-timeout_error")
	waitUDPBound(t, s, p.port)
	return s
}

// call makes from call the number to; the sipp returned exits once the
// far end has hung up.
func (n *liveNode) call(t *testing.T, from livePhone, to string) *sippRun {
	t.Helper()
	return startSipp(t, "call_uac.xml", nil, n.sip,
		"-s", from.user, "-au", from.user, "-ap", from.secret, "-key", "callee", to, "-key", "domain", from.domain,
		"-p", strconv.Itoa(from.port), "-m", "1", "-timeout", "40s", "-timeout_error")
}

// freeUDPPort returns a loopback UDP port nothing is bound to.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// waitUDPBound waits until s has bound UDP port (from /proc/net/udp), so
// that what is sent there next reaches it.
func waitUDPBound(t *testing.T, s *sippRun, port int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		bound, err := udpBound(port)
		if err != nil {
			// No /proc: give sipp the time it takes on a slow machine.
			time.Sleep(500 * time.Millisecond)
			return
		}
		if bound {
			return
		}
		select {
		case <-s.done:
			t.Fatalf("sipp %s exited before binding port %d: %v", s.scenario, port, s.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sipp %s did not bind UDP port %d within 5 s", s.scenario, port)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// udpBound reports whether a UDP socket is bound to port, from
// /proc/net/udp.
func udpBound(port int) (bool, error) {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return false, err
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && strings.HasSuffix(fields[1], want) {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, nil
}
