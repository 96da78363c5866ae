package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden usage texts in testdata/usage/")

// Every command's help: printed on stdout by -h, --help and "help …",
// nothing on stderr, success; the text is the golden file's, and shows the
// command's own flags only.
func TestUsage(t *testing.T) {
	tests := []struct {
		cmd           string // as typed; "" is the root
		golden        string
		want, wantNot []string // flags or lines that must (not) be there
	}{
		{"", "root", []string{"token create", "cdr export", "version", "Exit status"}, []string{"-http-listen"}},
		{"serve", "serve", []string{"-http-listen", "-database-dsn", "-sip-enabled", "-config"}, nil},
		{"migrate", "migrate", []string{"-database-dsn", "-log-level"}, []string{"-http-listen", "-cdr-spool-dir"}},
		{"token", "token", []string{"create", "list", "revoke"}, []string{"-database-dsn"}},
		{"token create", "token-create", []string{"-name", "-role", "-tenant", "-database-dsn"}, []string{"-http-listen", "-log-level", "(default \"admin\")"}},
		{"token list", "token-list", []string{"-database-dsn"}, []string{"-http-listen", "-name"}},
		{"token revoke", "token-revoke", []string{"-database-dsn"}, []string{"-http-listen", "-name"}},
		{"cdr", "cdr", []string{"import", "export"}, []string{"-database-dsn"}},
		{"cdr import", "cdr-import", []string{"-switch", "-timezone", "-database-dsn"}, []string{"-http-listen", "-cdr-spool-dir", "-sip-enabled", "-from"}},
		{"cdr export", "cdr-export", []string{"-from", "-to", "-database-dsn"}, []string{"-http-listen", "-cdr-spool-dir", "-switch string\n    \tname"}},
		{"rerate", "rerate", []string{"-from", "-to", "-tenant", "-database-dsn"}, []string{"-http-listen", "-cdr-spool-dir"}},
		{"doctor", "doctor", []string{"-switch", "-database-dsn", "-config"}, []string{"-http-listen", "-cdr-spool-dir"}},
		{"version", "version", nil, []string{"-database-dsn"}},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			words := strings.Fields(tc.cmd)
			var first string
			for i, args := range [][]string{append(words, "-h"), append(words, "--help"), append([]string{"help"}, words...)} {
				var out, errb bytes.Buffer
				if err := Run(context.Background(), args, nil, &out, &errb); err != nil {
					t.Fatalf("%q: %v", args, err)
				}
				if errb.Len() > 0 {
					t.Errorf("%q wrote to stderr: %s", args, errb.String())
				}
				if i == 0 {
					first = out.String()
				} else if out.String() != first {
					t.Errorf("%q prints another text than %q:\n%s", args, append(words, "-h"), out.String())
				}
			}
			golden := filepath.Join("testdata", "usage", tc.golden+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(first), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if first != string(want) {
				t.Errorf("usage differs from %s (go test -run TestUsage -update rewrites it):\n%s", golden, first)
			}
			for _, w := range tc.want {
				if !strings.Contains(first, w) {
					t.Errorf("usage lacks %q", w)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(first, w) {
					t.Errorf("usage shows %q", w)
				}
			}
		})
	}
}

// The exit status of each kind of failure, and what is said on stderr.
func TestExitCode(t *testing.T) {
	tests := []struct {
		err      error
		want     int
		wantHint string
	}{
		{nil, 0, ""},
		{errors.New("database unreachable"), 1, ""},
		{fmt.Errorf("cdr import: %d %w", 3, errRejected), 1, ""},
		{usagef("cdr import", "--switch is required"), 2, "Run 'switchboard cdr import -h' for usage."},
		{&usageError{err: errors.New(`unknown command "frob"`)}, 2, "Run 'switchboard -h' for usage."},
		{&ConfigError{Key: "http.listen", Reason: "must be host:port"}, 2, ""},
	}
	for _, tc := range tests {
		var errb bytes.Buffer
		if got := exitCode(tc.err, &errb); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
		if tc.err != nil && !strings.HasPrefix(errb.String(), "switchboard: "+tc.err.Error()+"\n") {
			t.Errorf("exitCode(%v) said %q", tc.err, errb.String())
		}
		if !strings.Contains(errb.String(), tc.wantHint) || tc.wantHint == "" && strings.Contains(errb.String(), "Run '") {
			t.Errorf("exitCode(%v) said %q, want the hint %q", tc.err, errb.String(), tc.wantHint)
		}
	}
}

