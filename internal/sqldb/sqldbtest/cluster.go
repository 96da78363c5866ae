package sqldbtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// Cluster is a private PostgreSQL server that a test may stop and start to
// stage a real database outage without disturbing the shared test server
// other packages use at the same time.
type Cluster struct {
	DSN  string
	dir  string
	port int
	bin  string
	t    testing.TB
}

// PrivateCluster initialises and starts a throw-away PostgreSQL cluster on a
// free loopback port, owned by the postgres system user (PostgreSQL refuses
// to run as root). It is stopped and removed when the test ends. Without
// the server binaries or the postgres user the test is skipped, except under
// CI=true where that is a failure.
func PrivateCluster(t testing.TB) *Cluster {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("a private PostgreSQL cluster is required under CI: %s", why)
		}
		t.Skipf("needs a private PostgreSQL cluster: %s", why)
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		missing("no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	pg, err := user.Lookup("postgres")
	if err != nil {
		missing("no postgres system user")
	}
	if os.Geteuid() != 0 {
		missing("must run as root to start a server as the postgres user")
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)

	dir, err := os.MkdirTemp("", "sbtest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	c := &Cluster{dir: dir, port: port, bin: bin, t: t,
		DSN: fmt.Sprintf("postgres://switchboard@127.0.0.1:%d/postgres?sslmode=disable", port)}
	c.run("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "switchboard", "--no-sync")
	c.Start()
	t.Cleanup(func() {
		c.pgctl("stop", "-m", "immediate") //nolint:errcheck // best effort
		os.RemoveAll(dir)
	})
	return c
}

func (c *Cluster) run(tool string, args ...string) {
	c.t.Helper()
	if out, err := c.cmd(tool, args...).CombinedOutput(); err != nil {
		c.t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
}

func (c *Cluster) cmd(tool string, args ...string) *exec.Cmd {
	return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(c.bin, tool)}, args...)...)
}

func (c *Cluster) pgctl(args ...string) error {
	base := []string{"-D", filepath.Join(c.dir, "data"), "-w", "-t", "30"}
	out, err := c.cmd("pg_ctl", append(base, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %v\n%s", args, err, out)
	}
	return nil
}

// Start starts the server (again) and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir)
	if err := c.pgctl("start", "-l", filepath.Join(c.dir, "log"), "-o", opts); err != nil {
		c.t.Fatal(err)
	}
}

// Stop shuts the server down at once, dropping every connection, as a
// crash or a kill would.
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.pgctl("stop", "-m", "immediate"); err != nil {
		c.t.Fatal(err)
	}
}