// Invalid command lines of every command: refused as usage errors (exit
// status 2), naming what is wrong, before anything is opened.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"--frobnicate"}, "serve: flag provided but not defined: -frobnicate"},
		{[]string{"serve", "extra"}, `serve: unexpected argument "extra"`},
		{[]string{"migrate", "extra"}, `migrate: unexpected argument "extra"`},
		{[]string{"migrate", "--http-listen", "127.0.0.1:1"}, "flag provided but not defined: -http-listen"},
		{[]string{"version", "extra"}, "unexpected argument"},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"token"}, "token: missing subcommand: want create, list or revoke"},
		{[]string{"token", "frob"}, `token: unknown subcommand "frob"`},
		{[]string{"cdr"}, "cdr: missing subcommand: want import or export"},
		{[]string{"token", "create", "--name", "x"}, "--role is required"},
		{[]string{"token", "create", "--role", "admin"}, "--name is required"},
		{[]string{"token", "create", "--name", "x", "--role", "root"}, `--role must be admin, tenant-admin or user, not "root"`},
		{[]string{"token", "create", "--name", "x", "--role", "user"}, "--tenant is required for a user token"},
		{[]string{"token", "create", "--name", "x", "--role", "admin", "--tenant", "3"}, "--tenant must not be given for an admin token"},
		{[]string{"token", "create", "--name", "x", "--role", "admin", "--cdr-spool-dir", "x"}, "flag provided but not defined: -cdr-spool-dir"},
		{[]string{"token", "list", "extra"}, "unexpected argument"},
		{[]string{"token", "revoke"}, "missing token ID"},
		{[]string{"token", "revoke", "abc"}, `ID must be a positive integer, got "abc"`},
		{[]string{"token", "revoke", "0"}, "ID must be a positive integer"},
		{[]string{"token", "revoke", "1", "2"}, `unexpected argument "2"`},
		{[]string{"doctor"}, "doctor: --switch is required"},
		{[]string{"doctor", "--switch", "fs1", "extra"}, `doctor: unexpected argument "extra"`},
		{[]string{"doctor", "--switch", "fs1"}, `doctor: no switch "fs1": the configuration has no switches`},
		{[]string{"doctor", "--switch", "fs1", "--http-listen", "127.0.0.1:1"}, "flag provided but not defined: -http-listen"},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		var out, errb bytes.Buffer
		err := Run(context.Background(), tc.args, []string{"SWITCHBOARD_DATABASE_DSN=sqlite:" + filepath.Join(dir, "x.db")}, &out, &errb)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want a usage error mentioning %q", tc.args, err, tc.want)
		}
		if exitCode(err, io.Discard) != 2 {
			t.Errorf("%q: exit status %d, want 2", tc.args, exitCode(err, io.Discard))
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%q: a usage error opened the database", tc.args)
		}
		if out.Len() > 0 {
			t.Errorf("%q wrote to stdout: %s", tc.args, out.String())
		}
	}
}

// token create needs --role (an admin token is never made by default);
// revoking a revoked or missing token fails; the list shows the
// revocation.
func TestTokenCommands(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "sb.db")
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := Run(context.Background(), append(args, "--database-dsn", dsn), nil, &out, io.Discard)
		return out.String(), err
	}
	secret, err := run("token", "create", "--name", "ops", "--role", "admin")
	if err != nil || !strings.HasPrefix(secret, "sbt_") {
		t.Fatalf("token create = %q, %v", secret, err)
	}
	if _, err := run("token", "create", "--name", "t", "--role", "tenant-admin", "--tenant", "99"); err == nil || exitCode(err, io.Discard) != 1 {
		t.Errorf("a token of a missing tenant: err = %v, want a failure (exit 1)", err)
	}
	out, err := run("token", "revoke", "1")
	if err != nil || out != "token 1 revoked\n" {
		t.Fatalf("revoke = %q, %v", out, err)
	}
	list, err := run("token", "list")
	if err != nil || !strings.Contains(list, "ops") || strings.Contains(list, secret) {
		t.Fatalf("list = %q, %v", list, err)
	}
	revokedAt := strings.Fields(strings.Split(list, "\n")[1])[6] // ID NAME ROLE TENANT CREATED(2) REVOKED(2)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "revoke", "1"}, "token revoke: token 1 (ops): already revoked at " + revokedAt},
		{[]string{"token", "revoke", "--database-dsn", dsn, "1"}, "already revoked"}, // the ID after the flags
		{[]string{"token", "revoke", "2"}, "token 2 not found"},
	} {
		out, err := run(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err, io.Discard) != 1 || out != "" {
			t.Errorf("%q: %q, err = %v, want a failure (exit 1) mentioning %q", tc.args, out, err, tc.want)
		}
	}
	if !errors.Is(func() error { _, err := run("token", "revoke", "1"); return err }(), errAlreadyRevoked) {
		t.Error("revoking twice does not wrap errAlreadyRevoked")
	}
}

// The built binary: help exits 0 on stdout, usage errors 2, failures 1,
// each with the message on stderr.
func TestBinaryExitStatus(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.csv")
	if err := os.WriteFile(garbage, []byte("garbage\n\x00\x01\x02\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := "--database-dsn=sqlite:" + filepath.Join(dir, "sb.db")
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout string // "" means stdout must be empty
		wantStderr string
	}{
		{[]string{"--help"}, 0, "token create", ""},
		{[]string{"-h"}, 0, "cdr import", ""},
		{[]string{"help"}, 0, "Commands:", ""},
		{[]string{"serve", "--help"}, 0, "-http-listen", ""},
		{[]string{"token", "--help"}, 0, "revoke", ""},
		{[]string{"cdr", "--help"}, 0, "export", ""},
		{[]string{"cdr", "import", "--help"}, 0, "-switch", ""},
		{[]string{"help", "cdr", "export"}, 0, "-from", ""},
		{[]string{"version"}, 0, "switchboard ", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"--frobnicate"}, 2, "", "Run 'switchboard serve -h' for usage."},
		{[]string{"token"}, 2, "", "missing subcommand"},
		{[]string{"token", "create", "--name", "x", db}, 2, "", "--role is required"},
		{[]string{"cdr", "export", db, "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"}, 2, "", "must be after --from"},
		{[]string{"serve", "--http-listen", "nowhere", db}, 2, "", "http.listen"},
		{[]string{"token", "revoke", "7", db}, 1, "", "token 7 not found"},
		{[]string{"cdr", "import", "--switch", "ast1", db, garbage}, 1, "", "rejected as dead letters"},
	}
	for _, tc := range tests {
		cmd := execIn(dir, bin, tc.args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.wantCode {
			t.Errorf("%q: exit status %d, want %d; stderr:\n%s", tc.args, code, tc.wantCode, errb.String())
		}
		if tc.wantStdout == "" && out.Len() > 0 || !strings.Contains(out.String(), tc.wantStdout) {
			t.Errorf("%q: stdout %q, want %q", tc.args, out.String(), tc.wantStdout)
		}
		if tc.wantStderr == "" && errb.Len() > 0 || !strings.Contains(errb.String(), tc.wantStderr) {
			t.Errorf("%q: stderr %q, want %q", tc.args, errb.String(), tc.wantStderr)
		}
	}
}
